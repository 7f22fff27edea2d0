//! Money on the request path, in memory: balances and monthly budgets with the amounts held by
//! requests in flight, so a request costs no SQL round trip before or after its upstream call.
//!
//! The stored values are loaded once per account and budget; every change after that is a
//! delta (a charge, a spend, a credit), written behind the request in batches by one task
//! (`Writer`), so the stored value plus the writes still queued always equals the value here.
//! Holds live only in memory: a process that dies releases them with it. Reads that must see
//! the latest rows (`GET /v1/usage`, the stats) call `flush` first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::gateway::{BillingStore, BudgetScope, GatewayWrite, UsageRow};

/// A stored amount (balance, or a budget's spend) and what requests in flight hold of it.
#[derive(Debug, Clone, Copy, Default)]
struct Funds {
    amount: f64,
    held: f64,
    /// Holds in flight: at zero `held` is reset to exactly 0, so rounding never accumulates.
    holds: u32,
}

impl Funds {
    fn hold(&mut self, amount: f64) {
        self.held += amount;
        self.holds += 1;
    }

    fn release(&mut self, amount: f64) {
        self.holds = self.holds.saturating_sub(1);
        self.held = if self.holds == 0 {
            0.0
        } else {
            (self.held - amount).max(0.0)
        };
    }
}

type BudgetKey = (BudgetScope, String, String);

#[derive(Default)]
struct Books {
    balances: HashMap<String, Funds>,
    budgets: HashMap<BudgetKey, Funds>,
}

impl Books {
    /// What each of the hold's funds has left, and the refusal when that is too little: the
    /// one rule behind both `headroom` and `reserve`.
    fn left(&self, hold: &Hold) -> Vec<(f64, Refusal)> {
        let mut out = Vec::with_capacity(hold.budgets.len() + 1);
        if hold.balance {
            let f = self
                .balances
                .get(&hold.account_id)
                .copied()
                .unwrap_or_default();
            let refusal = Refusal::Balance {
                balance: f.amount,
                held: f.held,
            };
            out.push((f.amount - f.held, refusal));
        }
        for g in &hold.budgets {
            let f = self.budgets.get(&key(g)).copied().unwrap_or_default();
            let refusal = Refusal::Budget {
                scope: g.scope,
                limit: g.limit_usd,
            };
            out.push((g.limit_usd - f.amount - f.held, refusal));
        }
        out
    }
}

/// A budget a request counts against: scope, id, month and the limit.
#[derive(Debug, Clone)]
pub struct Budget {
    pub scope: BudgetScope,
    pub scope_id: String,
    pub month: String,
    pub limit_usd: f64,
}

/// What one request holds until it settles.
#[derive(Debug, Clone)]
pub struct Hold {
    pub account_id: String,
    /// The balance is held too (`billing.enforce`).
    pub balance: bool,
    pub budgets: Vec<Budget>,
    pub amount_usd: f64,
}

/// Why a hold was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Balance { balance: f64, held: f64 },
    Budget { scope: BudgetScope, limit: f64 },
}

enum Msg {
    Write(GatewayWrite),
    Flush(oneshot::Sender<()>),
}

pub struct Ledger {
    store: Arc<dyn BillingStore>,
    books: Mutex<Books>,
    /// Serialises loads with credits, so a credit is never counted twice (once in the stored
    /// value a load reads, once added to memory).
    loading: tokio::sync::Mutex<()>,
    writes: mpsc::UnboundedSender<Msg>,
}

const MAX_BATCH: usize = 512;
const READ_FLUSH_WAIT: Duration = Duration::from_secs(5);

