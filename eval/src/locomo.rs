//! LoCoMo over HTTP: each conversation goes into a workspace of its own, every turn written as
//! a note through `POST /v1/memory/batch` (one batch per session; content `Speaker: text`, the
//! session's date as title, `external_id` = the turn's `dia_id`), then every question of
//! categories 1-4 is asked through `POST /v1/memory/context-pack`. Prints the share of each
//! question's evidence turns in the pack's first 10 items and anywhere in it, the share of its
//! evidence sessions, by category, tokens per pack and pack latency.
//!
//! By default the server is Cairn's own app started in this process on a loopback port over a
//! fresh data directory (the same router and stores as `cairn serve`); `--url` with `--token`
//! runs the same protocol against a server already running.
//!
//! Data: `../shared/eval/locomo-dev/locomo_dev.json` (see its README; not in the repository).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "../shared/eval/locomo-dev/locomo_dev.json")]
    data: PathBuf,
    /// Token budget of each pack.
    #[arg(long, default_value_t = 1500)]
    max_tokens: usize,
    /// A running Cairn to measure instead of one started here (needs `--token`).
    #[arg(long)]
    url: Option<String>,
    /// An admin session token of `--url` (workspaces are created with it).
    #[arg(long, env = "CAIRN_TOKEN")]
    token: Option<String>,
    /// Only the first N conversations (all by default).
    #[arg(long)]
    limit: Option<usize>,
    /// Writes one JSON line per question (its evidence and the turn id of each pack item, in
    /// order) to this file, to read what a pack missed.
    #[arg(long)]
    dump: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Sample {
    sample_id: String,
    conversation: serde_json::Map<String, Value>,
    qa: Vec<Qa>,
}

#[derive(Deserialize)]
struct Qa {
    question: String,
    #[serde(default)]
    evidence: Vec<String>,
    category: u8,
}

#[derive(Deserialize)]
struct Turn {
    speaker: String,
    dia_id: String,
    text: String,
}

/// One session of a conversation: its number, date text and turns.
struct Session {
    number: u32,
    date: String,
    turns: Vec<Turn>,
}

