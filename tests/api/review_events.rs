//! `GET /v1/events`: the reviewers' live stream carries the memory and approval events of the
//! caller's own workspaces and nothing of another account's; a check's dry run decides
//! without recording.

use serde_json::json;

use super::admin::read_events;
use crate::common::TestApp;

#[tokio::test]
async fn a_reviewer_follows_its_own_workspaces_pending_work_and_never_another_accounts() {
    let app = TestApp::spawn().await;
    let admin = app.operator().await.to_string();
    let (_, key) = app.create_key(&admin, None, json!({})).await;
    let other = app.register("other@example.com").await;
    let (_, other_key) = app.create_key(&other, None, json!({})).await;

    let mut res = app
        .client
        .get(app.url("/v1/events"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Another account's pending note first, then this account's note and approval.
    let secret =
        json!({"content": "The other account's launch date is March 3.", "status": "pending"});
    assert!(app
        .post("/v1/memory/notes", &other_key, secret)
        .await
        .status()
        .is_success());
    let mine = json!({"content": "Deploys freeze on Fridays.", "status": "pending"});
    let note = app.post("/v1/memory/notes", &key, mine).await;
    let note_id = crate::common::json_of(note).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = json!({"name": "wires", "tool_ref": "bank.wire", "effect": "require_approval"});
    app.post("/v1/actions/policies", &admin, policy).await;
    let check = json!({"app": "agent", "tool_ref": "bank.wire", "action_type": "spend", "requested_amount_usd": 5.0});

    // A dry run decides like the check but records nothing and asks nobody.
    let mut dry = check.clone();
    dry["dry_run"] = json!(true);
    let refused = app.post("/v1/actions/check", &key, dry.clone()).await;
    assert_eq!(refused.status(), 403, "a dry run needs the policy scope");
    let (status, verdict) = app.post_json("/v1/actions/check", &admin, dry).await;
    assert_eq!(
        (status, verdict["decision"].as_str()),
        (200, Some("require_approval"))
    );
    assert_eq!(
        (
            verdict["approval_id"].is_null(),
            verdict["audit_id"].as_str()
        ),
        (true, Some(""))
    );
    let pending = app
        .get_json("/v1/actions/approvals?status=pending", &admin)
        .await;
    assert_eq!(pending["data"], json!([]));

    let (_, verdict) = app.post_json("/v1/actions/check", &key, check).await;
    let approval_id = verdict["approval_id"].as_str().unwrap().to_string();
    let text = read_events(&mut res, "event: approval").await;
    assert!(text.contains(&note_id), "{text}");
    assert!(text.contains(&approval_id), "{text}");
    assert!(text.contains("\"status\":\"pending\""), "{text}");
    assert_eq!(
        text.matches("event: memory_note").count(),
        1,
        "only this account's note: {text}"
    );

    // A runtime key without the review scope cannot follow it.
    assert_eq!(app.get("/v1/events", &key).await.status(), 403);
}
