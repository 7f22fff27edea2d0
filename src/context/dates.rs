//! Notes of the day a query names. A conversation's turns carry their session's date as their
//! title ("1:56 pm on 8 May, 2023"); a question that names a day or a month ("What did Nate
//! cook on 9 November, 2022?", "What setback did Melanie face in October 2023?") asks about
//! what was said then, which no word of the turns says. Chosen on LoCoMo's dev split
//! (eval/src/locomo.rs; the memory-quality issue's closing note has the table).

use crate::memory::timestamps::{day_in, is_timestamp};
use crate::store::memory::ItemType;

use super::rank::Candidate;

/// Lifts each note whose title is a date on the day (or in the month) the query names by
/// `lift`, keeping relevance within 0-1.
pub(super) fn lift_named_day(out: &mut [Candidate], query: &str, lift: f64) {
    if lift <= 0.0 {
        return;
    }
    let Some(asked) = day_in(query) else {
        return;
    };
    for c in out.iter_mut().filter(|c| c.item_type == ItemType::Note) {
        let on_it = c
            .citation
            .title
            .as_deref()
            .filter(|t| is_timestamp(t))
            .and_then(day_in)
            .is_some_and(|d| asked.holds(&d));
        if on_it {
            c.relevance = (c.relevance + lift).min(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(title: Option<&str>, relevance: f64) -> Candidate {
        let mut c = Candidate::new(ItemType::Note, "n".into(), "Nate: I made ice cream".into());
        c.citation.title = title.map(str::to_string);
        c.relevance = relevance;
        c
    }

    #[test]
    fn notes_dated_on_the_day_the_query_names_are_lifted_and_no_others() {
        let mut out = vec![
            note(Some("7:31 pm on 9 November, 2022"), 0.5),
            note(Some("7:31 pm on 10 November, 2022"), 0.5),
            note(Some("Cooking on 9 November, 2022"), 0.5),
            note(None, 0.5),
        ];
        lift_named_day(
            &mut out,
            "What dish did Nate make on 9 November, 2022?",
            0.1,
        );
        let r: Vec<f64> = out.iter().map(|c| c.relevance).collect();
        assert!((r[0] - 0.6).abs() < 1e-12, "{r:?}");
        assert!((r[1] - 0.5).abs() < 1e-12, "another day: {r:?}");
        assert!((r[2] - 0.5).abs() < 1e-12, "a title with a subject: {r:?}");
        assert!((r[3] - 0.5).abs() < 1e-12, "untitled: {r:?}");

        let mut month = vec![note(Some("7:31 pm on 10 November, 2022"), 0.5)];
        lift_named_day(&mut month, "What did Nate cook in November 2022?", 0.1);
        assert!((month[0].relevance - 0.6).abs() < 1e-12);
        let mut none = vec![note(Some("7:31 pm on 10 November, 2022"), 0.5)];
        lift_named_day(&mut none, "What did Nate cook?", 0.1);
        assert!((none[0].relevance - 0.5).abs() < 1e-12);
    }
}
