//! Workspaces: creation, listing and settings.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use serde_json::{json, Value};

use crate::common::api::{expect_json, strings_of};
use crate::common::{json_of, TestApp};

#[tokio::test]
async fn workspaces_are_created_listed_and_patched() {
    let app = TestApp::spawn().await;
    let session = app.register("w@example.com").await;
    let ws = app.post_expect("/v1/workspaces", &session, json!({"workspace_id": "acme-support", "name": "Acme Support", "monthly_budget_usd": 250, "metadata": {"tier": "gold"}}), 200).await;
    assert_eq!(ws["workspace_id"], "acme-support");
    assert_eq!(ws["status"], "active");
    assert_eq!(ws["monthly_budget_usd"], 250.0);
    assert_eq!(ws["metadata"]["tier"], "gold");

    let taken = json!({"workspace_id": "acme-support", "name": "x"});
    app.post_expect("/v1/workspaces", &session, taken, 409)
        .await;

    let list = app.get_json("/v1/workspaces", &session).await;
    let slugs = strings_of(&list["data"], "workspace_id");
    assert_eq!(slugs, ["default", "acme-support"]);

    let archive = json!({"name": "Acme", "status": "archived"});
    let res = app
        .patch("/v1/workspaces/acme-support", &session, archive)
        .await;
    let patched: Value = expect_json(res, 200).await;
    assert_eq!(patched["name"], "Acme");
    assert_eq!(patched["status"], "archived");
    assert_eq!(
        patched["monthly_budget_usd"], 250.0,
        "absent fields are left alone"
    );

    let res = app
        .patch(
            "/v1/workspaces/acme-support",
            &session,
            json!({"monthly_budget_usd": null}),
        )
        .await;
    assert!(
        json_of(res).await["monthly_budget_usd"].is_null(),
        "null clears the budget"
    );

    let missing = app
        .patch("/v1/workspaces/nope", &session, json!({"name": "x"}))
        .await;
    assert_eq!(missing.status(), 404);
}
