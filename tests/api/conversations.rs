//! Conversations as memory: `POST /v1/memory/conversations` (a session's turns), the threads
//! batches and sessions form, and what context packs make of them (a hit's neighbours, the
//! session's date above its turns). Each test starts the real binary.

use serde_json::{json, Value};

use crate::common::api::error_message;
use crate::common::{json_of, TestApp};

/// A trip talked about in one session: the answer (turn 2) shares no word with the question
/// asked of it later, the question turn (turn 1) does.
fn trip_session() -> Value {
    json!({
        "session_id": "s-42",
        "started_at": "2023-05-08T13:56:00Z",
        "messages": [
            {"speaker": "Caroline", "content": "Where did you and the kids go on vacation this summer?"},
            {"speaker": "Melanie", "content": "We drove along the coast of Portugal and slept in a tent."},
            {"speaker": "Caroline", "content": "The adoption agency called me back yesterday."},
            {"speaker": "Melanie", "content": "That is wonderful news, I am so happy for you!"}
        ]
    })
}

/// The pack's items as (type, id, reason), best first.
fn items(pack: &Value) -> Vec<(String, String, String)> {
    pack["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let s = |f: &str| i[f].as_str().unwrap_or_default().to_string();
            (s("type"), s("id"), s("reason"))
        })
        .collect()
}

/// Where the pack's item whose text contains `text` is; panics when none does.
fn position(pack: &Value, text: &str) -> usize {
    pack["items"]
        .as_array()
        .expect("items")
        .iter()
        .position(|i| i["text"].as_str().unwrap_or_default().contains(text))
        .unwrap_or_else(|| panic!("{text} not in {pack}"))
}

#[tokio::test]
async fn a_session_becomes_dated_turn_notes_and_sending_it_again_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = app.register("turns@example.com").await;

    let first = app
        .post_expect("/v1/memory/conversations", &s, trip_session(), 200)
        .await;
    assert_eq!(first["notes"]["created"], 4, "{first}");
    let ids = first["note_ids"].as_array().unwrap().clone();
    let note = app
        .get_json(
            &format!("/v1/memory/notes/{}", ids[1].as_str().unwrap()),
            &s,
        )
        .await;
    assert_eq!(
        note["content"],
        "Melanie: We drove along the coast of Portugal and slept in a tent."
    );
    assert_eq!(note["kind"], "turn");
    assert_eq!(note["title"], "8 May 2023, 13:56 UTC");
    assert_eq!(note["valid_from"], "2023-05-08T13:56:00.000Z");
    assert_eq!(note["external_id"], "s-42/2");
    assert_eq!(note["thread_seq"], 1);

    let again = app
        .post_expect("/v1/memory/conversations", &s, trip_session(), 200)
        .await;
    assert_eq!(again["notes"]["unchanged"], 4, "{again}");
    assert_eq!(again["note_ids"], first["note_ids"]);
}

#[tokio::test]
async fn a_pack_brings_the_answer_that_follows_the_matching_question() {
    let app = TestApp::spawn().await;
    let s = app.register("answer@example.com").await;
    app.post_expect("/v1/memory/conversations", &s, trip_session(), 200)
        .await;

    let query = json!({"query": "Where did the family go on vacation?"});
    let pack = app
        .post_expect("/v1/memory/context-pack", &s, query, 200)
        .await;
    let got = items(&pack);
    let at = |text: &str| position(&pack, text);
    let question = at("Where did you and the kids go");
    let answer = at("coast of Portugal");
    // The answer follows the question it answers in the thread; in the pack it ranks just
    // above it (a question is discounted once it has brought its answer).
    assert_eq!(question, answer + 1, "{got:?}");
    assert_eq!(got[answer].2, "next to a retrieved note");
    // The session's date heads its turns once; the markers keep the ranks.
    let context = pack["context"].as_str().unwrap();
    assert!(
        context.starts_with("(turn: 8 May 2023, 13:56 UTC)\n[1] "),
        "{context}"
    );
    assert_eq!(context.matches("(turn: 8 May 2023").count(), 1, "{context}");
}

