//! The command line: `cairn serve` and the operator commands that work directly on the data
//! directory (no server needed).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::accounts::{keys, users};
use crate::app::{App, Stores};
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: knowledge base, agent memory and model gateway"
)]
pub struct Cli {
    /// A TOML file layered over config/default.toml (env vars CAIRN__SECTION__KEY still win).
    #[arg(long, global = true, env = "CAIRN_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve,
    /// Manage runtime API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Ingest files, directories (recursively) and URLs into a workspace.
    Ingest {
        /// Files, directories or http(s) URLs.
        #[arg(required = true)]
        paths: Vec<String>,
        #[arg(long)]
        workspace: Option<String>,
        /// The account of this user's email; default: the first admin's.
        #[arg(long)]
        user: Option<String>,
        /// Tag every source (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only files whose name matches (repeatable), e.g. --include '*.md'.
        #[arg(long)]
        include: Vec<String>,
    },
    /// Search a workspace's sources.
    Search {
        query: String,
        #[arg(long)]
        workspace: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// hybrid, bm25 or vector.
        #[arg(long, default_value = "hybrid")]
        mode: String,
    },
    /// Re-embed every document with the configured embedding model (after changing it).
    Reindex,
    /// MCP over stdio for desktop agents: a thin client of the running server at `--url`.
    Mcp {
        /// The server's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long, env = "CAIRN_URL")]
        url: String,
        /// A runtime API key (tok_...); its workspace and scopes apply.
        #[arg(long, env = "CAIRN_API_KEY")]
        key: String,
    },
    /// Internal: extract the document on stdin, answer JSON on stdout. The server runs it as
    /// a child process under memory and time limits (`sources::isolate`).
    #[command(hide = true)]
    Extract {
        /// text, markdown, html or pdf.
        #[arg(long)]
        kind: String,
        /// Lower the address-space limit to the current size plus this many MiB first.
        #[arg(long)]
        memory_mb: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (shown once).
    Create(CreateKeyArgs),
}

#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    #[arg(long)]
    pub name: String,
    /// Bind the key to this workspace (its workspace_id).
    #[arg(long)]
    pub workspace: Option<String>,
    /// The account of this user's email; default: the first admin's.
    #[arg(long)]
    pub user: Option<String>,
    /// Requests per minute for this key.
    #[arg(long)]
    pub rate_limit: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an admin user with an account of its own.
    CreateAdmin(CreateAdminArgs),
}

#[derive(Debug, Args)]
pub struct CreateAdminArgs {
    #[arg(long)]
    pub email: String,
    /// The password; when absent it is read from CAIRN_ADMIN_PASSWORD or from standard input.
    #[arg(long, env = "CAIRN_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Openapi => {
            print!("{}", crate::http::openapi::spec_json());
            return Ok(());
        }
        // No config and no logs: stdout carries the protocol.
        Command::Mcp { url, key } => return crate::http::mcp::stdio::run(url, key).await,
        // No config and no logs: stdout carries the answer.
        Command::Extract { kind, memory_mb } => {
            return crate::sources::isolate::run_child(kind, *memory_mb)
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init_logs(&config.log);
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Keys(KeysCommand::Create(args)) => create_key(config, args).await,
        Command::Users(UsersCommand::CreateAdmin(args)) => create_admin(config, args).await,
        Command::Openapi | Command::Extract { .. } | Command::Mcp { .. } => Ok(()),
        Command::Ingest {
            paths,
            workspace,
            user,
            tags,
            include,
        } => {
            crate::cli_ingest::ingest(
                config,
                crate::cli_ingest::IngestArgs {
                    paths,
                    workspace,
                    user,
                    tags,
                    include,
                },
            )
            .await
        }
        Command::Search {
            query,
            workspace,
            user,
            limit,
            mode,
        } => {
            let mode = match mode.as_str() {
                "hybrid" => crate::retrieval::SearchMode::Hybrid,
                "bm25" => crate::retrieval::SearchMode::Bm25,
                "vector" => crate::retrieval::SearchMode::Vector,
                other => anyhow::bail!("--mode: expected hybrid, bm25 or vector, not {other}"),
            };
            crate::cli_ingest::search(config, query, workspace, user, limit, mode).await
        }
        Command::Reindex => crate::cli_ingest::reindex(config).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let addr = app.local_addr()?;
    // Printed on stdout so scripts and tests can find a port chosen with `:0`.
    println!("cairn listening on http://{addr}");
    if let Some(token) = app.setup_token() {
        println!(
            "cairn setup token: {token} (no admin yet: POST /v1/setup with it, or run `cairn users create-admin`)"
        );
    }
    std::io::stdout().flush().ok();
    tracing::info!(%addr, version = crate::VERSION, "serving");
    app.run_until_stopped(crate::app::shutdown_signal()).await
}

async fn create_key(config: Config, args: CreateKeyArgs) -> anyhow::Result<()> {
    let stores = Stores::open(&config).await?;
    let owner = crate::cli_ingest::operator(&stores, args.user.as_deref()).await?;
    let request = keys::CreateKey {
        name: Some(args.name),
        workspace_id: args.workspace,
        rate_limit_per_minute: args.rate_limit,
        ..Default::default()
    };
    // The CLI runs with the data directory's rights: it grants what the owner's role holds.
    let creator = owner
        .role
        .parse()
        .unwrap_or(crate::accounts::roles::Role::Member);
    let max_rate_limit = config.rate_limit.max_per_minute;
    let created = keys::create(
        stores.accounts.as_ref(),
        &owner.account_id,
        creator,
        request,
        max_rate_limit,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    stores.close().await;
    println!("{}", created.key);
    eprintln!(
        "created key {} ({}) for {}{}; the secret above is shown once",
        created.id,
        created.prefix,
        owner.email,
        created
            .workspace_id
            .map(|w| format!(", workspace {w}"))
            .unwrap_or_default()
    );
    Ok(())
}

async fn create_admin(config: Config, args: CreateAdminArgs) -> anyhow::Result<()> {
    let password = match args.password {
        Some(p) => p,
        None => {
            eprint!("password: ");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let stores = Stores::open(&config).await?;
    let user = users::create_user(
        stores.accounts.as_ref(),
        args.email,
        password,
        crate::accounts::roles::Role::Admin,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    stores.close().await;
    println!(
        "created admin {} (user {}, account {})",
        user.email, user.id, user.account_id
    );
    Ok(())
}
