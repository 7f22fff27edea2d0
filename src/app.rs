//! Builds the application from a config: opens the stores, binds the listener, assembles the
//! router. `App::build` is used by `cairn serve` and by anything that embeds the service.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::serve::ListenerExt;
use cairn_ingest::{Chunker, Embedder};
use secrecy::ExposeSecret;
use sqlx::SqlitePool;
use tokio::net::TcpListener;

use crate::accounts::keys::UsageTouches;
use crate::accounts::login_limit::LoginLimiter;
use crate::accounts::rate_limit::RateLimiter;
use crate::accounts::sessions::{load_or_create_secret, SessionKeys};
use crate::accounts::setup::SetupToken;
use crate::config::Config;
use crate::context::budget::TokenCounter;
use crate::context::ContextPacks;
use crate::gateway::cache::ResponseCache;
use crate::gateway::catalog::{Clients, LocalDefaults};
use crate::gateway::ledger::Ledger;
use crate::gateway::sealed::SecretBox;
use crate::gateway::vault;
use crate::gateway::{Gateway, GatewayParts};
use crate::guard::{Guard, GuardSettings};
use crate::harness::{Harness, HarnessSettings};
use crate::memory::Memory;
use crate::outbound::{Outbound, Reach, DEFAULT_MAX_BODY};
use crate::retrieval::Retriever;
use crate::sources::fetch::{FetchSettings, UrlFetcher};
use crate::sources::isolate::ExtractLimits;
use crate::sources::{Sources, SourcesSettings};
use crate::state::AppState;
use crate::store::gateway::{BillingStore, CatalogStore, UsageStore};
use crate::store::guard::GuardStore;
use crate::store::harness::HarnessStore;
use crate::store::memory::MemoryStore;
use crate::store::sources::SourceStore;
use crate::store::sqlite::{
    self, SqliteAccounts, SqliteBilling, SqliteCatalog, SqliteGuard, SqliteHarness, SqliteMemory,
    SqliteSources, SqliteUsage,
};
use crate::store::text_index::TextIndex;
use crate::store::vectors::VectorStore;
use crate::store::AccountStore;

/// The SQL stores behind one data directory, shared by the server and the CLI commands.
pub struct Stores {
    pub pool: SqlitePool,
    pub accounts: Arc<dyn AccountStore>,
    pub sources: Arc<dyn SourceStore>,
    pub memory: Arc<dyn MemoryStore>,
    pub guard: Arc<dyn GuardStore>,
    pub harness: Arc<dyn HarnessStore>,
    pub usage: Arc<dyn UsageStore>,
    pub billing: Arc<dyn BillingStore>,
    pub catalog: Arc<dyn CatalogStore>,
}

impl Stores {
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.storage.data_dir).with_context(|| {
            format!(
                "creating data directory {}",
                config.storage.data_dir.display()
            )
        })?;
        // Keys and sealed-secret keys live here: owner-only, however they got there.
        let secrets = config.secrets_dir();
        crate::store::private::create_dir(&secrets)?;
        crate::store::private::tighten_tree(&secrets)?;
        let pool = sqlite::open(&config.database_path()).await?;
        Ok(Self {
            accounts: Arc::new(SqliteAccounts::new(pool.clone())),
            sources: Arc::new(SqliteSources::new(pool.clone())),
            memory: Arc::new(SqliteMemory::new(pool.clone())),
            guard: Arc::new(SqliteGuard::new(pool.clone())),
            harness: Arc::new(SqliteHarness::new(pool.clone())),
            usage: Arc::new(SqliteUsage::new(pool.clone())),
            billing: Arc::new(SqliteBilling::new(pool.clone())),
            catalog: Arc::new(SqliteCatalog::new(pool.clone())),
            pool,
        })
    }

    /// Flushes everything to disk; called once the server has stopped taking requests.
    pub async fn close(&self) {
        sqlite::close(&self.pool).await;
    }
}

