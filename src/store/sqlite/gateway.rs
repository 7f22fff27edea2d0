use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::json;
use crate::store::gateway::{
    BillingStore, BudgetScope, GatewayWrite, Page, UsageFilter, UsageKey, UsageRow, UsageStore,
    UsageSums,
};
use crate::store::time::{new_id, now};

#[derive(Clone)]
pub struct SqliteUsage {
    pool: SqlitePool,
}

impl SqliteUsage {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn usage_row(r: &SqliteRow) -> sqlx::Result<UsageRow> {
    Ok(UsageRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        api_key_id: r.try_get("api_key_id")?,
        workspace_id: r.try_get("workspace_id")?,
        metadata: json(r.try_get("metadata")?),
        tier: r.try_get("tier")?,
        model: r.try_get("model")?,
        provider: r.try_get("provider")?,
        upstream_model: r.try_get("upstream_model")?,
        served_model: r.try_get("served_model")?,
        routing_method: r.try_get("routing_method")?,
        execution_source: r.try_get("execution_source")?,
        billing_mode: r.try_get("billing_mode")?,
        request_type: r.try_get("request_type")?,
        input_tokens: r.try_get("input_tokens")?,
        output_tokens: r.try_get("output_tokens")?,
        actual_cost_usd: r.try_get("actual_cost_usd")?,
        charged_usd: r.try_get("charged_usd")?,
        baseline_usd: r.try_get("baseline_usd")?,
        latency_ms: r.try_get("latency_ms")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Appends the filter's conditions (all but `before`/`since` are equalities); `account_id`
/// None: every account's rows.
fn push_filter<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    account_id: Option<&'a str>,
    f: &'a UsageFilter,
) {
    q.push(" WHERE 1 = 1");
    if let Some(a) = account_id {
        q.push(" AND account_id = ").push_bind(a);
    }
    if let Some(w) = &f.workspace_id {
        q.push(" AND workspace_id = ").push_bind(w);
    }
    if let Some(k) = &f.api_key_id {
        q.push(" AND api_key_id = ").push_bind(k);
    }
    if let Some(t) = &f.request_type {
        q.push(" AND request_type = ").push_bind(t);
    }
    if let Some(b) = &f.before {
        q.push(" AND created_at < ").push_bind(b);
    }
    if let Some(s) = &f.since {
        q.push(" AND created_at >= ").push_bind(s);
    }
}

/// The SQL expression a group key reads.
fn key_column(key: UsageKey) -> &'static str {
    match key {
        UsageKey::ApiKey => "COALESCE(api_key_id, 'session')",
        UsageKey::Workspace => "COALESCE(workspace_id, '')",
        UsageKey::Tier => "tier",
        UsageKey::RequestType => "request_type",
        UsageKey::Day => "substr(created_at, 1, 10)",
        UsageKey::ServedModel => "served_model",
        UsageKey::Provider => "provider",
    }
}

fn usage_sums(r: &SqliteRow, keys: usize) -> sqlx::Result<UsageSums> {
    let count = |name: &str| -> sqlx::Result<u64> {
        Ok(u64::try_from(r.try_get::<i64, _>(name)?).unwrap_or(0))
    };
    Ok(UsageSums {
        keys: (0..keys)
            .map(|i| r.try_get(format!("k{i}").as_str()))
            .collect::<sqlx::Result<_>>()?,
        requests: count("requests")?,
        tokens: r.try_get("tokens")?,
        input_tokens: r.try_get("input_sum")?,
        output_tokens: r.try_get("output_sum")?,
        baseline_usd: r.try_get("baseline_sum")?,
        charged_usd: r.try_get("charged_usd")?,
        actual_cost_usd: r.try_get("actual_cost_usd")?,
        latency_ms: r.try_get("latency_ms")?,
        timed: count("timed")?,
    })
}

#[async_trait]
impl UsageStore for SqliteUsage {
    async fn list(&self, account_id: &str, f: &UsageFilter) -> anyhow::Result<Vec<UsageRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM gateway_usage");
        push_filter(&mut q, Some(account_id), f);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(usage_row).collect::<sqlx::Result<_>>()?)
    }

    async fn sums(
        &self,
        account_id: &str,
        f: &UsageFilter,
        by: &[UsageKey],
    ) -> anyhow::Result<Vec<UsageSums>> {
        self.summed(Some(account_id), f, by).await
    }

    async fn installation_sums(
        &self,
        f: &UsageFilter,
        by: &[UsageKey],
    ) -> anyhow::Result<Vec<UsageSums>> {
        self.summed(None, f, by).await
    }

    async fn installation_rows(&self, limit: i64, offset: i64) -> anyhow::Result<Page<UsageRow>> {
        let rows = sqlx::query(
            "SELECT * FROM gateway_usage ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gateway_usage")
            .fetch_one(&self.pool)
            .await?;
        Ok(Page {
            items: rows.iter().map(usage_row).collect::<sqlx::Result<_>>()?,
            total,
        })
    }
}

