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

    // The exact inputs the pipeline will embed: title + chunk text, via the same chunker.
    let mut inputs = Vec::new();
    for r in &records {
        let doc = cairn_ingest::Extracted {
            kind: cairn_ingest::ContentKind::Text,
            title: None,
            text: r["text"].as_str().unwrap_or_default().to_string(),
            pages: vec![],
        };
        let title = r["title"].as_str().unwrap_or_default();
        for c in sources.chunker.chunk(&doc) {
            inputs.push(format!("{title}\n\n{}", c.text));
        }
    }
    let n_chunks = inputs.len();
    let warm = sources
        .retriever
        .embedder
        .embed(inputs[..8.min(n_chunks)].to_vec())
        .await?;
    drop(warm);
    let t = Instant::now();
    for batch in inputs.chunks(64) {
        sources.retriever.embedder.embed(batch.to_vec()).await?;
    }
    let bare = n_chunks as f64 / t.elapsed().as_secs_f64();

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
    println!("ingest: {} documents, {n_chunks} chunks", records.len());
    println!("  bare embedder      {bare:8.1} chunks/s");
    println!(
        "  ingest pipeline    {pipeline:8.1} chunks/s  ({:.1}% of the bare embedder)",
        100.0 * pipeline / bare
    );
    println!("  peak RSS           {:8.1} MiB", peak_rss_mib());
    engine.close().await;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

const WORDS: &[&str] = &[
    "protein",
    "cell",
    "gene",
    "tumor",
    "patient",
    "risk",
    "dose",
    "trial",
    "brain",
    "insulin",
    "virus",
    "immune",
    "receptor",
    "mouse",
    "signal",
    "growth",
    "blood",
    "heart",
    "lung",
    "liver",
    "kidney",
    "bone",
    "muscle",
    "skin",
    "enzyme",
    "pathway",
    "mutation",
    "therapy",
    "drug",
    "vaccine",
    "infection",
    "cancer",
    "stroke",
    "diabetes",
    "obesity",
    "sleep",
    "memory",
    "neuron",
    "synapse",
    "hormone",
    "metabolism",
    "oxygen",
    "glucose",
    "lipid",
    "antibody",
    "antigen",
    "kinase",
    "plasma",
    "serum",
    "marker",
    "cohort",
    "mortality",
    "incidence",
    "exposure",
];

fn synthetic_text(rng: &mut rand::rngs::StdRng, words: usize) -> String {
    (0..words)
        .map(|_| {
            // Zipf-like: low indexes far more frequent.
            let r: f64 = rng.gen();
            let i = ((WORDS.len() as f64).powf(r) - 1.0) as usize;
            WORDS[i.min(WORDS.len() - 1)]
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
                let text = synthetic_text(&mut rng, 120);
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
    let qs: Vec<String> = (0..queries).map(|_| synthetic_text(&mut rng, 6)).collect();
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
    println!("peak RSS {:.1} MiB", peak_rss_mib());
    engine.close().await;
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
