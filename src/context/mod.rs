//! Context packs: the call agents make before every reply. Candidates come from hybrid
//! retrieval over notes (and chunks when asked), the graph around entities named in the query
//! and recent events; each gets relevance, recency, importance, confidence and feedback
//! scores; near-duplicates go; the rest is packed greedily into the token budget and stored as
//! telemetry.

pub mod budget;
pub mod model;
pub mod rank;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::ContextConfig;
use crate::error::{ApiError, ApiResult};
use crate::memory::graph::NodeKey;
use crate::memory::{Memory, NOTE_ITEM};
use crate::retrieval::{SearchMode, SearchQuery};
use crate::sources::CHUNK_ITEM;
use crate::store::memory::{EventFilter, NoteRow, PackRow};
use crate::store::sources::SourceStore;
use crate::store::time::{new_id, now, rfc3339};
use crate::store::Workspace;

use budget::{pack, TokenCounter};
use model::{
    ContextPack, ContextPackRequest, ContextRequest, ContextResponse, PackTelemetry, PackUsage,
    RankedMemory, StoredPack,
};
use rank::Candidate;

const MAX_QUERY_CHARS: usize = 4_000;

/// What the harness adds to every pack: the active version's ranking weights, and a trace.
#[async_trait::async_trait]
pub trait PackHooks: Send + Sync {
    /// The workspace's active harness version: its id and the weights it sets, if any.
    async fn active_version(
        &self,
        workspace_id: &str,
    ) -> anyhow::Result<Option<(String, Option<crate::config::Weights>)>>;
    /// Records the pack as a trace; returns the trace id.
    async fn trace_pack(
        &self,
        ws: &Workspace,
        pack: &ContextPack,
        metadata: Option<&model::PackMetadata>,
    ) -> anyhow::Result<String>;
}

pub struct ContextPacks {
    pub memory: Arc<Memory>,
    pub chunks: Arc<dyn SourceStore>,
    pub settings: ContextConfig,
    pub counter: TokenCounter,
    /// Set once the harness is built (it needs the memory this is built with).
    pub hooks: std::sync::OnceLock<Arc<dyn PackHooks>>,
}