impl SqliteUsage {
    /// Rows of one account (or all) matching `f`, summed per distinct value of `by`.
    async fn summed(
        &self,
        account_id: Option<&str>,
        f: &UsageFilter,
        by: &[UsageKey],
    ) -> anyhow::Result<Vec<UsageSums>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT ");
        for (i, key) in by.iter().enumerate() {
            q.push(format!("{} AS k{i}, ", key_column(*key)));
        }
        q.push(
            // TOTAL is SUM that is always REAL (0.0 over no rows).
            "COUNT(*) AS requests, COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens, \
             COALESCE(SUM(input_tokens), 0) AS input_sum, COALESCE(SUM(output_tokens), 0) AS output_sum, \
             TOTAL(baseline_usd) AS baseline_sum, \
             TOTAL(charged_usd) AS charged_usd, TOTAL(actual_cost_usd) AS actual_cost_usd, \
             TOTAL(latency_ms) AS latency_ms, COUNT(latency_ms) AS timed FROM gateway_usage",
        );
        push_filter(&mut q, account_id, f);
        if !by.is_empty() {
            let keys: Vec<String> = (0..by.len()).map(|i| format!("k{i}")).collect();
            q.push(format!(" GROUP BY {0} ORDER BY {0}", keys.join(", ")));
        }
        let rows = q.build().fetch_all(&self.pool).await?;
        let sums = rows
            .iter()
            .map(|r| usage_sums(r, by.len()))
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(sums.into_iter().filter(|s| s.requests > 0).collect())
    }
}

pub struct SqliteBilling {
    pool: SqlitePool,
}