/// Everything that answers queries over one data directory: the SQL stores, the vector and
/// text indexes, the embedding model and the services built on them.
pub struct Engine {
    pub stores: Stores,
    pub sources: Arc<Sources>,
    pub memory: Arc<Memory>,
    pub context: Arc<ContextPacks>,
    pub guard: Arc<Guard>,
    pub harness: Arc<Harness>,
    pub gateway: Arc<Gateway>,
    pub text: Arc<TextIndex>,
}

impl Engine {
    /// Opens the stores and indexes of `config.storage.data_dir` and builds the services on
    /// them; sources left mid-ingest by a previous process are recovered before it returns.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let stores = Stores::open(config).await?;
        let embedder = open_embedder(config, &stores).await?;
        let (retriever, text) = open_retriever(config, embedder).await?;
        let chunker = Arc::new(crate::embed::chunker(config)?);
        let events = Arc::new(crate::events::EventHub::new(EVENTS_KEPT));
        let guard = build_guard(config, &stores, events.clone());
        let memory =
            Arc::new(Memory::open(stores.memory.clone(), retriever.clone(), guard.clone()).await?);
        let context = Arc::new(ContextPacks {
            memory: memory.clone(),
            chunks: stores.sources.clone(),
            settings: config.context.clone(),
            counter: TokenCounter::new(&config.context.tokenizer)?,
            hooks: std::sync::OnceLock::new(),
        });
        let harness = build_harness(config, &stores, memory.clone())?;
        let _ = context.hooks.set(harness.clone());
        let gateway = open_gateway(config, &stores, events).await?;
        let sources = build_sources(config, &stores, retriever, chunker)?;
        sources.recover().await?;
        Ok(Self {
            stores,
            sources,
            memory,
            context,
            guard,
            harness,
            gateway,
            text,
        })
    }

    pub async fn close(&self) {
        // Usage rows and charges still queued go to disk before the database closes.
        if tokio::time::timeout(Duration::from_secs(10), self.gateway.ledger.flush())
            .await
            .is_err()
        {
            tracing::error!("gateway usage writes did not finish within 10 s of shutdown");
        }
        let text = self.text.clone();
        match tokio::task::spawn_blocking(move || text.close()).await {
            Ok(Ok(())) => {}
            other => tracing::warn!(?other, "closing the text index failed"),
        }
        self.stores.close().await;
    }
}

/// Builds the configured embedder and checks it against the one the stored vectors were made
/// by (recorded on first open): a different model or dimension would make every search wrong.
async fn open_embedder(config: &Config, stores: &Stores) -> anyhow::Result<Arc<dyn Embedder>> {
    let embedder = crate::embed::build(config).await?;
    match stores.sources.embedding_state().await? {
        Some((model, dim))
            if model != embedder.model_id() || dim != embedder.dimension() as i64 =>
        {
            anyhow::bail!(
                "the stored vectors were made by {model} ({dim} dimensions) but the configured model is {} ({} \
                 dimensions); run `cairn reindex` to re-embed everything, or configure {model} again",
                embedder.model_id(),
                embedder.dimension()
            );
        }
        Some(_) => {}
        None => {
            let dim = i64::try_from(embedder.dimension())?;
            stores
                .sources
                .set_embedding_state(embedder.model_id(), dim)
                .await?;
        }
    }
    Ok(embedder)
}

/// Opens the text (tantivy) and vector (Lance) indexes and the retriever over both.
async fn open_retriever(
    config: &Config,
    embedder: Arc<dyn Embedder>,
) -> anyhow::Result<(Arc<Retriever>, Arc<TextIndex>)> {
    let text_dir = config.tantivy_dir();
    let text = Arc::new(
        tokio::task::spawn_blocking(move || TextIndex::open(&text_dir))
            .await?
            .context(
                "opening the tantivy index (is another cairn process using this data directory?)",
            )?,
    );
    let vectors = Arc::new(
        VectorStore::open(
            &config.lance_dir(),
            embedder.dimension(),
            config.search.vector_index_threshold,
        )
        .await?,
    );
    let resident = config.search.resident_max_vectors;
    vectors
        .keep_resident(crate::memory::NOTE_ITEM, resident)
        .await?;
    vectors
        .keep_resident(crate::sources::CHUNK_ITEM, resident)
        .await?;
    let retriever = Arc::new(Retriever {
        vectors,
        text: text.clone(),
        embedder,
        fusion: config.fusion(),
        focus: config.focus(),
    });
    Ok((retriever, text))
}

