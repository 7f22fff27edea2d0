//! Seed 000's consumer endpoints: `/v1/chat` (an envelope around one routed chat, with a
//! per-request policy and an output format the answer is checked against) and `/v1/plan`
//! (adversarial orchestration: a primary model drafts, a review model critiques, the primary
//! revises).
//!
//! The rule: every model call here is an ordinary routed gateway call (`Gateway::chat_within`),
//! so it holds, fails over, meters and charges like `/v1/chat/completions`; the request's
//! policy only narrows what routing may choose.

pub mod chat;
pub mod plan;
pub mod schema;

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::route::Policy;
use super::{Caller, ChatRequest, Gateway, Reply};
use crate::error::{ApiError, ApiResult};

/// The seed's `policy`: what routing may choose for this request.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPolicy {
    /// auto, fast or max, or the seed's words: normal, cheap (auto), low_latency (fast),
    /// high_confidence, quality (max). Default: the routing config's default_mode.
    pub mode: Option<String>,
    /// The most this request may cost (each call's estimate), in USD.
    pub max_budget_usd: Option<f64>,
    /// Leave out models whose latency EWMA is above this.
    pub max_latency_ms: Option<u64>,
    /// Leave out models lighter than this (0-10).
    pub min_weight: Option<u8>,
}

/// The routing tier a policy mode names.
pub fn tier_of(field: &str, mode: &str) -> ApiResult<&'static str> {
    Ok(match mode {
        "auto" | "normal" | "cheap" | "balanced" => "auto",
        "fast" | "low_latency" => "fast",
        "max" | "high_confidence" | "quality" | "best" => "max",
        "thompson" => "thompson",
        other => {
            return Err(ApiError::bad_request(format!(
                "{field}: unknown mode `{other}`; expected auto, fast, max (or normal, cheap, \
                 low_latency, high_confidence)"
            )))
        }
    })
}

impl RequestPolicy {
    /// The routing policy: the admin's defaults, narrowed by this request.
    fn over(&self, defaults: Policy) -> ApiResult<Policy> {
        let mut p = defaults;
        if let Some(b) = self.max_budget_usd {
            if !b.is_finite() || b <= 0.0 {
                return Err(ApiError::bad_request(
                    "policy.max_budget_usd: expected a positive number of USD",
                ));
            }
            p.max_cost_usd = Some(p.max_cost_usd.map_or(b, |d| d.min(b)));
        }
        if let Some(l) = self.max_latency_ms {
            let l = crate::validate::range("policy.max_latency_ms", l, 1, 3_600_000)? as f64;
            p.max_latency_ms = Some(p.max_latency_ms.map_or(l, |d| d.min(l)));
        }
        if let Some(w) = self.min_weight {
            p.min_weight = p
                .min_weight
                .max(crate::validate::range("policy.min_weight", w, 0, 10)?);
        }
        Ok(p)
    }
}

/// One whole answer of a routed call.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The OpenAI chat completion.
    pub body: Value,
    pub text: String,
    pub cost_usd: f64,
    pub served_by: String,
    pub method: String,
}

/// One call: `model` (a tier or a name), the messages, extra OpenAI fields.
pub struct Call<'a> {
    pub model: &'a str,
    pub messages: Vec<Value>,
    pub params: &'a Map<String, Value>,
    pub max_tokens: Option<u64>,
    pub policy: Policy,
}

static THINK: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"(?s)<(think|thinking|reasoning)>.*?</(think|thinking|reasoning)>").ok()
});

/// The text with reasoning blocks (`<think>…</think>` and kin) removed.
pub fn strip_think(text: &str) -> String {
    match THINK.as_ref() {
        Some(re) => re.replace_all(text, "").trim().to_string(),
        None => text.trim().to_string(),
    }
}

/// The JSON value in a model's answer: the whole text, or the body of a ```json fence.
pub fn json_in(text: &str) -> Result<Value, String> {
    let t = text.trim();
    let body = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|rest| rest.trim_end().strip_suffix("```"))
        .unwrap_or(t);
    serde_json::from_str(body.trim()).map_err(|e| format!("not JSON ({e})"))
}

impl Gateway {
    /// One routed, non-streaming call as `caller`.
    pub(crate) async fn answer_once(&self, caller: &Caller, call: Call<'_>) -> ApiResult<Answer> {
        // These answer whole: a parameter may not ask for a stream or replace the routed
        // model or the messages.
        for reserved in ["model", "messages", "stream", "stream_options"] {
            if call.params.contains_key(reserved) {
                return Err(ApiError::bad_request(format!(
                    "request.parameters.{reserved}: set by the endpoint, not a parameter"
                )));
            }
        }
        let mut body = call.params.clone();
        body.insert("model".into(), json!(call.model));
        body.insert("messages".into(), Value::Array(call.messages));
        if let Some(m) = call.max_tokens {
            body.insert("max_tokens".into(), json!(m));
        }
        let req = ChatRequest::from_value(Value::Object(body)).map_err(|e| match e {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("request.{m}")),
            other => other,
        })?;
        let reply = self
            .chat_within(caller.clone(), req, Some(false), call.policy)
            .await?;
        let Reply::Json {
            body,
            cost_usd,
            served_by,
            method,
            ..
        } = reply
        else {
            return Err(ApiError::BadGateway(
                "the model answered with a stream to a whole-answer call".into(),
            ));
        };
        let text = body
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Answer {
            body,
            text,
            cost_usd,
            served_by,
            method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_blocks_and_fences_are_taken_off() {
        assert_eq!(strip_think("<think>a\nb</think> {\"x\": 1}"), "{\"x\": 1}");
        assert_eq!(strip_think("no blocks"), "no blocks");
        assert_eq!(json_in("```json\n{\"x\": 1}\n```"), Ok(json!({"x": 1})));
        assert_eq!(json_in(" [1, 2] "), Ok(json!([1, 2])));
        assert!(json_in("x = 1").is_err());
    }

    #[test]
    fn a_request_policy_only_narrows_the_defaults() {
        let defaults = Policy {
            min_weight: 3,
            max_cost_usd: Some(0.01),
            max_latency_ms: None,
        };
        let p = RequestPolicy {
            max_budget_usd: Some(0.5),
            min_weight: Some(1),
            max_latency_ms: Some(900),
            ..RequestPolicy::default()
        };
        let got = p.over(defaults).unwrap();
        assert_eq!(got.max_cost_usd, Some(0.01));
        assert_eq!(got.min_weight, 3);
        assert_eq!(got.max_latency_ms, Some(900.0));
        assert_eq!(tier_of("policy.mode", "high_confidence").unwrap(), "max");
        assert!(tier_of("policy.mode", "fastest").is_err());
    }
}
