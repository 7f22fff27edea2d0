use std::path::Path;

/// `schemas/openapi.json` is generated from the code. Set CAIRN_UPDATE_SCHEMAS=1 to rewrite it.
#[test]
fn openapi_json_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json");
    let generated = cairn::http::openapi::spec_json();
    if std::env::var("CAIRN_UPDATE_SCHEMAS").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/openapi.json is stale: run `CAIRN_UPDATE_SCHEMAS=1 cargo test --test integration openapi` and commit it"
    );
}

#[tokio::test]
async fn the_server_serves_the_same_document() {
    let app = crate::common::TestApp::spawn().await;
    let served = app.openapi().await;
    let generated: serde_json::Value =
        serde_json::from_str(&cairn::http::openapi::spec_json()).unwrap();
    assert_eq!(served["paths"], generated["paths"]);
}

/// Every route in the route tables (`routes()` of each `src/http/**/*.rs`) is documented (and
/// so fuzzed by `bad_input` and checked by `contract`), and every documented path is routed. A
/// catch-all segment (`{*id}`) is documented as `{id}`. The dashboard's files
/// (`http/dashboard.rs`) are web pages, not API, and are left out.
#[test]
fn every_route_is_in_the_openapi_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = vec![];
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs")
                && !path.ends_with("dashboard.rs")
            {
                files.push(path);
            }
        }
    }
    let mut routed: Vec<String> = Vec::new();
    for path in files {
        let table = std::fs::read_to_string(&path).unwrap();
        let mut rest = table.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let start = rest.find('"').unwrap() + 1;
            let end = start + rest[start..].find('"').unwrap();
            routed.push(rest[start..end].replace("{*", "{"));
        }
    }
    routed.sort();
    routed.dedup();
    let spec: serde_json::Value = serde_json::from_str(&cairn::http::openapi::spec_json()).unwrap();
    let mut documented: Vec<String> = spec["paths"].as_object().unwrap().keys().cloned().collect();
    documented.sort();
    assert!(routed.len() >= 19, "{routed:?}");
    assert_eq!(routed, documented);
}
