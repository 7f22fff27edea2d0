//! SQLite through sqlx: WAL mode, foreign keys on, migrations applied at open.

mod accounts;
mod catalog;
mod gateway;
mod guard;
mod harness;
mod memory;
mod provider_keys;
mod sources;
mod tsdb;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use accounts::SqliteAccounts;
pub use catalog::SqliteCatalog;
pub use gateway::{SqliteBilling, SqliteUsage};
pub use guard::SqliteGuard;
pub use harness::SqliteHarness;
pub use memory::SqliteMemory;
pub use sources::SqliteSources;

use crate::store::{private, StoreError};

/// The one place a driver error is classified: a unique-key violation is
/// `StoreError::Conflict` (carrying the driver's text for logs), anything else `Other`.
fn store_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => StoreError::Other(e.into()),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        store_error(e)
    }
}

/// ` AND (at < cursor_at OR (at = cursor_at AND id < cursor_id))`: the rows after a
/// (timestamp, id) cursor in newest-first order.
fn push_before(
    q: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    column: &str,
    cursor: &Option<(String, String)>,
) {
    if let Some((at, id)) = cursor {
        q.push(format!(" AND ({column} < "))
            .push_bind(at.clone())
            .push(format!(" OR ({column} = "))
            .push_bind(at.clone())
            .push(" AND id < ")
            .push_bind(id.clone())
            .push("))");
    }
}

/// One row or none, with string binds, mapped by `map`.
async fn fetch_optional<T>(
    pool: &SqlitePool,
    sql: &str,
    binds: &[&str],
    map: fn(&sqlx::sqlite::SqliteRow) -> sqlx::Result<T>,
) -> anyhow::Result<Option<T>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_optional(pool).await?.map(|r| map(&r)).transpose()?)
}

/// A JSON column; unreadable text reads as null rather than failing the row.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// A JSON array of strings (tags, aliases).
fn strings(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Opens (creating if needed) the database file and brings its schema up to date. The file
/// is created owner-only before SQLite sees it (SQLite gives its WAL and shared-memory files
/// the database's mode), and any looser mode left on the three files is tightened.
pub async fn open(path: &Path) -> anyhow::Result<SqlitePool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    private::create_empty(path)?;
    for file in private::database_files(path) {
        private::tighten(&file)?;
    }
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("opening SQLite database {}", path.display()))?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .context("applying database migrations")?;
    for file in private::database_files(path) {
        private::tighten(&file)?;
    }
    Ok(pool)
}

/// Checkpoints the WAL into the main file and closes every connection.
pub async fn close(pool: &SqlitePool) {
    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
    }
    pool.close().await;
}
