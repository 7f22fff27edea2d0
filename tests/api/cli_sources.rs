//! The `cairn ingest`, `search` and `reindex` commands over a data directory.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use serde_json::json;

use crate::common::api::{cairn_cli, create_admin};
use crate::common::TestApp;

#[tokio::test]
async fn the_cli_ingests_a_directory_and_searches_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("nested")).unwrap();
    std::fs::write(
        docs.join("a.md"),
        "# Tides\n\nSpring tides follow the new moon.",
    )
    .unwrap();
    std::fs::write(
        docs.join("nested/b.md"),
        "# Dunes\n\nBarchan dunes migrate downwind.",
    )
    .unwrap();
    std::fs::write(
        docs.join("skip.txt"),
        "This text file is filtered out by --include.",
    )
    .unwrap();
    create_admin(&data, "cli@example.com", "cli-password");

    let out = cairn_cli(
        &data,
        &[],
        &[
            "ingest",
            docs.to_str().unwrap(),
            "--include",
            "*.md",
            "--tag",
            "geo",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ingested 2 sources"), "{stdout}");
    let again = cairn_cli(
        &data,
        &[],
        &["ingest", docs.to_str().unwrap(), "--include", "*.md"],
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("2 already present"));

    let out = cairn_cli(&data, &[], &["search", "barchan dunes", "--limit", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("Barchan dunes migrate downwind."),
        "{stdout}"
    );
    assert!(!stdout.contains("filtered out"));
}

#[tokio::test]
async fn a_model_change_is_refused_at_start_until_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = TestApp::spawn_on(&data, &[]).await;
    let s = app.register("model@example.com").await;
    app.create_source(
        &s,
        json!({"text": "Stromatolites are layered sedimentary formations."}),
    )
    .await;
    let trips = json!({"content": "Field trips to the stromatolite beds leave in May."});
    app.post_expect("/v1/memory/notes", &s, trips, 201).await;
    drop(app);

    let renamed = [("CAIRN__EMBEDDING__MODEL", "minilm-renamed")];
    let out = cairn_cli(&data, &renamed, &["serve"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cairn reindex") && stderr.contains("all-MiniLM-L6-v2"),
        "{stderr}"
    );

    let out = cairn_cli(&data, &renamed, &["reindex"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-embedded 1 documents and 1 notes"));

    let app = TestApp::spawn_on(&data, &renamed).await;
    let token = app.login("model@example.com").await;
    let hits = app
        .search(
            &token,
            json!({"query": "layered sedimentary formations", "mode": "vector"}),
        )
        .await;
    assert_eq!(
        hits.data[0].text,
        "Stromatolites are layered sedimentary formations."
    );
    let emb = app
        .post_expect("/v1/embeddings", &token, json!({"input": "x"}), 200)
        .await;
    assert_eq!(emb["model"], "minilm-renamed");
    let pack = app
        .context_pack(&token, json!({"query": "when do the field trips leave?"}))
        .await;
    assert_eq!(
        pack.items[0].text,
        "Field trips to the stromatolite beds leave in May."
    );
}
