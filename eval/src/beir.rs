//! BEIR-format retrieval evaluation: ingests a corpus through Cairn's own ingest pipeline
//! (records → chunks → embeddings → LanceDB + tantivy), runs the queries in bm25, vector and
//! hybrid modes and prints nDCG@10, Recall@100 and MRR@10, plus ingest time.
//!
//!   cargo run --release -p cairn-eval --bin beir -- --data ../shared/eval/scifact --split test
//!   ... --split train --sweep     (choose the fusion on train queries)

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use cairn::app::Engine;
use cairn::config::Config;
use cairn::retrieval::{Fused, Fusion, SearchMode, SearchQuery};
use cairn::sources::{Pending, CHUNK_ITEM};
use cairn::store::Workspace;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// A BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.
    #[arg(long, default_value = "../shared/eval/scifact")]
    data: PathBuf,
    #[arg(long, default_value = "test")]
    split: String,
    /// Where the ingested index is kept (reused when it already holds the corpus).
    #[arg(long, default_value = "target/eval-data/scifact")]
    index_dir: PathBuf,
    /// Evaluate a grid of fusion settings (use with --split train).
    #[arg(long)]
    sweep: bool,
    /// Override hybrid fusion: "convex:0.5" or "rrf:60".
    #[arg(long)]
    fusion: Option<String>,
    /// Candidates taken from each list before fusing.
    #[arg(long, default_value_t = 200)]
    depth: usize,
}

fn read_jsonl(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

fn read_qrels(path: &Path) -> anyhow::Result<HashMap<String, HashMap<String, u32>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 3 {
            let score: u32 = cols[2].trim().parse().unwrap_or(0);
            out.entry(cols[0].to_string())
                .or_default()
                .insert(cols[1].to_string(), score);
        }
    }
    Ok(out)
}

fn parse_fusion(s: &str) -> anyhow::Result<Fusion> {
    let (kind, value) = s
        .split_once(':')
        .context("fusion: expected convex:ALPHA or rrf:K")?;
    let value: f32 = value.parse()?;
    Ok(match kind {
        "convex" => Fusion::Convex { alpha: value },
        "rrf" => Fusion::Rrf { k: value },
        _ => anyhow::bail!("fusion: expected convex or rrf"),
    })
}

#[derive(Default, Clone, Copy)]
struct Metrics {
    ndcg10: f64,
    recall100: f64,
    mrr10: f64,
}

