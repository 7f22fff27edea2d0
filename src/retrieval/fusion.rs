//! Fusing BM25 and vector result lists into one ranking.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How hybrid search combines its two lists. Chosen on SciFact's train queries (see eval/).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal rank fusion: sum of 1 / (k + rank).
    Rrf { k: f32 },
    /// Convex combination of min-max normalised scores: alpha * vector + (1 - alpha) * bm25.
    Convex { alpha: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Self::Convex { alpha: 0.4 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: String,
    pub bm25: Option<f32>,
    pub vector: Option<f32>,
    pub score: f32,
}

fn min_max(values: impl Iterator<Item = f32> + Clone) -> (f32, f32) {
    let min = values.clone().fold(f32::INFINITY, f32::min);
    let max = values.fold(f32::NEG_INFINITY, f32::max);
    (min, max)
}

fn normalise(value: f32, (min, max): (f32, f32)) -> f32 {
    if max > min {
        (value - min) / (max - min)
    } else {
        1.0
    }
}

/// The fused item of `id`, unscored and in neither list until the caller says which.
fn entry<'m, 'k>(by_id: &'m mut HashMap<&'k str, Fused>, id: &'k str) -> &'m mut Fused {
    by_id.entry(id).or_insert_with(|| Fused {
        id: id.to_string(),
        bm25: None,
        vector: None,
        score: 0.0,
    })
}

/// Fuses two ranked lists (best first) into one, best first, ties broken by id.
pub fn fuse(bm25: &[(String, f32)], vector: &[(String, f32)], fusion: Fusion) -> Vec<Fused> {
    let mut by_id: HashMap<&str, Fused> = HashMap::new();
    for (id, s) in bm25 {
        entry(&mut by_id, id).bm25 = Some(*s);
    }
    for (id, s) in vector {
        entry(&mut by_id, id).vector = Some(*s);
    }
    match fusion {
        Fusion::Rrf { k } => {
            let rank = |list: &[(String, f32)]| -> HashMap<String, usize> {
                list.iter()
                    .enumerate()
                    .map(|(i, (id, _))| (id.clone(), i + 1))
                    .collect()
            };
            let (rb, rv) = (rank(bm25), rank(vector));
            for f in by_id.values_mut() {
                let part = |r: Option<&usize>| r.map(|r| 1.0 / (k + *r as f32)).unwrap_or(0.0);
                f.score = part(rb.get(&f.id)) + part(rv.get(&f.id));
            }
        }
        Fusion::Convex { alpha } => {
            let nb = min_max(bm25.iter().map(|(_, s)| *s));
            let nv = min_max(vector.iter().map(|(_, s)| *s));
            for f in by_id.values_mut() {
                let b = f.bm25.map(|s| normalise(s, nb)).unwrap_or(0.0);
                let v = f.vector.map(|s| normalise(s, nv)).unwrap_or(0.0);
                f.score = alpha * v + (1.0 - alpha) * b;
            }
        }
    }
    let mut out: Vec<Fused> = by_id.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[(&str, f32)]) -> Vec<(String, f32)> {
        items.iter().map(|(i, s)| (i.to_string(), *s)).collect()
    }

    #[test]
    fn an_item_in_both_lists_beats_items_in_one() {
        let bm25 = list(&[("a", 10.0), ("b", 9.0), ("x", 1.0)]);
        let vec = list(&[("c", 0.9), ("b", 0.85), ("y", 0.1)]);
        for fusion in [Fusion::Rrf { k: 60.0 }, Fusion::Convex { alpha: 0.5 }] {
            let fused = fuse(&bm25, &vec, fusion);
            assert_eq!(fused[0].id, "b", "{fusion:?}: {fused:?}");
            assert_eq!(fused.len(), 5);
            assert_eq!(fused[0].bm25, Some(9.0));
            assert_eq!(fused[0].vector, Some(0.85));
        }
    }

    #[test]
    fn alpha_one_is_pure_vector_order() {
        let bm25 = list(&[("a", 10.0), ("b", 1.0)]);
        let vec = list(&[("b", 0.9), ("a", 0.1)]);
        let fused = fuse(&bm25, &vec, Fusion::Convex { alpha: 1.0 });
        assert_eq!(fused[0].id, "b");
        let fused = fuse(&bm25, &vec, Fusion::Convex { alpha: 0.0 });
        assert_eq!(fused[0].id, "a");
    }
}