#[tokio::test]
async fn a_batch_of_notes_is_a_thread_and_a_single_note_is_not() {
    let app = TestApp::spawn().await;
    let s = app.register("thread@example.com").await;
    let batch = json!({"notes": [
        {"content": "Ana: Which database do we run the billing service on?", "external_id": "t1"},
        {"content": "Ben: Postgres 15, on the managed cluster in Frankfurt.", "external_id": "t2"}
    ]});
    let done = app.post_expect("/v1/memory/batch", &s, batch, 200).await;
    let second = app
        .get_json(
            &format!("/v1/memory/notes/{}", done["note_ids"][1].as_str().unwrap()),
            &s,
        )
        .await;
    assert!(second["thread_id"].is_string(), "{second}");
    assert_eq!(second["thread_seq"], 1);
    let lone = json!({"content": "Deploys happen on Tuesdays."});
    let lone = app.post_expect("/v1/memory/notes", &s, lone, 201).await;
    assert!(lone["thread_id"].is_null(), "{lone}");

    let query = json!({"query": "Which database does the billing service use?"});
    let pack = app
        .post_expect("/v1/memory/context-pack", &s, query, 200)
        .await;
    let got = items(&pack);
    assert!(got.len() >= 2, "{got:?}");
    // The question matches the query; the reply after it in the thread answers it.
    let text = |i: usize| pack["items"][i]["text"].as_str().unwrap_or_default();
    assert!(text(0).contains("Postgres 15"), "{got:?}");
    assert!(text(1).contains("billing service"), "{got:?}");
}

#[tokio::test]
async fn a_bad_session_is_refused_whole_with_the_turn_named() {
    let app = TestApp::spawn().await;
    let s = app.register("badturn@example.com").await;
    let mut bad = trip_session();
    bad["messages"][2]["speaker"] = json!("  ");
    let res = app.post("/v1/memory/conversations", &s, bad).await;
    assert_eq!(
        error_message(res, 400).await,
        "messages[2].speaker: must not be empty"
    );
    let mut bad = trip_session();
    bad["messages"][1]["at"] = json!("yesterday");
    let res = app.post("/v1/memory/conversations", &s, bad).await;
    assert!(error_message(res, 400)
        .await
        .starts_with("messages[1].at: expected an RFC 3339 timestamp"));
    let res = app
        .post(
            "/v1/memory/conversations",
            &s,
            json!({"session_id": "s", "messages": []}),
        )
        .await;
    assert_eq!(
        error_message(res, 400).await,
        "messages: expected 1-1000 turns"
    );
    let listed = json_of(app.get("/v1/memory/notes", &s).await).await;
    assert!(listed["data"].as_array().unwrap().is_empty(), "{listed}");
}

