//! Separation of duties, performed as the attacks they stop: the agent's own key tries to
//! approve its own requests, approve its own notes, rewrite the policies that guard it, forge
//! audit rows and hand itself privileged scopes; each attempt fails over HTTP against the real
//! binary. Each test starts the real binary ([`crate::common::TestApp`]).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestApp;

/// A reviewer's session (a registered user) and a runtime key of its account.
async fn reviewer_and_agent(app: &TestApp) -> (String, String) {
    let reviewer = app.register("reviewer@example.com").await;
    let (_, agent) = app.create_key(&reviewer, None, json!({})).await;
    (reviewer, agent)
}

fn email_check() -> Value {
    json!({"app": "gwen", "mission_id": "m1", "tool_ref": "email", "action_type": "communication",
           "operation": "send"})
}

/// Opens a pending approval for an email send, requested by `caller`.
async fn pending_approval(app: &TestApp, reviewer: &str, caller: &str) -> String {
    let (status, _) = app
        .post_json(
            "/v1/actions/policies",
            reviewer,
            json!({"name": "email needs a human", "tool_ref": "email", "effect": "require_approval"}),
        )
        .await;
    assert!(status == 201 || status == 200, "{status}");
    let (status, checked) = app
        .post_json("/v1/actions/check", caller, email_check())
        .await;
    assert_eq!(status, 200);
    assert_eq!(checked["decision"], "require_approval");
    checked["approval_id"].as_str().unwrap().to_string()
}

async fn decide(app: &TestApp, who: &str, id: &str) -> (u16, Value) {
    app.post_json(
        &format!("/v1/actions/approvals/{id}/decide"),
        who,
        json!({"decision": "approve"}),
    )
    .await
}

