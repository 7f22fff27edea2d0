//! What notes written together add to a pack. Two rules, both chosen on LoCoMo's dev split
//! (eval/src/locomo.rs; the closing note of the memory-quality issue has the table):
//! - **Session lift**: notes sharing a title (a conversation session's date, a meeting, a
//!   topic) are one group; a group where several notes match the query is more likely the
//!   one the query is about, so each retrieved note is lifted by its group's match.
//! - **Neighbours**: notes written in a thread (a batch's notes in order, a session's turns)
//!   are often understood only with the note before or after them: the answer follows the
//!   question it answers, and a question's words match the question turn, not the answer. So
//!   the best few retrieved notes bring their thread neighbours in just below themselves.

use std::collections::HashMap;

use crate::error::ApiResult;
use crate::store::memory::ItemType;

use super::rank::Candidate;
use super::{visible, ContextPacks, Gathering};

/// A group's match: the sum of its best this many relevances.
const GROUP_TOP: usize = 3;

/// Lifts each note in `out` by its group's match (relative to the best group's), keeping
/// relevance within 0-1. A note without a title is a group of its own, like a titled note
/// alone under its title, so titled and untitled notes are lifted alike.
pub(super) fn lift_groups(out: &mut [Candidate], lift: f64) {
    if lift <= 0.0 {
        return;
    }
    let key = |c: &Candidate| c.citation.title.clone().unwrap_or_else(|| c.id.clone());
    let is_note = |c: &&mut Candidate| c.item_type == ItemType::Note;
    let mut groups: HashMap<String, Vec<f64>> = HashMap::new();
    for c in out.iter_mut().filter(is_note) {
        groups.entry(key(c)).or_default().push(c.relevance);
    }
    let matched: HashMap<String, f64> = groups
        .into_iter()
        .map(|(k, mut r)| {
            r.sort_by(|a, b| b.total_cmp(a));
            (k, r.iter().take(GROUP_TOP).sum())
        })
        .collect();
    let best = matched.values().copied().fold(0.0, f64::max);
    if best <= 0.0 {
        return;
    }
    for c in out.iter_mut().filter(is_note) {
        let group = matched.get(&key(c)).copied().unwrap_or(0.0) / best;
        c.relevance = (c.relevance + lift * group) / (1.0 + lift);
    }
}

/// The relevance of the note after a seed: this share of the seed's, so it ranks below it
/// and below other strong hits (a reply completes what it follows more often than the other
/// way round). Higher shares (0.95 / 0.85) ranked the neighbours of every seed into the first
/// items: LoCoMo's dev split lost 0.005 in its first 10 and the synthetic memory-recall set
/// (where one side's turns are noise) 0.06 of R@5.
const NEXT_SHARE: f64 = 0.8;
/// The relevance of the note before a seed, as a share of the seed's.
const PREVIOUS_SHARE: f64 = 0.7;
/// The relevance of the note after a seed that asks a question: the answer, which the
/// query's words rarely match as well as they match the question. On LoCoMo's dev split,
/// with questions among the best 10 retrieved notes as seeds too, it raised the evidence in a
/// pack's first 10 items by 0.008 (0.757 to 0.765).
const ANSWER_SHARE: f64 = 0.95;
/// Questions are seeds down to this many times `context.neighbour_seeds` ranks.
const QUESTION_SEED_RANKS: usize = 2;