#[tokio::test]
async fn another_workspace_never_sees_a_sessions_turns() {
    let app = TestApp::spawn().await;
    let s = app.register("turnscope@example.com").await;
    let (alpha, beta) = app.two_workspaces(&s).await;
    app.post_expect("/v1/memory/conversations", &alpha, trip_session(), 200)
        .await;
    let query = json!({"query": "Where did the family go on vacation?"});
    let pack = app
        .post_expect("/v1/memory/context-pack", &beta, query, 200)
        .await;
    assert!(items(&pack).is_empty(), "{pack}");
    // The same session id in beta is beta's own session, not an update of alpha's.
    let done = app
        .post_expect("/v1/memory/conversations", &beta, trip_session(), 200)
        .await;
    assert_eq!(done["notes"]["created"], 4, "{done}");
    // Beta's key naming alpha finds no such workspace.
    let mut into_alpha = trip_session();
    into_alpha["workspace_id"] = json!("alpha");
    let res = app
        .post("/v1/memory/conversations", &beta, into_alpha)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn writing_a_session_needs_the_memory_write_scope() {
    let app = TestApp::spawn().await;
    let s = app.register("turnscope2@example.com").await;
    let (_, reader) = app
        .create_key(&s, None, json!({"scopes": ["memory:read"]}))
        .await;
    let res = app
        .post("/v1/memory/conversations", &reader, trip_session())
        .await;
    assert_eq!(res.status(), 403);
    let listed = json_of(app.get("/v1/memory/notes", &s).await).await;
    assert!(listed["data"].as_array().unwrap().is_empty(), "{listed}");
}

/// Small talk between two people: short turns that name one or the other, none about
/// anything in particular.
fn small_talk() -> Vec<Value> {
    let lines = [
        ("Caroline", "Wow, great pic Melanie! Is that you?"),
        ("Melanie", "Thanks Caroline! We took it at the lake."),
        ("Caroline", "Melanie, you look so happy there!"),
        ("Melanie", "Caroline, you always say the nicest things."),
        ("Caroline", "I have been so busy, Melanie."),
        ("Melanie", "Same here Caroline, busy busy."),
        ("Caroline", "Talk soon Melanie!"),
        ("Melanie", "Bye Caroline, take care!"),
    ];
    lines
        .iter()
        .map(|(who, text)| json!({"speaker": who, "content": text}))
        .collect()
}

#[tokio::test]
async fn a_long_turn_with_the_querys_rare_word_outranks_short_turns_that_only_name_the_speakers() {
    // Two candidates per list: the long turn is outside the vector list's depth, so its
    // cosine must be filled in, and the query's focus keeps the speakers' names from pulling
    // the query towards every short turn.
    let app = TestApp::spawn_with(&[("CAIRN__CONTEXT__NOTE_CANDIDATES", "2")]).await;
    let s = app.register("focus@example.com").await;
    let mut messages = small_talk();
    messages.insert(
        4,
        json!({"speaker": "Caroline", "content": "I am still figuring out the details, but I \
        want to work with trans people and support their mental health. Last Friday I went to \
        an LGBTQ+ counseling workshop and it showed me how much good that work can do."}),
    );
    let session = json!({"session_id": "s-7", "started_at": "2023-07-20T20:56:00Z",
                         "messages": messages});
    app.post_expect("/v1/memory/conversations", &s, session, 200)
        .await;

    let query = json!({"query": "What workshop did Caroline attend recently?"});
    let pack = app
        .post_expect("/v1/memory/context-pack", &s, query, 200)
        .await;
    let first = pack["items"][0]["text"].as_str().unwrap_or_default();
    assert!(first.contains("counseling workshop"), "{pack}");
}

#[tokio::test]
async fn the_turn_after_a_retrieved_question_joins_as_its_answer() {
    // One seed only: the best hit is a statement, and the question it follows is second, so
    // only the rule for questions brings the reply that answers it.
    let app = TestApp::spawn_with(&[("CAIRN__CONTEXT__NEIGHBOUR_SEEDS", "1")]).await;
    let s = app.register("asks@example.com").await;
    let session = json!({"session_id": "s-9", "started_at": "2023-05-08T13:56:00Z",
    "messages": [
        {"speaker": "Ana", "content": "The billing database migration to the new billing database is on Monday."},
        {"speaker": "Ben", "content": "Good to know, I will tell the team."},
        {"speaker": "Ana", "content": "Unrelated: the office plants need water."},
        {"speaker": "Ana", "content": "Which billing database do we run on?"},
        {"speaker": "Ben", "content": "Postgres 15, on the managed cluster in Frankfurt."}
    ]});
    app.post_expect("/v1/memory/conversations", &s, session, 200)
        .await;

    let query = json!({"query": "Which billing database migration is planned?"});
    let pack = app
        .post_expect("/v1/memory/context-pack", &s, query, 200)
        .await;
    let got = items(&pack);
    let at = |text: &str| position(&pack, text);
    assert_eq!(at("migration to the new billing"), 0, "{got:?}");
    let question = at("Which billing database do we run on?");
    let answer = at("Postgres 15");
    // The question is discounted once it has brought its answer: the answer ranks above it.
    assert!(answer < question, "{got:?}");
    assert_eq!(got[answer].2, "next to a retrieved note", "{got:?}");
}

/// Two turns about painting: one by Melanie, one said to her, which names her twice.
fn painting_session() -> Value {
    json!({"session_id": "s-paint", "started_at": "2023-05-08T13:56:00Z",
    "messages": [
        {"speaker": "Caroline", "content": "Melanie, look, Melanie: I painted a horse in watercolors last week."},
        {"speaker": "Melanie", "content": "I painted a lake sunrise last year, it is special to me."},
        {"speaker": "Caroline", "content": "The adoption agency called me back yesterday."}
    ]})
}

#[tokio::test]
async fn a_turn_by_the_speaker_the_query_names_outranks_one_said_to_them() {
    let query = json!({"query": "What has Melanie painted?"});
    let first_with = |lift: &'static str| {
        let query = query.clone();
        async move {
            let app = TestApp::spawn_with(&[("CAIRN__CONTEXT__SPEAKER_LIFT", lift)]).await;
            let s = app.register("speaker@example.com").await;
            app.post_expect("/v1/memory/conversations", &s, painting_session(), 200)
                .await;
            let pack = app
                .post_expect("/v1/memory/context-pack", &s, query, 200)
                .await;
            pack["items"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    // Without the lift the turn that names Melanie twice matches best; with it, hers does.
    assert!(first_with("0").await.contains("horse"));
    assert!(first_with("0.08").await.contains("lake sunrise"));
}
