//! Self-hosted model endpoints: discovery, routing preference, rechecks and privacy.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::response::IntoResponse;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::api::strings_of;
use crate::common::fixtures::local_completion;
use crate::common::{json_of, TestApp};

/// A self-hosted OpenAI-compatible server (Ollama-like): `/v1/models` and chat completions,
/// both behind a bearer token; while `up` is false every route answers 503.
async fn local_server(up: Arc<AtomicBool>) -> String {
    let authorized = |h: &axum::http::HeaderMap| {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer internal-token")
    };
    let (up1, up2) = (up.clone(), up);
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(move |h: axum::http::HeaderMap| {
                let up = up1.load(Ordering::SeqCst);
                async move {
                    if !up {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                    if !authorized(&h) {
                        return axum::http::StatusCode::UNAUTHORIZED.into_response();
                    }
                    axum::Json(json!({"object": "list", "data": [
                        {"id": "llama3.2", "object": "model"}, {"id": "qwen2.5", "object": "model"}]}))
                    .into_response()
                }
            }),
        )
        .route(
            "/v1/chat/completions",
            axum::routing::post(
                move |h: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let up = up2.load(Ordering::SeqCst);
                    async move {
                        if !up || !authorized(&h) {
                            return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                        }
                        axum::Json(local_completion(&body, 1000, 500)).into_response()
                    }
                },
            ),
        );
    crate::common::fixtures::serve_router(app).await
}

