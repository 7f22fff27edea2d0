//! The one search engine: hybrid retrieval over LanceDB (vectors) and tantivy (BM25), fused.
//! Source chunks and memory notes both go through here, told apart by `item_type`.

pub mod fusion;

use std::sync::Arc;

use cairn_ingest::Embedder;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use fusion::{fuse, Fused, Fusion};

use crate::store::text_index::TextIndex;
use crate::store::vectors::VectorStore;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Bm25,
    Vector,
}

pub struct Retriever {
    pub vectors: Arc<VectorStore>,
    pub text: Arc<TextIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub fusion: Fusion,
}

pub struct SearchQuery<'a> {
    pub workspace_id: &'a str,
    pub item_type: &'a str,
    pub text: &'a str,
    pub mode: SearchMode,
    /// How many candidates to take from each list before fusing.
    pub depth: usize,
    pub source_ids: Option<&'a [String]>,
}

impl Retriever {
    pub async fn embed_query(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        let started = std::time::Instant::now();
        let mut v = self.embedder.embed(vec![text.to_string()]).await?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "retrieval.embed_query"
        );
        v.pop()
            .ok_or_else(|| anyhow::anyhow!("the embedder returned no vector"))
    }

    /// Ranked ids with their per-list scores, best first.
    pub async fn search(&self, q: &SearchQuery<'_>) -> anyhow::Result<Vec<Fused>> {
        self.run(q, None).await
    }

    /// As [`Self::search`] with the query vector already computed (it is shared by callers
    /// that search several item types for one query).
    pub async fn search_with_vector(
        &self,
        q: &SearchQuery<'_>,
        vector: &[f32],
    ) -> anyhow::Result<Vec<Fused>> {
        self.run(q, Some(vector)).await
    }

    /// BM25 runs on the blocking pool while the query is embedded and the vectors searched,
    /// so the two lists cost the time of the slower one.
    async fn run(&self, q: &SearchQuery<'_>, given: Option<&[f32]>) -> anyhow::Result<Vec<Fused>> {
        let started = std::time::Instant::now();
        let bm25_task = (q.mode != SearchMode::Vector).then(|| {
            let index = self.text.clone();
            let (ws, item, text, depth) = (
                q.workspace_id.to_string(),
                q.item_type.to_string(),
                q.text.to_string(),
                q.depth,
            );
            let sources = q.source_ids.map(<[String]>::to_vec);
            tokio::task::spawn_blocking(move || {
                index.search(&ws, &item, sources.as_deref(), &text, depth)
            })
        });
        let dense: Vec<(String, f32)> = if q.mode == SearchMode::Bm25 {
            vec![]
        } else {
            let embedded;
            let vector = match given {
                Some(v) => v,
                None => {
                    embedded = self.embed_query(q.text).await?;
                    &embedded
                }
            };
            self.vectors
                .search(q.workspace_id, q.item_type, q.source_ids, vector, q.depth)
                .await?
                .into_iter()
                .map(|h| (h.id, h.similarity))
                .collect()
        };
        let bm25: Vec<(String, f32)> = match bm25_task {
            Some(task) => task.await??.into_iter().map(|h| (h.id, h.score)).collect(),
            None => vec![],
        };
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            bm25 = bm25.len(),
            vector = dense.len(),
            "retrieval.search"
        );
        Ok(fuse(&bm25, &dense, self.fusion_for(q.mode)))
    }

    /// Several searches for one text (notes and chunks, say): BM25 for all of them starts on
    /// the blocking pool first, the text is embedded once meanwhile, then each runs its
    /// vector search and is fused. Results come in the order of `queries`.
    pub async fn search_many(
        &self,
        queries: &[SearchQuery<'_>],
    ) -> anyhow::Result<Vec<Vec<Fused>>> {
        let Some(first) = queries.first() else {
            return Ok(vec![]);
        };
        anyhow::ensure!(
            queries.iter().all(|q| q.text == first.text),
            "search_many takes queries for one text"
        );
        let bm25_tasks: Vec<_> = queries
            .iter()
            .map(|q| {
                (q.mode != SearchMode::Vector).then(|| {
                    let index = self.text.clone();
                    let (ws, item, text, depth) = (
                        q.workspace_id.to_string(),
                        q.item_type.to_string(),
                        q.text.to_string(),
                        q.depth,
                    );
                    let sources = q.source_ids.map(<[String]>::to_vec);
                    tokio::task::spawn_blocking(move || {
                        index.search(&ws, &item, sources.as_deref(), &text, depth)
                    })
                })
            })
            .collect();
        let needs_vector = queries.iter().any(|q| q.mode != SearchMode::Bm25);
        let vector = if needs_vector {
            Some(self.embed_query(first.text).await?)
        } else {
            None
        };
        let mut out = Vec::with_capacity(queries.len());
        for (q, task) in queries.iter().zip(bm25_tasks) {
            let dense: Vec<(String, f32)> = match (&vector, q.mode) {
                (Some(v), SearchMode::Hybrid | SearchMode::Vector) => self
                    .vectors
                    .search(q.workspace_id, q.item_type, q.source_ids, v, q.depth)
                    .await?
                    .into_iter()
                    .map(|h| (h.id, h.similarity))
                    .collect(),
                _ => vec![],
            };
            let bm25: Vec<(String, f32)> = match task {
                Some(t) => t.await??.into_iter().map(|h| (h.id, h.score)).collect(),
                None => vec![],
            };
            out.push(fuse(&bm25, &dense, self.fusion_for(q.mode)));
        }
        Ok(out)
    }

    fn fusion_for(&self, mode: SearchMode) -> Fusion {
        match mode {
            SearchMode::Hybrid => self.fusion,
            SearchMode::Bm25 => Fusion::Convex { alpha: 0.0 },
            SearchMode::Vector => Fusion::Convex { alpha: 1.0 },
        }
    }
}
