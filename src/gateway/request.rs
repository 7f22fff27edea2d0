//! The chat request as the gateway reads it: the fields routing needs, typed, and every other
//! field kept as sent so OpenAI-wire upstreams receive it unchanged.
//!
//! Fields the gateway does not read pass through unchanged. The fields that bound what a
//! request can cost (`max_tokens`, `max_completion_tokens`, `n`, `tools`) and OpenAI's other
//! numeric sampling fields are checked here, type and range, with a 400 naming the field: a
//! value the upstream reads differently from Cairn would let an answer cost more than its
//! hold. `model` and `messages`, which routing cannot do without, are required.

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
    /// Choices asked for: each may produce the output limit.
    pub n: Option<u64>,
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

/// The most output tokens a request may ask for (and `gateway.default_max_tokens` may be).
pub const MAX_OUTPUT_TOKENS: u64 = 1_000_000;
/// OpenAI's limit on `n`.
const MAX_CHOICES: u64 = 128;
/// Input tokens counted per image part: the most a provider bills for one image (a large
/// image at high detail is about 1,600 tokens on Anthropic, 1,100 on OpenAI).
pub const IMAGE_TOKENS: usize = 1_600;
/// Tokens counted per message for its role and framing.
const MESSAGE_TOKENS: usize = 4;

/// OpenAI's numeric sampling fields and their ranges, checked when present.
const RANGES: &[(&str, f64, f64)] = &[
    ("temperature", 0.0, 2.0),
    ("top_p", 0.0, 1.0),
    ("presence_penalty", -2.0, 2.0),
    ("frequency_penalty", -2.0, 2.0),
    ("top_logprobs", 0.0, 20.0),
];

/// An integer field from `min` to `max`, when present.
fn count_field(
    body: &mut Map<String, Value>,
    key: &str,
    min: u64,
    max: u64,
) -> ApiResult<Option<u64>> {
    match body.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{key}: expected an integer from {min} to {max}"))
            }),
    }
}

/// Every field of [`RANGES`] present in `body` is a number within its range.
fn check_ranges(body: &Map<String, Value>) -> ApiResult<()> {
    for (key, min, max) in RANGES {
        match body.get(*key) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_f64().is_some_and(|x| (*min..=*max).contains(&x)) => {}
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "{key}: expected a number from {min} to {max}"
                )))
            }
        }
    }
    Ok(())
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
        let tools = match body.remove("tools") {
            None | Some(Value::Null) => None,
            Some(Value::Array(t)) => Some(t),
            Some(_) => return Err(ApiError::bad_request("tools: expected an array")),
        };
        check_ranges(&body)?;
        Ok(Self {
            model,
            messages,
            max_tokens: count_field(&mut body, "max_tokens", 1, MAX_OUTPUT_TOKENS)?,
            max_completion_tokens: count_field(
                &mut body,
                "max_completion_tokens",
                1,
                MAX_OUTPUT_TOKENS,
            )?,
            n: count_field(&mut body, "n", 1, MAX_CHOICES)?,
            stream: take(&mut body, "stream", |v| v.as_bool().ok_or(v)),
            stream_options: body.remove("stream_options"),
            tools,
            extra: body,
        })
    }

    /// Sets `max_tokens` to `cap` when the caller gave no output limit, so the upstream stops
    /// where the hold ends.
    pub fn cap_output(&mut self, cap: u64) {
        if self.output_limit().is_none() {
            self.max_tokens = Some(cap);
        }
    }

    /// The most output tokens the answer can hold: the limit for each of the `n` choices.
    pub fn worst_output(&self, default_limit: u64) -> usize {
        let per_choice = self.output_limit().unwrap_or(default_limit);
        let total = per_choice.saturating_mul(self.n.unwrap_or(1));
        usize::try_from(total).unwrap_or(usize::MAX)
    }

    /// The input tokens the request can be billed for, `count` being the tokenizer: the
    /// messages' text and framing, the tool and function definitions and the response format
    /// as sent, and [`IMAGE_TOKENS`] per image part.
    pub fn input_estimate(&self, count: impl Fn(&str) -> usize) -> usize {
        let text = count(&self.prompt_text()) + MESSAGE_TOKENS * self.messages.len();
        let definitions: usize = [
            self.tools.as_ref().map(|t| Value::Array(t.clone())),
            self.extra.get("functions").cloned(),
            self.extra.get("response_format").cloned(),
        ]
        .iter()
        .flatten()
        .map(|v| count(&v.to_string()))
        .sum();
        text + definitions + IMAGE_TOKENS * self.images()
    }

    /// Image parts across the messages.
    fn images(&self) -> usize {
        self.messages
            .iter()
            .filter_map(|m| m.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|p| {
                matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("image_url" | "input_image" | "image")
                )
            })
            .count()
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
        if let Some(v) = r.n {
            map.serialize_entry("n", &v)?;
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
    fn unknown_fields_pass_through_unchanged() {
        let body = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 50, "n": 2, "stream": true, "temperature": 0, "logprobs": true,
            "stream_options": {"include_usage": true}});
        let req = ChatRequest::from_value(body.clone()).unwrap();
        assert_eq!(req.max_tokens, Some(50));
        assert!(req.streams() && req.wants_stream_usage());
        assert_eq!(req.temperature(), Some(0.0));
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
        let upstream = serde_json::to_value(req.wire("gpt-x", Some(&json!({"a": 1})))).unwrap();
        assert_eq!(upstream["model"], "gpt-x");
        assert_eq!(upstream["stream_options"], json!({"a": 1}));
        assert_eq!(upstream["logprobs"], true);
    }

    #[test]
    fn numeric_fields_are_range_checked_and_name_the_field() {
        let err = |extra: Value| {
            let mut body =
                json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            ChatRequest::from_value(body).unwrap_err().to_string()
        };
        assert!(err(json!({"max_tokens": "50"})).starts_with("max_tokens: "));
        assert!(err(json!({"max_tokens": 0})).starts_with("max_tokens: "));
        assert!(err(json!({"max_tokens": u64::MAX})).starts_with("max_tokens: "));
        assert!(err(json!({"max_completion_tokens": -1})).starts_with("max_completion_tokens: "));
        assert!(err(json!({"n": 1000})).starts_with("n: "));
        assert!(err(json!({"temperature": 9})).starts_with("temperature: "));
        assert!(err(json!({"top_p": "x"})).starts_with("top_p: "));
        assert!(err(json!({"tools": {}})).starts_with("tools: "));
    }

    #[test]
    fn the_worst_case_counts_n_the_default_cap_tools_and_images() {
        let body = json!({"model": "auto", "n": 3, "tools": [{"type": "function"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a b"},
                                                      {"type": "image_url", "image_url": {"url": "x"}}]}]});
        let mut req = ChatRequest::from_value(body).unwrap();
        assert_eq!(req.worst_output(100), 300);
        req.cap_output(100);
        assert_eq!(req.max_tokens, Some(100));
        let words = |t: &str| t.split_whitespace().count();
        // "a b" (2) + one message (4) + the tools' JSON (1 word) + one image.
        assert_eq!(req.input_estimate(words), 2 + 4 + 1 + IMAGE_TOKENS);
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
