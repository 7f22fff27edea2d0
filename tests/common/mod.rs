//! `TestApp`: starts the real binary and offers typed helpers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod api;
pub mod fixtures;

use reqwest::{Method, Response};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_cairn");

/// The server the tests start: this build's binary, or the one `CAIRN_TEST_SERVER_BIN` names
/// (to run the suite against another build, e.g. the code before a change, and see which of
/// its tests fail there).
fn server_bin() -> String {
    std::env::var("CAIRN_TEST_SERVER_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// Config overrides for tests that send many requests in a burst (the fuzzers): no rate or
/// login limit gets in the way.
pub const NO_LIMITS: &[(&str, &str)] = &[
    ("CAIRN__RATE_LIMIT__SESSION_PER_MINUTE", "1000000"),
    ("CAIRN__RATE_LIMIT__ANONYMOUS_PER_MINUTE", "1000000"),
    ("CAIRN__AUTH__LOGIN_MAX_ATTEMPTS", "1000000"),
];

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub child: Child,
    pub data_dir: PathBuf,
    /// The first-admin token the server printed, if it printed one.
    setup_token: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// The operator's session, made on first use by [`Self::operator`].
    operator: tokio::sync::OnceCell<String>,
    /// Where the server's log goes, for [`Self::spawn_logging`].
    log_path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

const SETUP_LINE: &str = "cairn setup token: ";

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let mut app = Self::spawn_on(&data_dir, env).await;
        app._dir = Some(dir);
        app
    }

    /// Starts a server that logs everything down to `debug` into a file [`Self::log_text`]
    /// reads: for the tests that prove what never reaches the log.
    pub async fn spawn_logging(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("cairn.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut env = env.to_vec();
        env.push(("CAIRN__LOG__LEVEL", "debug"));
        let mut app = Self::start(&dir.path().join("data"), &env, Stdio::from(log)).await;
        app.log_path = Some(log_path);
        app._dir = Some(dir);
        app
    }

    /// What the server logged so far ([`Self::spawn_logging`] only).
    pub fn log_text(&self) -> String {
        let path = self.log_path.as_ref().expect("started with spawn_logging");
        std::fs::read_to_string(path).expect("log")
    }

    /// Starts a server on an existing data directory (the caller keeps the directory).
    pub async fn spawn_on(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let stderr = if std::env::var("CAIRN_TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        Self::start(data_dir, env, stderr).await
    }

    async fn start(data_dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let mut cmd = Command::new(server_bin());
        cmd.arg("serve")
            .env("CAIRN__SERVER__BIND", "127.0.0.1:0")
            .env("CAIRN__STORAGE__DATA_DIR", data_dir)
            .env(
                "CAIRN__LOG__LEVEL",
                std::env::var("CAIRN_TEST_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start cairn");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let setup_token = std::sync::Arc::new(std::sync::Mutex::new(None));
        let token_slot = setup_token.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for line in lines.map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(SETUP_LINE) {
                    let token = rest.split_whitespace().next().unwrap_or_default();
                    *token_slot.lock().unwrap() = Some(token.to_string());
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("cairn did not print its address within 60 s");
        let base = line
            .strip_prefix("cairn listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Self {
            base,
            client: reqwest::Client::builder().build().expect("client"),
            child,
            data_dir: data_dir.to_path_buf(),
            setup_token,
            operator: tokio::sync::OnceCell::new(),
            log_path: None,
            _dir: None,
        }
    }

    /// The setup token the server printed after its address (waits up to 5 s for the line).
    pub async fn setup_token(&self) -> Option<String> {
        for _ in 0..100 {
            if let Some(t) = self.setup_token.lock().unwrap().clone() {
                return Some(t);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Makes the installation's first admin with the printed setup token; returns its session.
    pub async fn admin(&self, email: &str) -> String {
        let token = self
            .setup_token()
            .await
            .expect("the server printed a setup token");
        let res = self
            .post_public(
                "/v1/setup",
                json!({"setup_token": token, "email": email, "password": "s3cret-password"}),
            )
            .await;
        assert_eq!(res.status(), 200, "setup {email}");
        let body: Value = res.json().await.expect("json");
        let session = body["access_token"].as_str().expect("token").to_string();
        // The installation has one setup: this admin is also the operator (when called from
        // `operator` the cell is mid-initialisation and keeps its own value).
        let _ = self.operator.set(session.clone());
        session
    }

    /// The operator's (admin's) session, made with the setup token on first use.
    pub async fn operator(&self) -> &str {
        self.operator
            .get_or_init(|| self.admin("operator@example.com"))
            .await
    }

    /// Adds a user with a role: registers it, then the operator sets the role. Returns its
    /// session token (taken after the change).
    pub async fn user_with_role(&self, email: &str, role: &str) -> String {
        let session = self.register(email).await;
        let me = json_of(self.get("/api/auth/me", &session).await).await;
        let id = me["id"].as_str().expect("id").to_string();
        let operator = self.operator().await.to_string();
        let res = self
            .patch(
                &format!("/v1/users/{id}"),
                &operator,
                json!({ "role": role }),
            )
            .await;
        assert_eq!(res.status(), 200, "set role of {email}");
        session
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Registers a user and returns its session token.
    pub async fn register(&self, email: &str) -> String {
        self.credentials("register", email).await
    }

    /// Logs a user registered by [`Self::register`] in again and returns a new session token.
    pub async fn login(&self, email: &str) -> String {
        self.credentials("login", email).await
    }

    /// `POST /api/auth/{route}` with the test password, asserting 200; the session token.
    async fn credentials(&self, route: &str, email: &str) -> String {
        let res = self
            .post_public(
                &format!("/api/auth/{route}"),
                json!({"email": email, "password": "s3cret-password"}),
            )
            .await;
        assert_eq!(res.status(), 200, "{route} {email}");
        let body: Value = res.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_string()
    }

    pub async fn create_workspace(&self, session: &str, slug: &str) -> Value {
        let body = json!({"workspace_id": slug, "name": slug});
        self.post_expect("/v1/workspaces", session, body, 200).await
    }

    /// Creates a key (bound to `workspace` when given) and returns (id, secret).
    pub async fn create_key(
        &self,
        session: &str,
        workspace: Option<&str>,
        extra: Value,
    ) -> (String, String) {
        let mut body = json!({"name": "test"});
        if let Some(w) = workspace {
            body["workspace_id"] = json!(w);
        }
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let v = self.post_expect("/v1/keys", session, body, 200).await;
        (
            v["id"].as_str().expect("id").into(),
            v["key"].as_str().expect("key").into(),
        )
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn json_of(res: Response) -> Value {
    res.json().await.expect("json body")
}
