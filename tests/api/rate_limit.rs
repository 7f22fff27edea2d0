//! Per-key, per-session and per-IP rate limits with their headers.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::common::{json_of, TestApp};

/// The limiter counts per calendar minute; start well inside one so the test can't straddle two.
async fn wait_for_fresh_minute() {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if secs > 50 {
        tokio::time::sleep(Duration::from_secs(61 - secs)).await;
    }
}

#[tokio::test]
async fn a_key_over_its_per_minute_limit_gets_429_with_headers() {
    let app = TestApp::spawn().await;
    let session = app.register("rl@example.com").await;
    let (_, key) = app
        .create_key(&session, None, json!({"rate_limit_per_minute": 3}))
        .await;
    wait_for_fresh_minute().await;
    for expected_remaining in ["2", "1", "0"] {
        let res = app.get("/v1/workspaces/default", &key).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(res.headers()["x-ratelimit-remaining"], expected_remaining);
    }
    let res = app.get("/v1/workspaces/default", &key).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(json_of(res).await["error"], "Rate limit exceeded");

    // Another key of the same account has its own budget.
    let (_, other) = app.create_key(&session, None, json!({})).await;
    let res = app.get("/v1/workspaces/default", &other).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "60");
}

#[tokio::test]
async fn the_default_limit_comes_from_config() {
    let app = TestApp::spawn_with(&[("CAIRN__RATE_LIMIT__DEFAULT_PER_MINUTE", "2")]).await;
    let session = app.register("rl2@example.com").await;
    let (_, key) = app.create_key(&session, None, json!({})).await;
    wait_for_fresh_minute().await;
    assert_eq!(app.get("/v1/workspaces/default", &key).await.status(), 200);
    assert_eq!(app.get("/v1/workspaces/default", &key).await.status(), 200);
    assert_eq!(app.get("/v1/workspaces/default", &key).await.status(), 429);
}

#[tokio::test]
async fn public_routes_and_rejected_credentials_count_per_ip_with_headers() {
    let app = TestApp::spawn_with(&[("CAIRN__RATE_LIMIT__ANONYMOUS_PER_MINUTE", "3")]).await;
    wait_for_fresh_minute().await;
    let res = app.get_public("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "3");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "2");
    let res = app.get("/v1/keys", "tok_wrong").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "1");
    let res = app.get_public("/no/such/route").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let res = app.get_public("/metrics").await;
    assert_eq!(res.status(), 429);
    assert_eq!(json_of(res).await["error"], "Rate limit exceeded");
}
