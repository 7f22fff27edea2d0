//! Sources over HTTP: every format, URL fetching, search, dedup, re-ingest and jobs.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::api::{error_message, hit_texts, SourceBatch, SourceView};
use crate::common::fixtures::{pdf, serve};
use crate::common::{json_of, TestApp};

/// What [`ingest_every_format`] stored: the plain-text upload, cited by the searches.
struct Corpus {
    txt: SourceView,
}

/// One source of each format in one workspace (text, Markdown, HTML, PDF, JSON text,
/// records), each asserted ingested; the searches then run against all of them at once.
async fn ingest_every_format(app: &TestApp, s: &str) -> Corpus {
    let res = app
        .upload_source(
            s,
            "notes.txt",
            "text/plain",
            b"Plain text about narwhal tusks and their sensory nerves.".to_vec(),
            &[("tags", "zoo,arctic")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let txt: SourceView = res.json().await.unwrap();
    assert_eq!(txt.status, "ready");
    assert_eq!(txt.kind, "file");
    assert_eq!(txt.tags, vec!["zoo", "arctic"]);

    let md = "# Glacier Guide\n\nIntro paragraph.\n\n## Crevasses\n\nCrevasses on the Vatnajokull glacier open in summer.\n";
    let md_source = app
        .upload(s, ("guide.md", "text/markdown", md.as_bytes().to_vec()))
        .await;
    assert_eq!(md_source.title, None, "no title was given");

    let html = "<html><head><title>Volcano Page</title><script>var x='secretscript';</script></head><body><nav>menu items</nav><main><p>Eyjafjallajokull erupted and grounded flights.</p></main></body></html>";
    app.upload(s, ("page.html", "text/html", html.as_bytes().to_vec()))
        .await;

    let res = app
        .upload_source(
            s,
            "report.pdf",
            "application/pdf",
            pdf(&[
                "First page mentions walruses.",
                "Second page mentions puffins nesting.",
            ]),
            &[],
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);

    app.create_source(
        s,
        json!({"title": "Raw", "text": "Raw text about fjord salmon farming."}),
    )
    .await;

    let res = app
        .post("/v1/sources", s, json!({"records": [
            {"id": "r1", "text": "Record one discusses reindeer migration.", "title": "Reindeer", "region": "north"},
            {"id": "r2", "text": "Record two discusses lichen growth.", "region": "south"}
        ]}))
        .await;
    assert_eq!(res.status(), 200);
    let records: SourceBatch = res.json().await.unwrap();
    assert_eq!(records.data.len(), 2);
    assert_eq!(records.data[0].external_id.as_deref(), Some("r1"));
    assert_eq!(records.data[0].metadata["region"], "north");
    Corpus { txt }
}

#[tokio::test]
async fn a_text_file_is_found_with_a_citation_to_its_source() {
    let app = TestApp::spawn().await;
    let s = app.register("formats@example.com").await;
    let Corpus { txt } = ingest_every_format(&app, &s).await;
    let hit = app
        .search(&s, json!({"query": "narwhal tusks", "limit": 1}))
        .await;
    assert!(hit_texts(&hit)[0].contains("narwhal"));
    let c = &hit.data[0].citation;
    assert_eq!(c.source_id, txt.id);
    assert_eq!(Some(&c.document_id), txt.document_id.as_ref());
    assert_eq!(c.filename.as_deref(), Some("notes.txt"));
    assert_eq!(c.char_start, 0);
    assert!(hit.data[0].scores.fused.is_finite());
}

#[tokio::test]
async fn markdown_html_and_pdf_are_cited_by_heading_title_and_page() {
    let app = TestApp::spawn().await;
    let s = app.register("formats@example.com").await;
    ingest_every_format(&app, &s).await;
    let hit = app
        .search(&s, json!({"query": "Vatnajokull crevasses", "limit": 1}))
        .await;
    assert!(hit_texts(&hit)[0].contains("Vatnajokull"));
    assert_eq!(hit.data[0].citation.title.as_deref(), Some("Glacier Guide"));

    let hit = app
        .search(
            &s,
            json!({"query": "Eyjafjallajokull eruption", "limit": 1}),
        )
        .await;
    let text = &hit_texts(&hit)[0];
    assert!(text.contains("Eyjafjallajokull"));
    assert!(!text.contains("secretscript") && !text.contains("menu items"));
    assert_eq!(hit.data[0].citation.title.as_deref(), Some("Volcano Page"));

    let hit = app
        .search(
            &s,
            json!({"query": "puffins nesting", "limit": 1, "mode": "bm25"}),
        )
        .await;
    assert!(hit_texts(&hit)[0].contains("puffins"));
    assert_eq!(hit.data[0].citation.page, Some(2), "{hit:?}");
}

#[tokio::test]
async fn search_filters_by_metadata_and_tags() {
    let app = TestApp::spawn().await;
    let s = app.register("formats@example.com").await;
    ingest_every_format(&app, &s).await;
    let hit = app
        .search(
            &s,
            json!({"query": "reindeer", "limit": 5, "filters": {"metadata": {"region": "north"}}}),
        )
        .await;
    assert_eq!(hit_texts(&hit).len(), 1);
    let hit = app
        .search(
            &s,
            json!({"query": "narwhal", "limit": 5, "filters": {"tags": ["arctic"]}}),
        )
        .await;
    assert_eq!(hit_texts(&hit).len(), 1);
    let hit = app
        .search(
            &s,
            json!({"query": "narwhal", "limit": 5, "filters": {"tags": ["nope"]}}),
        )
        .await;
    assert_eq!(hit_texts(&hit).len(), 0);
}

#[tokio::test]
async fn every_search_mode_ranks_the_matching_source_first() {
    let app = TestApp::spawn().await;
    let s = app.register("formats@example.com").await;
    ingest_every_format(&app, &s).await;
    for mode in ["hybrid", "bm25", "vector"] {
        let hit = app
            .search(
                &s,
                json!({"query": "salmon farming in fjords", "limit": 3, "mode": mode}),
            )
            .await;
        assert_eq!(serde_json::to_value(hit.mode).unwrap(), mode);
        assert!(hit_texts(&hit)[0].contains("salmon"), "{mode}: {hit:?}");
    }
}

#[tokio::test]
async fn a_document_and_its_chunks_are_readable() {
    let app = TestApp::spawn().await;
    let s = app.register("formats@example.com").await;
    let Corpus { txt } = ingest_every_format(&app, &s).await;
    let document_id = txt.document_id.as_deref().unwrap();
    let doc = app
        .get_json(&format!("/v1/documents/{document_id}"), &s)
        .await;
    assert!(doc["text"].as_str().unwrap().contains("narwhal"));
    let chunks = app
        .get_json(&format!("/v1/documents/{document_id}/chunks"), &s)
        .await;
    assert_eq!(chunks["data"].as_array().unwrap().len(), 1);
    assert!(chunks["data"][0]["tokens"].as_i64().unwrap() > 5);
}

#[tokio::test]
async fn unsupported_and_undecodable_content_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let s = app.register("bad-files@example.com").await;
    let res = app
        .upload_source(
            &s,
            "image.png",
            "image/png",
            vec![0x89, b'P', b'N', b'G', 0, 1, 2],
            &[],
        )
        .await;
    assert!(error_message(res, 415).await.contains("supported"));
    let res = app
        .upload_source(
            &s,
            "broken.pdf",
            "application/pdf",
            b"%PDF-1.4 not really".to_vec(),
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .upload_source(
            &s,
            "latin1.txt",
            "text/plain",
            vec![0xff, 0xfe, 0x41, 0x00],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/v1/sources",
            &s,
            json!({"text": "x", "url": "http://a.example"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post(
            "/v1/sources",
            &s,
            json!({"records": [{"body": "no text field"}]}),
        )
        .await;
    assert!(error_message(res, 400).await.contains("records[0].text"));
    let list = json_of(app.get("/v1/sources", &s).await).await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn a_url_is_fetched_from_a_loopback_server_when_allow_listed() {
    let site = serve(vec![
        ("/article.html", 200, "text/html", "<html><head><title>Loopback Article</title></head><body><p>Ptarmigans change plumage in winter.</p></body></html>".into()),
        ("/moved", 302, "text/plain", "/article.html".into()),
    ]);
    let app = TestApp::spawn_with(&[("CAIRN__SOURCES__URL_ALLOW_HOSTS", "[\"127.0.0.1\"]")]).await;
    let s = app.register("url@example.com").await;
    let source = app
        .post_expect(
            "/v1/sources",
            &s,
            json!({"url": format!("{}/moved", site.base)}),
            200,
        )
        .await;
    assert_eq!(source["kind"], "url");
    assert_eq!(
        source["url"],
        format!("{}/article.html", site.base),
        "the redirect was followed"
    );
    let hit = app
        .search(&s, json!({"query": "ptarmigan plumage", "limit": 1}))
        .await;
    assert_eq!(
        hit.data[0].citation.url,
        Some(format!("{}/article.html", site.base))
    );
    assert_eq!(
        hit.data[0].citation.title.as_deref(),
        Some("Loopback Article")
    );
    let missing = app
        .post(
            "/v1/sources",
            &s,
            json!({"url": format!("{}/missing", site.base)}),
        )
        .await;
    assert_eq!(missing.status(), 422);
}

#[tokio::test]
async fn internal_urls_are_blocked_with_a_reason() {
    let site = serve(vec![("/x", 200, "text/plain", "internal secret".into())]);
    let app = TestApp::spawn().await;
    let s = app.register("ssrf@example.com").await;
    for url in [
        format!("{}/x", site.base),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[::1]/".into(),
        "http://10.0.0.1/".into(),
    ] {
        let res = app.post("/v1/sources", &s, json!({"url": url})).await;
        assert_eq!(res.status(), 400, "{url}");
        let msg = json_of(res).await["message"].as_str().unwrap().to_string();
        assert!(msg.contains("internal address"), "{msg}");
    }
    let res = app
        .post("/v1/sources", &s, json!({"url": "file:///etc/passwd"}))
        .await;
    assert!(error_message(res, 400).await.contains("http and https"));
    // A public host redirecting inward is blocked at the redirect, too.
    assert_eq!(app.get_json("/v1/sources", &s).await["data"], json!([]));
}

#[tokio::test]
async fn delete_removes_the_source_from_every_store() {
    let app = TestApp::spawn().await;
    let s = app.register("delete@example.com").await;
    let created = app
        .create_source(&s, json!({"text": "Axolotls regenerate limbs."}))
        .await;
    let id = created.id.as_str();
    let doc = created.document_id.as_deref().unwrap();
    assert_eq!(
        hit_texts(
            &app.search(&s, json!({"query": "axolotl regeneration"}))
                .await
        )
        .len(),
        1
    );
    let res = app.delete(&format!("/v1/sources/{id}"), &s).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get(&format!("/v1/sources/{id}"), &s).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/v1/documents/{doc}"), &s).await.status(),
        404
    );
    for mode in ["bm25", "vector", "hybrid"] {
        assert_eq!(
            hit_texts(
                &app.search(&s, json!({"query": "axolotl regeneration", "mode": mode}))
                    .await
            )
            .len(),
            0,
            "{mode}"
        );
    }
    assert_eq!(
        app.delete(&format!("/v1/sources/{id}"), &s).await.status(),
        404
    );
}

#[tokio::test]
async fn reingesting_by_external_id_replaces_the_chunks() {
    let app = TestApp::spawn().await;
    let s = app.register("upsert@example.com").await;
    let old = json!({"text": "The old policy allows refunds within 30 days.", "external_source": "wiki", "external_id": "refunds"});
    let first = app.create_source(&s, old.clone()).await;
    let again = app.create_source(&s, old).await;
    assert_eq!(again.id, first.id);
    assert!(again.deduplicated);
    let changed = app
        .create_source(
            &s,
            json!({"text": "The new policy allows refunds within 90 days.", "external_source": "wiki", "external_id": "refunds"}),
        )
        .await;
    assert_eq!(changed.id, first.id);
    assert_ne!(changed.document_id, first.document_id);
    let found = hit_texts(
        &app.search(&s, json!({"query": "refund policy days", "limit": 10}))
            .await,
    );
    assert_eq!(
        found,
        vec!["The new policy allows refunds within 90 days.".to_string()]
    );
    let old_document = first.document_id.as_deref().unwrap();
    assert_eq!(
        app.get(&format!("/v1/documents/{old_document}"), &s)
            .await
            .status(),
        404
    );
    let detail: SourceView = app
        .get(&format!("/v1/sources/{}", first.id), &s)
        .await
        .json()
        .await
        .unwrap();
    let documents = detail.documents.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].version, 2);
}

#[tokio::test]
async fn the_same_bytes_deduplicate_and_a_reindex_keeps_one_copy() {
    let app = TestApp::spawn().await;
    let s = app.register("upsert@example.com").await;
    // Same bytes without an external id: the same source comes back, no second copy.
    let okapis = || b"Identical bytes about okapis.".to_vec();
    let a: SourceView = app
        .upload_source(&s, "a.txt", "text/plain", okapis(), &[])
        .await
        .json()
        .await
        .unwrap();
    let b: SourceView = app
        .upload_source(&s, "b.txt", "text/plain", okapis(), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert!(b.deduplicated);
    let okapi_hits = json!({"query": "okapis", "limit": 10, "mode": "bm25"});
    assert_eq!(
        hit_texts(&app.search(&s, okapi_hits.clone()).await).len(),
        1
    );

    let re = app
        .request(
            Method::POST,
            &format!("/v1/sources/{}/reindex", a.id),
            Some(&s),
            None,
        )
        .await;
    assert_eq!(re.status(), 200);
    let reindexed: SourceView = re.json().await.unwrap();
    assert_ne!(reindexed.document_id, a.document_id);
    assert_eq!(hit_texts(&app.search(&s, okapi_hits).await).len(), 1);
}

#[tokio::test]
async fn a_failed_ingest_leaves_nothing_behind() {
    let app = TestApp::spawn_with(&[("CAIRN_TEST_FAIL_INDEX_WRITE", "poisonpill")]).await;
    let s = app.register("atomic@example.com").await;
    let res = app
        .post("/v1/sources", &s, json!({"records": [{"id": "1", "text": "healthy record about otters"}, {"id": "2", "text": "poisonpill record about otters"}]}))
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        json_of(app.get("/v1/sources", &s).await).await["data"],
        json!([])
    );
    for mode in ["bm25", "vector"] {
        assert_eq!(
            hit_texts(
                &app.search(&s, json!({"query": "otters record", "mode": mode}))
                    .await
            )
            .len(),
            0
        );
    }
    // The same content ingests fine afterwards: no leftover conflicts.
    let ok = app
        .post(
            "/v1/sources",
            &s,
            json!({"records": [{"id": "1", "text": "healthy record about otters"}]}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        hit_texts(
            &app.search(&s, json!({"query": "otters record", "limit": 10}))
                .await
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn background_jobs_report_status_and_failures() {
    let app = TestApp::spawn().await;
    let s = app.register("jobs@example.com").await;
    let queued = app
        .post_expect(
            "/v1/sources",
            &s,
            json!({"text": "Queued text about kakapo parrots.", "wait": false}),
            202,
        )
        .await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["job_id"], queued["id"]);
    let id = queued["id"].as_str().unwrap().to_string();
    let done = app
        .wait_source_ready(&s, &id, Duration::from_secs(10))
        .await;
    assert_eq!(done.status, "ready");
    let junk = ("x.pdf", "application/pdf", b"%PDF-1.4 junk".to_vec());
    let view = app
        .upload_in_background(&s, junk, Duration::from_secs(10))
        .await;
    assert_eq!(view.status, "failed");
    assert!(view.error.unwrap().contains("PDF"));
    let failed = json_of(app.get("/v1/sources?status=failed", &s).await).await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn sources_are_paginated_with_a_cursor() {
    let app = TestApp::spawn().await;
    let s = app.register("pages@example.com").await;
    let records: Vec<Value> = (0..5)
        .map(|i| json!({"id": i.to_string(), "text": format!("record number {i}")}))
        .collect();
    assert_eq!(
        app.post("/v1/sources", &s, json!({"records": records}))
            .await
            .status(),
        200
    );
    let first = json_of(app.get("/v1/sources?limit=3", &s).await).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_of(
        app.get(
            &format!("/v1/sources?limit=3&cursor={}", urlencode(cursor)),
            &s,
        )
        .await,
    )
    .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    let bad = app.get("/v1/sources?limit=0", &s).await;
    assert_eq!(bad.status(), 400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn search_is_isolated_by_workspace() {
    let app = TestApp::spawn().await;
    let s = app.register("ws-search@example.com").await;
    let (alpha_key, _) = app.two_workspaces(&s).await;
    app.create_source(
        &s,
        json!({"workspace_id": "beta", "text": "Beta secret about quokkas."}),
    )
    .await;
    app.create_source(&alpha_key, json!({"text": "Alpha note about wombats."}))
        .await;

    let alpha = app
        .search(&alpha_key, json!({"query": "quokkas wombats", "limit": 10}))
        .await;
    assert_eq!(
        hit_texts(&alpha),
        vec!["Alpha note about wombats.".to_string()]
    );
    let res = app
        .post(
            "/v1/search",
            &alpha_key,
            json!({"query": "quokkas", "workspace_id": "beta"}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let beta_sources = json_of(app.get("/v1/sources?workspace_id=beta", &s).await).await;
    let beta_id = beta_sources["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/sources/{beta_id}"), &alpha_key)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.delete(&format!("/v1/sources/{beta_id}"), &alpha_key)
            .await
            .status(),
        404
    );
    let beta_doc = beta_sources["data"][0]["document_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/documents/{beta_doc}"), &alpha_key)
            .await
            .status(),
        404
    );

    let other = app.register("ws-other@example.com").await;
    assert_eq!(
        hit_texts(
            &app.search(&other, json!({"query": "wombats quokkas"}))
                .await
        )
        .len(),
        0
    );
}

#[tokio::test]
async fn embeddings_answer_in_the_openai_shape() {
    let app = TestApp::spawn().await;
    let s = app.register("emb@example.com").await;
    let one = json_of(
        app.post(
            "/v1/embeddings",
            &s,
            json!({"input": "hello world", "model": "all-MiniLM-L6-v2"}),
        )
        .await,
    )
    .await;
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "all-MiniLM-L6-v2");
    assert_eq!(one["data"][0]["object"], "embedding");
    assert_eq!(one["data"][0]["index"], 0);
    let v: Vec<f64> = one["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v.len(), 384);
    let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3);
    assert!(one["usage"]["prompt_tokens"].as_u64().unwrap() >= 2);
    assert_eq!(one["usage"]["prompt_tokens"], one["usage"]["total_tokens"]);

    let many = json_of(
        app.post(
            "/v1/embeddings",
            &s,
            json!({"input": ["a cat", "a dog", "tax law"], "encoding_format": "base64"}),
        )
        .await,
    )
    .await;
    assert_eq!(many["data"].as_array().unwrap().len(), 3);
    let b64 = many["data"][2]["index"].clone();
    assert_eq!(b64, 2);
    assert!(many["data"][0]["embedding"].is_string());

    let bad = app.post("/v1/embeddings", &s, json!({"input": []})).await;
    assert_eq!(bad.status(), 400);
    let body = json_of(bad).await;
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let unknown = app
        .post(
            "/v1/embeddings",
            &s,
            json!({"input": "x", "model": "text-embedding-3-large"}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let no_auth = app
        .post_public("/v1/embeddings", json!({"input": "x"}))
        .await;
    assert_eq!(no_auth.status(), 401);
    assert!(json_of(no_auth).await["error"]["message"].is_string());
}

#[tokio::test]
async fn a_json_lines_upload_becomes_one_source_per_record() {
    let app = TestApp::spawn().await;
    let s = app.register("jsonl@example.com").await;
    let lines = "{\"sku\": \"a1\", \"body\": \"Waterproof hiking boots.\", \"price\": 120}\n{\"sku\": \"b2\", \"body\": \"Insulated winter gloves.\"}\n";
    let res = app
        .upload_source(
            &s,
            "catalog.jsonl",
            "application/x-ndjson",
            lines.as_bytes().to_vec(),
            &[("text_field", "body"), ("id_field", "sku")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let batch = json_of(res).await;
    let data = batch["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["external_id"], "a1");
    assert_eq!(data[0]["kind"], "record");
    assert_eq!(data[0]["metadata"]["price"], 120);
    let hit = app
        .search(
            &s,
            json!({"query": "winter gloves", "limit": 1, "mode": "bm25"}),
        )
        .await;
    assert_eq!(
        hit_texts(&hit),
        vec!["Insulated winter gloves.".to_string()]
    );
    let bad = app
        .upload_source(
            &s,
            "bad.json",
            "application/json",
            b"[{\"body\": 3}]".to_vec(),
            &[("text_field", "body")],
        )
        .await;
    assert!(error_message(bad, 400).await.contains("records[0].body"));
}

#[tokio::test]
async fn search_reindex_and_chunks_reject_bad_input_with_the_field_named() {
    let app = TestApp::spawn().await;
    let s = app.register("bad-search@example.com").await;
    for (body, field) in [
        (json!({"query": "   "}), "query"),
        (json!({"query": "x", "limit": 0}), "limit"),
        (json!({"query": "x", "limit": 101}), "limit"),
        (json!({"query": "x", "mode": "fuzzy"}), "mode"),
        (
            json!({"query": "x", "filters": {"tags": "not-a-list"}}),
            "filters.tags",
        ),
        (json!({"query": 7}), "query"),
    ] {
        let res = app.post("/v1/search", &s, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let msg = json_of(res).await["message"].as_str().unwrap().to_string();
        assert!(msg.starts_with(field), "{body}: {msg}");
    }
    let missing = "01a20000-0000-7000-8000-000000000000";
    let res = app
        .request(
            Method::POST,
            &format!("/v1/sources/{missing}/reindex"),
            Some(&s),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(json_of(res).await["error"], "Source not found");
    let res = app
        .get(&format!("/v1/documents/{missing}/chunks"), &s)
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(json_of(res).await["error"], "Document not found");
    let res = app.get("/v1/sources?status=done", &s).await;
    assert!(error_message(res, 400).await.starts_with("status"));
}
