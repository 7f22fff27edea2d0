//! The chat request as the gateway reads it: the fields routing needs, typed, and every other
//! field kept as sent so OpenAI-wire upstreams receive it unchanged.
//!
//! Parsing is lenient on purpose: a known field of an unexpected type (say `max_tokens:
//! "50"`) is not refused here but kept among the extra fields, so the upstream answers it
//! exactly as it did before the gateway typed its requests. Only `model` and `messages`, which
//! routing cannot do without, are refused with a 400 naming the field.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// OpenAI's chat completion request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// auto, fast, max, or a model name or alias.
    pub model: String,
    /// Never empty.
    pub messages: Vec<Value>,
    pub max_tokens: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub stream: Option<bool>,
    pub stream_options: Option<Value>,
    pub tools: Option<Vec<Value>>,
    /// Every other field, passed through to OpenAI-wire upstreams as sent.
    pub extra: Map<String, Value>,
}

/// Moves `key` out of `body` when `typed` accepts its value; otherwise leaves it there.
fn take<T>(
    body: &mut Map<String, Value>,
    key: &str,
    typed: impl FnOnce(Value) -> Result<T, Value>,
) -> Option<T> {
    let value = body.remove(key)?;
    match typed(value) {
        Ok(t) => Some(t),
        Err(v) => {
            body.insert(key.to_string(), v);
            None
        }
    }
}

fn string(v: Value) -> Result<String, Value> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(other),
    }
}

fn array(v: Value) -> Result<Vec<Value>, Value> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(other),
    }
}

impl ChatRequest {
    /// Reads a request body; the 400s name the field.
    pub fn from_value(body: Value) -> ApiResult<Self> {
        let Value::Object(mut body) = body else {
            return Err(ApiError::bad_request("expected a JSON object"));
        };
        let model = take(&mut body, "model", string).ok_or_else(|| {
            ApiError::bad_request("model: required (auto, fast, max or a model name)")
        })?;
        let messages = match body.remove("messages") {
            Some(Value::Array(m)) if !m.is_empty() => m,
            _ => {
                return Err(ApiError::bad_request(
                    "messages: expected a non-empty array",
                ))
            }
        };
        Ok(Self {
            model,
            messages,
            max_tokens: take(&mut body, "max_tokens", |v| v.as_u64().ok_or(v)),
            max_completion_tokens: take(&mut body, "max_completion_tokens", |v| {
                v.as_u64().ok_or(v)
            }),
            stream: take(&mut body, "stream", |v| v.as_bool().ok_or(v)),
            stream_options: body.remove("stream_options"),
            tools: take(&mut body, "tools", array),
            extra: body,
        })
    }

    /// The most output tokens the caller allows, when it said.
    pub fn output_limit(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    pub fn streams(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn has_tools(&self) -> bool {
        self.tools.as_ref().is_some_and(|t| !t.is_empty())
    }

    /// Whether a streamed answer should forward the usage chunk.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// `temperature` when it is a number.
    pub fn temperature(&self) -> Option<f64> {
        self.extra.get("temperature").and_then(Value::as_f64)
    }

    /// The text of every message, one per line: what the input estimate counts.
    pub fn prompt_text(&self) -> String {
        self.messages
            .iter()
            .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The body for an OpenAI-wire upstream: this request with `model` replaced and, when
    /// given, `stream_options` replaced; serialised without copying the request.
    pub fn wire<'a>(&'a self, model: &'a str, stream_options: Option<&'a Value>) -> Wire<'a> {
        Wire {
            request: self,
            model,
            stream_options: stream_options.or(self.stream_options.as_ref()),
        }
    }
}

/// The text of a message's content: a string, or the text parts of an array.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A request as one upstream sees it (see [`ChatRequest::wire`]).
pub struct Wire<'a> {
    request: &'a ChatRequest,
    model: &'a str,
    stream_options: Option<&'a Value>,
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.request;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", self.model)?;
        map.serialize_entry("messages", &r.messages)?;
        if let Some(v) = r.max_tokens {
            map.serialize_entry("max_tokens", &v)?;
        }
        if let Some(v) = r.max_completion_tokens {
            map.serialize_entry("max_completion_tokens", &v)?;
        }
        if let Some(v) = r.stream {
            map.serialize_entry("stream", &v)?;
        }
        if let Some(v) = self.stream_options {
            map.serialize_entry("stream_options", v)?;
        }
        if let Some(v) = &r.tools {
            map.serialize_entry("tools", v)?;
        }
        for (k, v) in &r.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The request exactly as the caller sent it (what the response cache keys on).
impl Serialize for ChatRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire(&self.model, None).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_and_mistyped_fields_pass_through_unchanged() {
        let body = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": "50", "stream": true, "temperature": 0, "logprobs": true,
            "stream_options": {"include_usage": true}});
        let req = ChatRequest::from_value(body.clone()).unwrap();
        assert_eq!(req.max_tokens, None);
        assert!(req.streams() && req.wants_stream_usage());
        assert_eq!(req.temperature(), Some(0.0));
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
        let upstream = serde_json::to_value(req.wire("gpt-x", Some(&json!({"a": 1})))).unwrap();
        assert_eq!(upstream["model"], "gpt-x");
        assert_eq!(upstream["stream_options"], json!({"a": 1}));
        assert_eq!(upstream["logprobs"], true);
    }

    #[test]
    fn model_and_messages_are_required() {
        let err = |v: Value| ChatRequest::from_value(v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"messages": [{"role": "user"}]})),
            "model: required (auto, fast, max or a model name)"
        );
        assert_eq!(
            err(json!({"model": "auto", "messages": []})),
            "messages: expected a non-empty array"
        );
        assert_eq!(err(json!([])), "expected a JSON object");
    }
}
