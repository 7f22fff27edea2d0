//! Context packs: the call agents make before every reply. Candidates come from hybrid
//! retrieval over notes (and chunks when asked), the graph around entities named in the query
//! and recent events; each gets relevance, recency, importance, confidence and feedback
//! scores; near-duplicates go; the rest is packed greedily into the token budget and stored as
//! telemetry.

pub mod budget;
mod dates;
pub mod model;
pub mod rank;
mod threads;
mod turns;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::ContextConfig;
use crate::error::{ApiError, ApiResult};
use crate::memory::graph::{EntityName, NodeKey};
use crate::memory::{Memory, NOTE_ITEM};
use crate::retrieval::{Fused, SearchMode, SearchQuery};
use crate::sources::CHUNK_ITEM;
use crate::store::memory::{EventFilter, EventRow, ItemType, NoteRow, NoteStatus, PackRow};
use crate::store::sources::{ChunkHit, SourceStore};
use crate::store::time::{new_id, now, rfc3339};
use crate::store::Workspace;
use crate::validate;

use budget::{pack, TokenCounter};
use model::{
    ContextPack, ContextPackRequest, ContextRequest, ContextResponse, DropReason, PackTelemetry,
    PackUsage, RankedMemory, StoredPack,
};
use rank::Candidate;

// The relevance the graph and events give, on the same 0-1 scale as a retrieval hit's
// (`rank::relevance`), so all candidates compare in one weighted sum.

/// Relevance of an entity named in the query: near the top, as the query asked for it.
const NAMED_ENTITY_RELEVANCE: f64 = 0.9;
/// A note reached through the graph: this share of the path's link weight per hop.
const GRAPH_RELEVANCE_SHARE: f64 = 0.6;
/// An entity reached through the graph counts this share of what a note on the same path
/// would: the notes carry the facts.
const GRAPH_ENTITY_SHARE: f64 = 0.8;
/// A retrieved note the graph also reaches gains this share of the path's weight per hop.
const GRAPH_BOOST_SHARE: f64 = 0.1;
/// How many of the best retrieved notes seed the graph walk, with the named entities.
const GRAPH_SEED_NOTES: usize = 3;
/// An event relevant by query-term overlap counts this share of the overlap.
const EVENT_OVERLAP_SHARE: f64 = 0.8;
/// An event of the request's mission is at least this relevant, whatever its words.
const MISSION_EVENT_MIN_RELEVANCE: f64 = 0.5;

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

