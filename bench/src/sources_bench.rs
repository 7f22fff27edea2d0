//! Sources benchmarks.
//!
//! `ingest`: the ingest pipeline's throughput (chunks/s, through extract, chunk, embed and the
//! three stores) against the bare embedder's throughput on the very same chunk texts.
//! `search`: search latency p50/p99 at N chunks in one workspace (default 100k), query
//! embedding included, and peak memory. Chunks get synthetic text and random unit vectors so
//! a 100k-chunk store builds in minutes rather than the hours real embedding takes here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use cairn::app::Engine;
use cairn::config::Config;
use cairn::retrieval::SearchMode;
use cairn::sources::model::{SearchFilters, SearchRequest};
use cairn::sources::{Pending, CHUNK_ITEM};
use cairn::store::sources::{BeginIngest, ChunkRow, DocumentRow, SourceRow};
use cairn::store::text_index::TextEntry;
use cairn::store::time::{new_id, now};
use cairn::store::vectors::VectorEntry;
use cairn::store::Workspace;
use clap::{Parser, Subcommand};
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Ingest {
        #[arg(long, default_value = "../shared/eval/scifact/corpus.jsonl")]
        corpus: PathBuf,
        #[arg(long, default_value_t = 300)]
        docs: usize,
    },
    Search {
        #[arg(long, default_value_t = 100_000)]
        chunks: usize,
        #[arg(long, default_value_t = 300)]
        queries: usize,
        #[arg(long, default_value = "target/bench-data/search")]
        dir: PathBuf,
    },
}

