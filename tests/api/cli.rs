//! Operator commands run without a server, and config errors that stop the server.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::process::Command;

use crate::common::api::{cairn_cli, create_admin};
use crate::common::{TestApp, BIN};

#[tokio::test]
async fn operators_create_an_admin_and_a_key_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_admin(&data, "ops@example.com", "operator-pass");
    let out = cairn_cli(
        &data,
        &[],
        &["keys", "create", "--name", "ops", "--workspace", "default"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("tok_"), "{key}");

    let app = TestApp::spawn_on(&data, &[]).await;
    let res = app.get("/v1/workspaces/default", &key).await;
    assert_eq!(res.status(), 200);
    let missing = cairn_cli(
        &data,
        &[],
        &["keys", "create", "--name", "x", "--workspace", "nope"],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Workspace not found"));
}

#[test]
fn an_unknown_config_key_stops_the_server_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .env("CAIRN__STORAGE__DATA_DIR", dir.path())
        .env("CAIRN__SERVER__PORTT", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("portt"), "{stderr}");
}
