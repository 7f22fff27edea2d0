//! Typed helpers on `TestApp`, one group per area. Each sends one request, asserts the status
//! a successful call answers (naming the body when it differs) and returns the body typed:
//! Cairn's own response type where it deserializes, else a small struct here with the fields
//! the tests read. Tests that check a refusal use the untyped `json_request` family.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

pub use cairn::context::model::ContextPack;
pub use cairn::sources::model::{SearchResponse, SourceBatch, SourceView};

use super::{json_of, TestApp, BIN};

/// A memory note as the notes routes answer it.
#[derive(Debug, Clone, Deserialize)]
pub struct Note {
    pub id: String,
    pub status: String,
    pub revision: i64,
    pub kind: String,
}

/// One entry of a note's history, oldest first.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryEntry {
    pub action: String,
    pub actor: String,
    pub reason: Option<String>,
    pub snapshot: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NoteHistory {
    pub data: Vec<HistoryEntry>,
}

impl NoteHistory {
    pub fn actions(&self) -> Vec<&str> {
        self.data.iter().map(|h| h.action.as_str()).collect()
    }
}

/// Reading a context pack the way the tests ask about it.
pub trait PackItems {
    /// The ids of the items of one type (note, chunk, entity or event), in rank order.
    fn item_ids(&self, item_type: &str) -> Vec<String>;
}

impl PackItems for ContextPack {
    fn item_ids(&self, item_type: &str) -> Vec<String> {
        self.items
            .iter()
            .filter(|item| item.item_type == item_type)
            .map(|item| item.id.clone())
            .collect()
    }
}

/// The ids of the items of one type in a context pack read as JSON, in rank order.
pub fn pack_item_ids(pack: &Value, item_type: &str) -> Vec<String> {
    pack["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["type"] == item_type)
        .map(|item| item["id"].as_str().expect("id").to_string())
        .collect()
}

/// The texts of the hits, best first.
pub fn hit_texts(results: &SearchResponse) -> Vec<String> {
    results.data.iter().map(|hit| hit.text.clone()).collect()
}

/// Asserts the status of `res` (naming the body when it differs) and returns the body typed.
pub async fn expect_json<T: DeserializeOwned>(res: Response, status: u16) -> T {
    let got = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// The `message` of an error in the seeds' shape, answered with `status`.
pub async fn error_message(res: Response, status: u16) -> String {
    let body: Value = expect_json(res, status).await;
    body["message"].as_str().expect("message").to_string()
}

/// The text of an error in the seeds' shape, answered with `status`: its `message`, or its
/// `error` where that holds the whole text (403, 503).
pub async fn error_text(res: Response, status: u16) -> String {
    let body: Value = expect_json(res, status).await;
    let text = body["message"].as_str().or(body["error"].as_str());
    text.expect("error text").to_string()
}

/// The string field `field` of every element of the JSON array `list`, in order.
pub fn strings_of<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|item| item[field].as_str().expect(field))
        .collect()
}

/// A response header parsed as a number (or any `FromStr` type).
pub fn header_of<T: std::str::FromStr>(res: &Response, name: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    res.headers()[name]
        .to_str()
        .expect("header text")
        .parse()
        .expect("header value")
}

impl TestApp {
    /// Any JSON request; returns the status and the body, which must be JSON whatever the
    /// status (errors have the JSON error shape too).
    pub async fn json_request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let res = self.request(method, path, Some(token), body).await;
        let status = res.status().as_u16();
        (status, json_of(res).await)
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.json_request(Method::POST, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// `GET path`, asserting 200, as JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        expect_json(self.get(path, token).await, 200).await
    }

    /// `POST path`, asserting `status`; the body as JSON.
    pub async fn post_expect(&self, path: &str, token: &str, body: Value, status: u16) -> Value {
        expect_json(self.post(path, token, body).await, status).await
    }

    /// `GET path` without a credential.
    pub async fn get_public(&self, path: &str) -> Response {
        self.request(Method::GET, path, None, None).await
    }

    /// `POST path` without a credential (setup, register, login).
    pub async fn post_public(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, None, Some(body)).await
    }

    /// The OpenAPI document the server serves.
    pub async fn openapi(&self) -> Value {
        expect_json(self.get_public("/openapi.json").await, 200).await
    }

    /// Workspaces `alpha` and `beta` of `session`'s account and a key bound to each:
    /// (alpha key, beta key).
    pub async fn two_workspaces(&self, session: &str) -> (String, String) {
        self.create_workspace(session, "alpha").await;
        self.create_workspace(session, "beta").await;
        let (_, alpha) = self
            .create_key(session, Some("alpha"), serde_json::json!({}))
            .await;
        let (_, beta) = self
            .create_key(session, Some("beta"), serde_json::json!({}))
            .await;
        (alpha, beta)
    }

    /// The `user:<id>` actor the audit trails record for this session's user.
    pub async fn actor_of(&self, session: &str) -> String {
        let me = self.get_json("/api/auth/me", session).await;
        format!("user:{}", me["id"].as_str().expect("user id"))
    }
}

