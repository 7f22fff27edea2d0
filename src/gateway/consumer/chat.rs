//! `POST /v1/chat` (seed 000): one routed chat in the seed's envelope. The answer names the
//! model routing negotiated, what it cost and why it was chosen. `output_format.type = json`
//! with a schema checks the model's answer against it (`schema.rs`): one repair attempt (the
//! model is told what failed), then 502 carrying the validation error. `strip_think` removes reasoning
//! blocks before anything else reads the answer.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::{json_in, schema, strip_think, tier_of, Answer, Call, RequestPolicy};
use crate::error::{ApiError, ApiResult};
use crate::gateway::{Caller, Gateway};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatEnvelope {
    pub request: EnvelopeRequest,
    /// Accepted as the seed sends it (`{"planning": false}`); planning runs at `/v1/plan`.
    #[schema(value_type = Option<Object>)]
    pub capabilities: Option<Value>,
    pub policy: Option<RequestPolicy>,
    pub output_format: Option<OutputFormat>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeRequest {
    /// OpenAI chat messages.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    /// A model name or alias to try first (else the policy's mode).
    pub model_hint: Option<String>,
    /// Accepted; Cairn counts the input itself.
    pub estimated_input_tokens: Option<u64>,
    /// OpenAI sampling fields passed upstream (temperature, top_p, stop, ...).
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// Must be false or absent: /v1/chat answers whole (stream at /v1/chat/completions).
    pub stream: Option<bool>,
    /// Kept in the answer as sent.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    /// A JSON Schema the answer must match (the same as output_format.schema).
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputFormat {
    /// text (default) or json.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The JSON Schema, as an object or as a string holding one.
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// The most output tokens (0 or absent: the gateway's default).
    pub max_tokens: Option<u64>,
    /// Remove `<think>…</think>` reasoning blocks from the answer.
    pub strip_think: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvelopeReply {
    /// The catalog model that answered.
    pub negotiated_model: String,
    /// What the request cost, over every attempt (USD charged).
    pub estimated_cost_usd: f64,
    /// How routing chose the model (auto:value, fast:latency, max:weight, named, cache).
    pub routing_reason: String,
    /// The OpenAI chat completion, its content after strip_think.
    #[schema(value_type = Object)]
    pub response: Value,
    /// The parsed answer when output_format.type is json.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// The schema an answer must match: output_format.schema (object or string) or
/// request.output_schema; checked to be a valid schema (400 naming the field).
fn schema_of(env: &ChatEnvelope) -> ApiResult<Option<Value>> {
    let (field, raw) = match (&env.output_format, &env.request.output_schema) {
        (
            Some(OutputFormat {
                schema: Some(s), ..
            }),
            _,
        ) => ("output_format.schema", s.clone()),
        (_, Some(s)) => ("request.output_schema", s.clone()),
        _ => return Ok(None),
    };
    let schema = match raw {
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| ApiError::bad_request(format!("{field}: not JSON ({e})")))?,
        other => other,
    };
    schema::supported(&schema, field).map_err(ApiError::bad_request)?;
    Ok(Some(schema))
}

/// Why `text` is not an answer of the asked format, if it is not.
fn check(text: &str, schema: Option<&Value>) -> Result<Value, String> {
    let value = json_in(text)?;
    if let Some(s) = schema {
        let mut errors = Vec::new();
        schema::violations(s, &value, "$", &mut errors);
        if !errors.is_empty() {
            errors.truncate(5);
            return Err(errors.join("; "));
        }
    }
    Ok(value)
}

fn json_instruction(schema: Option<&Value>) -> String {
    match schema {
        Some(s) => format!(
            "Answer with one JSON value only, no prose and no code fence, matching this JSON Schema:\n{s}"
        ),
        None => "Answer with one JSON value only, no prose and no code fence.".into(),
    }
}

impl Gateway {
    pub async fn chat_envelope(
        &self,
        caller: Caller,
        env: ChatEnvelope,
    ) -> ApiResult<EnvelopeReply> {
        if env.request.stream == Some(true) {
            return Err(ApiError::bad_request(
                "request.stream: /v1/chat answers whole; stream with /v1/chat/completions",
            ));
        }
        let format = env.output_format.as_ref();
        let schema = schema_of(&env)?;
        // A schema without a type asks for JSON.
        let implied = if schema.is_some() { "json" } else { "text" };
        let kind = format.and_then(|f| f.kind.as_deref()).unwrap_or(implied);
        if !matches!(kind, "text" | "json") {
            return Err(ApiError::bad_request(format!(
                "output_format.type: unknown `{kind}`; expected text or json"
            )));
        }
        let policy = env.policy.clone().unwrap_or_default();
        let defaults = self.routing_config();
        let model = match (&env.request.model_hint, &policy.mode) {
            (Some(hint), _) => crate::validate::text("request.model_hint", hint, 200)?,
            (None, Some(mode)) => tier_of("policy.mode", mode)?.to_string(),
            (None, None) => defaults.default_mode.clone(),
        };
        let routing = policy.over(defaults.policy())?;
        let params = env.request.parameters.clone().unwrap_or_default();
        let max_tokens = format.and_then(|f| f.max_tokens).filter(|m| *m > 0);
        let strip = format.and_then(|f| f.strip_think).unwrap_or(false);
        let mut messages = env.request.messages.clone();
        if kind == "json" {
            messages.insert(
                0,
                json!({"role": "system", "content": json_instruction(schema.as_ref())}),
            );
        }
        let call = |messages: Vec<Value>| Call {
            model: &model,
            messages,
            params: &params,
            max_tokens,
            policy: routing,
        };
        let mut answer = self.answer_once(&caller, call(messages.clone())).await?;
        let mut spent = answer.cost_usd;
        clean(&mut answer, strip);
        let mut output = None;
        if kind == "json" {
            match check(&answer.text, schema.as_ref()) {
                Ok(v) => output = Some(v),
                Err(why) => {
                    // One repair: the model sees its answer and what was wrong with it.
                    messages.push(json!({"role": "assistant", "content": answer.text}));
                    messages.push(json!({"role": "user", "content": format!(
                        "That answer failed validation: {why}. Answer again with the corrected JSON only."
                    )}));
                    answer = self.answer_once(&caller, call(messages)).await?;
                    spent += answer.cost_usd;
                    clean(&mut answer, strip);
                    output = Some(check(&answer.text, schema.as_ref()).map_err(|why| {
                        ApiError::BadGateway(format!(
                            "output_format: {} answered JSON that failed validation twice: {why}",
                            answer.served_by
                        ))
                    })?);
                }
            }
        }
        Ok(EnvelopeReply {
            negotiated_model: answer.served_by,
            estimated_cost_usd: spent,
            routing_reason: answer.method,
            response: answer.body,
            output,
            meta: env.request.meta,
        })
    }
}

/// strip_think applied to the answer's text and its body.
fn clean(answer: &mut Answer, strip: bool) {
    if !strip {
        return;
    }
    answer.text = strip_think(&answer.text);
    if let Some(c) = answer.body.pointer_mut("/choices/0/message/content") {
        *c = Value::String(answer.text.clone());
    }
}
