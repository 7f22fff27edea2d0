//! Gateway overhead: the same loopback upstream called directly, through Cairn
//! (`POST /v1/chat/completions` with routing, authentication, rate limiting, billing hold and
//! settlement, usage row) and through LiteLLM's proxy, p50 / p99 at concurrency 1 and 64 and
//! the throughput at 64. LiteLLM comes from `scripts/litellm.sh` (`make bench` runs it).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

// The allocator of the `cairn` binary, so the embedded server measures as it runs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use cairn::config::Config;
use cairn_bench::percentile;
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Sequential requests per side at concurrency 1.
    #[arg(long, default_value_t = 2000)]
    sequential: usize,
    /// Requests per side at concurrency 64.
    #[arg(long, default_value_t = 20000)]
    total: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// LiteLLM's proxy executable; skipped when it is not there.
    #[arg(long)]
    litellm: Option<std::path::PathBuf>,
    /// Requests LiteLLM gets at concurrency 1 and at 64 (it is far slower).
    #[arg(long, default_value_t = 500)]
    litellm_requests: usize,
}

async fn upstream() -> anyhow::Result<String> {
    let answer = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}});
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let a = answer.clone();
            async move { axum::Json(a) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

fn body() -> Value {
    json!({"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "ping"}]})
}

async fn sequential(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    n: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n + 50 {
        let mut req = client.post(url).json(&body());
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let t = Instant::now();
        let res = req.send().await?;
        anyhow::ensure!(res.status().is_success(), "{url} answered {}", res.status());
        res.bytes().await?;
        if i >= 50 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}

/// Requests per second, and the sorted latencies (ms).
async fn concurrent(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    total: usize,
    conc: usize,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, url, key, next) = (
            client.clone(),
            url.to_string(),
            key.map(str::to_string),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                let mut req = client.post(&url).json(&body());
                if let Some(k) = &key {
                    req = req.bearer_auth(k);
                }
                let t = Instant::now();
                let res = req.send().await?;
                anyhow::ensure!(res.status().is_success(), "answered {}", res.status());
                res.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(total);
    for t in tasks {
        lat.extend(t.await??);
    }
    lat.sort_by(f64::total_cmp);
    Ok((total as f64 / started.elapsed().as_secs_f64(), lat))
}

/// The proxy's master key: it refuses to start without one, and checks it on every request
/// (as Cairn checks its API key).
const LITELLM_KEY: &str = "sk-cairn-bench-master-key";

/// LiteLLM's proxy on a free port in front of the same upstream, once it answers.
async fn start_litellm(
    exe: &std::path::Path,
    dir: &std::path::Path,
    upstream: &str,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cfg = dir.join("litellm.yaml");
    std::fs::write(
        &cfg,
        format!(
            "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\n      \
             api_base: {upstream}/v1\n      api_key: sk-bench\n"
        ),
    )?;
    let child = tokio::process::Command::new(exe)
        .arg("--config")
        .arg(&cfg)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .env("LITELLM_LOG", "ERROR")
        .env("LITELLM_MASTER_KEY", LITELLM_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..240 {
        if let Ok(r) = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(LITELLM_KEY)
            .json(&body())
            .send()
            .await
        {
            if r.status().is_success() {
                return Ok((child, base));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    anyhow::bail!("LiteLLM did not answer within 120 s")
}

/// A Cairn server routing model `m` to the upstream `up`, with limits out of the way.
struct Server {
    base: String,
    /// The first-admin token the fresh server issued.
    setup_token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_cairn(up: &str, dir: &std::path::Path) -> anyhow::Result<Server> {
    let cfg_path = dir.join("bench.toml");
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        &cfg_path,
        format!(
            "[[providers]]\nname = \"up\"\nkind = \"openai_compatible\"\nbase_url = \"{up}/v1\"\n\n\
             [[models]]\nname = \"m\"\nprovider = \"up\"\nupstream = \"m\"\nweight = 5\ncontext_window = 8192\n\
             input_per_1k = 0.0001\noutput_per_1k = 0.0002\n"
        ),
    )?;
    let mut config = Config::load(Some(&cfg_path))?;
    config.storage.data_dir = dir.join("data");
    config.server.bind = "127.0.0.1:0".into();
    // The most a key may be given (`rate_limit.max_per_minute`) caps the key's own limit.
    config.rate_limit.max_per_minute = 1_000_000;
    config.rate_limit.default_per_minute = 1_000_000;
    config.rate_limit.session_per_minute = 1_000_000;
    config.log.level = "warn".into();
    let app = cairn::app::App::build(config).await?;
    let base = format!("http://{}", app.local_addr()?);
    let setup_token = app
        .setup_token()
        .context("a fresh data directory has no admin, so a setup token")?
        .to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Ok(Server {
        base,
        setup_token,
        stop,
        task,
    })
}

/// Makes the bench user the installation's admin (with the setup token), funds its account
/// and returns a runtime key.
async fn funded_key(
    client: &reqwest::Client,
    base: &str,
    setup_token: &str,
) -> anyhow::Result<String> {
    let reg: Value = client
        .post(format!("{base}/v1/setup"))
        .json(
            &json!({"setup_token": setup_token, "email": "bench@cairn.local",
                      "password": "benchmark-only"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let session = reg["access_token"].as_str().context("setup")?.to_string();
    client
        .post(format!("{base}/v1/billing/add"))
        .bearer_auth(&session)
        .json(&json!({"amount_usd": 1_000_000}))
        .send()
        .await?;
    let key: Value = client
        .post(format!("{base}/v1/keys"))
        .bearer_auth(&session)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(key["key"].as_str().context("key")?.to_string())
}

/// Cairn's figures to compare LiteLLM with: latency added at concurrency 1 is measured
/// against the direct p50/p99, throughput against Cairn's.
struct Baseline {
    direct_p50: f64,
    direct_p99: f64,
    cairn_p50: f64,
    cairn_rps: f64,
}

/// The same figures through a LiteLLM proxy on the same upstream.
async fn compare_litellm(
    client: &reqwest::Client,
    exe: &std::path::Path,
    dir: &std::path::Path,
    up: &str,
    args: &Args,
    cairn: &Baseline,
) -> anyhow::Result<()> {
    let c = args.concurrency;
    let (child, lite) = start_litellm(exe, dir, up).await?;
    let lite_url = format!("{lite}/v1/chat/completions");
    let n = args.litellm_requests;
    let seq = sequential(client, &lite_url, Some(LITELLM_KEY), n).await?;
    let (lite_rps, lite_lat) = concurrent(client, &lite_url, Some(LITELLM_KEY), n, c).await?;
    println!("LiteLLM proxy (same upstream, {n} requests per figure, no database):");
    println!(
        "  concurrency 1            p50 {:.3} ms  p99 {:.3} ms  (added p50 {:.3} ms, p99 {:.3} ms)",
        percentile(&seq, 0.5),
        percentile(&seq, 0.99),
        percentile(&seq, 0.5) - cairn.direct_p50,
        percentile(&seq, 0.99) - cairn.direct_p99
    );
    println!(
        "  concurrency {c}           {lite_rps:.0} requests/s  p50 {:.3} ms  p99 {:.3} ms",
        percentile(&lite_lat, 0.5),
        percentile(&lite_lat, 0.99)
    );
    println!(
        "  Cairn / LiteLLM          {:.1}x the throughput, {:.1}x lower p50 at concurrency 1",
        cairn.cairn_rps / lite_rps,
        percentile(&seq, 0.5) / cairn.cairn_p50
    );
    drop(child);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let up = upstream().await?;
    let dir = std::env::temp_dir().join(format!("cairn-gateway-bench-{}", std::process::id()));
    let server = start_cairn(&up, &dir).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let key = funded_key(&client, &server.base, &server.setup_token).await?;

    let direct_url = format!("{up}/v1/chat/completions");
    let cairn_url = format!("{}/v1/chat/completions", server.base);
    let direct = sequential(&client, &direct_url, None, args.sequential).await?;
    let through = sequential(&client, &cairn_url, Some(&key), args.sequential).await?;
    let (d50, d99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    let (c50, c99) = (percentile(&through, 0.5), percentile(&through, 0.99));
    println!("concurrency 1, {} requests each:", args.sequential);
    println!("  direct to the upstream   p50 {d50:.3} ms  p99 {d99:.3} ms");
    println!("  through Cairn            p50 {c50:.3} ms  p99 {c99:.3} ms");
    println!(
        "  added by Cairn           p50 {:.3} ms  p99 {:.3} ms",
        c50 - d50,
        c99 - d99
    );
    let (direct_rps, direct_lat) =
        concurrent(&client, &direct_url, None, args.total, args.concurrency).await?;
    let (cairn_rps, cairn_lat) = concurrent(
        &client,
        &cairn_url,
        Some(&key),
        args.total,
        args.concurrency,
    )
    .await?;
    let c = args.concurrency;
    println!("concurrency {c}, {} requests each:", args.total);
    println!(
        "  direct to the upstream   {direct_rps:.0} requests/s  p50 {:.3} ms  p99 {:.3} ms",
        percentile(&direct_lat, 0.5),
        percentile(&direct_lat, 0.99)
    );
    println!(
        "  through Cairn            {cairn_rps:.0} requests/s  p50 {:.3} ms  p99 {:.3} ms \
         (billing hold + settlement and a usage row per request)",
        percentile(&cairn_lat, 0.5),
        percentile(&cairn_lat, 0.99)
    );
    let exe = args.litellm.clone().unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/cairn/litellm-venv/bin/litellm")
    });
    if exe.exists() {
        let baseline = Baseline {
            direct_p50: d50,
            direct_p99: d99,
            cairn_p50: c50,
            cairn_rps,
        };
        compare_litellm(&client, &exe, &dir, &up, &args, &baseline).await?;
    } else {
        println!(
            "LiteLLM: not measured ({} missing; scripts/litellm.sh installs it)",
            exe.display()
        );
    }
    let _ = server.stop.send(());
    server.task.await??;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
