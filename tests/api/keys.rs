//! API keys: creation, binding to a workspace, scope and revocation.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use reqwest::Method;
use serde_json::json;

use crate::common::{json_of, TestApp};

#[tokio::test]
async fn register_login_workspace_key_then_runtime_call_with_the_key() {
    let app = TestApp::spawn().await;
    app.register("owner@example.com").await;
    let session = app.login("owner@example.com").await;
    app.create_workspace(&session, "acme-support").await;

    let created = app.post_expect("/v1/keys", &session, json!({"name": "production", "workspace_id": "acme-support", "metadata": {"team": "a"}}), 200).await;
    let secret = created["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tok_"));
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["workspace_id"], "acme-support");
    assert_eq!(created["workspace_name"], "acme-support");

    let ws = app.get_json("/v1/workspaces/acme-support", &secret).await;
    assert_eq!(ws["workspace_id"], "acme-support");

    // Runtime routes: the key ingests into its workspace and searches it.
    let source = app
        .create_source(
            &secret,
            json!({"text": "Runtime keys reach runtime routes."}),
        )
        .await;
    assert_eq!(source.workspace_id, "acme-support");
    let hits = app
        .search(&secret, json!({"query": "runtime routes", "mode": "bm25"}))
        .await;
    assert_eq!(hits.data[0].text, "Runtime keys reach runtime routes.");

    let list = app.get_json("/v1/keys", &session).await;
    assert_eq!(list["object"], "list");
    let row = &list["data"][0];
    assert_eq!(row["keyPrefix"], created["prefix"]);
    assert!(
        row["lastUsedAt"].is_string(),
        "the key's use is recorded: {row}"
    );
    assert!(row.get("key").is_none(), "secrets are never listed");
    assert!(!list.to_string().contains(&secret));
}

#[tokio::test]
async fn a_runtime_key_on_a_management_route_gets_403() {
    let app = TestApp::spawn().await;
    let session = app.register("m@example.com").await;
    let (_, secret) = app.create_key(&session, None, json!({})).await;
    for (method, path) in [
        (Method::GET, "/v1/keys"),
        (Method::POST, "/v1/keys"),
        (Method::GET, "/v1/workspaces"),
        (Method::GET, "/api/auth/me"),
    ] {
        let res = app
            .request(method.clone(), path, Some(&secret), Some(json!({})))
            .await;
        assert_eq!(res.status(), 403, "{method} {path}");
        assert_eq!(
            json_of(res).await["error"],
            "Session authentication required"
        );
    }
}

#[tokio::test]
async fn deleted_keys_stop_working_immediately() {
    let app = TestApp::spawn().await;
    let session = app.register("d@example.com").await;
    let (id, secret) = app.create_key(&session, None, json!({})).await;
    assert_eq!(
        app.get("/v1/workspaces/default", &secret).await.status(),
        200
    );
    let res = app.delete(&format!("/v1/keys/{id}"), &session).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await, json!({"deleted": true, "id": id}));
    assert_eq!(
        app.get("/v1/workspaces/default", &secret).await.status(),
        401
    );
    let again = app.delete(&format!("/v1/keys/{id}"), &session).await;
    assert_eq!(again.status(), 404);
    assert_eq!(app.get_json("/v1/keys", &session).await["data"], json!([]));
}

#[tokio::test]
async fn keys_for_an_unknown_workspace_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.register("u@example.com").await;
    let res = app
        .post("/v1/keys", &session, json!({"workspace_id": "missing"}))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(json_of(res).await["error"], "Workspace not found");
}
