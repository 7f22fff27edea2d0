//! Entities and the links between notes and entities: the graph's rows.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::memory::graph::NodeKey;
use crate::memory::model::{EntityInput, EntityList, EntityPatch, LinkInput, LinkList, NodeRef};
use crate::memory::plan::{planned_or_stored, Upsert};
use crate::memory::{Memory, WritePlan};
use crate::store::memory::{EntityFilter, EntityRow, ItemType, LinkFilter, LinkRow};
use crate::store::time::new_id;
use crate::store::Workspace;
use crate::validate as v;

const MAX_NAME_CHARS: usize = 300;

impl Memory {
    pub async fn upsert_entity(
        &self,
        ws: &Workspace,
        actor: &str,
        input: EntityInput,
    ) -> ApiResult<(EntityRow, Upsert)> {
        self.write_one(ws, actor, async |plan| self.plan_entity(plan, input).await)
            .await
    }

    /// A known external pair, else a known (type, name), updates that entity: aliases are
    /// merged, metadata replaced when given.
    pub(crate) async fn plan_entity(
        &self,
        plan: &mut WritePlan,
        input: EntityInput,
    ) -> ApiResult<(EntityRow, Upsert)> {
        let entity_type = v::text("type", &input.entity_type, v::MAX_LABEL_CHARS)?;
        let name = v::text("name", &input.name, MAX_NAME_CHARS)?;
        let aliases = v::labels("aliases", input.aliases.as_deref().unwrap_or_default(), 50)?;
        let metadata = v::metadata("metadata", input.metadata.as_ref())?;
        let external = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        let ws = plan.workspace_id.clone();
        let existing = self
            .find_entity(plan, external.as_ref(), &entity_type, &name)
            .await?;
        match existing {
            Some(old) => {
                let mut e = old.clone();
                e.entity_type = entity_type;
                e.name = name;
                for a in aliases {
                    if !e.aliases.contains(&a) {
                        e.aliases.push(a);
                    }
                }
                e.metadata = metadata.unwrap_or(e.metadata);
                if let Some((s, i)) = external {
                    e.external_source = Some(s);
                    e.external_id = Some(i);
                }
                if e == old {
                    return Ok((old, Upsert::Unchanged));
                }
                e.updated_at = plan.now.clone();
                plan.put_entity(e.clone());
                Ok((e, Upsert::Updated))
            }
            None => {
                let e = EntityRow {
                    id: new_id(),
                    account_id: plan.account_id.clone(),
                    workspace_id: ws,
                    entity_type,
                    name,
                    aliases,
                    metadata: metadata.unwrap_or_else(|| json!({})),
                    external_source: external.as_ref().map(|x| x.0.clone()),
                    external_id: external.as_ref().map(|x| x.1.clone()),
                    created_at: plan.now.clone(),
                    updated_at: plan.now.clone(),
                };
                plan.put_entity(e.clone());
                Ok((e, Upsert::Created))
            }
        }
    }

    /// The entity with this external pair, else with this (type, name): planned in this
    /// write or stored.
    async fn find_entity(
        &self,
        plan: &WritePlan,
        external: Option<&(String, String)>,
        entity_type: &str,
        name: &str,
    ) -> ApiResult<Option<EntityRow>> {
        let ws = &plan.workspace_id;
        if let Some((s, i)) = external {
            let found = planned_or_stored(
                plan.entity_by_external(s, i),
                self.store.entity_by_external(ws, s, i),
            )
            .await?;
            if found.is_some() {
                return Ok(found);
            }
        }
        planned_or_stored(
            plan.entity_by_name(entity_type, name),
            self.store.entity_by_name(ws, entity_type, name),
        )
        .await
    }

