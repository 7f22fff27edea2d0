//! Action guardrails: policies, checks (allow / require approval / deny), approvals and the
//! audit trail; and the same rules for memory writes (secret-looking content, review of
//! inferred or low-confidence notes).

pub mod model;
pub mod policy;
pub mod secrets;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{Datelike, Duration, TimeZone, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::store::guard::{
    ApprovalFilter, ApprovalRow, ApprovalStatus, AuditEvent, AuditFilter, AuditRow, GuardStore,
    PolicyRow,
};
use crate::store::memory::{NoteRow, NoteStatus};
use crate::store::time::{new_id, now, rfc3339};
use crate::store::Workspace;
use crate::validate as v;

use model::{
    ApprovalList, AuditInput, AuditList, CheckInput, CheckResult, DecideInput, Decision,
    PolicyInput, PolicyList,
};
use policy::{Action, Criteria, DefaultEffect, Effect, PolicyVerdict, Rule};

/// What happens to a note whose content looks like a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretMode {
    Reject,
    Redact,
}

#[derive(Debug, Clone)]
pub struct GuardSettings {
    pub default_effect: DefaultEffect,
    pub approval_ttl_secs: i64,
    pub secret_notes: SecretMode,
    pub review_below_confidence: f64,
}

pub struct Guard {
    pub store: Arc<dyn GuardStore>,
    pub settings: GuardSettings,
    /// Where review work is announced (`approval` and, through memory, `memory_note`): the
    /// dashboard's queue and `/admin/v1/events` follow it.
    pub events: Arc<crate::events::EventHub>,
}

const MEMORY_WRITE: &str = "memory_write";

/// The stored policy `input` describes, checked field by field; `external`: its external
/// pair, checked by the caller (which looked the policy up by it); `existing`: the policy it
/// replaces (its id and creation time are kept).
fn policy_row(
    ws: &Workspace,
    input: PolicyInput,
    external: Option<(String, String)>,
    existing: Option<&PolicyRow>,
) -> ApiResult<PolicyRow> {
    let name = v::text("name", &input.name, 200)?;
    let min = amount("min_amount_usd", input.min_amount_usd)?;
    let max = amount("max_amount_usd", input.max_amount_usd)?;
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            return Err(ApiError::bad_request(
                "max_amount_usd: must not be below min_amount_usd",
            ));
        }
    }
    risk_level(input.risk_level.as_deref())?;
    let at = now();
    Ok(PolicyRow {
        id: existing.map_or_else(new_id, |p| p.id.clone()),
        workspace_id: ws.id.clone(),
        name,
        app: label("app", input.app.as_deref())?,
        mission_id: label("mission_id", input.mission_id.as_deref())?,
        tool_ref: label("tool_ref", input.tool_ref.as_deref())?,
        action_type: label("action_type", input.action_type.as_deref())?,
        operation: label("operation", input.operation.as_deref())?,
        access_level: label("access_level", input.access_level.as_deref())?,
        risk_level: input.risk_level,
        min_amount_usd: min,
        max_amount_usd: max,
        effect: input.effect,
        priority: input.priority.unwrap_or(0),
        enabled: input.enabled.unwrap_or(true),
        description: v::optional_text("description", input.description.as_deref(), 2_000)?,
        external_source: external.as_ref().map(|e| e.0.clone()),
        external_id: external.map(|e| e.1),
        created_at: existing.map_or_else(|| at.clone(), |p| p.created_at.clone()),
        updated_at: at,
    })
}

/// The action a check asks about, its fields checked in request order.
fn checked_action(input: &CheckInput) -> ApiResult<Action> {
    let app = v::text("app", &input.app, 200)?;
    let tool_ref = v::text("tool_ref", &input.tool_ref, 200)?;
    let action_type = v::text("action_type", &input.action_type, 200)?;
    risk_level(input.risk_level.as_deref())?;
    let requested = amount("requested_amount_usd", input.requested_amount_usd)?;
    v::metadata("metadata", input.metadata.as_ref())?;
    Ok(Action {
        app: Some(app),
        mission_id: input.mission_id.clone(),
        tool_ref: Some(tool_ref),
        action_type: Some(action_type),
        operation: input.operation.clone(),
        access_level: input.access_level.clone(),
        risk_level: input.risk_level.clone(),
        amount_usd: requested,
    })
}

