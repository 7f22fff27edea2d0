//! Crash recovery and concurrent ingests: nothing half-written survives.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::time::Duration;

use serde_json::json;

use crate::common::api::strings_of;
use crate::common::{json_of, TestApp};

/// The entries of the vector index and of the text index of the data directory `data`.
async fn index_entries(data: &std::path::Path) -> (usize, u64) {
    let vectors = cairn::store::vectors::VectorStore::open(&data.join("lance"), 384, 50_000)
        .await
        .unwrap();
    let text = cairn::store::text_index::TextIndex::open(&data.join("tantivy")).unwrap();
    (vectors.count().await.unwrap(), text.num_docs())
}

/// SIGKILL between the index writes and activation, then restart: the synchronous ingest
/// leaves nothing anywhere, and the queued job is picked up again and completes.
#[tokio::test]
async fn a_server_killed_mid_ingest_recovers_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = TestApp::spawn_on(&data, &[("CAIRN_TEST_PAUSE_BEFORE_ACTIVATE_MS", "4000")]).await;
    let s = app.register("crash@example.com").await;

    let queued = app
        .post(
            "/v1/sources",
            &s,
            json!({"text": "Queued kiwi birds forage at night.", "wait": false}),
        )
        .await;
    assert_eq!(queued.status(), 202);
    let queued_id = json_of(queued).await["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let client = app.client.clone();
    let url = app.url("/v1/sources");
    let token = s.clone();
    let sync = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(token)
            .json(&json!({"text": "Synchronous kea parrots are curious."}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.signal("KILL");
    assert!(
        sync.await.unwrap().is_err(),
        "the synchronous ingest never answered"
    );
    drop(app);

    let app = TestApp::spawn_on(&data, &[]).await;
    let s = app.login("crash@example.com").await;
    let view = app
        .wait_source_ready(&s, &queued_id, Duration::from_secs(20))
        .await;
    assert_eq!(view.status, "ready", "{view:?}");
    let list = json_of(app.get("/v1/sources", &s).await).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the interrupted synchronous source is gone: {list}"
    );
    let hits = json_of(
        app.post(
            "/v1/search",
            &s,
            json!({"query": "kea parrots kiwi birds", "limit": 10}),
        )
        .await,
    )
    .await;
    let found = strings_of(&hits["data"], "text");
    assert_eq!(found, vec!["Queued kiwi birds forage at night."]);
    drop(app);

    // Nothing orphaned in the indexes themselves: one chunk each.
    assert_eq!(index_entries(&data).await, (1, 1));
}

/// Two writers on one source: the second is refused while the first is in flight, and a
/// delete in the middle of an ingest leaves no vectors or postings behind.
#[tokio::test]
async fn concurrent_writes_to_one_source_conflict_and_deletes_mid_ingest_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = TestApp::spawn_on(&data, &[("CAIRN_TEST_PAUSE_BEFORE_ACTIVATE_MS", "1500")]).await;
    let s = app.register("race@example.com").await;
    let id = app
        .create_source(&s, json!({"text": "Hoatzin chicks have wing claws."}))
        .await
        .id;

    let reindex = |app: &TestApp| {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/v1/sources/{id}/reindex")),
            s.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let first = reindex(&app);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = reindex(&app);
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!((a, b), (200, 409));
    let hits = app
        .search(&s, json!({"query": "hoatzin wing claws", "mode": "bm25"}))
        .await;
    assert_eq!(hits.data.len(), 1);

    let again = reindex(&app);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let deleted = app.delete(&format!("/v1/sources/{id}"), &s).await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        again.await.unwrap(),
        409,
        "the interrupted reindex reports that it could not complete"
    );
    drop(app);

    assert_eq!(index_entries(&data).await, (0, 0));
}
