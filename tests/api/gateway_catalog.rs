//! The gateway catalog: capability and budget filters, context windows, timeouts.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::api::{error_message, strings_of};
use crate::common::{json_of, TestApp};

fn catalog_config(
    dir: &std::path::Path,
    base: &str,
    models: &[(&str, &str, u8, u32, f64)],
) -> std::path::PathBuf {
    let path = dir.join("catalog.toml");
    let mut text = format!(
        "[[providers]]\nname = \"mock\"\nkind = \"openai_compatible\"\nbase_url = \"{base}\"\n\
         api_key = \"sk-plaintext-provider-key-123\"\n\n\
         [[providers]]\nname = \"slowp\"\nkind = \"openai_compatible\"\nbase_url = \"{base}\"\ntimeout_secs = 1\n\n"
    );
    for (name, upstream, weight, window, price) in models {
        let provider = if upstream.starts_with("slow-") {
            "slowp"
        } else {
            "mock"
        };
        text += &format!(
            "[[models]]\nname = \"{name}\"\nprovider = \"{provider}\"\nupstream = \"{upstream}\"\nweight = {weight}\n\
             context_window = {window}\ninput_per_1k = {price}\noutput_per_1k = {}\n\n",
            price * 2.0
        );
    }
    std::fs::write(&path, text).unwrap();
    path
}

const MODELS: &[(&str, &str, u8, u32, f64)] = &[
    ("tiny", "ok-tiny", 1, 2048, 0.00001),
    ("cheap", "ok-cheap", 2, 8000, 0.0001),
    ("strong", "ok-strong", 7, 32000, 0.003),
    ("narrow", "short-window", 9, 4096, 0.001),
    ("sluggish", "slow-x", 10, 128000, 0.001),
];

async fn chat(app: &TestApp, key: &str, model: &str) -> (u16, Value) {
    app.chat(
        key,
        json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

fn served_by(body: &Value) -> String {
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("hello from ")
        .to_string()
}

#[tokio::test]
async fn budgets_filter_routes_windows_grow_and_slow_providers_time_out() {
    let (base, seen) = super::gateway::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = catalog_config(dir.path(), &base, MODELS);
    let app = TestApp::spawn_with(&[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let s = app.register("catalog@example.com").await;
    super::gateway::fund(&app, &s, 10.0).await;
    let (_, key) = app.create_key(&s, None, json!({})).await;

    // A context-length refusal moves on to a larger window only: tiny (2,048) is skipped.
    seen.lock().unwrap().clear();
    let (status, body) = chat(&app, &key, "narrow").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(served_by(&body), "ok-cheap");
    let asked: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| b["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(asked, ["short-window", "ok-cheap"]);

    // A provider slower than its timeout counts as failed and the next candidate answers.
    let started = Instant::now();
    let (status, body) = chat(&app, &key, "sluggish").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(served_by(&body), "ok-tiny");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );

    // A key's monthly budget keeps the candidates it can afford, and refuses when none fits.
    let created = app
        .post_expect(
            "/v1/keys",
            &s,
            json!({"name": "capped", "monthly_budget_usd": 0.0001}),
            200,
        )
        .await;
    assert_eq!(created["monthly_budget_usd"], 0.0001);
    let capped = created["key"].as_str().unwrap().to_string();
    let (status, body) = chat(&app, &capped, "strong").await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        served_by(&body),
        "ok-strong",
        "strong's estimate exceeds the budget"
    );
    let res = app
        .post(
            "/v1/keys",
            &s,
            json!({"name": "broke", "monthly_budget_usd": 0.0000001}),
        )
        .await;
    let broke = json_of(res).await["key"].as_str().unwrap().to_string();
    let (status, body) = chat(&app, &broke, "auto").await;
    assert_eq!(status, 402, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("API key's monthly budget"));
    let res = app
        .post(
            "/v1/keys",
            &s,
            json!({"name": "bad", "monthly_budget_usd": -1}),
        )
        .await;
    assert!(error_message(res, 400).await.contains("monthly_budget_usd"));
}

#[tokio::test]
async fn the_catalog_lives_in_sql_with_sealed_keys_and_usage_survives_a_restart() {
    let (base, _) = super::gateway::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = catalog_config(dir.path(), &base, MODELS);
    let mut app = TestApp::spawn_on(&data, &[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let pricing = json_of(
        app.request(reqwest::Method::GET, "/v1/pricing", None, None)
            .await,
    )
    .await;
    assert_eq!(pricing["data"].as_array().unwrap().len(), MODELS.len());
    let s = app.register("restart@example.com").await;
    super::gateway::fund(&app, &s, 1.0).await;
    let (_, key) = app.create_key(&s, None, json!({})).await;
    for _ in 0..5 {
        assert_eq!(chat(&app, &key, "cheap").await.0, 200);
    }
    let before = json_of(app.get("/v1/balance", &s).await).await["balance_usd"]
        .as_f64()
        .unwrap();
    assert!(before < 1.0);
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).is_some());

    // The provider key is stored sealed: its text is nowhere in the data directory.
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(b"sk-plaintext-provider-key-123".len())
                .any(|w| w == b"sk-plaintext-provider-key-123"),
            "the provider key is readable in {}",
            entry.display()
        );
    }

    // A changed config replaces the seeded rows; usage and charges written behind the
    // requests are all there after the graceful stop.
    let cfg = catalog_config(dir.path(), &base, &MODELS[1..3]);
    let app = TestApp::spawn_on(&data, &[("CAIRN_CONFIG", cfg.to_str().unwrap())]).await;
    let pricing = json_of(
        app.request(reqwest::Method::GET, "/v1/pricing", None, None)
            .await,
    )
    .await;
    let names = strings_of(&pricing["data"], "id");
    assert_eq!(names, ["cheap", "strong"]);
    let s = app.login("restart@example.com").await;
    let usage = json_of(app.get("/v1/usage", &s).await).await;
    assert_eq!(usage["data"].as_array().unwrap().len(), 5);
    let after = json_of(app.get("/v1/balance", &s).await).await["balance_usd"]
        .as_f64()
        .unwrap();
    assert!((after - before).abs() < 1e-12, "{before} then {after}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
