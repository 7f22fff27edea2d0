//! Memory recall: multi-session conversations are written turn by turn as notes (external id
//! = turn id, valid from the turn's date), then each question is asked through the context
//! pack. Prints evidence recall@k (k counts the pack's note items in order), the share of
//! questions whose evidence is all in the pack, and tokens per pack, by question type.
//!
//! Data: eval/data/memory_recall.json, built by eval/data/make_memory_recall.py (see its
//! header for what makes it hard). Questions without `as_of` are asked one day after the
//! conversation's last turn, as an agent would between sessions.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use cairn::app::Engine;
use cairn::config::Config;
use cairn::context::model::ContextPackRequest;
use cairn::memory::model::{BatchInput, NoteInput};
use cairn::store::Workspace;
use clap::Parser;
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "eval/data/memory_recall.json")]
    data: PathBuf,
    /// Token budget of each pack.
    #[arg(long, default_value_t = 2000)]
    max_tokens: usize,
    /// Store only the user's turns (the assistant's are distractors by default).
    #[arg(long)]
    user_only: bool,
    /// Data directory for the run (a fresh temporary one by default).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Data {
    conversations: Vec<Conversation>,
}

#[derive(Deserialize)]
struct Conversation {
    id: String,
    turns: Vec<Turn>,
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Turn {
    id: String,
    session: u32,
    date: String,
    speaker: String,
    text: String,
}

#[derive(Deserialize)]
struct Question {
    question: String,
    evidence: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
    as_of: Option<String>,
}

#[derive(Default)]
struct Tally {
    n: usize,
    at: [f64; 3],
    in_pack: f64,
    tokens: usize,
    items: usize,
}

const KS: [usize; 3] = [1, 5, 10];

impl Tally {
    fn add(&mut self, ranked: &[String], evidence: &[String], tokens: usize) {
        self.n += 1;
        self.tokens += tokens;
        self.items += ranked.len();
        let found = |k: usize| {
            let top = &ranked[..k.min(ranked.len())];
            evidence.iter().filter(|e| top.contains(e)).count() as f64 / evidence.len() as f64
        };
        for (i, k) in KS.iter().enumerate() {
            self.at[i] += found(*k);
        }
        if evidence.iter().all(|e| ranked.contains(e)) {
            self.in_pack += 1.0;
        }
    }

