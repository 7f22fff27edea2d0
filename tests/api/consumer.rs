//! `/v1/chat` and `/v1/plan` (seed 000's consumer endpoints) against a scripted loopback
//! provider registered over the admin API.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::common::api::{error_message, error_text};
use crate::common::{json_of, TestApp};

/// The text of the last message with `role` in a chat request.
fn last(body: &Value, role: &str) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == role)
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// What each upstream model answers: `drafter` writes "draft v1" and revises "draft vK" into
/// "draft vK+1"; `critic-picky` always finds a problem, `critic-happy` never; `json-fixer`
/// leaves out `age` until told its answer failed validation; `json-never` never answers JSON;
/// `thinker` wraps its JSON in a reasoning block.
fn script(body: &Value) -> String {
    match body["model"].as_str().unwrap_or_default() {
        "drafter" => match last(body, "assistant").strip_prefix("draft v") {
            Some(k) => format!("draft v{}", k.parse::<u32>().unwrap() + 1),
            None => "draft v1".into(),
        },
        "critic-picky" => "1. The plan lacks a rollback step.".into(),
        "critic-happy" => "NO MATERIAL ISSUES".into(),
        "json-fixer" if last(body, "user").contains("failed validation") => {
            r#"{"name": "x", "age": 3}"#.into()
        }
        "json-fixer" => r#"{"name": "x"}"#.into(),
        "thinker" => "<think>private reasoning</think>{\"name\": \"y\", \"age\": 1}".into(),
        _ => "not json at all".into(),
    }
}

async fn scripted_provider() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            axum::Json(json!({
                "id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": script(&body)}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
            }))
            .into_response()
        }),
    );
    // Providers are addressed up to /v1, as in the config file.
    format!("{}/v1", crate::common::fixtures::serve_router(app).await)
}

/// The operator (funded), a runtime key, and the scripted provider with one catalog model per
/// upstream name in `models`.
async fn setup(app: &TestApp, models: &[&str]) -> String {
    let base = scripted_provider().await;
    let admin = app.operator().await.to_string();
    super::gateway::fund(app, &admin, 10.0).await;
    let provider = json!({"id": "scripted", "type": "openai_compatible", "base_url": base});
    app.post_expect("/admin/v1/providers", &admin, provider, 200)
        .await;
    for upstream in models {
        let model = json!({"id": upstream, "provider_id": "scripted", "weight": 5,
                           "input_per_1k": 0.001, "output_per_1k": 0.002});
        app.post_expect("/admin/v1/models", &admin, model, 200)
            .await;
    }
    app.create_key(&admin, None, json!({})).await.1
}

fn ask(hint: &str, output_format: Value) -> Value {
    json!({"request": {"messages": [{"role": "user", "content": "Who is it?"}], "model_hint": hint,
                       "meta": {"ticket": 7}},
           "output_format": output_format})
}

const PERSON: &str = r#"{"type": "object", "required": ["name", "age"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}"#;

