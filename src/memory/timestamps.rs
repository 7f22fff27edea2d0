//! Titles that only say when: "1:56 pm on 8 May, 2023", "2024-03-01", "Tuesday 4 June".
//! Such a title is the note's time, not its subject, so the embedder does not see it (every
//! note of a session would otherwise share one direction that says nothing about its content);
//! BM25 still indexes it and the pack still prints it.

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Words that join the parts of a written date and time.
const JOINERS: [&str; 12] = [
    "on", "at", "of", "the", "am", "pm", "a.m", "p.m", "utc", "gmt", "st", "th",
];

/// A month or weekday name, in full or as its first three letters ("Sept" too).
fn is_calendar_word(w: &str) -> bool {
    let named = |names: &[&str]| {
        names
            .iter()
            .any(|n| *n == w || (w.len() >= 3 && n.starts_with(w)))
    };
    named(&MONTHS) || named(&DAYS)
}

/// A number, possibly with an ordinal suffix or clock/date separators ("8th", "13:56",
/// "2023-05-08", "8/5/23").
fn is_numeric_word(w: &str) -> bool {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    !digits.is_empty()
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ':' | '-' | '/' | '.' | 't' | 'z'))
        && matches!(
            suffix,
            "" | "st" | "nd" | "rd" | "th" | "am" | "pm" | "h" | "z"
        )
}

/// True when every word of `title` is part of a date or time and it has a number in it.
pub fn is_timestamp(title: &str) -> bool {
    let lower = title.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    !words.is_empty()
        && words.iter().any(|w| is_numeric_word(w))
        && words
            .iter()
            .all(|w| is_numeric_word(w) || is_calendar_word(w) || JOINERS.contains(w))
}

#[cfg(test)]
mod tests {
    use super::is_timestamp;

    #[test]
    fn written_dates_and_times_are_timestamps() {
        for t in [
            "1:56 pm on 8 May, 2023",
            "8 May 2023, 13:56 UTC",
            "2023-05-08",
            "2023-05-08T13:56:00Z",
            "Tuesday, June 4th 2024",
            "Sept 3, 2021 at 10am",
            "12/03/2022",
        ] {
            assert!(is_timestamp(t), "{t}");
        }
    }

    #[test]
    fn titles_with_a_subject_are_not() {
        for t in [
            "Deploy checklist",
            "May",
            "Meeting on 8 May 2023",
            "Q3 2023 roadmap",
            "Sunday brunch",
            "Caroline's birthday, 8 May",
            "",
        ] {
            assert!(!is_timestamp(t), "{t}");
        }
    }
}