/// The request, checked.
struct Ask {
    query: String,
    max_tokens: usize,
    include_sources: bool,
    include_events: bool,
    include_graph: bool,
    include_pending: bool,
    kinds: Option<Vec<String>>,
    as_of: Option<DateTime<Utc>>,
    mission_id: Option<String>,
    weights: crate::config::Weights,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// Whether a note may enter a pack answered as of `at`.
fn visible(n: &NoteRow, at: &str, ask: &Ask) -> bool {
    let status_ok = n.status == "approved" || (ask.include_pending && n.status == "pending");
    let kind_ok = ask.kinds.as_ref().is_none_or(|k| k.contains(&n.kind));
    status_ok
        && kind_ok
        && n.valid_from.as_str() <= at
        && n.valid_to.as_deref().is_none_or(|to| to > at)
}

impl ContextPacks {
    fn check(&self, req: &ContextPackRequest) -> ApiResult<Ask> {
        let query = req.query.trim();
        if query.is_empty() {
            return Err(ApiError::bad_request("query: must not be empty"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::bad_request(format!(
                "query: at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let limit = self.settings.max_tokens_limit;
        let max_tokens = req.max_tokens.unwrap_or(self.settings.default_max_tokens);
        if !(1..=limit).contains(&max_tokens) {
            return Err(ApiError::bad_request(format!(
                "max_tokens: expected 1-{limit}"
            )));
        }
        let kinds = req
            .kinds
            .as_deref()
            .map(|k| crate::memory::validate::labels("kinds", k, 50))
            .transpose()?;
        let as_of = req
            .as_of
            .as_deref()
            .map(|t| {
                DateTime::parse_from_rfc3339(t.trim())
                    .map(|t| t.to_utc())
                    .map_err(|_| {
                        ApiError::bad_request(
                            "as_of: expected an RFC 3339 timestamp such as 2026-11-23T09:30:00Z",
                        )
                    })
            })
            .transpose()?;
        Ok(Ask {
            query: query.to_string(),
            max_tokens,
            include_sources: req.include_sources.unwrap_or(false),
            include_events: req.include_events.unwrap_or(true),
            include_graph: req.include_graph.unwrap_or(true),
            include_pending: req.include_pending.unwrap_or(false),
            kinds,
            as_of,
            mission_id: req.metadata.as_ref().and_then(|m| m.mission_id.clone()),
            weights: self.settings.weights,
        })
    }

    pub async fn build(&self, ws: &Workspace, req: ContextPackRequest) -> ApiResult<ContextPack> {
        let mut ask = self.check(&req)?;
        let started = Instant::now();
        let version = match self.hooks.get() {
            Some(h) => h.active_version(&ws.id).await?,
            None => None,
        };
        if let Some(w) = version.as_ref().and_then(|v| v.1) {
            ask.weights = w;
        }
        let (candidates, mut telemetry) = self.candidates(ws, &ask).await?;
        let ranked_at = Instant::now();
        let considered = candidates.len();
        let packed = pack(
            candidates,
            ask.max_tokens,
            self.settings.duplicate_threshold,
            &self.counter,
        );
        telemetry.rank_ms += ms(ranked_at);
        let by = |reason: &str| packed.dropped.iter().filter(|d| d.reason == reason).count();
        let usage = PackUsage {
            max_tokens: ask.max_tokens,
            tokens_used: packed.tokens_used,
            tokenizer: self.counter.name().to_string(),
            items_considered: considered,
            items_included: packed.items.len(),
            dropped_by_budget: by("budget"),
            dropped_as_duplicate: by("duplicate"),
        };
        let pack_id = new_id();
        let created_at = now();
        telemetry.took_ms = ms(started);
        let mut pack = ContextPack {
            pack_id,
            object: "context_pack".into(),
            workspace_id: ws.workspace_id.clone(),
            query: ask.query,
            as_of: ask.as_of.map(rfc3339),
            items: packed.items,
            context: packed.context,
            usage,
            telemetry,
            harness_version_id: version.map(|v| v.0),
            trace_id: None,
            created_at,
        };
        if let Some(h) = self.hooks.get() {
            pack.trace_id = Some(h.trace_pack(ws, &pack, req.metadata.as_ref()).await?);
        }
        let row = PackRow {
            id: pack.pack_id.clone(),
            workspace_id: ws.id.clone(),
            query: pack.query.clone(),
            request: serde_json::to_value(&req).unwrap_or_default(),
            items: serde_json::to_value(&pack.items).unwrap_or_default(),
            dropped: serde_json::to_value(&packed.dropped).unwrap_or_default(),
            usage: serde_json::json!({ "usage": &pack.usage, "telemetry": &pack.telemetry }),
            harness_version_id: pack.harness_version_id.clone(),
            trace_id: pack.trace_id.clone(),
            created_at: pack.created_at.clone(),
        };
        self.memory.store.save_pack(&row).await?;
        Ok(pack)
    }

    /// Every candidate, scored and sorted best first.
    async fn candidates(
        &self,
        ws: &Workspace,
        ask: &Ask,
    ) -> ApiResult<(Vec<Candidate>, PackTelemetry)> {
        let s = &self.settings;
        let retriever = &self.memory.retriever;
        let mut telemetry = PackTelemetry::default();
        let as_of = ask.as_of.unwrap_or_else(Utc::now);
        let at = rfc3339(as_of);

        let t = Instant::now();
        let notes_q = SearchQuery {
            workspace_id: &ws.id,
            item_type: NOTE_ITEM,
            text: &ask.query,
            mode: SearchMode::Hybrid,
            depth: s.note_candidates,
            source_ids: ask.kinds.as_deref(),
        };
        let chunks_q = SearchQuery {
            workspace_id: &ws.id,
            item_type: CHUNK_ITEM,
            text: &ask.query,
            mode: SearchMode::Hybrid,
            depth: s.chunk_candidates,
            source_ids: None,
        };
        let queries = if ask.include_sources {
            vec![notes_q, chunks_q]
        } else {
            vec![notes_q]
        };
        // Recent events are read while the query is embedded and searched.
        let (hits, events) = tokio::join!(
            retriever.search_many(&queries),
            self.recent_events(ws, ask, as_of)
        );
        let mut hits = hits.map_err(crate::retrieval::api_error)?.into_iter();
        let (note_hits, chunk_hits) = (
            hits.next().unwrap_or_default(),
            hits.next().unwrap_or_default(),
        );
        let events = events?;
        telemetry.search_ms = ms(t);
        let t = Instant::now();

        let mut out: Vec<Candidate> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        // Notes by retrieval.
        let keys: Vec<String> = note_hits.iter().map(|h| h.id.clone()).collect();
        let store = &self.memory.store;
        let mut rows: HashMap<String, NoteRow> = store
            .notes_by_index_keys(&ws.id, &keys)
            .await?
            .into_iter()
            .filter_map(|n| n.index_key.clone().map(|k| (k, n)))
            .collect();
        let mut top_notes = Vec::new();
        for h in &note_hits {
            let Some(n) = rows.remove(&h.id) else {
                continue;
            };
            if !rank::related(h.bm25, h.vector, s.min_similarity) {
                continue;
            }
            if !visible(&n, &at, ask) || !seen.insert(n.id.clone()) {
                continue;
            }
            if top_notes.len() < 3 {
                top_notes.push(NodeKey::new("note", &n.id));
            }
            let mut c = self.note_candidate(n, as_of);
            c.relevance = rank::relevance(h.bm25, h.vector);
            c.reason = "retrieved".into();
            out.push(c);
        }
        telemetry.candidates_notes = out.len();

        // Source chunks.
        if !chunk_hits.is_empty() {
            let ids: Vec<String> = chunk_hits.iter().map(|h| h.id.clone()).collect();
            let mut hits: HashMap<String, _> = self
                .chunks
                .active_chunks(&ws.id, &ids)
                .await?
                .into_iter()
                .map(|h| (h.chunk.id.clone(), h))
                .collect();
            for h in &chunk_hits {
                let Some(hit) = hits.remove(&h.id) else {
                    continue;
                };
                if !rank::related(h.bm25, h.vector, s.min_similarity) {
                    continue;
                }
                let ch = hit.chunk;
                let title = hit.document_title.or(hit.source_title);
                let mut c = Candidate::new("chunk", ch.id.clone(), ch.text);
                c.label = match (&title, ch.page) {
                    (Some(t), Some(p)) => format!("source: {t}, p. {p}"),
                    (Some(t), None) => format!("source: {t}"),
                    (None, _) => "source".into(),
                };
                c.relevance = rank::relevance(h.bm25, h.vector);
                c.reason = "retrieved from sources".into();
                c.citation.source_id = Some(ch.source_id);
                c.citation.document_id = Some(ch.document_id);
                c.citation.chunk_id = Some(ch.id);
                c.citation.title = title;
                c.citation.url = hit.url;
                c.citation.filename = hit.filename;
                c.citation.page = ch.page;
                c.citation.char_start = Some(ch.char_start);
                c.citation.char_end = Some(ch.char_end);
                out.push(c);
                telemetry.candidates_chunks += 1;
            }
        }

        // Entities named in the query, and the graph around them and the best notes.
        if ask.include_graph {
            let graph = &self.memory.graph;
            let matched = graph.match_entities(&ws.id, &ask.query);
            let mut seeds: Vec<NodeKey> = matched
                .iter()
                .map(|id| NodeKey::new("entity", id))
                .collect();
            seeds.extend(top_notes);
            for id in &matched {
                if let Some(e) = graph.entity(&ws.id, id) {
                    let mut c = self.entity_candidate(id, &e);
                    c.relevance = 0.9;
                    c.reason = "named in the query".into();
                    out.push(c);
                    telemetry.candidates_graph += 1;
                }
            }
            let near = graph.neighbours(&ws.id, &seeds, s.graph_hops, s.graph_neighbours);
            let graph_relevance = |weight: f64, hops: usize| 0.6 * weight / hops as f64;
            let mut wanted_notes: HashMap<String, (f64, String)> = HashMap::new();
            for n in &near {
                let why = format!(
                    "graph: {} hop(s) via {} from {} {}",
                    n.hops, n.relation, n.from.kind, n.from.id
                );
                let rel = graph_relevance(n.weight, n.hops);
                if n.node.kind == "note" {
                    if let Some(c) = out
                        .iter_mut()
                        .find(|c| c.item_type == "note" && c.id == n.node.id)
                    {
                        c.relevance = (c.relevance + 0.1 * n.weight / n.hops as f64).min(1.0);
                        c.reason = format!("retrieved; {why}");
                        continue;
                    }
                    wanted_notes.insert(n.node.id.clone(), (rel, why));
                } else if !matched.contains(&n.node.id) {
                    if let Some(e) = graph.entity(&ws.id, &n.node.id) {
                        let mut c = self.entity_candidate(&n.node.id, &e);
                        c.relevance = rel * 0.8;
                        c.reason = why;
                        out.push(c);
                        telemetry.candidates_graph += 1;
                    }
                }
            }
            if !wanted_notes.is_empty() {
                let ids: Vec<String> = wanted_notes.keys().cloned().collect();
                for n in store.notes_by_ids(&ws.id, &ids).await? {
                    if !visible(&n, &at, ask) || !seen.insert(n.id.clone()) {
                        continue;
                    }
                    let (rel, why) = wanted_notes.remove(&n.id).unwrap_or_default();
                    let mut c = self.note_candidate(n, as_of);
                    c.relevance = rel;
                    c.reason = why;
                    out.push(c);
                    telemetry.candidates_graph += 1;
                }
            }
        }

        // Recent events, and those of the mission in hand.
        if ask.include_events {
            let query_terms: HashSet<String> =
                retriever.text.terms(&ask.query).into_iter().collect();
            let mut seen_events = HashSet::new();
            for e in events {
                if !seen_events.insert(e.id.clone()) {
                    continue;
                }
                let terms: HashSet<String> = retriever.text.terms(&e.summary).into_iter().collect();
                let overlap = if query_terms.is_empty() {
                    0.0
                } else {
                    query_terms.intersection(&terms).count() as f64 / query_terms.len() as f64
                };
                let same_mission = ask.mission_id.is_some() && ask.mission_id == e.mission_id;
                let mut c = Candidate::new("event", e.id.clone(), e.summary);
                c.label = format!(
                    "event {}, {}",
                    e.event_type,
                    e.occurred_at.get(..10).unwrap_or_default()
                );
                c.kind = Some(e.event_type);
                c.relevance = if same_mission {
                    overlap.max(0.5)
                } else {
                    overlap * 0.8
                };
                c.recency = rank::recency(&e.occurred_at, as_of, s.recency_half_life_days);
                c.reason = if same_mission {
                    "event of this mission".into()
                } else {
                    "recent event".into()
                };
                c.citation.event_id = Some(e.id);
                out.push(c);
                telemetry.candidates_events += 1;
            }
        }
        telemetry.expand_ms = ms(t);

        let t = Instant::now();
        let ids: Vec<String> = out.iter().map(|c| c.id.clone()).collect();
        let totals = store.feedback_totals(&ws.id, &ids).await?;
        for c in &mut out {
            c.feedback = rank::feedback(totals.get(&c.id).copied().unwrap_or_default());
            rank::score(c, &ask.weights);
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        telemetry.rank_ms = ms(t);
        Ok((out, telemetry))
    }

    /// The latest events up to `as_of`, plus as many of the request's mission.
    async fn recent_events(
        &self,
        ws: &Workspace,
        ask: &Ask,
        as_of: DateTime<Utc>,
    ) -> ApiResult<Vec<crate::store::memory::EventRow>> {
        if !ask.include_events {
            return Ok(vec![]);
        }
        let store = &self.memory.store;
        let limit = self.settings.recent_events as i64;
        let to = ask
            .as_of
            .map(|_| rfc3339(as_of + chrono::Duration::milliseconds(1)));
        let mut events = store
            .list_events(
                &ws.id,
                &EventFilter {
                    to: to.clone(),
                    limit,
                    ..Default::default()
                },
            )
            .await?;
        if let Some(m) = &ask.mission_id {
            let filter = EventFilter {
                mission_id: Some(m.clone()),
                to,
                limit,
                ..Default::default()
            };
            events.extend(store.list_events(&ws.id, &filter).await?);
        }
        Ok(events)
    }

    fn note_candidate(&self, n: NoteRow, as_of: DateTime<Utc>) -> Candidate {
        let label = match &n.title {
            Some(t) => format!("{}: {t}", n.kind),
            None => n.kind.clone(),
        };
        let mut c = Candidate::new("note", n.id.clone(), n.content);
        c.label = label;
        c.recency = rank::recency(&n.valid_from, as_of, self.settings.recency_half_life_days);
        c.importance = n.importance;
        c.confidence = n.confidence;
        c.kind = Some(n.kind);
        c.citation.note_id = Some(n.id);
        c.citation.title = n.title;
        c
    }

    fn entity_candidate(&self, id: &str, e: &crate::memory::graph::EntityName) -> Candidate {
        let mut c = Candidate::new("entity", id.to_string(), e.name.clone());
        c.label = format!("entity: {}", e.entity_type);
        c.kind = Some(e.entity_type.clone());
        c.citation.entity_id = Some(id.to_string());
        c.citation.title = Some(e.name.clone());
        c
    }

    pub async fn stored(&self, ws: &Workspace, id: &str) -> ApiResult<StoredPack> {
        let row = self
            .memory
            .store
            .pack(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Context pack"))?;
        Ok(StoredPack {
            pack_id: row.id,
            object: "context_pack".into(),
            query: row.query,
            request: row.request,
            items: row.items,
            dropped: row.dropped,
            usage: row.usage,
            harness_version_id: row.harness_version_id,
            trace_id: row.trace_id,
            created_at: row.created_at,
        })
    }

    /// The compatibility form: ranked notes for a query, no budget, nothing stored.
    pub async fn context(&self, ws: &Workspace, req: ContextRequest) -> ApiResult<ContextResponse> {
        let limit = req.limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Err(ApiError::bad_request("limit: expected 1-50"));
        }
        let ask = self.check(&ContextPackRequest {
            query: req.query,
            kinds: req.kinds,
            include_pending: req.include_pending,
            as_of: req.as_of,
            include_events: Some(false),
            ..Default::default()
        })?;
        let (candidates, _) = self.candidates(ws, &ask).await?;
        let ids: Vec<String> = candidates
            .iter()
            .filter(|c| c.item_type == "note")
            .take(limit)
            .map(|c| c.id.clone())
            .collect();
        let mut notes: HashMap<String, NoteRow> = self
            .memory
            .store
            .notes_by_ids(&ws.id, &ids)
            .await?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let data = candidates
            .iter()
            .filter(|c| c.item_type == "note")
            .take(limit)
            .filter_map(|c| {
                notes.remove(&c.id).map(|n| RankedMemory {
                    id: n.id,
                    title: n.title,
                    content: n.content,
                    kind: Some(n.kind),
                    scores: c.scores(),
                })
            })
            .collect();
        Ok(ContextResponse {
            object: "list".into(),
            query: ask.query,
            data,
        })
    }
}
