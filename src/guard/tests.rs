//! Guard logic over an in-memory `GuardStore`: the decision, the budget, approvals decided
//! once, and note screening, without a database or HTTP.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::guard::model::{CheckInput, DecideInput, Decision};
use crate::store::guard::{
    ApprovalFilter, ApprovalRow, ApprovalStatus, AuditEvent, AuditFilter, AuditRow, GuardStore,
    PolicyRow,
};
use crate::store::StoreResult;

/// Rows kept in vectors; filters do what the SQL does for the fields these tests use.
#[derive(Default)]
struct MemGuard {
    policies: Mutex<Vec<PolicyRow>>,
    approvals: Mutex<Vec<ApprovalRow>>,
    audit: Mutex<Vec<AuditRow>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap()
}

#[async_trait]
impl GuardStore for MemGuard {
    async fn policies(&self, ws: &str) -> StoreResult<Vec<PolicyRow>> {
        let rows = lock(&self.policies);
        Ok(rows
            .iter()
            .filter(|p| p.workspace_id == ws)
            .cloned()
            .collect())
    }
    async fn policy_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<PolicyRow>> {
        let rows = lock(&self.policies);
        Ok(rows
            .iter()
            .find(|p| {
                p.workspace_id == ws
                    && p.external_source.as_deref() == Some(source)
                    && p.external_id.as_deref() == Some(external_id)
            })
            .cloned())
    }
    async fn put_policy(&self, p: &PolicyRow) -> StoreResult<()> {
        let mut rows = lock(&self.policies);
        rows.retain(|r| r.id != p.id);
        rows.push(p.clone());
        Ok(())
    }
    async fn approval(&self, ws: &str, id: &str) -> StoreResult<Option<ApprovalRow>> {
        let rows = lock(&self.approvals);
        Ok(rows
            .iter()
            .find(|a| a.workspace_id == ws && a.id == id)
            .cloned())
    }
    async fn approvals(&self, ws: &str, f: &ApprovalFilter) -> StoreResult<Vec<ApprovalRow>> {
        let rows = lock(&self.approvals);
        Ok(rows
            .iter()
            .filter(|a| a.workspace_id == ws && f.status.is_none_or(|s| a.status == s))
            .cloned()
            .collect())
    }
    async fn expire_approvals(&self, _ws: &str, _now: &str) -> StoreResult<()> {
        Ok(())
    }
    async fn record_check(
        &self,
        audit: &AuditRow,
        approval: Option<&ApprovalRow>,
    ) -> StoreResult<()> {
        lock(&self.audit).push(audit.clone());
        lock(&self.approvals).extend(approval.cloned());
        Ok(())
    }
    async fn decide(&self, approval: &ApprovalRow, audit: &AuditRow) -> StoreResult<bool> {
        let mut rows = lock(&self.approvals);
        let Some(slot) = rows
            .iter_mut()
            .find(|a| a.id == approval.id && a.status == ApprovalStatus::Pending)
        else {
            return Ok(false);
        };
        *slot = approval.clone();
        lock(&self.audit).push(audit.clone());
        Ok(true)
    }
    async fn audit_by_external(
        &self,
        _ws: &str,
        _source: &str,
        _external_id: &str,
    ) -> StoreResult<Option<AuditRow>> {
        Ok(None)
    }
    async fn add_audit(&self, row: &AuditRow) -> StoreResult<()> {
        lock(&self.audit).push(row.clone());
        Ok(())
    }
    async fn audit(&self, ws: &str, _f: &AuditFilter) -> StoreResult<Vec<AuditRow>> {
        let rows = lock(&self.audit);
        Ok(rows
            .iter()
            .filter(|a| a.workspace_id == ws)
            .cloned()
            .collect())
    }
    async fn spent_since(&self, ws: &str, _since: &str) -> StoreResult<f64> {
        let rows = lock(&self.audit);
        Ok(rows
            .iter()
            .filter(|a| a.workspace_id == ws && a.event == AuditEvent::Executed)
            .filter_map(|a| a.amount_usd)
            .sum())
    }
}

fn guard(default_effect: DefaultEffect) -> (Guard, Arc<MemGuard>) {
    let store = Arc::new(MemGuard::default());
    let guard = Guard {
        store: store.clone(),
        settings: GuardSettings {
            default_effect,
            approval_ttl_secs: 3_600,
            secret_notes: SecretMode::Reject,
            review_below_confidence: 0.5,
        },
        events: Arc::new(crate::events::EventHub::new(16)),
    };
    (guard, store)
}

