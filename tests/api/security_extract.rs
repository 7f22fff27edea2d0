//! Attacks on shared resources, each performed over HTTP against the real binary: a PDF
//! decompression bomb against the extractor, one workspace's documents against another's
//! search scores, and one workspace's backlog against the shared ingest queue.

use std::time::Duration;

use axum::routing::get;
use serde_json::{json, Value};

use crate::common::api::error_message;
use crate::common::fixtures::{pdf, pdf_bomb, serve_router};
use crate::common::{json_of, TestApp};

#[tokio::test]
async fn a_pdf_decompression_bomb_fails_alone_and_the_server_keeps_serving() {
    let app = TestApp::spawn_with(&[("CAIRN__SOURCES__EXTRACT_MEMORY_MB", "64")]).await;
    let s = app.register("bomb@example.com").await;
    // About 256 KB that inflate to 256 MiB: four times the parser's allowance.
    let bomb = pdf_bomb(256 << 20);
    assert!(
        bomb.len() < 1 << 20,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let res = app
        .upload_source(&s, "bomb.pdf", "application/pdf", bomb, &[])
        .await;
    let message = error_message(res, 422).await;
    assert!(message.contains("extract_memory_mb"), "{message}");

    let bomb = ("bomb2.pdf", "application/pdf", pdf_bomb(300 << 20));
    let failed = app
        .upload_in_background(&s, bomb, Duration::from_secs(60))
        .await;
    assert_eq!(failed.status, "failed");
    assert!(failed.error.unwrap_or_default().contains("memory limit"));

    let health = app.get_public("/healthz").await;
    assert_eq!(health.status(), 200);
    // A normal PDF still ingests.
    let fine = (
        "fine.pdf",
        "application/pdf",
        pdf(&["Puffins dive for sand eels."]),
    );
    app.upload(&s, fine).await;
    let hits = app
        .search(&s, json!({"query": "puffins sand eels", "mode": "bm25"}))
        .await;
    assert_eq!(hits.data.len(), 1);
    assert_eq!(hits.data[0].citation.page, Some(1));
}

/// (chunk id, BM25 score) of a BM25 search, best first.
async fn bm25_scores(app: &TestApp, token: &str, query: &str) -> Vec<(String, Option<f32>)> {
    let hits = app
        .search(token, json!({"query": query, "mode": "bm25", "limit": 10}))
        .await;
    hits.data
        .into_iter()
        .map(|h| (h.chunk_id, h.scores.bm25))
        .collect()
}

#[tokio::test]
async fn search_scores_do_not_move_when_another_workspace_indexes_the_same_words() {
    let app = TestApp::spawn().await;
    let a = app.register("scores-a@example.com").await;
    let b = app.register("scores-b@example.com").await;
    let mine = [
        "Quantum lattice models describe electrons hopping between sites.",
        "A lattice of quantum dots was measured at low temperature in the lab.",
        "Herons nest in colonies near shallow water.",
    ];
    let records: Vec<Value> = mine.iter().map(|t| json!({ "text": t })).collect();
    let res = app
        .post("/v1/sources", &a, json!({ "records": records }))
        .await;
    assert_eq!(res.status(), 200);
    let before = bm25_scores(&app, &a, "quantum lattice").await;
    assert_eq!(before.len(), 2, "{before:?}");

    let theirs: Vec<Value> = (0..40)
        .map(|i| json!({ "text": format!("Quantum lattice quantum lattice, experiment {i}.") }))
        .collect();
    let res = app
        .post("/v1/sources", &b, json!({ "records": theirs }))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(bm25_scores(&app, &b, "quantum lattice").await.len(), 10);

    let after = bm25_scores(&app, &a, "quantum lattice").await;
    assert_eq!(
        after, before,
        "another workspace's documents moved the scores"
    );
}

/// A loopback page that answers after `delay`, so the worker is busy on it meanwhile.
async fn slow_site(delay: Duration) -> String {
    let router = axum::Router::new().route(
        "/slow.txt",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "Grey herons stand still in shallow water."
        }),
    );
    serve_router(router).await
}

async fn queue_text(app: &TestApp, token: &str, text: &str) -> (u16, Value) {
    let res = app
        .post("/v1/sources", token, json!({"text": text, "wait": false}))
        .await;
    (res.status().as_u16(), json_of(res).await)
}

#[tokio::test]
async fn a_full_ingest_queue_answers_429_and_other_workspaces_are_served_in_turn() {
    let site = slow_site(Duration::from_secs(4)).await;
    let app = TestApp::spawn_with(&[
        ("CAIRN__SOURCES__URL_ALLOW_HOSTS", "[\"127.0.0.1\"]"),
        ("CAIRN__SOURCES__QUEUE_MAX_JOBS", "3"),
    ])
    .await;
    let a = app.register("queue-a@example.com").await;
    let b = app.register("queue-b@example.com").await;
    // The worker takes A's slow URL and waits on it; A's next two jobs wait behind it.
    let res = app
        .post(
            "/v1/sources",
            &a,
            json!({"url": format!("{site}/slow.txt"), "wait": false}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let (status, a2) = queue_text(&app, &a, "Second queued text about avocets.").await;
    assert_eq!(status, 202);
    let (status, a3) = queue_text(&app, &a, "Third queued text about bitterns.").await;
    assert_eq!(status, 202);
    let (status, refused) = queue_text(&app, &a, "Fourth queued text about curlews.").await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["error"], "Too many requests");
    assert!(refused["message"]
        .as_str()
        .unwrap_or_default()
        .contains("sources.queue_max_jobs"));
    let (status, b1) = queue_text(&app, &b, "Another workspace's text about dunlins.").await;
    assert_eq!(status, 202, "another workspace still queues: {b1}");

    let ready = |v: &Value| v["id"].as_str().unwrap().to_string();
    let wait = Duration::from_secs(30);
    let a2 = app.wait_source_ready(&a, &ready(&a2), wait).await;
    let a3 = app.wait_source_ready(&a, &ready(&a3), wait).await;
    let b1 = app.wait_source_ready(&b, &ready(&b1), wait).await;
    assert!([&a2, &a3, &b1].iter().all(|s| s.status == "ready"));
    // Round-robin: B's only job runs in the round after A's slow one, not after all of A's
    // (its finish time against a2, in the same round, is not what fairness promises).
    assert!(
        b1.updated_at < a3.updated_at,
        "{} {}",
        b1.updated_at,
        a3.updated_at
    );
}
