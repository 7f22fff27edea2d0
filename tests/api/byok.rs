//! Customer provider keys (BYOK), embeddings routed to a provider's model, and grounded
//! replies traced: against the real binary and a loopback OpenAI-compatible provider that
//! says which key it was called with.

use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::admin::SECRET;
use crate::common::api::{error_message, error_text, header_of};
use crate::common::fixtures::local_completion;
use crate::common::{json_of, TestApp};

const CUSTOMER: &str = "sk-cust-5b1e0d77aa";

/// Which key a request carried: `managed`, `byok`, or None (refused with 401).
fn key_of(h: &axum::http::HeaderMap) -> Option<&'static str> {
    match h.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(a) if a == format!("Bearer {SECRET}") => Some("managed"),
        Some(a) if a == format!("Bearer {CUSTOMER}") => Some("byok"),
        _ => None,
    }
}

/// Chat completions whose `id` names the key used, and embeddings of three numbers
/// (`fail-500` always fails).
async fn provider() -> String {
    let chat = |h: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| async move {
        let Some(which) = key_of(&h) else {
            return axum::http::StatusCode::UNAUTHORIZED.into_response();
        };
        let mut answer = local_completion(&body, 10, 20);
        answer["id"] = json!(which);
        axum::Json(answer).into_response()
    };
    let embed = |h: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| async move {
        let Some(which) = key_of(&h) else {
            return axum::http::StatusCode::UNAUTHORIZED.into_response();
        };
        if body["model"] == "fail-500" {
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
        }
        let inputs: Vec<&str> = match &body["input"] {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            one => one.as_str().into_iter().collect(),
        };
        let n = inputs.len();
        // One token a word: never more than Cairn's own count, which the hold covers.
        let words: usize = inputs.iter().map(|s| s.split_whitespace().count()).sum();
        let data: Vec<Value> = (0..n)
            .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.5, -0.25, 0.125]}))
            .collect();
        axum::Json(
            json!({"object": "list", "data": data, "model": body["model"], "key": which,
                          "usage": {"prompt_tokens": words, "total_tokens": words}}),
        )
        .into_response()
    };
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .route("/v1/embeddings", axum::routing::post(embed));
    format!("{}/v1", crate::common::fixtures::serve_router(app).await)
}

/// The operator's funded session and a runtime key, the provider `mock` (the operator's key
/// in the vault) and the chat model `m` (1 USD per 1k tokens in and out).
async fn setup(app: &TestApp) -> (String, String) {
    let admin = app.operator().await.to_string();
    super::gateway::fund(app, &admin, 100.0).await;
    let (_, key) = app.create_key(&admin, None, json!({})).await;
    let base = provider().await;
    let body =
        json!({"id": "mock", "type": "openai_compatible", "base_url": base, "api_key": SECRET});
    app.post_expect("/admin/v1/providers", &admin, body, 200)
        .await;
    let m = json!({"id": "m", "provider_id": "mock", "upstream": "up-m", "weight": 3,
                   "input_per_1k": 1.0, "output_per_1k": 1.0});
    app.post_expect("/admin/v1/models", &admin, m, 200).await;
    (admin, key)
}