impl Ledger {
    /// Starts the writer task; call from within a Tokio runtime.
    pub fn new(store: Arc<dyn BillingStore>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_behind(store.clone(), rx));
        Self {
            store,
            books: Mutex::new(Books::default()),
            loading: tokio::sync::Mutex::new(()),
            writes: tx,
        }
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn load(&self, hold: &Hold) -> anyhow::Result<()> {
        let missing = {
            let b = self.books();
            (hold.balance && !b.balances.contains_key(&hold.account_id))
                || hold
                    .budgets
                    .iter()
                    .any(|g| !b.budgets.contains_key(&key(g)))
        };
        if !missing {
            return Ok(());
        }
        let _guard = self.loading.lock().await;
        if hold.balance && !self.books().balances.contains_key(&hold.account_id) {
            let amount = self.store.balance(&hold.account_id).await?;
            self.books()
                .balances
                .entry(hold.account_id.clone())
                .or_insert(Funds {
                    amount,
                    ..Funds::default()
                });
        }
        for g in &hold.budgets {
            if !self.books().budgets.contains_key(&key(g)) {
                let amount = self.store.spent(g.scope, &g.scope_id, &g.month).await?;
                self.books().budgets.entry(key(g)).or_insert(Funds {
                    amount,
                    ..Funds::default()
                });
            }
        }
        Ok(())
    }

    /// What the balance and the budgets of `hold` have left for one more request.
    pub async fn headroom(&self, hold: &Hold) -> anyhow::Result<f64> {
        self.load(hold).await?;
        let b = self.books();
        Ok(b.left(hold)
            .iter()
            .map(|(left, _)| *left)
            .fold(f64::INFINITY, f64::min))
    }

    /// Holds `hold.amount_usd` against the balance and every budget, all or none.
    pub async fn reserve(&self, hold: &Hold) -> anyhow::Result<Result<(), Refusal>> {
        self.load(hold).await?;
        let mut b = self.books();
        let amount = hold.amount_usd;
        if let Some((_, refusal)) = b.left(hold).into_iter().find(|(left, _)| *left < amount) {
            return Ok(Err(refusal));
        }
        if hold.balance {
            b.balances
                .entry(hold.account_id.clone())
                .or_default()
                .hold(amount);
        }
        for g in &hold.budgets {
            b.budgets.entry(key(g)).or_default().hold(amount);
        }
        Ok(Ok(()))
    }

    /// Ends a hold: charges `actual_usd` (nothing when the request failed) and queues the
    /// usage row, the ledger charge and the budget spend.
    pub fn settle(&self, hold: &Hold, actual_usd: f64, row: Option<UsageRow>) {
        {
            let mut b = self.books();
            if hold.balance {
                if let Some(f) = b.balances.get_mut(&hold.account_id) {
                    f.release(hold.amount_usd);
                    f.amount -= actual_usd;
                }
            }
            for g in &hold.budgets {
                if let Some(f) = b.budgets.get_mut(&key(g)) {
                    f.release(hold.amount_usd);
                    f.amount += actual_usd;
                }
            }
        }
        let usage_id = row.as_ref().map(|r| r.id.clone()).unwrap_or_default();
        if let Some(r) = row {
            self.queue(GatewayWrite::Usage(Box::new(r)));
        }
        if actual_usd > 0.0 {
            if hold.balance {
                self.queue(GatewayWrite::Charge {
                    account_id: hold.account_id.clone(),
                    amount_usd: actual_usd,
                    usage_id,
                    at: crate::store::time::now(),
                });
            }
            for g in &hold.budgets {
                self.queue(GatewayWrite::Spend {
                    scope: g.scope,
                    scope_id: g.scope_id.clone(),
                    month: g.month.clone(),
                    amount_usd: actual_usd,
                });
            }
        }
    }

    /// Queues an answered request's usage row, charging its reservation if it has one;
    /// answers what was charged.
    pub fn finish(&self, reservation: Option<Reservation>, row: UsageRow) -> f64 {
        match reservation {
            Some(r) => r.settle(row),
            None => {
                let charged = row.charged_usd;
                self.record(row);
                charged
            }
        }
    }

    /// A usage row of a request that held nothing (billing off, cache hits).
    pub fn record(&self, row: UsageRow) {
        self.queue(GatewayWrite::Usage(Box::new(row)));
    }

