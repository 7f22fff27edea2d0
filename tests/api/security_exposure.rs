//! Hardening for a server exposed to strangers (issue 12): metrics labels, the metrics token,
//! what `/healthz` reveals, file modes of the database and secrets, the login throttle and the
//! operator's cap on keys' rate limits. Each test performs the attack over HTTP against the
//! real binary ([`crate::common::TestApp`]) and shows it fails.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::api::error_message;
use crate::common::{json_of, TestApp};

const WRONG: &str = "wrong-password-guess";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn random_token(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
        .collect()
}

async fn login_from(app: &TestApp, forwarded_for: Option<&str>, password: &str) -> StatusCode {
    let mut req = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "victim@example.com", "password": password}));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn ten_thousand_random_methods_and_paths_leave_the_metric_series_count_flat() {
    let app = TestApp::spawn_with(&[("CAIRN__RATE_LIMIT__ANONYMOUS_PER_MINUTE", "1000000")]).await;
    let requests: Vec<(Method, String)> = {
        let mut rng = rand::thread_rng();
        (0..10_000)
            .map(|i| {
                let method = Method::from_bytes(random_token(&mut rng, 10).as_bytes()).unwrap();
                let path = match i % 3 {
                    0 => "/healthz".to_string(),
                    _ => format!("/{}/{}", random_token(&mut rng, 8), i),
                };
                (method, path)
            })
            .collect()
    };
    let statuses: Vec<u16> = futures::stream::iter(requests)
        .map(|(method, path)| {
            let req = app.client.request(method, app.url(&path));
            async move { req.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s < 500), "no 5xx");

    let text = app.get_public("/metrics").await.text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("cairn_http_requests_total{"))
        .collect();
    assert!(
        series.len() <= 12,
        "{} series after 10,000 random requests:\n{}",
        series.len(),
        series.join("\n")
    );
    assert!(
        series.iter().any(|l| l.contains("method=\"other\"")),
        "{series:?}"
    );
    assert!(text.contains("route=\"unmatched\""));
}

#[tokio::test]
async fn metrics_answer_only_the_bearer_of_the_configured_token() {
    let app = TestApp::spawn_with(&[("CAIRN__SERVER__METRICS_TOKEN", "metrics-secret-0123")]).await;
    let res = app.get_public("/metrics").await;
    assert_eq!(res.status(), 401);
    assert!(json_of(res).await["error"].is_string());
    for wrong in ["metrics-secret-012", "metrics-secret-01234", "tok_whatever"] {
        let res = app.get("/metrics", wrong).await;
        assert_eq!(res.status(), 401, "{wrong}");
    }
    let res = app.get("/metrics", "metrics-secret-0123").await;
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("cairn_http_requests_total"));

    // Without a token configured, /metrics stays open to scrapers.
    let open = TestApp::spawn().await;
    let res = open.get_public("/metrics").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_failing_health_check_reveals_no_file_path_or_raw_error() {
    let app = TestApp::spawn().await;
    // A data directory without write bits fails the data_dir check, whose cause names it.
    set_mode(&app.data_dir, 0o555);
    let res = app.get_public("/healthz").await;
    let status = res.status();
    let text = res.text().await.unwrap();
    set_mode(&app.data_dir, 0o755);
    assert_eq!(status, 503, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["checks"]["data_dir"]["status"], "error");
    assert_eq!(body["checks"]["sqlite"]["status"], "ok");
    let data_dir = app.data_dir.display().to_string();
    assert!(!text.contains(&data_dir), "{text}");
    assert!(!text.contains("read-only"), "{text}");
    for check in body["checks"].as_object().unwrap().values() {
        assert!(check.get("error").is_none(), "{text}");
    }
}

#[tokio::test]
async fn the_database_and_secret_files_are_owner_only_and_tightened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut app = TestApp::spawn_on(&data, &[]).await;
    app.register("files@example.com").await;
    let db = data.join("cairn.db");
    let secrets = data.join("secrets");
    let session_key = secrets.join("session.key");
    let vault_key = secrets.join("vault.key");
    for file in [&db, &session_key, &vault_key] {
        assert_eq!(mode(file), 0o600, "fresh {}", file.display());
    }
    for side in ["cairn.db-wal", "cairn.db-shm"] {
        let path = data.join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "fresh {side}");
        }
    }
    assert_eq!(mode(&secrets), 0o700);

    // Stopped, a restore or a careless copy leaves them readable by everyone.
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(30)).is_some(), "stopped");
    let extra = secrets.join("restored.pem");
    std::fs::write(&extra, "copied in by hand").unwrap();
    for file in [&db, &session_key, &vault_key, &extra] {
        set_mode(file, 0o644);
    }
    set_mode(&secrets, 0o755);

    let app = TestApp::spawn_on(&data, &[]).await;
    for file in [&db, &session_key, &vault_key, &extra] {
        assert_eq!(mode(file), 0o600, "tightened {}", file.display());
    }
    assert_eq!(mode(&secrets), 0o700);
    // The server still reads what it tightened: the old session signing key works.
    app.login("files@example.com").await;
}

#[tokio::test]
async fn thirty_concurrent_wrong_logins_from_one_ip_get_at_most_five_tries() {
    let app = TestApp::spawn().await;
    app.register("victim@example.com").await;
    let statuses = futures::future::join_all((0..30).map(|_| login_from(&app, None, WRONG))).await;
    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(tried <= 5, "{tried} guesses were checked: {statuses:?}");
    assert_eq!(tried + refused, 30, "{statuses:?}");
    // The right password is refused too until the lockout ends.
    assert_eq!(
        login_from(&app, None, "s3cret-password").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn rotating_ipv6_addresses_inside_one_64_does_not_reset_the_login_throttle() {
    let app = TestApp::spawn_with(&[("CAIRN__SERVER__TRUST_FORWARDED_FOR", "true")]).await;
    app.register("victim@example.com").await;
    for host in 1..=5 {
        let ip = format!("2001:db8:7:7::{host:x}");
        assert_eq!(
            login_from(&app, Some(&ip), WRONG).await,
            StatusCode::UNAUTHORIZED,
            "{ip}"
        );
    }
    assert_eq!(
        login_from(&app, Some("2001:db8:7:7:ffff:1:2:3"), WRONG).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another /64 is another client.
    assert_eq!(
        login_from(&app, Some("2001:db8:7:8::1"), WRONG).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_key_cannot_get_a_rate_limit_above_the_operators_cap() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut app = TestApp::spawn_on(&data, &[]).await;
    let session = app.register("cap@example.com").await;
    let greedy = json!({"name": "greedy", "rate_limit_per_minute": 6001});
    let message = error_message(app.post("/v1/keys", &session, greedy).await, 400).await;
    assert!(message.contains("rate_limit_per_minute"), "{message}");
    let (_, fast_key) = app
        .create_key(&session, None, json!({"rate_limit_per_minute": 5000}))
        .await;

    // The operator lowers the cap: the stored limit above it is clamped.
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(30)).is_some(), "stopped");
    let app = TestApp::spawn_on(&data, &[("CAIRN__RATE_LIMIT__MAX_PER_MINUTE", "100")]).await;
    let res = app.get("/v1/workspaces/default", &fast_key).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "100");
    let session = app.login("cap@example.com").await;
    let greedy = json!({"name": "greedy", "rate_limit_per_minute": 101});
    app.post_expect("/v1/keys", &session, greedy, 400).await;
}
