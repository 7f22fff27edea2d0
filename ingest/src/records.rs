//! JSON records: each record's text field becomes a document's text, its title field the
//! title, its id field the external id, and the remaining fields its metadata.

use serde_json::{Map, Value};

/// Which fields of a record hold the text, the title and the stable id.
#[derive(Debug, Clone)]
pub struct RecordFields {
    pub text: String,
    pub title: String,
    pub id: String,
}

impl Default for RecordFields {
    fn default() -> Self {
        Self {
            text: "text".into(),
            title: "title".into(),
            id: "id".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub text: String,
    pub title: Option<String>,
    pub external_id: Option<String>,
    /// Every field but the text.
    pub metadata: Map<String, Value>,
}

/// A record that does not fit, with the path of the offending field (`records[3].text`).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RecordError {
    pub path: String,
    pub message: String,
}

pub fn from_objects(
    records: &[Map<String, Value>],
    fields: &RecordFields,
) -> Result<Vec<Record>, RecordError> {
    records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let err = |field: &str, message: &str| RecordError {
                path: format!("records[{i}].{field}"),
                message: message.into(),
            };
            let text = record
                .get(&fields.text)
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| err(&fields.text, "expected a non-empty string"))?;
            let external_id = match record.get(&fields.id) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => return Err(err(&fields.id, "expected a non-empty string or a number")),
            };
            let mut metadata = record.clone();
            metadata.remove(&fields.text);
            Ok(Record {
                text: text.to_string(),
                title: record
                    .get(&fields.title)
                    .and_then(Value::as_str)
                    .map(str::to_string),
                external_id,
                metadata,
            })
        })
        .collect()
}

fn as_objects(items: Vec<Value>) -> Result<Vec<Map<String, Value>>, RecordError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok(m),
            _ => Err(RecordError {
                path: format!("records[{i}]"),
                message: "expected an object".into(),
            }),
        })
        .collect()
}

/// Reads a records file: a JSON array of objects, an object with a `records` array, or JSON
/// Lines (one object per line).
pub fn parse_file(bytes: &[u8], fields: &RecordFields) -> Result<Vec<Record>, RecordError> {
    let whole_file = |message: String| RecordError {
        path: "file".into(),
        message,
    };
    let objects: Vec<Map<String, Value>> = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => as_objects(items)?,
        Ok(Value::Object(mut m)) => match m.remove("records") {
            Some(Value::Array(items)) => as_objects(items)?,
            _ => vec![m],
        },
        Ok(_) => {
            return Err(whole_file(
                "expected a JSON array of records, an object or JSON Lines".into(),
            ))
        }
        Err(_) => {
            let text =
                std::str::from_utf8(bytes).map_err(|e| whole_file(format!("not UTF-8 ({e})")))?;
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(n, l)| match serde_json::from_str::<Value>(l) {
                    Ok(Value::Object(m)) => Ok(m),
                    Ok(_) => Err(RecordError {
                        path: format!("line {}", n + 1),
                        message: "expected an object".into(),
                    }),
                    Err(e) => Err(RecordError {
                        path: format!("line {}", n + 1),
                        message: format!("malformed JSON ({e})"),
                    }),
                })
                .collect::<Result<_, _>>()?
        }
    };
    if objects.is_empty() {
        return Err(whole_file("no records".into()));
    }
    from_objects(&objects, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_objects_and_json_lines_give_the_same_records() {
        let f = RecordFields::default();
        let array = parse_file(
            br#"[{"id": 1, "text": "alpha", "lang": "en"}, {"text": "beta", "title": "B"}]"#,
            &f,
        )
        .unwrap();
        let lines = parse_file(b"{\"id\": 1, \"text\": \"alpha\", \"lang\": \"en\"}\n\n{\"text\": \"beta\", \"title\": \"B\"}\n", &f).unwrap();
        let wrapped = parse_file(br#"{"records": [{"id": 1, "text": "alpha", "lang": "en"}, {"text": "beta", "title": "B"}]}"#, &f).unwrap();
        assert_eq!(array, lines);
        assert_eq!(array, wrapped);
        assert_eq!(array[0].external_id.as_deref(), Some("1"));
        assert_eq!(array[0].metadata.get("lang"), Some(&Value::from("en")));
        assert!(!array[0].metadata.contains_key("text"));
        assert_eq!(array[1].title.as_deref(), Some("B"));
    }

    #[test]
    fn errors_name_the_record_and_field() {
        let f = RecordFields {
            text: "body".into(),
            ..Default::default()
        };
        let err = parse_file(br#"[{"body": "ok"}, {"body": ""}]"#, &f).unwrap_err();
        assert_eq!(err.path, "records[1].body");
        let err = parse_file(b"{\"body\": \"ok\"}\nnot json\n", &f).unwrap_err();
        assert_eq!(err.path, "line 2");
        let err = parse_file(br#"[{"body": "x", "id": [1]}]"#, &f).unwrap_err();
        assert_eq!(err.path, "records[0].id");
    }
}