/// Which key served a chat with `m`, and what it cost.
async fn chat_key(app: &TestApp, key: &str) -> (String, f64) {
    let body =
        json!({"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let res = app.post("/v1/chat/completions", key, body).await;
    assert_eq!(res.status(), 200);
    let cost: f64 = header_of(&res, "x-cairn-cost");
    let answer = json_of(res).await;
    (answer["id"].as_str().unwrap().to_string(), cost)
}

#[tokio::test]
async fn a_customer_key_serves_its_accounts_requests_charged_only_the_fee_and_is_never_shown() {
    let app = TestApp::spawn_logging(&[]).await;
    let (admin, key) = setup(&app).await;
    let (which, managed_cost) = chat_key(&app, &key).await;
    assert_eq!(which, "managed");
    assert!(
        (managed_cost - 0.03).abs() < 1e-9,
        "30 tokens at 1 USD per 1k: {managed_cost}"
    );

    // Only a dashboard session manages provider keys; bad input names its field.
    let body = json!({"provider": "mock", "label": "mine", "secret": CUSTOMER});
    let res = app.post("/v1/provider-keys", &key, body.clone()).await;
    assert!(error_text(res, 403).await.contains("session"));
    let res = app
        .post(
            "/v1/provider-keys",
            &admin,
            json!({"provider": "nope", "secret": CUSTOMER}),
        )
        .await;
    assert!(error_message(res, 400).await.starts_with("provider:"));
    let res = app
        .post(
            "/v1/provider-keys",
            &admin,
            json!({"provider": "mock", "secret": "a b"}),
        )
        .await;
    assert!(error_message(res, 400).await.starts_with("secret:"));

    let created = app
        .post_expect("/v1/provider-keys", &admin, body, 201)
        .await;
    assert_eq!(
        (created["created"].as_bool(), created["provider"].as_str()),
        (Some(true), Some("mock"))
    );
    assert_eq!(created["prefix"], "sk-cust");
    let id = created["id"].as_str().unwrap().to_string();

    // The account's requests to that provider now carry its key, charged 5% (the default fee).
    let (which, byok_cost) = chat_key(&app, &key).await;
    assert_eq!(which, "byok");
    assert!(
        (byok_cost - managed_cost * 0.05).abs() < 1e-9,
        "{byok_cost}"
    );
    let logs = app.get_json("/admin/v1/logs?limit=1", &admin).await;
    assert_eq!(logs["items"][0]["execution_source"], "byok");
    assert_eq!(logs["items"][0]["actual_cost_usd"], 0.0);

    // Listed with its prefix and its last success; the secret never leaves.
    let mut listed = Value::Null;
    for _ in 0..50 {
        listed = app.get_json("/v1/provider-keys", &admin).await;
        if listed["data"][0]["last_success_at"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["data"][0]["status"], "active");
    assert!(listed["data"][0]["last_success_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(CUSTOMER));

    // Another account sees none of it and cannot delete it.
    let other = app.register("other@example.com").await;
    let theirs = app.get_json("/v1/provider-keys", &other).await;
    assert_eq!(theirs["data"], json!([]));
    let path = format!("/v1/provider-keys/{id}");
    assert_eq!(app.delete(&path, &other).await.status(), 404);

    // Deleted: the operator's key serves again at once.
    let deleted = json_of(app.delete(&path, &admin).await).await;
    assert_eq!(deleted, json!({"deleted": true, "id": id}));
    assert_eq!(chat_key(&app, &key).await.0, "managed");
    assert!(
        !app.log_text().contains(CUSTOMER),
        "the key is never logged"
    );
}

#[tokio::test]
async fn a_workspace_key_wins_over_the_accounts_for_that_workspace_only() {
    let app = TestApp::spawn().await;
    let (admin, _) = setup(&app).await;
    app.create_workspace(&admin, "acme").await;
    let (_, acme_key) = app.create_key(&admin, Some("acme"), json!({})).await;
    let (_, default_key) = app.create_key(&admin, None, json!({})).await;
    let body = json!({"provider": "openai_compatible", "secret": CUSTOMER});
    let res = app.post("/v1/provider-keys", &admin, body).await;
    assert!(
        error_message(res, 400).await.starts_with("provider:"),
        "a kind shared by unrelated servers is no provider"
    );
    let body = json!({"provider": "mock", "secret": CUSTOMER, "workspace_id": "acme"});
    let created = app
        .post_expect("/v1/provider-keys", &admin, body, 201)
        .await;
    assert_eq!(created["workspace_id"], "acme");
    assert_eq!(chat_key(&app, &acme_key).await.0, "byok");
    assert_eq!(chat_key(&app, &default_key).await.0, "managed");
    let only = app
        .get_json("/v1/provider-keys?workspace_id=acme", &admin)
        .await;
    assert_eq!(only["data"][0]["workspace_name"], "acme");
}

#[tokio::test]
async fn embeddings_route_by_model_to_a_providers_embeddings_model_metered_like_chat() {
    let app = TestApp::spawn().await;
    let (admin, key) = setup(&app).await;
    let emb = json!({"id": "text-embedding-3-small", "provider_id": "mock", "upstream": "emb-up",
                     "weight": 1, "input_per_1k": 0.5, "output_per_1k": 0.0, "capabilities": ["embeddings"]});
    app.post_expect("/admin/v1/models", &admin, emb, 200).await;
    let broken = json!({"id": "broken-emb", "provider_id": "mock", "upstream": "fail-500",
                        "weight": 1, "capabilities": ["embeddings"]});
    app.post_expect("/admin/v1/models", &admin, broken, 200)
        .await;

    // The catalog model wins over the in-process model's alias of the same name.
    let body = json!({"model": "text-embedding-3-small", "input": ["one two three four", "five six seven eight"]});
    let res = app.post("/v1/embeddings", &key, body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header_of::<String>(&res, "x-cairn-model"),
        "text-embedding-3-small"
    );
    let cost: f64 = header_of(&res, "x-cairn-cost");
    assert!(
        (cost - 0.004).abs() < 1e-9,
        "8 tokens at 0.5 USD per 1k: {cost}"
    );
    let answer = json_of(res).await;
    assert_eq!(answer["model"], "text-embedding-3-small");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(answer["data"][1]["embedding"], json!([0.5, -0.25, 0.125]));
    let logs = app.get_json("/admin/v1/logs?limit=1", &admin).await;
    let row = &logs["items"][0];
    assert_eq!(
        (row["request_type"].as_str(), row["served_model"].as_str()),
        (Some("embeddings"), Some("text-embedding-3-small"))
    );
    assert_eq!(row["input_tokens"], 8);

    // A failing model is a 502, not another model's vectors; chat never routes to either.
    let res = app
        .post(
            "/v1/embeddings",
            &key,
            json!({"model": "broken-emb", "input": "x"}),
        )
        .await;
    assert_eq!(res.status(), 502);
    let chat =
        json!({"model": "text-embedding-3-small", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(
        app.post("/v1/chat/completions", &key, chat).await.status(),
        404
    );
    let res = app
        .post(
            "/v1/embeddings",
            &key,
            json!({"model": "nope", "input": "x"}),
        )
        .await;
    assert_eq!(res.status(), 404);

    // With the customer's own key, it is their key and the fee.
    let body = json!({"provider": "mock", "secret": CUSTOMER});
    app.post_expect("/v1/provider-keys", &admin, body, 201)
        .await;
    let body = json!({"model": "text-embedding-3-small", "input": "one two three four"});
    let res = app.post("/v1/embeddings", &key, body).await;
    assert_eq!(res.status(), 200);
    let cost: f64 = header_of(&res, "x-cairn-cost");
    assert!(
        (cost - 0.0001).abs() < 1e-12,
        "5% of 4 tokens at 0.5 USD per 1k: {cost}"
    );
    assert_eq!(json_of(res).await["key"], "byok");
}

#[tokio::test]
async fn a_grounded_reply_is_traced_with_its_text_cost_and_mission_and_its_rating_rewards_the_model(
) {
    let app = TestApp::spawn().await;
    let (admin, key) = setup(&app).await;
    let m = json!({"mission_id": "mission-7", "title": "Answer the customer"});
    let mission = app
        .post_expect("/v1/harness/missions", &admin, m, 201)
        .await;
    let body = json!({"model": "thompson", "max_tokens": 50, "metadata": {"mission_id": "mission-7"},
                      "messages": [{"role": "user", "content": "When does the office close on Friday?"}],
                      "cairn": {"context": {"max_tokens": 500}}});
    let res = app.post("/v1/chat/completions", &key, body).await;
    assert_eq!(res.status(), 200);
    let cost: f64 = header_of(&res, "x-cairn-cost");
    let answer = json_of(res).await;
    let trace_id = answer["cairn"]["trace_id"].as_str().unwrap().to_string();

    let detail = app
        .get_json(
            &format!("/v1/harness/missions/{}", mission["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    let trace = &detail["traces"][0];
    assert_eq!(trace["id"], trace_id.as_str());
    assert_eq!(trace["trace_type"], "knowledge_reply");
    assert_eq!(trace["output_summary"], "local up-m");
    assert_eq!(trace["metadata"]["usage"]["served_by"], "m");
    assert!((trace["charged_usd"].as_f64().unwrap() - cost).abs() < 1e-9);
    assert!((detail["usage"]["charged_usd"].as_f64().unwrap() - cost).abs() < 1e-9);
    assert_eq!(trace["metadata"]["usage"]["method"], "thompson");

    // Rating the reply rewards the model thompson picked, in the bucket it was picked in.
    let rated = json!({"trace_id": trace_id, "rating": 5});
    app.post_expect("/v1/harness/feedback", &key, rated, 201)
        .await;
    let rewards = app.get_json("/admin/v1/rewards", &admin).await;
    let from_feedback: Vec<&Value> = rewards["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"] == "feedback")
        .collect();
    assert_eq!(from_feedback.len(), 1, "{rewards}");
    assert_eq!(
        (
            from_feedback[0]["model_id"].as_str(),
            from_feedback[0]["reward"].as_f64()
        ),
        (Some("m"), Some(1.0))
    );
    assert_eq!(from_feedback[0]["bucket"], "xs");

    // A second rating of the same reply, and a trace a client wrote claiming a routing, reward
    // nothing.
    let again = json!({"trace_id": trace_id, "rating": 5});
    app.post_expect("/v1/harness/feedback", &key, again, 201)
        .await;
    let forged = json!({"trace_type": "knowledge_reply", "metadata": {"usage": {"served_by": "m",
                        "pick": {"bucket": "xs", "probability": 1.0}}}});
    let (_, forged) = app.post_json("/v1/harness/traces", &key, forged).await;
    let rated = json!({"trace_id": forged["id"], "rating": 5});
    app.post_expect("/v1/harness/feedback", &key, rated, 201)
        .await;
    let rewards = app.get_json("/admin/v1/rewards", &admin).await;
    let feedback_rows = rewards["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"] == "feedback")
        .count();
    assert_eq!(feedback_rows, 1, "{rewards}");
}