    pub async fn update_entity(
        &self,
        ws: &Workspace,
        actor: &str,
        id: &str,
        patch: EntityPatch,
    ) -> ApiResult<EntityRow> {
        let _guard = self.lock(&ws.id).await;
        let old = self
            .store
            .entity(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Entity"))?;
        let mut e = old.clone();
        if let Some(t) = &patch.entity_type {
            e.entity_type = v::text("type", t, v::MAX_LABEL_CHARS)?;
        }
        if let Some(n) = &patch.name {
            e.name = v::text("name", n, MAX_NAME_CHARS)?;
        }
        if let Some(a) = &patch.aliases {
            e.aliases = v::labels("aliases", a, 50)?;
        }
        if let Some(m) = v::metadata("metadata", patch.metadata.as_ref())? {
            e.metadata = m;
        }
        if e == old {
            return Ok(old);
        }
        let mut plan = WritePlan::new(ws, actor);
        e.updated_at = plan.now.clone();
        plan.put_entity(e.clone());
        self.commit(plan).await?;
        Ok(e)
    }

    pub async fn list_entities(
        &self,
        ws: &Workspace,
        filter: EntityFilter,
    ) -> ApiResult<EntityList> {
        Ok(EntityList {
            object: "list".into(),
            data: self.store.list_entities(&ws.id, &filter).await?,
        })
    }

    /// The id of a link end, which must exist in the workspace (or earlier in the batch).
    async fn resolve_node(&self, plan: &WritePlan, field: &str, r: &NodeRef) -> ApiResult<NodeKey> {
        let ws = &plan.workspace_id;
        let external = v::external(r.external_source.as_deref(), r.external_id.as_deref())?;
        let missing = || {
            ApiError::Unprocessable(format!(
                "{field}: no {} with that id or external id in this workspace",
                r.node_type
            ))
        };
        match r.node_type.as_str() {
            t if t == ItemType::Note.as_str() => {
                let note = match (&r.id, &external) {
                    (Some(id), _) => {
                        planned_or_stored(plan.note(id), self.store.note(ws, id)).await?
                    }
                    (None, Some((s, i))) => {
                        let stored = self.store.note_by_external(ws, s, i);
                        planned_or_stored(plan.note_by_external(s, i), stored).await?
                    }
                    (None, None) => None,
                };
                note.map(|n| NodeKey::note(&n.id)).ok_or_else(missing)
            }
            t if t == ItemType::Entity.as_str() => {
                let entity = match (&r.id, &external) {
                    (Some(id), _) => {
                        planned_or_stored(plan.entity(id), self.store.entity(ws, id)).await?
                    }
                    (None, Some((s, i))) => {
                        let stored = self.store.entity_by_external(ws, s, i);
                        planned_or_stored(plan.entity_by_external(s, i), stored).await?
                    }
                    (None, None) => None,
                };
                entity.map(|e| NodeKey::entity(&e.id)).ok_or_else(missing)
            }
            _ => Err(ApiError::bad_request(format!(
                "{field}.type: expected note or entity"
            ))),
        }
    }

    pub async fn upsert_link(
        &self,
        ws: &Workspace,
        actor: &str,
        input: LinkInput,
    ) -> ApiResult<(LinkRow, Upsert)> {
        self.write_one(ws, actor, async |plan| self.plan_link(plan, input).await)
            .await
    }

    /// The same (from, to, relation) updates weight and metadata.
    pub(crate) async fn plan_link(
        &self,
        plan: &mut WritePlan,
        input: LinkInput,
    ) -> ApiResult<(LinkRow, Upsert)> {
        if input.from.id.is_none() && input.from.external_id.is_none() {
            return Err(ApiError::bad_request(
                "from: give id or external_source + external_id",
            ));
        }
        if input.to.id.is_none() && input.to.external_id.is_none() {
            return Err(ApiError::bad_request(
                "to: give id or external_source + external_id",
            ));
        }
        let relation = v::text("relation", &input.relation, v::MAX_LABEL_CHARS)?;
        let weight = v::unit("weight", input.weight.unwrap_or(1.0))?;
        let metadata = v::metadata("metadata", input.metadata.as_ref())?;
        let from = self.resolve_node(plan, "from", &input.from).await?;
        let to = self.resolve_node(plan, "to", &input.to).await?;
        if from == to {
            return Err(ApiError::bad_request("to: a link needs two different ends"));
        }
        let ws = plan.workspace_id.clone();
        let existing = self.find_link(plan, &from, &to, &relation).await?;
        let (link, outcome) = match existing {
            Some(old) => {
                let mut l = old.clone();
                l.weight = weight;
                l.metadata = metadata.unwrap_or(l.metadata);
                if l == old {
                    return Ok((old, Upsert::Unchanged));
                }
                (l, Upsert::Updated)
            }
            None => (
                LinkRow {
                    id: new_id(),
                    workspace_id: ws,
                    from_type: from.kind.as_str().into(),
                    from_id: from.id,
                    to_type: to.kind.as_str().into(),
                    to_id: to.id,
                    relation,
                    weight,
                    metadata: metadata.unwrap_or_else(|| json!({})),
                    created_at: plan.now.clone(),
                },
                Upsert::Created,
            ),
        };
        let id = link.id.clone();
        plan.writes.links.retain(|l| l.id != id);
        plan.writes.links.push(link.clone());
        Ok((link, outcome))
    }

    /// The link with this (from, to, relation), planned in this write or stored.
    async fn find_link(
        &self,
        plan: &WritePlan,
        from: &NodeKey,
        to: &NodeKey,
        relation: &str,
    ) -> ApiResult<Option<LinkRow>> {
        let planned = plan.writes.links.iter().find(|l| {
            l.from_type == from.kind.as_str()
                && l.from_id == from.id
                && l.to_type == to.kind.as_str()
                && l.to_id == to.id
                && l.relation == relation
        });
        if let Some(l) = planned {
            return Ok(Some(l.clone()));
        }
        Ok(self
            .store
            .link_by_key(
                &plan.workspace_id,
                (from.kind.as_str(), &from.id),
                (to.kind.as_str(), &to.id),
                relation,
            )
            .await?)
    }

    pub async fn delete_link(&self, ws: &Workspace, actor: &str, id: &str) -> ApiResult<()> {
        let _guard = self.lock(&ws.id).await;
        self.store
            .link(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Link"))?;
        let mut plan = WritePlan::new(ws, actor);
        plan.writes.delete_links.push(id.to_string());
        self.commit(plan).await
    }

    pub async fn list_links(&self, ws: &Workspace, filter: LinkFilter) -> ApiResult<LinkList> {
        Ok(LinkList {
            object: "list".into(),
            data: self.store.list_links(&ws.id, &filter).await?,
        })
    }
}
