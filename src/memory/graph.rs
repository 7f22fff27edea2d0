//! The memory graph in `petgraph`: notes and entities as nodes, links as edges, one graph per
//! workspace. Loaded from SQL at start and updated after every committed write, so k-hop
//! neighbourhoods cost no SQL on the context-pack path. Each workspace has its own lock (the
//! map's lock is held only to find a workspace), none is held across an await, and the work
//! of one query is bounded: entity names are matched through a phrase index (no scan of every
//! entity), at most `max` matched entities are kept and a walk visits at most
//! [`MAX_VISITED`] nodes.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableUnGraph};
use petgraph::visit::EdgeRef;

use crate::store::memory::{EntityRow, ItemType, LinkRow};

/// Most nodes one neighbourhood walk visits, whatever the hubs it meets.
pub const MAX_VISITED: usize = 10_000;
/// Longest entity name or alias, in words, that a query is searched for.
const MAX_TERM_WORDS: usize = 16;

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
    /// Name and aliases as lower-cased words joined by one space ("acme corp").
    terms: Vec<String>,
}

#[derive(Default)]
struct WorkspaceGraph {
    graph: StableUnGraph<NodeKey, Edge>,
    nodes: HashMap<NodeKey, NodeIndex>,
    edges: HashMap<String, EdgeIndex>,
    entities: HashMap<String, EntityName>,
    /// Each normalised name or alias and the entities that have it.
    by_term: HashMap<String, BTreeSet<String>>,
    /// Words of the longest term.
    max_words: usize,
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

type Shared = Arc<RwLock<WorkspaceGraph>>;

#[derive(Default)]
pub struct Graphs {
    inner: RwLock<HashMap<String, Shared>>,
}

/// Lower-cased alphanumeric words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn read(g: &Shared) -> RwLockReadGuard<'_, WorkspaceGraph> {
    g.read().unwrap_or_else(|p| p.into_inner())
}