fn build_guard(
    config: &Config,
    stores: &Stores,
    events: Arc<crate::events::EventHub>,
) -> Arc<Guard> {
    let g = &config.guard;
    Arc::new(Guard {
        store: stores.guard.clone(),
        settings: GuardSettings {
            default_effect: g.default_effect,
            approval_ttl_secs: g.approval_ttl_secs,
            secret_notes: g.secret_notes,
            review_below_confidence: g.review_below_confidence,
        },
        events,
    })
}

/// The harness; reflections use `reflection.model` through the gateway.
fn build_harness(
    config: &Config,
    stores: &Stores,
    memory: Arc<Memory>,
) -> anyhow::Result<Arc<Harness>> {
    let model = &config.reflection.model;
    Ok(Arc::new(Harness::new(
        stores.harness.clone(),
        stores.guard.clone(),
        memory,
        HarnessSettings {
            remember_status: config.harness.remember_status,
            reflection_model: (!model.is_empty()).then(|| model.clone()),
        },
    )))
}

/// The outbound clients of the gateway (`crate::outbound`): the operator's reach for the
/// config file's providers, the operator's networks or public addresses for local endpoints.
fn gateway_clients(g: &crate::config::GatewayConfig) -> anyhow::Result<Clients> {
    let networks =
        crate::outbound::parse_networks(&g.local_endpoint_networks).map_err(anyhow::Error::msg)?;
    // Each request sets its provider's timeout; this bounds anything that does not.
    let client = |reach| Outbound::new(reach, Duration::from_secs(600), DEFAULT_MAX_BODY);
    Ok(Clients {
        operator: client(Reach::Operator)?,
        networks: client(Reach::Networks(networks))?,
        public: client(Reach::Public {
            allow_hosts: vec![],
        })?,
        members_reach_networks: g.local_endpoints_for_members,
    })
}

/// Events kept for `/admin/v1/events` clients that reconnect with `Last-Event-ID`.
const EVENTS_KEPT: usize = 1000;

/// Seeds the catalog with the config file's providers and models, then opens the gateway.
/// `events`: the one live stream, shared with the guard and memory.
async fn open_gateway(
    config: &Config,
    stores: &Stores,
    events: Arc<crate::events::EventHub>,
) -> anyhow::Result<Arc<Gateway>> {
    let sealed = Arc::new(SecretBox::open(&config.secrets_dir(), config.vault.mode)?);
    let password = std::env::var("CAIRN_VAULT_PASSWORD").ok();
    vault::prepare(stores.catalog.as_ref(), &sealed, password.as_deref()).await?;
    crate::gateway::catalog::seed(stores.catalog.as_ref(), config).await?;
    let g = &config.gateway;
    let gateway = Gateway::open(GatewayParts {
        catalog: stores.catalog.clone(),
        sealed,
        local: LocalDefaults {
            price_share: g.local_price_share,
            weight: g.local_weight,
            context_window: g.local_context_window,
            timeout: Duration::from_secs(g.local_timeout_secs),
            discovery_timeout: Duration::from_secs(g.local_discovery_timeout_secs),
            max_models: g.local_endpoint_max_models,
        },
        clients: gateway_clients(g)?,
        usage: stores.usage.clone(),
        ledger: Arc::new(Ledger::new(stores.billing.clone())),
        enforce_balance: config.billing.enforce,
        cache: ResponseCache::new(Duration::from_secs(g.cache_ttl_secs), g.cache_max_entries),
        default_max_tokens: g.default_max_tokens,
        embedding_per_1k: config.billing.embedding_per_1k,
        byok_fee_rate: config.billing.byok_fee_rate,
        payment_url: Some(config.billing.payment_url.clone()).filter(|u| !u.is_empty()),
        filed: Arc::new(config.clone()),
        events,
    })
    .await?;
    let gateway = Arc::new(gateway);
    vault::spawn_auto_lock(&gateway, Duration::from_secs(config.vault.auto_lock_secs));
    crate::gateway::admin::tsdb::spawn_pruning(&gateway);
    Ok(gateway)
}

