//! Gateway administration (seed 000 "Admin"): providers, models and routing defaults edited
//! live, a routing simulation, and what the operator reads (health, stats, logs, audit).
//!
//! The rules: every write goes through the store in one transaction with its audit row, then
//! the catalog is reloaded before answering (in turn with other catalog writes), so the next
//! request routes by it. Views never carry a secret: an audit row's before/after are views, so
//! secrets are masked there by construction. Rows the config file seeds (`source = config`)
//! become the admin's when patched (the file no longer overwrites them); unpatched ones are
//! not deleted over the API (409: the file would bring them back at the next start).

pub mod models;
pub mod observe;
pub mod providers;
pub mod routing;
pub mod tsdb;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiResult;
use crate::store::gateway::{AuditRow, CatalogStore, Page};
use crate::store::time::{new_id, now};

/// `?limit=&offset=` of the admin lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// 1-1000, default 100.
    pub limit: Option<i64>,
    /// Rows to skip, default 0.
    pub offset: Option<i64>,
}

impl Paging {
    /// (limit, offset), checked.
    pub fn checked(&self) -> ApiResult<(i64, i64)> {
        let limit = crate::validate::limit(self.limit, 100, 1000)?;
        let offset = crate::validate::range("offset", self.offset.unwrap_or(0), 0, i64::MAX)?;
        Ok((limit, offset))
    }
}

/// One page of an admin list (seed 000's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> Listed<T> {
    pub fn of<R>(page: Page<R>, (limit, offset): (i64, i64), view: impl Fn(R) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(view).collect(),
            total: page.total,
            limit,
            offset,
        }
    }

    /// A page cut from a list held whole.
    pub fn slice(all: Vec<T>, (limit, offset): (i64, i64)) -> Self {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let items = all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .collect();
        Self {
            items,
            total,
            limit,
            offset,
        }
    }
}

/// `{"ok": true}` and what the route adds.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

/// The audit row of one admin mutation by `actor` (`Principal::actor`).
pub fn audit<T: Serialize>(
    actor: &str,
    action: &str,
    target: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> AuditRow {
    let value = |v: Option<&T>| v.and_then(|v| serde_json::to_value(v).ok());
    AuditRow {
        id: new_id(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        before: value(before),
        after: value(after),
        created_at: now(),
    }
}

/// A JSON setting as stored, or `T::default()` when it was never set.
pub(in crate::gateway) async fn setting_or_default<T: DeserializeOwned + Default>(
    store: &dyn CatalogStore,
    key: &str,
) -> anyhow::Result<T> {
    Ok(match store.setting(key).await? {
        Some(text) => serde_json::from_str(&text)?,
        None => T::default(),
    })
}

/// Replaces the JSON setting `key` (was `before`) with `after`, audited as `action` by `actor`,
/// in one transaction.
pub(in crate::gateway) async fn save_setting<T: Serialize>(
    store: &dyn CatalogStore,
    (actor, action, key): (&str, &str, &str),
    before: &T,
    after: &T,
) -> ApiResult<()> {
    let entry = audit(actor, action, key, Some(before), Some(after));
    let text = serde_json::to_string(after).map_err(anyhow::Error::from)?;
    Ok(store.put_setting(key, &text, &entry).await?)
}

/// A provider or model id: 1-200 characters of letters, digits and `-_.:/@`, no spaces.
pub(crate) fn check_id(field: &str, id: &str) -> ApiResult<String> {
    let id = id.trim();
    crate::validate::count(field, id.chars().count(), 1, 200, "characters")?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@'))
    {
        return Err(crate::error::ApiError::bad_request(format!(
            "{field}: expected letters, digits and - _ . : / @ only"
        )));
    }
    Ok(id.to_string())
}
