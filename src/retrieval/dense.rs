//! The vector side of a hybrid search, and the scores each list lacks from the other.
//!
//! - **Focus**: a query word that a large share of the searched entries contain (the two
//!   speakers of a conversation, a project's name) tells them apart no better than chance,
//!   but it pulls the query's embedding towards every short entry that names it. The vector
//!   side searches with the query without such words (its focus) and scores each hit by a
//!   mix of its similarity to the focus and to the whole query, so the words still count.
//! - **Completion**: each list stops at its depth, and a hit found by one list only used to
//!   count 0 in the other, so in a context pack a long passage matching the query's rare word
//!   ranked below short ones matching a common word. Every fused hit gets its cosine and
//!   (when it shares a term with the query) its BM25 score.
//!
//! Both were chosen on LoCoMo's dev split (eval/src/locomo.rs; the memory-quality issue's
//! closing note has the table).

use std::collections::HashMap;

use super::{Fused, Retriever, SearchQuery};

/// How the vector side treats a query's common words (`search.common_word_share`,
/// `search.full_query_share`).
#[derive(Debug, Clone, Copy)]
pub struct Focus {
    /// A query word in at least this share of the searched entries is left out of the focus
    /// (0 turns focusing off).
    pub common_share: f64,
    /// A hit's cosine: this share of its similarity to the whole query, the rest to the focus.
    pub full_share: f32,
}

impl Focus {
    /// A hit's cosine from its similarities to the whole query and to the focus.
    fn mix(&self, full: f32, focus: f32) -> f32 {
        self.full_share * full + (1.0 - self.full_share) * focus
    }
}

/// The embeddings one search compares entries with.
pub(super) struct QueryVectors {
    pub full: Vec<f32>,
    /// The query without its common words, when it has some and other words too.
    pub focus: Option<Vec<f32>>,
}

impl QueryVectors {
    /// The vector the nearest-neighbour search runs with.
    pub fn search_vector(&self) -> &[f32] {
        self.focus.as_deref().unwrap_or(&self.full)
    }
}

/// `text` without `common` words, or `None` when that leaves it unchanged or empty.
pub(super) fn without_words(text: &str, common: &[String]) -> Option<String> {
    if common.is_empty() {
        return None;
    }
    let kept: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !common.iter().any(|c| c == w))
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}

impl Retriever {
    /// The focus of `q`'s text within its scope (see the module doc), if it differs.
    pub(super) async fn focus_text(&self, q: &SearchQuery<'_>) -> anyhow::Result<Option<String>> {
        let share = self.focus.common_share;
        if share <= 0.0 {
            return Ok(None);
        }
        let index = self.text.clone();
        let (ws, item, text) = (
            q.workspace_id.to_string(),
            q.item_type.to_string(),
            q.text.to_string(),
        );
        let common =
            tokio::task::spawn_blocking(move || index.common_words(&ws, &item, &text, share))
                .await??;
        Ok(without_words(q.text, &common))
    }

    /// The cosine of each of `ids` that exists, as hits are scored (see [`Focus`]).
    pub(super) async fn cosines(
        &self,
        q: &SearchQuery<'_>,
        v: &QueryVectors,
        ids: &[String],
    ) -> anyhow::Result<HashMap<String, f32>> {
        let vectors = &self.vectors;
        let full: HashMap<String, f32> = vectors
            .similarities(q.workspace_id, q.item_type, &v.full, ids)
            .await?
            .into_iter()
            .map(|h| (h.id, h.similarity))
            .collect();
        let Some(focus) = &v.focus else {
            return Ok(full);
        };
        Ok(vectors
            .similarities(q.workspace_id, q.item_type, focus, ids)
            .await?
            .into_iter()
            .filter_map(|h| {
                let f = full.get(&h.id)?;
                Some((h.id, self.focus.mix(*f, h.similarity)))
            })
            .collect())
    }

    /// The vector list: the nearest entries to the search vector, scored as [`Self::cosines`]
    /// scores them, best first.
    pub(super) async fn nearest(
        &self,
        q: &SearchQuery<'_>,
        v: &QueryVectors,
    ) -> anyhow::Result<Vec<(String, f32)>> {
        let hits = self
            .vectors
            .search(
                q.workspace_id,
                q.item_type,
                q.source_ids,
                v.search_vector(),
                q.depth,
            )
            .await?;
        if v.focus.is_none() {
            return Ok(hits.into_iter().map(|h| (h.id, h.similarity)).collect());
        }
        // The search ran with the focus: each hit's similarity to it is known already.
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let full: HashMap<String, f32> = self
            .vectors
            .similarities(q.workspace_id, q.item_type, &v.full, &ids)
            .await?
            .into_iter()
            .map(|h| (h.id, h.similarity))
            .collect();
        let mut out: Vec<(String, f32)> = hits
            .into_iter()
            .filter_map(|h| {
                let f = full.get(&h.id)?;
                let s = self.focus.mix(*f, h.similarity);
                Some((h.id, s))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Gives each fused hit the score it lacks from the other list (see the module doc). The
    /// fused order stays as it was: fusion normalises each list over its own depth, and a
    /// completed score, below that depth by construction, adds nothing there (on SciFact,
    /// normalising over the completed lists instead cost 0.005 nDCG@10); what reads the raw
    /// scores (a context pack's relevance) gets them whole.
    pub(super) async fn complete(
        &self,
        q: &SearchQuery<'_>,
        v: &QueryVectors,
        fused: &mut [Fused],
    ) -> anyhow::Result<()> {
        let lacks_bm25: Vec<String> = fused
            .iter()
            .filter(|f| f.bm25.is_none())
            .map(|f| f.id.clone())
            .collect();
        let lacks_cosine: Vec<String> = fused
            .iter()
            .filter(|f| f.vector.is_none())
            .map(|f| f.id.clone())
            .collect();
        let index = self.text.clone();
        let (ws, item, text) = (
            q.workspace_id.to_string(),
            q.item_type.to_string(),
            q.text.to_string(),
        );
        let lexical =
            tokio::task::spawn_blocking(move || index.scores_of(&ws, &item, &lacks_bm25, &text));
        let cosines = self.cosines(q, v, &lacks_cosine).await?;
        let lexical: HashMap<String, f32> = lexical
            .await??
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect();
        for f in fused.iter_mut() {
            if f.bm25.is_none() {
                f.bm25 = lexical.get(&f.id).copied();
            }
            if f.vector.is_none() {
                f.vector = cosines.get(&f.id).copied();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::without_words;

    #[test]
    fn the_focus_drops_common_words_but_never_all_of_them() {
        let common = vec!["Caroline".to_string(), "Melanie".to_string()];
        assert_eq!(
            without_words("What workshop did Caroline attend?", &common).as_deref(),
            Some("What workshop did attend?")
        );
        assert_eq!(without_words("Caroline Melanie", &common), None);
        assert_eq!(without_words("What workshop?", &[]), None);
    }
}
