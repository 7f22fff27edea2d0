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
        let mut v = self.embedder.embed(vec![text.to_string()]).await?;
        v.pop()
            .ok_or_else(|| anyhow::anyhow!("the embedder returned no vector"))
    }

    /// Ranked ids with their per-list scores, best first.
    pub async fn search(&self, q: &SearchQuery<'_>) -> anyhow::Result<Vec<Fused>> {
        let vector = match q.mode {
            SearchMode::Bm25 => None,
            _ => Some(self.embed_query(q.text).await?),
        };
        self.search_with_vector(q, vector.as_deref()).await
    }

    /// As [`Self::search`] with the query vector already computed (it is shared by callers
    /// that search several item types for one query).
    pub async fn search_with_vector(
        &self,
        q: &SearchQuery<'_>,
        vector: Option<&[f32]>,
    ) -> anyhow::Result<Vec<Fused>> {
        let bm25 = match q.mode {
            SearchMode::Vector => vec![],
            _ => self
                .text
                .search(q.workspace_id, q.item_type, q.source_ids, q.text, q.depth)?
                .into_iter()
                .map(|h| (h.id, h.score))
                .collect(),
        };
        let dense = match (q.mode, vector) {
            (SearchMode::Bm25, _) | (_, None) => vec![],
            (_, Some(v)) => self
                .vectors
                .search(q.workspace_id, q.item_type, q.source_ids, v, q.depth)
                .await?
                .into_iter()
                .map(|h| (h.id, h.similarity))
                .collect(),
        };
        Ok(fuse(&bm25, &dense, self.fusion_for(q.mode)))
    }

    fn fusion_for(&self, mode: SearchMode) -> Fusion {
        match mode {
            SearchMode::Hybrid => self.fusion,
            SearchMode::Bm25 => Fusion::Convex { alpha: 0.0 },
            SearchMode::Vector => Fusion::Convex { alpha: 1.0 },
        }
    }
}
