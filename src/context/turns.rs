//! What a note's form says about whether it answers: who speaks in it, and whether it asks.
//! Both rules were chosen on LoCoMo's dev split (eval/src/locomo.rs; the memory-quality
//! issue's closing note has the table).
//! - **Questions**: a note that asks restates the words of a query about its subject but
//!   rarely holds the answer (on LoCoMo's dev split a quarter of the turns ask, an eighth of
//!   the evidence turns do), so its relevance is discounted once its thread neighbours are
//!   taken: the answer after it keeps the share of the undiscounted relevance it was given.
//! - **Speakers**: a conversation turn is written `Speaker: text` (the form
//!   `POST /v1/memory/conversations` writes). When the query names the speaker, the turn is
//!   what that person said, which a question about them ("What has Melanie painted?") asks
//!   for more often than what others said to them.

use crate::store::memory::ItemType;

use super::rank::{words, Candidate};

/// The longest speaker label a turn's prefix is read as (names, not sentences).
const MAX_SPEAKER_CHARS: usize = 40;
/// The most words a speaker label has.
const MAX_SPEAKER_WORDS: usize = 4;

/// Whether a note asks a question: its text ends with a question mark.
pub(super) fn asks(text: &str) -> bool {
    text.trim_end().ends_with('?')
}

/// The speaker of a note written `Speaker: text`: a short label that starts with a capital
/// letter, or `None` for a note that is no turn.
pub(super) fn speaker(text: &str) -> Option<&str> {
    let (label, _) = text.split_once(": ")?;
    let label = label.trim();
    let named = label.chars().next().is_some_and(char::is_uppercase)
        && label.len() <= MAX_SPEAKER_CHARS
        && label.split_whitespace().count() <= MAX_SPEAKER_WORDS
        && !label.contains('\n');
    named.then_some(label)
}

/// Lifts each note whose speaker the query names (every word of the speaker label is a word
/// of the query) by `lift`, keeping relevance within 0-1.
pub(super) fn lift_named_speakers(out: &mut [Candidate], query: &str, lift: f64) {
    if lift <= 0.0 {
        return;
    }
    let query_words = words(query);
    for c in out.iter_mut().filter(|c| c.item_type == ItemType::Note) {
        let named = speaker(&c.text).is_some_and(|s| words(s).is_subset(&query_words));
        if named {
            c.relevance = (c.relevance + lift).min(1.0);
        }
    }
}

/// Discounts the relevance of each note that asks by `discount` (a share, 0-1).
pub(super) fn discount_questions(out: &mut [Candidate], discount: f64) {
    if discount <= 0.0 {
        return;
    }
    for c in out.iter_mut() {
        if c.item_type == ItemType::Note && asks(&c.text) {
            c.relevance *= 1.0 - discount;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str, relevance: f64) -> Candidate {
        let mut c = Candidate::new(ItemType::Note, text.into(), text.into());
        c.relevance = relevance;
        c
    }

    #[test]
    fn a_speaker_is_a_short_capitalised_label_before_a_colon() {
        assert_eq!(speaker("Melanie: I painted a lake."), Some("Melanie"));
        assert_eq!(
            speaker("Dr Ada Byron: the results are in"),
            Some("Dr Ada Byron")
        );
        assert_eq!(speaker("the deploy failed: disk full"), None);
        assert_eq!(speaker("Prefers dark mode"), None);
        assert_eq!(
            speaker("A long sentence that runs on and on before it has a colon: x"),
            None
        );
        assert_eq!(speaker("Ratio 3:2 is fine"), None);
    }

    #[test]
    fn turns_by_the_speaker_the_query_names_are_lifted_and_no_others() {
        let mut out = vec![
            note("Caroline: Thanks, Melanie! Is this your painting?", 0.6),
            note("Melanie: Yeah, I painted that lake sunrise last year!", 0.5),
            note("Melanie likes lakes", 0.5),
        ];
        let mut entity = Candidate::new(ItemType::Entity, "e".into(), "Melanie: a person".into());
        entity.relevance = 0.5;
        out.push(entity);
        lift_named_speakers(&mut out, "What has Melanie painted?", 0.2);
        assert!((out[0].relevance - 0.6).abs() < 1e-12);
        assert!((out[1].relevance - 0.7).abs() < 1e-12);
        assert!((out[2].relevance - 0.5).abs() < 1e-12, "not a turn");
        assert!((out[3].relevance - 0.5).abs() < 1e-12, "not a note");
        let mut full = vec![note("Melanie: yes", 0.95)];
        lift_named_speakers(&mut full, "melanie", 0.2);
        assert!((full[0].relevance - 1.0).abs() < 1e-12, "capped at 1");
    }

    #[test]
    fn a_note_that_asks_is_discounted_and_a_statement_is_not() {
        let mut out = vec![
            note("Melanie: What inspired you to paint it?  ", 0.8),
            note("Caroline: The sunset at the beach inspired me.", 0.7),
        ];
        discount_questions(&mut out, 0.25);
        assert!((out[0].relevance - 0.6).abs() < 1e-12);
        assert!((out[1].relevance - 0.7).abs() < 1e-12);
        discount_questions(&mut out, 0.0);
        assert!((out[0].relevance - 0.6).abs() < 1e-12, "0 turns it off");
    }
}
