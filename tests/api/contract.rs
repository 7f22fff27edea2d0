//! The contract matches the behaviour: for every operation in `/openapi.json`, the server's real
//! answers to a bad credential, a nonexistent path id and a malformed query string are statuses
//! the document lists for that operation, and every refusal is JSON with an `error` field
//! (OpenAI's `{"error": {...}}` on the OpenAI-compatible routes).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{TestApp, NO_LIMITS};

/// Routes that answer errors in OpenAI's shape (`middleware::is_openai_route`).
const OPENAI_ROUTES: [&str; 3] = ["/v1/chat/completions", "/v1/embeddings", "/v1/models"];

/// An id no resource has.
const MISSING: &str = "does-not-exist";

struct Operation {
    method: Method,
    path: String,
    /// The documented statuses (`"200"`, `"404"`, ... and perhaps `"default"`).
    documented: Vec<String>,
    /// The query parameters: name and schema.
    query: Vec<(String, Value)>,
}

impl Operation {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn has_path_id(&self) -> bool {
        self.path.contains('{')
    }

    /// The path with every `{param}` replaced by an id nothing has.
    fn concrete_path(&self) -> String {
        self.path
            .split('/')
            .map(|part| if part.starts_with('{') { MISSING } else { part })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// A query string the route must refuse: text for an integer parameter when it has one,
    /// otherwise its first parameter given twice.
    fn malformed_query(&self) -> Option<String> {
        let integer = self.query.iter().find(|(_, schema)| is_integer(schema));
        match integer {
            Some((name, _)) => Some(format!("{name}=abc")),
            None => self
                .query
                .first()
                .map(|(name, _)| format!("{name}=x&{name}=y")),
        }
    }

    fn sends_body(&self) -> bool {
        matches!(self.method, Method::POST | Method::PUT | Method::PATCH)
    }
}

fn is_integer(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "integer",
        Value::Array(types) => types.iter().any(|t| t == "integer"),
        _ => false,
    }
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let documented = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            let query = op["parameters"]
                .as_array()
                .map(|params| {
                    params
                        .iter()
                        .filter(|p| p["in"] == "query")
                        .map(|p| (p["name"].as_str().unwrap().to_string(), p["schema"].clone()))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation {
                method,
                path: path.clone(),
                documented,
                query,
            });
        }
    }
    out
}

/// Sends one probe and returns what is wrong with the answer, if anything.
async fn probe(
    app: &TestApp,
    op: &Operation,
    case: &str,
    token: &str,
    query: Option<&str>,
) -> Option<String> {
    let mut url = app.url(&op.concrete_path());
    if let Some(q) = query {
        url = format!("{url}?{q}");
    }
    let mut req = app
        .client
        .request(op.method.clone(), url)
        .bearer_auth(token);
    if op.sends_body() {
        req = req.json(&json!({}));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16().to_string();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = res.text().await.unwrap_or_default();
    let label = format!("{} ({case})", op.label());
    if !op.documented.contains(&status) && !op.documented.iter().any(|d| d == "default") {
        return Some(format!(
            "{label}: answered {status}, documented {:?}; body: {text}",
            op.documented
        ));
    }
    if !status.starts_with('4') && !status.starts_with('5') {
        return None;
    }
    if !content_type.starts_with("application/json") {
        return Some(format!(
            "{label}: {status} answered as `{content_type}`, not JSON: {text}"
        ));
    }
    let body: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => return Some(format!("{label}: {status} body is not JSON: {text}")),
    };
    let shaped = if OPENAI_ROUTES.contains(&op.path.as_str()) {
        body["error"]["message"].is_string()
    } else {
        body["error"].is_string()
    };
    (!shaped).then(|| format!("{label}: {status} body is not the route's error shape: {body}"))
}

/// Walks every documented operation; routes are never skipped, and every failure is listed.
#[tokio::test]
async fn every_answer_to_bad_input_is_documented_and_json() {
    let app = TestApp::spawn_with(NO_LIMITS).await;
    let session = app.register("contract@example.com").await;
    let spec = app.openapi().await;
    let ops = operations(&spec);
    assert!(ops.len() >= 80, "only {} operations documented", ops.len());

    let mut failures = Vec::new();
    let mut probes = 0;
    for op in &ops {
        failures.extend(probe(&app, op, "bad credential", "not-a-credential", None).await);
        probes += 1;
        if op.has_path_id() {
            failures.extend(probe(&app, op, "nonexistent id", &session, None).await);
            probes += 1;
        }
        if let Some(query) = op.malformed_query() {
            let case = format!("malformed query `{query}`");
            failures.extend(probe(&app, op, &case, &session, Some(&query)).await);
            probes += 1;
        }
    }
    assert!(probes > ops.len(), "only {probes} probes were sent");
    assert!(
        failures.is_empty(),
        "{} of {probes} answers break the contract:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
