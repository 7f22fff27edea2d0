use std::sync::{Arc, Mutex};

use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::common::{json_of, TestApp};

/// A loopback upstream speaking OpenAI's wire format; the upstream model name picks the
/// behaviour: `ok-*` answers, `fail-500` fails, `rate-429` is rate limited, `cut-*` streams
/// two chunks and stops without `[DONE]`.
async fn upstream() -> (String, Arc<Mutex<Vec<(Value, bool)>>>) {
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/v1"), seen)
}

fn config(dir: &std::path::Path, base: &str) -> std::path::PathBuf {
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

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 50,
           "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn routes_by_mode_fails_over_and_records_usage() {
    let (base, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &base);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("gateway@example.com").await;

    let res = app
        .post("/v1/chat/completions", &s, ask("cheap", false))
        .await;
    assert_eq!(res.status(), 200);
    let cost: f64 = res.headers()["x-cairn-cost"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
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

    // max: the two strongest fail (500 after a retry, then 429), the third answers.
    let body = json_of(
        app.post("/v1/chat/completions", &s, ask("max", false))
            .await,
    )
    .await;
    assert_eq!(body["model"], "max");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-strong"
    );
    let tried: Vec<String> = seen
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
        seen.lock().unwrap().iter().all(|(_, header)| *header),
        "provider headers are sent"
    );

    // auto prefers value; an alias names a model; tools pass through both ways.
    let body = json_of(
        app.post("/v1/chat/completions", &s, ask("auto", false))
            .await,
    )
    .await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-cheap"
    );
    let body = json_of(
        app.post("/v1/chat/completions", &s, ask("strong-alias", false))
            .await,
    )
    .await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-strong"
    );
    let mut with_tools = ask("strong", false);
    with_tools["tools"] = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
    let body = json_of(app.post("/v1/chat/completions", &s, with_tools).await).await;
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
    assert_eq!(
        seen.lock().unwrap().last().unwrap().0["tools"][0]["function"]["name"],
        "lookup"
    );

    // Unknown models and bad bodies get OpenAI-shaped errors.
    let res = app
        .post("/v1/chat/completions", &s, ask("nope", false))
        .await;
    assert_eq!(res.status(), 404);
    assert!(json_of(res).await["error"]["message"].is_string());
    let res = app
        .post(
            "/v1/chat/completions",
            &s,
            json!({"model": "auto", "messages": []}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(json_of(res).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("messages"));

    let usage = json_of(app.get("/v1/usage?limit=3", &s).await).await;
    assert_eq!(usage["has_more"], true);
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let all = json_of(app.get("/v1/usage", &s).await).await;
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

    let models = json_of(app.get("/v1/models", &s).await).await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[..3], ["auto", "fast", "max"]);
    assert!(ids.contains(&"cheap") && ids.contains(&"cheap-alias"));
    let pricing = app.client.get(app.url("/v1/pricing")).send().await.unwrap();
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

    let res = app
        .post("/v1/chat/completions", &s, ask("cheap", true))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = res.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 3, "{text}");
    assert!(events[0].contains("\"model\":\"cheap\""));
    assert_eq!(events[2], "data: [DONE]");
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
