//! Agent memory over HTTP: notes, entities, links, events, batches and context packs.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use serde_json::{json, Value};

use crate::common::api::{error_message, pack_item_ids, Note, PackItems};
use crate::common::{json_of, TestApp};

async fn note(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/v1/memory/notes", token, body).await;
    assert!(res.status().is_success(), "{}", res.status());
    json_of(res).await
}

async fn pack(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/v1/memory/context-pack", token, body).await;
    let status = res.status();
    let body = json_of(res).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The query the preference note answers.
const THEME_QUERY: &str = "which colour theme does the user like?";

/// Creates the `crm/pref-1` preference note, sends it again unchanged (nothing changes), then
/// with new content (a new revision of the same note); returns its id.
async fn upsert_preference(app: &TestApp, s: &str) -> String {
    let first = json!({"title": "Editor", "content": "The user prefers dark mode in every editor.",
                       "kind": "preference", "tags": ["ui"], "importance": 0.8,
                       "external_source": "crm", "external_id": "pref-1"});
    let res = app.post("/v1/memory/notes", s, first.clone()).await;
    assert_eq!(res.status(), 201);
    let created: Note = res.json().await.unwrap();
    assert_eq!(created.status, "approved");
    assert_eq!(created.revision, 1);

    // The same external pair with the same fields changes nothing; new content updates it.
    let res = app.post("/v1/memory/notes", s, first).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Note>().await.unwrap().revision, 1);
    let updated = app
        .create_note(
            s,
            json!({"content": "The user prefers light mode since November.",
                   "external_source": "crm", "external_id": "pref-1"}),
        )
        .await;
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.kind, "preference");
    created.id
}

/// The query the inferred note answers, without events.
fn office_query() -> Value {
    json!({"query": "Where is the Berlin office located?", "include_events": false})
}

