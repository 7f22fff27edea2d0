//! The model gateway against a loopback OpenAI-shaped upstream: routing, failover, streaming,
//! caching, billing and usage.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::sync::{Arc, Mutex};

use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::common::api::{header_of, strings_of};
use crate::common::{json_of, TestApp};

/// A loopback upstream speaking OpenAI's wire format; the upstream model name picks the
/// behaviour: `ok-*` answers, `fail-500` fails, `rate-429` is rate limited, `cut-*` streams
/// two chunks and stops without `[DONE]`, `short-window` refuses with context_length_exceeded,
/// `slow-*` answers after 3 s.
pub async fn upstream() -> (String, Arc<Mutex<Vec<(Value, bool)>>>) {
    let seen: Arc<Mutex<Vec<(Value, bool)>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let record = record.clone();
                async move {
                    record
                        .lock()
                        .unwrap()
                        .push((body.clone(), headers.get("x-test").is_some()));
                    let model = body["model"].as_str().unwrap_or_default().to_string();
                    if model == "fail-500" {
                        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
                    }
                    if model == "rate-429" {
                        return (axum::http::StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
                    }
                    if model == "short-window" {
                        let refusal = json!({"error": {"code": "context_length_exceeded", "type": "invalid_request_error",
                            "message": "This model's maximum context length is 4096 tokens"}});
                        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response();
                    }
                    if model.starts_with("slow-") {
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                    }
                    let tool_calls = body.get("tools").map(|_| {
                        json!([{"id": "call_1", "type": "function",
                                "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}])
                    });
                    if body["stream"] == true {
                        let chunk = |content: &str| {
                            format!(
                                "data: {}\n\n",
                                json!({"id": "c1", "object": "chat.completion.chunk", "model": model,
                                       "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
                            )
                        };
                        let mut text = chunk("hel") + &chunk("lo");
                        if !model.starts_with("cut-") {
                            text += &format!(
                                "data: {}\n\ndata: [DONE]\n\n",
                                json!({"id": "c1", "object": "chat.completion.chunk", "model": model, "choices": [],
                                       "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}})
                            );
                        }
                        return ([(axum::http::header::CONTENT_TYPE, "text/event-stream")], text).into_response();
                    }
                    let mut message = json!({"role": "assistant", "content": format!("hello from {model}")});
                    if let Some(t) = tool_calls {
                        message["tool_calls"] = t;
                        message["content"] = Value::Null;
                    }
                    axum::Json(json!({
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
                    }))
                    .into_response()
                }
            },
        ),
    );
    let base = crate::common::fixtures::serve_router(app).await;
    (format!("{base}/v1"), seen)
}

pub fn config(dir: &std::path::Path, base: &str) -> std::path::PathBuf {
    let path = dir.join("gateway.toml");
    let model = |name: &str, upstream: &str, weight: u8, window: u32, price: f64| {
        format!(
            "[[models]]\nname = \"{name}\"\nprovider = \"mock\"\nupstream = \"{upstream}\"\nweight = {weight}\n\
             context_window = {window}\ninput_per_1k = {price}\noutput_per_1k = {}\naliases = [\"{name}-alias\"]\n\n",
            price * 2.0
        )
    };
    let text = format!(
        "[[providers]]\nname = \"mock\"\nkind = \"openai_compatible\"\nbase_url = \"{base}\"\nheaders = {{ \"X-Test\" = \"yes\" }}\n\n{}{}{}{}{}",
        model("cheap", "ok-cheap", 2, 8000, 0.0001),
        model("broken", "fail-500", 9, 128000, 0.01),
        model("limited", "rate-429", 8, 128000, 0.005),
        model("strong", "ok-strong", 7, 32000, 0.003),
        model("cutter", "cut-x", 1, 4000, 0.001),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The operator credits the account of the user signed in as `session`.
pub async fn fund(app: &TestApp, session: &str, amount: f64) {
    let me = json_of(app.get("/api/auth/me", session).await).await;
    let email = me["email"].as_str().expect("email").to_string();
    let operator = app.operator().await.to_string();
    fund_user(app, &operator, &email, amount).await;
}

/// The installation's admin credits the account of the user with `email`.
pub async fn fund_user(app: &TestApp, admin: &str, email: &str, amount: f64) {
    let res = app
        .post(
            "/v1/billing/add",
            admin,
            json!({"amount_usd": amount, "email": email, "note": "trial"}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 50,
           "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]})
}

/// Requests the mock upstream saw: (body, whether the provider's extra header came along).
type Seen = Arc<Mutex<Vec<(Value, bool)>>>;

/// A server routing to the mock upstream's five models, and a funded user.
struct Routed {
    app: TestApp,
    s: String,
    seen: Seen,
    _dir: tempfile::TempDir,
}

async fn routed() -> Routed {
    let (base, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("gateway@example.com").await;
    fund(&app, &s, 100.0).await;
    Routed {
        app,
        s,
        seen,
        _dir: dir,
    }
}

/// A named model answers under its name and costs its price (12 tokens in, 5 out).
async fn chat_with_cheap(r: &Routed) {
    let res = r
        .app
        .post("/v1/chat/completions", &r.s, ask("cheap", false))
        .await;
    assert_eq!(res.status(), 200);
    let cost: f64 = header_of(&res, "x-cairn-cost");
    assert!(
        (cost - (0.012 * 0.0001 + 0.005 * 0.0002)).abs() < 1e-9,
        "{cost}"
    );
    let body = json_of(res).await;
    assert_eq!(body["model"], "cheap");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-cheap"
    );
}

/// max: the two strongest fail (500 after a retry, then 429), the third answers. Follows
/// [`chat_with_cheap`], whose request is the first the upstream saw.
async fn chat_with_max(r: &Routed) {
    let (_, body) = r.app.chat(&r.s, ask("max", false)).await;
    assert_eq!(body["model"], "max");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-strong"
    );
    let tried: Vec<String> = r
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| b["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        &tried[1..],
        ["fail-500", "fail-500", "rate-429", "ok-strong"]
    );
    assert!(
        r.seen.lock().unwrap().iter().all(|(_, header)| *header),
        "provider headers are sent"
    );
}

/// auto prefers value; an alias names a model; tools pass through both ways.
async fn chat_with_auto_an_alias_and_tools(r: &Routed) {
    let (_, body) = r.app.chat(&r.s, ask("auto", false)).await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-cheap"
    );
    let (_, body) = r.app.chat(&r.s, ask("strong-alias", false)).await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-strong"
    );
    let mut with_tools = ask("strong", false);
    with_tools["tools"] = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
    let (_, body) = r.app.chat(&r.s, with_tools).await;
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
    assert_eq!(
        r.seen.lock().unwrap().last().unwrap().0["tools"][0]["function"]["name"],
        "lookup"
    );
}

/// Unknown models and bad bodies get OpenAI-shaped errors.
async fn chat_with_an_unknown_model_and_no_messages(r: &Routed) {
    let (status, body) = r.app.chat(&r.s, ask("nope", false)).await;
    assert_eq!(status, 404);
    assert!(body["error"]["message"].is_string());
    let (status, body) = r
        .app
        .chat(&r.s, json!({"model": "auto", "messages": []}))
        .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("messages"));
}

#[tokio::test]
async fn a_named_model_answers_under_its_name_at_its_price() {
    let r = routed().await;
    chat_with_cheap(&r).await;
}

#[tokio::test]
async fn max_fails_over_to_the_next_strongest_model() {
    let r = routed().await;
    chat_with_cheap(&r).await;
    chat_with_max(&r).await;
}

#[tokio::test]
async fn auto_prefers_value_aliases_name_models_and_tools_pass_through() {
    let r = routed().await;
    chat_with_auto_an_alias_and_tools(&r).await;
}

#[tokio::test]
async fn unknown_models_and_bad_bodies_get_openai_shaped_errors() {
    let r = routed().await;
    chat_with_an_unknown_model_and_no_messages(&r).await;
}

#[tokio::test]
async fn usage_and_stats_count_every_answered_request() {
    let r = routed().await;
    chat_with_cheap(&r).await;
    chat_with_max(&r).await;
    chat_with_auto_an_alias_and_tools(&r).await;
    chat_with_an_unknown_model_and_no_messages(&r).await;
    let (app, s) = (&r.app, &r.s);

    let usage = json_of(app.get("/v1/usage?limit=3", s).await).await;
    assert_eq!(usage["has_more"], true);
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let all = json_of(app.get("/v1/usage", s).await).await;
    let max_row = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "max")
        .unwrap();
    assert_eq!(max_row["tier"], "max");
    assert_eq!(max_row["routing_method"], "max:weight");
    assert_eq!(max_row["upstream_model"], "ok-strong");
    assert_eq!(max_row["input_tokens"], 12);
    assert_eq!(max_row["output_tokens"], 5);
    assert!(max_row["baseline_usd"].as_f64().unwrap() >= max_row["charged_usd"].as_f64().unwrap());

    let groups = json_of(
        app.get("/v1/usage/breakdown?group_by=workspace&days=7", s)
            .await,
    )
    .await;
    assert_eq!(groups["window_days"], 7);
    assert_eq!(groups["data"].as_array().unwrap().len(), 1);
    assert_eq!(groups["data"][0]["requests"], 5);
    let by_model = json_of(app.get("/v1/usage/breakdown?group_by=model", s).await).await;
    let served: u64 = by_model["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(served, 5);
    assert!(by_model["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["model"] == "strong"));
    let by_day = json_of(app.get("/v1/usage/breakdown?group_by=day&days=1", s).await).await;
    assert_eq!(by_day["data"][0]["requests"], 5);
    assert!(
        by_day["data"][0]["baseline_usd"].as_f64().unwrap()
            >= by_day["data"][0]["charged_usd"].as_f64().unwrap()
    );
    let stats = json_of(app.get("/v1/stats?days=30&daily_days=3", s).await).await;
    assert_eq!(stats["requests"], 5);
    assert_eq!(stats["total_tokens"], 5 * 17);
    assert_eq!(stats["tier_breakdown"]["max"], 1);
    assert_eq!(stats["tier_breakdown"]["auto"], 1);
    assert_eq!(stats["tier_breakdown"]["fast"], 0);
    assert_eq!(stats["request_type_breakdown"]["chat"], 5);
    assert_eq!(stats["daily"].as_array().unwrap().len(), 3);
    assert_eq!(stats["daily"][2]["requests"], 5);
}

#[tokio::test]
async fn usage_and_stats_refuse_bad_windows() {
    let r = routed().await;
    let (app, s) = (&r.app, &r.s);
    assert_eq!(app.get("/v1/usage?limit=0", s).await.status(), 400);
    assert_eq!(app.get("/v1/stats?days=0", s).await.status(), 400);
    assert_eq!(
        app.get("/v1/usage/breakdown?group_by=colour", s)
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn models_and_the_public_pricing_list_the_catalog() {
    let r = routed().await;
    let (app, s) = (&r.app, &r.s);
    let models = json_of(app.get("/v1/models", s).await).await;
    let ids = strings_of(&models["data"], "id");
    assert_eq!(&ids[..3], ["auto", "fast", "max"]);
    assert!(ids.contains(&"cheap") && ids.contains(&"cheap-alias"));
    let pricing = app.get_public("/v1/pricing").await;
    assert_eq!(pricing.status(), 200, "public");
    let pricing = json_of(pricing).await;
    let cheap = pricing["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "cheap")
        .unwrap();
    assert!((cheap["input_per_1m"].as_f64().unwrap() - 0.1).abs() < 1e-9);
    assert_eq!(cheap["context_window"], 8000);
}

#[tokio::test]
async fn streams_relay_chunks_usage_and_interruptions() {
    let (base, _) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("stream@example.com").await;
    fund(&app, &s, 100.0).await;

    let res = app
        .post("/v1/chat/completions", &s, ask("cheap", true))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = res.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 4, "{text}");
    assert!(events[0].contains("\"model\":\"cheap\""));
    // The cost, known only at the end, as an SSE comment (clients skip it): 12 tokens in at
    // 0.0001 per 1k, 5 out at 0.0002.
    assert_eq!(events[2], ": x-cairn-cost 0.00000220");
    assert_eq!(events[3], "data: [DONE]");
    assert!(!text.contains("usage"), "usage only when asked");

    let mut with_usage = ask("cheap", true);
    with_usage["stream_options"] = json!({"include_usage": true});
    let text = app
        .post("/v1/chat/completions", &s, with_usage)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"completion_tokens\":5"), "{text}");

    let text = app
        .post("/v1/chat/completions", &s, ask("cutter", true))
        .await
        .text()
        .await
        .unwrap();
    let last = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .last()
        .unwrap()
        .to_string();
    assert!(last.contains("upstream_stream_interrupted"), "{text}");
    assert!(!text.split("\n\n").any(|e| e == "data: [DONE]"), "{text}");

    // Rows are written when the stream ends.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let usage = json_of(app.get("/v1/usage?request_type=chat_stream", &s).await).await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .any(|r| r["metadata"]["stream_completed"] == false));
    assert!(rows.iter().any(|r| r["output_tokens"] == 5));
}

/// A loopback server speaking Anthropic's Messages API (JSON and SSE events).
async fn anthropic_upstream() -> (String, Arc<Mutex<Vec<(Value, String)>>>) {
    let seen: Arc<Mutex<Vec<(Value, String)>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/v1/messages",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let record = record.clone();
                async move {
                    let key = headers
                        .get("x-api-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let version_ok = headers.get("anthropic-version").is_some();
                    record.lock().unwrap().push((body.clone(), key));
                    if !version_ok {
                        return (axum::http::StatusCode::BAD_REQUEST, "no version").into_response();
                    }
                    if body["stream"] == true {
                        let ev = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap());
                        let text = [
                            json!({"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
                            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Bonjour"}}),
                            json!({"type": "content_block_stop", "index": 0}),
                            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
                            json!({"type": "message_stop"}),
                        ]
                        .into_iter()
                        .map(ev)
                        .collect::<String>();
                        return ([(axum::http::header::CONTENT_TYPE, "text/event-stream")], text).into_response();
                    }
                    let mut content = vec![json!({"type": "text", "text": "Bonjour"})];
                    let mut stop = "end_turn";
                    if body.get("tools").is_some() {
                        content.push(json!({"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}));
                        stop = "tool_use";
                    }
                    axum::Json(json!({"id": "msg_1", "type": "message", "role": "assistant", "content": content,
                                      "stop_reason": stop, "usage": {"input_tokens": 9, "output_tokens": 2}}))
                    .into_response()
                }
            },
        ),
    );
    let base = crate::common::fixtures::serve_router(app).await;
    (format!("{base}/v1"), seen)
}

#[tokio::test]
async fn anthropic_is_translated_both_ways() {
    let (base, seen) = anthropic_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anthropic.toml");
    std::fs::write(
        &path,
        format!(
            "[[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"{base}\"\napi_key = \"sk-ant-test\"\n\n\
             [[models]]\nname = \"sonnet\"\nprovider = \"claude\"\nupstream = \"claude-sonnet\"\nweight = 8\n\
             context_window = 200000\ninput_per_1k = 0.003\noutput_per_1k = 0.015\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", path.to_str().unwrap())]).await;
    let s = app.register("anthropic@example.com").await;
    fund(&app, &s, 100.0).await;

    let mut body = ask("max", false);
    body["tools"] = json!([{"type": "function", "function": {"name": "lookup", "description": "find",
                                                           "parameters": {"type": "object"}}}]);
    body["messages"] = json!([
        {"role": "system", "content": "answer in French"},
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                      {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}
    ]);
    let res = app.post("/v1/chat/completions", &s, body).await;
    assert_eq!(res.status(), 200);
    let out = json_of(res).await;
    assert_eq!(out["model"], "max");
    assert_eq!(out["choices"][0]["message"]["content"], "Bonjour");
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"q\":\"x\"}"
    );
    assert_eq!(out["usage"]["prompt_tokens"], 9);
    let (sent, key) = seen.lock().unwrap()[0].clone();
    assert_eq!(key, "sk-ant-test");
    assert_eq!(sent["model"], "claude-sonnet");
    assert_eq!(sent["system"], "answer in French");
    assert_eq!(
        sent["messages"][0]["content"][1]["source"]["url"],
        "https://example.com/cat.png"
    );
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");

    let mut streamed = ask("sonnet", true);
    streamed["stream_options"] = json!({"include_usage": true});
    let text = app
        .post("/v1/chat/completions", &s, streamed)
        .await
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert!(events[1].contains("\"content\":\"Bonjour\""), "{text}");
    assert!(text.contains("\"finish_reason\":\"stop\""));
    assert!(text.contains("\"completion_tokens\":2"));
    assert!(
        events.iter().all(|e| *e == "data: [DONE]"
            || e.starts_with(": x-cairn-cost ")
            || e.contains("\"model\":\"sonnet\"")),
        "{text}"
    );
    assert_eq!(*events.last().unwrap(), "data: [DONE]");
}

#[tokio::test]
async fn deterministic_answers_come_from_the_cache() {
    let (base, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("cache@example.com").await;
    fund(&app, &s, 100.0).await;
    let send = |body: Value, header: Option<&'static str>| {
        let mut req = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&s)
            .json(&body);
        if let Some(h) = header {
            req = req.header("x-cairn-cache", h);
        }
        req.send()
    };
    let mut zero = ask("cheap", false);
    zero["temperature"] = json!(0);
    let first = send(zero.clone(), None).await.unwrap();
    assert_eq!(first.headers()["x-cairn-cache"], "miss");
    let second = send(zero.clone(), None).await.unwrap();
    assert_eq!(second.headers()["x-cairn-cache"], "hit");
    assert_eq!(second.headers()["x-cairn-cost"], "0.00000000");
    assert_eq!(
        json_of(second).await["choices"][0]["message"]["content"],
        "hello from ok-cheap"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the upstream was called once"
    );
    assert_eq!(
        send(zero.clone(), Some("off")).await.unwrap().headers()["x-cairn-cache"],
        "miss"
    );

    let mut warm = ask("cheap", false);
    warm["temperature"] = json!(0.7);
    assert_eq!(
        send(warm.clone(), None).await.unwrap().headers()["x-cairn-cache"],
        "miss"
    );
    assert_eq!(
        send(warm.clone(), None).await.unwrap().headers()["x-cairn-cache"],
        "miss"
    );
    assert_eq!(
        send(warm.clone(), Some("on")).await.unwrap().headers()["x-cairn-cache"],
        "miss"
    );
    assert_eq!(
        send(warm, Some("on")).await.unwrap().headers()["x-cairn-cache"],
        "hit"
    );
    assert_eq!(send(zero, Some("maybe")).await.unwrap().status(), 400);

    let usage = json_of(app.get("/v1/usage", &s).await).await;
    let hits = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["execution_source"] == "cache")
        .count();
    assert_eq!(hits, 2);

    // Another workspace does not share the cache.
    app.create_workspace(&s, "other").await;
    let (_, key) = app.create_key(&s, Some("other"), json!({})).await;
    let mut zero = ask("cheap", false);
    zero["temperature"] = json!(0);
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&zero)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-cairn-cache"], "miss");
}

/// A server routing to the mock upstream, and a user with no funds yet.
async fn unfunded() -> (TestApp, String, tempfile::TempDir) {
    let (base, _) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[
        ("CAIRN_CONFIG", cfg.to_str().unwrap()),
        (
            "CAIRN__BILLING__PAYMENT_URL",
            "https://pay.example.com/top-up",
        ),
    ])
    .await;
    let s = app.register("billing@example.com").await;
    (app, s, dir)
}

#[tokio::test]
async fn chat_needs_funds_and_funding_needs_a_session_and_a_positive_amount() {
    let (app, s, _dir) = unfunded().await;
    let res = app
        .post("/v1/chat/completions", &s, ask("strong", false))
        .await;
    assert_eq!(res.status(), 402);
    let refusal = json_of(res).await;
    assert!(refusal["error"]["message"]
        .as_str()
        .unwrap()
        .contains("billing/add"));
    // Seed 004's 402 fields: where to pay, what there is, what was needed.
    assert_eq!(
        refusal["error"]["payment_url"],
        "https://pay.example.com/top-up"
    );
    assert_eq!(refusal["error"]["balance_usd"], 0.0);
    assert!(refusal["error"]["required_usd"].as_f64().unwrap() > 0.0);
    let (_, key) = app.create_key(&s, None, json!({})).await;
    assert_eq!(
        app.post("/v1/billing/add", &key, json!({"amount_usd": 5}))
            .await
            .status(),
        403
    );
    // A registered user is no operator: crediting is the admin's.
    assert_eq!(
        app.post("/v1/billing/add", &s, json!({"amount_usd": 5}))
            .await
            .status(),
        403
    );
    let operator = app.operator().await.to_string();
    assert_eq!(
        app.post("/v1/billing/add", &operator, json!({"amount_usd": -5}))
            .await
            .status(),
        400
    );
    assert_eq!(
        app.post(
            "/v1/billing/add",
            &operator,
            json!({"amount_usd": 1, "email": "nobody@example.com"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.post("/v1/billing/checkout", &s, json!({}))
            .await
            .status(),
        501
    );
}

#[tokio::test]
async fn concurrent_requests_never_overspend_the_balance() {
    let (app, s, _dir) = unfunded().await;
    let (_, key) = app.create_key(&s, None, json!({})).await;
    // 50 requests at once against a balance that covers only a few holds at a time.
    fund(&app, &s, 0.003).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let req = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&ask("strong", false));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            402 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((1..50).contains(&ok), "{ok} succeeded");
    let balance = json_of(app.get("/v1/balance", &s).await).await;
    let left = balance["balance_usd"].as_f64().unwrap();
    assert!(left >= 0.0, "overspent: {left}");
    assert_eq!(balance["reserved_usd"], 0.0);
    let usage = json_of(app.get("/v1/usage?limit=1000", &s).await).await;
    let charged: f64 = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["charged_usd"].as_f64().unwrap())
        .sum();
    assert_eq!(usage["data"].as_array().unwrap().len(), ok);
    assert!(
        (0.003 - charged - left).abs() < 1e-9,
        "ledger: {charged} charged, {left} left"
    );
}

#[tokio::test]
async fn a_workspace_budget_refuses_requests_beyond_it() {
    let (app, s, _dir) = unfunded().await;
    fund(&app, &s, 10.0).await;
    let res = app
        .post(
            "/v1/workspaces",
            &s,
            json!({"workspace_id": "tight", "name": "Tight", "monthly_budget_usd": 0.000001}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, tight) = app.create_key(&s, Some("tight"), json!({})).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&tight)
        .json(&ask("strong", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 402);
    assert!(json_of(res).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("monthly budget"));
}

#[tokio::test]
async fn grounded_chat_puts_a_context_pack_before_the_conversation() {
    let (base, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("grounded-chat@example.com").await;
    fund(&app, &s, 100.0).await;
    let note = app
        .create_note(
            &s,
            json!({"content": "The staging database is rebuilt every Sunday night."}),
        )
        .await;
    let mut body = ask("cheap", false);
    body["messages"] = json!([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "When is the staging database rebuilt?"}
    ]);
    body["cairn"] = json!({"context": {"max_tokens": 500}});
    let res = app.post("/v1/chat/completions", &s, body.clone()).await;
    assert_eq!(res.status(), 200);
    let out = json_of(res).await;
    assert_eq!(out["cairn"]["citations"][0]["id"], note.id.as_str());
    assert_eq!(out["cairn"]["citations"][0]["marker"], "[1]");
    let sent = seen.lock().unwrap().last().unwrap().0.clone();
    assert!(
        sent.get("cairn").is_none(),
        "the cairn object is not sent upstream"
    );
    assert_eq!(sent["messages"][0]["content"], "be brief");
    let context = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        context.contains("[1]") && context.contains("rebuilt every Sunday night"),
        "{context}"
    );
    assert_eq!(sent["messages"][2]["role"], "user");

    let trace_id = out["cairn"]["trace_id"].as_str().unwrap();
    let traces = json_of(app.get("/v1/harness/traces", &s).await).await;
    assert_eq!(traces["data"][0]["id"], trace_id);
    assert_eq!(traces["data"][0]["pack_id"], out["cairn"]["pack_id"]);

    assert_eq!(traces["data"][0]["trace_type"], "knowledge_reply");

    // A streamed reply is traced once the stream has ended: its text and its charge.
    body["stream"] = json!(true);
    let res = app.post("/v1/chat/completions", &s, body.clone()).await;
    let streamed_trace: String = header_of(&res, "x-cairn-trace-id");
    let text = res.text().await.unwrap();
    let cost: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix(": x-cairn-cost "))
        .and_then(|c| c.trim().parse().ok())
        .expect("the cost comment");
    let mut trace = Value::Null;
    for _ in 0..50 {
        let traces = json_of(app.get("/v1/harness/traces", &s).await).await;
        trace = traces["data"][0].clone();
        if trace["id"] == streamed_trace.as_str() && trace["trace_type"] == "knowledge_reply" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(trace["trace_type"], "knowledge_reply", "{trace}");
    assert!(
        !trace["output_summary"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{trace}"
    );
    assert!(
        (trace["charged_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{trace} vs {cost}"
    );
    body["cairn"] = json!({"context": {"colour": "red"}});
    body["stream"] = json!(false);
    assert_eq!(
        app.post("/v1/chat/completions", &s, body).await.status(),
        400
    );
}

#[tokio::test]
async fn the_official_openai_sdk_works_unchanged() {
    let python = crate::common::fixtures::sdk_python();
    let (base, _) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("sdk@example.com").await;
    fund(&app, &s, 100.0).await;
    let (_, key) = app.create_key(&s, None, json!({})).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_sdk.py");
    let base_url = app.url("/v1");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args([script, base_url.as_str(), key.as_str()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["chat"]["model"], "cheap");
    assert_eq!(r["chat"]["content"], "hello from ok-cheap");
    assert_eq!(r["chat"]["total_tokens"], 17);
    assert_eq!(r["stream"]["text"], "hello");
    assert_eq!(r["stream"]["completion_tokens"], 5);
    assert_eq!(r["models"][0], "auto");
    assert_eq!(r["embeddings"], json!({"count": 2, "dim": 384}));
    assert_eq!(r["error"]["type"], "NotFoundError");
    assert_eq!(r["error"]["status"], 404);
}
