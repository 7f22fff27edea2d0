//! Money attacks against the gateway (issue 12, "Money" and "Breakers"), each performed over
//! HTTP against the real binary with a loopback OpenAI-compatible upstream: overspending a
//! balance with parallel requests and inflated usage, holds leaked by clients that hang up,
//! streams abandoned before their usage chunk, breakers opened by clients, a workspace
//! budget dodged through the gateway, and unmetered embeddings.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use futures::StreamExt;
use serde_json::{json, Value};

use super::gateway::fund;
use crate::common::TestApp;

/// What the fake upstream does, by upstream model name:
/// - `stall`: streams three content chunks (`alpha`, ` beta`, ` gamma`) then goes silent for
///   two minutes; a whole answer also waits two minutes.
/// - `pause`: streams `hel`, pauses 1.5 s, then `lo`, the usage chunk and `[DONE]`; a whole
///   answer comes at once.
/// - `greedy`: answers at once but reports a million completion tokens.
/// - anything else: answers at once, reporting 12 prompt tokens and `max_tokens` x `n`
///   completion tokens (what a full-length answer would report).
async fn upstream() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(body.clone());
                answer(body).await
            }
        }),
    );
    let base = crate::common::fixtures::serve_router(app).await;
    (format!("{base}/v1"), seen)
}

fn chunk(model: &str, content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "c1", "object": "chat.completion.chunk", "model": model,
               "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
    )
}

/// SSE events, each sent after its delay in milliseconds.
fn sse(events: Vec<(u64, String)>) -> axum::response::Response {
    let body = futures::stream::iter(events).then(|(delay, text)| async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Ok::<_, std::convert::Infallible>(text)
    });
    (
        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

async fn answer(body: Value) -> axum::response::Response {
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let usage = |completion: u64| json!({"prompt_tokens": 12, "completion_tokens": completion, "total_tokens": 12 + completion});
    if body["stream"] == true {
        return match model.as_str() {
            "stall" => sse(vec![
                (0, chunk(&model, "alpha")),
                (0, chunk(&model, " beta")),
                (0, chunk(&model, " gamma")),
                (120_000, "data: [DONE]\n\n".into()),
            ]),
            _ => {
                let done = json!({"id": "c1", "object": "chat.completion.chunk", "model": model,
                                  "choices": [], "usage": usage(2)});
                sse(vec![
                    (0, chunk(&model, "hel")),
                    (1_500, chunk(&model, "lo")),
                    (0, format!("data: {done}\n\ndata: [DONE]\n\n")),
                ])
            }
        };
    }
    if model == "stall" {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    let completion = if model == "greedy" {
        1_000_000
    } else {
        body["max_tokens"].as_u64().unwrap_or(5) * body["n"].as_u64().unwrap_or(1)
    };
    axum::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage(completion)
    }))
    .into_response()
}