/// An inferred note waits in the review queue and stays out of packs until approved; returns
/// its id once approved (with the reason "confirmed on a call").
async fn review_inferred_note(app: &TestApp, s: &str) -> String {
    // An agent infers the note; the user reviews it (a writer never reviews its own note).
    let (_, agent) = app.create_key(s, None, json!({})).await;
    let inferred = app
        .create_note(
            &agent,
            json!({"content": "The user probably works in the Berlin office.", "inferred": true}),
        )
        .await;
    assert_eq!(inferred.status, "pending");
    let queue = app.get_json("/v1/memory/notes?status=pending", s).await;
    assert_eq!(queue["data"].as_array().unwrap().len(), 1);
    assert!(app
        .context_pack(s, office_query())
        .await
        .item_ids("note")
        .is_empty());
    let mut with_pending = office_query();
    with_pending["include_pending"] = json!(true);
    assert_eq!(
        app.context_pack(s, with_pending).await.item_ids("note"),
        vec![inferred.id.clone()]
    );
    let res = app
        .post(
            &format!("/v1/memory/notes/{}/approve", inferred.id),
            s,
            json!({"reason": "confirmed on a call"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Note>().await.unwrap().status, "approved");
    assert_eq!(
        app.context_pack(s, office_query()).await.item_ids("note"),
        vec![inferred.id.clone()]
    );
    inferred.id
}

#[tokio::test]
async fn a_note_upserted_by_external_id_shows_its_latest_content_in_packs() {
    let app = TestApp::spawn().await;
    let s = app.register("notes@example.com").await;
    let id = upsert_preference(&app, &s).await;
    let p = app.context_pack(&s, json!({"query": THEME_QUERY})).await;
    assert_eq!(p.item_ids("note"), vec![id]);
    assert!(p.context.contains("light mode"));
}

#[tokio::test]
async fn an_approval_is_audited_with_the_reviewers_identity() {
    let app = TestApp::spawn().await;
    let s = app.register("notes@example.com").await;
    upsert_preference(&app, &s).await;
    let pending_id = review_inferred_note(&app, &s).await;
    let actor = app.actor_of(&s).await;
    let history = app.note_history(&s, &pending_id).await;
    assert_eq!(history.actions(), vec!["created", "approved"]);
    assert_eq!(history.data[1].actor, actor);
    assert_eq!(
        history.data[1].reason.as_deref(),
        Some("confirmed on a call")
    );
}

#[tokio::test]
async fn a_forgotten_note_leaves_packs_keeps_its_history_and_refuses_edits() {
    let app = TestApp::spawn().await;
    let s = app.register("notes@example.com").await;
    let id = upsert_preference(&app, &s).await;
    let res = app
        .patch(
            &format!("/v1/memory/notes/{id}"),
            &s,
            json!({"importance": 0.9, "reason": "matters for every reply"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = app.delete(&format!("/v1/memory/notes/{id}"), &s).await;
    assert_eq!(res.status(), 200);
    let p = app.context_pack(&s, json!({"query": THEME_QUERY})).await;
    assert!(!p.item_ids("note").contains(&id));
    let history = app.note_history(&s, &id).await;
    assert_eq!(
        history.actions(),
        vec!["created", "updated", "updated", "forgotten"]
    );
    assert_eq!(
        history.data[0].snapshot["content"],
        "The user prefers dark mode in every editor."
    );
    let res = app
        .patch(
            &format!("/v1/memory/notes/{id}"),
            &s,
            json!({"content": "again"}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let forgotten = app.get_json("/v1/memory/notes?status=forgotten", &s).await;
    assert_eq!(forgotten["data"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_rejected_note_leaves_packs() {
    let app = TestApp::spawn().await;
    let s = app.register("notes@example.com").await;
    upsert_preference(&app, &s).await;
    let pending_id = review_inferred_note(&app, &s).await;
    let res = app
        .post(
            &format!("/v1/memory/notes/{pending_id}/reject"),
            &s,
            json!({}),
        )
        .await;
    assert_eq!(res.json::<Note>().await.unwrap().status, "rejected");
    assert!(app
        .context_pack(&s, office_query())
        .await
        .item_ids("note")
        .is_empty());
}

#[tokio::test]
async fn a_write_is_visible_to_the_very_next_pack() {
    let app = TestApp::spawn().await;
    let s = app.register("ryw@example.com").await;
    for i in 0..5 {
        let content = format!("Deployment window number {i} is on a Thursday evening.");
        let created = note(&app, &s, json!({ "content": content })).await;
        let p = pack(
            &app,
            &s,
            json!({"query": format!("deployment window number {i}"), "max_tokens": 4000}),
        )
        .await;
        assert!(
            pack_item_ids(&p, "note").contains(&created["id"].as_str().unwrap().to_string()),
            "note {i} missing from the pack right after its write"
        );
    }
}

#[tokio::test]
async fn supersede_closes_validity_and_as_of_answers_from_the_past() {
    let app = TestApp::spawn().await;
    let s = app.register("time@example.com").await;
    let old = note(
        &app,
        &s,
        json!({"content": "Alice's manager is Bob.", "valid_from": "2026-01-01T00:00:00Z"}),
    )
    .await;
    let old_id = old["id"].as_str().unwrap().to_string();
    let new = note(
        &app,
        &s,
        json!({"content": "Alice's manager is Carol.", "valid_from": "2026-06-01T00:00:00Z",
               "supersedes": old_id}),
    )
    .await;
    let new_id = new["id"].as_str().unwrap().to_string();
    assert_eq!(new["supersedes"], old_id.as_str());

    let old_now = json_of(app.get(&format!("/v1/memory/notes/{old_id}"), &s).await).await;
    assert_eq!(old_now["valid_to"], "2026-06-01T00:00:00.000Z");
    assert_eq!(old_now["superseded_by"], new_id.as_str());
    assert_eq!(old_now["status"], "approved");

    let q = "who is Alice's manager?";
    let now = pack(&app, &s, json!({"query": q})).await;
    assert_eq!(pack_item_ids(&now, "note"), vec![new_id.clone()]);
    let march = pack(
        &app,
        &s,
        json!({"query": q, "as_of": "2026-03-15T12:00:00Z"}),
    )
    .await;
    assert_eq!(pack_item_ids(&march, "note"), vec![old_id.clone()]);
    assert_eq!(march["as_of"], "2026-03-15T12:00:00.000Z");
    let before = pack(
        &app,
        &s,
        json!({"query": q, "as_of": "2025-12-01T00:00:00Z"}),
    )
    .await;
    assert!(pack_item_ids(&before, "note").is_empty());

    let history = json_of(
        app.get(&format!("/v1/memory/notes/{old_id}/history"), &s)
            .await,
    )
    .await;
    assert_eq!(history["data"][1]["action"], "superseded");
}

/// The graph of [`build_graph`]: Hank works at Globex, and a note about Hank's cats.
struct Graph {
    globex: String,
    hank: String,
    /// A note that shares no words with the query, reachable only through the graph.
    fact: String,
    /// The link from the note to Hank.
    l2_id: String,
}

/// Entities upsert by (type, name) and merge aliases; links need both ends to exist.
async fn build_graph(app: &TestApp, s: &str) -> Graph {
    let res = app
        .post(
            "/v1/memory/entities",
            s,
            json!({"type": "company", "name": "Globex", "aliases": ["Globex Corp"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let globex = json_of(res).await["id"].as_str().unwrap().to_string();
    // The same (type, name) upserts and merges aliases.
    let merged = app
        .post_expect(
            "/v1/memory/entities",
            s,
            json!({"type": "company", "name": "globex", "aliases": ["GBX"]}),
            200,
        )
        .await;
    assert_eq!(merged["id"], globex.as_str());
    assert_eq!(merged["aliases"], json!(["Globex Corp", "GBX"]));
    let hank = json_of(
        app.post(
            "/v1/memory/entities",
            s,
            json!({"type": "user", "name": "Hank Scorpio"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fact = app
        .create_note(
            s,
            json!({"content": "Owns three cats named after baroque composers."}),
        )
        .await
        .id;
    let l1 = app
        .post(
            "/v1/memory/links",
            s,
            json!({"from": {"type": "entity", "id": hank}, "to": {"type": "entity", "id": globex},
                   "relation": "works_at"}),
        )
        .await;
    assert_eq!(l1.status(), 201);
    let l2 = json_of(
        app.post(
            "/v1/memory/links",
            s,
            json!({"from": {"type": "note", "id": fact}, "to": {"type": "entity", "id": hank},
                   "relation": "about", "weight": 0.9}),
        )
        .await,
    )
    .await;
    let l2_id = l2["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/v1/memory/links",
            s,
            json!({"from": {"type": "note", "id": "missing"}, "to": {"type": "entity", "id": hank},
                   "relation": "about"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    Graph {
        globex,
        hank,
        fact,
        l2_id,
    }
}

/// Hank's links are listed, Globex is found by part of its name, Hank's aliases are replaced.
async fn list_find_and_rename(app: &TestApp, s: &str, g: &Graph) {
    let (globex, hank) = (&g.globex, &g.hank);
    let links = json_of(
        app.get(&format!("/v1/memory/links?node_id={hank}"), s)
            .await,
    )
    .await;
    assert_eq!(links["data"].as_array().unwrap().len(), 2);
    let found = json_of(app.get("/v1/memory/entities?name=glob", s).await).await;
    assert_eq!(found["data"][0]["id"], globex.as_str());
    let res = app
        .patch(
            &format!("/v1/memory/entities/{hank}"),
            s,
            json!({"aliases": ["Hank"]}),
        )
        .await;
    assert_eq!(json_of(res).await["aliases"], json!(["Hank"]));
}

/// The query about GBX, which only the graph connects to the note about cats.
fn gbx_query() -> Value {
    json!({"query": "What should we know before emailing GBX?", "include_events": false})
}

/// Without the graph the pack has no entity and no note; with it, Globex comes first, then
/// Hank, and the note two hops away.
async fn pack_through_the_graph(app: &TestApp, s: &str, g: &Graph) {
    let mut no_graph = gbx_query();
    no_graph["include_graph"] = json!(false);
    let p = app.context_pack(s, no_graph).await;
    assert!(p.item_ids("note").is_empty(), "{p:?}");
    assert!(p.item_ids("entity").is_empty());
    let p = app.context_pack(s, gbx_query()).await;
    assert_eq!(p.item_ids("entity")[0], g.globex);
    assert!(p.item_ids("entity").contains(&g.hank));
    assert!(p.item_ids("note").contains(&g.fact), "{p:?}");
    let via = p.items.iter().find(|i| i.id == g.fact).unwrap();
    assert!(via.reason.contains("graph: 2 hop(s)"));
}

#[tokio::test]
async fn entities_upsert_by_type_and_name_and_links_need_both_ends() {
    let app = TestApp::spawn().await;
    let s = app.register("graph@example.com").await;
    let g = build_graph(&app, &s).await;
    list_find_and_rename(&app, &s, &g).await;
}

#[tokio::test]
async fn a_pack_reaches_a_note_only_through_the_graph() {
    let app = TestApp::spawn().await;
    let s = app.register("graph@example.com").await;
    let g = build_graph(&app, &s).await;
    list_find_and_rename(&app, &s, &g).await;
    pack_through_the_graph(&app, &s, &g).await;
}

#[tokio::test]
async fn the_graph_survives_a_restart_and_a_deleted_link_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_on(dir.path(), &[]).await;
    let s = app.register("graph@example.com").await;
    let g = build_graph(&app, &s).await;
    list_find_and_rename(&app, &s, &g).await;
    pack_through_the_graph(&app, &s, &g).await;

    drop(app);
    let app = TestApp::spawn_on(dir.path(), &[]).await;
    let s = app.login("graph@example.com").await;
    let p = app.context_pack(&s, gbx_query()).await;
    assert!(
        p.item_ids("note").contains(&g.fact),
        "graph lost at restart"
    );

    let l2_id = &g.l2_id;
    let res = app.delete(&format!("/v1/memory/links/{l2_id}"), &s).await;
    assert_eq!(res.status(), 200);
    let p = app.context_pack(&s, gbx_query()).await;
    assert!(!p.item_ids("note").contains(&g.fact));
    assert_eq!(
        app.delete(&format!("/v1/memory/links/{l2_id}"), &s)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn events_are_filtered_by_time_and_type_and_join_packs() {
    let app = TestApp::spawn().await;
    let s = app.register("events@example.com").await;
    for (i, (t, at)) in [
        ("onboarding", "2026-11-01T10:00:00Z"),
        ("tool_outcome", "2026-11-10T10:00:00Z"),
        ("tool_outcome", "2026-11-20T10:00:00Z"),
    ]
    .iter()
    .enumerate()
    {
        let res = app
            .post(
                "/v1/memory/events",
                &s,
                json!({"type": t, "summary": format!("Event {i}: the invoice export ran"),
                       "occurred_at": at, "mission_id": "m-1", "actor": "agent",
                       "external_source": "log", "external_id": format!("e{i}")}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let res = app
        .post(
            "/v1/memory/events",
            &s,
            json!({"type": "onboarding", "summary": "Event 0: the invoice export ran",
                   "occurred_at": "2026-11-01T10:00:00Z", "external_source": "log", "external_id": "e0"}),
        )
        .await;
    assert_eq!(res.status(), 200, "same external id upserts");

    let all = json_of(app.get("/v1/memory/events", &s).await).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    assert_eq!(all["data"][0]["type"], "tool_outcome");
    let typed = json_of(app.get("/v1/memory/events?type=onboarding", &s).await).await;
    assert_eq!(typed["data"].as_array().unwrap().len(), 1);
    let ranged = json_of(
        app.get(
            "/v1/memory/events?from=2026-11-05T00:00:00Z&to=2026-11-15T00:00:00Z",
            &s,
        )
        .await,
    )
    .await;
    assert_eq!(ranged["data"].as_array().unwrap().len(), 1);
    assert_eq!(ranged["data"][0]["occurred_at"], "2026-11-10T10:00:00.000Z");
    let page = json_of(app.get("/v1/memory/events?limit=2", &s).await).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json_of(
        app.get(
            &format!("/v1/memory/events?limit=2&cursor={}", urlencode(cursor)),
            &s,
        )
        .await,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let bad = app.get("/v1/memory/events?from=yesterday", &s).await;
    assert_eq!(bad.status(), 400);

    let p = pack(&app, &s, json!({"query": "did the invoice export run?"})).await;
    assert_eq!(pack_item_ids(&p, "event").len(), 3);
    let p = pack(
        &app,
        &s,
        json!({"query": "did the invoice export run?", "as_of": "2026-11-05T00:00:00Z"}),
    )
    .await;
    assert_eq!(pack_item_ids(&p, "event").len(), 1);
    let p = pack(
        &app,
        &s,
        json!({"query": "did the invoice export run?", "include_events": false}),
    )
    .await;
    assert!(pack_item_ids(&p, "event").is_empty());
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A")
        .replace('|', "%7C")
        .replace('+', "%2B")
}

fn batch_body() -> Value {
    json!({
        "entities": [{"type": "project", "name": "Apollo", "external_id": "p-apollo"}],
        "notes": [
            {"content": "Apollo ships on the 3rd of December.", "kind": "fact", "external_id": "n1"},
            {"content": "Apollo's release notes are written by Dana.", "kind": "fact", "external_id": "n2"}
        ],
        "links": [
            {"from": {"type": "note", "external_id": "n1"}, "to": {"type": "entity", "external_id": "p-apollo"}, "relation": "about"}
        ],
        "events": [{"type": "mission", "summary": "Apollo kickoff held", "external_id": "ev1",
                    "occurred_at": "2026-11-02T09:00:00Z"}]
    })
}

#[tokio::test]
async fn batch_is_all_or_nothing_and_idempotent() {
    let app = TestApp::spawn().await;
    let s = app.register("batch@example.com").await;

    // A bad link at the end fails the whole batch: nothing of it is anywhere.
    let mut bad = batch_body();
    bad["links"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": {"type": "note", "external_id": "nope"},
                     "to": {"type": "entity", "external_id": "p-apollo"}, "relation": "about"}));
    let res = app.post("/v1/memory/batch", &s, bad).await;
    assert!(error_message(res, 422).await.starts_with("links[1].from"));
    for path in [
        "/v1/memory/notes",
        "/v1/memory/entities",
        "/v1/memory/links",
        "/v1/memory/events",
    ] {
        let listed = json_of(app.get(path, &s).await).await;
        assert!(listed["data"].as_array().unwrap().is_empty(), "{path}");
    }
    let p = pack(&app, &s, json!({"query": "When does Apollo ship?"})).await;
    assert!(p["items"].as_array().unwrap().is_empty(), "{p}");

    let res = app.post("/v1/memory/batch", &s, batch_body()).await;
    assert_eq!(res.status(), 200);
    let first = json_of(res).await;
    assert_eq!(first["notes"]["created"], 2);
    assert_eq!(first["entities"]["created"], 1);
    assert_eq!(first["links"]["created"], 1);
    assert_eq!(first["events"]["created"], 1);

    let again = json_of(app.post("/v1/memory/batch", &s, batch_body()).await).await;
    assert_eq!(
        again["notes"],
        json!({"created": 0, "updated": 0, "unchanged": 2})
    );
    assert_eq!(again["entities"]["unchanged"], 1);
    assert_eq!(again["links"]["unchanged"], 1);
    assert_eq!(again["events"]["unchanged"], 1);
    assert_eq!(again["note_ids"], first["note_ids"]);
    let notes = json_of(app.get("/v1/memory/notes", &s).await).await;
    assert_eq!(notes["data"].as_array().unwrap().len(), 2);
    assert!(notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["revision"] == 1 && n["external_source"] == "batch"));

    let p = pack(&app, &s, json!({"query": "When does Apollo ship?"})).await;
    assert_eq!(
        pack_item_ids(&p, "note")[0],
        first["note_ids"][0].as_str().unwrap()
    );

    let res = app
        .post(
            "/v1/memory/batch",
            &s,
            json!({"notes": [{"content": "no key"}]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app.post("/v1/memory/batch", &s, json!({})).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn feedback_changes_the_order_and_packs_are_stored() {
    let app = TestApp::spawn().await;
    let s = app.register("feedback@example.com").await;
    let a = note(
        &app,
        &s,
        json!({"content": "Standups happen at 9:30 in the main room."}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = note(
        &app,
        &s,
        json!({"content": "Standups happen at 9:30 over video on Fridays."}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = json!({"query": "when are standups?", "include_events": false});
    let before = pack(&app, &s, q.clone()).await;
    let order = pack_item_ids(&before, "note");
    assert_eq!(order.len(), 2);
    let (top, second) = (order[0].clone(), order[1].clone());
    assert!(top == a || top == b);
    let pack_id = before["pack_id"].as_str().unwrap();

    for i in 0..3 {
        for (item, signal) in [(&second, "helpful"), (&top, "unhelpful")] {
            let res = app
                .post(
                    "/v1/memory/feedback",
                    &s,
                    json!({"pack_id": pack_id, "item_id": item, "signal": signal,
                           "external_source": "ui", "external_id": format!("{item}-{i}")}),
                )
                .await;
            assert_eq!(res.status(), 201);
        }
    }
    // The same external id again is recorded once.
    let res = app
        .post(
            "/v1/memory/feedback",
            &s,
            json!({"item_id": second, "signal": "helpful", "external_source": "ui",
                   "external_id": format!("{second}-0")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let after = pack(&app, &s, q).await;
    assert_eq!(
        pack_item_ids(&after, "note"),
        vec![second.clone(), top.clone()]
    );
    let promoted = &after["items"][0]["scores"];
    assert!(promoted["feedback_score"].as_f64().unwrap() > 0.9);

    // The stored pack shows exactly what was included and why.
    let stored = json_of(
        app.get(&format!("/v1/memory/context-packs/{pack_id}"), &s)
            .await,
    )
    .await;
    assert_eq!(stored["items"], before["items"]);
    assert_eq!(stored["query"], "when are standups?");
    assert_eq!(
        stored["usage"]["usage"]["tokens_used"],
        before["usage"]["tokens_used"]
    );
    let res = app.get("/v1/memory/context-packs/nope", &s).await;
    assert_eq!(res.status(), 404);

    // forget by feedback
    let res = app
        .post(
            "/v1/memory/feedback",
            &s,
            json!({"item_id": top, "signal": "forget"}),
        )
        .await;
    assert_eq!(json_of(res).await["note"]["status"], "forgotten");
    let res = app
        .post(
            "/v1/memory/feedback",
            &s,
            json!({"item_id": "missing", "signal": "helpful"}),
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn the_budget_holds_and_citations_point_back() {
    let app = TestApp::spawn().await;
    let s = app.register("budget@example.com").await;
    let verbs = ["restart", "drain", "inspect", "scale", "pause"];
    let objects = [
        "ingest worker pool",
        "embedding queue backlog",
        "vector compaction job",
        "BM25 commit thread",
        "lag alert dashboard",
        "retry budget settings",
    ];
    for i in 0..30 {
        let (verb, object) = (verbs[i % 5], objects[i / 5]);
        note(
            &app,
            &s,
            json!({"title": format!("Runbook step {i}"),
                   "content": format!("When ingest lags, {verb} the {object} (step {i}) and page on-call if it persists."),
                   "kind": if i % 2 == 0 { "lesson" } else { "decision" }}),
        )
        .await;
    }
    for budget in [1, 40, 150, 600] {
        let p = pack(
            &app,
            &s,
            json!({"query": "how do I handle ingest worker lag?", "max_tokens": budget}),
        )
        .await;
        let used = p["usage"]["tokens_used"].as_u64().unwrap();
        assert!(used <= budget, "{used} > {budget}");
        assert_eq!(p["usage"]["tokenizer"], "cl100k_base");
        let items = p["items"].as_array().unwrap();
        let considered = p["usage"]["items_considered"].as_u64().unwrap() as usize;
        assert_eq!(
            items.len()
                + p["usage"]["dropped_by_budget"].as_u64().unwrap() as usize
                + p["usage"]["dropped_as_duplicate"].as_u64().unwrap() as usize,
            considered
        );
        for (i, item) in items.iter().enumerate() {
            let marker = format!("[{}]", i + 1);
            assert_eq!(item["citation"]["marker"], marker.as_str());
            assert_eq!(item["citation"]["note_id"], item["id"]);
            assert!(p["context"].as_str().unwrap().contains(&marker));
        }
        if budget < 600 {
            assert!(p["usage"]["dropped_by_budget"].as_u64().unwrap() > 0);
        }
    }
    let p = pack(
        &app,
        &s,
        json!({"query": "ingest worker lag", "kinds": ["lesson"], "max_tokens": 4000}),
    )
    .await;
    assert!(!p["items"].as_array().unwrap().is_empty());
    assert!(p["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["kind"] == "lesson"));
    let default = pack(&app, &s, json!({"query": "ingest worker lag"})).await;
    assert_eq!(default["usage"]["max_tokens"], 2000);

    for bad in [
        json!({"query": ""}),
        json!({"query": "x", "max_tokens": 0}),
        json!({"query": "x", "max_tokens": 1000000}),
        json!({"query": "x", "as_of": "last week"}),
        json!({"query": "x", "kinds": [""]}),
        json!({"query": "x", "metadata": {"unknown": 1}}),
    ] {
        let res = app.post("/v1/memory/context-pack", &s, bad.clone()).await;
        assert_eq!(res.status(), 400, "{bad}");
    }

    // The compatibility form ranks notes without a budget.
    let ranked = app
        .post_expect(
            "/v1/memory/context",
            &s,
            json!({"query": "ingest worker lag", "limit": 3}),
            200,
        )
        .await;
    assert_eq!(ranked["data"].as_array().unwrap().len(), 3);
    assert!(
        ranked["data"][0]["scores"]["score"].as_f64().unwrap()
            >= ranked["data"][2]["scores"]["score"].as_f64().unwrap()
    );
}

#[tokio::test]
async fn source_chunks_join_packs_with_their_citation() {
    let app = TestApp::spawn().await;
    let s = app.register("grounded@example.com").await;
    let res = app
        .post(
            "/v1/sources",
            &s,
            json!({"title": "Security handbook", "text": "Rotate the signing keys every ninety days and store them in the vault."}),
        )
        .await;
    assert!(res.status().is_success());
    note(
        &app,
        &s,
        json!({"content": "Key rotation is owned by the platform team."}),
    )
    .await;
    let q = json!({"query": "how often do we rotate signing keys?", "include_sources": true});
    let p = pack(&app, &s, q).await;
    let chunk = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "chunk")
        .expect("a chunk item");
    assert_eq!(chunk["citation"]["title"], "Security handbook");
    assert!(chunk["citation"]["source_id"].is_string());
    assert!(chunk["citation"]["document_id"].is_string());
    assert!(chunk["citation"]["char_end"].as_i64().unwrap() > 0);
    let without = pack(
        &app,
        &s,
        json!({"query": "how often do we rotate signing keys?"}),
    )
    .await;
    assert!(pack_item_ids(&without, "chunk").is_empty());
}

#[tokio::test]
async fn bad_note_input_gets_a_clear_400() {
    let app = TestApp::spawn().await;
    let s = app.register("badnotes@example.com").await;
    for (body, field) in [
        (json!({"content": "  "}), "content"),
        (json!({"content": "x", "importance": 2}), "importance"),
        (json!({"content": "x", "confidence": -0.1}), "confidence"),
        (json!({"content": "x", "status": "forgotten"}), "status"),
        (
            json!({"content": "x", "external_id": "only-one"}),
            "external_source",
        ),
        (json!({"content": "x", "valid_from": "soon"}), "valid_from"),
        (
            json!({"content": "x", "valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"}),
            "valid_to",
        ),
        (json!({"content": "x", "metadata": [1]}), "metadata"),
        (json!({"content": "x", "colour": "red"}), "colour"),
    ] {
        let res = app.post("/v1/memory/notes", &s, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let msg = json_of(res).await["message"].as_str().unwrap().to_string();
        assert!(msg.contains(field), "{msg} should name {field}");
    }
    let res = app
        .post(
            "/v1/memory/notes",
            &s,
            json!({"content": "x", "supersedes": "missing"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.get("/v1/memory/notes/missing", &s).await.status(), 404);
    assert_eq!(
        app.get("/v1/memory/notes?status=archived", &s)
            .await
            .status(),
        400
    );
    for (path, body) in [
        (
            "/v1/memory/entities",
            json!({"type": "company", "name": " "}),
        ),
        (
            "/v1/memory/entities",
            json!({"type": "company", "name": "x", "aliases": [""]}),
        ),
        (
            "/v1/memory/links",
            json!({"from": {"type": "planet", "id": "a"}, "to": {"type": "note", "id": "b"}, "relation": "r"}),
        ),
        (
            "/v1/memory/links",
            json!({"from": {"type": "note"}, "to": {"type": "note", "id": "b"}, "relation": "r"}),
        ),
        (
            "/v1/memory/events",
            json!({"type": "x", "summary": "y", "occurred_at": "yesterday"}),
        ),
        (
            "/v1/memory/feedback",
            json!({"item_id": "n", "signal": "meh"}),
        ),
        ("/v1/memory/context", json!({"query": "x", "limit": 0})),
    ] {
        let res = app.post(path, &s, body.clone()).await;
        assert_eq!(res.status(), 400, "{path} {body}");
    }
}

/// Two workspaces of one user, a key bound to each, and alpha's memory: a note (external
/// pair `x/1`), an entity and an event, all about Bluebird.
struct TwoWorkspaces {
    app: TestApp,
    alpha_key: String,
    beta_key: String,
    /// Alpha's note.
    secret: String,
    /// Alpha's entity.
    entity: String,
}

async fn alpha_remembers_bluebird() -> TwoWorkspaces {
    let app = TestApp::spawn().await;
    let s = app.register("memiso@example.com").await;
    let (alpha_key, beta_key) = app.two_workspaces(&s).await;

    let secret = app
        .create_note(
            &alpha_key,
            json!({"content": "The alpha launch code name is Bluebird.", "external_source": "x", "external_id": "1"}),
        )
        .await
        .id;
    let entity = json_of(
        app.post(
            "/v1/memory/entities",
            &alpha_key,
            json!({"type": "project", "name": "Bluebird"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/v1/memory/events",
        &alpha_key,
        json!({"type": "launch", "summary": "Bluebird launch rehearsal"}),
    )
    .await;
    TwoWorkspaces {
        app,
        alpha_key,
        beta_key,
        secret,
        entity,
    }
}

#[tokio::test]
async fn one_workspace_never_packs_reads_or_lists_another_workspaces_memory() {
    let w = alpha_remembers_bluebird().await;
    let (app, beta_key, secret) = (&w.app, &w.beta_key, &w.secret);
    let p = app
        .context_pack(
            beta_key,
            json!({"query": "What is the launch code name? Bluebird"}),
        )
        .await;
    assert!(p.items.is_empty(), "{p:?}");
    for path in [
        format!("/v1/memory/notes/{secret}"),
        format!("/v1/memory/notes/{secret}/history"),
    ] {
        assert_eq!(app.get(&path, beta_key).await.status(), 404, "{path}");
    }
    for path in [
        "/v1/memory/notes",
        "/v1/memory/entities",
        "/v1/memory/events",
        "/v1/memory/links",
    ] {
        let listed = json_of(app.get(path, beta_key).await).await;
        assert!(listed["data"].as_array().unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn one_workspace_can_neither_change_nor_link_another_workspaces_memory() {
    let w = alpha_remembers_bluebird().await;
    let (app, beta_key, secret, entity) = (&w.app, &w.beta_key, &w.secret, &w.entity);
    assert_eq!(
        app.patch(
            &format!("/v1/memory/notes/{secret}"),
            beta_key,
            json!({"content": "mine"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.delete(&format!("/v1/memory/notes/{secret}"), beta_key)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.patch(
            &format!("/v1/memory/entities/{entity}"),
            beta_key,
            json!({"name": "x"})
        )
        .await
        .status(),
        404
    );
    let res = app
        .post(
            "/v1/memory/links",
            beta_key,
            json!({"from": {"type": "note", "id": secret}, "to": {"type": "entity", "id": entity}, "relation": "r"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/v1/memory/feedback",
            beta_key,
            json!({"item_id": secret, "signal": "forget"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    // None of it touched alpha's note.
    let own = app
        .context_pack(&w.alpha_key, json!({"query": "launch code name Bluebird"}))
        .await;
    assert!(own.item_ids("note").contains(secret));
}

#[tokio::test]
async fn external_ids_and_keys_stay_within_their_workspace() {
    let w = alpha_remembers_bluebird().await;
    let app = &w.app;
    // The same external pair in another workspace is another note.
    let twin = app
        .create_note(
            &w.beta_key,
            json!({"content": "Beta's own note.", "external_source": "x", "external_id": "1"}),
        )
        .await;
    assert_ne!(twin.id, w.secret);
    // A key bound to alpha cannot name beta.
    let res = app
        .post(
            "/v1/memory/context-pack",
            &w.alpha_key,
            json!({"query": "Bluebird", "workspace_id": "beta"}),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn packs_work_when_vectors_outgrow_memory_and_lancedb_answers() {
    // Two vectors at most in memory per item type: the third note moves notes to LanceDB.
    let app = TestApp::spawn_with(&[("CAIRN__SEARCH__RESIDENT_MAX_VECTORS", "2")]).await;
    let s = app.register("lance@example.com").await;
    let topics = [
        "The staging database is rebuilt every Sunday night.",
        "Invoices are approved by the finance lead before payment.",
        "The mobile app release train leaves every second Wednesday.",
        "Office plants are watered by whoever arrives first on Monday.",
    ];
    let mut ids = Vec::new();
    for content in topics {
        let id = note(&app, &s, json!({ "content": content })).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        ids.push(id);
        for (i, earlier) in topics.iter().enumerate().take(ids.len()) {
            let p = pack(&app, &s, json!({"query": earlier, "include_events": false})).await;
            assert_eq!(pack_item_ids(&p, "note")[0], ids[i], "{earlier}");
        }
    }
    let res = app
        .post(
            "/v1/sources",
            &s,
            json!({"records": [
                {"title": "Ops guide", "text": "Rotate the pager every Friday at noon."},
                {"title": "Kitchen", "text": "The dishwasher runs after lunch."},
                {"title": "Travel", "text": "Book trains two weeks ahead for the offsite."}
            ]}),
        )
        .await;
    assert!(res.status().is_success());
    let p = pack(
        &app,
        &s,
        json!({"query": "when does the pager rotate?", "include_sources": true}),
    )
    .await;
    assert_eq!(p["items"][0]["type"], "chunk", "{p}");
}
