//! `cairn ingest`, `cairn search` and `cairn reindex`: the sources engine from the command
//! line, working directly on the data directory (stop the server first: the text index takes
//! one writer at a time).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::accounts::workspaces::DEFAULT_WORKSPACE;
use crate::app::{Engine, Stores};
use crate::config::Config;
use crate::retrieval::SearchMode;
use crate::sources::model::{SearchFilters, SearchRequest};
use crate::sources::Pending;
use crate::store::Workspace;

/// The user a CLI command acts for: `--user EMAIL`, or the installation's first admin.
pub async fn operator(stores: &Stores, user: Option<&str>) -> anyhow::Result<crate::store::User> {
    match user {
        Some(email) => {
            stores
                .accounts
                .user_by_email(&email.to_ascii_lowercase())
                .await?
        }
        None => stores.accounts.first_admin().await?,
    }
    .context("no such user; create one with `cairn users create-admin` or name an existing --user")
}

async fn workspace(
    stores: &Stores,
    user: Option<&str>,
    slug: Option<&str>,
) -> anyhow::Result<Workspace> {
    let owner = operator(stores, user).await?;
    let slug = slug.unwrap_or(DEFAULT_WORKSPACE);
    stores
        .accounts
        .workspace_by_slug(&owner.account_id, slug)
        .await?
        .with_context(|| format!("workspace {slug} not found in {}'s account", owner.email))
}

fn collect_files(root: &Path, include: &[glob::Pattern]) -> Vec<PathBuf> {
    if root.is_file() {
        return vec![root.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            include.is_empty()
                || p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| include.iter().any(|g| g.matches(n)))
        })
        .collect();
    files.sort();
    files
}

pub struct IngestArgs {
    pub paths: Vec<String>,
    pub workspace: Option<String>,
    pub user: Option<String>,
    pub tags: Vec<String>,
    pub include: Vec<String>,
}

pub async fn ingest(config: Config, args: IngestArgs) -> anyhow::Result<()> {
    let engine = Engine::open(&config).await?;
    let ws = workspace(
        &engine.stores,
        args.user.as_deref(),
        args.workspace.as_deref(),
    )
    .await?;
    let items = pending_items(&args)?;
    let started = Instant::now();
    let counts = ingest_with_progress(&engine, &ws, items).await;
    let secs = started.elapsed().as_secs_f64();
    let IngestCounts {
        ok,
        dup,
        failed,
        chunks,
    } = counts;
    println!(
        "ingested {ok} sources ({chunks} chunks) in {secs:.1} s, {:.1} chunks/s; {dup} already present; {failed} failed",
        chunks as f64 / secs.max(1e-3)
    );
    engine.close().await;
    anyhow::ensure!(failed == 0, "{failed} sources failed");
    Ok(())
}

