//! The one search engine: hybrid retrieval over LanceDB (vectors) and tantivy (BM25), fused.
//! Source chunks and memory notes both go through here, told apart by `item_type`.

mod dense;
pub mod fusion;

use std::sync::Arc;

use cairn_ingest::Embedder;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use dense::Focus;
pub use fusion::{fuse, Fused, Fusion};

use dense::QueryVectors;

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

/// A failing embedder is a 503 (the service is degraded), anything else a 500.
pub fn api_error(e: anyhow::Error) -> crate::error::ApiError {
    match e.downcast::<cairn_ingest::EmbedError>() {
        Ok(embed) => embed.into(),
        Err(other) => crate::error::ApiError::Internal(other),
    }
}

pub struct Retriever {
    pub vectors: Arc<VectorStore>,
    pub text: Arc<TextIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub fusion: Fusion,
    pub focus: Focus,
}

#[derive(Clone)]
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
    /// Ranked ids with their per-list scores, best first.
    pub async fn search(&self, q: &SearchQuery<'_>) -> anyhow::Result<Vec<Fused>> {
        let started = std::time::Instant::now();
        let ranked = self
            .search_many(std::slice::from_ref(q))
            .await?
            .pop()
            .unwrap_or_default();
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            hits = ranked.len(),
            "retrieval.search"
        );
        Ok(ranked)
    }

    /// Several searches for one text (notes and chunks, say): BM25 for all of them starts on
    /// the blocking pool first, the text (and each query's focus) is embedded once meanwhile,
    /// then each runs its vector search, the lists' missing scores are filled in and they are
    /// fused. Results come in the order of `queries`.
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
        let vectors = if needs_vector {
            self.query_vectors(queries).await?
        } else {
            queries.iter().map(|_| None).collect()
        };
        let mut out = Vec::with_capacity(queries.len());
        for ((q, task), v) in queries.iter().zip(bm25_tasks).zip(vectors) {
            let dense = match (&v, q.mode) {
                (Some(v), SearchMode::Hybrid | SearchMode::Vector) => self.nearest(q, v).await?,
                _ => vec![],
            };
            let bm25: Vec<(String, f32)> = match task {
                Some(t) => t.await??.into_iter().map(|h| (h.id, h.score)).collect(),
                None => vec![],
            };
            let mut fused = fuse(&bm25, &dense, self.fusion_for(q.mode));
            if let (Some(v), SearchMode::Hybrid) = (&v, q.mode) {
                self.complete(q, v, &mut fused).await?;
            }
            out.push(fused);
        }
        Ok(out)
    }

    /// The embeddings of each query that needs them: the text, embedded once for all, and
    /// each query's focus (see [`dense`]), embedded in the same call.
    async fn query_vectors(
        &self,
        queries: &[SearchQuery<'_>],
    ) -> anyhow::Result<Vec<Option<QueryVectors>>> {
        let Some(first) = queries.first() else {
            return Ok(vec![]);
        };
        // Each scope's common words are counted at once (notes and chunks, say).
        let focuses = futures::future::try_join_all(queries.iter().map(|q| async move {
            match q.mode {
                SearchMode::Bm25 => Ok(None),
                _ => self.focus_text(q).await,
            }
        }))
        .await?;
        let mut texts = vec![first.text.to_string()];
        let mut focus_at = Vec::with_capacity(queries.len());
        for focus in focuses {
            focus_at.push(focus.map(|f| match texts.iter().position(|t| *t == f) {
                Some(i) => i,
                None => {
                    texts.push(f);
                    texts.len() - 1
                }
            }));
        }
        let started = std::time::Instant::now();
        let embedded = self.embedder.embed(texts).await?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            texts = embedded.len(),
            "retrieval.embed_query"
        );
        let full = embedded
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the embedder returned no vector"))?;
        Ok(queries
            .iter()
            .zip(focus_at)
            .map(|(q, at)| {
                (q.mode != SearchMode::Bm25).then(|| QueryVectors {
                    full: full.clone(),
                    focus: at.and_then(|i| embedded.get(i).cloned()),
                })
            })
            .collect())
    }

    fn fusion_for(&self, mode: SearchMode) -> Fusion {
        match mode {
            SearchMode::Hybrid => self.fusion,
            SearchMode::Bm25 => Fusion::Convex { alpha: 0.0 },
            SearchMode::Vector => Fusion::Convex { alpha: 1.0 },
        }
    }
}
