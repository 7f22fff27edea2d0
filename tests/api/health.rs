//! Health, metrics and request ids.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use serde_json::Value;

use crate::common::api::expect_json;
use crate::common::TestApp;

#[tokio::test]
async fn healthz_reports_ok_with_version_and_store_checks() {
    let app = TestApp::spawn().await;
    let body: Value = expect_json(app.get_public("/healthz").await, 200).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["checks"]["sqlite"]["status"], "ok");
    assert_eq!(body["checks"]["data_dir"]["status"], "ok");
}

#[tokio::test]
async fn healthz_is_503_when_the_data_directory_is_gone() {
    let app = TestApp::spawn().await;
    std::fs::remove_dir_all(&app.data_dir).unwrap();
    let body: Value = expect_json(app.get_public("/healthz").await, 503).await;
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["data_dir"]["status"], "error");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.get_public("/healthz").await;
    }
    app.get_public("/nowhere").await;
    let text = app.get_public("/metrics").await.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("cairn_http_requests_total")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no healthz counter in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(text.contains("route=\"unmatched\""));
    assert!(text.contains("cairn_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = TestApp::spawn().await;
    let res = app.get_public("/healthz").await;
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestApp::spawn().await;
    let body: Value = expect_json(app.get_public("/v1/nope").await, 404).await;
    assert_eq!(body["error"], "Route not found");
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "Method not allowed");
}
