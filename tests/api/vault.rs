//! The credential vault in password mode: locked at start, unlock/lock/rotate over the admin
//! API, auto-lock, the switch back to the key file, and keys never stored in the clear.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::admin::{provider, SECRET};
use crate::common::api::{error_message, error_text};
use crate::common::{json_of, TestApp, BIN};

/// A config file with one provider (its key: [`SECRET`]) and its model `filed-model`.
fn config_file(dir: &std::path::Path, base: &str) -> std::path::PathBuf {
    let path = dir.join("vault.toml");
    std::fs::write(
        &path,
        format!(
            "[[providers]]\nname = \"filed\"\nkind = \"openai_compatible\"\nbase_url = \"{base}\"\n\
             api_key = \"{SECRET}\"\n\n[[models]]\nname = \"filed-model\"\nprovider = \"filed\"\n\
             upstream = \"ok-a\"\nweight = 4\ncontext_window = 8000\ninput_per_1k = 0.001\noutput_per_1k = 0.002\n"
        ),
    )
    .unwrap();
    path
}

async fn chat(app: &TestApp, key: &str, model: &str) -> (u16, Value) {
    app.chat(
        key,
        json!({"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

async fn vault(app: &TestApp, admin: &str, action: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/admin/v1/vault/{action}"), admin, body)
        .await
}

fn unlock(password: &str) -> Value {
    json!({ "admin_password": password })
}

#[tokio::test]
async fn a_password_vault_routes_its_providers_only_while_unlocked_and_rotates_in_one_step() {
    let base = provider().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path(), &base);
    let data = dir.path().join("data");
    let env = [
        ("CAIRN_CONFIG", cfg.to_str().unwrap()),
        ("CAIRN__VAULT__MODE", "password"),
    ];
    let mut app = TestApp::spawn_on(&data, &env).await;
    let admin = app.operator().await.to_string();
    super::gateway::fund(&app, &admin, 10.0).await;
    let (_, key) = app.create_key(&admin, None, json!({})).await;

    let info = app.get_json("/admin/v1/info", &admin).await;
    assert_eq!(info["vault_mode"], "password");
    let flags = (
        info["vault_locked"].as_bool(),
        info["vault_initialized"].as_bool(),
    );
    assert_eq!(flags, (Some(true), Some(false)));
    // The config file's key is in the file, not the vault: its provider routes while locked.
    assert_eq!(chat(&app, &key, "filed-model").await.0, 200);
    // A key sent while locked cannot be sealed.
    let vaulted =
        json!({"id": "vaulted", "type": "openai_compatible", "base_url": base, "api_key": SECRET});
    let res = app
        .post("/admin/v1/providers", &admin, vaulted.clone())
        .await;
    assert!(error_text(res, 503).await.contains("vault is locked"));

    // The first unlock sets the password; a provider whose key the vault holds routes.
    let res = vault(&app, &admin, "unlock", unlock("short")).await;
    assert!(error_message(res, 400).await.starts_with("admin_password:"));
    assert_eq!(
        vault(&app, &admin, "unlock", unlock("first-password"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_json("/admin/v1/info", &admin).await["vault_initialized"],
        true
    );
    app.post_expect("/admin/v1/providers", &admin, vaulted, 200)
        .await;
    let model = json!({"id": "m", "provider_id": "vaulted", "upstream": "ok-a", "input_per_1k": 0.001, "output_per_1k": 0.002});
    app.post_expect("/admin/v1/models", &admin, model, 200)
        .await;
    assert_eq!(chat(&app, &key, "m").await.0, 200);

    // Locked: its key leaves routing, and routing says why; a wrong password does not open it.
    let locked = json_of(vault(&app, &admin, "lock", json!({})).await).await;
    assert_eq!(locked, json!({"ok": true, "already_locked": false}));
    let (status, body) = chat(&app, &key, "m").await;
    assert_eq!(status, 503);
    assert!(body.to_string().contains("vault is locked"), "{body}");
    let sim = app
        .post_expect(
            "/admin/v1/routing/simulate",
            &admin,
            json!({"model_hint": "m"}),
            200,
        )
        .await;
    assert!(sim.to_string().contains("locked vault"), "{sim}");
    assert_eq!(chat(&app, &key, "filed-model").await.0, 200);
    let again = json_of(vault(&app, &admin, "lock", json!({})).await).await;
    assert_eq!(again["already_locked"], true);
    let res = vault(&app, &admin, "unlock", unlock("wrong-password")).await;
    assert_eq!(res.status(), 403);
    assert_eq!(chat(&app, &key, "m").await.0, 503);

    // Rotation with a wrong old password changes nothing; with the right one, only the new
    // password opens the vault.
    let rotate = |old: &str, new: &str| json!({"old_password": old, "new_password": new});
    let res = vault(
        &app,
        &admin,
        "rotate",
        rotate("wrong-password", "second-password"),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        vault(&app, &admin, "unlock", unlock("first-password"))
            .await
            .status(),
        200
    );
    let res = vault(
        &app,
        &admin,
        "rotate",
        rotate("first-password", "second-password"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        chat(&app, &key, "m").await.0,
        200,
        "still open after the rotation"
    );
    vault(&app, &admin, "lock", json!({})).await;
    assert_eq!(
        vault(&app, &admin, "unlock", unlock("first-password"))
            .await
            .status(),
        403
    );
    assert_eq!(
        vault(&app, &admin, "unlock", unlock("second-password"))
            .await
            .status(),
        200
    );

    let audit = app.get_json("/admin/v1/audit?limit=100", &admin).await;
    let text = audit.to_string();
    for action in [
        "vault.unlock",
        "vault.lock",
        "vault.rotate",
        "vault.unlock_failed",
    ] {
        assert!(text.contains(action), "{action} missing from {text}");
    }
    for secret in [SECRET, "first-password", "second-password"] {
        assert!(!text.contains(secret));
    }

    // The database never holds the key or the passwords in the clear.
    app.signal("TERM");
    app.wait_exit(Duration::from_secs(10));
    let mut db = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("cairn.db") {
            db.extend(std::fs::read(&path).unwrap());
        }
    }
    let db = String::from_utf8_lossy(&db);
    assert!(db.len() > 4096, "the database was read");
    for secret in [SECRET, "first-password", "second-password"] {
        assert!(!db.contains(secret), "{secret} stored in the clear");
    }

    // A restart with CAIRN_VAULT_PASSWORD opens it unattended.
    let mut with_password = env.to_vec();
    with_password.push(("CAIRN_VAULT_PASSWORD", "second-password"));
    let mut app = TestApp::spawn_on(&data, &with_password).await;
    let admin = app.login("operator@example.com").await;
    assert_eq!(
        app.get_json("/admin/v1/info", &admin).await["vault_locked"],
        false
    );
    assert_eq!(chat(&app, &key, "m").await.0, 200);
    app.signal("TERM");
    app.wait_exit(Duration::from_secs(10));

    // Back to the key file: refused without the password, re-sealed with it.
    let keyfile = [
        ("CAIRN_CONFIG", cfg.to_str().unwrap()),
        ("CAIRN__VAULT__MODE", "keyfile"),
    ];
    let (ok, stderr) = start_and_stop(&data, &keyfile);
    assert!(!ok && stderr.contains("CAIRN_VAULT_PASSWORD"), "{stderr}");
    let mut switched = keyfile.to_vec();
    switched.push(("CAIRN_VAULT_PASSWORD", "second-password"));
    let mut app = TestApp::spawn_on(&data, &switched).await;
    app.signal("TERM");
    app.wait_exit(Duration::from_secs(10));
    let app = TestApp::spawn_on(&data, &keyfile).await;
    let admin = app.login("operator@example.com").await;
    let info = app.get_json("/admin/v1/info", &admin).await;
    let mode = (info["vault_mode"].as_str(), info["vault_locked"].as_bool());
    assert_eq!(mode, (Some("keyfile"), Some(false)));
    assert_eq!(chat(&app, &key, "m").await.0, 200);
    let res = vault(&app, &admin, "unlock", unlock("second-password")).await;
    assert_eq!(res.status(), 409, "keyfile mode has no password");
}

#[tokio::test]
async fn an_idle_password_vault_locks_itself() {
    let env = [
        ("CAIRN__VAULT__MODE", "password"),
        ("CAIRN__VAULT__AUTO_LOCK_SECS", "1"),
        ("CAIRN_VAULT_PASSWORD", "idle-password"),
    ];
    let app = TestApp::spawn_with(&env).await;
    let admin = app.operator().await.to_string();
    // Whether or not the start took longer than the idle time, an unlock opens it again.
    let res = vault(&app, &admin, "unlock", unlock("idle-password")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_json("/admin/v1/info", &admin).await["vault_locked"],
        false
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let info = app.get_json("/admin/v1/info", &admin).await;
    assert_eq!(info["vault_locked"], true, "{info}");
    let audit = app.get_json("/admin/v1/audit", &admin).await;
    assert_eq!(audit["items"][0]["actor"], "system:auto-lock");
}

/// Starts `cairn serve` on `data` and stops it once it listens: whether it started, and its
/// stderr when it did not.
fn start_and_stop(data: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env("CAIRN__SERVER__BIND", "127.0.0.1:0")
        .env("CAIRN__STORAGE__DATA_DIR", data)
        .env("CAIRN__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start cairn");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut stderr);
            }
            return (status.success(), stderr);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    (true, String::new())
}