/// Memory.
impl TestApp {
    /// `POST /v1/memory/notes`, asserting a success (201 created, 200 updated or unchanged).
    pub async fn create_note(&self, token: &str, body: Value) -> Note {
        let res = self.post("/v1/memory/notes", token, body).await;
        assert!(res.status().is_success(), "{}", res.status());
        res.json().await.expect("note")
    }

    pub async fn note_history(&self, token: &str, note_id: &str) -> NoteHistory {
        let res = self
            .get(&format!("/v1/memory/notes/{note_id}/history"), token)
            .await;
        assert_eq!(res.status(), 200, "history of {note_id}");
        res.json().await.expect("history")
    }

    /// `POST /v1/memory/context-pack`, asserting 200.
    pub async fn context_pack(&self, token: &str, body: Value) -> ContextPack {
        expect_json(self.post("/v1/memory/context-pack", token, body).await, 200).await
    }
}

/// Sources and search.
impl TestApp {
    /// `POST /v1/sources` as multipart with one file and the given form fields.
    pub async fn upload_source(
        &self,
        token: &str,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> Response {
        let mut form = Form::new().part(
            "file",
            Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(mime)
                .expect("mime"),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.client
            .post(self.url("/v1/sources"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload")
    }

    /// Uploads one file (name, media type, bytes) and waits for it, asserting 200 (ingested).
    pub async fn upload(&self, token: &str, file: (&str, &str, Vec<u8>)) -> SourceView {
        let (name, mime, bytes) = file;
        let res = self.upload_source(token, name, mime, bytes, &[]).await;
        expect_json(res, 200).await
    }

    /// Uploads one file with `wait=false`, asserting 202 (queued), then waits up to `timeout`
    /// for the worker to settle it (ready or failed).
    pub async fn upload_in_background(
        &self,
        token: &str,
        file: (&str, &str, Vec<u8>),
        timeout: Duration,
    ) -> SourceView {
        let (name, mime, bytes) = file;
        let res = self
            .upload_source(token, name, mime, bytes, &[("wait", "false")])
            .await;
        let queued: Value = expect_json(res, 202).await;
        let id = queued["id"].as_str().expect("id");
        self.wait_source_ready(token, id, timeout).await
    }

    /// `POST /v1/sources` as JSON (one text or URL), asserting 200.
    pub async fn create_source(&self, token: &str, body: Value) -> SourceView {
        expect_json(self.post("/v1/sources", token, body).await, 200).await
    }

    /// Polls `GET /v1/sources/{id}` until the source is ready or failed, up to `timeout`.
    pub async fn wait_source_ready(&self, token: &str, id: &str, timeout: Duration) -> SourceView {
        let start = Instant::now();
        loop {
            let res = self.get(&format!("/v1/sources/{id}"), token).await;
            assert_eq!(res.status(), 200, "source {id}");
            let source: SourceView = res.json().await.expect("source");
            if source.status == "ready" || source.status == "failed" {
                return source;
            }
            assert!(
                start.elapsed() < timeout,
                "source {id} still {} after {timeout:?}",
                source.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /v1/search`, asserting 200.
    pub async fn search(&self, token: &str, body: Value) -> SearchResponse {
        let res = self.post("/v1/search", token, body).await;
        assert_eq!(res.status(), 200);
        res.json().await.expect("search response")
    }
}

/// Gateway.
impl TestApp {
    /// `POST /v1/chat/completions`; returns the status and the body.
    pub async fn chat(&self, key: &str, body: Value) -> (u16, Value) {
        self.post_json("/v1/chat/completions", key, body).await
    }
}

/// Operator commands: runs `cairn ARGS` on the data directory `data` (logs at warn) with the
/// extra environment `env`, without a server, and waits for it.
pub fn cairn_cli(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("CAIRN__STORAGE__DATA_DIR", data)
        .env("CAIRN__LOG__LEVEL", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cairn")
}

/// `cairn users create-admin` on the data directory `data`, asserting success.
pub fn create_admin(data: &Path, email: &str, password: &str) {
    let args = [
        "users",
        "create-admin",
        "--email",
        email,
        "--password",
        password,
    ];
    let out = cairn_cli(data, &[], &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
