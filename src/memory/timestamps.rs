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

/// A calendar date a text names: a month, with the day and the year when it says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub year: Option<i32>,
    pub month: u32,
    pub day: Option<u32>,
}

impl Day {
    /// Whether `other` falls on this date: the same month, and the same day and year where
    /// both say them.
    pub fn holds(&self, other: &Day) -> bool {
        self.month == other.month && agree(self.day, other.day) && agree(self.year, other.year)
    }
}

/// Whether two parts of a date agree: equal, or one of them unsaid.
fn agree<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    a.zip(b).is_none_or(|(a, b)| a == b)
}

/// The full month a word names ("May", "sept", "Oct."), 1-12.
fn month_of(w: &str) -> Option<u32> {
    let w = w.trim_end_matches('.');
    // Short forms of three or four letters ("Oct", "Sept"), but not "mar", a word of its own.
    MONTHS
        .iter()
        .position(|m| *m == w || (w.len() >= 3 && w.len() <= 4 && m.starts_with(w) && w != "mar"))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// The day of the month a word gives ("8", "13th"), 1-31.
fn day_of(w: &str) -> Option<u32> {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    let day: u32 = digits.parse().ok()?;
    ((1..=31).contains(&day) && matches!(suffix, "" | "st" | "nd" | "rd" | "th")).then_some(day)
}

fn year_of(w: &str) -> Option<i32> {
    let year: i32 = w.parse().ok()?;
    (w.len() == 4 && (1000..=2999).contains(&year)).then_some(year)
}

/// The first date written with a month name in `text` ("8 May, 2023", "October 13, 2023",
/// "in July 2023", "May 8th"); ISO dates ("2023-05-08") too. A bare month name without a day
/// or year next to it is no date ("may" is also a verb).
pub fn day_in(text: &str) -> Option<Day> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '?' | '!'))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(day) = iso_day(w) {
            return Some(day);
        }
        let Some(month) = month_of(w) else {
            continue;
        };
        let at = |k: usize| words.get(k).copied().unwrap_or_default();
        let before = i.checked_sub(1).map(at);
        let day = before
            .and_then(day_of)
            .or_else(|| (at(i + 1).len() <= 4).then(|| day_of(at(i + 1))).flatten());
        let year = [i + 1, i + 2].iter().find_map(|k| year_of(at(*k)));
        if day.is_some() || year.is_some() {
            return Some(Day { year, month, day });
        }
    }
    None
}

/// "2023-05-08", alone or at the start of an RFC 3339 timestamp.
fn iso_day(w: &str) -> Option<Day> {
    let date = w.get(..10)?;
    let mut parts = date.split('-');
    let year = year_of(parts.next()?)?;
    let month: u32 = parts.next().filter(|m| m.len() == 2)?.parse().ok()?;
    let day: u32 = parts.next().filter(|d| d.len() == 2)?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(Day {
        year: Some(year),
        month,
        day: Some(day),
    })
}

#[cfg(test)]
mod tests {
    use super::{day_in, is_timestamp, Day};

    #[test]
    fn dates_written_with_a_month_are_read_and_bare_months_are_not() {
        let d = |year, month, day| Some(Day { year, month, day });
        assert_eq!(day_in("1:56 pm on 8 May, 2023"), d(Some(2023), 5, Some(8)));
        assert_eq!(
            day_in("What painting did Melanie show on October 13, 2023?"),
            d(Some(2023), 10, Some(13))
        );
        assert_eq!(
            day_in("What setback in October 2023?"),
            d(Some(2023), 10, None)
        );
        assert_eq!(day_in("Since May 8th"), d(None, 5, Some(8)));
        assert_eq!(day_in("2023-05-08T13:56:00Z"), d(Some(2023), 5, Some(8)));
        assert_eq!(day_in("8 May 2023, 13:56 UTC"), d(Some(2023), 5, Some(8)));
        assert_eq!(day_in("What may Melanie paint in 2023?"), None);
        assert_eq!(day_in("Where did Caroline march?"), None);
        let may8 = Day {
            year: Some(2023),
            month: 5,
            day: Some(8),
        };
        assert!(may8.holds(&Day {
            year: Some(2023),
            month: 5,
            day: None
        }));
        assert!(!may8.holds(&Day {
            year: Some(2023),
            month: 5,
            day: Some(9)
        }));
        assert!(!may8.holds(&Day {
            year: Some(2022),
            month: 5,
            day: None
        }));
    }

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