fn rule(p: &PolicyRow) -> Option<Rule> {
    Some(Rule {
        id: p.id.clone(),
        criteria: Criteria {
            app: p.app.clone(),
            mission_id: p.mission_id.clone(),
            tool_ref: p.tool_ref.clone(),
            action_type: p.action_type.clone(),
            operation: p.operation.clone(),
            access_level: p.access_level.clone(),
            risk_level: p.risk_level.clone(),
            min_amount_usd: p.min_amount_usd,
            max_amount_usd: p.max_amount_usd,
        },
        effect: p.effect,
        priority: p.priority,
        created_at: p.created_at.clone(),
    })
}

fn label(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    v::optional_text(field, value, 200)
}

fn amount(field: &str, value: Option<f64>) -> ApiResult<Option<f64>> {
    match value {
        Some(x) if !x.is_finite() || x < 0.0 => Err(ApiError::bad_request(format!(
            "{field}: expected a non-negative amount in USD"
        ))),
        other => Ok(other),
    }
}

fn risk_level(value: Option<&str>) -> ApiResult<()> {
    match value {
        None | Some("low" | "medium" | "high" | "critical") => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "risk_level: expected low, medium, high or critical",
        )),
    }
}

fn month_start() -> String {
    let n = Utc::now();
    Utc.with_ymd_and_hms(n.year(), n.month(), 1, 0, 0, 0)
        .single()
        .map(rfc3339)
        .unwrap_or_else(now)
}

impl Guard {
    pub async fn upsert_policy(
        &self,
        ws: &Workspace,
        input: PolicyInput,
    ) -> ApiResult<(PolicyRow, bool)> {
        let external = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        let existing = match &external {
            Some((s, i)) => self.store.policy_by_external(&ws.id, s, i).await?,
            None => None,
        };
        let row = policy_row(ws, input, external, existing.as_ref())?;
        self.store.put_policy(&row).await?;
        Ok((row, existing.is_none()))
    }

    /// Replaces policy `id` with `input`: its id and creation time stay, and its external pair
    /// unless the input names one (409 when another policy holds that pair).
    pub async fn replace_policy(
        &self,
        ws: &Workspace,
        id: &str,
        input: PolicyInput,
    ) -> ApiResult<PolicyRow> {
        let policies = self.store.policies(&ws.id).await?;
        let existing = policies
            .iter()
            .find(|p| p.id == id)
            .ok_or(ApiError::NotFound("Policy"))?;
        let named = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        let kept = existing
            .external_source
            .clone()
            .zip(existing.external_id.clone());
        let external = named.or(kept);
        let row = policy_row(ws, input, external, Some(existing))?;
        let taken = policies.iter().any(|p| {
            p.id != row.id
                && row.external_source.is_some()
                && p.external_source == row.external_source
                && p.external_id == row.external_id
        });
        if taken {
            return Err(ApiError::Conflict(
                "external_id: another policy of this workspace has that external source and id"
                    .into(),
            ));
        }
        self.store.put_policy(&row).await?;
        Ok(row)
    }

    pub async fn list_policies(&self, ws: &Workspace) -> ApiResult<PolicyList> {
        Ok(PolicyList {
            object: "list".into(),
            data: self.store.policies(&ws.id).await?,
        })
    }

    async fn rules(&self, workspace_id: &str, memory: bool) -> ApiResult<Vec<Rule>> {
        Ok(self
            .store
            .policies(workspace_id)
            .await?
            .iter()
            .filter(|p| p.enabled)
            .filter(|p| (p.action_type.as_deref() == Some(MEMORY_WRITE)) == memory)
            .filter_map(rule)
            .collect())
    }

