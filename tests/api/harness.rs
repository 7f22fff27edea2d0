//! The agent harness: missions, versions, traces, feedback and reflections.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::api::pack_item_ids;
use crate::common::{json_of, TestApp};

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let res = app
        .request(Method::PATCH, path, Some(token), Some(body))
        .await;
    let status = res.status().as_u16();
    (status, json_of(res).await)
}

/// Creates mission `mission_123`, then upserts it by its mission id and by its external
/// pair (which sets it running); a mission with neither is refused. Returns its id.
async fn upsert_mission(app: &TestApp, s: &str) -> String {
    let body = json!({"mission_id": "mission_123", "external_source": "gwendolyn",
                      "external_id": "mission:mission_123", "app": "gwendolyn", "title": "Plan the offsite"});
    let (status, m) = app.post_json("/v1/harness/missions", s, body.clone()).await;
    assert_eq!(status, 201);
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!(m["status"], "active");
    let (status, again) = app
        .post_json(
            "/v1/harness/missions",
            s,
            json!({"mission_id": "mission_123", "progress": 0.25}),
        )
        .await;
    assert_eq!(status, 200, "upsert by mission_id");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["title"], "Plan the offsite");
    let (status, by_ext) = app.post_json("/v1/harness/missions",
        s,
        json!({"external_source": "gwendolyn", "external_id": "mission:mission_123", "status": "running"}),
    )
    .await;
    assert_eq!(status, 200, "upsert by the external pair");
    assert_eq!(by_ext["id"], id.as_str());
    let (status, _) = app
        .post_json("/v1/harness/missions", s, json!({"title": "no identity"}))
        .await;
    assert_eq!(status, 400);
    id
}