    fn row(&self, name: &str) -> String {
        let n = self.n.max(1) as f64;
        format!(
            "{name:<10} {:>4}  {:>6.3} {:>6.3} {:>6.3}   {:>6.3}   {:>7.0} {:>6.1}",
            self.n,
            self.at[0] / n,
            self.at[1] / n,
            self.at[2] / n,
            self.in_pack / n,
            self.tokens as f64 / n,
            self.items as f64 / n
        )
    }
}

async fn workspace(engine: &Engine, account_id: &str, slug: &str) -> anyhow::Result<Workspace> {
    let accounts = engine.stores.accounts.as_ref();
    if accounts
        .workspace_by_slug(account_id, slug)
        .await?
        .is_none()
    {
        let req = serde_json::from_value(serde_json::json!({"workspace_id": slug, "name": slug}))?;
        cairn::accounts::workspaces::create(accounts, account_id, req)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    accounts
        .workspace_by_slug(account_id, slug)
        .await?
        .context("workspace")
}

fn day_after(date: &str) -> anyhow::Result<String> {
    let t = chrono::DateTime::parse_from_rfc3339(date)?;
    Ok((t + chrono::Duration::days(1)).to_rfc3339())
}

/// What the run measured, over all conversations.
#[derive(Default)]
struct Run {
    by_type: BTreeMap<String, Tally>,
    all: Tally,
    written: usize,
    write_secs: f64,
    pack_ms: Vec<f64>,
    whole_tokens: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data: Data = serde_json::from_str(
        &std::fs::read_to_string(&args.data)
            .with_context(|| format!("reading {}", args.data.display()))?,
    )?;
    let tmp = std::env::temp_dir().join(format!("cairn-memory-eval-{}", std::process::id()));
    let dir = args.dir.clone().unwrap_or_else(|| tmp.clone());
    let mut config = Config::load(None)?;
    config.storage.data_dir = dir.clone();
    config.log.level = "warn".into();
    let engine = Engine::open(&config).await?;
    let owner = cairn_eval::owner_account(&engine).await?;

    let mut run = Run::default();
    let counter = cairn::context::budget::TokenCounter::new(&config.context.tokenizer)?;
    for conv in &data.conversations {
        let ws = workspace(&engine, &owner, &conv.id.to_lowercase()).await?;
        let turns: Vec<&Turn> = conv
            .turns
            .iter()
            .filter(|t| !args.user_only || t.speaker == "user")
            .collect();
        let t0 = Instant::now();
        let note_turn = store_turns(&engine, &ws, &turns).await?;
        run.write_secs += t0.elapsed().as_secs_f64();
        let whole: Vec<String> = turns
            .iter()
            .map(|t| format!("{}: {}", t.speaker, t.text))
            .collect();
        run.whole_tokens += counter.count(&whole.join("\n"));
        run.written += turns.len();
        ask_questions(&engine, &ws, conv, &note_turn, args.max_tokens, &mut run).await?;
    }
    report(&mut run, data.conversations.len(), args.max_tokens);
    engine.close().await;
    if args.dir.is_none() {
        std::fs::remove_dir_all(&tmp).ok();
    }
    Ok(())
}

/// Writes the turns as notes in batches of 500; returns note id -> turn id.
async fn store_turns(
    engine: &Engine,
    ws: &Workspace,
    turns: &[&Turn],
) -> anyhow::Result<HashMap<String, String>> {
    let mut note_turn: HashMap<String, String> = HashMap::new();
    for part in turns.chunks(500) {
        let batch = BatchInput {
            notes: part
                .iter()
                .map(|t| NoteInput {
                    content: format!("{}: {}", t.speaker, t.text),
                    kind: Some("turn".into()),
                    metadata: Some(serde_json::json!({"session": t.session, "speaker": t.speaker})),
                    valid_from: Some(t.date.clone()),
                    external_source: Some("conversation".into()),
                    external_id: Some(t.id.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let out = engine
            .memory
            .batch(ws, "eval", batch, 1000)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (id, t) in out.note_ids.into_iter().zip(part) {
            note_turn.insert(id, t.id.clone());
        }
    }
    Ok(note_turn)
}

/// Asks each question of `conv` through a context pack and tallies where its evidence ranks.
async fn ask_questions(
    engine: &Engine,
    ws: &Workspace,
    conv: &Conversation,
    note_turn: &HashMap<String, String>,
    max_tokens: usize,
    run: &mut Run,
) -> anyhow::Result<()> {
    let last = conv
        .turns
        .last()
        .map(|t| t.date.clone())
        .unwrap_or_default();
    let after = day_after(&last)?;
    for q in &conv.questions {
        let req = ContextPackRequest {
            query: q.question.clone(),
            max_tokens: Some(max_tokens),
            include_events: Some(false),
            as_of: Some(q.as_of.clone().unwrap_or_else(|| after.clone())),
            ..Default::default()
        };
        let t = Instant::now();
        let pack = engine
            .context
            .build(ws, req)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        run.pack_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let ranked: Vec<String> = pack
            .items
            .iter()
            .filter(|i| i.item_type == "note")
            .filter_map(|i| note_turn.get(&i.id).cloned())
            .collect();
        run.by_type.entry(q.kind.clone()).or_default().add(
            &ranked,
            &q.evidence,
            pack.usage.tokens_used,
        );
        run.all.add(&ranked, &q.evidence, pack.usage.tokens_used);
    }
    Ok(())
}

fn report(run: &mut Run, conversations: usize, max_tokens: usize) {
    run.pack_ms.sort_by(f64::total_cmp);
    println!(
        "memory recall: {conversations} conversations, {} turns stored as notes ({:.1} notes/s), {} questions, max_tokens {max_tokens}",
        run.written,
        run.written as f64 / run.write_secs,
        run.all.n,
    );
    println!("type          n     R@1    R@5   R@10   in-pack   tokens  items");
    for (name, t) in &run.by_type {
        println!("{}", t.row(name));
    }
    println!("{}", run.all.row("all"));
    println!(
        "whole conversation as context: {:.0} tokens on average",
        run.whole_tokens as f64 / conversations as f64
    );
    let pack_ms = &run.pack_ms;
    println!(
        "context-pack latency over these stores: p50 {:.1} ms, p99 {:.1} ms",
        pack_ms[pack_ms.len() / 2],
        pack_ms[(pack_ms.len() * 99 / 100).min(pack_ms.len() - 1)]
    );
}
