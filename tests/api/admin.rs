//! The admin API (`/admin/v1/*`): providers and models edited live, routing defaults and the
//! simulation, health, stats, logs and audit, and who may use it.
//! Each test starts the real binary ([`crate::common::TestApp`]) against a loopback
//! OpenAI-compatible provider.

use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::common::api::{error_message, error_text, header_of, strings_of};
use crate::common::fixtures::local_completion;
use crate::common::{json_of, TestApp};

pub const SECRET: &str = "sk-admin-secret-7f3a9c";

/// A provider that lists `ok-a`, `ok-b` and `fail-500` at `/v1/models` and answers chat
/// completions for callers sending [`SECRET`]; `fail-500` always fails.
pub async fn provider() -> String {
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(|| async {
                axum::Json(json!({"object": "list", "data": [
                    {"id": "ok-a", "object": "model"}, {"id": "ok-b", "object": "model"},
                    {"id": "fail-500", "object": "model"}]}))
            }),
        )
        .route(
            "/v1/chat/completions",
            axum::routing::post(
                |h: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                    let auth = h.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some(&format!("Bearer {SECRET}")) {
                        return axum::http::StatusCode::UNAUTHORIZED.into_response();
                    }
                    if body["model"] == "fail-500" {
                        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom")
                            .into_response();
                    }
                    axum::Json(local_completion(&body, 12, 5)).into_response()
                },
            ),
        );
    // Providers are addressed up to /v1, as in the config file.
    format!("{}/v1", crate::common::fixtures::serve_router(app).await)
}

/// The operator's session, funded, a runtime key of its account, and the provider `mock`
/// registered over the admin API with its key in the vault.
async fn with_provider(app: &TestApp) -> (String, String) {
    let base = provider().await;
    let admin = app.operator().await.to_string();
    super::gateway::fund(app, &admin, 10.0).await;
    let (_, key) = app.create_key(&admin, None, json!({})).await;
    let body =
        json!({"id": "mock", "type": "openai_compatible", "base_url": base, "api_key": SECRET});
    let saved = app
        .post_expect("/admin/v1/providers", &admin, body, 200)
        .await;
    assert_eq!(saved["cred_store"], "vault");
    assert_eq!(saved["provider"]["api_key_set"], true);
    assert!(!saved.to_string().contains(SECRET));
    (admin, key)
}