fn score(ranked: &[String], relevant: &HashMap<String, u32>) -> Metrics {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| f64::from(*relevant.get(d).unwrap_or(&0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = relevant.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, r)| f64::from(*r) / ((i + 2) as f64).log2())
        .sum();
    let positives = relevant.values().filter(|r| **r > 0).count().max(1);
    let found = ranked
        .iter()
        .take(100)
        .filter(|d| relevant.get(*d).is_some_and(|r| *r > 0))
        .count();
    let mrr = ranked
        .iter()
        .take(10)
        .position(|d| relevant.get(d).is_some_and(|r| *r > 0))
        .map(|p| 1.0 / (p + 1) as f64)
        .unwrap_or(0.0);
    Metrics {
        ndcg10: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        recall100: found as f64 / positives as f64,
        mrr10: mrr,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = Config::load(None)?;
    config.storage.data_dir = args.index_dir.clone();
    config.log.level = "warn".into();
    let engine = Engine::open(&config).await?;
    let accounts = engine.stores.accounts.clone();
    let owner = cairn_eval::owner_account(&engine).await?;
    let ws: Workspace = accounts
        .workspace_by_slug(&owner, "default")
        .await?
        .context("default workspace")?;
    ingest_unless_present(&engine, &ws, &args).await?;

    // chunk id -> corpus id, from SQL.
    let rows: Vec<(String, String)> = engine.sources.store.chunk_external_ids().await?;
    let chunk_to_doc: HashMap<String, String> = rows.into_iter().collect();

    let queries: HashMap<String, String> = read_jsonl(&args.data.join("queries.jsonl"))?
        .into_iter()
        .filter_map(|q| {
            Some((
                q["_id"].as_str()?.to_string(),
                q["text"].as_str()?.to_string(),
            ))
        })
        .collect();
    let qrels = read_qrels(&args.data.join("qrels").join(format!("{}.tsv", args.split)))?;
    let mut ids: Vec<&String> = qrels.keys().collect();
    ids.sort();
    println!("split {}: {} queries", args.split, ids.len());

    let started = Instant::now();
    let lists = ranked_lists(&engine, &ws, &ids, &queries, args.depth).await?;
    let per_query_ms = started.elapsed().as_secs_f64() * 1000.0 / ids.len().max(1) as f64;

    let run = Evaluation {
        ids: &ids,
        lists: &lists,
        chunk_to_doc: &chunk_to_doc,
        qrels: &qrels,
    };
    print("bm25", run.evaluate(None, "bm25"));
    print("vector", run.evaluate(None, "vector"));
    let configured = match &args.fusion {
        Some(f) => parse_fusion(f)?,
        None => config.fusion(),
    };
    print(
        &format!("hybrid {configured:?}")
            .replace("Convex", "convex")
            .replace("Rrf", "rrf"),
        run.evaluate(Some(configured), "hybrid"),
    );
    if args.sweep {
        sweep(&run, &args.split);
    }
    println!(
        "retrieval: {per_query_ms:.1} ms per query (embedding + both lists, depth {})",
        args.depth
    );
    engine.close().await;
    Ok(())
}

/// Ingests the corpus as records in batches of 64, unless the index already holds it.
async fn ingest_unless_present(engine: &Engine, ws: &Workspace, args: &Args) -> anyhow::Result<()> {
    let corpus = read_jsonl(&args.data.join("corpus.jsonl"))?;
    let existing = engine
        .sources
        .store
        .list_sources(
            &ws.id,
            &cairn::store::sources::SourceFilter {
                limit: 1_000_000,
                ..Default::default()
            },
        )
        .await?
        .len();
    if existing >= corpus.len() {
        println!(
            "ingest: reusing the index in {} ({existing} sources)",
            args.index_dir.display()
        );
        return Ok(());
    }
    let started = Instant::now();
    let mut chunks = 0usize;
    for (n, batch) in corpus.chunks(64).enumerate() {
        let items: Vec<Pending> = batch
            .iter()
            .map(|d| Pending {
                kind: "record".into(),
                bytes: d["text"].as_str().unwrap_or_default().as_bytes().to_vec(),
                title: d["title"].as_str().map(str::to_string),
                external_source: Some("beir".into()),
                external_id: d["_id"].as_str().map(str::to_string),
                ..Default::default()
            })
            .collect();
        let (_, views) = engine
            .sources
            .create_many(ws, items, true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for v in views {
            if let Some(doc) = v.document_id {
                chunks += engine.sources.store.document_chunks(&doc).await?.len();
            }
        }
        if n % 10 == 0 {
            eprintln!(
                "ingested {} / {} documents, {chunks} chunks, {:.1} s",
                (n + 1) * 64,
                corpus.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ingest: {} documents, {chunks} chunks in {secs:.1} s ({:.1} chunks/s)",
        corpus.len(),
        chunks as f64 / secs
    );
    Ok(())
}

/// The BM25 and the vector list of each query, run once; fusion variants reuse them.
async fn ranked_lists(
    engine: &Engine,
    ws: &Workspace,
    ids: &[&String],
    queries: &HashMap<String, String>,
    depth: usize,
) -> anyhow::Result<Vec<(Ranked, Ranked)>> {
    let retriever = &engine.sources.retriever;
    let mut lists: Vec<(Ranked, Ranked)> = Vec::new();
    for id in ids {
        let text = queries
            .get(*id)
            .with_context(|| format!("query {id} missing"))?;
        let q = SearchQuery {
            workspace_id: &ws.id,
            item_type: CHUNK_ITEM,
            text,
            mode: SearchMode::Hybrid,
            depth,
            source_ids: None,
        };
        // The engine's two lists (the vector one searched with the query's focus), from one
        // call, so each fusion variant is scored on the same hits; the engine's hybrid search
        // fuses exactly these (its completed scores do not move the fused order).
        let both = [
            SearchQuery {
                mode: SearchMode::Bm25,
                ..q.clone()
            },
            SearchQuery {
                mode: SearchMode::Vector,
                ..q
            },
        ];
        let mut lists_of = retriever.search_many(&both).await?.into_iter();
        let mut list = |score: fn(&Fused) -> Option<f32>| -> Ranked {
            let fused = lists_of.next().unwrap_or_default();
            let mut l: Ranked = fused
                .iter()
                .filter_map(|f| score(f).map(|s| (f.id.clone(), s)))
                .collect();
            l.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            l
        };
        let bm25 = list(|f| f.bm25);
        let dense = list(|f| f.vector);
        lists.push((bm25, dense));
    }
    Ok(lists)
}

/// The queries' ranked lists and what they are judged against.
struct Evaluation<'a> {
    ids: &'a [&'a String],
    lists: &'a [(Ranked, Ranked)],
    chunk_to_doc: &'a HashMap<String, String>,
    qrels: &'a HashMap<String, HashMap<String, u32>>,
}

impl Evaluation<'_> {
    /// Mean metrics over the queries of `which` list ("bm25", "vector", or "hybrid" fused
    /// with `fusion`), chunks mapped to their documents, each document counted once.
    fn evaluate(&self, fusion: Option<Fusion>, which: &str) -> Metrics {
        let mut total = Metrics::default();
        for (i, id) in self.ids.iter().enumerate() {
            let (bm25, dense) = &self.lists[i];
            let fused = match (which, fusion) {
                ("bm25", _) => cairn::retrieval::fuse(bm25, &[], Fusion::Convex { alpha: 0.0 }),
                ("vector", _) => cairn::retrieval::fuse(&[], dense, Fusion::Convex { alpha: 1.0 }),
                (_, Some(f)) => cairn::retrieval::fuse(bm25, dense, f),
                _ => vec![],
            };
            let mut seen = HashSet::new();
            let ranked: Vec<String> = fused
                .iter()
                .filter_map(|f| self.chunk_to_doc.get(&f.id).cloned())
                .filter(|d| seen.insert(d.clone()))
                .collect();
            let m = score(&ranked, &self.qrels[*id]);
            total.ndcg10 += m.ndcg10;
            total.recall100 += m.recall100;
            total.mrr10 += m.mrr10;
        }
        let n = self.ids.len().max(1) as f64;
        Metrics {
            ndcg10: total.ndcg10 / n,
            recall100: total.recall100 / n,
            mrr10: total.mrr10 / n,
        }
    }
}

fn print(label: &str, m: Metrics) {
    println!(
        "{label:<22} nDCG@10 {:.4}  Recall@100 {:.4}  MRR@10 {:.4}",
        m.ndcg10, m.recall100, m.mrr10
    )
}

/// Evaluates a grid of convex and RRF settings and prints the best by nDCG@10.
fn sweep(run: &Evaluation<'_>, split: &str) {
    let mut best = (Fusion::default(), -1.0);
    for a in [0.2f32, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] {
        let f = Fusion::Convex { alpha: a };
        let m = run.evaluate(Some(f), "hybrid");
        print(&format!("  convex alpha={a}"), m);
        if m.ndcg10 > best.1 {
            best = (f, m.ndcg10);
        }
    }
    for k in [10.0f32, 30.0, 60.0, 100.0] {
        let f = Fusion::Rrf { k };
        let m = run.evaluate(Some(f), "hybrid");
        print(&format!("  rrf k={k}"), m);
        if m.ndcg10 > best.1 {
            best = (f, m.ndcg10);
        }
    }
    println!("best on {split}: {:?} (nDCG@10 {:.4})", best.0, best.1);
}

/// A ranked list of (chunk id, score), best first.
type Ranked = Vec<(String, f32)>;