fn build_sources(
    config: &Config,
    stores: &Stores,
    retriever: Arc<Retriever>,
    chunker: Arc<Chunker>,
) -> anyhow::Result<Arc<Sources>> {
    let s = &config.sources;
    let extract = ExtractLimits::new(
        s.extract_memory_mb,
        Duration::from_secs(s.extract_timeout_secs),
    )?;
    let fetcher = Arc::new(UrlFetcher::new(FetchSettings {
        allow_hosts: s.url_allow_hosts.clone(),
        max_bytes: s.url_max_bytes,
        timeout: Duration::from_secs(s.url_timeout_secs),
        max_redirects: s.url_max_redirects,
    })?);
    Ok(Arc::new(Sources {
        store: stores.sources.clone(),
        retriever,
        chunker,
        fetcher,
        settings: SourcesSettings {
            embed_title: s.embed_title,
            title_tokens: config
                .embedding
                .max_length
                .saturating_sub(s.chunk_tokens + 4),
            max_records: s.max_records,
            extract,
            queue_max_jobs: s.queue_max_jobs,
            queue_max_bytes: s.queue_max_bytes,
        },
        wake: Arc::new(tokio::sync::Notify::new()),
    }))
}

pub struct App {
    listener: TcpListener,
    state: AppState,
    engine: Engine,
    setup_token: Option<String>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let engine = Engine::open(&config).await?;
        let stores = &engine.stores;
        let secret = load_or_create_secret(
            config.auth.session_secret.expose_secret(),
            &config.secrets_dir(),
        )?;
        let metrics = crate::telemetry::init_metrics()?;
        let auth = &config.auth;
        let setup = Arc::new(SetupToken::default());
        let setup_token = setup.issue_if_needed(stores.accounts.as_ref()).await?;
        let state = AppState {
            setup,
            accounts: stores.accounts.clone(),
            sources: engine.sources.clone(),
            memory: engine.memory.clone(),
            context: engine.context.clone(),
            guard: engine.guard.clone(),
            harness: engine.harness.clone(),
            gateway: engine.gateway.clone(),
            sessions: Arc::new(SessionKeys::new(&secret, auth.session_ttl_secs)),
            rate_limiter: Arc::new(RateLimiter::new()),
            login_limiter: Arc::new(LoginLimiter::new(
                auth.login_max_attempts,
                Duration::from_secs(auth.login_window_secs),
                Duration::from_secs(auth.login_lockout_secs),
            )),
            key_touches: Arc::new(UsageTouches::default()),
            metrics,
            started_at: Instant::now(),
            config: Arc::new(config),
        };
        let bind = &state.config.server.bind;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        Ok(Self {
            listener,
            state,
            engine,
            setup_token,
        })
    }

    /// The one-time token for the first admin, when this installation has none; for the
    /// operator's eyes (stdout), never the log.
    pub fn setup_token(&self) -> Option<&str> {
        self.setup_token.as_deref()
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish (up to
    /// `server.shutdown_grace_secs`) and flushes the stores.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.server.shutdown_grace_secs);
        let router = crate::http::router(self.state.clone());
        let worker = crate::sources::worker::spawn(self.engine.sources.clone());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested; finishing in-flight requests");
            let _ = stop_tx.send(true);
        });
        let mut graceful_rx = stop_rx.clone();
        // No Nagle delay: an answer written in pieces (an SSE event, then the next) would
        // otherwise wait for the client's delayed ACK, about 40 ms each.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = graceful_rx.wait_for(|stop| *stop).await;
        });
        let mut deadline_rx = stop_rx;
        let deadline = async move {
            if deadline_rx.wait_for(|stop| *stop).await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = server => served.context("serving HTTP")?,
            () = deadline => tracing::warn!("shutdown grace period over; closing open connections"),
        }
        worker.abort();
        self.engine.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