impl SqliteBilling {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

/// Rows per multi-row INSERT (SQLite allows 32,766 bound values; a usage row binds 21).
const ROWS_PER_INSERT: usize = 500;

async fn insert_usage(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    rows: &[&UsageRow],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO gateway_usage (id, account_id, api_key_id, workspace_id, metadata, tier, model, provider, \
             upstream_model, served_model, routing_method, execution_source, billing_mode, request_type, input_tokens, \
             output_tokens, actual_cost_usd, charged_usd, baseline_usd, latency_ms, created_at) ",
        );
        q.push_values(chunk, |mut b, u| {
            b.push_bind(&u.id)
                .push_bind(&u.account_id)
                .push_bind(&u.api_key_id)
                .push_bind(&u.workspace_id)
                .push_bind(u.metadata.to_string())
                .push_bind(&u.tier)
                .push_bind(&u.model)
                .push_bind(&u.provider)
                .push_bind(&u.upstream_model)
                .push_bind(&u.served_model)
                .push_bind(&u.routing_method)
                .push_bind(&u.execution_source)
                .push_bind(&u.billing_mode)
                .push_bind(&u.request_type)
                .push_bind(u.input_tokens)
                .push_bind(u.output_tokens)
                .push_bind(u.actual_cost_usd)
                .push_bind(u.charged_usd)
                .push_bind(u.baseline_usd)
                .push_bind(u.latency_ms)
                .push_bind(&u.created_at);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// A batch of gateway writes grouped for SQL: usage rows and charges as they come, one
/// balance debit per account (summed, with the latest time) and one sum per budget month.
#[derive(Default)]
struct Grouped<'w> {
    usage: Vec<&'w UsageRow>,
    /// (model, at) of failed attempts.
    failures: Vec<(&'w str, &'w str)>,
    charges: Vec<(&'w str, f64, &'w str, &'w str)>,
    debits: BTreeMap<&'w str, (f64, &'w str)>,
    spends: BTreeMap<(&'w str, &'w str, &'w str), f64>,
}

impl<'w> Grouped<'w> {
    fn of(writes: &'w [GatewayWrite]) -> Self {
        let mut g = Self::default();
        for w in writes {
            match w {
                GatewayWrite::Usage(u) => g.usage.push(u.as_ref()),
                GatewayWrite::Charge {
                    account_id,
                    amount_usd,
                    usage_id,
                    at,
                } => {
                    let (account, at) = (account_id.as_str(), at.as_str());
                    g.charges
                        .push((account, *amount_usd, usage_id.as_str(), at));
                    let e = g.debits.entry(account).or_insert((0.0, at));
                    e.0 += amount_usd;
                    e.1 = at;
                }
                GatewayWrite::Spend {
                    scope,
                    scope_id,
                    month,
                    amount_usd,
                } => {
                    *g.spends
                        .entry((scope.as_str(), scope_id.as_str(), month.as_str()))
                        .or_default() += amount_usd;
                }
                GatewayWrite::Failure { model, at } => g.failures.push((model, at)),
            }
        }
        g
    }
}

async fn insert_charges(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    charges: &[(&str, f64, &str, &str)],
) -> sqlx::Result<()> {
    for chunk in charges.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO ledger (id, account_id, kind, amount_usd, usage_id, note, actor, created_at) ",
        );
        q.push_values(chunk, |mut b, (account, amount, usage_id, at)| {
            b.push_bind(new_id())
                .push_bind(*account)
                .push_bind("charge")
                .push_bind(*amount)
                .push_bind(*usage_id)
                .push_bind(None::<String>)
                .push_bind("gateway")
                .push_bind(*at);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn debit_and_spend(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    g: &Grouped<'_>,
) -> sqlx::Result<()> {
    for (account, (amount, at)) in &g.debits {
        sqlx::query(
            "UPDATE balances SET balance_usd = balance_usd - ?, updated_at = ? WHERE account_id = ?",
        )
        .bind(amount)
        .bind(at)
        .bind(account)
        .execute(&mut **tx)
        .await?;
    }
    for ((scope, scope_id, month), amount) in &g.spends {
        sqlx::query(
            "INSERT INTO budget_spend (scope, scope_id, month, spent_usd) VALUES (?, ?, ?, ?) \
             ON CONFLICT(scope, scope_id, month) DO UPDATE SET spent_usd = spent_usd + excluded.spent_usd",
        )
        .bind(scope)
        .bind(scope_id)
        .bind(month)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl BillingStore for SqliteBilling {
    /// One transaction however many writes: usage rows and ledger charges in multi-row
    /// INSERTs, one balance UPDATE per account and one upsert per budget month.
    async fn apply(&self, writes: &[GatewayWrite]) -> anyhow::Result<()> {
        let g = Grouped::of(writes);
        let mut tx = self.pool.begin().await?;
        insert_usage(&mut tx, &g.usage).await?;
        super::tsdb::add_points(&mut tx, &g.usage, &g.failures).await?;
        insert_charges(&mut tx, &g.charges).await?;
        debit_and_spend(&mut tx, &g).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn credit(
        &self,
        account_id: &str,
        amount: f64,
        actor: &str,
        note: Option<&str>,
    ) -> anyhow::Result<f64> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO balances (account_id, balance_usd, reserved_usd, updated_at) VALUES (?, ?, 0, ?) \
             ON CONFLICT(account_id) DO UPDATE SET balance_usd = balance_usd + excluded.balance_usd, \
             updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(amount)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger (id, account_id, kind, amount_usd, usage_id, note, actor, created_at) \
             VALUES (?, ?, 'credit', ?, NULL, ?, ?, ?)",
        )
        .bind(new_id())
        .bind(account_id)
        .bind(amount)
        .bind(note)
        .bind(actor)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let balance: f64 =
            sqlx::query_scalar("SELECT balance_usd FROM balances WHERE account_id = ?")
                .bind(account_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn balance(&self, account_id: &str) -> anyhow::Result<f64> {
        let row: Option<f64> =
            sqlx::query_scalar("SELECT balance_usd FROM balances WHERE account_id = ?")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.unwrap_or(0.0))
    }

    async fn spent(&self, scope: BudgetScope, scope_id: &str, month: &str) -> anyhow::Result<f64> {
        let row: Option<f64> = sqlx::query_scalar(
            "SELECT spent_usd FROM budget_spend WHERE scope = ? AND scope_id = ? AND month = ?",
        )
        .bind(scope.as_str())
        .bind(scope_id)
        .bind(month)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.unwrap_or(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite;

    fn row(key: Option<&str>, tier: &str, created_at: &str, charged: f64) -> UsageRow {
        UsageRow {
            api_key_id: key.map(str::to_string),
            workspace_id: Some("w".into()),
            input_tokens: 10,
            output_tokens: 5,
            actual_cost_usd: charged / 2.0,
            latency_ms: (tier != "max").then_some(100.0),
            created_at: created_at.into(),
            ..UsageRow::sample("a", tier, charged)
        }
    }

    #[tokio::test]
    async fn sums_group_in_sql_like_the_rows_would() {
        let dir = tempfile::tempdir().unwrap();
        let pool = sqlite::open(&dir.path().join("cairn.db")).await.unwrap();
        let rows = [
            row(Some("k1"), "auto", "2026-11-20T10:00:00.000Z", 0.5),
            row(Some("k1"), "max", "2026-11-21T10:00:00.000Z", 1.0),
            row(None, "auto", "2026-11-21T11:00:00.000Z", 0.25),
        ];
        let writes: Vec<GatewayWrite> = rows
            .iter()
            .map(|r| GatewayWrite::Usage(Box::new(r.clone())))
            .collect();
        SqliteBilling::new(pool.clone())
            .apply(&writes)
            .await
            .unwrap();
        let usage = SqliteUsage::new(pool);
        let all = UsageFilter::default();

        let by_key = usage.sums("a", &all, &[UsageKey::ApiKey]).await.unwrap();
        let keys: Vec<(&str, u64, f64)> = by_key
            .iter()
            .map(|g| (g.keys[0].as_str(), g.requests, g.charged_usd))
            .collect();
        assert_eq!(keys, [("k1", 2, 1.5), ("session", 1, 0.25)]);

        let total = usage.sums("a", &all, &[]).await.unwrap();
        assert_eq!(total.len(), 1);
        assert_eq!((total[0].requests, total[0].tokens), (3, 45));
        assert_eq!((total[0].latency_ms, total[0].timed), (200.0, 2));

        let since = UsageFilter {
            since: Some("2026-11-21T00:00:00.000Z".into()),
            ..UsageFilter::default()
        };
        let by_day = usage
            .sums("a", &since, &[UsageKey::Day, UsageKey::Tier])
            .await
            .unwrap();
        let days: Vec<Vec<String>> = by_day.into_iter().map(|g| g.keys).collect();
        assert_eq!(days, [["2026-11-21", "auto"], ["2026-11-21", "max"]]);
        assert!(usage.sums("b", &all, &[]).await.unwrap().is_empty());
    }
}