impl ContextPacks {
    /// Adds (or raises) the thread neighbours of the best retrieved notes; returns how many
    /// candidates it added.
    pub(super) async fn neighbour_candidates(&self, g: &mut Gathering<'_>) -> ApiResult<usize> {
        let seeds = seeds(g, self.settings.neighbour_seeds);
        if seeds.is_empty() {
            return Ok(0);
        }
        // The place of each neighbour wanted, with the relevance it may take.
        let mut wanted: HashMap<(String, i64), f64> = HashMap::new();
        for Seed {
            relevance,
            thread,
            seq,
            asks,
        } in &seeds
        {
            let next = if *asks { ANSWER_SHARE } else { NEXT_SHARE };
            for (place, share) in [(seq - 1, PREVIOUS_SHARE), (seq + 1, next)] {
                let r = relevance * share;
                let slot = wanted.entry((thread.clone(), place)).or_insert(r);
                *slot = slot.max(r);
            }
        }
        let places: Vec<(String, i64)> = wanted.keys().cloned().collect();
        let rows = self
            .memory
            .store
            .notes_in_threads(&g.ws.id, &places)
            .await?;
        let positions = super::note_positions(&g.out);
        let mut added = 0;
        for n in rows {
            let (Some(thread), Some(seq)) = (n.thread_id.clone(), n.thread_seq) else {
                continue;
            };
            let Some(&relevance) = wanted.get(&(thread, seq)) else {
                continue;
            };
            if let Some(&at) = positions.get(&n.id) {
                let c = &mut g.out[at];
                if c.relevance < relevance {
                    c.relevance = relevance;
                    c.reason = "next to a retrieved note".into();
                }
                continue;
            }
            if !visible(&n, &g.at, g.spec) || !g.seen.insert(n.id.clone()) {
                continue;
            }
            let mut c = self.note_candidate(n, g.as_of);
            c.relevance = relevance;
            c.reason = "next to a retrieved note".into();
            g.out.push(c);
            added += 1;
        }
        Ok(added)
    }
}

/// A retrieved note whose thread neighbours join the pack.
struct Seed {
    relevance: f64,
    thread: String,
    seq: i64,
    /// It asks a question: the note after it is likely the answer.
    asks: bool,
}

/// The best `count` retrieved notes that have a thread, and the questions among the best
/// `QUESTION_SEED_RANKS x count`, best first.
fn seeds(g: &Gathering<'_>, count: usize) -> Vec<Seed> {
    if count == 0 {
        return vec![];
    }
    let mut seeds: Vec<Seed> = g
        .threaded
        .iter()
        .map(|(at, thread, seq)| Seed {
            relevance: g.out[*at].relevance,
            thread: thread.clone(),
            seq: *seq,
            asks: super::turns::asks(&g.out[*at].text),
        })
        .collect();
    seeds.sort_by(|a, b| b.relevance.total_cmp(&a.relevance));
    // Ranks count among all retrieved notes, not among the threaded ones only.
    let mut best: Vec<f64> = g.out.iter().map(|c| c.relevance).collect();
    best.sort_by(|a, b| b.total_cmp(a));
    let floor = |rank: usize| best.get(rank - 1).copied().unwrap_or(f64::MIN);
    let (seed_floor, question_floor) = (floor(count), floor(count * QUESTION_SEED_RANKS));
    seeds
        .into_iter()
        .enumerate()
        .filter(|(i, s)| {
            (*i < count && s.relevance >= seed_floor)
                || (s.asks && *i < count * QUESTION_SEED_RANKS && s.relevance >= question_floor)
        })
        .map(|(_, s)| s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &str, title: Option<&str>, relevance: f64) -> Candidate {
        let mut c = Candidate::new(ItemType::Note, id.into(), format!("note {id}"));
        c.citation.title = title.map(str::to_string);
        c.relevance = relevance;
        c
    }

    #[test]
    fn a_group_where_several_notes_match_lifts_its_notes_above_a_lone_match() {
        let mut out = vec![
            note("lone", Some("1 May"), 0.50),
            note("a", Some("8 May"), 0.48),
            note("b", Some("8 May"), 0.45),
            note("c", Some("8 May"), 0.40),
        ];
        lift_groups(&mut out, 0.3);
        assert!(out[1].relevance > out[0].relevance, "{out:?}");
        assert!(out.iter().all(|c| (0.0..=1.0).contains(&c.relevance)));
        // Within a group the order stays as it was.
        assert!(out[1].relevance > out[2].relevance && out[2].relevance > out[3].relevance);
    }

    #[test]
    fn an_untitled_note_is_a_group_of_its_own_like_a_lone_titled_one() {
        let mut out = vec![
            note("x", None, 0.6),
            note("t", Some("8 May"), 0.6),
            note("y", None, 0.3),
        ];
        lift_groups(&mut out, 0.3);
        assert!((out[0].relevance - out[1].relevance).abs() < 1e-12);
        // Each is its own group: x's is the best (1.0), y's 0.3 / 0.6 of it.
        assert!((out[0].relevance - (0.6 + 0.3) / 1.3).abs() < 1e-9);
        assert!((out[2].relevance - (0.3 + 0.3 * 0.5) / 1.3).abs() < 1e-9);
    }
}
