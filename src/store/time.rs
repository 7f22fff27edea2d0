//! Timestamps are stored and returned as RFC 3339 UTC strings with millisecond precision, so
//! they sort as text and read the same in SQL and JSON.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now() -> String {
    rfc3339(Utc::now())
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