fn workspace(budget: Option<f64>) -> Workspace {
    Workspace {
        id: "ws-row".into(),
        account_id: "acct".into(),
        workspace_id: "default".into(),
        name: "Default".into(),
        status: "active".into(),
        metadata: json!({}),
        monthly_budget_usd: budget,
        created_at: now(),
        updated_at: now(),
    }
}

fn spend(amount: f64, risk: Option<&str>) -> CheckInput {
    CheckInput {
        app: "agent".into(),
        tool_ref: "stripe.charge".into(),
        action_type: "spend".into(),
        risk_level: risk.map(str::to_string),
        requested_amount_usd: Some(amount),
        ..Default::default()
    }
}

#[tokio::test]
async fn high_risk_waits_for_approval_and_is_decided_once() {
    let (guard, store) = guard(DefaultEffect::ByRisk);
    let ws = workspace(None);
    let checked = guard
        .check(&ws, "key:k1", spend(5.0, Some("high")))
        .await
        .unwrap();
    assert_eq!(checked.decision, Effect::RequireApproval);
    let id = checked.approval_id.expect("an approval is opened");
    assert_eq!(lock(&store.audit)[0].event, AuditEvent::Checked);

    let decide = |decision| DecideInput {
        workspace_id: None,
        decision,
        note: None,
    };
    let approved = guard
        .decide(&ws, "user:u1", &id, decide(Decision::Approve))
        .await
        .unwrap();
    assert_eq!(approved.status, ApprovalStatus::Approved);
    let again = guard
        .decide(&ws, "user:u1", &id, decide(Decision::Reject))
        .await
        .unwrap_err();
    assert!(matches!(again, ApiError::Conflict(m) if m.contains("already approved")));
}

#[tokio::test]
async fn low_risk_is_allowed_without_an_approval() {
    let (guard, store) = guard(DefaultEffect::ByRisk);
    let checked = guard
        .check(&workspace(None), "key:k1", spend(5.0, Some("low")))
        .await
        .unwrap();
    assert_eq!(checked.decision, Effect::Allow);
    assert!(checked.approval_id.is_none());
    assert!(lock(&store.approvals).is_empty());
}

#[tokio::test]
async fn spend_over_the_monthly_budget_is_denied() {
    let (guard, store) = guard(DefaultEffect::Allow);
    let ws = workspace(Some(10.0));
    lock(&store.audit).push(AuditRow {
        id: "a0".into(),
        workspace_id: ws.id.clone(),
        event: AuditEvent::Executed,
        decision: None,
        app: None,
        mission_id: None,
        task_id: None,
        actor_ref: None,
        tool_ref: None,
        action_type: Some("spend".into()),
        policy_id: None,
        approval_id: None,
        amount_usd: Some(8.0),
        detail: json!({}),
        recorded_by: "key:k1".into(),
        external_source: None,
        external_id: None,
        created_at: now(),
    });
    let within = guard.check(&ws, "key:k1", spend(2.0, None)).await.unwrap();
    assert_eq!(within.decision, Effect::Allow);
    let over = guard.check(&ws, "key:k1", spend(2.5, None)).await.unwrap();
    assert_eq!(over.decision, Effect::Deny);
    assert!(over.reasons.iter().any(|r| r.contains("monthly budget")));
    assert_eq!(
        lock(&store.audit).last().unwrap().event,
        AuditEvent::Blocked
    );
}

#[tokio::test]
async fn a_bad_approval_status_filter_names_the_field() {
    let (guard, _) = guard(DefaultEffect::Allow);
    let err = guard
        .approvals(&workspace(None), None, Some("done".into()), 10)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "status: expected pending, approved, rejected or expired"
    );
}

#[test]
fn low_confidence_notes_go_to_review() {
    let (guard, _) = guard(DefaultEffect::Allow);
    let mut note = crate::store::memory::NoteRow {
        id: "n1".into(),
        account_id: "acct".into(),
        workspace_id: "ws-row".into(),
        title: None,
        content: "The deploy window is Tuesday".into(),
        kind: "fact".into(),
        tags: vec![],
        importance: 0.5,
        confidence: 0.3,
        metadata: json!({}),
        status: NoteStatus::Approved,
        external_source: None,
        external_id: None,
        valid_from: now(),
        valid_to: None,
        supersedes: None,
        superseded_by: None,
        revision: 1,
        index_key: None,
        created_by: "key:k1".into(),
        created_at: now(),
        updated_at: now(),
        thread_id: None,
        thread_seq: None,
    };
    guard.screen_note(&[], &mut note).unwrap();
    assert_eq!(note.status, NoteStatus::Pending);
    assert!(note.metadata["review_reason"]
        .as_str()
        .unwrap()
        .contains("below guard.review_below_confidence"));
}
