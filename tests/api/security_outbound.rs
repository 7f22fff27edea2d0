//! The outbound policy (`src/outbound.rs`), attacked over HTTP against the real binary: a
//! local endpoint or a URL source must not turn Cairn into a proxy into internal networks,
//! cloud metadata or its own memory, and a deleted endpoint must never route again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::common::fixtures::{local_completion, serve, serve_router};
use crate::common::{json_of, TestApp};

/// A server without billing, so that chat through a local endpoint needs no credit.
async fn app() -> TestApp {
    TestApp::spawn_with(&[("CAIRN__BILLING__ENFORCE", "false")]).await
}

/// An Ollama-like server: `/v1/models` lists `models` (after `delay` while `slow` is set)
/// and counts its calls; chat completions answer `local <model>`.
async fn model_server(
    models: Vec<String>,
    slow: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
) -> String {
    let list = json!({"object": "list", "data": models.iter()
        .map(|m| json!({"id": m, "object": "model"})).collect::<Vec<_>>()});
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(move || {
                let (list, slow, hits) = (list.clone(), slow.clone(), hits.clone());
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    if slow.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                    }
                    axum::Json(list)
                }
            }),
        )
        .route(
            "/v1/chat/completions",
            axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
                axum::Json(local_completion(&body, 10, 5))
            }),
        );
    serve_router(app).await
}

fn llama() -> Vec<String> {
    vec!["llama3.2".to_string()]
}

async fn endpoint_count(app: &TestApp, session: &str) -> usize {
    json_of(app.get("/v1/local-endpoints", session).await).await["data"]
        .as_array()
        .unwrap()
        .len()
}

/// The status and message of a registration.
async fn register(app: &TestApp, session: &str, url: &str, label: &str) -> (u16, Value) {
    let body = json!({"url": url, "label": label});
    app.post_json("/v1/local-endpoints", session, body).await
}