fn sessions(conv: &serde_json::Map<String, Value>) -> anyhow::Result<Vec<Session>> {
    let mut out = Vec::new();
    for (key, value) in conv {
        let Some(n) = key.strip_prefix("session_").and_then(|n| n.parse().ok()) else {
            continue;
        };
        let turns: Vec<Turn> = serde_json::from_value(value.clone())
            .with_context(|| format!("{key}: a list of turns"))?;
        let date = conv
            .get(&format!("{key}_date_time"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.push(Session {
            number: n,
            date,
            turns,
        });
    }
    out.sort_by_key(|s| s.number);
    Ok(out)
}

/// `D3:12` -> `D3`: the session part of a turn id.
fn session_of(dia_id: &str) -> &str {
    dia_id.split(':').next().unwrap_or(dia_id)
}

const CATEGORIES: [(u8, &str); 4] = [
    (1, "multi-hop"),
    (2, "temporal"),
    (3, "open-domain"),
    (4, "single-hop"),
];

#[derive(Default)]
struct Tally {
    n: usize,
    first10: f64,
    in_pack: f64,
    sessions: f64,
    tokens: usize,
    items: usize,
}

impl Tally {
    /// `ranked`: the turn id of each pack item in order (`None` for items that are no turn).
    fn add(&mut self, ranked: &[Option<String>], evidence: &HashSet<String>, tokens: usize) {
        let share = |items: &[Option<String>]| {
            let found: HashSet<&String> = items.iter().flatten().collect();
            evidence.iter().filter(|e| found.contains(e)).count() as f64 / evidence.len() as f64
        };
        let want: HashSet<&str> = evidence.iter().map(|e| session_of(e)).collect();
        let got: HashSet<&str> = ranked.iter().flatten().map(|e| session_of(e)).collect();
        self.n += 1;
        self.first10 += share(&ranked[..ranked.len().min(10)]);
        self.in_pack += share(ranked);
        self.sessions += want.intersection(&got).count() as f64 / want.len() as f64;
        self.tokens += tokens;
        self.items += ranked.len();
    }

    fn line(&self, name: &str) -> String {
        let n = self.n.max(1) as f64;
        format!(
            "{name:<12} {:>4}  first10 {:.3}  in_pack {:.3}  sessions {:.3}  tokens {:>6.0}  items {:>5.1}",
            self.n,
            self.first10 / n,
            self.in_pack / n,
            self.sessions / n,
            self.tokens as f64 / n,
            self.items as f64 / n
        )
    }
}

/// The server measured, and the bearer token requests carry.
struct Target {
    base: String,
    token: String,
    client: reqwest::Client,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    async fn start(args: &Args) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        if let Some(url) = &args.url {
            let token = args.token.clone().context("--url needs --token")?;
            return Ok(Self {
                base: url.trim_end_matches('/').to_string(),
                token,
                client,
                stop: None,
                _dir: None,
            });
        }
        let dir = tempfile::tempdir()?;
        let mut config = cairn::config::Config::load(None)?;
        config.storage.data_dir = dir.path().to_path_buf();
        config.server.bind = "127.0.0.1:0".into();
        config.rate_limit.session_per_minute = 10_000_000;
        config.log.level = "warn".into();
        let app = cairn::app::App::build(config).await?;
        let base = format!("http://{}", app.local_addr()?);
        let setup_token = app
            .setup_token()
            .context("a fresh setup token")?
            .to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let body = json!({"setup_token": setup_token, "email": "eval@cairn.local",
                          "password": "evaluation-only"});
        let reg: Value = client
            .post(format!("{base}/v1/setup"))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let token = reg["access_token"].as_str().context("setup")?.to_string();
        Ok(Self {
            base,
            token,
            client,
            stop: Some((stop, task)),
            _dir: Some(dir),
        })
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = res.status();
        let text = res.text().await?;
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn stop(self) -> anyhow::Result<()> {
        if let Some((stop, task)) = self.stop {
            let _ = stop.send(());
            task.await??;
        }
        Ok(())
    }
}

/// Writes the conversation into a fresh workspace, a batch per session; returns the
/// workspace id and the turn id of each note id.
async fn ingest(
    t: &Target,
    sample: &Sample,
    run: &str,
) -> anyhow::Result<(String, HashMap<String, String>)> {
    let ws = format!("locomo-{}-{run}", sample.sample_id);
    let body = json!({"workspace_id": ws, "name": ws});
    t.post("/v1/workspaces", &body).await?;
    let mut turn_of = HashMap::new();
    for s in sessions(&sample.conversation)? {
        if s.turns.is_empty() {
            continue;
        }
        let notes: Vec<Value> = s
            .turns
            .iter()
            .map(|turn| {
                json!({"content": format!("{}: {}", turn.speaker, turn.text),
                       "title": s.date, "external_id": turn.dia_id})
            })
            .collect();
        let body = json!({"workspace_id": ws, "notes": notes});
        let res = t.post("/v1/memory/batch", &body).await?;
        let ids = res["note_ids"].as_array().context("note_ids")?;
        for (id, turn) in ids.iter().zip(&s.turns) {
            let id = id.as_str().context("a note id")?;
            turn_of.insert(id.to_string(), turn.dia_id.clone());
        }
    }
    Ok((ws, turn_of))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.data)
        .with_context(|| format!("reading {} (see its README)", args.data.display()))?;
    let mut samples: Vec<Sample> = serde_json::from_str(&text)?;
    samples.truncate(args.limit.unwrap_or(samples.len()));
    let t = Target::start(&args).await?;
    let run = format!("{}", chrono::Utc::now().timestamp());
    let mut all = Tally::default();
    let mut by_cat: BTreeMap<u8, Tally> = BTreeMap::new();
    let mut latencies = Vec::new();
    let (mut turns, mut write_s) = (0, 0.0);
    let mut dump = match &args.dump {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    for sample in &samples {
        let started = Instant::now();
        let (ws, turn_of) = ingest(&t, sample, &run).await?;
        write_s += started.elapsed().as_secs_f64();
        turns += turn_of.len();
        let written: HashSet<&str> = turn_of.values().map(String::as_str).collect();
        for qa in sample.qa.iter().filter(|q| (1..=4).contains(&q.category)) {
            let evidence: HashSet<String> = qa
                .evidence
                .iter()
                .flat_map(|e| e.split([';', ' ']))
                .map(str::trim)
                .filter(|e| written.contains(e))
                .map(str::to_string)
                .collect();
            if evidence.is_empty() {
                continue;
            }
            let body = json!({"workspace_id": ws, "query": qa.question,
                              "max_tokens": args.max_tokens});
            let started = Instant::now();
            let pack = t.post("/v1/memory/context-pack", &body).await?;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            let ranked: Vec<Option<String>> = pack["items"]
                .as_array()
                .context("items")?
                .iter()
                .map(|i| i["id"].as_str().and_then(|id| turn_of.get(id).cloned()))
                .collect();
            let tokens = pack["usage"]["tokens_used"].as_u64().unwrap_or(0) as usize;
            if let Some(out) = dump.as_mut() {
                use std::io::Write;
                let line = json!({"sample": sample.sample_id, "question": qa.question,
                                  "category": qa.category, "evidence": evidence,
                                  "ranked": ranked});
                writeln!(out, "{line}")?;
            }
            all.add(&ranked, &evidence, tokens);
            by_cat
                .entry(qa.category)
                .or_default()
                .add(&ranked, &evidence, tokens);
        }
    }
    t.stop().await?;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "LoCoMo ({} conversations, {turns} turns written in {write_s:.1} s, {}-token packs)",
        samples.len(),
        args.max_tokens
    );
    println!("{}", all.line("all"));
    for (c, name) in CATEGORIES {
        if let Some(t) = by_cat.get(&c) {
            println!("{}", t.line(name));
        }
    }
    if !latencies.is_empty() {
        println!(
            "context-pack over HTTP: p50 {:.1} ms, p95 {:.1} ms",
            pct(0.5),
            pct(0.95)
        );
    }
    Ok(())
}