/// A server routing to the fake upstream, and its first user (the admin, who can credit).
struct Money {
    app: TestApp,
    s: String,
    seen: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

/// Models, named after their upstream behaviour: (name, input per 1k, output per 1k).
const MODELS: &[(&str, f64, f64)] = &[
    ("greedy", 0.01, 0.02),
    ("stall", 0.001, 0.002),
    ("pause", 0.001, 0.002),
    ("steady", 0.0, 1.0),
];

async fn money(env: &[(&str, &str)]) -> Money {
    money_with(MODELS, env).await
}

/// [`money`] with only `models` in the catalog (no fallbacks to route to).
async fn money_with(models: &[(&str, f64, f64)], env: &[(&str, &str)]) -> Money {
    let (base, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[[providers]]\nname = \"fake\"\nkind = \"openai_compatible\"\nbase_url = \"{base}\"\n\n"
    );
    for (name, input, output) in models {
        text += &format!(
            "[[models]]\nname = \"{name}\"\nprovider = \"fake\"\nupstream = \"{name}\"\nweight = 5\n\
             context_window = 128000\ninput_per_1k = {input}\noutput_per_1k = {output}\n\n"
        );
    }
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut vars = vec![("CAIRN_CONFIG", cfg.to_str().unwrap())];
    vars.extend_from_slice(env);
    let app = TestApp::spawn_with(&vars).await;
    let s = app.register("money@example.com").await;
    Money {
        app,
        s,
        seen,
        _dir: dir,
    }
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// (balance_usd, reserved_usd).
async fn balance(app: &TestApp, token: &str) -> (f64, f64) {
    let b = app.get_json("/v1/balance", token).await;
    (
        b["balance_usd"].as_f64().unwrap(),
        b["reserved_usd"].as_f64().unwrap(),
    )
}

/// Polls the balance until `done` accepts it, for up to 10 s; answers the last one.
async fn balance_until(app: &TestApp, token: &str, done: impl Fn(f64, f64) -> bool) -> (f64, f64) {
    let start = Instant::now();
    loop {
        let (b, r) = balance(app, token).await;
        if done(b, r) || start.elapsed() > Duration::from_secs(10) {
            return (b, r);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `GET /v1/usage?request_type=...` until a row is there, for up to 10 s.
async fn usage_rows(app: &TestApp, token: &str, request_type: &str) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let path = format!("/v1/usage?limit=1000&request_type={request_type}");
        let rows = app.get_json(&path, token).await["data"]
            .as_array()
            .unwrap()
            .clone();
        if !rows.is_empty() || start.elapsed() > Duration::from_secs(10) {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a streamed chat and reads it until its text holds `until`; answers the response,
/// still open, and the bytes read.
async fn stream_until(
    app: &TestApp,
    token: &str,
    body: Value,
    until: &str,
) -> (reqwest::Response, String) {
    let mut res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut text = String::new();
    while !text.contains(until) {
        let bytes = res.chunk().await.unwrap().expect("the stream ended early");
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    (res, text)
}

#[tokio::test]
async fn a_hundred_parallel_requests_never_take_a_one_dollar_balance_below_zero() {
    let m = money_with(
        &MODELS[..1],
        &[("CAIRN__GATEWAY__DEFAULT_MAX_TOKENS", "1000")],
    )
    .await;
    fund(&m.app, &m.s, 1.0).await;
    // No max_tokens: Cairn sends its cap, 1,000 tokens, and holds about 0.02 USD for it;
    // the upstream then claims a million tokens (20 USD) for every answer.
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let req = m
                .app
                .client
                .post(m.app.url("/v1/chat/completions"))
                .bearer_auth(&m.s)
                .json(&ask("greedy"));
            tokio::spawn(async move { req.send().await.unwrap() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let res = t.await.unwrap();
        match res.status().as_u16() {
            200 => {
                ok += 1;
                let cost: f64 = res.headers()["x-cairn-cost"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(cost < 0.021, "charged {cost}, more than the hold");
            }
            402 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((1..=50).contains(&ok), "{ok} answered");
    let (left, reserved) = balance(&m.app, &m.s).await;
    assert!(left >= 0.0, "overspent: {left}");
    assert_eq!(reserved, 0.0);
    let sent: Vec<Value> = m.seen.lock().unwrap().clone();
    assert_eq!(sent.len(), ok);
    assert!(
        sent.iter().all(|b| b["max_tokens"] == 1000),
        "the cap went upstream"
    );
    let rows = usage_rows(&m.app, &m.s, "chat").await;
    let charged: f64 = rows
        .iter()
        .map(|r| r["charged_usd"].as_f64().unwrap())
        .sum();
    assert!(
        (1.0 - charged - left).abs() < 1e-9,
        "{charged} charged, {left} left"
    );
}

#[tokio::test]
async fn max_tokens_n_and_sampling_fields_are_range_checked_naming_the_field() {
    let m = money(&[]).await;
    fund(&m.app, &m.s, 10.0).await;
    for (field, value) in [
        ("max_tokens", json!(0)),
        ("max_tokens", json!("50")),
        ("max_tokens", json!(1e20)),
        ("max_tokens", json!(u64::MAX)),
        ("max_completion_tokens", json!(-1)),
        ("n", json!(0)),
        ("n", json!(100_000)),
        ("temperature", json!(7)),
        ("top_p", json!("all")),
        ("tools", json!({"not": "a list"})),
    ] {
        let mut body = ask("steady");
        body[field] = value.clone();
        let (status, err) = m.app.chat(&m.s, body).await;
        assert_eq!(status, 400, "{field} = {value}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
    assert!(
        m.seen.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn holds_cover_n_tools_and_images_and_are_released_when_clients_hang_up() {
    let m = money(&[]).await;
    fund(&m.app, &m.s, 10.0).await;
    // A whole answer that never comes: n = 4 choices of 500 tokens, a tool and an image.
    let body = json!({"model": "stall", "n": 4, "max_tokens": 500,
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]});
    let req = m
        .app
        .client
        .post(m.app.url("/v1/chat/completions"))
        .bearer_auth(&m.s)
        .json(&body);
    let whole = tokio::spawn(async move { req.send().await });
    let (_, held) = balance_until(&m.app, &m.s, |_, r| r > 0.0).await;
    // 2,000 output tokens at 0.002 and at least one image's 1,600 input tokens at 0.001.
    let worst = 2_000.0 * 0.002 / 1000.0 + 1_600.0 * 0.001 / 1000.0;
    assert!(held >= worst, "held {held}, the worst case is over {worst}");
    whole.abort();
    let (_, reserved) = balance_until(&m.app, &m.s, |_, r| r == 0.0).await;
    assert_eq!(reserved, 0.0, "a whole answer's hold outlived its client");

    // Five streams whose upstream goes silent after three chunks; their clients give up.
    let mut clients = Vec::new();
    for _ in 0..5 {
        let (app, s) = (m.app.url(""), m.s.clone());
        let client = m.app.client.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        clients.push((
            tokio::spawn(async move {
                let mut res = client
                    .post(format!("{app}/v1/chat/completions"))
                    .bearer_auth(&s)
                    .json(&json!({"model": "stall", "stream": true, "max_tokens": 100,
                                  "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
                    .await
                    .unwrap();
                let _ = res.chunk().await;
                let _ = tx.send(());
                // Waits on the silent upstream until aborted.
                while let Ok(Some(_)) = res.chunk().await {}
            }),
            rx,
        ));
    }
    let mut tasks = Vec::new();
    for (task, started) in clients {
        started.await.unwrap();
        tasks.push(task);
    }
    let (_, held) = balance(&m.app, &m.s).await;
    assert!(held > 0.0, "five streams in flight hold nothing");
    for t in &tasks {
        t.abort();
    }
    let (left, reserved) = balance_until(&m.app, &m.s, |_, r| r == 0.0).await;
    assert_eq!(reserved, 0.0, "streams' holds outlived their clients");
    assert!(
        left < 10.0 && left > 9.99,
        "the streams paid what they delivered: {left}"
    );
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_pays_for_the_tokens_it_received() {
    let m = money(&[]).await;
    fund(&m.app, &m.s, 10.0).await;
    let body = json!({"model": "stall", "stream": true, "max_tokens": 100,
                      "messages": [{"role": "user", "content": "hi"}]});
    let (res, text) = stream_until(&m.app, &m.s, body, "gamma").await;
    assert!(text.contains("alpha") && text.contains("beta"));
    drop(res);
    let rows = usage_rows(&m.app, &m.s, "chat_stream").await;
    assert_eq!(rows.len(), 1, "the hung-up stream wrote no usage row");
    let row = &rows[0];
    let counter = cairn::context::budget::TokenCounter::new("cl100k_base").unwrap();
    let delivered = ["alpha", " beta", " gamma"]
        .map(|t| counter.count(t))
        .iter()
        .sum::<usize>();
    assert_eq!(row["output_tokens"], delivered as u64, "{row}");
    assert_eq!(row["metadata"]["client_left"], true, "{row}");
    let input = row["input_tokens"].as_f64().unwrap();
    let expected = input * 0.001 / 1000.0 + delivered as f64 * 0.002 / 1000.0;
    let charged = row["charged_usd"].as_f64().unwrap();
    assert!(
        (charged - expected).abs() < 1e-12,
        "{charged} != {expected}"
    );
    let (left, reserved) = balance(&m.app, &m.s).await;
    assert_eq!(reserved, 0.0);
    assert!((10.0 - charged - left).abs() < 1e-9, "{left}");
}

#[tokio::test]
async fn clients_abandoning_streams_do_not_open_the_models_breaker() {
    let m = money(&[]).await;
    fund(&m.app, &m.s, 10.0).await;
    // Four clients leave after the first chunk; the upstream, paused, would have gone on.
    for _ in 0..4 {
        let body = json!({"model": "pause", "stream": true, "max_tokens": 10,
                          "messages": [{"role": "user", "content": "hi"}]});
        let (res, _) = stream_until(&m.app, &m.s, body, "hel").await;
        drop(res);
    }
    // Past the pause, when the relays would have found their clients gone.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let res = m.app.post("/v1/chat/completions", &m.s, ask("pause")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-cairn-model"],
        "pause",
        "the breaker opened on clients that left"
    );
}

#[tokio::test]
async fn a_workspace_budget_counts_gateway_spend_and_unpriced_checks_need_approval() {
    let m = money(&[]).await;
    fund(&m.app, &m.s, 10.0).await;
    let res = m
        .app
        .post(
            "/v1/workspaces",
            &m.s,
            json!({"workspace_id": "ledgered", "name": "Ledgered", "monthly_budget_usd": 1.0}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, key) = m.app.create_key(&m.s, Some("ledgered"), json!({})).await;
    // 500 output tokens at 1 USD per 1k: the workspace spends 0.50 through the gateway.
    let mut body = ask("steady");
    body["max_tokens"] = json!(500);
    let (status, answer) = m.app.chat(&key, body).await;
    assert_eq!(status, 200, "{answer}");

    // A card spend in the ledgered workspace, with `extra` fields.
    let check = async |extra: Value| {
        let mut b = json!({"workspace_id": "ledgered", "app": "agent", "tool_ref": "card",
                           "action_type": "spend"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m.app.post_json("/v1/actions/check", &m.s, b).await
    };
    let (status, over) = check(json!({"requested_amount_usd": 0.6})).await;
    assert_eq!(status, 200);
    assert_eq!(over["decision"], "deny", "{over}");
    assert!(over["reasons"].to_string().contains("spent 0.50"), "{over}");
    let (_, within) = check(json!({"requested_amount_usd": 0.4})).await;
    assert_eq!(within["decision"], "allow", "{within}");
    let (_, unpriced) = check(json!({})).await;
    assert_eq!(unpriced["decision"], "require_approval", "{unpriced}");
    assert!(
        unpriced["reasons"]
            .to_string()
            .contains("requested_amount_usd"),
        "{unpriced}"
    );
}

#[tokio::test]
async fn embeddings_are_held_charged_recorded_and_rate_limited() {
    let m = money(&[("CAIRN__BILLING__EMBEDDING_PER_1K", "0.5")]).await;
    fund(&m.app, &m.s, 1.0).await;
    let (_, key) = m
        .app
        .create_key(&m.s, None, json!({"rate_limit_per_minute": 2}))
        .await;
    let (status, body) = m
        .app
        .post_json(
            "/v1/embeddings",
            &key,
            json!({"input": ["the first text to embed", "and a second one"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let tokens = body["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(tokens > 0);
    let price = tokens as f64 * 0.5 / 1000.0;
    let rows = usage_rows(&m.app, &m.s, "embeddings").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["input_tokens"], tokens);
    assert!((rows[0]["charged_usd"].as_f64().unwrap() - price).abs() < 1e-12);
    let (left, reserved) = balance(&m.app, &m.s).await;
    assert!((left - (1.0 - price)).abs() < 1e-9, "{left}");
    assert_eq!(reserved, 0.0);
    // The key's limit of 2 per minute covers embeddings: the second passes, the third not.
    let one = json!({"input": "x"});
    assert_eq!(
        m.app
            .post("/v1/embeddings", &key, one.clone())
            .await
            .status(),
        200
    );
    assert_eq!(m.app.post("/v1/embeddings", &key, one).await.status(), 429);

    // An account with no balance gets 402, as for chat.
    let broke = m.app.register("broke@example.com").await;
    let (status, body) = m
        .app
        .post_json("/v1/embeddings", &broke, json!({"input": "x"}))
        .await;
    assert_eq!(status, 402, "{body}");
}
