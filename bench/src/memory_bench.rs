//! Memory benchmarks: batch write throughput (notes/s, embedding included) and context-pack
//! latency p50 / p99 and throughput at N notes + M chunks in one workspace, query embedding
//! included, in process and over HTTP.
//!
//! Chunks are synthetic (pseudo-word text, random unit vectors; see `sources-bench`); notes
//! are written through `POST /v1/memory/batch`'s code path and embedded for real, with an
//! entity and a link per note so graph expansion runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cairn::context::model::ContextPackRequest;
use cairn::memory::model::{BatchInput, EntityInput, LinkInput, NodeRef, NoteInput};
use cairn::store::Workspace;
use cairn_bench::{
    engine_at, fill, peak_rss_mib, percentile, synthetic_text, vocabulary, BenchServer,
};
use clap::Parser;
use rand::SeedableRng;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    notes: usize,
    #[arg(long, default_value_t = 100_000)]
    chunks: usize,
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Notes per batch request.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    #[arg(long, default_value = "target/bench-data/memory")]
    dir: PathBuf,
}

async fn count(engine: &cairn::app::Engine, table: &str, ws: &Workspace) -> anyhow::Result<usize> {
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE workspace_id = ?"
    ))
    .bind(&ws.id)
    .fetch_one(&engine.stores.pool)
    .await?;
    Ok(usize::try_from(n)?)
}

fn batch_of(rng: &mut rand::rngs::StdRng, vocab: &[String], from: usize, n: usize) -> BatchInput {
    let kinds = ["fact", "preference", "decision", "lesson"];
    let mut b = BatchInput::default();
    // One entity per 50 notes, named by a vocabulary word so queries can mention it.
    for e in (from / 50)..((from + n).div_ceil(50)) {
        b.entities.push(EntityInput {
            entity_type: "project".into(),
            name: vocab[e % vocab.len()].clone(),
            external_id: Some(format!("entity-{e}")),
            ..Default::default()
        });
    }
    for i in from..from + n {
        b.notes.push(NoteInput {
            content: synthetic_text(rng, vocab, 25),
            kind: Some(kinds[i % kinds.len()].into()),
            importance: Some((i % 10) as f64 / 10.0),
            external_id: Some(format!("note-{i}")),
            ..Default::default()
        });
        b.links.push(LinkInput {
            from: NodeRef {
                node_type: "note".into(),
                external_id: Some(format!("note-{i}")),
                ..Default::default()
            },
            to: NodeRef {
                node_type: "entity".into(),
                external_id: Some(format!("entity-{}", i / 50)),
                ..Default::default()
            },
            relation: "about".into(),
            ..Default::default()
        });
    }
    b
}

fn report(what: &str, mut lat: Vec<f64>, took: f64) {
    let n = lat.len();
    lat.sort_by(f64::total_cmp);
    println!(
        "{what}: p50 {:.2} ms  p99 {:.2} ms  ({:.0} packs/s)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        n as f64 / took
    );
}

