//! `POST /v1/search`: hybrid retrieval over a workspace's chunks, with filters and citations.

use std::collections::HashMap;
use std::time::Instant;

use crate::error::ApiResult;
use crate::retrieval::{Fused, SearchQuery};
use crate::sources::model::{Citation, Scores, SearchHit, SearchRequest, SearchResponse};
use crate::sources::service::{Sources, CHUNK_ITEM};
use crate::store::sources::ChunkHit;
use crate::store::Workspace;

pub const MAX_LIMIT: usize = 100;

fn matches_filters(hit: &ChunkHit, req: &SearchRequest) -> bool {
    if let Some(tags) = &req.filters.tags {
        if !tags.iter().all(|t| hit.tags.contains(t)) {
            return false;
        }
    }
    if let Some(meta) = &req.filters.metadata {
        if !meta.iter().all(|(k, v)| hit.metadata.get(k) == Some(v)) {
            return false;
        }
    }
    true
}

/// The trimmed query and the number of hits asked for, checked.
fn checked_query(req: &SearchRequest) -> ApiResult<(&str, usize)> {
    let query = crate::validate::trimmed("query", &req.query, crate::validate::MAX_QUERY_CHARS)?;
    let limit = crate::validate::range("limit", req.limit.unwrap_or(10), 1, MAX_LIMIT)?;
    Ok((query, limit))
}

/// How many ranked candidates to fetch for `limit` hits: filters drop candidates after
/// ranking, so a filtered search looks deeper.
fn search_depth(limit: usize, filtered: bool) -> usize {
    if filtered {
        (limit * 10).max(100)
    } else {
        (limit * 3).max(50)
    }
}

/// One hit with its scores and where it comes from.
fn search_hit(fused: &Fused, hit: ChunkHit) -> SearchHit {
    let c = hit.chunk;
    SearchHit {
        chunk_id: c.id.clone(),
        text: c.text,
        scores: Scores {
            bm25: fused.bm25,
            vector: fused.vector,
            fused: fused.score,
        },
        citation: Citation {
            source_id: c.source_id,
            document_id: c.document_id,
            chunk_id: c.id,
            title: hit.document_title.or(hit.source_title),
            url: hit.url,
            filename: hit.filename,
            page: c.page,
            char_start: c.char_start,
            char_end: c.char_end,
        },
        tags: hit.tags,
        metadata: hit.metadata,
    }
}

impl Sources {
    pub async fn search(&self, ws: &Workspace, req: SearchRequest) -> ApiResult<SearchResponse> {
        let started = Instant::now();
        let (query, limit) = checked_query(&req)?;
        let filtered = req.filters.tags.is_some() || req.filters.metadata.is_some();
        let q = SearchQuery {
            workspace_id: &ws.id,
            item_type: CHUNK_ITEM,
            text: query,
            mode: req.mode,
            depth: search_depth(limit, filtered),
            source_ids: req.filters.source_ids.as_deref(),
        };
        let ranked = self
            .retriever
            .search(&q)
            .await
            .map_err(crate::retrieval::api_error)?;
        let ids: Vec<String> = ranked.iter().map(|f| f.id.clone()).collect();
        // Ranked ids whose chunk is no longer active (a re-ingest or delete in between) are
        // skipped, as are those the filters refuse.
        let mut rows: HashMap<String, ChunkHit> = self
            .store
            .active_chunks(&ws.id, &ids)
            .await?
            .into_iter()
            .map(|h| (h.chunk.id.clone(), h))
            .collect();
        let mut data = Vec::with_capacity(limit);
        for fused in ranked {
            if data.len() == limit {
                break;
            }
            let Some(hit) = rows.remove(&fused.id) else {
                continue;
            };
            if matches_filters(&hit, &req) {
                data.push(search_hit(&fused, hit));
            }
        }
        Ok(SearchResponse {
            object: "list".into(),
            mode: req.mode,
            data,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