#[tokio::test]
async fn a_local_endpoint_that_redirects_to_another_internal_address_is_not_followed() {
    let app = app().await;
    let admin = app.admin("redirect-admin@example.com").await;
    let inner_hits = Arc::new(AtomicUsize::new(0));
    let inner = model_server(llama(), Arc::default(), inner_hits.clone()).await;
    let target = format!("{inner}/v1/models");
    let outer = serve_router(axum::Router::new().route(
        "/v1/models",
        axum::routing::get(move || {
            let target = target.clone();
            async move {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, target)],
                )
                    .into_response()
            }
        }),
    ))
    .await;
    let (status, ep) = register(&app, &admin, &outer, "bouncer").await;
    assert_eq!(status, 201, "{ep}");
    assert_eq!(ep["status"], "unreachable", "{ep}");
    assert!(ep["last_error"].as_str().unwrap().contains("302"), "{ep}");
    assert_eq!(ep["models"], json!([]));
    assert_eq!(
        inner_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[tokio::test]
async fn a_local_endpoint_at_cloud_metadata_or_link_local_is_refused() {
    let app = app().await;
    let admin = app.admin("metadata-admin@example.com").await;
    for url in [
        "http://169.254.169.254",
        "http://169.254.169.254/latest/meta-data",
        "http://169.254.10.20:11434",
        "http://[fe80::1]:11434",
        "http://[fd00:ec2::254]",
        "http://[::ffff:169.254.169.254]",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://0.0.0.0:11434",
    ] {
        let (status, body) = register(&app, &admin, url, "meta").await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(
            body["message"].as_str().unwrap().starts_with("url:"),
            "{url}: {body}"
        );
    }
    assert_eq!(endpoint_count(&app, &admin).await, 0, "nothing saved");
}

#[tokio::test]
async fn a_member_cannot_register_a_loopback_endpoint_by_default() {
    let app = app().await;
    let admin = app.admin("first-admin@example.com").await;
    let member = app.register("member@example.com").await;
    let hits = Arc::new(AtomicUsize::new(0));
    let server = model_server(llama(), Arc::default(), hits.clone()).await;
    let by_name = server.replace("127.0.0.1", "localhost");
    for url in [&server, &by_name] {
        let (status, body) = register(&app, &member, url, "sneaky").await;
        assert_eq!(status, 403, "{url}: {body}");
        let said = format!("{} {}", body["error"], body["message"]);
        assert!(said.contains("only admins"), "{body}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the member's URL was called"
    );
    assert_eq!(endpoint_count(&app, &member).await, 0);
    let (_, member_key) = app.create_key(&member, None, json!({})).await;
    let (status, _) = register(&app, &member_key, &server, "k").await;
    assert_eq!(status, 403, "a key of the member");
    // The admin may: loopback is in the default networks.
    let (status, body) = register(&app, &admin, &server, "home").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "healthy", "{body}");
}

#[tokio::test]
async fn members_may_use_the_operator_networks_only_when_the_operator_opens_them() {
    let app = TestApp::spawn_with(&[
        ("CAIRN__BILLING__ENFORCE", "false"),
        ("CAIRN__GATEWAY__LOCAL_ENDPOINTS_FOR_MEMBERS", "true"),
        (
            "CAIRN__GATEWAY__LOCAL_ENDPOINT_NETWORKS",
            "[\"127.0.0.0/8\"]",
        ),
    ])
    .await;
    let admin = app.admin("open-admin@example.com").await;
    let member = app.register("open-member@example.com").await;
    let server = model_server(llama(), Arc::default(), Arc::default()).await;
    let (status, body) = register(&app, &member, &server, "lab").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "healthy", "{body}");
    // Outside the listed networks even an admin is refused.
    for url in ["http://10.0.0.1:11434", "http://[::1]:11434"] {
        let (status, body) = register(&app, &admin, url, "far").await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("local_endpoint_networks"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_endpoint_url_with_userinfo_query_or_fragment_is_refused() {
    let app = app().await;
    let admin = app.admin("userinfo-admin@example.com").await;
    let hits = Arc::new(AtomicUsize::new(0));
    let server = model_server(llama(), Arc::default(), hits.clone()).await;
    let host = server.trim_start_matches("http://");
    for url in [
        format!("http://user:secret@{host}"),
        format!("http://user@{host}/v1"),
        format!("{server}/v1?api_key=x"),
        format!("{server}/#models"),
    ] {
        let (status, body) = register(&app, &admin, &url, "odd").await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(
            body["message"].as_str().unwrap().starts_with("url:"),
            "{url}: {body}"
        );
    }
    let (status, ep) = register(&app, &admin, &server, "plain").await;
    assert_eq!(status, 201);
    let id = ep["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/v1/local-endpoints/{id}"),
            &admin,
            json!({"url": format!("{server}?x=1")}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "only the plain URL was called"
    );
}

#[tokio::test]
async fn a_huge_model_list_is_capped() {
    let app = app().await;
    let admin = app.admin("huge-admin@example.com").await;
    let many: Vec<String> = (0..10_000).map(|i| format!("model-{i}")).collect();
    let server = model_server(many, Arc::default(), Arc::default()).await;
    let (status, ep) = register(&app, &admin, &server, "hoarder").await;
    assert_eq!(status, 201, "{ep}");
    assert_eq!(ep["status"], "healthy");
    assert_eq!(
        ep["models"].as_array().unwrap().len(),
        200,
        "gateway.local_endpoint_max_models"
    );
    let padding = "x".repeat(5 * 1024 * 1024);
    let bloated = serve(vec![(
        "/v1/models",
        200,
        "application/json",
        json!({"data": [{"id": "m"}], "padding": padding}).to_string(),
    )]);
    let (status, ep) = register(&app, &admin, &bloated.base, "bloated").await;
    assert_eq!(status, 201, "{ep}");
    assert_eq!(ep["status"], "unreachable");
    assert!(
        ep["last_error"].as_str().unwrap().contains("larger than"),
        "{ep}"
    );
}

#[tokio::test]
async fn a_url_source_whose_host_resolves_to_loopback_is_refused() {
    let site = serve(vec![("/x", 200, "text/plain", "internal secret".into())]);
    let app = app().await;
    let s = app.register("resolves@example.com").await;
    let url = format!("{}/x", site.base.replace("127.0.0.1", "localhost"));
    let res = app.post("/v1/sources", &s, json!({"url": url})).await;
    assert_eq!(res.status(), 400, "{url}");
    let msg = json_of(res).await["message"].as_str().unwrap().to_string();
    assert!(msg.contains("internal address"), "{msg}");
    assert_eq!(
        json_of(app.get("/v1/sources", &s).await).await["data"],
        json!([])
    );
}

#[tokio::test]
async fn a_deleted_endpoint_never_routes_again_even_with_a_check_in_flight() {
    let app = app().await;
    let admin = app.admin("delete-admin@example.com").await;
    let (_, key) = app.create_key(&admin, None, json!({})).await;
    let slow = Arc::new(AtomicBool::new(false));
    let server = model_server(llama(), slow.clone(), Arc::default()).await;
    let (status, ep) = register(&app, &admin, &server, "box").await;
    assert_eq!(status, 201, "{ep}");
    let id = ep["id"].as_str().unwrap().to_string();
    let ask = json!({"model": "box/llama3.2", "max_tokens": 5,
                     "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = app.chat(&key, ask.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "local llama3.2");
    // A recheck is talking to the (now slow) server when the endpoint is deleted: its
    // save must not bring the endpoint back.
    slow.store(true, Ordering::SeqCst);
    let recheck_path = format!("/v1/local-endpoints/{id}/recheck");
    let recheck = app.post(&recheck_path, &admin, json!({}));
    let delete = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.delete(&format!("/v1/local-endpoints/{id}"), &admin)
            .await
    };
    let (rechecked, deleted) = tokio::join!(recheck, delete);
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        rechecked.status(),
        404,
        "the recheck saved a deleted endpoint"
    );
    assert_eq!(endpoint_count(&app, &admin).await, 0);
    let (status, body) = app.chat(&key, ask).await;
    assert_eq!(status, 404, "a deleted endpoint still routes: {body}");
}
