//! The memory graph in `petgraph`: notes and entities as nodes, links as edges, one graph per
//! workspace. Loaded from SQL at start and updated after every committed write, so k-hop
//! neighbourhoods cost no SQL on the context-pack path.

use std::collections::{HashMap, VecDeque};
use std::sync::RwLock;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableUnGraph};
use petgraph::visit::EdgeRef;

use crate::store::memory::{EntityRow, ItemType, LinkRow};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeKey {
    /// `Note` or `Entity`: links join only those.
    pub kind: ItemType,
    pub id: String,
}

impl NodeKey {
    /// A node from a link end's stored type: `note`, else an entity.
    pub fn new(kind: &str, id: &str) -> Self {
        if kind == ItemType::Note.as_str() {
            Self::note(id)
        } else {
            Self::entity(id)
        }
    }

    pub fn note(id: &str) -> Self {
        Self {
            kind: ItemType::Note,
            id: id.to_string(),
        }
    }

    pub fn entity(id: &str) -> Self {
        Self {
            kind: ItemType::Entity,
            id: id.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Edge {
    relation: String,
    weight: f64,
}

/// What the graph remembers of an entity: enough to match it in a query and render it.
#[derive(Debug, Clone)]
pub struct EntityName {
    pub name: String,
    pub entity_type: String,
    /// Lower-cased name and aliases.
    terms: Vec<String>,
}

#[derive(Default)]
struct WorkspaceGraph {
    graph: StableUnGraph<NodeKey, Edge>,
    nodes: HashMap<NodeKey, NodeIndex>,
    edges: HashMap<String, EdgeIndex>,
    entities: HashMap<String, EntityName>,
}

/// A node reached from the seeds: how far, through which relation, with the product of the
/// link weights along the path.
#[derive(Debug, Clone)]
pub struct Neighbour {
    pub node: NodeKey,
    pub hops: usize,
    pub weight: f64,
    pub relation: String,
    pub from: NodeKey,
}

#[derive(Default)]
pub struct Graphs {
    inner: RwLock<HashMap<String, WorkspaceGraph>>,
}

impl WorkspaceGraph {
    fn node(&mut self, key: NodeKey) -> NodeIndex {
        if let Some(i) = self.nodes.get(&key) {
            return *i;
        }
        let i = self.graph.add_node(key.clone());
        self.nodes.insert(key, i);
        i
    }

    fn remove_link(&mut self, link_id: &str) {
        if let Some(e) = self.edges.remove(link_id) {
            self.graph.remove_edge(e);
        }
    }
}

impl Graphs {
    pub fn load(entities: Vec<EntityRow>, links: Vec<LinkRow>) -> Self {
        let graphs = Self::default();
        for e in &entities {
            graphs.put_entity(e);
        }
        for l in &links {
            graphs.put_link(l);
        }
        graphs
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, WorkspaceGraph>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, WorkspaceGraph>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn put_entity(&self, e: &EntityRow) {
        let mut terms: Vec<String> = std::iter::once(&e.name)
            .chain(e.aliases.iter())
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        terms.sort();
        terms.dedup();
        let mut all = self.write();
        let g = all.entry(e.workspace_id.clone()).or_default();
        g.node(NodeKey::entity(&e.id));
        g.entities.insert(
            e.id.clone(),
            EntityName {
                name: e.name.clone(),
                entity_type: e.entity_type.clone(),
                terms,
            },
        );
    }

    pub fn put_link(&self, l: &LinkRow) {
        let mut all = self.write();
        let g = all.entry(l.workspace_id.clone()).or_default();
        g.remove_link(&l.id);
        let a = g.node(NodeKey::new(&l.from_type, &l.from_id));
        let b = g.node(NodeKey::new(&l.to_type, &l.to_id));
        let e = g.graph.add_edge(
            a,
            b,
            Edge {
                relation: l.relation.clone(),
                weight: l.weight,
            },
        );
        g.edges.insert(l.id.clone(), e);
    }

    pub fn remove_link(&self, workspace_id: &str, link_id: &str) {
        if let Some(g) = self.write().get_mut(workspace_id) {
            g.remove_link(link_id);
        }
    }

    pub fn entity(&self, workspace_id: &str, id: &str) -> Option<EntityName> {
        self.read()
            .get(workspace_id)
            .and_then(|g| g.entities.get(id).cloned())
    }

    /// Entities whose name or an alias occurs in `query` as whole words, case-insensitively.
    pub fn match_entities(&self, workspace_id: &str, query: &str) -> Vec<String> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let haystack = format!(" {} ", words.join(" "));
        let all = self.read();
        let Some(g) = all.get(workspace_id) else {
            return vec![];
        };
        let mut out: Vec<String> = g
            .entities
            .iter()
            .filter(|(_, e)| {
                e.terms.iter().any(|t| {
                    let normalised: Vec<&str> = t
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| !w.is_empty())
                        .collect();
                    !normalised.is_empty()
                        && haystack.contains(&format!(" {} ", normalised.join(" ")))
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }

    /// Breadth-first neighbourhood of `seeds` up to `hops` links away, seeds excluded; each
    /// node once, at its shortest distance (the heavier path on ties).
    pub fn neighbours(
        &self,
        workspace_id: &str,
        seeds: &[NodeKey],
        hops: usize,
        limit: usize,
    ) -> Vec<Neighbour> {
        let all = self.read();
        let Some(g) = all.get(workspace_id) else {
            return vec![];
        };
        let mut seen: HashMap<NodeIndex, Neighbour> = HashMap::new();
        let mut queue: VecDeque<(NodeIndex, usize, f64)> = VecDeque::new();
        for s in seeds {
            if let Some(i) = g.nodes.get(s) {
                queue.push_back((*i, 0, 1.0));
            }
        }
        let seed_set: Vec<NodeIndex> = queue.iter().map(|(i, _, _)| *i).collect();
        while let Some((at, depth, weight)) = queue.pop_front() {
            if depth >= hops {
                continue;
            }
            for edge in g.graph.edges(at) {
                let other = if edge.source() == at {
                    edge.target()
                } else {
                    edge.source()
                };
                if seed_set.contains(&other) {
                    continue;
                }
                let w = weight * edge.weight().weight.clamp(0.0, 1.0);
                let candidate = Neighbour {
                    node: g.graph[other].clone(),
                    hops: depth + 1,
                    weight: w,
                    relation: edge.weight().relation.clone(),
                    from: g.graph[at].clone(),
                };
                match seen.get(&other) {
                    Some(prev) if prev.hops < candidate.hops => continue,
                    Some(prev) if prev.hops == candidate.hops && prev.weight >= w => continue,
                    Some(_) => {
                        seen.insert(other, candidate);
                    }
                    None => {
                        seen.insert(other, candidate);
                        queue.push_back((other, depth + 1, w));
                    }
                }
            }
        }
        let mut out: Vec<Neighbour> = seen.into_values().collect();
        out.sort_by(|a, b| {
            a.hops
                .cmp(&b.hops)
                .then(b.weight.total_cmp(&a.weight))
                .then(a.node.id.cmp(&b.node.id))
        });
        out.truncate(limit);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: &str, name: &str, aliases: &[&str]) -> EntityRow {
        EntityRow {
            id: id.into(),
            account_id: "a".into(),
            workspace_id: "w".into(),
            entity_type: "company".into(),
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            metadata: serde_json::json!({}),
            external_source: None,
            external_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn link(id: &str, from: (&str, &str), to: (&str, &str), weight: f64) -> LinkRow {
        LinkRow {
            id: id.into(),
            workspace_id: "w".into(),
            from_type: from.0.into(),
            from_id: from.1.into(),
            to_type: to.0.into(),
            to_id: to.1.into(),
            relation: "rel".into(),
            weight,
            metadata: serde_json::json!({}),
            created_at: String::new(),
        }
    }

    #[test]
    fn matches_names_and_aliases_as_whole_words() {
        let g = Graphs::load(
            vec![
                entity("e1", "Acme Corp", &["ACME"]),
                entity("e2", "Bob", &[]),
            ],
            vec![],
        );
        assert_eq!(g.match_entities("w", "what does acme sell?"), vec!["e1"]);
        assert_eq!(g.match_entities("w", "Acme-Corp pricing"), vec!["e1"]);
        assert!(g.match_entities("w", "bobsled results").is_empty());
        assert!(g.match_entities("other", "Bob").is_empty());
    }

    #[test]
    fn neighbours_by_hops_and_removal() {
        let g = Graphs::load(
            vec![entity("e1", "A", &[]), entity("e2", "B", &[])],
            vec![
                link("l1", ("note", "n1"), ("entity", "e1"), 1.0),
                link("l2", ("entity", "e1"), ("entity", "e2"), 0.5),
                link("l3", ("note", "n2"), ("entity", "e2"), 1.0),
            ],
        );
        let seeds = [NodeKey::entity("e1")];
        let near = g.neighbours("w", &seeds, 2, 10);
        let ids: Vec<(&str, usize)> = near.iter().map(|n| (n.node.id.as_str(), n.hops)).collect();
        assert_eq!(ids, vec![("n1", 1), ("e2", 1), ("n2", 2)]);
        assert!((near[2].weight - 0.5).abs() < 1e-9);
        g.remove_link("w", "l2");
        let near = g.neighbours("w", &seeds, 2, 10);
        assert_eq!(near.len(), 1);
    }
}