/// What the arguments name: each URL, and each file under each path that `--include` lets
/// through (records files become one item per record).
fn pending_items(args: &IngestArgs) -> anyhow::Result<Vec<Pending>> {
    let include = args
        .include
        .iter()
        .map(|p| glob::Pattern::new(p).with_context(|| format!("bad --include pattern {p}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut items: Vec<Pending> = Vec::new();
    for target in &args.paths {
        if target.starts_with("http://") || target.starts_with("https://") {
            items.push(Pending {
                kind: "url".into(),
                url: Some(target.clone()),
                tags: args.tags.clone(),
                ..Default::default()
            });
            continue;
        }
        let files = collect_files(Path::new(target), &include);
        anyhow::ensure!(Path::new(target).exists(), "{target} does not exist");
        for file in files {
            items.extend(pending_file(&file, &args.tags)?);
        }
    }
    Ok(items)
}

/// One file as pending sources: a JSON or JSON Lines file is a records file (one source per
/// record, keyed by the file and the record id), anything else one source.
fn pending_file(file: &Path, tags: &[String]) -> anyhow::Result<Vec<Pending>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string);
    let base = Pending {
        kind: "file".into(),
        filename: name.clone(),
        tags: tags.to_vec(),
        metadata: [(
            "path".to_string(),
            serde_json::json!(file.display().to_string()),
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let lower = name.unwrap_or_default().to_ascii_lowercase();
    if lower.ends_with(".json") || lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        let records = cairn_ingest::records::parse_file(&bytes, &Default::default())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let base = Pending {
            filename: None,
            external_source: Some(file.display().to_string()),
            ..base
        };
        return Ok(Pending::from_records(records, &base));
    }
    Ok(vec![Pending { bytes, ..base }])
}

#[derive(Debug, Default)]
struct IngestCounts {
    ok: u64,
    dup: u64,
    failed: u64,
    chunks: i64,
}

/// Ingests the items one by one behind a progress bar; a failure is printed and counted, and
/// the rest go on.
async fn ingest_with_progress(
    engine: &Engine,
    ws: &Workspace,
    items: Vec<Pending>,
) -> IngestCounts {
    let bar = ProgressBar::new(items.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut counts = IngestCounts::default();
    for item in items {
        let name = item
            .filename
            .clone()
            .or_else(|| item.url.clone())
            .unwrap_or_default();
        match engine.sources.create(ws, item, true).await {
            Ok((_, view)) if view.deduplicated => counts.dup += 1,
            Ok((_, view)) => {
                counts.ok += 1;
                if let Some(doc) = view.document_id {
                    counts.chunks += engine
                        .sources
                        .store
                        .document_chunks(&doc)
                        .await
                        .map(|c| c.len() as i64)
                        .unwrap_or(0);
                }
            }
            Err(e) => {
                counts.failed += 1;
                bar.println(format!("failed: {name}: {e}"));
            }
        }
        let rate = counts.chunks as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{} chunks  {rate:.1} chunks/s", counts.chunks));
        bar.inc(1);
    }
    bar.finish();
    counts
}

pub async fn search(
    config: Config,
    query: String,
    ws: Option<String>,
    user: Option<String>,
    limit: usize,
    mode: SearchMode,
) -> anyhow::Result<()> {
    let engine = Engine::open(&config).await?;
    let ws = workspace(&engine.stores, user.as_deref(), ws.as_deref()).await?;
    let req = SearchRequest {
        query,
        workspace_id: None,
        mode,
        limit: Some(limit),
        filters: SearchFilters::default(),
    };
    let res = engine
        .sources
        .search(&ws, req)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, hit) in res.data.iter().enumerate() {
        let title = hit.citation.title.as_deref().unwrap_or("(untitled)");
        let snippet: String = hit
            .text
            .chars()
            .take(160)
            .collect::<String>()
            .replace('\n', " ");
        println!(
            "{:>2}. [{:.3}] {title}\n    {snippet}",
            i + 1,
            hit.scores.fused
        );
    }
    println!("{} results in {:.1} ms", res.data.len(), res.took_ms);
    engine.close().await;
    Ok(())
}

/// Re-embeds every active document and every approved or pending note with the configured
/// model, rebuilding the vector and text indexes from the text kept in SQL.
pub async fn reindex(config: Config) -> anyhow::Result<()> {
    let stores = Stores::open(&config).await?;
    let documents = stores.sources.active_documents().await?;
    stores.close().await;
    for dir in [config.lance_dir(), config.tantivy_dir()] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    {
        let stores = Stores::open(&config).await?;
        sqlx::query("DELETE FROM embedding_state")
            .execute(&stores.pool)
            .await?;
        sqlx::query("DELETE FROM purge_queue")
            .execute(&stores.pool)
            .await?;
        stores.close().await;
    }
    let engine = Engine::open(&config).await?;
    let bar = ProgressBar::new(documents.len() as u64);
    for doc in documents {
        let source = engine
            .sources
            .store
            .source(&doc.workspace_id, &doc.source_id)
            .await?;
        if let Some(source) = source {
            let ws = Workspace {
                id: doc.workspace_id.clone(),
                account_id: doc.account_id.clone(),
                workspace_id: String::new(),
                name: String::new(),
                status: String::new(),
                metadata: serde_json::Value::Null,
                monthly_budget_usd: None,
                created_at: String::new(),
                updated_at: String::new(),
            };
            engine
                .sources
                .reindex(&ws, &source.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        bar.inc(1);
    }
    bar.finish();
    let notes = engine.memory.reindex_all().await?;
    println!(
        "re-embedded {} documents and {notes} notes with {}",
        bar.position(),
        config.embedding.model
    );
    engine.close().await;
    Ok(())
}
