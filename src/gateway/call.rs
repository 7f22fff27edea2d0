//! One attempt at one candidate: send through its provider (retrying a 5xx once), read the
//! answer or start the stream relay, and price the usage row. Which candidate comes next is
//! `Gateway::chat`'s business; this file only says why an attempt failed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::catalog::Catalog;
use super::ledger::Reservation;
use super::providers::{Attempt, ChatProvider, ProviderEntry, Upstream};
use super::route::ModelEntry;
use super::stream::StreamJob;
use super::{usage_row, Caller, ChatRequest, Gateway, Reply};
use crate::store::gateway::UsageRow;

/// Pause before the one retry of a 5xx.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// One attempt at one candidate.
pub(super) struct Call<'a> {
    pub caller: &'a Caller,
    pub request: &'a ChatRequest,
    pub method: &'a str,
    pub catalog: &'a Catalog,
    pub model: &'a ModelEntry,
    pub input_estimate: usize,
    pub started: Instant,
}

impl Call<'_> {
    fn provider(&self) -> Result<&ProviderEntry, Attempt> {
        self.catalog.configured(&self.model.provider)
    }

    /// The usage row of this attempt once it answered with these token counts.
    fn usage_row(
        &self,
        request_type: &str,
        input: usize,
        output: usize,
        metadata: Value,
    ) -> UsageRow {
        let m = self.model;
        let mut row = UsageRow {
            metadata,
            provider: m.provider.clone(),
            upstream_model: m.upstream.clone(),
            served_model: m.name.clone(),
            routing_method: self.method.to_string(),
            execution_source: if m.local.is_some() {
                "local_endpoint"
            } else if m.byok_key.is_some() {
                "byok"
            } else {
                "provider"
            }
            .into(),
            latency_ms: Some(self.started.elapsed().as_secs_f64() * 1000.0),
            billing_mode: if m.byok_key.is_some() {
                "byok"
            } else {
                "usage"
            }
            .into(),
            ..usage_row(self.caller, &self.request.model, request_type)
        };
        price(&mut row, m, self.catalog.baseline.as_ref(), input, output);
        row
    }
}

/// Fills in a row's tokens and costs: what the provider costs (nothing for a local endpoint
/// or a call with the caller's own key: the caller pays those), what is charged, and what
/// `max` would have cost.
pub(super) fn price(
    row: &mut UsageRow,
    m: &ModelEntry,
    baseline: Option<&ModelEntry>,
    input: usize,
    output: usize,
) {
    let charged = m.cost(input, output);
    row.input_tokens = input as i64;
    row.output_tokens = output as i64;
    let callers_own = m.local.is_some() || m.byok_key.is_some();
    row.actual_cost_usd = if callers_own { 0.0 } else { charged };
    row.charged_usd = charged;
    row.baseline_usd = baseline.map_or(0.0, |b| b.cost(input, output));
}

impl Gateway {
    /// Sends once through the candidate's provider, retrying a 5xx once after a short
    /// backoff; answers the successful response or why the next candidate should try.
    async fn send(&self, call: &Call<'_>, stream: bool) -> Result<reqwest::Response, Attempt> {
        let keyed = call.catalog.provider_for(call.caller, call.model)?;
        let provider: &ProviderEntry = &keyed;
        let api: &dyn ChatProvider = provider.api.as_ref();
        let to = Upstream {
            provider,
            model: &call.model.upstream,
            name: &call.model.name,
        };
        let mut retried = false;
        loop {
            let res = if stream {
                api.send_stream(&to, call.request).await?
            } else {
                api.send(&to, call.request).await?
            };
            let status = res.status();
            let key = call.model.byok_key.as_deref();
            if status.is_success() {
                if let Some(id) = key {
                    self.mark_byok(id, None);
                }
                return Ok(res);
            }
            let text = provider.outbound.text(res).await;
            if status.is_server_error() && !retried {
                retried = true;
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
            if let Some(id) = key {
                self.mark_byok(id, Some(status));
            }
            return Err(api.refusal(&call.model.name, status, &text));
        }
    }

    /// A whole answer, translated into OpenAI's shape and charged: it takes the
    /// reservation, and settles it.
    pub(super) async fn answer(
        &self,
        call: Call<'_>,
        reservation: &mut Option<Reservation>,
    ) -> Result<Reply, Attempt> {
        let m = call.model;
        let res = self.send(&call, false).await?;
        let answer: Value = call
            .provider()?
            .outbound
            .json(res)
            .await
            .map_err(|e| Attempt::Next(format!("{}: {e}", m.name)))?;
        let latency = call.started.elapsed();
        if m.byok_key.is_none() {
            self.breakers.success(&m.name, latency);
        }
        let api = call.provider()?.api.clone();
        let mut out = api.completion(answer, &call.request.model);
        let input = out["usage"]["prompt_tokens"]
            .as_u64()
            .map_or(call.input_estimate, |t| t as usize);
        let output = out["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize;
        out["model"] = json!(call.request.model);
        let row = call.usage_row("chat", input, output, json!({}));
        let cost = self.ledger.finish(reservation.take(), row);
        Ok(Reply::Json {
            body: out,
            cost_usd: cost,
            cache: "miss",
            served_by: m.name.clone(),
            method: call.method.to_string(),
            pick: None,
        })
    }

    /// A streamed answer: once the upstream answers, the relay takes the reservation into
    /// its own task, which settles it when the stream ends.
    pub(super) async fn stream(
        &self,
        call: Call<'_>,
        reservation: &mut Option<Reservation>,
    ) -> Result<Reply, Attempt> {
        let res = self.send(&call, true).await?;
        let (tell, ended) = tokio::sync::oneshot::channel();
        let job = StreamJob {
            ledger: self.ledger.clone(),
            breakers: self.breakers.clone(),
            counter: self.counter.clone(),
            row: call.usage_row("chat_stream", call.input_estimate, 0, json!({})),
            model: call.model.clone(),
            baseline: call.catalog.baseline.clone(),
            started: call.started,
            wants_usage: call.request.wants_stream_usage(),
            reservation: reservation.take(),
            events: call.provider()?.api.stream_events(),
            ended: Some(tell),
        };
        Ok(Reply::Stream {
            events: job.start(res),
            served_by: call.model.name.clone(),
            ended,
        })
    }
}