#[tokio::test]
async fn v1_chat_answers_in_the_envelope_and_repairs_an_invalid_json_answer_once() {
    let app = TestApp::spawn().await;
    let key = setup(&app, &["json-fixer", "json-never", "thinker"]).await;

    let format = json!({"type": "json", "schema": PERSON});
    let reply = app
        .post_expect("/v1/chat", &key, ask("json-fixer", format.clone()), 200)
        .await;
    assert_eq!(reply["output"], json!({"name": "x", "age": 3}), "{reply}");
    assert_eq!(reply["negotiated_model"], "json-fixer");
    assert_eq!(reply["routing_reason"], "named");
    assert_eq!(reply["meta"], json!({"ticket": 7}));
    let one_call = 100.0 / 1000.0 * 0.001 + 50.0 / 1000.0 * 0.002;
    let cost = reply["estimated_cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 2.0 * one_call).abs() < 1e-9,
        "two calls charged: {cost}"
    );

    let res = app
        .post("/v1/chat", &key, ask("json-never", format.clone()))
        .await;
    let message = error_message(res, 502).await;
    assert!(message.contains("failed validation twice"), "{message}");

    let think = json!({"type": "json", "schema": PERSON, "strip_think": true});
    let reply = app
        .post_expect("/v1/chat", &key, ask("thinker", think), 200)
        .await;
    assert_eq!(reply["output"], json!({"name": "y", "age": 1}));
    let content = reply["response"]["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    assert!(!content.contains("think"), "{content}");

    // Text answers pass through; the request's policy narrows routing.
    let reply = app
        .post_expect("/v1/chat", &key, ask("json-never", json!({})), 200)
        .await;
    assert_eq!(reply["output"], Value::Null);
    let capped = json!({"request": {"messages": [{"role": "user", "content": "hi"}]},
                        "policy": {"mode": "high_confidence", "max_budget_usd": 1e-9}});
    let res = app.post("/v1/chat", &key, capped).await;
    assert!(error_text(res, 503).await.contains("routing policy"));

    let bad = [
        (
            ask("thinker", json!({"type": "xml"})),
            "output_format.type:",
        ),
        (
            ask("thinker", json!({"type": "json", "schema": "{not json"})),
            "output_format.schema:",
        ),
        (
            ask("thinker", json!({"type": "json", "schema": {"type": 12}})),
            "output_format.schema.type:",
        ),
        (
            json!({"request": {"messages": [], "model_hint": "thinker"}}),
            "request.messages:",
        ),
        (
            json!({"request": {"messages": [{"role": "user", "content": "x"}], "stream": true}}),
            "request.stream:",
        ),
        (
            json!({"request": {"messages": [{"role": "user", "content": "x"}]}, "policy": {"mode": "fastest"}}),
            "policy.mode:",
        ),
    ];
    for (body, field) in bad {
        let res = app.post("/v1/chat", &key, body.clone()).await;
        let message = error_message(res, 400).await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
}

fn plan(reviewer: &str, iterations: u32, extra: Value) -> Value {
    let mut o = json!({"mode": "adversarial", "iterations": iterations, "primary_model_id": "drafter",
                       "review_model_id": reviewer, "max_tokens": 50});
    if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    json!({"request": {"messages": [{"role": "user", "content": "Plan the database migration."}]},
           "orchestration": o})
}

#[tokio::test]
async fn v1_plan_revises_until_the_review_is_satisfied_or_the_budget_runs_out() {
    let app = TestApp::spawn().await;
    let key = setup(&app, &["drafter", "critic-picky", "critic-happy"]).await;

    // A picky reviewer: every round revises, up to the iterations asked.
    let run = app
        .post_expect("/v1/plan", &key, plan("critic-picky", 2, json!({})), 200)
        .await;
    assert_eq!(run["stopped"], "iterations", "{run}");
    let revisions: Vec<&str> = run["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_str().unwrap())
        .collect();
    assert_eq!(revisions, ["draft v2", "draft v3"]);
    assert_eq!(
        run["response"]["choices"][0]["message"]["content"],
        "draft v3"
    );
    assert_eq!(run["negotiated_model"], "drafter");
    assert_eq!(run["review_model"], "critic-picky");

    // A satisfied reviewer ends the run after its first review.
    let body = plan("critic-happy", 3, json!({"return_plan_only": true}));
    let run = app.post_expect("/v1/plan", &key, body, 200).await;
    assert_eq!(run["stopped"], "no_material_issues");
    assert_eq!(run["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(run["rounds"][0]["material"], false);
    assert_eq!(run["response"], json!({"plan": "draft v1"}));

    // A budget for about three calls: the run stops inside it.
    let budget = 0.00045;
    let body = plan("critic-picky", 5, json!({"max_budget_usd": budget}));
    let run = app.post_expect("/v1/plan", &key, body, 200).await;
    assert_eq!(run["stopped"], "budget", "{run}");
    assert!(run["rounds"].as_array().unwrap().len() < 5);
    let spent = run["estimated_cost_usd"].as_f64().unwrap();
    assert!(spent <= budget + 1e-12, "spent {spent} of {budget}");

    let res = app
        .post("/v1/plan", &key, plan("critic-picky", 9, json!({})))
        .await;
    assert!(error_message(res, 400)
        .await
        .starts_with("orchestration.iterations:"));
    let mut streaming = plan("critic-picky", 1, json!({}));
    streaming["request"]["parameters"] = json!({"stream": true});
    let res = app.post("/v1/plan", &key, streaming).await;
    assert!(error_message(res, 400)
        .await
        .starts_with("request.parameters.stream:"));
    let mut wrong = plan("critic-picky", 1, json!({}));
    wrong["orchestration"]["mode"] = json!("consensus");
    let res = app.post("/v1/plan", &key, wrong).await;
    assert!(error_message(res, 400)
        .await
        .starts_with("orchestration.mode:"));

    // Every call of a run is a usage row of its own kind.
    let usage = json_of(app.get("/v1/usage?request_type=plan&limit=100", &key).await).await;
    assert!(usage["data"].as_array().unwrap().len() >= 6, "{usage}");
}
