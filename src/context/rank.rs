//! Scores of a candidate and the weighted sum packs are ordered by.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::context::model::{ItemCitation, ItemScores};
use crate::store::memory::{FeedbackTotals, ItemType};

pub use crate::config::Weights;

/// An item that may enter a pack.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub item_type: ItemType,
    pub id: String,
    pub text: String,
    /// The first line of the rendered item: kind, title, source.
    pub label: String,
    pub kind: Option<String>,
    pub reason: String,
    pub relevance: f64,
    pub recency: f64,
    pub importance: f64,
    pub confidence: f64,
    pub feedback: f64,
    pub score: f64,
    pub citation: ItemCitation,
}

impl Candidate {
    pub fn new(item_type: ItemType, id: String, text: String) -> Self {
        Self {
            item_type,
            id,
            text,
            label: String::new(),
            kind: None,
            reason: String::new(),
            relevance: 0.0,
            recency: 0.5,
            importance: 0.5,
            confidence: 1.0,
            feedback: 0.5,
            score: 0.0,
            citation: ItemCitation::default(),
        }
    }

    pub fn scores(&self) -> ItemScores {
        let r = |x: f64| (x * 10_000.0).round() / 10_000.0;
        ItemScores {
            relevance_score: r(self.relevance),
            recency_score: r(self.recency),
            importance_score: r(self.importance),
            confidence_score: r(self.confidence),
            feedback_score: r(self.feedback),
            score: r(self.score),
        }
    }
}

/// Relevance of a retrieval hit, 0-1: `cosine_share` of cosine similarity on its absolute
/// scale (so notes, chunks and graph items compare, and a query nothing matches well stays
/// low), the rest BM25 relative to the query's best lexical hit (`best_bm25`; raw BM25 has
/// no fixed scale).
/// Chosen on LoCoMo's dev split: in the Python prototype that mirrors the pack, against the
/// earlier 0.8 cosine plus 0.2 saturated BM25 (`b / (b + 3)`), it raised evidence in a pack's
/// first 10 items by 0.03, and a saturated BM25 at the same share scored 0.02 below the
/// relative one; in Cairn (eval/src/locomo.rs), `b / (best + 3)` (damping a weak best hit)
/// scored 0.01 below in the pack. Feedback (weight 0.15) still decides
/// between notes that match about as well.
pub fn relevance(bm25: Option<f32>, cosine: Option<f32>, best_bm25: f32, cosine_share: f64) -> f64 {
    let cos = f64::from(cosine.unwrap_or(0.0).max(0.0));
    let lexical = match bm25 {
        Some(b) if best_bm25 > 0.0 => f64::from((b / best_bm25).clamp(0.0, 1.0)),
        _ => 0.0,
    };
    (cosine_share * cos + (1.0 - cosine_share) * lexical).min(1.0)
}

/// A hit is a candidate when it shares a term with the query or is semantically close; the
/// nearest vectors of a small store are otherwise returned however unrelated they are.
pub fn related(bm25: Option<f32>, cosine: Option<f32>, min_similarity: f64) -> bool {
    bm25.is_some_and(|b| b > 0.0) || cosine.is_some_and(|c| f64::from(c) >= min_similarity)
}

/// 1 now, halving every `half_life_days` before `as_of`.
pub fn recency(at: &str, as_of: DateTime<Utc>, half_life_days: f64) -> f64 {
    let Ok(t) = DateTime::parse_from_rfc3339(at) else {
        return 0.5;
    };
    let age_days = (as_of - t.to_utc()).num_seconds().max(0) as f64 / 86_400.0;
    0.5f64.powf(age_days / half_life_days.max(1e-6))
}

/// 0.5 without feedback; each net helpful signal moves it towards 1, unhelpful towards 0.
pub fn feedback(t: FeedbackTotals) -> f64 {
    0.5 + 0.5 * (((t.helpful - t.unhelpful) as f64) / 2.0).tanh()
}

pub fn score(c: &mut Candidate, w: &Weights) {
    c.score = w.relevance * c.relevance
        + w.recency * c.recency
        + w.importance * c.importance
        + w.confidence * c.confidence
        + w.feedback * c.feedback;
}

/// Lower-cased words, for near-duplicate detection.
pub fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

pub fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = a.intersection(b).count() as f64;
    inter / ((a.len() + b.len()) as f64 - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaccard_of_sets() {
        let a = words("the cat sat on the mat");
        let b = words("The cat sat on the mat!");
        let c = words("a dog ran far away");
        assert!((jaccard(&a, &b) - 1.0).abs() < 1e-9);
        assert!(jaccard(&a, &c) < 0.01);
        let d = words("the cat sat");
        assert!((jaccard(&a, &d) - 3.0 / 5.0).abs() < 1e-9);
    }

    #[test]
    fn feedback_and_recency_move_the_right_way() {
        let neutral = feedback(FeedbackTotals::default());
        assert!((neutral - 0.5).abs() < 1e-9);
        assert!(
            feedback(FeedbackTotals {
                helpful: 3,
                unhelpful: 0
            }) > 0.9
        );
        assert!(
            feedback(FeedbackTotals {
                helpful: 0,
                unhelpful: 3
            }) < 0.1
        );
        let now = Utc::now();
        let month_ago = crate::store::time::rfc3339(now - chrono::Duration::days(30));
        assert!((recency(&month_ago, now, 30.0) - 0.5).abs() < 0.01);
        assert!((recency(&crate::store::time::rfc3339(now), now, 30.0) - 1.0).abs() < 1e-6);
    }
}