async fn in_process(
    context: &Arc<cairn::context::ContextPacks>,
    ws: &Workspace,
    qs: &[String],
    include_sources: bool,
) -> anyhow::Result<()> {
    let req = |q: &str| ContextPackRequest {
        query: q.to_string(),
        include_sources: Some(include_sources),
        ..Default::default()
    };
    for q in qs.iter().take(10) {
        context
            .build(ws, req(q))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut lat = Vec::with_capacity(qs.len());
    let mut items = 0;
    let mut tokens = 0;
    let mut parts = [0f64; 3];
    let started = Instant::now();
    for q in qs {
        let t = Instant::now();
        let pack = context
            .build(ws, req(q))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        items += pack.items.len();
        parts[0] += pack.telemetry.search_ms;
        parts[1] += pack.telemetry.expand_ms;
        parts[2] += pack.telemetry.rank_ms;
        tokens += pack.usage.tokens_used;
    }
    let took = started.elapsed().as_secs_f64();
    report(
        &format!(
            "context-pack in process, include_sources={include_sources} (avg {:.1} items, {:.0} tokens)",
            items as f64 / qs.len() as f64,
            tokens as f64 / qs.len() as f64
        ),
        lat,
        took,
    );
    let n = qs.len() as f64;
    println!(
        "  mean parts: embed + search {:.2} ms, expand {:.2} ms, rank + pack {:.2} ms",
        parts[0] / n,
        parts[1] / n,
        parts[2] / n
    );

    // Throughput with 4 callers at once on the 2 cores.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for part in qs.chunks(qs.len().div_ceil(4)) {
        let (context, ws, part) = (context.clone(), ws.clone(), part.to_vec());
        tasks.push(tokio::spawn(async move {
            for q in part {
                let r = ContextPackRequest {
                    query: q,
                    include_sources: Some(include_sources),
                    ..Default::default()
                };
                context
                    .build(&ws, r)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "  with 4 concurrent callers: {:.0} packs/s",
        qs.len() as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn over_http(dir: &Path, qs: &[String]) -> anyhow::Result<()> {
    let server = BenchServer::start(dir).await?;
    for include_sources in [false, true] {
        let mut lat = Vec::with_capacity(qs.len());
        let started = Instant::now();
        for (i, q) in qs.iter().enumerate() {
            let t = Instant::now();
            let body = serde_json::json!({"query": q, "include_sources": include_sources});
            server.post("/v1/memory/context-pack", &body).await?;
            if i >= 10 {
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        report(
            &format!("POST /v1/memory/context-pack over HTTP, include_sources={include_sources}"),
            lat,
            started.elapsed().as_secs_f64(),
        );
        over_mcp(&server, qs, include_sources).await?;
    }
    server.stop().await
}

/// The same packs as MCP `tools/call context_pack` on `/mcp` (Streamable HTTP, one session),
/// to set the protocol's cost beside the REST figure.
async fn over_mcp(
    server: &BenchServer,
    qs: &[String],
    include_sources: bool,
) -> anyhow::Result<()> {
    let mcp = format!("{}/mcp", server.base);
    let post = |body: serde_json::Value, session: Option<&str>| {
        let mut req = server
            .client
            .post(&mcp)
            .bearer_auth(&server.token)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "memory-bench", "version": "1"}}});
    let res = post(init, None).await?;
    let session = res
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    res.bytes().await?;
    let initialized = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(initialized, session.as_deref()).await?.bytes().await?;
    let mut lat = Vec::with_capacity(qs.len());
    let started = Instant::now();
    for (i, q) in qs.iter().enumerate() {
        let t = Instant::now();
        let call = serde_json::json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
            "params": {"name": "context_pack",
                       "arguments": {"query": q, "include_sources": include_sources}}});
        let res = post(call, session.as_deref()).await?;
        let body = res.text().await?;
        anyhow::ensure!(
            body.contains("\"result\"") && !body.contains("\"isError\":true"),
            "tools/call context_pack failed: {body}"
        );
        if i >= 10 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    report(
        &format!("MCP tools/call context_pack over HTTP, include_sources={include_sources}"),
        lat,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (engine, ws) = engine_at(&args.dir).await?;
    let have = count(&engine, "chunks", &ws).await?;
    if have < args.chunks {
        fill(&engine, &ws, args.chunks - have).await?;
    }
    let vocab = vocabulary(20_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let have = count(&engine, "memory_notes", &ws).await?;
    if have < args.notes {
        let started = Instant::now();
        let mut written = 0;
        let mut from = have;
        while from < args.notes {
            let n = args.batch.min(args.notes - from);
            let batch = batch_of(&mut rng, &vocab, from, n);
            engine
                .memory
                .batch(&ws, "bench", batch, 10_000)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            from += n;
            written += n;
            if from % 2_000 < args.batch {
                eprintln!(
                    "wrote {from} notes in {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "batch write: {written} notes (+ an entity per 50 and a link each) in {secs:.1} s = {:.1} notes/s, embedding included, {} notes per batch",
            written as f64 / secs,
            args.batch
        );
        engine.sources.retriever.vectors.maintain().await?;
    }
    let notes = count(&engine, "memory_notes", &ws).await?;
    let chunks = count(&engine, "chunks", &ws).await?;
    println!("store: {notes} notes + {chunks} chunks in one workspace");

    let qs: Vec<String> = (0..args.queries)
        .map(|i| {
            // Every third query names a project entity, so graph expansion has work to do.
            let q = synthetic_text(&mut rng, &vocab, 6);
            if i % 3 == 0 {
                format!("{q} {}", vocab[i % 200])
            } else {
                q
            }
        })
        .collect();
    for include_sources in [false, true] {
        in_process(&engine.context, &ws, &qs, include_sources).await?;
    }
    engine.close().await;
    drop(engine);
    over_http(&args.dir, &qs).await?;
    println!("peak RSS {:.1} MiB", peak_rss_mib());
    Ok(())
}