fn peak_rss_mib() -> f64 {
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn engine_at(dir: &Path) -> anyhow::Result<(Engine, Workspace)> {
    let mut config = Config::load(None)?;
    config.storage.data_dir = dir.to_path_buf();
    let engine = Engine::open(&config).await?;
    let accounts = engine.stores.accounts.clone();
    let owner = match accounts.user_by_email("bench@cairn.local").await? {
        Some(u) => u,
        None => cairn::accounts::users::create_user(
            accounts.as_ref(),
            "bench@cairn.local".into(),
            "benchmark-only".into(),
            Some("admin".into()),
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

async fn ingest(corpus: &Path, docs: usize) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(corpus).with_context(|| format!("reading {}", corpus.display()))?;
    let records: Vec<serde_json::Value> = text
        .lines()
        .take(docs)
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let dir = std::env::temp_dir().join(format!("cairn-bench-ingest-{}", std::process::id()));
    let (engine, ws) = engine_at(&dir).await?;
    let sources = engine.sources.clone();

    // The exact inputs the pipeline will embed (title + chunk text, same chunker), grouped
    // by document as the pipeline embeds them.
    let mut groups: Vec<Vec<String>> = Vec::new();
    for r in &records {
        let doc = cairn_ingest::Extracted {
            kind: cairn_ingest::ContentKind::Text,
            title: None,
            text: r["text"].as_str().unwrap_or_default().to_string(),
            pages: vec![],
        };
        let title = r["title"].as_str().unwrap_or_default();
        groups.push(
            sources
                .chunker
                .chunk(&doc)
                .iter()
                .map(|c| format!("{title}\n\n{}", c.text))
                .collect(),
        );
    }
    let n_chunks: usize = groups.iter().map(Vec::len).sum();
    let embedder = sources.retriever.embedder.clone();
    embedder.embed(groups[0].clone()).await?;

    let t = Instant::now();
    for batch in records.chunks(64) {
        let items: Vec<Pending> = batch
            .iter()
            .map(|r| Pending {
                kind: "record".into(),
                bytes: r["text"].as_str().unwrap_or_default().as_bytes().to_vec(),
                title: r["title"].as_str().map(str::to_string),
                external_source: Some("bench".into()),
                external_id: r["_id"].as_str().map(str::to_string),
                ..Default::default()
            })
            .collect();
        sources
            .create_many(&ws, items, true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let pipeline = n_chunks as f64 / t.elapsed().as_secs_f64();

    // The bare embedder, measured after the pipeline so both run warm, in two batchings:
    // per document (as the pipeline does) and in length-sorted batches of 32.
    let t = Instant::now();
    for g in &groups {
        embedder.embed(g.clone()).await?;
    }
    let per_doc = n_chunks as f64 / t.elapsed().as_secs_f64();
    let mut flat: Vec<String> = groups.concat();
    flat.sort_by_key(String::len);
    let t = Instant::now();
    for batch in flat.chunks(32) {
        embedder.embed(batch.to_vec()).await?;
    }
    let sorted = n_chunks as f64 / t.elapsed().as_secs_f64();
    let bare = per_doc.max(sorted);
    println!("ingest: {} documents, {n_chunks} chunks", records.len());
    println!("  bare embedder      {bare:8.1} chunks/s  (per document {per_doc:.1}, sorted batches of 32 {sorted:.1})");
    println!(
        "  ingest pipeline    {pipeline:8.1} chunks/s  ({:.1}% of the bare embedder)",
        100.0 * pipeline / bare
    );
    println!("  peak RSS           {:8.1} MiB", peak_rss_mib());
    engine.close().await;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "to", "sa", "vi", "pe", "do", "qua", "zen", "tor", "bel", "mar",
    "gis", "pra", "lun", "sec", "vor",
];

/// A vocabulary of `n` pseudo-words (two or three syllables), so BM25 sees realistic
/// vocabulary sizes and posting-list lengths.
fn vocabulary(n: usize) -> Vec<String> {
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
fn synthetic_text(rng: &mut rand::rngs::StdRng, vocab: &[String], words: usize) -> String {
    (0..words)
        .map(|_| {
            let r: f64 = rng.gen();
            let i = ((vocab.len() as f64).powf(r) - 1.0) as usize;
            vocab[i.min(vocab.len() - 1)].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn random_unit(rng: &mut rand::rngs::StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.gen::<f32>() - 0.5).collect();
    cairn_ingest::embed::normalize(&mut v);
    v
}

async fn fill(engine: &Engine, ws: &Workspace, chunks: usize) -> anyhow::Result<()> {
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

async fn search(chunks: usize, queries: usize, dir: &Path) -> anyhow::Result<()> {
    let (engine, ws) = engine_at(dir).await?;
    let have = engine.sources.retriever.vectors.count().await?;
    if have < chunks {
        fill(&engine, &ws, chunks - have).await?;
    }
    let total = engine.sources.retriever.vectors.count().await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let vocab = vocabulary(20_000);
    let qs: Vec<String> = (0..queries)
        .map(|_| synthetic_text(&mut rng, &vocab, 6))
        .collect();
    for mode in [SearchMode::Hybrid, SearchMode::Bm25, SearchMode::Vector] {
        for q in qs.iter().take(10) {
            let req = SearchRequest {
                query: q.clone(),
                workspace_id: None,
                mode,
                limit: Some(10),
                filters: SearchFilters::default(),
            };
            engine
                .sources
                .search(&ws, req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let mut lat = Vec::with_capacity(qs.len());
        let started = Instant::now();
        for q in &qs {
            let req = SearchRequest {
                query: q.clone(),
                workspace_id: None,
                mode,
                limit: Some(10),
                filters: SearchFilters::default(),
            };
            let t = Instant::now();
            engine
                .sources
                .search(&ws, req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let qps = qs.len() as f64 / started.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        println!(
            "search {mode:?} at {total} chunks: p50 {:.2} ms  p99 {:.2} ms  ({qps:.0} queries/s, one client, query embedding included)",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    engine.close().await;
    // The server below opens the same indexes; tantivy takes one writer at a time.
    drop(engine);
    http_search(dir, &qs).await?;
    println!("peak RSS {:.1} MiB", peak_rss_mib());
    Ok(())
}

/// The same queries through `POST /v1/search` of a real server on loopback: routing,
/// authentication, rate limiting and JSON included.
async fn http_search(dir: &Path, qs: &[String]) -> anyhow::Result<()> {
    let mut config = Config::load(None)?;
    config.storage.data_dir = dir.to_path_buf();
    config.server.bind = "127.0.0.1:0".into();
    config.rate_limit.session_per_minute = 1_000_000;
    let app = cairn::app::App::build(config).await?;
    let base = format!("http://{}", app.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": "bench@cairn.local", "password": "benchmark-only"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().context("login")?.to_string();
    for mode in ["hybrid", "bm25", "vector"] {
        let mut lat = Vec::with_capacity(qs.len());
        for (i, q) in qs.iter().enumerate() {
            let t = Instant::now();
            let res = client
                .post(format!("{base}/v1/search"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"query": q, "mode": mode, "limit": 10}))
                .send()
                .await?;
            anyhow::ensure!(
                res.status().is_success(),
                "search answered {}",
                res.status()
            );
            res.bytes().await?;
            if i >= 10 {
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "POST /v1/search {mode} over HTTP: p50 {:.2} ms  p99 {:.2} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Cmd::Ingest { corpus, docs } => ingest(&corpus, docs).await,
        Cmd::Search {
            chunks,
            queries,
            dir,
        } => search(chunks, queries, &dir).await,
    }
}
