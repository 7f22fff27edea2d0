//! Input checks shared by every area: each failure is a 400 whose message starts with the
//! field it names (`limit: expected 1-200`), so a client can tell which part to fix.

use std::fmt::Display;

use chrono::DateTime;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::store::time::rfc3339;
use crate::store::Keyset;

pub const MAX_CONTENT_CHARS: usize = 20_000;
pub const MAX_LABEL_CHARS: usize = 100;
/// Search and context-pack queries.
pub const MAX_QUERY_CHARS: usize = 4_000;

pub fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    trimmed(field, value, max).map(str::to_string)
}

/// `value` trimmed, not empty and at most `max` characters.
pub fn trimmed<'a>(field: &str, value: &'a str, max: usize) -> ApiResult<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::bad_request(format!("{field}: must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "{field}: at most {max} characters"
        )));
    }
    Ok(v)
}

pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

pub fn unit(field: &str, value: f64) -> ApiResult<f64> {
    if !(0.0..=1.0).contains(&value) {
        return Err(ApiError::bad_request(format!(
            "{field}: expected a number from 0 to 1"
        )));
    }
    Ok(value)
}

pub fn labels(field: &str, values: &[String], max_count: usize) -> ApiResult<Vec<String>> {
    if values.len() > max_count {
        return Err(ApiError::bad_request(format!(
            "{field}: at most {max_count} entries"
        )));
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let v = text(field, v, MAX_LABEL_CHARS)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

pub fn metadata(field: &str, value: Option<&Value>) -> ApiResult<Option<Value>> {
    match value {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(ApiError::bad_request(format!(
            "{field}: expected a JSON object"
        ))),
    }
}

/// An RFC 3339 timestamp, returned in the stored form (UTC, milliseconds).
pub fn timestamp(field: &str, value: &str) -> ApiResult<String> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| rfc3339(t.to_utc()))
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{field}: expected an RFC 3339 timestamp such as 2026-11-23T09:30:00Z"
            ))
        })
}

pub fn optional_timestamp(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    value.map(|v| timestamp(field, v)).transpose()
}

/// Both parts of an external identity, or neither.
pub fn external(source: Option<&str>, id: Option<&str>) -> ApiResult<Option<(String, String)>> {
    match (source, id) {
        (None, None) => Ok(None),
        (Some(s), Some(i)) => Ok(Some((
            text("external_source", s, 200)?,
            text("external_id", i, 500)?,
        ))),
        _ => Err(ApiError::bad_request(
            "external_source, external_id: give both or neither",
        )),
    }
}

/// `value` within `min..=max`, or the 400 `{field}: expected {min}-{max}`.
pub fn range<T: PartialOrd + Display>(field: &str, value: T, min: T, max: T) -> ApiResult<T> {
    if value < min || value > max {
        return Err(range_error(field, &min, &max, ""));
    }
    Ok(value)
}

/// How many of something (`unit`: characters, strings, ...) `field` holds, within
/// `min..=max`, or the 400 `{field}: expected {min}-{max} {unit}`.
pub fn count(field: &str, count: usize, min: usize, max: usize, unit: &str) -> ApiResult<usize> {
    if count < min || count > max {
        return Err(range_error(field, &min, &max, unit));
    }
    Ok(count)
}

fn range_error(field: &str, min: &dyn Display, max: &dyn Display, unit: &str) -> ApiError {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    ApiError::bad_request(format!("{field}: expected {min}-{max}{unit}"))
}

/// A page size: `default` when absent, else 1 to `max`.
pub fn limit(value: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    range("limit", value.unwrap_or(default), 1, max)
}

/// Cursors are `<timestamp>|<id>` of the last row returned, as for sources.
pub fn encode_cursor(at: &str, id: &str) -> String {
    format!("{at}|{id}")
}

pub fn decode_cursor(cursor: Option<&str>) -> ApiResult<Option<(String, String)>> {
    let Some(c) = cursor else { return Ok(None) };
    let (at, id) = c
        .split_once('|')
        .ok_or_else(|| ApiError::bad_request("cursor: not a cursor returned by this API"))?;
    Ok(Some((at.to_string(), id.to_string())))
}

/// A route's page of rows: `{object: "list", data, next_cursor}`.
pub trait Listing<T> {
    fn listing(data: Vec<T>, next_cursor: Option<String>) -> Self;
}

/// Implements [`Listing`] for list bodies with the fields `object`, `data`, `next_cursor`.
macro_rules! listing {
    ($($list:ty: $row:ty),+) => {
        $(impl $crate::validate::Listing<$row> for $list {
            fn listing(data: Vec<$row>, next_cursor: Option<String>) -> Self {
                Self {
                    object: "list".into(),
                    data,
                    next_cursor,
                }
            }
        })+
    };
}
pub(crate) use listing;

/// One page of a keyset-paginated list, newest first. The store is asked for one row more
/// than the page holds, so whether another page follows is known without a count; the next
/// cursor is `cursor_of` the last row kept.
pub async fn page<F: Keyset, T, E, L: Listing<T>>(
    filter: F,
    fetch: impl AsyncFnOnce(F) -> Result<Vec<T>, E>,
    cursor_of: impl Fn(&T) -> String,
) -> ApiResult<L>
where
    ApiError: From<E>,
{
    let limit = filter.limit();
    let mut rows = fetch(filter.with_limit(limit + 1)).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more.then(|| rows.last().map(cursor_of)).flatten();
    Ok(L::listing(rows, next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        e.to_string()
    }

    #[test]
    fn ranges_name_the_field_and_bounds() {
        assert_eq!(range("limit", 5, 1, 200).ok(), Some(5));
        assert_eq!(
            range("limit", 0, 1, 200).map_err(message),
            Err("limit: expected 1-200".to_string())
        );
        assert_eq!(
            count("name", 201, 1, 200, "characters").map_err(message),
            Err("name: expected 1-200 characters".to_string())
        );
        assert_eq!(
            limit(None, 50, 200).ok(),
            Some(50),
            "absent limit takes the default"
        );
        assert_eq!(
            limit(Some(201), 50, 200).map_err(message),
            Err("limit: expected 1-200".to_string())
        );
    }
}