fn write(g: &Shared) -> RwLockWriteGuard<'_, WorkspaceGraph> {
    g.write().unwrap_or_else(|p| p.into_inner())
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

    /// Replaces the phrase-index entries of entity `id` with `terms`.
    fn index_terms(&mut self, id: &str, terms: &[String]) {
        let old = self
            .entities
            .get(id)
            .map(|e| e.terms.clone())
            .unwrap_or_default();
        for t in old {
            if let Some(ids) = self.by_term.get_mut(&t) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_term.remove(&t);
                }
            }
        }
        for t in terms {
            self.by_term
                .entry(t.clone())
                .or_default()
                .insert(id.to_string());
            self.max_words = self.max_words.max(t.split(' ').count());
        }
    }

    /// Entity ids whose term is a run of `words`, with the words of their longest match.
    fn matches(&self, words: &[String]) -> HashMap<&str, usize> {
        let longest = self.max_words.min(MAX_TERM_WORDS);
        let mut best: HashMap<&str, usize> = HashMap::new();
        let mut rest = words;
        while let Some((_, tail)) = rest.split_first() {
            let mut phrase = String::new();
            for (len, word) in rest.iter().take(longest).enumerate() {
                if len > 0 {
                    phrase.push(' ');
                }
                phrase.push_str(word);
                for id in self.by_term.get(&phrase).into_iter().flatten() {
                    let n = best.entry(id.as_str()).or_default();
                    *n = (*n).max(len + 1);
                }
            }
            rest = tail;
        }
        best
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

    /// The workspace's graph, if it has one; the map's lock is released on return.
    fn workspace(&self, workspace_id: &str) -> Option<Shared> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(workspace_id)
            .cloned()
    }

    fn workspace_or_new(&self, workspace_id: &str) -> Shared {
        if let Some(g) = self.workspace(workspace_id) {
            return g;
        }
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(workspace_id.to_string())
            .or_default()
            .clone()
    }

    pub fn put_entity(&self, e: &EntityRow) {
        let terms: BTreeSet<String> = std::iter::once(&e.name)
            .chain(e.aliases.iter())
            .map(|t| words(t).join(" "))
            .filter(|t| !t.is_empty())
            .collect();
        let terms: Vec<String> = terms.into_iter().collect();
        let shared = self.workspace_or_new(&e.workspace_id);
        let mut g = write(&shared);
        g.index_terms(&e.id, &terms);
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
        let shared = self.workspace_or_new(&l.workspace_id);
        let mut g = write(&shared);
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
        if let Some(shared) = self.workspace(workspace_id) {
            write(&shared).remove_link(link_id);
        }
    }

    pub fn entity(&self, workspace_id: &str, id: &str) -> Option<EntityName> {
        let shared = self.workspace(workspace_id)?;
        let g = read(&shared);
        g.entities.get(id).cloned()
    }

    /// Entities whose name or an alias occurs in `query` as whole words, case-insensitively:
    /// at most `max`, those with the longest matching name first (then by id).
    pub fn match_entities(&self, workspace_id: &str, query: &str, max: usize) -> Vec<String> {
        let query_words = words(query);
        let Some(shared) = self.workspace(workspace_id) else {
            return vec![];
        };
        let g = read(&shared);
        let mut found: Vec<(usize, &str)> = g
            .matches(&query_words)
            .into_iter()
            .map(|(id, n)| (n, id))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        found.truncate(max);
        found.into_iter().map(|(_, id)| id.to_string()).collect()
    }

    /// Breadth-first neighbourhood of `seeds` up to `hops` links away, seeds excluded; each
    /// node once, at its shortest distance (the heavier path on ties); at most
    /// [`MAX_VISITED`] nodes are reached.
    pub fn neighbours(
        &self,
        workspace_id: &str,
        seeds: &[NodeKey],
        hops: usize,
        limit: usize,
    ) -> Vec<Neighbour> {
        let Some(shared) = self.workspace(workspace_id) else {
            return vec![];
        };
        let g = read(&shared);
        let mut seed_set: HashSet<NodeIndex> = HashSet::new();
        let mut queue: VecDeque<(NodeIndex, usize, f64)> = VecDeque::new();
        for i in seeds.iter().filter_map(|s| g.nodes.get(s)) {
            if seed_set.insert(*i) {
                queue.push_back((*i, 0, 1.0));
            }
        }
        let mut seen: HashMap<NodeIndex, Neighbour> = HashMap::new();
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
                match seen.get(&other) {
                    Some(prev) if prev.hops < depth + 1 => continue,
                    Some(prev) if prev.hops == depth + 1 && prev.weight >= w => continue,
                    None if seen.len() >= MAX_VISITED => continue,
                    _ => {}
                }
                let candidate = Neighbour {
                    node: g.graph[other].clone(),
                    hops: depth + 1,
                    weight: w,
                    relation: edge.weight().relation.clone(),
                    from: g.graph[at].clone(),
                };
                if seen.insert(other, candidate).is_none() {
                    queue.push_back((other, depth + 1, w));
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
        assert_eq!(
            g.match_entities("w", "what does acme sell?", 50),
            vec!["e1"]
        );
        assert_eq!(g.match_entities("w", "Acme-Corp pricing", 50), vec!["e1"]);
        assert!(g.match_entities("w", "bobsled results", 50).is_empty());
        assert!(g.match_entities("other", "Bob", 50).is_empty());
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

    #[test]
    fn matched_entities_are_capped_longest_names_first() {
        let mut entities: Vec<EntityRow> = (0..200)
            .map(|i| entity(&format!("e{i:03}"), &format!("w{i}"), &[]))
            .collect();
        entities.push(entity("long", "w1 w2 w3", &[]));
        let g = Graphs::load(entities, vec![]);
        let query: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let matched = g.match_entities("w", &query.join(" "), 50);
        assert_eq!(matched.len(), 50);
        assert_eq!(matched[0], "long");
        assert_eq!(matched[1], "e000");
        assert!(g.match_entities("w", &query.join(" "), 1000).len() == 201);
    }

    #[test]
    fn a_renamed_entity_no_longer_matches_its_old_name() {
        let g = Graphs::load(vec![entity("e1", "Acme", &[])], vec![]);
        g.put_entity(&entity("e1", "Globex", &[]));
        assert!(g.match_entities("w", "acme", 50).is_empty());
        assert_eq!(g.match_entities("w", "globex", 50), vec!["e1"]);
    }

    #[test]
    fn a_walk_through_a_hub_stops_at_the_visit_cap() {
        let links: Vec<LinkRow> = (0..MAX_VISITED + 500)
            .map(|i| {
                link(
                    &format!("l{i}"),
                    ("entity", "hub"),
                    ("note", format!("n{i}").as_str()),
                    1.0,
                )
            })
            .collect();
        let g = Graphs::load(vec![entity("hub", "Hub", &[])], links);
        let near = g.neighbours("w", &[NodeKey::entity("hub")], 2, usize::MAX);
        assert_eq!(near.len(), MAX_VISITED);
    }
}
