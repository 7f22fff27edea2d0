//! Workspace and account isolation across the runtime routes.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use serde_json::json;

use crate::common::{json_of, TestApp};

#[tokio::test]
async fn a_key_bound_to_workspace_a_gets_404_for_workspace_b() {
    let app = TestApp::spawn().await;
    let session = app.register("iso@example.com").await;
    let (alpha_key, _) = app.two_workspaces(&session).await;

    assert_eq!(
        app.get("/v1/workspaces/alpha", &alpha_key).await.status(),
        200
    );
    for other in ["beta", "default", "does-not-exist"] {
        let res = app
            .get(&format!("/v1/workspaces/{other}"), &alpha_key)
            .await;
        assert_eq!(res.status(), 404, "{other}");
        // The same answer for an existing and a missing workspace: nothing leaks.
        assert_eq!(json_of(res).await["error"], "Workspace not found");
    }
}

#[tokio::test]
async fn one_account_cannot_see_or_touch_another_accounts_data() {
    let app = TestApp::spawn().await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    app.create_workspace(&a, "alpha").await;
    let (a_key_id, _) = app.create_key(&a, Some("alpha"), json!({})).await;
    let (_, b_key) = app.create_key(&b, None, json!({})).await;

    assert_eq!(app.get("/v1/workspaces/alpha", &b).await.status(), 404);
    assert_eq!(app.get("/v1/workspaces/alpha", &b_key).await.status(), 404);
    let patch = app
        .patch("/v1/workspaces/alpha", &b, json!({"name": "pwned"}))
        .await;
    assert_eq!(patch.status(), 404);
    let del = app.delete(&format!("/v1/keys/{a_key_id}"), &b).await;
    assert_eq!(del.status(), 404);
    let b_keys = json_of(app.get("/v1/keys", &b).await).await;
    assert!(!b_keys.to_string().contains(&a_key_id));
    let b_spaces = json_of(app.get("/v1/workspaces", &b).await).await;
    assert!(!b_spaces.to_string().contains("alpha"));
    // B's own workspace named alpha is independent of A's.
    app.create_workspace(&b, "alpha").await;
    let a_view = json_of(app.get("/v1/workspaces/alpha", &a).await).await;
    assert_eq!(a_view["name"], "alpha");
    assert_eq!(app.get("/v1/keys", &a).await.status(), 200);
    assert_eq!(
        json_of(app.get("/v1/keys", &a).await).await["data"][0]["id"],
        a_key_id
    );
}
