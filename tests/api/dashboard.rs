//! The dashboard end to end: the real binary, Debian's Chromium headless driven by
//! playwright-core (`web/e2e/run.mjs`, installed by `make setup`). This test seeds what the
//! flows need (a pending memory, an action waiting for approval, usage, a member) and runs the
//! script, which logs in, works the review queue, uploads and searches a source, reads the
//! usage charts, unlocks the vault and adds a provider, checks every page with axe-core and
//! writes a screenshot of each to `web/e2e/out/`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::admin::provider;
use crate::common::api::error_text;
use crate::common::TestApp;

/// `node web/e2e/run.mjs`, with the npm packages `make setup` installs.
fn browser() -> Command {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "web/node_modules is missing: run `make setup`"
    );
    let mut node = Command::new("node");
    node.arg("e2e/run.mjs").current_dir(&web);
    node
}

/// Prints what the browser run said and fails the test unless it passed.
fn succeeded(out: &std::process::Output) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{said}");
    assert!(out.status.success(), "the browser run failed:\n{said}");
}

const NOTE: &str = "The staging database is restored from backup every Sunday at 02:00 UTC.";
const TOOL: &str = "payments.refund";

#[tokio::test]
async fn a_reviewer_works_the_dashboard_in_a_real_browser_and_a_member_cannot_reach_what_the_role_hides(
) {
    let upstream = provider().await;
    let app = TestApp::spawn_with(&[("CAIRN__VAULT__MODE", "password")]).await;
    let admin = app.operator().await.to_string();
    let (_, key) = app.create_key(&admin, None, json!({})).await;

    // An agent's memory waiting for review, and an action waiting for approval.
    let note = json!({"content": NOTE, "status": "pending", "kind": "fact"});
    let res = app.post("/v1/memory/notes", &key, note).await;
    assert!(res.status().is_success(), "{}", res.status());
    let policy =
        json!({"name": "refunds need a person", "tool_ref": TOOL, "effect": "require_approval"});
    app.post("/v1/actions/policies", &admin, policy).await;
    let check = json!({"app": "support-agent", "tool_ref": TOOL, "action_type": "spend",
                       "requested_amount_usd": 42.0, "risk_level": "medium", "mission_id": "ticket-981"});
    let (status, verdict) = app.post_json("/v1/actions/check", &key, check).await;
    assert_eq!(
        (status, verdict["decision"].as_str()),
        (200, Some("require_approval"))
    );
    let mission =
        json!({"mission_id": "ticket-981", "title": "Refund ticket 981", "app": "support-agent"});
    assert_eq!(
        app.post_json("/v1/harness/missions", &key, mission).await.0,
        201
    );
    // Usage for the charts: embeddings through the in-process model.
    let res = app
        .post(
            "/v1/embeddings",
            &key,
            json!({"input": ["usage for the chart"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A member: the API itself refuses what the dashboard hides from it.
    let member = app.user_with_role("member@example.com", "member").await;
    assert!(error_text(app.get("/admin/v1/info", &member).await, 403)
        .await
        .contains("admin"));
    assert_eq!(app.get("/v1/events", &member).await.status(), 403);
    let decide = json!({"decision": "approve"});
    let res = app
        .post("/v1/actions/approvals/any/decide", &member, decide)
        .await;
    assert_eq!(res.status(), 403);

    let out = browser()
        .env("CAIRN_URL", app.url(""))
        .env("CAIRN_PASSWORD", "s3cret-password")
        .env("CAIRN_ADMIN_EMAIL", "operator@example.com")
        .env("CAIRN_MEMBER_EMAIL", "member@example.com")
        .env("CAIRN_PROVIDER_URL", &upstream)
        .env("CAIRN_PENDING_NOTE", NOTE)
        .env("CAIRN_PENDING_TOOL", TOOL)
        .env("CAIRN_AGENT_KEY", &key)
        .output()
        .expect("node runs");
    succeeded(&out);

    // What the browser did is what the API now says.
    let pending = app
        .get_json("/v1/memory/notes?status=pending", &admin)
        .await;
    assert_eq!(pending["data"], json!([]));
    let rejected = app
        .get_json("/v1/memory/notes?status=rejected", &admin)
        .await;
    assert_eq!(rejected["data"].as_array().map(Vec::len), Some(1));
    let approvals = app
        .get_json("/v1/actions/approvals?status=approved", &admin)
        .await;
    assert_eq!(approvals["data"][0]["decision_note"], "fine this once");
    let providers = app.get_json("/admin/v1/providers", &admin).await;
    assert_eq!(providers["items"][0]["id"], "e2e-provider");
    assert_eq!(providers["items"][0]["api_key_set"], true);
}

#[tokio::test]
async fn a_fresh_install_opens_on_first_time_setup_and_the_printed_token_makes_the_first_admin() {
    let app = TestApp::spawn().await;
    let token = app
        .setup_token()
        .await
        .expect("a fresh server prints a setup token");
    let out = browser()
        .env("CAIRN_E2E_MODE", "setup")
        .env("CAIRN_URL", app.url(""))
        .env("CAIRN_SETUP_TOKEN", token)
        .env("CAIRN_ADMIN_EMAIL", "first-admin@example.com")
        .env("CAIRN_PASSWORD", "s3cret-password")
        .output()
        .expect("node runs");
    succeeded(&out);
    // The admin the browser made signs in over the API too; setup is done.
    let session = app.login("first-admin@example.com").await;
    let me = crate::common::json_of(app.get("/api/auth/me", &session).await).await;
    assert_eq!(me["role"], "admin");
    let status = crate::common::json_of(app.get_public("/v1/setup").await).await;
    assert_eq!(status["pending"], false);
}
