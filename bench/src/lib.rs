//! What Cairn's benchmarks share: an engine over a data directory with a benchmark user, a
//! synthetic store of chunks (pseudo-word text, random unit vectors) and the figures' helpers.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use cairn::app::Engine;
use cairn::config::Config;
use cairn::sources::CHUNK_ITEM;
use cairn::store::sources::{BeginIngest, ChunkRow, DocumentRow, SourceRow};
use cairn::store::text_index::TextEntry;
use cairn::store::time::{new_id, now};
use cairn::store::vectors::VectorEntry;
use cairn::store::Workspace;
use rand::{Rng, SeedableRng};

pub const BENCH_EMAIL: &str = "bench@cairn.local";
pub const BENCH_PASSWORD: &str = "benchmark-only";

pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub async fn engine_at(dir: &Path) -> anyhow::Result<(Engine, Workspace)> {
    let mut config = Config::load(None)?;
    config.storage.data_dir = dir.to_path_buf();
    let engine = Engine::open(&config).await?;
    let accounts = engine.stores.accounts.clone();
    let owner = match accounts.user_by_email(BENCH_EMAIL).await? {
        Some(u) => u,
        None => cairn::accounts::users::create_user(
            accounts.as_ref(),
            BENCH_EMAIL.into(),
            BENCH_PASSWORD.into(),
            cairn::accounts::roles::Role::Admin,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let ws = accounts
        .workspace_by_slug(&owner.account_id, "default")
        .await?
        .context("default workspace")?;
    Ok((engine, ws))
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "to", "sa", "vi", "pe", "do", "qua", "zen", "tor", "bel", "mar",
    "gis", "pra", "lun", "sec", "vor",
];

/// A vocabulary of `n` pseudo-words (two or three syllables), so BM25 sees realistic
/// vocabulary sizes and posting-list lengths.
pub fn vocabulary(n: usize) -> Vec<String> {
    let s = SYLLABLES.len();
    (0..n)
        .map(|i| {
            let mut w = String::new();
            let mut x = i;
            for _ in 0..(2 + i % 2) {
                w.push_str(SYLLABLES[x % s]);
                x /= s;
            }
            w.push_str(&(i / (s * s * s)).to_string());
            w
        })
        .collect()
}

/// Words drawn Zipf-like from the vocabulary: low ranks far more frequent.
pub fn synthetic_text(rng: &mut rand::rngs::StdRng, vocab: &[String], words: usize) -> String {
    (0..words)
        .map(|_| {
            let r: f64 = rng.gen();
            let i = ((vocab.len() as f64).powf(r) - 1.0) as usize;
            vocab[i.min(vocab.len() - 1)].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn random_unit(rng: &mut rand::rngs::StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.gen::<f32>() - 0.5).collect();
    cairn_ingest::embed::normalize(&mut v);
    v
}

pub async fn fill(engine: &Engine, ws: &Workspace, chunks: usize) -> anyhow::Result<()> {
    let sources = &engine.sources;
    let dim = sources.retriever.embedder.dimension();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let vocab = vocabulary(20_000);
    let per_doc = 10;
    let started = Instant::now();
    let mut done = 0;
    while done < chunks {
        let mut begins = Vec::new();
        let mut vectors = Vec::new();
        let mut texts = Vec::new();
        for _ in 0..(1000 / per_doc) {
            let (source_id, doc_id, at) = (new_id(), new_id(), now());
            let source = SourceRow {
                id: source_id.clone(),
                account_id: ws.account_id.clone(),
                workspace_id: ws.id.clone(),
                kind: "text".into(),
                title: Some(format!("synthetic {done}")),
                url: None,
                filename: None,
                media_type: None,
                content_hash: new_id(),
                external_source: None,
                external_id: None,
                tags: vec![],
                metadata: serde_json::json!({}),
                status: "processing".into(),
                error: None,
                active_document_id: None,
                created_at: at.clone(),
                updated_at: at.clone(),
            };
            let mut rows = Vec::new();
            for i in 0..per_doc {
                let text = synthetic_text(&mut rng, &vocab, 120);
                let id = new_id();
                vectors.push(VectorEntry {
                    id: id.clone(),
                    workspace_id: ws.id.clone(),
                    item_type: CHUNK_ITEM.into(),
                    source_id: source_id.clone(),
                    group_id: doc_id.clone(),
                    vector: random_unit(&mut rng, dim),
                });
                texts.push(TextEntry {
                    id: id.clone(),
                    workspace_id: ws.id.clone(),
                    item_type: CHUNK_ITEM.into(),
                    source_id: source_id.clone(),
                    group_id: doc_id.clone(),
                    title: String::new(),
                    body: text.clone(),
                });
                rows.push(ChunkRow {
                    id,
                    account_id: ws.account_id.clone(),
                    workspace_id: ws.id.clone(),
                    source_id: source_id.clone(),
                    document_id: doc_id.clone(),
                    idx: i,
                    text,
                    char_start: 0,
                    char_end: 0,
                    page: None,
                    tokens: 150,
                });
            }
            let document = DocumentRow {
                id: doc_id,
                account_id: ws.account_id.clone(),
                workspace_id: ws.id.clone(),
                source_id: source_id.clone(),
                version: 0,
                title: None,
                url: None,
                content_kind: "text".into(),
                content_hash: new_id(),
                text: String::new(),
                pages: serde_json::json!([]),
                metadata: serde_json::json!({}),
                chunk_count: per_doc,
                state: "pending".into(),
                created_at: at,
            };
            begins.push(BeginIngest {
                source,
                insert_source: true,
                document,
                chunks: rows,
            });
            done += per_doc as usize;
        }
        sources
            .store
            .begin_ingest(&begins)
            .await?
            .map_err(|_| anyhow::anyhow!("conflict"))?;
        sources.retriever.vectors.add(&vectors).await?;
        sources.retriever.text.apply(&texts, &[])?;
        let pairs: Vec<(String, String)> = begins
            .iter()
            .map(|b| (b.source.id.clone(), b.document.id.clone()))
            .collect();
        sources.store.activate(&pairs).await?;
        if done % 20_000 == 0 {
            eprintln!(
                "filled {done} chunks in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let t = Instant::now();
    sources.retriever.vectors.maintain().await?;
    eprintln!(
        "vector index maintenance took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A real server on loopback over `dir`, logged in as the benchmark user.
pub struct BenchServer {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl BenchServer {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut config = Config::load(None)?;
        config.storage.data_dir = dir.to_path_buf();
        config.server.bind = "127.0.0.1:0".into();
        config.rate_limit.session_per_minute = 10_000_000;
        let app = cairn::app::App::build(config).await?;
        let base = format!("http://{}", app.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let login: serde_json::Value = client
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({"email": BENCH_EMAIL, "password": BENCH_PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["access_token"].as_str().context("login")?.to_string();
        Ok(Self {
            base,
            token,
            client,
            stop,
            server,
        })
    }

    /// `POST path` with the JSON `body` as the benchmark user; fails unless it succeeds, and
    /// reads the whole answer (so the timing includes it).
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<()> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "{path} answered {}",
            res.status()
        );
        res.bytes().await?;
        Ok(())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}