/// The error text: `message`, or `error` where the seeds' shape has no message (401, 403).
fn message(body: &Value) -> &str {
    body["message"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agent_key_cannot_decide_the_approval_it_asked_for() {
    let app = TestApp::spawn().await;
    let (reviewer, agent) = reviewer_and_agent(&app).await;
    let id = pending_approval(&app, &reviewer, &agent).await;
    let (status, body) = decide(&app, &agent, &id).await;
    assert_eq!(status, 403);
    assert!(message(&body).contains("`review`"), "{body}");

    // Even a key that holds `review` cannot decide what it asked for itself.
    let (_, both) = app
        .create_key(
            &reviewer,
            None,
            json!({"scopes": ["actions:check", "review"]}),
        )
        .await;
    let own = pending_approval(&app, &reviewer, &both).await;
    let (status, body) = decide(&app, &both, &own).await;
    assert_eq!(status, 403, "{body}");

    // The human reviewer decides; the audit trail shows two different actors.
    let (status, decided) = decide(&app, &reviewer, &id).await;
    assert_eq!(status, 200);
    let audit = app.get_json("/v1/actions/audit", &reviewer).await;
    let of = |event: &str| {
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["approval_id"] == id.as_str() && a["event"] == event)
            .map(|a| a["recorded_by"].clone())
            .unwrap_or_default()
    };
    assert_ne!(of("checked"), of("approved"));
    assert_eq!(of("approved"), decided["decided_by"]);
}

#[tokio::test]
async fn a_runtime_key_cannot_write_a_policy_that_outranks_the_operators_deny() {
    let app = TestApp::spawn().await;
    let (reviewer, agent) = reviewer_and_agent(&app).await;
    let (status, _) = app
        .post_json(
            "/v1/actions/policies",
            &reviewer,
            json!({"name": "no email", "tool_ref": "email", "effect": "deny"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .post_json(
            "/v1/actions/policies",
            &agent,
            json!({"name": "let me", "tool_ref": "email", "operation": "send", "effect": "allow",
                   "priority": 1000}),
        )
        .await;
    assert_eq!(status, 403);
    assert!(message(&body).contains("`policy`"), "{body}");
    let (_, checked) = app
        .post_json("/v1/actions/check", &agent, email_check())
        .await;
    assert_eq!(checked["decision"], "deny");
}

#[tokio::test]
async fn agents_report_what_they_did_but_cannot_forge_approvals() {
    let app = TestApp::spawn().await;
    let (_, agent) = reviewer_and_agent(&app).await;
    for forged in ["approved", "rejected", "expired"] {
        let (status, body) = app
            .post_json(
                "/v1/actions/audit",
                &agent,
                json!({"event": forged, "tool_ref": "email"}),
            )
            .await;
        assert_eq!(status, 400, "{forged}");
        assert!(message(&body).starts_with("event:"), "{body}");
    }
    let (status, _) = app
        .post_json(
            "/v1/actions/audit",
            &agent,
            json!({"event": "executed", "tool_ref": "email"}),
        )
        .await;
    assert_eq!(status, 201);
}

/// An inferred note waits for review; returns its id.
async fn pending_note(app: &TestApp, writer: &str, external_id: &str) -> String {
    let (status, note) = app
        .post_json(
            "/v1/memory/notes",
            writer,
            json!({"content": "The customer prefers email", "inferred": true,
                   "external_source": "crm", "external_id": external_id}),
        )
        .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(note["status"], "pending");
    note["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_agent_cannot_approve_its_own_pending_note_by_any_route() {
    let app = TestApp::spawn().await;
    let (reviewer, agent) = reviewer_and_agent(&app).await;
    let id = pending_note(&app, &agent, "n1").await;
    let path = format!("/v1/memory/notes/{id}");
    let (status, _) = app
        .post_json(&format!("{path}/approve"), &agent, json!({}))
        .await;
    assert_eq!(status, 403, "approve route");
    let res = app
        .patch(&path, &agent, json!({"status": "approved"}))
        .await;
    assert_eq!(res.status(), 403, "PATCH status");
    let (status, body) = app
        .post_json(
            "/v1/memory/notes",
            &agent,
            json!({"content": "The customer prefers email", "status": "approved",
                   "external_source": "crm", "external_id": "n1"}),
        )
        .await;
    assert_eq!(status, 409, "upsert with a status: {body}");
    let still = app.get_json(&path, &reviewer).await;
    assert_eq!(still["status"], "pending");

    let (status, approved) = app
        .post_json(&format!("{path}/approve"), &reviewer, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(approved["status"], "approved");
}

#[tokio::test]
async fn the_writer_of_a_pending_note_cannot_review_it_even_as_a_reviewer() {
    let app = TestApp::spawn().await;
    let (reviewer, _) = reviewer_and_agent(&app).await;
    let id = pending_note(&app, &reviewer, "n2").await;
    let (status, body) = app
        .post_json(
            &format!("/v1/memory/notes/{id}/reject"),
            &reviewer,
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    assert!(message(&body).contains("writer"), "{body}");
}

#[tokio::test]
async fn nobody_hands_out_more_scopes_than_their_role_holds() {
    let app = TestApp::spawn().await;
    let member = app.user_with_role("member@example.com", "member").await;
    let reviewer = app.register("reviewer@example.com").await;
    let create = |session: String, scopes: Value| {
        let app = &app;
        async move {
            app.post_json("/v1/keys", &session, json!({"name": "k", "scopes": scopes}))
                .await
        }
    };
    let (status, _) = create(member.clone(), json!(["memory:read", "review"])).await;
    assert_eq!(status, 403);
    let (status, _) = create(reviewer.clone(), json!(["admin"])).await;
    assert_eq!(status, 403);
    let (status, body) = create(reviewer.clone(), json!(["memory:read", "root"])).await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("scopes[1]:"), "{body}");
    let (status, key) = create(reviewer.clone(), json!(["review", "memory:read"])).await;
    assert_eq!(status, 200);
    assert_eq!(key["scopes"], json!(["memory:read", "review"]));
    let (status, key) = create(member, json!(null)).await;
    assert_eq!(status, 200);
    assert!(!key["scopes"].as_array().unwrap().contains(&json!("review")));
}

#[tokio::test]
async fn a_key_scoped_to_memory_read_may_pack_context_but_not_remember() {
    let app = TestApp::spawn().await;
    let reviewer = app.register("reviewer@example.com").await;
    let (_, reader) = app
        .create_key(&reviewer, None, json!({"scopes": ["memory:read"]}))
        .await;
    let (status, _) = app
        .post_json(
            "/v1/memory/context-pack",
            &reader,
            json!({"query": "what does the customer prefer?"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post_json("/v1/memory/notes", &reader, json!({"content": "x"}))
        .await;
    assert_eq!(status, 403);
    assert!(message(&body).contains("`memory:write`"), "{body}");
    let res = app
        .post(
            "/v1/chat/completions",
            &reader,
            json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(res.status(), 403, "no chat scope");
}

#[tokio::test]
async fn only_admins_manage_roles_and_a_demotion_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let reviewer = app.register("reviewer@example.com").await;
    assert_eq!(app.get("/v1/users", &reviewer).await.status(), 403);
    let operator = app.operator().await.to_string();
    let users = app.get_json("/v1/users", &operator).await;
    let id_of = |email: &str| {
        users["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .map(|u| u["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (reviewer_id, operator_id) = (id_of("reviewer@example.com"), id_of("operator@example.com"));
    let set = |id: String, who: String, role: &'static str| {
        let app = &app;
        async move {
            app.request(
                Method::PATCH,
                &format!("/v1/users/{id}"),
                Some(&who),
                Some(json!({ "role": role })),
            )
            .await
            .status()
        }
    };
    assert_eq!(
        set(operator_id.clone(), reviewer.clone(), "member").await,
        403
    );
    assert_eq!(
        set(operator_id, operator.clone(), "member").await,
        409,
        "last admin"
    );
    assert_eq!(
        set(reviewer_id.clone(), operator.clone(), "boss").await,
        400
    );
    assert_eq!(
        set("no-such-user".into(), operator.clone(), "member").await,
        404
    );

    let (_, agent) = app.create_key(&reviewer, None, json!({})).await;
    let id = pending_approval(&app, &reviewer, &agent).await;
    assert_eq!(set(reviewer_id, operator, "member").await, 200);
    let (status, _) = decide(&app, &reviewer, &id).await;
    assert_eq!(status, 403, "the same session token, demoted");
}

#[tokio::test]
async fn activating_a_harness_version_needs_a_reviewer() {
    let app = TestApp::spawn().await;
    let (reviewer, agent) = reviewer_and_agent(&app).await;
    let version = |activate: bool| json!({"name": "v2", "config": {"note": "be careful"}, "activate": activate});
    let (status, body) = app
        .post_json("/v1/harness/versions", &agent, version(true))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app
        .post_json("/v1/harness/versions", &agent, version(false))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post_json("/v1/harness/versions", &reviewer, version(true))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn an_archived_workspace_keeps_its_data_readable_and_refuses_writes() {
    let app = TestApp::spawn().await;
    let reviewer = app.register("reviewer@example.com").await;
    app.create_workspace(&reviewer, "old").await;
    let (status, _) = app
        .post_json(
            "/v1/memory/notes",
            &reviewer,
            json!({"workspace_id": "old", "content": "kept"}),
        )
        .await;
    assert_eq!(status, 201);
    let res = app
        .patch(
            "/v1/workspaces/old",
            &reviewer,
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, body) = app
        .post_json(
            "/v1/memory/notes",
            &reviewer,
            json!({"workspace_id": "old", "content": "new"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let listed = app
        .get_json("/v1/memory/notes?workspace_id=old", &reviewer)
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .post_json(
            "/v1/memory/context-pack",
            &reviewer,
            json!({"workspace_id": "old", "query": "kept"}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_openapi_document_names_the_scope_each_route_needs() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    let security =
        |path: &str, method: &str| doc["paths"][path][method]["security"][0]["bearer"].clone();
    assert_eq!(
        security("/v1/actions/approvals/{id}/decide", "post"),
        json!(["review"])
    );
    assert_eq!(
        security("/v1/memory/context-pack", "post"),
        json!(["memory:read"])
    );
    assert_eq!(security("/v1/actions/policies", "post"), json!(["policy"]));
    assert!(doc["paths"]["/v1/actions/policies"]["post"]["responses"]["403"].is_object());
}
