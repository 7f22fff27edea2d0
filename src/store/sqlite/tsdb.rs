//! The admin's time series in SQLite: minute points added in the usage writer's transaction,
//! hourly roll-ups and retention (`CatalogStore::prune_points`), range reads.

use std::collections::HashMap;

use chrono::DateTime;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite};

use crate::store::gateway::{Point, Pruned, UsageRow};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;

/// One bucket's aggregate.
#[derive(Clone, Copy)]
struct Agg {
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Agg {
    fn of(v: f64) -> Self {
        Self {
            count: 1,
            sum: v,
            min: v,
            max: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

fn minute_of(at: &str) -> Option<i64> {
    let ms = DateTime::parse_from_rfc3339(at).ok()?.timestamp_millis();
    Some(ms - ms.rem_euclid(MINUTE_MS))
}

/// The metrics of usage rows and failures, summed per (metric, model, minute), added to the
/// stored minute points.
pub async fn add_points(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    usage: &[&UsageRow],
    failures: &[(&str, &str)],
) -> sqlx::Result<()> {
    let mut aggs: HashMap<(&'static str, String, i64), Agg> = HashMap::new();
    let mut put = |metric: &'static str, model: &str, minute: i64, v: f64| {
        aggs.entry((metric, model.to_string(), minute))
            .and_modify(|a| a.add(v))
            .or_insert_with(|| Agg::of(v));
    };
    for u in usage {
        let Some(minute) = minute_of(&u.created_at) else {
            continue;
        };
        if u.served_model.is_empty() {
            continue;
        }
        let m = u.served_model.as_str();
        put("requests", m, minute, 1.0);
        put(
            "tokens",
            m,
            minute,
            (u.input_tokens + u.output_tokens) as f64,
        );
        put("cost_usd", m, minute, u.actual_cost_usd);
        if let Some(l) = u.latency_ms {
            put("latency_ms", m, minute, l);
        }
    }
    for (model, at) in failures {
        if let Some(minute) = minute_of(at) {
            put("errors", model, minute, 1.0);
        }
    }
    for ((metric, model, ts), a) in aggs {
        sqlx::query(
            "INSERT INTO tsdb_points (metric, model, resolution_ms, ts, count, sum, min, max) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(metric, model, resolution_ms, ts) DO UPDATE SET \
             count = count + excluded.count, sum = sum + excluded.sum, \
             min = MIN(min, excluded.min), max = MAX(max, excluded.max)",
        )
        .bind(metric)
        .bind(model)
        .bind(MINUTE_MS)
        .bind(ts)
        .bind(a.count)
        .bind(a.sum)
        .bind(a.min)
        .bind(a.max)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub fn point(r: &SqliteRow) -> sqlx::Result<Point> {
    Ok(Point {
        model: r.try_get("model")?,
        resolution_ms: r.try_get("resolution_ms")?,
        ts: r.try_get("ts")?,
        count: r.try_get("count")?,
        sum: r.try_get("sum")?,
        min: r.try_get("min")?,
        max: r.try_get("max")?,
    })
}

/// Folds raw points older than `raw_before_ms` into hourly ones, then deletes every point
/// older than `keep_after_ms`.
pub async fn prune(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    raw_before_ms: i64,
    keep_after_ms: i64,
) -> sqlx::Result<Pruned> {
    sqlx::query(
        "INSERT INTO tsdb_points (metric, model, resolution_ms, ts, count, sum, min, max) \
         SELECT metric, model, ?1, ts - (ts % ?1), SUM(count), SUM(sum), MIN(min), MAX(max) \
         FROM tsdb_points WHERE resolution_ms = ?2 AND ts < ?3 \
         GROUP BY metric, model, ts - (ts % ?1) \
         ON CONFLICT(metric, model, resolution_ms, ts) DO UPDATE SET \
         count = count + excluded.count, sum = sum + excluded.sum, \
         min = MIN(min, excluded.min), max = MAX(max, excluded.max)",
    )
    .bind(HOUR_MS)
    .bind(MINUTE_MS)
    .bind(raw_before_ms)
    .execute(&mut **tx)
    .await?;
    let rolled_up = sqlx::query("DELETE FROM tsdb_points WHERE resolution_ms = ? AND ts < ?")
        .bind(MINUTE_MS)
        .bind(raw_before_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    let deleted = sqlx::query("DELETE FROM tsdb_points WHERE ts < ?")
        .bind(keep_after_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(Pruned { rolled_up, deleted })
}
