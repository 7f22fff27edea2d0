//! Cairn's own model calls (reflections, and any model-assisted memory work to come): one
//! non-streaming chat through the routed gateway, on behalf of the principal whose request
//! asked for it. They route, hold, fail over, meter and charge exactly like a client's chat
//! request, so no model call of Cairn's escapes a balance, a budget or a breaker.

use serde_json::{json, Value};

use super::{Caller, ChatRequest, Gateway, Reply};
use crate::error::{ApiError, ApiResult};

/// What a model answered to one of Cairn's own calls.
#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    /// The catalog model that answered.
    pub served_by: String,
}

/// One of Cairn's own calls: which model (a catalog name, alias or `auto`/`fast`/`max`), the
/// system and user messages, and a sampling temperature.
pub struct Prompt<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub user: &'a str,
    pub temperature: f64,
}

impl Gateway {
    /// Routes `prompt` as `caller`'s request for `purpose` (the usage row's `request_type`)
    /// and returns the first choice's text. A model the
    /// gateway does not know is the operator's misconfiguration (503, naming it), not the
    /// caller's 404.
    pub async fn complete(
        &self,
        caller: Caller,
        purpose: &'static str,
        prompt: Prompt<'_>,
    ) -> ApiResult<Completion> {
        let caller = Caller {
            purpose: Some(purpose),
            ..caller
        };
        let req = ChatRequest::from_value(json!({
            "model": prompt.model,
            "temperature": prompt.temperature,
            "messages": [{"role": "system", "content": prompt.system},
                         {"role": "user", "content": prompt.user}],
        }))?;
        let reply = self
            .chat(caller, req, Some(false))
            .await
            .map_err(|e| match e {
                ApiError::NotFound(_) => ApiError::ServiceUnavailable(format!(
                    "The configured model {} is not in the gateway's catalog",
                    prompt.model
                )),
                other => other,
            })?;
        let Reply::Json {
            body, served_by, ..
        } = reply
        else {
            return Err(ApiError::ServiceUnavailable(
                "The model answered with a stream to a non-streaming call".into(),
            ));
        };
        let text = body
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::ServiceUnavailable(format!(
                    "{served_by} answered with no message content"
                ))
            })?;
        Ok(Completion {
            text: text.to_string(),
            served_by,
        })
    }
}
