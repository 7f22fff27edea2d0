//! Guardrails over HTTP: policies, checks, approvals and the audit trail.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{json_of, TestApp};

fn check_body(tool: &str, action_type: &str, extra: Value) -> Value {
    let mut body = json!({"app": "gwendolyn", "mission_id": "mission_123", "task_id": "task_456",
                          "actor_ref": "agent:gwen", "tool_ref": tool, "action_type": action_type});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

/// The two policies every scenario below starts from.
struct Policies {
    /// `email` needs a human (upserted by the external id `ops/p-email`).
    email: Value,
    /// No card spend over 500.
    deny: Value,
}

/// Creates the policies; sending the same external id again updates the policy in place.
async fn create_policies(app: &TestApp, s: &str) -> Policies {
    let (status, email) = app
        .post_json(
            "/v1/actions/policies",
            s,
            json!({"name": "email needs a human", "tool_ref": "email", "effect": "require_approval",
               "external_source": "ops", "external_id": "p-email"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, again) = app
        .post_json(
            "/v1/actions/policies",
            s,
            json!({"name": "email needs a human", "tool_ref": "email", "effect": "require_approval",
               "priority": 2, "external_source": "ops", "external_id": "p-email"}),
        )
        .await;
    assert_eq!(status, 200, "the same external id updates");
    assert_eq!(again["id"], email["id"]);
    assert_eq!(again["priority"], 2);
    let (_, deny) = app.post_json("/v1/actions/policies",
        s,
        json!({"name": "no card over 500", "action_type": "spend", "min_amount_usd": 500, "effect": "deny"}),
    )
    .await;
    let listed = app.get_json("/v1/actions/policies", s).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    Policies { email, deny }
}

/// A low-risk read is allowed by default, with no policy and no approval.
async fn check_a_low_risk_read(app: &TestApp, s: &str) {
    let (status, allowed) = app
        .post_json(
            "/v1/actions/check",
            s,
            check_body("calendar", "read", json!({"risk_level": "low"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(allowed["decision"], "allow");
    assert!(allowed["policy_id"].is_null());
    assert!(allowed["approval_id"].is_null());
}

/// A check matching the email policy opens a pending approval; returns its id.
async fn check_an_email(app: &TestApp, s: &str, policies: &Policies) -> String {
    let (_, needs) = app
        .post_json(
            "/v1/actions/check",
            s,
            check_body("email", "communication", json!({"operation": "send"})),
        )
        .await;
    assert_eq!(needs["decision"], "require_approval");
    assert_eq!(needs["policy_id"], policies.email["id"]);
    let approval_id = needs["approval_id"].as_str().unwrap().to_string();
    let pending = app
        .get_json(
            "/v1/actions/approvals?status=pending&mission_id=mission_123",
            s,
        )
        .await;
    assert_eq!(pending["data"][0]["id"], approval_id.as_str());
    assert_eq!(pending["data"][0]["request"]["tool_ref"], "email");
    approval_id
}

/// The approval is decided once by `reviewer`; a second decision is a conflict, an unknown
/// approval is not found.
async fn decide_once(app: &TestApp, s: &str, approval_id: &str, reviewer: &str) {
    let (status, decided) = app
        .post_json(
            &format!("/v1/actions/approvals/{approval_id}/decide"),
            s,
            json!({"decision": "approve", "note": "looks fine"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["decided_by"], reviewer);
    let (status, _) = app
        .post_json(
            &format!("/v1/actions/approvals/{approval_id}/decide"),
            s,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .post_json(
            "/v1/actions/approvals/nope/decide",
            s,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 404);
}

/// Spend over the ceiling is denied; high risk without a policy needs approval.
async fn check_a_spend_and_a_risky_command(app: &TestApp, s: &str, policies: &Policies) {
    let (_, denied) = app
        .post_json(
            "/v1/actions/check",
            s,
            check_body("card", "spend", json!({"requested_amount_usd": 750.0})),
        )
        .await;
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["policy_id"], policies.deny["id"]);
    let (_, risky) = app
        .post_json(
            "/v1/actions/check",
            s,
            check_body("shell", "code", json!({"risk_level": "critical"})),
        )
        .await;
    assert_eq!(risky["decision"], "require_approval");
}

/// The agent reports what it did; the same external id is recorded once, an unknown event
/// is refused.
async fn report_the_execution(app: &TestApp, s: &str, approval_id: &str) {
    let report = json!({"event": "executed", "app": "gwendolyn", "mission_id": "mission_123", "tool_ref": "email",
                        "approval_id": approval_id, "external_source": "gwen", "external_id": "run-1",
                        "detail": {"to": "ops@example.com"}});
    let (status, executed) = app.post_json("/v1/actions/audit", s, report.clone()).await;
    assert_eq!(status, 201);
    let (status, same) = app.post_json("/v1/actions/audit", s, report).await;
    assert_eq!(status, 200);
    assert_eq!(same["id"], executed["id"]);
    let (status, _) = app
        .post_json("/v1/actions/audit", s, json!({"event": "teleported"}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn policies_are_upserted_by_external_id() {
    let app = TestApp::spawn().await;
    let s = app.register("guard@example.com").await;
    create_policies(&app, &s).await;
}

#[tokio::test]
async fn checks_follow_policies_risk_and_amounts() {
    let app = TestApp::spawn().await;
    let s = app.register("guard@example.com").await;
    let policies = create_policies(&app, &s).await;
    check_a_low_risk_read(&app, &s).await;
    check_an_email(&app, &s, &policies).await;
    check_a_spend_and_a_risky_command(&app, &s, &policies).await;
}

#[tokio::test]
async fn an_approval_is_decided_once() {
    let app = TestApp::spawn().await;
    let s = app.register("guard@example.com").await;
    let reviewer = app.actor_of(&s).await;
    let policies = create_policies(&app, &s).await;
    // The agent asks; a second actor (the reviewer's session) decides.
    let (_, agent) = app.create_key(&s, None, json!({})).await;
    let approval_id = check_an_email(&app, &agent, &policies).await;
    decide_once(&app, &s, &approval_id, &reviewer).await;
}

#[tokio::test]
async fn an_execution_is_recorded_once_per_external_id() {
    let app = TestApp::spawn().await;
    let s = app.register("guard@example.com").await;
    let policies = create_policies(&app, &s).await;
    let approval_id = check_an_email(&app, &s, &policies).await;
    report_the_execution(&app, &s, &approval_id).await;
}

#[tokio::test]
async fn every_check_and_decision_is_in_the_trail_newest_first() {
    let app = TestApp::spawn().await;
    let s = app.register("guard@example.com").await;
    let reviewer = app.actor_of(&s).await;
    let policies = create_policies(&app, &s).await;
    check_a_low_risk_read(&app, &s).await;
    let (_, agent) = app.create_key(&s, None, json!({})).await;
    let approval_id = check_an_email(&app, &agent, &policies).await;
    decide_once(&app, &s, &approval_id, &reviewer).await;
    check_a_spend_and_a_risky_command(&app, &s, &policies).await;
    report_the_execution(&app, &s, &approval_id).await;

    let audit = app
        .get_json("/v1/actions/audit?mission_id=mission_123", &s)
        .await;
    let events: Vec<(String, String)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["event"].as_str().unwrap().to_string(),
                a["decision"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("executed", "-"),
        ("checked", "require_approval"),
        ("blocked", "deny"),
        ("approved", "require_approval"),
        ("checked", "require_approval"),
        ("checked", "allow"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, expected);
    let approved = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["event"] == "approved")
        .unwrap();
    assert_eq!(approved["recorded_by"], reviewer.as_str());
    assert_eq!(approved["approval_id"], approval_id.as_str());
    let page = app.get_json("/v1/actions/audit?limit=4", &s).await;
    let cursor = page["next_cursor"]
        .as_str()
        .unwrap()
        .replace(':', "%3A")
        .replace('|', "%7C");
    let rest = app
        .get_json(&format!("/v1/actions/audit?limit=4&cursor={cursor}"), &s)
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_policies_checks_and_queries_get_400() {
    let app = TestApp::spawn().await;
    let s = app.register("guard@example.com").await;
    for bad in [
        json!({"name": "x", "effect": "maybe"}),
        json!({"name": "x", "effect": "deny", "min_amount_usd": 10, "max_amount_usd": 5}),
        json!({"name": "x", "effect": "deny", "risk_level": "apocalyptic"}),
        json!({"name": " ", "effect": "deny"}),
    ] {
        let (status, body) = app.post_json("/v1/actions/policies", &s, bad.clone()).await;
        assert_eq!(status, 400, "{bad} {body}");
    }
    assert_eq!(
        app.get("/v1/actions/approvals?status=bogus", &s)
            .await
            .status(),
        400
    );
    assert_eq!(app.get("/v1/actions/audit?limit=0", &s).await.status(), 400);
    for bad in [
        json!({"app": "x", "action_type": "read"}),
        json!({"app": "x", "tool_ref": "t", "action_type": "read", "risk_level": "apocalyptic"}),
        json!({"app": "x", "tool_ref": "t", "action_type": "spend", "requested_amount_usd": -1}),
    ] {
        let (status, body) = app.post_json("/v1/actions/check", &s, bad.clone()).await;
        assert_eq!(status, 400, "{bad} {body}");
    }
}

#[tokio::test]
async fn approvals_expire_and_spend_counts_the_workspace_budget() {
    let app = TestApp::spawn_with(&[("CAIRN__GUARD__APPROVAL_TTL_SECS", "1")]).await;
    let s = app.register("expiry@example.com").await;
    let (_, needs) = app
        .post_json(
            "/v1/actions/check",
            &s,
            check_body("db", "write", json!({"access_level": "destructive"})),
        )
        .await;
    assert_eq!(needs["decision"], "require_approval");
    let id = needs["approval_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let listed = json_of(app.get("/v1/actions/approvals", &s).await).await;
    assert_eq!(listed["data"][0]["status"], "expired");
    let (status, body) = app
        .post_json(
            &format!("/v1/actions/approvals/{id}/decide"),
            &s,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 409);
    assert!(body["message"].as_str().unwrap().contains("expired"));
    let audit = json_of(app.get("/v1/actions/audit?event=expired", &s).await).await;
    assert_eq!(audit["data"][0]["approval_id"], id.as_str());

    let res = app
        .post(
            "/v1/workspaces",
            &s,
            json!({"workspace_id": "thrifty", "name": "Thrifty", "monthly_budget_usd": 100.0}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, _) = app.post_json("/v1/actions/audit",
        &s,
        json!({"workspace_id": "thrifty", "event": "executed", "action_type": "spend", "amount_usd": 80.0}),
    )
    .await;
    assert_eq!(status, 201);
    let small = check_body(
        "card",
        "spend",
        json!({"workspace_id": "thrifty", "requested_amount_usd": 15.0}),
    );
    assert_eq!(
        app.post_json("/v1/actions/check", &s, small).await.1["decision"],
        "allow"
    );
    let big = check_body(
        "card",
        "spend",
        json!({"workspace_id": "thrifty", "requested_amount_usd": 30.0}),
    );
    let (_, over) = app.post_json("/v1/actions/check", &s, big).await;
    assert_eq!(over["decision"], "deny");
    assert!(
        over["reasons"].to_string().contains("monthly budget"),
        "{over}"
    );
}

#[tokio::test]
async fn memory_writes_are_screened_for_secrets_and_review() {
    let app = TestApp::spawn().await;
    let s = app.register("screen@example.com").await;
    for secret in [
        "The deploy key is -----BEGIN OPENSSH PRIVATE KEY----- abc",
        "Use AKIAIOSFODNN7EXAMPLE for the backups bucket",
        "admin password is hunter2hunter2",
    ] {
        let (status, body) = app
            .post_json("/v1/memory/notes", &s, json!({"content": secret}))
            .await;
        assert_eq!(status, 422, "{secret}");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("looks like a secret"));
    }
    let listed = json_of(app.get("/v1/memory/notes", &s).await).await;
    assert!(listed["data"].as_array().unwrap().is_empty());
    // A batch with one secret writes nothing.
    let (status, _) = app.post_json("/v1/memory/batch",
        &s,
        json!({"notes": [{"content": "fine note", "external_id": "a"},
                         {"content": "token sk-proj-abcdefghijklmnopqrstuvwx", "external_id": "b"}]}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(json_of(app.get("/v1/memory/notes", &s).await).await["data"]
        .as_array()
        .unwrap()
        .is_empty());

    // Low confidence waits for review.
    let (_, unsure) = app
        .post_json(
            "/v1/memory/notes",
            &s,
            json!({"content": "The user may be vegetarian.", "confidence": 0.3}),
        )
        .await;
    assert_eq!(unsure["status"], "pending");
    assert!(unsure["metadata"]["review_reason"]
        .as_str()
        .unwrap()
        .contains("confidence"));

    // memory_write policies: decisions need approval, preferences are refused.
    app.post_json("/v1/actions/policies", &s, json!({"name": "review decisions", "action_type": "memory_write", "operation": "decision", "effect": "require_approval"})).await;
    app.post_json("/v1/actions/policies", &s, json!({"name": "no preferences", "action_type": "memory_write", "operation": "preference", "effect": "deny"})).await;
    let (_, decision) = app
        .post_json(
            "/v1/memory/notes",
            &s,
            json!({"content": "We chose Postgres for billing.", "kind": "decision"}),
        )
        .await;
    assert_eq!(decision["status"], "pending");
    let (status, _) = app
        .post_json(
            "/v1/memory/notes",
            &s,
            json!({"content": "Likes jazz.", "kind": "preference"}),
        )
        .await;
    assert_eq!(status, 422);
    let (_, fact) = app
        .post_json(
            "/v1/memory/notes",
            &s,
            json!({"content": "Billing runs nightly.", "kind": "fact"}),
        )
        .await;
    assert_eq!(fact["status"], "approved");
    // Action checks ignore memory_write policies and the other way round.
    let (_, check) = app
        .post_json(
            "/v1/actions/check",
            &s,
            check_body("notes", "write", json!({"operation": "decision"})),
        )
        .await;
    assert_eq!(check["decision"], "allow");

    drop(app);
    let app = TestApp::spawn_with(&[("CAIRN__GUARD__SECRET_NOTES", "redact")]).await;
    let s = app.register("redact@example.com").await;
    let (status, note) = app
        .post_json(
            "/v1/memory/notes",
            &s,
            json!({"content": "Backups use AKIAIOSFODNN7EXAMPLE nightly."}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(note["content"], "Backups use [REDACTED] nightly.");
    assert_eq!(note["metadata"]["redacted"], json!(["AWS access key"]));
}

#[tokio::test]
async fn guardrails_are_scoped_by_workspace() {
    let app = TestApp::spawn().await;
    let s = app.register("guardiso@example.com").await;
    app.create_workspace(&s, "alpha").await;
    app.create_workspace(&s, "beta").await;
    // Alpha's key may also write policies (a reviewer handed it `policy`).
    let (_, alpha) = app
        .create_key(
            &s,
            Some("alpha"),
            json!({"scopes": ["actions:check", "actions:report", "policy"]}),
        )
        .await;
    // Beta's key may decide approvals, so a 404 below is isolation, not a missing scope.
    let (_, beta) = app
        .create_key(
            &s,
            Some("beta"),
            json!({"scopes": ["actions:check", "actions:report", "review"]}),
        )
        .await;
    app.post_json(
        "/v1/actions/policies",
        &alpha,
        json!({"name": "deny shell", "tool_ref": "shell", "effect": "deny"}),
    )
    .await;
    let (_, needs) = app
        .post_json(
            "/v1/actions/check",
            &alpha,
            check_body("db", "write", json!({"access_level": "destructive"})),
        )
        .await;
    let approval = needs["approval_id"].as_str().unwrap().to_string();

    assert!(
        json_of(app.get("/v1/actions/policies", &beta).await).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        json_of(app.get("/v1/actions/approvals", &beta).await).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        json_of(app.get("/v1/actions/audit", &beta).await).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = app
        .post_json(
            &format!("/v1/actions/approvals/{approval}/decide"),
            &beta,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 404);
    // alpha's deny policy does not apply in beta
    let (_, shell) = app
        .post_json(
            "/v1/actions/check",
            &beta,
            check_body("shell", "code", json!({})),
        )
        .await;
    assert_eq!(shell["decision"], "allow");
    let (status, _) = app
        .post_json(
            "/v1/actions/check",
            &alpha,
            check_body("shell", "code", json!({"workspace_id": "beta"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_policy_is_replaced_in_place_and_only_in_its_own_workspace() {
    let app = TestApp::spawn().await;
    let s = app.register("policy-edit@example.com").await;
    let (_, first) = app
        .post_json(
            "/v1/actions/policies",
            &s,
            json!({"name": "refunds", "tool_ref": "pay.refund", "effect": "require_approval"}),
        )
        .await;
    let sourced =
        json!({"name": "wires", "effect": "deny", "external_source": "ops", "external_id": "w1"});
    app.post_json("/v1/actions/policies", &s, sourced).await;
    let path = format!("/v1/actions/policies/{}", first["id"].as_str().unwrap());

    let edit = json!({"name": "refunds", "tool_ref": "pay.refund", "effect": "allow", "priority": 9, "enabled": false});
    let res = app.put(&path, &s, edit).await;
    assert_eq!(res.status(), 200);
    let edited = json_of(res).await;
    assert_eq!(
        (edited["id"].clone(), edited["created_at"].clone()),
        (first["id"].clone(), first["created_at"].clone())
    );
    assert_eq!(
        (
            edited["effect"].as_str(),
            edited["priority"].as_i64(),
            edited["enabled"].as_bool()
        ),
        (Some("allow"), Some(9), Some(false))
    );
    let listed = json_of(app.get("/v1/actions/policies", &s).await).await;
    assert_eq!(
        listed["data"].as_array().map(Vec::len),
        Some(2),
        "replaced, not added"
    );

    // Another policy's external pair is a conflict; bad input names its field.
    let taken = json!({"name": "refunds", "effect": "allow", "external_source": "ops", "external_id": "w1"});
    assert_eq!(app.put(&path, &s, taken).await.status(), 409);
    let named = json!({"name": "refunds", "effect": "allow", "external_source": "ops", "external_id": "r1"});
    assert_eq!(app.put(&path, &s, named).await.status(), 200);
    let again = json!({"name": "refunds v2", "effect": "deny", "external_source": "ops", "external_id": "r1"});
    let (status, upserted) = app.post_json("/v1/actions/policies", &s, again).await;
    assert_eq!(
        (status, upserted["id"].clone()),
        (200, first["id"].clone()),
        "the stored pair finds it"
    );
    let bad =
        json!({"name": "refunds", "effect": "allow", "min_amount_usd": 5.0, "max_amount_usd": 1.0});
    let res = app.put(&path, &s, bad).await;
    assert!(crate::common::api::error_message(res, 400)
        .await
        .starts_with("max_amount_usd:"));

    // A runtime key without the policy scope cannot; another account cannot reach it.
    let (_, key) = app.create_key(&s, None, json!({})).await;
    let edit = json!({"name": "refunds", "effect": "allow"});
    assert_eq!(app.put(&path, &key, edit).await.status(), 403);
    let other = app.register("policy-other@example.com").await;
    let edit = json!({"name": "mine now", "effect": "allow"});
    assert_eq!(app.put(&path, &other, edit).await.status(), 404);
}
