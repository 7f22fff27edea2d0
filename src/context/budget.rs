//! Packing ranked candidates into a token budget and rendering them as one prompt-ready text.
//!
//! Items sharing a label (kind and title: a conversation session's date, a document) are
//! rendered under one `(label)` line, groups in the order of their best item, so a label is
//! paid for once and the reader sees each item's date or source without repeating it. The
//! markers keep the items' ranks.

use std::collections::HashSet;

use tiktoken_rs::CoreBPE;

use crate::context::model::{DropReason, DroppedItem, PackItem};
use crate::context::rank::{jaccard, words, Candidate};

/// A real tokenizer, chosen by name in config.
pub struct TokenCounter {
    name: String,
    bpe: &'static CoreBPE,
}

impl TokenCounter {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let bpe = match name {
            "cl100k_base" => tiktoken_rs::cl100k_base_singleton(),
            "o200k_base" => tiktoken_rs::o200k_base_singleton(),
            "p50k_base" => tiktoken_rs::p50k_base_singleton(),
            "r50k_base" => tiktoken_rs::r50k_base_singleton(),
            other => anyhow::bail!(
                "context.tokenizer: unknown tokenizer `{other}` (cl100k_base, o200k_base, p50k_base, r50k_base)"
            ),
        };
        Ok(Self {
            name: name.to_string(),
            bpe,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn count(&self, text: &str) -> usize {
        self.bpe.count_ordinary(text)
    }
}

/// No rendered line is shorter than this ("[1] x" is 4 tokens).
const MIN_LINE_TOKENS: usize = 4;
/// Consecutive items that did not fit after which packing stops trying.
const MAX_MISSES: usize = 8;

pub struct Packed {
    pub items: Vec<PackItem>,
    pub context: String,
    pub tokens_used: usize,
    pub dropped: Vec<DroppedItem>,
}

fn over_budget(c: &Candidate) -> DroppedItem {
    DroppedItem {
        item_type: c.item_type,
        id: c.id.clone(),
        score: c.score,
        reason: DropReason::Budget,
        duplicate_of: None,
    }
}

fn render(marker: usize, c: &Candidate) -> String {
    format!("[{marker}] {}", c.text)
}

fn header(label: &str) -> String {
    format!("({label})")
}

/// An included item: its rendered line, that line's tokens and its words (for duplicates).
struct Chosen {
    candidate: Candidate,
    line: String,
    tokens: usize,
    words: HashSet<String>,
}

/// The context text: the lines of each label's items under its header, groups in the order
/// of their first item; unlabelled items stand alone where they rank.
fn render_all(chosen: &[Chosen]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for c in chosen {
        let label = c.candidate.label.as_str();
        match groups
            .iter_mut()
            .find(|g| !label.is_empty() && g.0 == label)
        {
            Some(g) => g.1.push(&c.line),
            None => groups.push((label, vec![&c.line])),
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (label, lines) in groups {
        if !label.is_empty() {
            out.push(header(label));
        }
        out.extend(lines.into_iter().map(str::to_string));
    }
    out.join("\n")
}

/// Greedy by score (candidates come sorted): near-duplicates of an included item are
/// dropped, then each item goes in if its line still fits (until eight in a row did not). The
/// joined text is counted again at the end and trimmed from the bottom, so
/// `tokens_used <= max_tokens` holds exactly.
pub fn pack(
    candidates: Vec<Candidate>,
    max_tokens: usize,
    duplicate_threshold: f64,
    counter: &TokenCounter,
) -> Packed {
    let (mut chosen, mut dropped) = choose(candidates, max_tokens, duplicate_threshold, counter);
    let (context, tokens_used) = trim(&mut chosen, &mut dropped, max_tokens, counter);
    let items = chosen
        .into_iter()
        .enumerate()
        .map(|(i, c)| pack_item(i + 1, c))
        .collect();
    Packed {
        items,
        context,
        tokens_used,
        dropped,
    }
}

/// The greedy pass: what goes in, and what is dropped as a duplicate or over the budget.
fn choose(
    candidates: Vec<Candidate>,
    max_tokens: usize,
    duplicate_threshold: f64,
    counter: &TokenCounter,
) -> (Vec<Chosen>, Vec<DroppedItem>) {
    let mut chosen: Vec<Chosen> = Vec::new();
    let mut dropped = Vec::new();
    let mut used = 0usize;
    let mut misses = 0usize;
    for c in candidates {
        // Once the budget is all but spent, or several items in a row did not fit, the rest
        // are dropped uncounted: counting is the costly part of packing.
        if max_tokens.saturating_sub(used) < MIN_LINE_TOKENS || misses >= MAX_MISSES {
            dropped.push(over_budget(&c));
            continue;
        }
        let words = words(&c.text);
        if let Some(twin) = chosen
            .iter()
            .find(|other| jaccard(&words, &other.words) >= duplicate_threshold)
        {
            dropped.push(DroppedItem {
                item_type: c.item_type,
                id: c.id.clone(),
                score: c.score,
                reason: DropReason::Duplicate,
                duplicate_of: Some(twin.candidate.id.clone()),
            });
            continue;
        }
        let line = render(chosen.len() + 1, &c);
        let tokens = counter.count(&line);
        let separator = usize::from(!chosen.is_empty());
        let new_group = !c.label.is_empty() && chosen.iter().all(|o| o.candidate.label != c.label);
        let heading = if new_group {
            counter.count(&header(&c.label)) + usize::from(!chosen.is_empty())
        } else {
            0
        };
        if used + separator + heading + tokens > max_tokens {
            misses += 1;
            dropped.push(over_budget(&c));
            continue;
        }
        misses = 0;
        used += separator + heading + tokens;
        chosen.push(Chosen {
            candidate: c,
            line,
            tokens,
            words,
        });
    }
    (chosen, dropped)
}

/// The chosen lines joined and counted as one text (tokens at the joins can differ from the
/// lines' sum), dropping the last items while the whole is over the budget.
fn trim(
    chosen: &mut Vec<Chosen>,
    dropped: &mut Vec<DroppedItem>,
    max_tokens: usize,
    counter: &TokenCounter,
) -> (String, usize) {
    let mut context = render_all(chosen);
    let mut tokens_used = counter.count(&context);
    while tokens_used > max_tokens {
        if let Some(c) = chosen.pop() {
            dropped.push(over_budget(&c.candidate));
        }
        context = render_all(chosen);
        tokens_used = counter.count(&context);
    }
    (context, tokens_used)
}

fn pack_item(rank: usize, chosen: Chosen) -> PackItem {
    let c = chosen.candidate;
    let scores = c.scores();
    let mut citation = c.citation;
    citation.marker = format!("[{rank}]");
    PackItem {
        rank,
        item_type: c.item_type,
        id: c.id,
        text: c.text,
        kind: c.kind,
        tokens: chosen.tokens,
        reason: c.reason,
        scores,
        citation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::ItemType;
    use proptest::prelude::*;

    fn candidate(i: usize, text: String, score: f64) -> Candidate {
        let mut c = Candidate::new(ItemType::Note, format!("n{i}"), text);
        c.label = if i.is_multiple_of(2) {
            "fact".into()
        } else {
            String::new()
        };
        c.score = score;
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn never_exceeds_the_budget(
            texts in proptest::collection::vec("[a-zA-Z0-9 .,!?\n\u{e9}\u{4e2d}]{0,400}", 0..40),
            budget in 0usize..600,
            threshold in 0.5f64..1.0,
        ) {
            let counter = TokenCounter::new("cl100k_base").unwrap();
            let n = texts.len();
            let candidates: Vec<Candidate> = texts
                .into_iter()
                .enumerate()
                .map(|(i, t)| candidate(i, t, (n - i) as f64))
                .collect();
            let packed = pack(candidates, budget, threshold, &counter);
            prop_assert!(packed.tokens_used <= budget);
            prop_assert_eq!(packed.tokens_used, counter.count(&packed.context));
            prop_assert_eq!(packed.items.len() + packed.dropped.len(), n);
            for (i, item) in packed.items.iter().enumerate() {
                prop_assert_eq!(item.rank, i + 1);
                let marker = format!("[{}]", i + 1);
                prop_assert!(packed.context.contains(&marker));
            }
        }
    }

    #[test]
    fn items_sharing_a_label_sit_under_one_header_in_the_order_of_their_best_item() {
        let counter = TokenCounter::new("cl100k_base").unwrap();
        let labelled = |id: &str, label: &str, text: &str, score: f64| {
            let mut c = Candidate::new(ItemType::Note, id.into(), text.into());
            c.label = label.into();
            c.score = score;
            c
        };
        let c = vec![
            labelled("a", "turn: 8 May", "Mel: we went camping", 4.0),
            labelled("b", "turn: 1 June", "Mel: the kids loved the lake", 3.0),
            labelled("c", "turn: 8 May", "Caro: sounds lovely", 2.0),
            labelled("d", "", "an unlabelled note", 1.0),
        ];
        let packed = pack(c, 1000, 0.85, &counter);
        assert_eq!(
            packed.context,
            "(turn: 8 May)\n[1] Mel: we went camping\n[3] Caro: sounds lovely\n\
             (turn: 1 June)\n[2] Mel: the kids loved the lake\n[4] an unlabelled note"
        );
        assert_eq!(packed.tokens_used, counter.count(&packed.context));
    }

    #[test]
    fn drops_near_duplicates_and_keeps_order() {
        let counter = TokenCounter::new("cl100k_base").unwrap();
        let c = vec![
            candidate(0, "The user prefers dark mode in every editor".into(), 3.0),
            candidate(1, "the user prefers dark mode in every editor!".into(), 2.0),
            candidate(2, "Deploys happen on Tuesdays".into(), 1.0),
        ];
        let packed = pack(c, 1000, 0.85, &counter);
        let ids: Vec<&str> = packed.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["n0", "n2"]);
        assert_eq!(packed.dropped[0].duplicate_of.as_deref(), Some("n0"));
        assert!(packed.context.starts_with("(fact)\n[1] The user prefers"));
        assert!(packed.context.contains("\n[2] Deploys"));
        assert_eq!(packed.context.matches("(fact)").count(), 1);
    }

    #[test]
    fn skips_what_does_not_fit_and_takes_smaller_items_after() {
        let counter = TokenCounter::new("cl100k_base").unwrap();
        let long = "word ".repeat(300);
        let c = vec![
            candidate(1, long, 3.0),
            candidate(3, "short fact".into(), 2.0),
        ];
        let packed = pack(c, 50, 0.85, &counter);
        assert_eq!(packed.items.len(), 1);
        assert_eq!(packed.items[0].id, "n3");
        assert_eq!(packed.dropped[0].reason, DropReason::Budget);
    }
}
