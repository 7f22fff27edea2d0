//! Exact nearest-neighbour search over an in-memory block of unit vectors. Memory notes are
//! few per workspace (thousands, not millions), so an exact scan answers in well under a
//! millisecond where a filtered LanceDB query costs 15-20 ms; the crate is built at
//! opt-level 3 even in dev builds so the scan vectorises.

use std::collections::HashMap;

/// Rows of one (workspace, item type): ids, their filter and group keys, and the vectors.
#[derive(Debug, Default)]
pub struct FlatIndex {
    dim: usize,
    ids: Vec<String>,
    tags: Vec<String>,
    groups: Vec<String>,
    data: Vec<f32>,
    position: HashMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    /// Cosine similarity.
    pub similarity: f32,
}

fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

/// Eight independent accumulators so the loop vectorises.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

impl FlatIndex {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds or replaces a row; the vector is stored normalised. Wrong dimensions are skipped.
    pub fn insert(&mut self, id: &str, tag: &str, group: &str, vector: &[f32]) {
        if vector.len() != self.dim {
            return;
        }
        let v = unit(vector);
        if let Some(&i) = self.position.get(id) {
            self.tags[i] = tag.to_string();
            self.groups[i] = group.to_string();
            self.data[i * self.dim..(i + 1) * self.dim].copy_from_slice(&v);
            return;
        }
        self.position.insert(id.to_string(), self.ids.len());
        self.ids.push(id.to_string());
        self.tags.push(tag.to_string());
        self.groups.push(group.to_string());
        self.data.extend_from_slice(&v);
    }

    fn remove_at(&mut self, i: usize) {
        let last = self.ids.len() - 1;
        self.position.remove(&self.ids[i]);
        if i != last {
            let (head, tail) = self.data.split_at_mut(last * self.dim);
            head[i * self.dim..(i + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.position.insert(self.ids[last].clone(), i);
        }
        self.ids.swap_remove(i);
        self.tags.swap_remove(i);
        self.groups.swap_remove(i);
        self.data.truncate(last * self.dim);
    }

    pub fn remove_ids(&mut self, ids: &[String]) {
        for id in ids {
            if let Some(&i) = self.position.get(id) {
                self.remove_at(i);
            }
        }
    }

    pub fn remove_groups(&mut self, groups: &[String]) {
        let mut i = 0;
        while i < self.ids.len() {
            if groups.contains(&self.groups[i]) {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
    }

    /// The similarity of `query` to each of the rows `ids` that are here, in `ids`' order.
    pub fn similarities(&self, query: &[f32], ids: &[String]) -> Vec<Hit> {
        if query.len() != self.dim {
            return vec![];
        }
        let q = unit(query);
        ids.iter()
            .filter_map(|id| {
                let &i = self.position.get(id)?;
                let row = &self.data[i * self.dim..(i + 1) * self.dim];
                Some(Hit {
                    id: id.clone(),
                    similarity: dot(&q, row),
                })
            })
            .collect()
    }

    /// The `limit` rows most similar to `query`, best first, optionally only rows whose tag
    /// is in `tags`.
    pub fn search(&self, query: &[f32], tags: Option<&[String]>, limit: usize) -> Vec<Hit> {
        if query.len() != self.dim || limit == 0 {
            return vec![];
        }
        let q = unit(query);
        let mut scored: Vec<(f32, usize)> = Vec::with_capacity(self.ids.len());
        for (i, row) in self.data.chunks_exact(self.dim).enumerate() {
            if let Some(t) = tags {
                if !t.contains(&self.tags[i]) {
                    continue;
                }
            }
            scored.push((dot(&q, row), i));
        }
        let k = limit.min(scored.len());
        if k == 0 {
            return vec![];
        }
        if k < scored.len() {
            scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            scored.truncate(k);
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .map(|(s, i)| Hit {
                id: self.ids[i].clone(),
                similarity: s,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_and_keeps_positions_after_removal() {
        let mut f = FlatIndex::new(3);
        f.insert("a", "fact", "g1", &[1.0, 0.0, 0.0]);
        f.insert("b", "lesson", "g2", &[0.0, 2.0, 0.0]);
        f.insert("c", "fact", "g3", &[0.7, 0.7, 0.0]);
        let hits = f.search(&[0.0, 1.0, 0.0], None, 2);
        assert_eq!(hits[0].id, "b");
        assert!((hits[0].similarity - 1.0).abs() < 1e-6);
        assert_eq!(hits[1].id, "c");
        let facts = f.search(&[0.0, 1.0, 0.0], Some(&["fact".to_string()]), 5);
        assert_eq!(
            facts.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["c", "a"]
        );
        f.remove_ids(&["a".to_string()]);
        f.remove_groups(&["g2".to_string()]);
        assert_eq!(f.len(), 1);
        assert_eq!(f.search(&[1.0, 0.0, 0.0], None, 5)[0].id, "c");
        f.insert("c", "fact", "g3", &[0.0, 0.0, 5.0]);
        assert!((f.search(&[0.0, 0.0, 1.0], None, 1)[0].similarity - 1.0).abs() < 1e-6);
        let some = f.similarities(&[0.0, 0.0, 2.0], &["gone".to_string(), "c".to_string()]);
        assert_eq!(some.len(), 1);
        assert!((some[0].similarity - 1.0).abs() < 1e-6);
    }

    #[test]
    fn dot_handles_remainders() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let expected: f32 = a.iter().map(|x| x * x).sum();
        assert!((dot(&a, &a) - expected).abs() < 1e-3);
    }
}