/// The base URL the provider `mock` was saved with.
async fn provider_base(app: &TestApp, admin: &str) -> String {
    let providers = app.get_json("/admin/v1/providers", admin).await;
    providers["items"][0]["base_url"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn add_model(app: &TestApp, admin: &str, body: Value) -> Value {
    app.post_expect("/admin/v1/models", admin, body, 200).await
}

/// `flaky` (always fails, weight 9) and `steady` (answers, weight 2) on the provider `mock`.
async fn flaky_and_steady(app: &TestApp, admin: &str) {
    let flaky = json!({"id": "flaky", "provider_id": "mock", "upstream": "fail-500", "weight": 9});
    add_model(app, admin, flaky).await;
    let steady = json!({"id": "steady", "provider_id": "mock", "upstream": "ok-a", "weight": 2});
    add_model(app, admin, steady).await;
}

/// A chat answer's status and the catalog model that served it (`x-cairn-model`).
async fn served(app: &TestApp, key: &str, model: &str) -> (u16, String) {
    let body =
        json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let res = app.post("/v1/chat/completions", key, body).await;
    let status = res.status().as_u16();
    let by = if status == 200 {
        header_of::<String>(&res, "x-cairn-model")
    } else {
        res.text().await.unwrap_or_default()
    };
    (status, by)
}

#[tokio::test]
async fn models_added_patched_and_deleted_over_the_api_route_at_once() {
    let app = TestApp::spawn().await;
    let (admin, key) = with_provider(&app).await;

    // An id with a slash, served by the provider with the vault's key.
    let model = json!({"id": "org/model-a", "provider_id": "mock", "upstream": "ok-a", "weight": 3,
                       "max_context_tokens": 8000, "input_per_1k": 0.001, "output_per_1k": 0.002});
    let saved = add_model(&app, &admin, model).await;
    assert_eq!(saved["model"]["source"], "admin");
    assert_eq!(
        served(&app, &key, "org/model-a").await,
        (200, "org/model-a".into())
    );

    // Disabled: known but unavailable; enabled again with new aliases: routed by them.
    let path = "/admin/v1/models/org/model-a";
    let res = app.patch(path, &admin, json!({"enabled": false})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(served(&app, &key, "org/model-a").await.0, 503);
    let res = app
        .patch(path, &admin, json!({"enabled": true, "aliases": ["house"]}))
        .await;
    assert_eq!(json_of(res).await["model"]["aliases"], json!(["house"]));
    assert_eq!(
        served(&app, &key, "house").await,
        (200, "org/model-a".into())
    );

    // A disabled provider takes its models out of routing.
    let res = app
        .patch(
            "/admin/v1/providers/mock",
            &admin,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(served(&app, &key, "house").await.0, 503);
    app.patch("/admin/v1/providers/mock", &admin, json!({"enabled": true}))
        .await;

    // Saving the provider again without a key keeps the key it has.
    let again = json!({"id": "mock", "type": "openai_compatible", "base_url": provider_base(&app, &admin).await, "timeout_secs": 30});
    let saved = app
        .post_expect("/admin/v1/providers", &admin, again, 200)
        .await;
    assert_eq!(
        (
            saved["cred_store"].as_str(),
            saved["provider"]["api_key_set"].as_bool()
        ),
        (Some("vault"), Some(true))
    );
    assert_eq!(
        served(&app, &key, "house").await,
        (200, "org/model-a".into())
    );

    let listed = app.get_json("/admin/v1/models?limit=10", &admin).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(strings_of(&listed["items"], "id"), ["org/model-a"]);
    let res = app.delete(path, &admin).await;
    assert_eq!(res.status(), 200);
    assert_eq!(served(&app, &key, "house").await.0, 404);
    let res = app.delete(path, &admin).await;
    assert_eq!(res.status(), 404);

    // The provider's discovery marks what the catalog serves.
    add_model(
        &app,
        &admin,
        json!({"id": "b", "provider_id": "mock", "upstream": "ok-b"}),
    )
    .await;
    let found = app
        .get_json("/admin/v1/providers/mock/discover", &admin)
        .await;
    let registered: Vec<(String, bool)> = found["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["registered"] == true,
            )
        })
        .collect();
    assert_eq!(
        registered,
        [
            ("ok-a".into(), false),
            ("ok-b".into(), true),
            ("fail-500".into(), false)
        ]
    );

    // Deleting the provider takes its models with it.
    let res = app.delete("/admin/v1/providers/mock", &admin).await;
    assert_eq!(json_of(res).await["models_deleted"], 1);
    assert_eq!(served(&app, &key, "b").await.0, 404);
}

#[tokio::test]
async fn the_audit_records_every_change_with_its_actor_and_never_a_secret() {
    let app = TestApp::spawn_logging(&[]).await;
    let (admin, _) = with_provider(&app).await;
    add_model(
        &app,
        &admin,
        json!({"id": "a", "provider_id": "mock", "upstream": "ok-a"}),
    )
    .await;
    let res = app
        .patch(
            "/admin/v1/providers/mock",
            &admin,
            json!({"api_key": "sk-rotated-secret-99"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let put = json!({"default_mode": "fast", "default_max_budget_usd": 0.5, "default_max_latency_ms": 20000});
    let res = app.put("/admin/v1/routing-config", &admin, put).await;
    assert_eq!(res.status(), 200);

    let audit = app.get_json("/admin/v1/audit?limit=50", &admin).await;
    let actions = strings_of(&audit["items"], "action");
    assert_eq!(
        actions,
        [
            "routing.update",
            "provider.update",
            "model.create",
            "provider.create"
        ]
    );
    let actor = app.actor_of(&admin).await;
    assert!(strings_of(&audit["items"], "actor")
        .iter()
        .all(|a| *a == actor));
    let update = &audit["items"][1];
    assert_eq!(update["before"]["api_key_set"], true);
    assert_eq!(update["after"]["cred_store"], "vault");
    let page = app
        .get_json("/admin/v1/audit?limit=1&offset=1", &admin)
        .await;
    assert_eq!(
        (page["total"].as_i64(), page["items"][0]["action"].as_str()),
        (Some(4), Some("provider.update"))
    );

    // Nothing the admin API answers, and nothing the server logged, holds a key.
    let providers = app.get_json("/admin/v1/providers", &admin).await;
    for text in [audit.to_string(), providers.to_string()] {
        assert!(!text.contains(SECRET) && !text.contains("sk-rotated-secret-99"));
    }
    let log = app.log_text();
    assert!(
        !log.contains(SECRET) && !log.contains("sk-rotated-secret-99"),
        "a provider key reached the log"
    );
}

#[tokio::test]
async fn the_simulation_names_the_model_the_router_then_uses() {
    let app = TestApp::spawn().await;
    let (admin, key) = with_provider(&app).await;
    add_model(
        &app,
        &admin,
        json!({"id": "cheap", "provider_id": "mock", "upstream": "ok-a",
        "weight": 2, "input_per_1k": 0.0001, "output_per_1k": 0.0002}),
    )
    .await;
    add_model(
        &app,
        &admin,
        json!({"id": "strong", "provider_id": "mock", "upstream": "ok-b",
        "weight": 9, "input_per_1k": 0.01, "output_per_1k": 0.03}),
    )
    .await;

    for mode in ["auto", "max"] {
        let sim = app
            .post_expect(
                "/admin/v1/routing/simulate",
                &admin,
                json!({"mode": mode, "token_count": 10, "max_tokens": 50}),
                200,
            )
            .await;
        let decided = sim["decision"]["model_id"].as_str().unwrap().to_string();
        assert_eq!(
            served(&app, &key, mode).await,
            (200, decided.clone()),
            "{sim}"
        );
        assert_eq!(sim["eligible"][0]["rank"], 1);
        assert_eq!(sim["eligible"].as_array().unwrap().len(), 2);
        assert!(sim["eligible"][0]["value"].as_f64().unwrap() > 0.0);
    }

    // A budget cap in the routing config leaves the strong model out of every request.
    let put = json!({"default_mode": "max", "default_max_budget_usd": 0.0005, "default_max_latency_ms": null});
    let res = app.put("/admin/v1/routing-config", &admin, put).await;
    assert_eq!(res.status(), 200);
    let sim = app
        .post_expect(
            "/admin/v1/routing/simulate",
            &admin,
            json!({"max_tokens": 50}),
            200,
        )
        .await;
    assert_eq!(sim["decision"]["model_id"], "cheap", "{sim}");
    assert_eq!(sim["decision"]["method"], "max:weight");
    assert_eq!(sim["excluded"][0]["model_id"], "strong");
    assert!(sim["excluded"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("max_budget_usd"));
    assert_eq!(served(&app, &key, "max").await, (200, "cheap".into()));
    let config = app.get_json("/admin/v1/routing-config", &admin).await;
    assert_eq!(config["default_max_budget_usd"], 0.0005);

    // A cap no model fits: nothing is decided, and a request says the policy is why.
    let sim = app
        .post_expect(
            "/admin/v1/routing/simulate",
            &admin,
            json!({"max_budget_usd": 1e-9}),
            200,
        )
        .await;
    assert!(sim["decision"].is_null());
    let put = json!({"default_mode": "auto", "default_max_budget_usd": 1e-9});
    app.put("/admin/v1/routing-config", &admin, put).await;
    let (status, text) = served(&app, &key, "auto").await;
    assert_eq!(status, 503);
    assert!(text.contains("routing policy"), "{text}");
}

#[tokio::test]
async fn health_stats_and_logs_show_failures_and_traffic() {
    let app = TestApp::spawn().await;
    let (admin, key) = with_provider(&app).await;
    flaky_and_steady(&app, &admin).await;

    // The named model fails; the next candidate answers.
    assert_eq!(served(&app, &key, "flaky").await, (200, "steady".into()));
    assert_eq!(served(&app, &key, "steady").await, (200, "steady".into()));

    let health = app.get_json("/admin/v1/health", &admin).await;
    let model = |id: &str| {
        health["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model_id"] == id)
            .cloned()
            .unwrap()
    };
    let flaky = model("flaky");
    assert_eq!(
        (flaky["requests"].as_u64(), flaky["failures"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        flaky["last_error"].as_str().unwrap().contains("500"),
        "{flaky}"
    );
    assert_eq!(flaky["breaker"], "closed", "one failure of three");
    assert_eq!(model("steady")["error_rate"], 0.0);
    assert!(model("steady")["latency_ewma_ms"].as_f64().is_some());
    assert_eq!(health["providers"][0]["provider_id"], "mock");
    assert_eq!(health["providers"][0]["failures"], 1);
    assert_eq!(health["providers"][0]["state"], "healthy");

    let stats = app.get_json("/admin/v1/stats", &admin).await;
    assert_eq!(stats["global"]["requests"], 2);
    assert_eq!(stats["by_model"]["steady"]["requests"], 2);
    assert_eq!(stats["by_provider"]["mock"]["requests"], 2);
    let later = app
        .get_json("/admin/v1/stats?since=2999-01-01T00:00:00Z", &admin)
        .await;
    assert_eq!(later["global"]["requests"], 0);

    let logs = app.get_json("/admin/v1/logs?limit=1", &admin).await;
    assert_eq!(
        (logs["total"].as_i64(), logs["limit"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(logs["items"][0]["served_model"], "steady");
    assert!(logs["items"][0]["account_id"].is_string());

    let engine = app.get_json("/admin/v1/engine/models", &admin).await;
    assert_eq!(engine["total"], 2);
    assert_eq!(engine["adapter_info"][0]["id"], "mock");
    let info = app.get_json("/admin/v1/info", &admin).await;
    assert_eq!(
        (
            info["vault_locked"].as_bool(),
            info["vault_initialized"].as_bool()
        ),
        (Some(false), Some(true))
    );
}

#[tokio::test]
async fn only_the_admin_scope_reaches_the_admin_api() {
    let app = TestApp::spawn().await;
    let admin = app.operator().await.to_string();
    let reviewer = app.user_with_role("reviewer@example.com", "reviewer").await;
    let (_, runtime) = app.create_key(&admin, None, json!({})).await;
    let (_, scoped) = app
        .create_key(&admin, None, json!({"scopes": ["admin"]}))
        .await;
    for token in [&reviewer, &runtime] {
        let res = app.get("/admin/v1/providers", token).await;
        assert!(error_text(res, 403).await.contains("admin"));
        let res = app
            .post(
                "/admin/v1/models",
                token,
                json!({"id": "x", "provider_id": "y"}),
            )
            .await;
        assert_eq!(res.status(), 403);
    }
    assert_eq!(app.get("/admin/v1/info", &scoped).await.status(), 200);
    assert_eq!(app.get("/admin/v1/info", &admin).await.status(), 200);
    assert_eq!(
        app.get("/admin/v1/info", "not-a-credential").await.status(),
        401
    );
}

#[tokio::test]
async fn bad_admin_input_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (admin, _) = with_provider(&app).await;
    let cases = [
        (
            "/admin/v1/providers",
            json!({"id": "p", "type": "bogus", "base_url": "http://127.0.0.1:9"}),
            "type:",
        ),
        (
            "/admin/v1/providers",
            json!({"id": "p", "type": "openai_compatible"}),
            "base_url:",
        ),
        (
            "/admin/v1/providers",
            json!({"id": "p", "type": "openai", "base_url": "http://169.254.169.254"}),
            "base_url:",
        ),
        (
            "/admin/v1/providers",
            json!({"id": "p", "type": "openai", "base_url": "http://127.0.0.1:9", "cred_store": "env"}),
            "api_key_env:",
        ),
        (
            "/admin/v1/providers",
            json!({"id": "p", "type": "openai", "base_url": "http://127.0.0.1:9", "api_key_env": "CAIRN_VAULT_PASSWORD"}),
            "api_key_env:",
        ),
        (
            "/admin/v1/providers",
            json!({"id": "p", "type": "openai", "base_url": "http://127.0.0.1:9", "cred_store": "none", "api_key": "k"}),
            "api_key:",
        ),
        (
            "/admin/v1/providers",
            json!({"id": "bad id", "type": "openai"}),
            "id:",
        ),
        (
            "/admin/v1/models",
            json!({"id": "m", "provider_id": "nope"}),
            "provider_id:",
        ),
        (
            "/admin/v1/models",
            json!({"id": "m", "provider_id": "mock", "weight": 11}),
            "weight:",
        ),
        (
            "/admin/v1/models",
            json!({"id": "auto", "provider_id": "mock"}),
            "id:",
        ),
        (
            "/admin/v1/models",
            json!({"id": "m", "provider_id": "mock", "aliases": ["max"]}),
            "aliases[0]:",
        ),
        (
            "/admin/v1/models",
            json!({"id": "m", "provider_id": "mock", "input_per_1k": -1}),
            "input_per_1k:",
        ),
        (
            "/admin/v1/routing/simulate",
            json!({"mode": "fastest"}),
            "mode:",
        ),
    ];
    for (path, body, field) in cases {
        let res = app.post(path, &admin, body.clone()).await;
        let message = error_message(res, 400).await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
    let put = json!({"default_mode": "cheapest"});
    let res = app.put("/admin/v1/routing-config", &admin, put).await;
    assert!(error_message(res, 400).await.starts_with("default_mode:"));
    let res = app.get("/admin/v1/logs?limit=0", &admin).await;
    assert!(error_message(res, 400).await.starts_with("limit:"));
    // Nothing was written by any refusal.
    let audit = app.get_json("/admin/v1/audit", &admin).await;
    assert_eq!(audit["total"], 1, "only the provider.create of the setup");
}

#[tokio::test]
async fn rows_of_the_config_file_are_patched_not_deleted_and_the_patch_survives_a_restart() {
    let base = provider().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("catalog.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[providers]]\nname = \"filed\"\nkind = \"openai_compatible\"\nbase_url = \"{base}\"\n\
             api_key = \"{SECRET}\"\n\n[[models]]\nname = \"filed-model\"\nprovider = \"filed\"\n\
             upstream = \"ok-a\"\nweight = 4\ncontext_window = 8000\ninput_per_1k = 0.001\noutput_per_1k = 0.002\n"
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let env = [("CAIRN_CONFIG", cfg.to_str().unwrap())];
    let mut app = TestApp::spawn_on(data.path(), &env).await;
    let admin = app.operator().await.to_string();

    let res = app.delete("/admin/v1/models/filed-model", &admin).await;
    assert!(error_message(res, 409).await.contains("config file"));
    let res = app.delete("/admin/v1/providers/filed", &admin).await;
    assert_eq!(res.status(), 409);
    let res = app
        .patch("/admin/v1/models/filed-model", &admin, json!({"weight": 8}))
        .await;
    assert_eq!(json_of(res).await["model"]["source"], "admin");
    // The file's key only goes to the file's URL.
    let moved = json!({"base_url": "http://127.0.0.1:9/v1"});
    let res = app.patch("/admin/v1/providers/filed", &admin, moved).await;
    assert!(error_message(res, 409).await.contains("config file's key"));
    // An admin's model on the filed provider, which the next file no longer has.
    let extra = json!({"id": "extra", "provider_id": "filed", "upstream": "ok-b"});
    add_model(&app, &admin, extra).await;

    app.signal("TERM");
    app.wait_exit(std::time::Duration::from_secs(10));
    let mut app = TestApp::spawn_on(data.path(), &env).await;
    let admin = app.login("operator@example.com").await;
    let listed = app.get_json("/admin/v1/models", &admin).await;
    let weight = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "filed-model");
    assert_eq!(weight.unwrap()["weight"], 8, "{listed}");
    let providers = app.get_json("/admin/v1/providers", &admin).await;
    assert_eq!(providers["items"][0]["source"], "config");
    assert_eq!(providers["items"][0]["api_key_set"], true);

    // The file drops the provider: the admin's model stays, its provider the admin's, keyless.
    app.signal("TERM");
    app.wait_exit(std::time::Duration::from_secs(10));
    std::fs::write(&cfg, "").unwrap();
    let app = TestApp::spawn_on(data.path(), &env).await;
    let admin = app.login("operator@example.com").await;
    let listed = app.get_json("/admin/v1/models", &admin).await;
    let ids = strings_of(&listed["items"], "id");
    assert!(
        ids.contains(&"extra") && ids.contains(&"filed-model"),
        "{listed}"
    );
    let providers = app.get_json("/admin/v1/providers", &admin).await;
    let filed = &providers["items"][0];
    assert_eq!(
        (filed["source"].as_str(), filed["cred_store"].as_str()),
        (Some("admin"), Some("none"))
    );
}

#[tokio::test]
async fn admin_keys_rotate_disable_expire_and_are_the_keys_of_v1_keys() {
    let app = TestApp::spawn().await;
    let admin = app.operator().await.to_string();
    let member = app.register("member@example.com").await;
    let (member_key_id, _) = app.create_key(&member, None, json!({})).await;

    // The seed's shape: scopes as a JSON string, a Go-style lifetime, a rotation period.
    let body = json!({"name": "ci", "scopes": "[\"memory:read\",\"memory:write\"]",
                      "rotation_days": 30, "expires_in": "720h", "monthly_budget_usd": 50.0});
    let created = app
        .post_expect("/admin/v1/apikeys", &admin, body, 200)
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let first = created["key"].as_str().unwrap().to_string();
    assert!(created["warning"].is_string() && created["expires_at"].is_string());
    assert_eq!(app.get("/v1/memory/notes", &first).await.status(), 200);

    // One table, two surfaces: the admin's own list has it; the admin list has everyone's.
    let own = app.get_json("/v1/keys", &admin).await;
    assert!(strings_of(&own["data"], "id").contains(&id.as_str()));
    let all = app.get_json("/admin/v1/apikeys", &admin).await;
    let ids = strings_of(&all, "id");
    assert!(ids.contains(&id.as_str()) && ids.contains(&member_key_id.as_str()));
    let shown = all
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert_eq!(shown["scopes"], json!(["memory:read", "memory:write"]));
    assert!(shown["rotation_due_at"].is_string() && shown["enabled"] == true);
    assert!(!all.to_string().contains(&first), "no secret in the list");

    // Rotation: the old secret stops, the new one works.
    let path = format!("/admin/v1/apikeys/{id}");
    let rotated = app
        .post_expect(&format!("{path}/rotate"), &admin, json!({}), 200)
        .await;
    let second = rotated["key"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/memory/notes", &first).await.status(), 401);
    assert_eq!(app.get("/v1/memory/notes", &second).await.status(), 200);

    // Disabled, enabled again, narrowed.
    app.patch(&path, &admin, json!({"enabled": false})).await;
    assert_eq!(app.get("/v1/memory/notes", &second).await.status(), 401);
    let res = app
        .patch(
            &path,
            &admin,
            json!({"enabled": true, "scopes": ["memory:read"]}),
        )
        .await;
    assert_eq!(
        json_of(res).await["api_key"]["scopes"],
        json!(["memory:read"])
    );
    assert_eq!(app.get("/v1/memory/notes", &second).await.status(), 200);
    let note = json!({"title": "t", "content": "c"});
    assert_eq!(
        app.post("/v1/memory/notes", &second, note).await.status(),
        403
    );

    // Revoked: gone for good.
    assert_eq!(app.delete(&path, &admin).await.status(), 200);
    assert_eq!(app.get("/v1/memory/notes", &second).await.status(), 401);
    assert_eq!(app.delete(&path, &admin).await.status(), 404);

    // An expired key stops working at its expiry.
    let short = app
        .post_expect(
            "/admin/v1/apikeys",
            &admin,
            json!({"expires_in": "1s"}),
            200,
        )
        .await;
    let short = short["key"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/memory/notes", &short).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(app.get("/v1/memory/notes", &short).await.status(), 401);

    let audit = app.get_json("/admin/v1/audit", &admin).await;
    let actions = strings_of(&audit["items"], "action");
    assert_eq!(
        actions,
        [
            "apikey.create",
            "apikey.delete",
            "apikey.update",
            "apikey.update",
            "apikey.rotate",
            "apikey.create"
        ]
    );
    let res = app
        .post("/admin/v1/apikeys", &admin, json!({"expires_in": "soon"}))
        .await;
    assert!(error_message(res, 400).await.starts_with("expires_in:"));
}

/// Reads an SSE response until `until` appears (10 s at most); the text so far.
pub async fn read_events(res: &mut reqwest::Response, until: &str) -> String {
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains(until) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let chunk = tokio::time::timeout(left, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{until}` within 10 s; got: {text}"))
            .unwrap()
            .unwrap_or_else(|| panic!("stream ended; got: {text}"));
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

/// The `id:` of every event in SSE text, in order.
fn event_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|id| id.trim().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_event_stream_reports_routing_and_resumes_after_the_last_event_seen() {
    let app = TestApp::spawn().await;
    let (admin, key) = with_provider(&app).await;
    flaky_and_steady(&app, &admin).await;

    let open = |last: Option<&str>| {
        let mut req = app
            .client
            .get(app.url("/admin/v1/events"))
            .bearer_auth(&admin);
        if let Some(id) = last {
            req = req.header("last-event-id", id);
        }
        req.send()
    };
    let mut res = open(None).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(served(&app, &key, "flaky").await, (200, "steady".into()));
    let text = read_events(&mut res, "event: route_success").await;
    assert!(
        text.contains("event: route_error") && text.contains("500"),
        "{text}"
    );
    let ids = event_ids(&text);
    assert_eq!(ids.len(), 2, "{text}");
    drop(res);

    // Reconnecting after the first event replays the second, then goes on live.
    let mut res = open(Some(&ids[0].to_string())).await.unwrap();
    let replay = read_events(&mut res, "event: route_success").await;
    assert_eq!(event_ids(&replay), [ids[1]], "{replay}");
    assert!(!replay.contains("route_error"));
    assert_eq!(served(&app, &key, "steady").await.0, 200);
    let live = read_events(&mut res, &format!("id: {}", ids[1] + 1)).await;
    assert!(live.contains("\"model_id\":\"steady\""), "{live}");

    let res = open(Some("yesterday")).await.unwrap();
    assert!(error_message(res, 400).await.starts_with("Last-Event-ID:"));
    let res = app.get("/admin/v1/events", &key).await;
    assert_eq!(res.status(), 403, "a runtime key without the admin scope");
}

#[tokio::test]
async fn thompson_routing_logs_each_reward_with_its_probability_and_learns_from_it() {
    let app = TestApp::spawn().await;
    let (admin, key) = with_provider(&app).await;
    let model = |id: &str, upstream: &str| {
        json!({"id": id, "provider_id": "mock", "upstream": upstream, "weight": 5,
               "input_per_1k": 0.0001, "output_per_1k": 0.0002})
    };
    add_model(&app, &admin, model("flaky", "fail-500")).await;
    add_model(&app, &admin, model("steady", "ok-a")).await;
    for _ in 0..8 {
        assert_eq!(served(&app, &key, "thompson").await, (200, "steady".into()));
    }

    let rewards = app.get_json("/admin/v1/rewards?limit=100", &admin).await;
    let items = rewards["items"].as_array().unwrap();
    let of = |id: &str| {
        items
            .iter()
            .filter(|r| r["model_id"] == id)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("steady").len(), 8, "{rewards}");
    assert!(
        of("flaky").len() <= 3,
        "the breaker takes it out after three failures"
    );
    for r in of("steady") {
        assert_eq!(r["success"], true);
        assert!(r["reward"].as_f64().unwrap() >= 0.5);
    }
    for r in of("flaky") {
        assert_eq!(
            (r["success"].as_bool(), r["reward"].as_f64()),
            (Some(false), Some(0.0))
        );
    }
    for r in items {
        let p = r["probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p) && r["bucket"] == "xs", "{r}");
    }

    let sim = app
        .post_expect(
            "/admin/v1/routing/simulate",
            &admin,
            json!({"mode": "thompson", "token_count": 10}),
            200,
        )
        .await;
    let steady = sim["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model_id"] == "steady")
        .cloned()
        .unwrap();
    assert!(steady["posterior_mean"].as_f64().unwrap() > 0.5, "{sim}");
    assert!(steady["probability"].as_f64().is_some());
    assert_eq!(sim["decision"]["method"], "thompson");
}

#[tokio::test]
async fn ingest_jobs_of_every_workspace_are_listed_as_workflows_with_their_history() {
    let app = TestApp::spawn().await;
    let admin = app.operator().await.to_string();
    let member = app.register("writer@example.com").await;
    let mine = app
        .create_source(
            &admin,
            json!({"text": "Hoatzin chicks have wing claws.", "title": "Hoatzin"}),
        )
        .await;
    app.create_source(&member, json!({"text": "Axolotls regrow limbs."}))
        .await;

    let all = app.get_json("/admin/v1/workflows", &admin).await;
    assert_eq!(all["total"], 2, "{all}");
    assert!(strings_of(&all["items"], "status")
        .iter()
        .all(|s| *s == "COMPLETED"));
    let running = app
        .get_json("/admin/v1/workflows?status=RUNNING", &admin)
        .await;
    assert_eq!(running["total"], 0);
    let res = app.get("/admin/v1/workflows?status=PAUSED", &admin).await;
    assert!(error_message(res, 400).await.starts_with("status:"));

    let one = app
        .get_json(&format!("/admin/v1/workflows/{}", mine.id), &admin)
        .await;
    assert_eq!(
        (one["workflow_type"].as_str(), one["title"].as_str()),
        (Some("ingest"), Some("Hoatzin"))
    );
    assert!(one["close_time"].is_string());
    let history = app
        .get_json(&format!("/admin/v1/workflows/{}/history", mine.id), &admin)
        .await;
    let kinds = strings_of(&history["events"], "event_type");
    assert_eq!(
        kinds,
        [
            "WorkflowExecutionStarted",
            "DocumentIndexed",
            "WorkflowExecutionCompleted"
        ]
    );
    let res = app.get("/admin/v1/workflows/nope/history", &admin).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get("/admin/v1/workflows", &member).await.status(), 403);
}

#[tokio::test]
async fn the_stats_surface_counts_requests_cache_hits_and_ingested_telemetry() {
    let app = TestApp::spawn().await;
    let (_, key) = with_provider(&app).await;
    let admin = app.operator().await.to_string();
    add_model(
        &app,
        &admin,
        json!({"id": "steady", "provider_id": "mock", "upstream": "ok-a",
        "input_per_1k": 0.001, "output_per_1k": 0.002}),
    )
    .await;
    let res = app.get("/stats/last", &key).await;
    assert_eq!(res.status(), 404, "no request yet");
    // The same request at temperature 0 twice: the second is a cache hit.
    let body = json!({"model": "steady", "temperature": 0, "max_tokens": 20,
                      "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        assert_eq!(app.chat(&key, body.clone()).await.0, 200);
    }
    let cache = app.get_json("/cache-stats", &key).await;
    assert_eq!(
        (cache["hits"].as_u64(), cache["misses"].as_u64()),
        (Some(1), Some(1)),
        "{cache}"
    );
    assert_eq!(cache["hit_rate"], 0.5);
    assert!(cache["entries"].as_u64().unwrap() >= 1);

    let record =
        json!({"model": "claude-haiku-4-5", "tokens": 1500, "cost": 0.002, "agent": "cli"});
    let res = app.post_expect("/ingest", &key, record.clone(), 200).await;
    assert_eq!(res["ingested"], 1);
    let batch = json!([record.clone(), record.clone()]);
    assert_eq!(
        app.post_expect("/ingest/batch", &key, batch, 200).await["ingested"],
        2
    );
    // One bad record refuses the whole batch, naming it.
    let bad = json!([record.clone(), {"model": "m", "tokens": -1, "cost": 0.1}]);
    let res = app.post("/ingest/batch", &key, bad).await;
    assert!(error_message(res, 400).await.starts_with("[1].tokens:"));

    let stats = app.get_json("/stats", &key).await;
    assert_eq!(stats["session"]["requests"], 5, "{stats}");
    assert_eq!(stats["by_model"]["claude-haiku-4-5"]["tokens"], 4500);
    assert_eq!(stats["by_model"]["steady"]["requests"], 2);
    let session = app.get_json("/stats/session", &key).await;
    assert_eq!(session["tokens_in"].as_i64(), Some(4500 + 2 * 12));
    let last = app.get_json("/stats/last", &key).await;
    assert_eq!(last["request_type"], "telemetry");
    let recent = app.get_json("/recent", &key).await;
    assert_eq!(recent.as_array().unwrap().len(), 5);
    // Telemetry counts its cost but is never charged: only the one answered request is.
    let one_call = 12.0 / 1000.0 * 0.001 + 5.0 / 1000.0 * 0.002;
    let charged = stats["session"]["charged_usd"].as_f64().unwrap();
    let cost = stats["session"]["cost_usd"].as_f64().unwrap();
    assert!((charged - one_call).abs() < 1e-9, "{stats}");
    assert!((cost - (one_call + 3.0 * 0.002)).abs() < 1e-9, "{stats}");

    // Another account sees none of it; a key without `chat` cannot ingest.
    let other = app.register("other-stats@example.com").await;
    assert_eq!(app.get("/stats/last", &other).await.status(), 404);
    assert_eq!(app.get_json("/recent", &other).await, json!([]));
    let (_, reader) = app
        .create_key(&other, None, json!({"scopes": ["memory:read"]}))
        .await;
    let res = app.post("/ingest", &reader, record).await;
    assert!(error_text(res, 403).await.contains("chat"));
}

/// `GET /admin/v1/tsdb/query?{q}`.
async fn series(app: &TestApp, admin: &str, q: &str) -> Value {
    app.get_json(&format!("/admin/v1/tsdb/query?{q}"), admin)
        .await
}

#[tokio::test]
async fn the_time_series_holds_each_models_figures_rolls_them_up_and_forgets_them() {
    let app = TestApp::spawn().await;
    let (admin, key) = with_provider(&app).await;
    flaky_and_steady(&app, &admin).await;
    for model in ["flaky", "flaky", "steady"] {
        assert_eq!(served(&app, &key, model).await, (200, "steady".into()));
    }
    let total = |series: &Value| -> f64 {
        series["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .sum()
    };
    assert_eq!(
        total(&series(&app, &admin, "metric=requests&model_id=steady").await),
        3.0
    );
    assert_eq!(
        total(&series(&app, &admin, "metric=tokens&model_id=steady").await),
        3.0 * 17.0
    );
    assert_eq!(
        total(&series(&app, &admin, "metric=errors&model_id=flaky").await),
        2.0
    );
    assert_eq!(
        total(&series(&app, &admin, "metric=requests").await),
        3.0,
        "every model summed"
    );
    let latency = series(&app, &admin, "metric=latency_ms&model_id=steady").await;
    let counts: i64 = latency["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(counts, 3);
    let metrics = app.get_json("/admin/v1/tsdb/metrics", &admin).await;
    assert_eq!(metrics["models"], json!(["flaky", "steady"]));
    assert_eq!(metrics["retention_days"], 30);

    // Telemetry three hours and three days old: the first is rolled up into its hour, the
    // second is past a one-day retention.
    let ago = |hours: i64| (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339();
    let old = json!([{"model": "archived", "tokens": 100, "cost": 0.01, "timestamp": ago(3)},
                     {"model": "archived", "tokens": 7, "cost": 0.01, "timestamp": ago(72)}]);
    app.post_expect("/ingest/batch", &key, old, 200).await;
    let retention = json!({"retention_days": 1, "raw_hours": 1});
    let res = app.put("/admin/v1/tsdb/retention", &admin, retention).await;
    assert_eq!(res.status(), 200);
    let pruned = app
        .post_expect("/admin/v1/tsdb/prune", &admin, json!({}), 200)
        .await;
    assert!(pruned["rolled_up"].as_u64().unwrap() >= 3, "{pruned}");
    assert!(pruned["deleted"].as_u64().unwrap() >= 3, "{pruned}");
    let hourly = series(
        &app,
        &admin,
        &format!(
            "metric=tokens&model_id=archived&step_ms=3600000&start={}",
            ago(5).replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(total(&hourly), 100.0, "{hourly}");
    assert_eq!(
        total(&series(&app, &admin, "metric=requests&model_id=steady").await),
        3.0,
        "recent points stay"
    );

    for (q, field) in [
        ("metric=speed", "metric:"),
        ("metric=tokens&step_ms=1000", "step_ms:"),
        ("metric=tokens&start=2030-01-01T00:00:00Z", "start:"),
    ] {
        let res = app.get(&format!("/admin/v1/tsdb/query?{q}"), &admin).await;
        assert!(error_message(res, 400).await.starts_with(field), "{q}");
    }
}
