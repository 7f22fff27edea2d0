//! Parsers that decompress run in a child process. PDF streams inflate (a few KB of Flate can
//! expand to gigabytes) and PDF parsers can loop, so PDF extraction runs in `cairn extract`, a
//! hidden subcommand of the same binary, under an address-space limit
//! (`sources.extract_memory_mb` on top of the program itself, `setrlimit(RLIMIT_AS)` before
//! `exec`), no core dumps, an empty environment (no secrets reach the parser) and a wall-clock
//! timeout (`sources.extract_timeout_secs`; the child is killed). A document that hits either
//! limit fails alone, as a 422 or a `failed` source, and the server keeps serving. Plain text,
//! Markdown and HTML stay in-process: their cost is bounded by the upload size.

use std::alloc::{GlobalAlloc, Layout};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_ingest::{ContentKind, ExtractError, Extracted};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// Set when the global allocator returns no memory: in the `cairn extract` child this means
/// the address-space limit was reached, whatever the parser made of the failure.
static OUT_OF_MEMORY: AtomicBool = AtomicBool::new(false);

/// What the child prints when an allocation failed and it aborts (Rust's default handler).
const ABORT_MARKER: &str = "memory allocation of";
/// Room for the program's own mappings (shared libraries, stack, allocator metadata) beyond
/// the executable's size, so `extract_memory_mb` is what the parser gets.
const BASE_ADDRESS_SPACE: u64 = 256 * 1024 * 1024;
const STDERR_CAP: u64 = 16 * 1024;

/// A global allocator that records allocation failures (see [`OUT_OF_MEMORY`]); the binary
/// wraps its allocator in it. The cost is one null check per allocation.
pub struct Watched<A>(pub A);

fn watch(p: *mut u8) -> *mut u8 {
    if p.is_null() {
        OUT_OF_MEMORY.store(true, Ordering::Relaxed);
    }
    p
}

// SAFETY: every call is forwarded unchanged to the wrapped allocator; only the result is
// inspected.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Watched<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        watch(unsafe { self.0.alloc(layout) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        watch(unsafe { self.0.alloc_zeroed(layout) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        watch(unsafe { self.0.realloc(ptr, layout, new_size) })
    }
}

/// How isolated extraction runs.
#[derive(Debug, Clone)]
pub struct ExtractLimits {
    /// The `cairn` binary (the running one).
    pub program: PathBuf,
    /// Memory the parser may use, in MiB (`sources.extract_memory_mb`).
    pub memory_mb: u64,
    /// Wall-clock limit per document (`sources.extract_timeout_secs`).
    pub timeout: Duration,
    /// At most this many children at once: each may use `memory_mb`.
    pub slots: Arc<Semaphore>,
}

impl ExtractLimits {
    pub fn new(memory_mb: u64, timeout: Duration) -> anyhow::Result<Self> {
        let parallel = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            program: std::env::current_exe()?,
            memory_mb,
            timeout,
            slots: Arc::new(Semaphore::new(parallel)),
        })
    }

    /// The child's address-space limit: the executable's size (it is mapped whole), a fixed
    /// base, and the parser's share.
    fn address_space(&self) -> u64 {
        let exe = std::fs::metadata(&self.program).map_or(0, |m| m.len());
        exe.saturating_add(BASE_ADDRESS_SPACE)
            .saturating_add(self.memory_mb.saturating_mul(1024 * 1024))
    }
}

/// The child's answer on stdout.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Extracted(Extracted),
    Unsupported(String),
    Undecodable(String),
    OutOfMemory,
}

/// Whether `kind` is extracted in a child process.
pub fn isolated(kind: ContentKind) -> bool {
    kind == ContentKind::Pdf
}

/// `cairn extract --kind KIND [--memory-mb N]`: reads a document on stdin, writes the
/// [`Answer`] as JSON on stdout. Runs without an async runtime or config, so its address space
/// stays small; with `memory_mb`, it first lowers its own address-space limit to what it uses
/// now plus that much, a tighter bound than the parent's estimate.
pub fn run_child(kind: &str, memory_mb: Option<u64>) -> anyhow::Result<()> {
    let kind: ContentKind = serde_json::from_value(serde_json::Value::String(kind.into()))
        .map_err(|_| anyhow::anyhow!("--kind: expected text, markdown, html or pdf"))?;
    if let Some(mb) = memory_mb {
        tighten_limit(mb);
    }
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    let result = cairn_ingest::extract(kind, &bytes);
    drop(bytes);
    let answer = match result {
        // A parser that swallowed a failed allocation may still answer "no text": the limit
        // is the real reason.
        _ if OUT_OF_MEMORY.load(Ordering::Relaxed) => Answer::OutOfMemory,
        Ok(extracted) => Answer::Extracted(extracted),
        Err(ExtractError::Unsupported(m)) => Answer::Unsupported(m),
        Err(ExtractError::Undecodable(m)) => Answer::Undecodable(m),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &answer)?;
    out.flush()?;
    Ok(())
}

/// Lowers RLIMIT_AS to the current virtual size plus `memory_mb` (Linux: /proc/self/status).
/// Lowering a limit needs no privilege; when the size cannot be read the parent's bound stays.
#[cfg(unix)]
fn tighten_limit(memory_mb: u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let vm_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    if let Some(kb) = vm_kb {
        let limit = kb
            .saturating_mul(1024)
            .saturating_add(memory_mb.saturating_mul(1024 * 1024));
        let _ = set_limit(libc::RLIMIT_AS, limit);
    }
}