    /// A failed attempt at `model`, for the admin's time series.
    pub fn failure(&self, model: &str) {
        self.queue(GatewayWrite::Failure {
            model: model.to_string(),
            at: crate::store::time::now(),
        });
    }

    fn queue(&self, w: GatewayWrite) {
        if self.writes.send(Msg::Write(w)).is_err() {
            tracing::error!("the gateway's write-behind task has stopped; a usage write was lost");
        }
    }

    /// Waits until everything queued before this call is stored.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.writes.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// `flush` for readers: while the database refuses writes they get what is stored after
    /// a few seconds instead of waiting for it to recover.
    pub async fn flush_for_read(&self) {
        if tokio::time::timeout(READ_FLUSH_WAIT, self.flush())
            .await
            .is_err()
        {
            tracing::warn!("gateway usage writes are behind; answering with what is stored");
        }
    }

    pub async fn credit(
        &self,
        account_id: &str,
        amount_usd: f64,
        actor: &str,
        note: Option<&str>,
    ) -> anyhow::Result<()> {
        let _guard = self.loading.lock().await;
        self.store
            .credit(account_id, amount_usd, actor, note)
            .await?;
        if let Some(f) = self.books().balances.get_mut(account_id) {
            f.amount += amount_usd;
        }
        Ok(())
    }

    /// (balance, held by requests in flight).
    pub async fn balance(&self, account_id: &str) -> anyhow::Result<(f64, f64)> {
        if let Some(f) = self.books().balances.get(account_id) {
            return Ok((f.amount, f.held));
        }
        self.flush_for_read().await;
        Ok((self.store.balance(account_id).await?, 0.0))
    }
}

/// A hold in flight. It ends exactly once: [`Reservation::settle`] charges it, and dropping
/// it unsettled gives it back, so every way a request can end (an error, a failed upstream,
/// a client that hung up and dropped the handler's future, the request timeout, a panic in a
/// relay task) releases what it held.
pub struct Reservation {
    ledger: Arc<Ledger>,
    hold: Hold,
    settled: bool,
}

impl Reservation {
    /// Holds `hold.amount_usd` (see [`Ledger::reserve`]); the refusal says which fund was
    /// short.
    pub async fn take(ledger: &Arc<Ledger>, hold: Hold) -> anyhow::Result<Result<Self, Refusal>> {
        // No await between the hold and the guard that gives it back.
        Ok(ledger.reserve(&hold).await?.map(|()| Self {
            ledger: ledger.clone(),
            hold,
            settled: false,
        }))
    }

    pub fn amount_usd(&self) -> f64 {
        self.hold.amount_usd
    }

    /// Charges the row's `charged_usd` and queues the row; never more than was held: a
    /// provider reporting more usage than the request could have produced is charged the
    /// hold, and logged. Answers what was charged.
    pub fn settle(mut self, mut row: UsageRow) -> f64 {
        cap_charge(&mut row, self.hold.amount_usd);
        let charged = row.charged_usd;
        self.settled = true;
        self.ledger.settle(&self.hold, charged, Some(row));
        charged
    }
}

/// Caps a usage row's charge at what its request held: a provider reporting more usage than
/// the request could produce (or a tokenizer that counts the input higher than Cairn's
/// estimate) is charged the hold, and logged.
fn cap_charge(row: &mut UsageRow, held_usd: f64) {
    if row.charged_usd > held_usd {
        tracing::warn!(
            reported_usd = row.charged_usd,
            held_usd,
            model = %row.served_model,
            "usage over the hold; charging the hold"
        );
        row.charged_usd = held_usd;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.ledger.settle(&self.hold, 0.0, None);
        }
    }
}

fn key(g: &Budget) -> BudgetKey {
    (g.scope, g.scope_id.clone(), g.month.clone())
}

