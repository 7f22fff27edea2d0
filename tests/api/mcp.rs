//! MCP: Cairn's tools, resources and prompt driven by the official client SDKs (Python `mcp`
//! from PyPI, TypeScript `@modelcontextprotocol/sdk` from npm) over Streamable HTTP and over
//! stdio (`cairn mcp`), against the real binary. The scripts in tests/sdk/ run one scenario
//! and print what they saw; these tests check it.

use serde_json::{json, Value};

use crate::common::{json_of, TestApp, BIN};

const TOOLS: [&str; 9] = [
    "add_source",
    "check_action",
    "context_pack",
    "feedback",
    "forget",
    "get_note",
    "remember",
    "report_action",
    "search",
];

/// A server, a key with the runtime scopes and a key with `memory:read` only.
async fn server() -> (TestApp, String, String, String) {
    let app = TestApp::spawn().await;
    let s = app.register("mcp@example.com").await;
    let (_, key) = app.create_key(&s, None, json!({})).await;
    let (_, weak) = app
        .create_key(&s, None, json!({"scopes": ["memory:read"]}))
        .await;
    (app, s, key, weak)
}

/// Runs `program args` and parses the JSON it prints.
async fn report(program: String, args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn script(name: &str) -> String {
    format!("{}/tests/sdk/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What every client saw, whatever the SDK and transport.
fn check(r: &Value) {
    assert_eq!(r["server"], "cairn", "{r}");
    let tools: Vec<&str> = r["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tools, TOOLS);
    assert_eq!(r["schemas"]["context_pack"]["required"], json!(["query"]));
    let calls = &r["calls"];
    for tool in TOOLS {
        assert_eq!(calls[tool]["is_error"], false, "{tool}: {}", calls[tool]);
    }
    assert!(calls["add_source"]["text"]
        .as_str()
        .unwrap()
        .contains("ready"));
    assert_eq!(calls["get_note"]["text"], "Dana prefers invoices in EUR.");
    assert!(calls["search"]["text"]
        .as_str()
        .unwrap()
        .contains("manager's approval"));
    let pack = calls["context_pack"]["text"].as_str().unwrap();
    assert!(pack.contains("Dana prefers invoices in EUR."), "{pack}");
    assert_eq!(calls["check_action"]["structured"]["decision"], "allow");
    assert_eq!(calls["report_action"]["structured"]["event"], "executed");
    assert_eq!(calls["forget"]["structured"]["forgotten"], true);
    // A bad argument is a tool error naming the field, not a protocol failure.
    assert_eq!(calls["bad_argument"]["is_error"], true);
    let bad = calls["bad_argument"]["text"].as_str().unwrap();
    assert!(bad.starts_with("400") && bad.contains("query"), "{bad}");
    let unknown = calls["unknown_field"]["text"].as_str().unwrap();
    assert!(unknown.contains("colour"), "{unknown}");
    let note_id = calls["remember"]["structured"]["id"].as_str().unwrap();
    assert!(r["resources"]
        .as_array()
        .unwrap()
        .contains(&json!(format!("cairn://notes/{note_id}"))));
    assert_eq!(r["note_resource"]["id"], note_id);
    // Documents follow the notes, on the next page.
    let document = r["document_resource"].as_str().unwrap();
    assert!(document.starts_with("# Refund policy"), "{document}");
    assert!(document.contains("manager's approval"), "{document}");
    assert!(r["prompt"]
        .as_str()
        .unwrap()
        .contains("Dana prefers invoices in EUR."));
    // The key without memory:write is refused by name; what it holds still works.
    assert_eq!(r["weak_remember"]["is_error"], true);
    let refused = r["weak_remember"]["text"].as_str().unwrap();
    assert!(
        refused.starts_with("403") && refused.contains("memory:write"),
        "{refused}"
    );
    assert_eq!(r["weak_context_pack"]["is_error"], false);
}

/// What the MCP calls left behind is what REST shows: one path, one audit trail.
async fn check_rest(app: &TestApp, session: &str) {
    let audit = json_of(app.get("/v1/actions/audit", session).await).await;
    let events: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"executed"), "{audit}");
    let weak_note = json_of(app.get("/v1/memory/notes", session).await).await;
    assert!(!weak_note.to_string().contains("should not be written"));
}

/// The official SDKs' clients: (program, script).
fn python() -> (String, String) {
    let python = crate::common::fixtures::sdk_python();
    (python.display().to_string(), script("mcp_client.py"))
}

/// Node, with the TypeScript SDK that scripts/setup.sh installs in tests/sdk (`npm ci`).
fn node() -> (String, String) {
    let sdk = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/node_modules/@modelcontextprotocol/sdk"
    );
    assert!(
        std::path::Path::new(sdk).exists(),
        "{sdk} is missing: run scripts/setup.sh (make test does)"
    );
    ("node".into(), script("mcp_client.mjs"))
}

/// Runs `client`'s scenario over `transport` (http, or stdio through `cairn mcp`) against a
/// fresh server, and checks what it saw and what REST shows after it.
async fn drive((program, script): (String, String), transport: &str) {
    let (app, s, key, weak) = server().await;
    let mut args = vec![script, transport.to_string()];
    if transport == "stdio" {
        args.push(BIN.into());
    }
    args.extend([app.url(""), key, weak]);
    check(&report(program, args).await);
    check_rest(&app, &s).await;
}

#[tokio::test]
async fn the_python_sdk_uses_every_tool_over_streamable_http() {
    drive(python(), "http").await;
}

#[tokio::test]
async fn the_python_sdk_uses_every_tool_over_stdio_through_cairn_mcp() {
    drive(python(), "stdio").await;
}

#[tokio::test]
async fn the_typescript_sdk_uses_every_tool_over_streamable_http() {
    drive(node(), "http").await;
}

#[tokio::test]
async fn the_typescript_sdk_uses_every_tool_over_stdio_through_cairn_mcp() {
    drive(node(), "stdio").await;
}

#[tokio::test]
async fn mcp_without_a_key_is_refused_before_the_protocol() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