#[cfg(not(unix))]
fn tighten_limit(_memory_mb: u64) {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
type Resource = libc::c_int;

/// Sets both the soft and hard value of `resource`; async-signal-safe (no allocation).
#[cfg(unix)]
fn set_limit(resource: Resource, value: libc::rlim_t) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit only reads `limit`, a valid local.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The format's name in messages.
fn what(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Pdf => "PDF",
        other => other.as_str(),
    }
}

fn memory_error(limits: &ExtractLimits, kind: ContentKind) -> ExtractError {
    ExtractError::Undecodable(format!(
        "extracting this {} needs more than the {} MB memory limit (sources.extract_memory_mb); \
         it may be a decompression bomb",
        what(kind),
        limits.memory_mb
    ))
}

/// Extracts `bytes` in a `cairn extract` child under `limits`.
pub async fn extract(
    limits: &ExtractLimits,
    kind: ContentKind,
    bytes: Vec<u8>,
) -> Result<Extracted, ExtractError> {
    let _slot = limits.slots.acquire().await.map_err(|_| {
        ExtractError::Undecodable("the server is shutting down; retry later".into())
    })?;
    let mut child = spawn(limits, kind).map_err(|e| {
        tracing::error!(error = %e, program = %limits.program.display(), "cannot start the extractor");
        ExtractError::Undecodable("the document extractor could not be started".into())
    })?;
    let outcome = tokio::time::timeout(limits.timeout, collect(&mut child, bytes, limits)).await;
    let (stdout, stderr, status) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading the extractor failed");
            let _ = child.kill().await;
            return Err(ExtractError::Undecodable(
                "the document could not be extracted".into(),
            ));
        }
        Err(_) => {
            let _ = child.kill().await;
            return Err(ExtractError::Undecodable(format!(
                "extracting this {} took longer than the {} s limit (sources.extract_timeout_secs)",
                what(kind),
                limits.timeout.as_secs()
            )));
        }
    };
    decode(limits, kind, &stdout, &stderr, status)
}

/// Turns what the child wrote and how it ended into the extraction's result.
fn decode(
    limits: &ExtractLimits,
    kind: ContentKind,
    stdout: &[u8],
    stderr: &[u8],
    status: ExitStatus,
) -> Result<Extracted, ExtractError> {
    if status.success() {
        return match serde_json::from_slice::<Answer>(stdout) {
            Ok(Answer::Extracted(e)) => Ok(e),
            Ok(Answer::Unsupported(m)) => Err(ExtractError::Unsupported(m)),
            Ok(Answer::Undecodable(m)) => Err(ExtractError::Undecodable(m)),
            Ok(Answer::OutOfMemory) => Err(memory_error(limits, kind)),
            Err(_) => Err(ExtractError::Undecodable(
                "the document's extracted text is larger than the memory limit allows".into(),
            )),
        };
    }
    if String::from_utf8_lossy(stderr).contains(ABORT_MARKER) {
        return Err(memory_error(limits, kind));
    }
    tracing::info!(%status, "the extractor ended abnormally");
    Err(ExtractError::Undecodable(format!(
        "the {} could not be parsed",
        what(kind)
    )))
}

fn spawn(limits: &ExtractLimits, kind: ContentKind) -> std::io::Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new(&limits.program);
    cmd.arg("extract")
        .arg("--kind")
        .arg(kind.as_str())
        .arg("--memory-mb")
        .arg(limits.memory_mb.to_string())
        .env_clear()
        // No up-front 1 GiB arena: the child's virtual size is then what it really uses, so
        // the limit bounds the parser rather than the allocator's reservation.
        .env("MIMALLOC_ARENA_RESERVE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    limit_child(&mut cmd, limits.address_space());
    cmd.spawn()
}

/// Sets the child's address-space limit and turns core dumps off, between fork and exec.
#[cfg(unix)]
fn limit_child(cmd: &mut tokio::process::Command, address_space: u64) {
    // SAFETY: the hook runs in the forked child before exec and calls only setrlimit, which
    // is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            set_limit(libc::RLIMIT_CORE, 0)?;
            set_limit(libc::RLIMIT_AS, address_space)
        });
    }
}

#[cfg(not(unix))]
fn limit_child(_cmd: &mut tokio::process::Command, _address_space: u64) {}

/// Feeds the document to the child and reads its answer and its (capped) error output,
/// together so neither pipe can fill and block the other, then waits for it to exit.
async fn collect(
    child: &mut tokio::process::Child,
    bytes: Vec<u8>,
    limits: &ExtractLimits,
) -> std::io::Result<(Vec<u8>, Vec<u8>, ExitStatus)> {
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A child that died early (its limit) closes the pipe: not an error here.
            let _ = stdin.write_all(&bytes).await;
        }
    };
    let out_cap = limits.memory_mb.saturating_mul(1024 * 1024);
    let ((), out, err) = tokio::join!(
        write,
        read_capped(stdout, out_cap),
        read_capped(stderr, STDERR_CAP)
    );
    let status = child.wait().await?;
    Ok((out?, err?, status))
}

/// Reads up to `cap` bytes and drains the rest, so the child never blocks on a full pipe. What
/// is cut off leaves the answer unreadable, which `decode` reports.
async fn read_capped(
    pipe: Option<impl tokio::io::AsyncRead + Unpin>,
    cap: u64,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(mut pipe) = pipe {
        (&mut pipe).take(cap).read_to_end(&mut out).await?;
        tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await?;
    }
    Ok(out)
}
