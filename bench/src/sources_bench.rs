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
use cairn::retrieval::SearchMode;
use cairn::sources::model::{SearchFilters, SearchRequest};
use cairn::sources::Pending;
use cairn_bench::{
    engine_at, fill, peak_rss_mib, percentile, synthetic_text, vocabulary, BenchServer,
};
use clap::{Parser, Subcommand};
use rand::SeedableRng;

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

/// The benchmark's query: the top 10 in `mode`, no filters, in the default workspace.
fn search_request(query: &str, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        query: query.to_string(),
        workspace_id: None,
        mode,
        limit: Some(10),
        filters: SearchFilters::default(),
    }
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
            let req = search_request(q, mode);
            engine
                .sources
                .search(&ws, req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let mut lat = Vec::with_capacity(qs.len());
        let started = Instant::now();
        for q in &qs {
            let req = search_request(q, mode);
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
    let server = BenchServer::start(dir).await?;
    for mode in ["hybrid", "bm25", "vector"] {
        let mut lat = Vec::with_capacity(qs.len());
        for (i, q) in qs.iter().enumerate() {
            let t = Instant::now();
            let body = serde_json::json!({"query": q, "mode": mode, "limit": 10});
            server.post("/v1/search", &body).await?;
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
    server.stop().await
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