/// Applies queued writes in batches: whatever arrived while the previous batch was being
/// written goes into the next transaction, so a busy gateway writes few, large transactions
/// and an idle one writes each row at once. A failed batch is retried (with backoff) before
/// anything after it, so nothing is lost or reordered while the database recovers.
async fn write_behind(store: Arc<dyn BillingStore>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Write(w) => batch.push(w),
                Msg::Flush(done) => waiting.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let mut delay = Duration::from_millis(50);
        while !batch.is_empty() {
            match store.apply(&batch).await {
                Ok(()) => batch.clear(),
                Err(e) => {
                    tracing::error!(error = %e, rows = batch.len(), "writing gateway usage failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::{self, SqliteBilling};

    fn row(account: &str, charged: f64) -> UsageRow {
        UsageRow::sample(account, "auto", charged)
    }

    /// Many holds at once against a small balance and a budget: none overspends, and after
    /// the writes land the stored balance and spend equal what the books say.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_holds_never_overspend_and_the_store_catches_up() {
        let dir = tempfile::tempdir().unwrap();
        let pool = sqlite::open(&dir.path().join("cairn.db")).await.unwrap();
        let store: Arc<dyn BillingStore> = Arc::new(SqliteBilling::new(pool.clone()));
        store.credit("a", 1.0, "test", None).await.unwrap();
        let ledger = Arc::new(Ledger::new(store.clone()));
        let budget = Budget {
            scope: BudgetScope::Key,
            scope_id: "k".into(),
            month: "2026-11".into(),
            limit_usd: 0.6,
        };
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (ledger, budget) = (ledger.clone(), budget.clone());
            tasks.push(tokio::spawn(async move {
                let hold = Hold {
                    account_id: "a".into(),
                    balance: true,
                    budgets: vec![budget],
                    amount_usd: 0.01,
                };
                match ledger.reserve(&hold).await.unwrap() {
                    Ok(()) => {
                        tokio::task::yield_now().await;
                        // Half the requests cost less than they held.
                        let cost = if i % 2 == 0 { 0.01 } else { 0.004 };
                        ledger.settle(&hold, cost, Some(row("a", cost)));
                        cost
                    }
                    Err(_) => 0.0,
                }
            }));
        }
        let mut spent = 0.0;
        for t in tasks {
            spent += t.await.unwrap();
        }
        assert!(spent > 0.0 && spent <= 0.6 + 1e-9, "spent {spent}");
        let (balance, held) = ledger.balance("a").await.unwrap();
        assert_eq!(held, 0.0);
        assert!((balance - (1.0 - spent)).abs() < 1e-9);
        ledger.flush().await;
        assert!((store.balance("a").await.unwrap() - balance).abs() < 1e-9);
        let stored = store.spent(BudgetScope::Key, "k", "2026-11").await.unwrap();
        assert!((stored - spent).abs() < 1e-9);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gateway_usage")
            .fetch_one(&pool)
            .await
            .unwrap();
        let charges: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger WHERE kind = 'charge'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, charges);
        assert!(rows > 0);
    }

    /// A reservation dropped unsettled gives its hold back; a settled one never charges more
    /// than it held.
    #[tokio::test]
    async fn reservations_release_on_drop_and_settle_at_most_the_hold() {
        let dir = tempfile::tempdir().unwrap();
        let pool = sqlite::open(&dir.path().join("cairn.db")).await.unwrap();
        let store: Arc<dyn BillingStore> = Arc::new(SqliteBilling::new(pool));
        store.credit("a", 1.0, "test", None).await.unwrap();
        let ledger = Arc::new(Ledger::new(store));
        let hold = |amount_usd| Hold {
            account_id: "a".into(),
            balance: true,
            budgets: vec![],
            amount_usd,
        };
        let r = Reservation::take(&ledger, hold(0.4))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ledger.balance("a").await.unwrap(), (1.0, 0.4));
        drop(r);
        assert_eq!(ledger.balance("a").await.unwrap(), (1.0, 0.0));
        let r = Reservation::take(&ledger, hold(0.25))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.settle(row("a", 5.0)), 0.25);
        assert_eq!(ledger.balance("a").await.unwrap(), (0.75, 0.0));
    }
}