/// A context-pack request, checked: what `candidates` and packing work from.
struct PackSpec {
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

/// The candidates gathered so far for one pack, and what they are gathered against.
struct Gathering<'a> {
    ws: &'a Workspace,
    spec: &'a PackSpec,
    as_of: DateTime<Utc>,
    /// `as_of` in the stored timestamp form, compared with notes' validity.
    at: String,
    out: Vec<Candidate>,
    /// Ids of the notes in `out`.
    seen: HashSet<String>,
    /// Retrieved notes written in a thread: their place in `out` and in the thread.
    threaded: Vec<(usize, String, i64)>,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// The best BM25 score among `hits`: lexical relevance is relative to it.
fn best_bm25(hits: &[Fused]) -> f32 {
    hits.iter().filter_map(|h| h.bm25).fold(0.0, f32::max)
}

/// Where each note candidate sits in `out`, so a graph hit finds it without a scan.
fn note_positions(out: &[Candidate]) -> HashMap<String, usize> {
    out.iter()
        .enumerate()
        .filter(|(_, c)| c.item_type == ItemType::Note)
        .map(|(i, c)| (c.id.clone(), i))
        .collect()
}

/// Whether a note may enter a pack answered as of `at`.
fn visible(n: &NoteRow, at: &str, spec: &PackSpec) -> bool {
    let status_ok = n.status == NoteStatus::Approved
        || (spec.include_pending && n.status == NoteStatus::Pending);
    let kind_ok = spec.kinds.as_ref().is_none_or(|k| k.contains(&n.kind));
    status_ok
        && kind_ok
        && n.valid_from.as_str() <= at
        && n.valid_to.as_deref().is_none_or(|to| to > at)
}

impl ContextPacks {
    fn check(&self, req: &ContextPackRequest) -> ApiResult<PackSpec> {
        let query = validate::trimmed("query", &req.query, validate::MAX_QUERY_CHARS)?;
        let limit = self.settings.max_tokens_limit;
        let max_tokens = req.max_tokens.unwrap_or(self.settings.default_max_tokens);
        let max_tokens = validate::range("max_tokens", max_tokens, 1, limit)?;
        let kinds = req
            .kinds
            .as_deref()
            .map(|k| validate::labels("kinds", k, 50))
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
        Ok(PackSpec {
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
        let mut spec = self.check(&req)?;
        let started = Instant::now();
        let version = match self.hooks.get() {
            Some(h) => h.active_version(&ws.id).await?,
            None => None,
        };
        if let Some(w) = version.as_ref().and_then(|v| v.1) {
            spec.weights = w;
        }
        let (candidates, mut telemetry) = self.candidates(ws, &spec).await?;
        let ranked_at = Instant::now();
        let considered = candidates.len();
        let packed = pack(
            candidates,
            spec.max_tokens,
            self.settings.duplicate_threshold,
            &self.counter,
        );
        telemetry.rank_ms += ms(ranked_at);
        let by = |reason: DropReason| packed.dropped.iter().filter(|d| d.reason == reason).count();
        let usage = PackUsage {
            max_tokens: spec.max_tokens,
            tokens_used: packed.tokens_used,
            tokenizer: self.counter.name().to_string(),
            items_considered: considered,
            items_included: packed.items.len(),
            dropped_by_budget: by(DropReason::Budget),
            dropped_as_duplicate: by(DropReason::Duplicate),
        };
        let pack_id = new_id();
        let created_at = now();
        telemetry.took_ms = ms(started);
        let mut pack = ContextPack {
            pack_id,
            object: "context_pack".into(),
            workspace_id: ws.workspace_id.clone(),
            query: spec.query,
            as_of: spec.as_of.map(rfc3339),
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

    /// Every candidate, scored and sorted best first: retrieved notes and chunks, the graph
    /// around entities named in the query and the best notes, and recent events.
    async fn candidates(
        &self,
        ws: &Workspace,
        spec: &PackSpec,
    ) -> ApiResult<(Vec<Candidate>, PackTelemetry)> {
        let mut telemetry = PackTelemetry::default();
        let as_of = spec.as_of.unwrap_or_else(Utc::now);
        let t = Instant::now();
        let (note_hits, chunk_hits, events) = self.search(ws, spec, as_of).await?;
        telemetry.search_ms = ms(t);

        let t = Instant::now();
        let mut g = Gathering {
            ws,
            spec,
            as_of,
            at: rfc3339(as_of),
            out: Vec::new(),
            seen: HashSet::new(),
            threaded: Vec::new(),
        };
        let top_notes = self.retrieved_notes(&mut g, &note_hits).await?;
        turns::lift_named_speakers(&mut g.out, &spec.query, self.settings.speaker_lift);
        dates::lift_named_day(&mut g.out, &spec.query, self.settings.date_lift);
        threads::lift_groups(&mut g.out, self.settings.group_lift);
        telemetry.candidates_notes = g.out.len();
        telemetry.candidates_neighbours = self.neighbour_candidates(&mut g).await?;
        // After the neighbours are taken: a question's answer keeps its undiscounted share.
        turns::discount_questions(&mut g.out, self.settings.question_discount);
        telemetry.candidates_chunks = self.retrieved_chunks(&mut g, &chunk_hits).await?;
        if spec.include_graph {
            telemetry.candidates_graph = self.graph_candidates(&mut g, top_notes).await?;
        }
        if spec.include_events {
            telemetry.candidates_events = self.event_candidates(&mut g, events);
        }
        telemetry.expand_ms = ms(t);

        let t = Instant::now();
        let mut out = g.out;
        self.score(ws, spec, &mut out).await?;
        telemetry.rank_ms = ms(t);
        Ok((out, telemetry))
    }

    /// Hybrid search over notes (and chunks when asked), while recent events are read.
    async fn search(
        &self,
        ws: &Workspace,
        spec: &PackSpec,
        as_of: DateTime<Utc>,
    ) -> ApiResult<(Vec<Fused>, Vec<Fused>, Vec<EventRow>)> {
        let s = &self.settings;
        let notes_q = SearchQuery {
            workspace_id: &ws.id,
            item_type: NOTE_ITEM,
            text: &spec.query,
            mode: SearchMode::Hybrid,
            depth: s.note_candidates,
            source_ids: spec.kinds.as_deref(),
        };
        let chunks_q = SearchQuery {
            workspace_id: &ws.id,
            item_type: CHUNK_ITEM,
            text: &spec.query,
            mode: SearchMode::Hybrid,
            depth: s.chunk_candidates,
            source_ids: None,
        };
        let queries = if spec.include_sources {
            vec![notes_q, chunks_q]
        } else {
            vec![notes_q]
        };
        // Recent events are read while the query is embedded and searched.
        let (hits, events) = tokio::join!(
            self.memory.retriever.search_many(&queries),
            self.recent_events(ws, spec, as_of)
        );
        let mut hits = hits.map_err(crate::retrieval::api_error)?.into_iter();
        let note_hits = hits.next().unwrap_or_default();
        let chunk_hits = hits.next().unwrap_or_default();
        Ok((note_hits, chunk_hits, events?))
    }

    /// Notes found by retrieval that are related enough and visible; returns the best few as
    /// seeds for the graph.
    async fn retrieved_notes(
        &self,
        g: &mut Gathering<'_>,
        hits: &[Fused],
    ) -> ApiResult<Vec<NodeKey>> {
        let keys: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let mut rows: HashMap<String, NoteRow> = self
            .memory
            .store
            .notes_by_index_keys(&g.ws.id, &keys)
            .await?
            .into_iter()
            .filter_map(|n| n.index_key.clone().map(|k| (k, n)))
            .collect();
        let mut top_notes = Vec::new();
        let best_bm25 = best_bm25(hits);
        for h in hits {
            let Some(n) = rows.remove(&h.id) else {
                continue;
            };
            if !rank::related(h.bm25, h.vector, self.settings.min_similarity) {
                continue;
            }
            if !visible(&n, &g.at, g.spec) || !g.seen.insert(n.id.clone()) {
                continue;
            }
            if top_notes.len() < GRAPH_SEED_NOTES {
                top_notes.push(NodeKey::note(&n.id));
            }
            if let (Some(thread), Some(seq)) = (n.thread_id.clone(), n.thread_seq) {
                g.threaded.push((g.out.len(), thread, seq));
            }
            let mut c = self.note_candidate(n, g.as_of);
            c.relevance = rank::relevance(h.bm25, h.vector, best_bm25, self.settings.cosine_share);
            c.reason = "retrieved".into();
            g.out.push(c);
        }
        Ok(top_notes)
    }

    /// Source chunks found by retrieval, with their citations; returns how many.
    async fn retrieved_chunks(&self, g: &mut Gathering<'_>, hits: &[Fused]) -> ApiResult<usize> {
        if hits.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let mut rows: HashMap<String, _> = self
            .chunks
            .active_chunks(&g.ws.id, &ids)
            .await?
            .into_iter()
            .map(|h| (h.chunk.id.clone(), h))
            .collect();
        let mut added = 0;
        let best_bm25 = best_bm25(hits);
        for h in hits {
            let Some(hit) = rows.remove(&h.id) else {
                continue;
            };
            if !rank::related(h.bm25, h.vector, self.settings.min_similarity) {
                continue;
            }
            let mut c = chunk_candidate(hit);
            c.relevance = rank::relevance(h.bm25, h.vector, best_bm25, self.settings.cosine_share);
            g.out.push(c);
            added += 1;
        }
        Ok(added)
    }

    /// Entities named in the query, and the graph around them and the best notes: a note
    /// already retrieved gets a boost, others join at a relevance set by the path. Returns how
    /// many candidates the graph added.
    async fn graph_candidates(
        &self,
        g: &mut Gathering<'_>,
        top_notes: Vec<NodeKey>,
    ) -> ApiResult<usize> {
        let graph = &self.memory.graph;
        let ws_id = &g.ws.id;
        let s = &self.settings;
        let matched = graph.match_entities(ws_id, &g.spec.query, s.graph_max_entities);
        let mut seeds: Vec<NodeKey> = matched.iter().map(|id| NodeKey::entity(id)).collect();
        seeds.extend(top_notes);
        let mut added = 0;
        for id in &matched {
            if let Some(e) = graph.entity(ws_id, id) {
                let mut c = entity_candidate(id, &e);
                c.relevance = NAMED_ENTITY_RELEVANCE;
                c.reason = "named in the query".into();
                g.out.push(c);
                added += 1;
            }
        }
        let near = graph.neighbours(ws_id, &seeds, s.graph_hops, s.graph_neighbours);
        let matched: HashSet<String> = matched.into_iter().collect();
        // Entities pushed below never move the retrieved notes' positions.
        let retrieved = note_positions(&g.out);
        let mut wanted_notes: HashMap<String, (f64, String)> = HashMap::new();
        for n in &near {
            let why = format!(
                "graph: {} hop(s) via {} from {} {}",
                n.hops,
                n.relation,
                n.from.kind.as_str(),
                n.from.id
            );
            let hops = n.hops as f64;
            let graph_relevance = GRAPH_RELEVANCE_SHARE * n.weight / hops;
            if n.node.kind == ItemType::Note {
                if let Some(c) = retrieved.get(&n.node.id).and_then(|i| g.out.get_mut(*i)) {
                    c.relevance = (c.relevance + GRAPH_BOOST_SHARE * n.weight / hops).min(1.0);
                    c.reason = format!("retrieved; {why}");
                    continue;
                }
                wanted_notes.insert(n.node.id.clone(), (graph_relevance, why));
            } else if !matched.contains(&n.node.id) {
                if let Some(e) = graph.entity(ws_id, &n.node.id) {
                    let mut c = entity_candidate(&n.node.id, &e);
                    c.relevance = graph_relevance * GRAPH_ENTITY_SHARE;
                    c.reason = why;
                    g.out.push(c);
                    added += 1;
                }
            }
        }
        Ok(added + self.graph_notes(g, wanted_notes).await?)
    }

    /// The visible notes the graph reached that retrieval did not, each with the relevance
    /// and reason of its path; returns how many.
    async fn graph_notes(
        &self,
        g: &mut Gathering<'_>,
        mut wanted: HashMap<String, (f64, String)>,
    ) -> ApiResult<usize> {
        if wanted.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = wanted.keys().cloned().collect();
        let mut added = 0;
        for n in self.memory.store.notes_by_ids(&g.ws.id, &ids).await? {
            if !visible(&n, &g.at, g.spec) || !g.seen.insert(n.id.clone()) {
                continue;
            }
            let (relevance, why) = wanted.remove(&n.id).unwrap_or_default();
            let mut c = self.note_candidate(n, g.as_of);
            c.relevance = relevance;
            c.reason = why;
            g.out.push(c);
            added += 1;
        }
        Ok(added)
    }

    /// Recent events and those of the mission in hand, relevant by the share of query terms
    /// their summary holds; returns how many.
    fn event_candidates(&self, g: &mut Gathering<'_>, events: Vec<EventRow>) -> usize {
        let text = &self.memory.retriever.text;
        let query_terms: HashSet<String> = text.query_terms(&g.spec.query).into_iter().collect();
        let mut seen_events = HashSet::new();
        let mut added = 0;
        for e in events {
            if !seen_events.insert(e.id.clone()) {
                continue;
            }
            let terms: HashSet<String> = text.terms(&e.summary).into_iter().collect();
            let overlap = if query_terms.is_empty() {
                0.0
            } else {
                query_terms.intersection(&terms).count() as f64 / query_terms.len() as f64
            };
            let same_mission = g.spec.mission_id.is_some() && g.spec.mission_id == e.mission_id;
            let half_life = self.settings.recency_half_life_days;
            let recency = rank::recency(&e.occurred_at, g.as_of, half_life);
            let mut c = event_candidate(e);
            c.recency = recency;
            if same_mission {
                c.relevance = overlap.max(MISSION_EVENT_MIN_RELEVANCE);
                c.reason = "event of this mission".into();
            } else {
                c.relevance = overlap * EVENT_OVERLAP_SHARE;
                c.reason = "recent event".into();
            }
            g.out.push(c);
            added += 1;
        }
        added
    }

    /// Feedback scores from the store, then the weighted sum; best first, ties by id.
    async fn score(&self, ws: &Workspace, spec: &PackSpec, out: &mut [Candidate]) -> ApiResult<()> {
        let ids: Vec<String> = out.iter().map(|c| c.id.clone()).collect();
        let totals = self.memory.store.feedback_totals(&ws.id, &ids).await?;
        for c in out.iter_mut() {
            c.feedback = rank::feedback(totals.get(&c.id).copied().unwrap_or_default());
            rank::score(c, &spec.weights);
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        Ok(())
    }

    /// The latest events up to `as_of`, plus as many of the request's mission.
    async fn recent_events(
        &self,
        ws: &Workspace,
        spec: &PackSpec,
        as_of: DateTime<Utc>,
    ) -> ApiResult<Vec<EventRow>> {
        if !spec.include_events {
            return Ok(vec![]);
        }
        let store = &self.memory.store;
        let limit = self.settings.recent_events as i64;
        let to = spec
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
        if let Some(m) = &spec.mission_id {
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
        let mut c = Candidate::new(ItemType::Note, n.id.clone(), n.content);
        c.label = label;
        c.recency = rank::recency(&n.valid_from, as_of, self.settings.recency_half_life_days);
        c.importance = n.importance;
        c.confidence = n.confidence;
        c.kind = Some(n.kind);
        c.citation.note_id = Some(n.id);
        c.citation.title = n.title;
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
        let limit = validate::range("limit", req.limit.unwrap_or(10), 1, 50)?;
        let spec = self.check(&ContextPackRequest {
            query: req.query,
            kinds: req.kinds,
            include_pending: req.include_pending,
            as_of: req.as_of,
            include_events: Some(false),
            ..Default::default()
        })?;
        let (candidates, _) = self.candidates(ws, &spec).await?;
        let ids: Vec<String> = candidates
            .iter()
            .filter(|c| c.item_type == ItemType::Note)
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
            .filter(|c| c.item_type == ItemType::Note)
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
            query: spec.query,
            data,
        })
    }
}

fn entity_candidate(id: &str, e: &EntityName) -> Candidate {
    let mut c = Candidate::new(ItemType::Entity, id.to_string(), e.name.clone());
    c.label = format!("entity: {}", e.entity_type);
    c.kind = Some(e.entity_type.clone());
    c.citation.entity_id = Some(id.to_string());
    c.citation.title = Some(e.name.clone());
    c
}

/// A source chunk, labelled and cited by its document (or source) title and page.
fn chunk_candidate(hit: ChunkHit) -> Candidate {
    let ch = hit.chunk;
    let title = hit.document_title.or(hit.source_title);
    let mut c = Candidate::new(ItemType::Chunk, ch.id.clone(), ch.text);
    c.label = match (&title, ch.page) {
        (Some(t), Some(p)) => format!("source: {t}, p. {p}"),
        (Some(t), None) => format!("source: {t}"),
        (None, _) => "source".into(),
    };
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
    c
}

/// An event, labelled by its type and day; relevance and recency are set by the caller.
fn event_candidate(e: EventRow) -> Candidate {
    let mut c = Candidate::new(ItemType::Event, e.id.clone(), e.summary);
    c.label = format!(
        "event {}, {}",
        e.event_type,
        e.occurred_at.get(..10).unwrap_or_default()
    );
    c.kind = Some(e.event_type);
    c.citation.event_id = Some(e.id);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Weights;
    use crate::store::sources::ChunkRow;

    fn spec(include_pending: bool, kinds: Option<Vec<String>>) -> PackSpec {
        PackSpec {
            query: "deploy window".into(),
            max_tokens: 500,
            include_sources: false,
            include_events: true,
            include_graph: true,
            include_pending,
            kinds,
            as_of: None,
            mission_id: None,
            weights: Weights {
                relevance: 1.0,
                recency: 0.0,
                importance: 0.0,
                confidence: 0.0,
                feedback: 0.0,
            },
        }
    }

    fn note(status: NoteStatus, valid_from: &str, valid_to: Option<&str>) -> NoteRow {
        NoteRow {
            valid_to: valid_to.map(str::to_string),
            ..NoteRow::sample(status, valid_from)
        }
    }

    const AT: &str = "2026-11-23T09:30:00.000Z";

    #[test]
    fn only_approved_notes_unless_pending_is_asked_for() {
        let approved = note(NoteStatus::Approved, "2026-01-01T00:00:00.000Z", None);
        let pending = note(NoteStatus::Pending, "2026-01-01T00:00:00.000Z", None);
        let rejected = note(NoteStatus::Rejected, "2026-01-01T00:00:00.000Z", None);
        assert!(visible(&approved, AT, &spec(false, None)));
        assert!(!visible(&pending, AT, &spec(false, None)));
        assert!(visible(&pending, AT, &spec(true, None)));
        assert!(!visible(&rejected, AT, &spec(true, None)));
    }

    #[test]
    fn notes_are_visible_within_their_validity_and_kinds() {
        let later = note(NoteStatus::Approved, "2026-12-01T00:00:00.000Z", None);
        let closed = note(
            NoteStatus::Approved,
            "2026-01-01T00:00:00.000Z",
            Some("2026-06-01T00:00:00.000Z"),
        );
        let open = note(NoteStatus::Approved, "2026-01-01T00:00:00.000Z", None);
        assert!(!visible(&later, AT, &spec(false, None)));
        assert!(!visible(&closed, AT, &spec(false, None)));
        assert!(!visible(
            &open,
            AT,
            &spec(false, Some(vec!["decision".into()]))
        ));
        assert!(visible(&open, AT, &spec(false, Some(vec!["fact".into()]))));
    }

    #[test]
    fn chunks_and_events_are_labelled_and_cited() {
        let hit = ChunkHit {
            chunk: ChunkRow {
                id: "c1".into(),
                source_id: "s1".into(),
                document_id: "d1".into(),
                text: "Runbook text".into(),
                page: Some(3),
                char_start: 10,
                char_end: 22,
                account_id: "acct".into(),
                workspace_id: "ws".into(),
                idx: 0,
                tokens: 3,
            },
            document_title: Some("Runbook".into()),
            source_title: Some("Ops".into()),
            url: None,
            filename: Some("runbook.pdf".into()),
            tags: vec![],
            metadata: serde_json::json!({}),
        };
        let c = chunk_candidate(hit);
        assert_eq!(c.item_type, ItemType::Chunk);
        assert_eq!(c.label, "source: Runbook, p. 3");
        assert_eq!(c.citation.chunk_id.as_deref(), Some("c1"));
        assert_eq!(c.citation.page, Some(3));

        let e = event_candidate(EventRow {
            id: "e1".into(),
            workspace_id: "ws".into(),
            event_type: "deploy".into(),
            summary: "Deployed v2".into(),
            actor: None,
            mission_id: None,
            task_id: None,
            occurred_at: AT.into(),
            metadata: serde_json::json!({}),
            external_source: None,
            external_id: None,
            created_at: AT.into(),
        });
        assert_eq!(e.item_type, ItemType::Event);
        assert_eq!(e.label, "event deploy, 2026-11-23");
        assert_eq!(e.kind.as_deref(), Some("deploy"));
    }
}