async fn answer_of(app: &TestApp, key: &str, model: &str) -> (u16, Value) {
    app.chat(
        key,
        // Room for the 500 completion tokens the server reports: a charge never exceeds the
        // request's hold.
        json!({"model": model, "max_tokens": 500, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

/// A server with the managed mock models, a funded user with a key, and the user's local
/// endpoint `home-ollama` (token-protected, up).
struct Local {
    app: TestApp,
    s: String,
    key: String,
    url: String,
    /// The id of `home-ollama`.
    id: String,
    _dir: tempfile::TempDir,
}

/// Registration checks the server and discovers its models; the token stays secret.
async fn register_home_ollama() -> Local {
    let (managed, _) = super::gateway::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = super::gateway::config(dir.path(), &managed);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.admin("local@example.com").await;
    super::gateway::fund(&app, &s, 10.0).await;
    let (_, key) = app.create_key(&s, None, json!({})).await;

    let url = local_server(Arc::new(AtomicBool::new(true))).await;
    let res = app
        .post(
            "/v1/local-endpoints",
            &s,
            json!({"url": url, "label": "home-ollama", "default_model": "llama3.2",
                   "headers": {"Authorization": "Bearer internal-token"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(!text.contains("internal-token"), "{text}");
    let ep: Value = serde_json::from_str(&text).unwrap();
    let id = ep["id"].as_str().unwrap().to_string();
    assert_eq!(ep["status"], "healthy");
    assert_eq!(ep["models"], json!(["llama3.2", "qwen2.5"]));
    assert_eq!(ep["header_names"], json!(["Authorization"]));
    let models = json_of(
        app.get(&format!("/v1/local-endpoints/{id}/models"), &s)
            .await,
    )
    .await;
    assert_eq!(models["data"].as_array().unwrap().len(), 2);
    assert_eq!(models["data"][0]["default"], true);
    Local {
        app,
        s,
        key,
        url,
        id,
        _dir: dir,
    }
}

/// A server that is down is saved as unreachable and skipped; a recheck brings it back.
/// Returns the id of that endpoint (`gpu-box`).
async fn register_a_down_server_and_recheck(l: &Local) -> String {
    let (app, s, key) = (&l.app, &l.s, &l.key);
    let down = Arc::new(AtomicBool::new(false));
    let down_url = local_server(down.clone()).await;
    let res = app
        .post(
            "/v1/local-endpoints",
            s,
            json!({"url": format!("{down_url}/v1"), "label": "gpu-box", "default_model": "llama3.2",
                   "headers": {"Authorization": "Bearer internal-token"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let second = json_of(res).await;
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(second["status"], "unreachable");
    assert!(second["last_error"].as_str().unwrap().contains("503"));
    assert_eq!(answer_of(app, key, "gpu-box/llama3.2").await.0, 503);
    down.store(true, Ordering::SeqCst);
    let res = app
        .post(
            &format!("/v1/local-endpoints/{second_id}/recheck"),
            s,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["status"], "healthy");
    let (status, body) = answer_of(app, key, "gpu-box/llama3.2").await;
    assert_eq!(status, 200, "{body}");
    second_id
}

/// Disables `home-ollama` (a refused patch changes nothing) and deletes `second_id`: routing
/// goes back to the managed models.
async fn disable_and_delete(l: &Local, second_id: &str) {
    let (app, s, id) = (&l.app, &l.s, &l.id);
    let res = app
        .patch(
            &format!("/v1/local-endpoints/{id}"),
            s,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["enabled"], false);
    for (path, body, status) in [
        (
            format!("/v1/local-endpoints/{id}"),
            json!({"url": "ftp://x"}),
            400,
        ),
        (
            format!("/v1/local-endpoints/{id}"),
            json!({"label": "a b"}),
            400,
        ),
        (
            format!("/v1/local-endpoints/{id}"),
            json!({"status": "healthy"}),
            400,
        ),
        (
            "/v1/local-endpoints/nope".to_string(),
            json!({"enabled": true}),
            404,
        ),
    ] {
        let res = app
            .request(Method::PATCH, &path, Some(s), Some(body.clone()))
            .await;
        assert_eq!(res.status(), status, "{path} {body}");
    }
    let unchanged = json_of(app.get(&format!("/v1/local-endpoints/{id}"), s).await).await;
    assert_eq!(
        (unchanged["label"].as_str(), unchanged["enabled"].as_bool()),
        (Some("home-ollama"), Some(false))
    );
    let res = app
        .delete(&format!("/v1/local-endpoints/{second_id}"), s)
        .await;
    assert_eq!(res.status(), 200);
    let (_, body) = answer_of(app, &l.key, "auto").await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-cheap"
    );
    let left = json_of(app.get("/v1/local-endpoints", s).await).await;
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_local_endpoint_is_registered_with_its_models_and_a_secret_token() {
    register_home_ollama().await;
}

#[tokio::test]
async fn auto_prefers_a_local_endpoint_and_charges_5_percent_of_the_baseline() {
    let l = register_home_ollama().await;
    let (app, s, key) = (&l.app, &l.s, &l.key);
    let (status, body) = answer_of(app, key, "auto").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "local llama3.2");
    assert_eq!(body["model"], "auto");
    let (_, body) = answer_of(app, key, "qwen2.5").await;
    assert_eq!(body["choices"][0]["message"]["content"], "local qwen2.5");
    let (_, body) = answer_of(app, key, "home-ollama/qwen2.5").await;
    assert_eq!(body["choices"][0]["message"]["content"], "local qwen2.5");
    let usage = json_of(app.get("/v1/usage", s).await).await;
    let row = &usage["data"][2];
    assert_eq!(row["execution_source"], "local_endpoint");
    assert_eq!(row["actual_cost_usd"], 0.0);
    let (charged, baseline) = (
        row["charged_usd"].as_f64().unwrap(),
        row["baseline_usd"].as_f64().unwrap(),
    );
    assert!(baseline > 0.0);
    assert!(
        (charged - 0.05 * baseline).abs() < 1e-12,
        "{charged} vs {baseline}"
    );
    let listed = json_of(app.get("/v1/models", key).await).await;
    let ids = strings_of(&listed["data"], "id");
    assert!(ids.contains(&"home-ollama/llama3.2") && ids.contains(&"qwen2.5"));
}

#[tokio::test]
async fn another_account_neither_sees_nor_routes_to_a_local_endpoint() {
    let l = register_home_ollama().await;
    let (app, id) = (&l.app, &l.id);
    let other = app.register("other-local@example.com").await;
    super::gateway::fund(app, &other, 10.0).await;
    let (_, other_key) = app.create_key(&other, None, json!({})).await;
    assert_eq!(
        app.get(&format!("/v1/local-endpoints/{id}"), &other)
            .await
            .status(),
        404
    );
    let theirs = json_of(app.get("/v1/local-endpoints", &other).await).await;
    assert_eq!(theirs["data"], json!([]));
    let (_, body) = answer_of(app, &other_key, "auto").await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from ok-cheap"
    );
    assert_eq!(answer_of(app, &other_key, "qwen2.5").await.0, 404);
    let listed = json_of(app.get("/v1/models", &other_key).await).await;
    assert!(!listed.to_string().contains("qwen2.5"));
}

#[tokio::test]
async fn a_down_server_is_skipped_until_a_recheck_finds_it_up() {
    let l = register_home_ollama().await;
    register_a_down_server_and_recheck(&l).await;
}

#[tokio::test]
async fn disabled_or_deleted_endpoints_leave_routing_to_the_managed_models() {
    let l = register_home_ollama().await;
    let second_id = register_a_down_server_and_recheck(&l).await;
    disable_and_delete(&l, &second_id).await;
}

#[tokio::test]
async fn an_endpoint_bound_to_a_workspace_serves_only_that_workspace() {
    let l = register_home_ollama().await;
    let second_id = register_a_down_server_and_recheck(&l).await;
    // With home-ollama disabled, what answers the lab's `auto` can only be the lab's box.
    disable_and_delete(&l, &second_id).await;
    let (app, s, key) = (&l.app, &l.s, &l.key);
    app.create_workspace(s, "lab").await;
    let res = app
        .post(
            "/v1/local-endpoints",
            s,
            json!({"url": l.url, "label": "lab-box", "workspace_id": "lab",
                   "headers": {"Authorization": "Bearer internal-token"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(json_of(res).await["workspace_id"], "lab");
    let lab = json_of(app.get("/v1/local-endpoints?workspace_id=lab", s).await).await;
    assert_eq!(lab["data"].as_array().unwrap().len(), 1);
    assert_eq!(answer_of(app, key, "lab-box/qwen2.5").await.0, 404);
    let listed = json_of(app.get("/v1/models", key).await).await;
    assert!(!listed.to_string().contains("lab-box/"), "{listed}");
    let (_, lab_key) = app.create_key(s, Some("lab"), json!({})).await;
    let listed = json_of(app.get("/v1/models", &lab_key).await).await;
    assert!(listed.to_string().contains("lab-box/qwen2.5"), "{listed}");
    let (_, body) = answer_of(app, &lab_key, "auto").await;
    assert_eq!(body["choices"][0]["message"]["content"], "local llama3.2");
}

#[tokio::test]
async fn local_endpoint_input_is_checked() {
    let app = TestApp::spawn().await;
    let s = app.admin("local-bad@example.com").await;
    let (_, key) = app.create_key(&s, None, json!({})).await;
    for (body, field) in [
        (json!({"url": "ftp://host", "label": "a"}), "url"),
        (json!({"url": "not a url", "label": "a"}), "url"),
        (
            json!({"url": "http://127.0.0.1:9", "label": "two words"}),
            "label",
        ),
        (json!({"url": "http://127.0.0.1:9", "label": ""}), "label"),
        (
            json!({"url": "http://127.0.0.1:9", "label": "a", "headers": {"bad header": "x"}}),
            "headers",
        ),
        (
            json!({"url": "http://127.0.0.1:9", "label": "a", "surprise": 1}),
            "surprise",
        ),
        (json!({"label": "a"}), "url"),
        (
            json!({"url": "http://127.0.0.1:9", "label": "a", "workspace_id": "nope"}),
            "Workspace",
        ),
    ] {
        let res = app.post("/v1/local-endpoints", &s, body.clone()).await;
        assert!(
            matches!(res.status().as_u16(), 400 | 404),
            "{body}: {}",
            res.status()
        );
        let error = json_of(res).await;
        let message = format!("{} {}", error["error"], error["message"]);
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(
        app.post(
            "/v1/local-endpoints",
            &key,
            json!({"url": "http://127.0.0.1:9", "label": "a"})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post("/v1/local-endpoints/nope/recheck", &s, json!({}))
            .await
            .status(),
        404
    );
    let list = json_of(app.get("/v1/local-endpoints", &s).await).await;
    assert_eq!(list["data"], json!([]), "nothing half-written");
}