    /// Decides an action, audits the check and opens an approval when one is needed.
    pub async fn check(
        &self,
        ws: &Workspace,
        actor: &str,
        input: CheckInput,
    ) -> ApiResult<CheckResult> {
        let action = checked_action(&input)?;
        let verdict = self.verdict(ws, &action).await?;
        if input.dry_run {
            return Ok(CheckResult {
                decision: verdict.effect,
                policy_id: verdict.policy_id,
                reasons: verdict.reasons,
                approval_id: None,
                audit_id: String::new(),
            });
        }
        let at = now();
        let approval = (verdict.effect == Effect::RequireApproval)
            .then(|| self.approval_row(ws, actor, &action, &input, &verdict, &at));
        let audit = AuditRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            event: if verdict.effect == Effect::Deny {
                AuditEvent::Blocked
            } else {
                AuditEvent::Checked
            },
            decision: Some(verdict.effect.as_str().into()),
            app: action.app.clone(),
            mission_id: input.mission_id.clone(),
            task_id: input.task_id.clone(),
            actor_ref: input.actor_ref.clone(),
            tool_ref: action.tool_ref.clone(),
            action_type: action.action_type.clone(),
            policy_id: verdict.policy_id.clone(),
            approval_id: approval.as_ref().map(|a| a.id.clone()),
            amount_usd: action.amount_usd,
            detail: json!({"reasons": verdict.reasons, "operation": input.operation,
                           "access_level": input.access_level, "risk_level": input.risk_level,
                           "metadata": input.metadata}),
            recorded_by: actor.to_string(),
            external_source: None,
            external_id: None,
            created_at: at,
        };
        self.store.record_check(&audit, approval.as_ref()).await?;
        if let Some(a) = &approval {
            self.announce(a);
        }
        Ok(CheckResult {
            decision: verdict.effect,
            policy_id: verdict.policy_id,
            reasons: verdict.reasons,
            approval_id: approval.map(|a| a.id),
            audit_id: audit.id,
        })
    }

    /// The policies' verdict on an action, under the workspace's monthly budget: an amount
    /// that would take the workspace over it (its executed actions and its gateway spend
    /// this month, see [`GuardStore::spent_since`]) turns the verdict to deny, and a check
    /// that states no amount in a workspace with a budget needs approval, since Cairn cannot
    /// tell whether it fits.
    async fn verdict(&self, ws: &Workspace, action: &Action) -> ApiResult<PolicyVerdict> {
        let rules = self.rules(&ws.id, false).await?;
        let mut verdict = policy::decide(&rules, action, self.settings.default_effect);
        let Some(budget) = ws.monthly_budget_usd else {
            return Ok(verdict);
        };
        if verdict.effect == Effect::Deny {
            return Ok(verdict);
        }
        match action.amount_usd {
            Some(amount) => {
                let spent = self.store.spent_since(&ws.id, &month_start()).await?;
                if spent + amount > budget {
                    verdict.effect = Effect::Deny;
                    verdict.reasons.push(format!(
                        "the workspace has spent {spent:.2} of its {budget:.2} USD monthly budget; {amount:.2} more would exceed it"
                    ));
                }
            }
            None => {
                verdict.effect = Effect::RequireApproval;
                verdict.reasons.push(format!(
                    "the workspace has a monthly budget of {budget:.2} USD and the check gives no requested_amount_usd"
                ));
            }
        }
        Ok(verdict)
    }

    /// A pending approval for a checked action, expiring after `approval_ttl_secs`.
    fn approval_row(
        &self,
        ws: &Workspace,
        actor: &str,
        action: &Action,
        input: &CheckInput,
        verdict: &PolicyVerdict,
        at: &str,
    ) -> ApprovalRow {
        ApprovalRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            policy_id: verdict.policy_id.clone(),
            status: ApprovalStatus::Pending,
            app: action.app.clone(),
            mission_id: input.mission_id.clone(),
            task_id: input.task_id.clone(),
            tool_ref: action.tool_ref.clone().unwrap_or_default(),
            request: serde_json::to_value(input).unwrap_or_default(),
            reasons: verdict.reasons.clone(),
            requested_by: Some(actor.to_string()),
            decided_by: None,
            decision_note: None,
            expires_at: rfc3339(Utc::now() + Duration::seconds(self.settings.approval_ttl_secs)),
            decided_at: None,
            created_at: at.to_string(),
        }
    }

    pub async fn approvals(
        &self,
        ws: &Workspace,
        mission_id: Option<String>,
        status: Option<String>,
        limit: i64,
    ) -> ApiResult<ApprovalList> {
        let status = status
            .map(|s| {
                ApprovalStatus::parse(&s).ok_or_else(|| {
                    ApiError::bad_request("status: expected pending, approved, rejected or expired")
                })
            })
            .transpose()?;
        self.store.expire_approvals(&ws.id, &now()).await?;
        let filter = ApprovalFilter {
            mission_id,
            status,
            limit,
        };
        Ok(ApprovalList {
            object: "list".into(),
            data: self.store.approvals(&ws.id, &filter).await?,
        })
    }

    /// Approve or reject, once: a decided or expired approval answers 409.
    pub async fn decide(
        &self,
        ws: &Workspace,
        actor: &str,
        id: &str,
        input: DecideInput,
    ) -> ApiResult<ApprovalRow> {
        let note = v::optional_text("note", input.note.as_deref(), 2_000)?;
        let at = now();
        self.store.expire_approvals(&ws.id, &at).await?;
        let mut a = self
            .store
            .approval(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Approval"))?;
        if a.status != ApprovalStatus::Pending {
            return Err(ApiError::Conflict(format!(
                "approval {id} is already {}; an approval is decided once",
                a.status.as_str()
            )));
        }
        if a.requested_by.as_deref() == Some(actor) {
            return Err(ApiError::Forbidden(format!(
                "approval {id}: the caller that asked for it cannot decide it; another reviewer must"
            )));
        }
        a.status = match input.decision {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Reject => ApprovalStatus::Rejected,
        };
        a.decided_by = Some(actor.to_string());
        a.decision_note = note.clone();
        a.decided_at = Some(at.clone());
        let audit = AuditRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            event: match input.decision {
                Decision::Approve => AuditEvent::Approved,
                Decision::Reject => AuditEvent::Rejected,
            },
            decision: Some("require_approval".into()),
            app: a.app.clone(),
            mission_id: a.mission_id.clone(),
            task_id: a.task_id.clone(),
            actor_ref: a.request["actor_ref"].as_str().map(str::to_string),
            tool_ref: Some(a.tool_ref.clone()),
            action_type: a.request["action_type"].as_str().map(str::to_string),
            policy_id: a.policy_id.clone(),
            approval_id: Some(a.id.clone()),
            amount_usd: a.request["requested_amount_usd"].as_f64(),
            detail: json!({"note": note}),
            recorded_by: actor.to_string(),
            external_source: None,
            external_id: None,
            created_at: at,
        };
        if !self.store.decide(&a, &audit).await? {
            return Err(ApiError::Conflict(format!(
                "approval {id} was decided meanwhile; an approval is decided once"
            )));
        }
        self.announce(&a);
        Ok(a)
    }

    /// Publishes an approval's new state (`approval`: workspace row id, id, status).
    fn announce(&self, a: &ApprovalRow) {
        self.events.publish(
            "approval",
            json!({"workspace_id": a.workspace_id, "approval_id": a.id,
                   "status": a.status.as_str(), "tool_ref": a.tool_ref}),
        );
    }

    pub async fn record(
        &self,
        ws: &Workspace,
        actor: &str,
        input: AuditInput,
    ) -> ApiResult<(AuditRow, bool)> {
        let event = AuditEvent::reported(input.event.trim()).ok_or_else(|| {
            ApiError::bad_request(
                "event: expected executed, failed or blocked (approvals, rejections and expiries are recorded by Cairn when a reviewer decides)",
            )
        })?;
        let amount_usd = amount("amount_usd", input.amount_usd)?;
        let detail = v::metadata("detail", input.detail.as_ref())?.unwrap_or_else(|| json!({}));
        let external = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        if let Some((s, i)) = &external {
            if let Some(known) = self.store.audit_by_external(&ws.id, s, i).await? {
                return Ok((known, false));
            }
        }
        let row = AuditRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            event,
            decision: None,
            app: label("app", input.app.as_deref())?,
            mission_id: label("mission_id", input.mission_id.as_deref())?,
            task_id: label("task_id", input.task_id.as_deref())?,
            actor_ref: label("actor_ref", input.actor_ref.as_deref())?,
            tool_ref: label("tool_ref", input.tool_ref.as_deref())?,
            action_type: label("action_type", input.action_type.as_deref())?,
            policy_id: input.policy_id,
            approval_id: input.approval_id,
            amount_usd,
            detail,
            recorded_by: actor.to_string(),
            external_source: external.as_ref().map(|e| e.0.clone()),
            external_id: external.as_ref().map(|e| e.1.clone()),
            created_at: now(),
        };
        self.store.add_audit(&row).await?;
        Ok((row, true))
    }

    pub async fn audit(&self, ws: &Workspace, filter: AuditFilter) -> ApiResult<AuditList> {
        let fetch = async |f: AuditFilter| self.store.audit(&ws.id, &f).await;
        v::page(filter, fetch, |r| v::encode_cursor(&r.created_at, &r.id)).await
    }

    /// Memory writes are actions too. Secret-looking content is rejected or redacted; an
    /// approved note goes to the review queue when it was inferred, its confidence is low, or
    /// a `memory_write` policy asks for approval; a denying policy refuses the write.
    /// The workspace's enabled `memory_write` policies, for [`Self::screen_note`]; a batch
    /// reads them once for all its notes.
    pub async fn memory_rules(&self, workspace_id: &str) -> ApiResult<Vec<Rule>> {
        self.rules(workspace_id, true).await
    }

    pub fn screen_note(&self, rules: &[Rule], note: &mut NoteRow) -> ApiResult<()> {
        let text = format!(
            "{}\n{}",
            note.title.as_deref().unwrap_or_default(),
            note.content
        );
        let found = secrets::find(&text);
        if !found.is_empty() {
            match self.settings.secret_notes {
                SecretMode::Reject => {
                    return Err(ApiError::Unprocessable(format!(
                        "content: looks like a secret ({}); memory is replayed into prompts, so secrets are not stored here",
                        found.join(", ")
                    )))
                }
                SecretMode::Redact => {
                    note.content = secrets::redact(&note.content);
                    note.title = note.title.as_deref().map(secrets::redact);
                    note.metadata["redacted"] = json!(found);
                }
            }
        }
        if note.status != NoteStatus::Approved {
            return Ok(());
        }
        let mut review = None;
        if note.metadata["inferred"] == json!(true) {
            review = Some("inferred notes wait for a reviewer".to_string());
        } else if note.confidence < self.settings.review_below_confidence {
            review = Some(format!(
                "confidence {} is below guard.review_below_confidence {}",
                note.confidence, self.settings.review_below_confidence
            ));
        }
        if !rules.is_empty() {
            let action = Action {
                app: Some("memory".into()),
                action_type: Some(MEMORY_WRITE.into()),
                operation: Some(note.kind.clone()),
                ..Default::default()
            };
            let outcome = policy::decide(rules, &action, DefaultEffect::Allow);
            match outcome.effect {
                Effect::Deny => {
                    return Err(ApiError::Unprocessable(format!(
                        "a memory_write policy refuses this note: {}",
                        outcome.reasons.join("; ")
                    )))
                }
                Effect::RequireApproval => review = Some(outcome.reasons.join("; ")),
                Effect::Allow => {}
            }
        }
        if let Some(reason) = review {
            note.status = NoteStatus::Pending;
            note.metadata["review_reason"] = json!(reason);
        }
        Ok(())
    }
}