/// Records progress and the outcome; a progress over 1 is refused.
async fn patch_mission(app: &TestApp, s: &str, id: &str) {
    let (status, patched) = patch(
        app,
        &format!("/v1/harness/missions/{id}"),
        s,
        json!({"progress": 0.5, "outcome": "venue booked", "success": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["progress"], 0.5);
    assert_eq!(patched["success"], true);
    let (status, _) = patch(
        app,
        &format!("/v1/harness/missions/{id}"),
        s,
        json!({"progress": 2}),
    )
    .await;
    assert_eq!(status, 400);
}

/// A step is upserted by its step_ref and marked done; an unknown step is not found.
async fn record_a_step(app: &TestApp, s: &str, id: &str) {
    let step = json!({"step_ref": "task_456:step_1", "task_id": "task_456", "title": "Shortlist venues",
                      "metadata": {"mission_id": "mission_123", "task_id": "task_456"}});
    let (status, st) = app
        .post_json(&format!("/v1/harness/missions/{id}/steps"), s, step)
        .await;
    assert_eq!(status, 201);
    assert_eq!(st["status"], "pending");
    let (status, st2) = app
        .post_json(
            &format!("/v1/harness/missions/{id}/steps"),
            s,
            json!({"step_ref": "task_456:step_1", "status": "running"}),
        )
        .await;
    assert_eq!(status, 200, "upsert by step_ref");
    assert_eq!(st2["id"], st["id"]);
    assert_eq!(st2["title"], "Shortlist venues");
    let step_id = st["id"].as_str().unwrap();
    let (status, done) = patch(
        app,
        &format!("/v1/harness/missions/{id}/steps/{step_id}"),
        s,
        json!({"status": "done", "detail": "three venues"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(done["status"], "done");
    let (status, _) = patch(
        app,
        &format!("/v1/harness/missions/{id}/steps/nope"),
        s,
        json!({"status": "done"}),
    )
    .await;
    assert_eq!(status, 404);
}

/// An artifact with content is recorded (returned); one without is refused.
async fn record_an_artifact(app: &TestApp, s: &str, id: &str) -> Value {
    let (status, art) = app
        .post_json(
            &format!("/v1/harness/missions/{id}/artifacts"),
            s,
            json!({"kind": "email", "title": "Venue request", "content": "Dear venue..."}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post_json(
            &format!("/v1/harness/missions/{id}/artifacts"),
            s,
            json!({"kind": "file"}),
        )
        .await;
    assert_eq!(status, 400);
    art
}

#[tokio::test]
async fn missions_are_upserted_by_mission_id_or_external_pair() {
    let app = TestApp::spawn().await;
    let s = app.register("missions@example.com").await;
    upsert_mission(&app, &s).await;
}

#[tokio::test]
async fn mission_progress_is_patched_within_range() {
    let app = TestApp::spawn().await;
    let s = app.register("missions@example.com").await;
    let id = upsert_mission(&app, &s).await;
    patch_mission(&app, &s, &id).await;
}

#[tokio::test]
async fn mission_steps_are_upserted_by_step_ref() {
    let app = TestApp::spawn().await;
    let s = app.register("missions@example.com").await;
    let id = upsert_mission(&app, &s).await;
    record_a_step(&app, &s, &id).await;
}

#[tokio::test]
async fn mission_artifacts_need_content() {
    let app = TestApp::spawn().await;
    let s = app.register("missions@example.com").await;
    let id = upsert_mission(&app, &s).await;
    record_an_artifact(&app, &s, &id).await;
}

#[tokio::test]
async fn the_mission_detail_shows_what_was_recorded_against_it() {
    let app = TestApp::spawn().await;
    let s = app.register("missions@example.com").await;
    let id = upsert_mission(&app, &s).await;
    patch_mission(&app, &s, &id).await;
    record_a_step(&app, &s, &id).await;
    let art = record_an_artifact(&app, &s, &id).await;

    // Things recorded against the mission id show up in its detail.
    let (_, check) = app.post_json("/v1/actions/check", &s, json!({"app": "gwendolyn", "mission_id": "mission_123",
        "tool_ref": "card", "action_type": "spend", "risk_level": "high", "requested_amount_usd": 900})).await;
    assert_eq!(check["decision"], "require_approval");
    let (status, trace) = app
        .post_json(
            "/v1/harness/traces",
            &s,
            json!({"trace_type": "knowledge_reply",
        "mission_id": "mission_123", "task_id": "task_456", "input_summary": "find venues",
        "output_summary": "three venues", "charged_usd": 0.02,
        "context": {"documents": [], "memories": []}}),
        )
        .await;
    assert_eq!(status, 201);
    let detail = json_of(app.get(&format!("/v1/harness/missions/{id}"), &s).await).await;
    assert_eq!(detail["mission"]["mission_id"], "mission_123");
    assert_eq!(detail["steps"][0]["status"], "done");
    assert_eq!(detail["artifacts"][0]["id"], art["id"]);
    assert_eq!(detail["approvals"][0]["id"], check["approval_id"]);
    assert_eq!(detail["audit"][0]["approval_id"], check["approval_id"]);
    assert_eq!(detail["traces"][0]["id"], trace["id"]);
    assert_eq!(detail["usage"]["charged_usd"], 0.02);
    let listed = json_of(app.get("/v1/harness/missions?status=running", &s).await).await;
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(app.get("/v1/harness/missions/nope", &s).await.status(), 404);
}

/// Two notes about standups: `strong` matches the query better, `weak` is more important.
struct Standups {
    strong: Value,
    weak: Value,
}

async fn two_standup_notes(app: &TestApp, s: &str) -> Standups {
    let (_, strong) = app
        .post_json(
            "/v1/memory/notes",
            s,
            json!({"content": "Standups happen at 9:30 in the main room.", "importance": 0.1}),
        )
        .await;
    let (_, weak) = app.post_json("/v1/memory/notes", s,
        json!({"content": "The office kitchen closes at 6pm; standups never run late.", "importance": 1.0})).await;
    Standups { strong, weak }
}

fn standup_query() -> Value {
    json!({"query": "when are standups held?", "include_events": false,
           "metadata": {"mission_id": "m-7", "gwen_task_id": "t-1"}})
}

/// Without a version, relevance wins; the pack left a trace with the items and their scores.
async fn pack_without_a_version(app: &TestApp, s: &str, notes: &Standups) {
    let (_, before) = app
        .post_json("/v1/memory/context-pack", s, standup_query())
        .await;
    assert_eq!(
        pack_item_ids(&before, "note")[0],
        notes.strong["id"].as_str().unwrap()
    );
    assert!(before["harness_version_id"].is_null());

    let trace_id = before["trace_id"].as_str().unwrap();
    let traces = json_of(app.get("/v1/harness/traces?mission_id=m-7", s).await).await;
    let t = &traces["data"][0];
    assert_eq!(t["id"], trace_id);
    assert_eq!(t["trace_type"], "context_pack");
    assert_eq!(t["task_id"], "t-1");
    assert_eq!(t["pack_id"], before["pack_id"]);
    assert_eq!(t["context"]["memories"][0]["id"], notes.strong["id"]);
    assert!(t["context"]["memories"][0]["relevance_score"].is_number());
}

/// A draft version changes nothing; the same config activated puts importance first, and the
/// pack (stored too) names the version. Returns the active version.
async fn activate_importance_first(app: &TestApp, s: &str, notes: &Standups) -> Value {
    let (status, draft) = app
        .post_json(
            "/v1/harness/versions",
            s,
            json!({"name": "importance first", "config": {"context": {"weights":
            {"relevance": 0.1, "recency": 0, "importance": 5, "confidence": 0, "feedback": 0}}}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(draft["status"], "draft");
    let (_, still) = app
        .post_json("/v1/memory/context-pack", s, standup_query())
        .await;
    assert_eq!(
        pack_item_ids(&still, "note")[0],
        notes.strong["id"].as_str().unwrap(),
        "a draft changes nothing"
    );

    let (_, active) = app
        .post_json(
            "/v1/harness/versions",
            s,
            json!({"name": "importance first", "activate": true, "config": {"context": {"weights":
            {"relevance": 0.1, "recency": 0, "importance": 5, "confidence": 0, "feedback": 0}}}}),
        )
        .await;
    assert_eq!(active["status"], "active");
    let (_, after) = app
        .post_json("/v1/memory/context-pack", s, standup_query())
        .await;
    assert_eq!(
        pack_item_ids(&after, "note")[0],
        notes.weak["id"].as_str().unwrap()
    );
    assert_eq!(after["harness_version_id"], active["id"]);
    let stored = json_of(
        app.get(
            &format!(
                "/v1/memory/context-packs/{}",
                after["pack_id"].as_str().unwrap()
            ),
            s,
        )
        .await,
    )
    .await;
    assert_eq!(stored["harness_version_id"], active["id"]);
    active
}

#[tokio::test]
async fn a_pack_leaves_a_trace_with_its_items_and_scores() {
    let app = TestApp::spawn().await;
    let s = app.register("versions@example.com").await;
    let notes = two_standup_notes(&app, &s).await;
    pack_without_a_version(&app, &s, &notes).await;
}

#[tokio::test]
async fn an_active_version_reweights_packs_and_a_draft_does_not() {
    let app = TestApp::spawn().await;
    let s = app.register("versions@example.com").await;
    let notes = two_standup_notes(&app, &s).await;
    pack_without_a_version(&app, &s, &notes).await;
    activate_importance_first(&app, &s, &notes).await;
}

#[tokio::test]
async fn activating_a_version_archives_the_active_one() {
    let app = TestApp::spawn().await;
    let s = app.register("versions@example.com").await;
    let notes = two_standup_notes(&app, &s).await;
    pack_without_a_version(&app, &s, &notes).await;
    let active = activate_importance_first(&app, &s, &notes).await;

    let (_, newer) = app
        .post_json(
            "/v1/harness/versions",
            &s,
            json!({"name": "defaults", "activate": true, "config": {}}),
        )
        .await;
    let versions = json_of(app.get("/v1/harness/versions", &s).await).await;
    let statuses: Vec<(String, String)> = versions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(statuses.iter().filter(|(_, s)| s == "active").count(), 1);
    assert!(statuses.contains(&(newer["id"].as_str().unwrap().to_string(), "active".into())));
    assert!(statuses.contains(&(
        active["id"].as_str().unwrap().to_string(),
        "archived".into()
    )));
    let (_, back) = app
        .post_json("/v1/memory/context-pack", &s, standup_query())
        .await;
    assert_eq!(
        pack_item_ids(&back, "note")[0],
        notes.strong["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn an_existing_version_is_activated_again_by_a_reviewer_and_never_by_a_plain_key() {
    let app = TestApp::spawn().await;
    let s = app.register("versions@example.com").await;
    let (_, draft) = app
        .post_json(
            "/v1/harness/versions",
            &s,
            json!({"name": "draft", "config": {}}),
        )
        .await;
    let (_, live) = app
        .post_json(
            "/v1/harness/versions",
            &s,
            json!({"name": "live", "activate": true, "config": {}}),
        )
        .await;
    let path = format!(
        "/v1/harness/versions/{}/activate",
        draft["id"].as_str().unwrap()
    );
    let (_, key) = app.create_key(&s, None, json!({})).await;
    assert_eq!(
        app.post(&path, &key, json!({})).await.status(),
        403,
        "activating is a review"
    );
    let (status, now) = app.post_json(&path, &s, json!({})).await;
    assert_eq!((status, now["status"].as_str()), (200, Some("active")));
    let versions = json_of(app.get("/v1/harness/versions", &s).await).await;
    let status_of = |id: &Value| {
        versions["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == *id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&live["id"]), "archived");
    assert_eq!(status_of(&draft["id"]), "active");
    let res = app
        .post("/v1/harness/versions/nope/activate", &s, json!({}))
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn bad_versions_and_traces_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.register("versions@example.com").await;
    for bad in [
        json!({"name": "x", "config": []}),
        json!({"name": "x", "config": {"context": {"weights": {"relevance": 1}}}}),
        json!({"name": "x", "config": {"context": {"weights": {"relevance": 99, "recency": 0, "importance": 0, "confidence": 0, "feedback": 0}}}}),
    ] {
        let (status, _) = app.post_json("/v1/harness/versions", &s, bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = app
        .post_json(
            "/v1/harness/traces",
            &s,
            json!({"harness_version_id": "nope"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .post_json("/v1/harness/traces", &s, json!({"charged_usd": -1}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        app.get("/v1/harness/traces?limit=0", &s).await.status(),
        400
    );
}

/// The invoice question, optionally restricted to one note kind.
fn invoice_query(kind: Option<&str>) -> Value {
    let mut q = json!({"query": "how are invoices sent?", "include_events": false});
    if let Some(k) = kind {
        q["kinds"] = json!([k]);
    }
    q
}

/// Two notes answer the invoice question (a fact and a decision). Packs that used only one
/// of them are rated: the second up, the top down, until the order flips. Returns the notes
/// (top, second as first ranked) and the last pack.
async fn rate_until_the_order_flips(app: &TestApp, s: &str) -> (String, String, Value) {
    let (_, a) = app
        .post_json(
            "/v1/memory/notes",
            s,
            json!({"content": "Invoices are sent on the first business day.", "kind": "fact"}),
        )
        .await;
    app.post_json(
        "/v1/memory/notes",
        s,
        json!({"content": "Invoices are sent by email with a PDF attached.", "kind": "decision"}),
    )
    .await;
    let (_, before) = app
        .post_json("/v1/memory/context-pack", s, invoice_query(None))
        .await;
    let order = pack_item_ids(&before, "note");
    assert_eq!(order.len(), 2);
    let (top, second) = (order[0].clone(), order[1].clone());
    let kind_of = |id: &str| {
        if id == a["id"].as_str().unwrap() {
            "fact"
        } else {
            "decision"
        }
    };

    for (id, rating) in [(&second, 5.0), (&top, -5.0)] {
        for _ in 0..3 {
            let (_, pack) = app
                .post_json(
                    "/v1/memory/context-pack",
                    s,
                    invoice_query(Some(kind_of(id))),
                )
                .await;
            assert_eq!(pack_item_ids(&pack, "note"), vec![id.clone()]);
            let (status, fb) = app
                .post_json(
                    "/v1/harness/feedback",
                    s,
                    json!({"trace_id": pack["trace_id"], "rating": rating, "outcome": "success"}),
                )
                .await;
            assert_eq!(status, 201, "{fb}");
            assert_eq!(fb["items_rated"], 1);
        }
    }
    let (_, after) = app
        .post_json("/v1/memory/context-pack", s, invoice_query(None))
        .await;
    assert_eq!(
        pack_item_ids(&after, "note"),
        vec![second.clone(), top.clone()]
    );
    (top, second, after)
}

/// Feedback on the last pack: remember_text becomes a pending lesson, forget_note_ids forgets
/// `top`, and the trace records the rating. Returns the trace id.
async fn remember_a_lesson_and_forget(app: &TestApp, s: &str, after: &Value, top: &str) -> String {
    let trace = after["trace_id"].as_str().unwrap();
    let (status, fb) = app.post_json("/v1/harness/feedback", s, json!({"trace_id": trace, "rating": 1,
        "outcome": "success", "remember_text": "User prefers concise answers with concrete next steps.",
        "forget_note_ids": [top]})).await;
    assert_eq!(status, 201);
    assert_eq!(fb["remembered"]["status"], "pending");
    assert_eq!(fb["remembered"]["kind"], "lesson");
    assert_eq!(fb["feedback"]["forgotten"], json!([top]));
    let queue = json_of(app.get("/v1/memory/notes?status=pending", s).await).await;
    assert_eq!(queue["data"][0]["id"], fb["remembered"]["id"]);
    let forgotten = json_of(app.get(&format!("/v1/memory/notes/{top}"), s).await).await;
    assert_eq!(forgotten["status"], "forgotten");
    let traces = json_of(
        app.get("/v1/harness/traces?trace_type=context_pack&limit=1", s)
            .await,
    )
    .await;
    assert_eq!(traces["data"][0]["id"], trace);
    assert_eq!(traces["data"][0]["feedback_score"], 1.0);
    assert_eq!(traces["data"][0]["outcome"], "success");
    trace.to_string()
}

#[tokio::test]
async fn trace_feedback_reorders_later_packs() {
    let app = TestApp::spawn().await;
    let s = app.register("hfeedback@example.com").await;
    rate_until_the_order_flips(&app, &s).await;
}

#[tokio::test]
async fn trace_feedback_remembers_a_lesson_and_forgets_notes() {
    let app = TestApp::spawn().await;
    let s = app.register("hfeedback@example.com").await;
    let (top, _, after) = rate_until_the_order_flips(&app, &s).await;
    remember_a_lesson_and_forget(&app, &s, &after, &top).await;
}

#[tokio::test]
async fn bad_trace_feedback_is_refused() {
    let app = TestApp::spawn().await;
    let s = app.register("hfeedback@example.com").await;
    let (top, _, after) = rate_until_the_order_flips(&app, &s).await;
    let trace = remember_a_lesson_and_forget(&app, &s, &after, &top).await;
    let (status, _) = app
        .post_json(
            "/v1/harness/feedback",
            &s,
            json!({"trace_id": "nope", "rating": 1}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post_json(
            "/v1/harness/feedback",
            &s,
            json!({"trace_id": trace, "rating": 9}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post_json(
            "/v1/harness/feedback",
            &s,
            json!({"trace_id": trace, "forget_note_ids": ["nope"]}),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn reflections_go_through_the_gateway_charged_to_the_caller_or_answer_503() {
    let app = TestApp::spawn().await;
    let s = app.register("reflect@example.com").await;
    let (_, t) = app
        .post_json(
            "/v1/harness/traces",
            &s,
            json!({"input_summary": "refund request for order 991",
        "output_summary": "refunded without checking the policy", "outcome": "failure"}),
        )
        .await;
    let (status, body) = app
        .post_json(
            "/v1/harness/reflections/generate",
            &s,
            json!({"trace_ids": [t["id"]]}),
        )
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "No reflection model configured");
    drop(app);

    let (url, seen) = super::gateway::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("reflect.toml");
    std::fs::write(
        &cfg,
        format!(
            "[reflection]\nmodel = \"reflector-1\"\n\n[[providers]]\nname = \"mock\"\nkind = \"openai_compatible\"\nbase_url = \"{url}\"\n\n\
             [[models]]\nname = \"reflector-1\"\nprovider = \"mock\"\nupstream = \"ok-reflector\"\nweight = 5\n\
             context_window = 8000\ninput_per_1k = 0.01\noutput_per_1k = 0.02\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("reflect2@example.com").await;
    let (_, t) = app
        .post_json(
            "/v1/harness/traces",
            &s,
            json!({"input_summary": "refund request for order 991",
        "output_summary": "refunded without checking the policy", "outcome": "failure"}),
        )
        .await;
    let ask = json!({"trace_ids": [t["id"]], "store_as_memory": true});
    // Unfunded, the call is refused before the model hears of it.
    let (status, body) = app
        .post_json("/v1/harness/reflections/generate", &s, ask.clone())
        .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"], "billing_required");
    assert_eq!(body["balance_usd"], 0.0);
    assert!(body["required_usd"].as_f64().unwrap() > 0.0, "{body}");
    assert!(body.get("payment_url").is_none(), "none configured");
    assert!(seen.lock().unwrap().is_empty());
    super::gateway::fund(&app, &s, 1.0).await;
    let (status, r) = app
        .post_json("/v1/harness/reflections/generate", &s, ask)
        .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["insight"], "hello from ok-reflector");
    assert_eq!(r["model"], "reflector-1");
    let sent: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| b.clone())
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "ok-reflector");
    // Metered and charged like chat: 12 tokens in, 5 out at 0.01 / 0.02 per 1k.
    let usage = json_of(app.get("/v1/usage?request_type=reflection", &s).await).await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{usage}");
    assert_eq!(rows[0]["served_model"], "reflector-1");
    let charged = rows[0]["charged_usd"].as_f64().unwrap();
    assert!((charged - 0.00022).abs() < 1e-9, "{charged}");
    assert!(sent[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("refund request for order 991"));
    let note = json_of(
        app.get(
            &format!("/v1/memory/notes/{}", r["note_id"].as_str().unwrap()),
            &s,
        )
        .await,
    )
    .await;
    assert_eq!(note["status"], "pending");
    assert_eq!(note["kind"], "lesson");
    let listed = json_of(app.get("/v1/harness/reflections", &s).await).await;
    assert_eq!(listed["data"][0]["id"], r["id"]);
    let (status, _) = app
        .post_json(
            "/v1/harness/reflections/generate",
            &s,
            json!({"trace_ids": []}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post_json(
            "/v1/harness/reflections/generate",
            &s,
            json!({"trace_ids": ["nope"]}),
        )
        .await;
    assert_eq!(status, 422);
}

/// Two workspaces with a key each; alpha has a mission (`shared-id`), a trace and an active
/// version.
struct AlphaHarness {
    app: TestApp,
    beta: String,
    /// Alpha's mission.
    mission: Value,
    /// Alpha's trace.
    trace: Value,
}

async fn alpha_harness() -> AlphaHarness {
    let app = TestApp::spawn().await;
    let s = app.register("harnessiso@example.com").await;
    app.create_workspace(&s, "alpha").await;
    app.create_workspace(&s, "beta").await;
    // Alpha's key may also activate versions (a reviewer handed it `review`).
    let (_, alpha) = app
        .create_key(&s, Some("alpha"), json!({"scopes": ["harness", "review"]}))
        .await;
    let (_, beta) = app.create_key(&s, Some("beta"), json!({})).await;
    let (_, mission) = app
        .post_json(
            "/v1/harness/missions",
            &alpha,
            json!({"mission_id": "shared-id"}),
        )
        .await;
    let (_, trace) = app
        .post_json("/v1/harness/traces", &alpha, json!({"input_summary": "x"}))
        .await;
    app.post_json(
        "/v1/harness/versions",
        &alpha,
        json!({"name": "v", "config": {}, "activate": true}),
    )
    .await;
    AlphaHarness {
        app,
        beta,
        mission,
        trace,
    }
}

#[tokio::test]
async fn one_workspace_neither_lists_nor_reads_another_workspaces_harness() {
    let h = alpha_harness().await;
    let (app, beta) = (&h.app, &h.beta);
    let mid = h.mission["id"].as_str().unwrap();
    for path in [
        "/v1/harness/missions",
        "/v1/harness/traces",
        "/v1/harness/versions",
        "/v1/harness/reflections",
    ] {
        let listed = json_of(app.get(path, beta).await).await;
        assert!(listed["data"].as_array().unwrap().is_empty(), "{path}");
    }
    assert_eq!(
        app.get(&format!("/v1/harness/missions/{mid}"), beta)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn one_workspace_cannot_write_to_another_workspaces_missions_or_traces() {
    let h = alpha_harness().await;
    let (app, beta) = (&h.app, &h.beta);
    let mid = h.mission["id"].as_str().unwrap();
    assert_eq!(
        patch(
            app,
            &format!("/v1/harness/missions/{mid}"),
            beta,
            json!({"status": "x"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.post_json(
            &format!("/v1/harness/missions/{mid}/steps"),
            beta,
            json!({"step_ref": "s"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.post_json(
            &format!("/v1/harness/missions/{mid}/artifacts"),
            beta,
            json!({"kind": "url", "uri": "https://x"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.post_json(
            "/v1/harness/feedback",
            beta,
            json!({"trace_id": h.trace["id"], "rating": 1})
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn each_workspace_has_its_own_missions_and_versions() {
    let h = alpha_harness().await;
    let (app, beta) = (&h.app, &h.beta);
    // The same mission_id in beta is beta's own mission.
    let (status, other) = app
        .post_json(
            "/v1/harness/missions",
            beta,
            json!({"mission_id": "shared-id"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_ne!(other["id"], h.mission["id"]);
    let (_, pack) = app
        .post_json(
            "/v1/memory/context-pack",
            beta,
            json!({"query": "anything"}),
        )
        .await;
    assert!(pack["harness_version_id"].is_null());
}
