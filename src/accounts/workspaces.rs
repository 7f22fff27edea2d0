//! Workspaces: named partitions of an account. Every tenant-scoped read and write resolves its
//! workspace through [`resolve`], which enforces key bindings.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::accounts::Principal;
use crate::error::{ApiError, ApiResult};
use crate::store::{AccountStore, NewWorkspace, Workspace, WorkspacePatch};

pub const DEFAULT_WORKSPACE: &str = "default";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Stable identifier chosen by you: 1-64 of `A-Z a-z 0-9 . _ -`.
    pub workspace_id: String,
    pub name: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceStatus {
    Active,
    Archived,
}

impl WorkspaceStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    pub name: Option<String>,
    pub status: Option<WorkspaceStatus>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// A number sets the budget, `null` removes it, absence leaves it unchanged.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub monthly_budget_usd: Option<Option<f64>>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub status: String,
    pub metadata: serde_json::Value,
    pub monthly_budget_usd: Option<f64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Workspace> for WorkspaceView {
    fn from(w: Workspace) -> Self {
        Self {
            id: w.id,
            workspace_id: w.workspace_id,
            name: w.name,
            status: w.status,
            metadata: w.metadata,
            monthly_budget_usd: w.monthly_budget_usd,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<WorkspaceView>,
}

pub fn validate_slug(slug: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "workspace_id: expected 1-64 characters of A-Z a-z 0-9 . _ -",
        ))
    }
}

fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    crate::validate::count("name", name.chars().count(), 1, 200, "characters")?;
    Ok(name.to_string())
}

fn validate_budget(budget: Option<f64>) -> ApiResult<()> {
    match budget {
        Some(b) if !b.is_finite() || b < 0.0 => Err(ApiError::bad_request(
            "monthly_budget_usd: expected a non-negative number or null",
        )),
        _ => Ok(()),
    }
}

pub async fn create(
    store: &dyn AccountStore,
    account_id: &str,
    req: CreateWorkspace,
) -> ApiResult<WorkspaceView> {
    validate_slug(&req.workspace_id)?;
    let name = validate_name(&req.name)?;
    validate_budget(req.monthly_budget_usd)?;
    let new = NewWorkspace {
        workspace_id: req.workspace_id,
        name,
        metadata: serde_json::Value::Object(req.metadata.unwrap_or_default()),
        monthly_budget_usd: req.monthly_budget_usd,
    };
    store
        .create_workspace(account_id, new)
        .await?
        .map(Into::into)
        .map_err(|_| ApiError::Conflict("a workspace with this workspace_id already exists".into()))
}

pub async fn list(store: &dyn AccountStore, account_id: &str) -> ApiResult<WorkspaceList> {
    let data = store.list_workspaces(account_id).await?;
    Ok(WorkspaceList {
        object: "list".into(),
        data: data.into_iter().map(Into::into).collect(),
    })
}

pub async fn update(
    store: &dyn AccountStore,
    account_id: &str,
    slug: &str,
    req: UpdateWorkspace,
) -> ApiResult<WorkspaceView> {
    let name = req.name.as_deref().map(validate_name).transpose()?;
    if let Some(budget) = req.monthly_budget_usd {
        validate_budget(budget)?;
    }
    let patch = WorkspacePatch {
        name,
        status: req.status.map(|s| s.as_str().to_string()),
        metadata: req.metadata.map(serde_json::Value::Object),
        monthly_budget_usd: req.monthly_budget_usd,
    };
    store
        .update_workspace(account_id, slug, patch)
        .await?
        .map(Into::into)
        .ok_or(ApiError::NotFound("Workspace"))
}

/// The workspace a request acts in. A key bound to a workspace acts only there: naming any
/// other workspace answers 404, exactly as if it did not exist, so nothing leaks. Others act in
/// the named workspace of their account, or in `default`.
pub async fn resolve(
    store: &dyn AccountStore,
    principal: &Principal,
    requested: Option<&str>,
) -> ApiResult<Workspace> {
    if let Some(bound) = principal.bound_workspace() {
        return match requested {
            None => Ok(bound.clone()),
            Some(slug) if slug == bound.workspace_id => Ok(bound.clone()),
            Some(_) => Err(ApiError::NotFound("Workspace")),
        };
    }
    let slug = requested.unwrap_or(DEFAULT_WORKSPACE);
    store
        .workspace_by_slug(principal.account_id(), slug)
        .await?
        .ok_or(ApiError::NotFound("Workspace"))
}

pub async fn get(
    store: &dyn AccountStore,
    principal: &Principal,
    slug: &str,
) -> ApiResult<WorkspaceView> {
    resolve(store, principal, Some(slug)).await.map(Into::into)
}
