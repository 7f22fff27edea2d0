//! Intake: turns what a client sent to `POST /v1/sources` (a multipart upload, or JSON with a
//! URL, a text or records) into pending sources.
//!
//! The rule: no HTTP here. `http/sources.rs` reads the request into an [`Upload`] or a
//! [`CreateSource`]; intake checks the fields (a 400 names the field) and answers an [`Intake`]
//! for [`crate::sources::Sources::create`] or `create_many`.

use cairn_ingest::records;

use crate::error::{ApiError, ApiResult};
use crate::sources::model::CreateSource;
use crate::sources::Pending;

/// What to ingest, where, and whether to answer once it is searchable.
#[derive(Debug)]
pub struct Intake {
    /// The `workspace_id` the request named, if any.
    pub workspace_id: Option<String>,
    /// true: answer once searchable; false: queue and answer at once.
    pub wait: bool,
    pub items: Items,
}

/// One document, or records ingested together as one unit.
#[derive(Debug)]
pub enum Items {
    One(Box<Pending>),
    Records(Vec<Pending>),
}

/// A multipart upload as read off the wire: the `file` part and the text parts in order.
#[derive(Debug, Default)]
pub struct Upload {
    pub file: Option<UploadedFile>,
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct UploadedFile {
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub bytes: Vec<u8>,
}

fn check_tags(tags: &[String]) -> ApiResult<()> {
    if tags.len() > 50 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 100) {
        return Err(ApiError::bad_request(
            "tags: at most 50 tags of 1-100 characters",
        ));
    }
    Ok(())
}

/// The record field names an upload or JSON request chose, over the defaults.
#[derive(Debug, Default)]
struct FieldNames {
    text: Option<String>,
    title: Option<String>,
    id: Option<String>,
}

impl FieldNames {
    fn resolve(self) -> records::RecordFields {
        let d = records::RecordFields::default();
        records::RecordFields {
            text: self.text.unwrap_or(d.text),
            title: self.title.unwrap_or(d.title),
            id: self.id.unwrap_or(d.id),
        }
    }
}

fn parse_tags(value: &str) -> ApiResult<Vec<String>> {
    if value.trim_start().starts_with('[') {
        return serde_json::from_str(value).map_err(|_| {
            ApiError::bad_request(
                "tags: expected a JSON array of strings or a comma-separated list",
            )
        });
    }
    Ok(value
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect())
}

/// A multipart upload: a `file` part plus optional text parts `workspace_id`, `title`, `tags`
/// (comma-separated or a JSON array), `metadata` (a JSON object), `external_source`,
/// `external_id`, `wait` and, for a records file, `text_field`, `title_field`, `id_field`.
/// A `.json`, `.jsonl` or `.ndjson` file holds records, at most `max_records`.
pub fn from_upload(upload: Upload, max_records: usize) -> ApiResult<Intake> {
    let mut p = Pending {
        kind: "file".into(),
        ..Default::default()
    };
    let (mut workspace_id, mut wait, mut names) = (None, true, FieldNames::default());
    for (name, value) in upload.fields {
        match name.as_str() {
            "workspace_id" => workspace_id = Some(value),
            "title" => p.title = Some(value),
            "external_source" => p.external_source = Some(value),
            "external_id" => p.external_id = Some(value),
            "wait" => {
                wait = value
                    .parse()
                    .map_err(|_| ApiError::bad_request("wait: expected true or false"))?
            }
            "tags" => p.tags = parse_tags(&value)?,
            "metadata" => {
                p.metadata = serde_json::from_str(&value)
                    .map_err(|_| ApiError::bad_request("metadata: expected a JSON object"))?
            }
            "text_field" => names.text = Some(value),
            "title_field" => names.title = Some(value),
            "id_field" => names.id = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field `{other}`"
                )))
            }
        }
    }
    let file = upload
        .file
        .ok_or_else(|| ApiError::bad_request("file: a multipart upload needs a `file` part"))?;
    if file.bytes.is_empty() {
        return Err(ApiError::Unprocessable(
            "file: the uploaded file is empty".into(),
        ));
    }
    check_tags(&p.tags)?;
    p.filename = file.filename;
    p.media_type = file.media_type;
    let items = if is_records_file(&p) {
        Items::Records(records_of_file(p, &file.bytes, names, max_records)?)
    } else {
        p.bytes = file.bytes;
        Items::One(Box::new(p))
    };
    Ok(Intake {
        workspace_id,
        wait,
        items,
    })
}

/// The records of a records file; `base` gives each its tags, metadata and external source.
fn records_of_file(
    base: Pending,
    bytes: &[u8],
    names: FieldNames,
    max: usize,
) -> ApiResult<Vec<Pending>> {
    let parsed = records::parse_file(bytes, &names.resolve())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if parsed.len() > max {
        return Err(ApiError::bad_request(format!(
            "records: at most {max} per upload"
        )));
    }
    let base = Pending {
        filename: None,
        media_type: None,
        ..base
    };
    Ok(Pending::from_records(parsed, &base))
}

/// A `.json` or `.jsonl` upload holds records rather than one document.
fn is_records_file(p: &Pending) -> bool {
    let by_name = p.filename.as_deref().is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.ends_with(".json") || n.ends_with(".jsonl") || n.ends_with(".ndjson")
    });
    let by_type = p.media_type.as_deref().is_some_and(|m| {
        m.starts_with("application/json")
            || m.starts_with("application/x-ndjson")
            || m.starts_with("application/jsonl")
    });
    by_name || by_type
}

/// JSON: exactly one of `url`, `text` or `records` (at most `max_records`).
pub fn from_json(req: CreateSource, max_records: usize) -> ApiResult<Intake> {
    check_tags(&req.tags)?;
    let given = [req.url.is_some(), req.text.is_some(), req.records.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given != 1 {
        return Err(ApiError::bad_request(
            "give exactly one of `url`, `text` or `records` (or upload a file as multipart/form-data)",
        ));
    }
    let base = Pending {
        title: req.title,
        tags: req.tags,
        metadata: req.metadata.unwrap_or_default(),
        external_source: req.external_source,
        external_id: req.external_id,
        ..Default::default()
    };
    let items = if let Some(url) = req.url {
        Items::One(Box::new(Pending {
            kind: "url".into(),
            url: Some(url.trim().to_string()),
            ..base
        }))
    } else if let Some(text) = req.text {
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("text: must not be empty"));
        }
        Items::One(Box::new(Pending {
            kind: "text".into(),
            bytes: text.into_bytes(),
            ..base
        }))
    } else {
        let names = FieldNames {
            text: req.text_field,
            title: req.title_field,
            id: req.id_field,
        };
        let records = req.records.unwrap_or_default();
        Items::Records(records_of_json(&records, &base, names, max_records)?)
    };
    Ok(Intake {
        workspace_id: req.workspace_id,
        wait: req.wait.unwrap_or(true),
        items,
    })
}

fn records_of_json(
    records: &[serde_json::Map<String, serde_json::Value>],
    base: &Pending,
    names: FieldNames,
    max: usize,
) -> ApiResult<Vec<Pending>> {
    crate::validate::count("records", records.len(), 1, max, "records")?;
    let parsed = records::from_objects(records, &names.resolve())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Pending::from_records(parsed, base))
}
