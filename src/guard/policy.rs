//! Which policy decides an action: the pure part of the guardrails, tested table by table.
//!
//! A policy matches when every criterion it sets equals the action's value (case-insensitive)
//! and, when it sets a spend range, the requested amount lies in it. Among the matches the most
//! specific wins (most criteria set), then the highest priority, then the strictest effect
//! (deny over require_approval over allow), then the oldest. With no match the default
//! applies: by default `require_approval` for destructive access or high / critical risk,
//! `allow` otherwise.

use serde::Deserialize;

pub use crate::store::guard::Effect;

/// What a policy looks at.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub tool_ref: Option<String>,
    pub action_type: Option<String>,
    pub operation: Option<String>,
    pub access_level: Option<String>,
    pub risk_level: Option<String>,
    pub min_amount_usd: Option<f64>,
    pub max_amount_usd: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub criteria: Criteria,
    pub effect: Effect,
    pub priority: i64,
    pub created_at: String,
}

/// The action being checked.
#[derive(Debug, Clone, Default)]
pub struct Action {
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub tool_ref: Option<String>,
    pub action_type: Option<String>,
    pub operation: Option<String>,
    pub access_level: Option<String>,
    pub risk_level: Option<String>,
    pub amount_usd: Option<f64>,
}

/// What applies when no policy matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultEffect {
    /// require_approval for destructive access or high / critical risk, allow otherwise.
    ByRisk,
    Allow,
    RequireApproval,
    Deny,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVerdict {
    pub effect: Effect,
    pub policy_id: Option<String>,
    pub reasons: Vec<String>,
}

fn same(policy: &Option<String>, action: &Option<String>) -> Option<bool> {
    policy.as_ref().map(|p| {
        action
            .as_ref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case(p.trim()))
    })
}

impl Criteria {
    /// None when the policy does not match; else how many criteria it set.
    fn specificity(&self, a: &Action) -> Option<usize> {
        let mut n = 0;
        for check in [
            same(&self.app, &a.app),
            same(&self.mission_id, &a.mission_id),
            same(&self.tool_ref, &a.tool_ref),
            same(&self.action_type, &a.action_type),
            same(&self.operation, &a.operation),
            same(&self.access_level, &a.access_level),
            same(&self.risk_level, &a.risk_level),
        ]
        .into_iter()
        .flatten()
        {
            if !check {
                return None;
            }
            n += 1;
        }
        if self.min_amount_usd.is_some() || self.max_amount_usd.is_some() {
            let amount = a.amount_usd?;
            if self.min_amount_usd.is_some_and(|m| amount < m)
                || self.max_amount_usd.is_some_and(|m| amount > m)
            {
                return None;
            }
            n += 1;
        }
        Some(n)
    }
}

pub fn decide(rules: &[Rule], action: &Action, default: DefaultEffect) -> PolicyVerdict {
    let mut matches: Vec<(usize, &Rule)> = rules
        .iter()
        .filter_map(|r| r.criteria.specificity(action).map(|s| (s, r)))
        .collect();
    matches.sort_by(|(sa, a), (sb, b)| {
        sb.cmp(sa)
            .then(b.priority.cmp(&a.priority))
            .then(b.effect.cmp(&a.effect))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    if let Some((specificity, rule)) = matches.first() {
        let mut reasons = vec![format!(
            "policy {} matched {specificity} criteria (priority {}): {}",
            rule.id,
            rule.priority,
            rule.effect.as_str()
        )];
        if matches.len() > 1 {
            reasons.push(format!(
                "{} other matching policies ranked lower",
                matches.len() - 1
            ));
        }
        return PolicyVerdict {
            effect: rule.effect,
            policy_id: Some(rule.id.clone()),
            reasons,
        };
    }
    let risky = action
        .access_level
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case("destructive"))
        || action
            .risk_level
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("high") || r.eq_ignore_ascii_case("critical"));
    let (effect, why) = match default {
        DefaultEffect::ByRisk if risky => (
            Effect::RequireApproval,
            "no policy matched; destructive or high-risk actions need approval by default",
        ),
        DefaultEffect::ByRisk => (Effect::Allow, "no policy matched; allowed by default"),
        DefaultEffect::Allow => (Effect::Allow, "no policy matched; the default is allow"),
        DefaultEffect::RequireApproval => (
            Effect::RequireApproval,
            "no policy matched; the default is require_approval",
        ),
        DefaultEffect::Deny => (Effect::Deny, "no policy matched; the default is deny"),
    };
    PolicyVerdict {
        effect,
        policy_id: None,
        reasons: vec![why.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, effect: Effect, priority: i64, c: Criteria) -> Rule {
        Rule {
            id: id.into(),
            criteria: c,
            effect,
            priority,
            created_at: format!("2026-01-01T00:00:0{}Z", id.len() % 10),
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn action(tool: &str, kind: &str, access: &str, risk: &str, amount: Option<f64>) -> Action {
        Action {
            app: s("gwendolyn"),
            mission_id: s("m-1"),
            tool_ref: s(tool),
            action_type: s(kind),
            operation: s("run"),
            access_level: s(access),
            risk_level: s(risk),
            amount_usd: amount,
        }
    }

    fn rules() -> Vec<Rule> {
        use Effect::*;
        vec![
            rule(
                "any-email",
                Allow,
                0,
                Criteria {
                    tool_ref: s("email"),
                    ..Default::default()
                },
            ),
            rule(
                "email-bulk",
                RequireApproval,
                0,
                Criteria {
                    tool_ref: s("email"),
                    operation: s("bulk_send"),
                    ..Default::default()
                },
            ),
            rule(
                "spend-small",
                Allow,
                0,
                Criteria {
                    action_type: s("spend"),
                    max_amount_usd: Some(50.0),
                    ..Default::default()
                },
            ),
            rule(
                "spend-mid",
                RequireApproval,
                0,
                Criteria {
                    action_type: s("spend"),
                    min_amount_usd: Some(50.0),
                    max_amount_usd: Some(500.0),
                    ..Default::default()
                },
            ),
            rule(
                "spend-big",
                Deny,
                0,
                Criteria {
                    action_type: s("spend"),
                    min_amount_usd: Some(500.0),
                    ..Default::default()
                },
            ),
            rule(
                "shell-low",
                Allow,
                1,
                Criteria {
                    tool_ref: s("shell"),
                    ..Default::default()
                },
            ),
            rule(
                "shell-high",
                Deny,
                5,
                Criteria {
                    tool_ref: s("shell"),
                    ..Default::default()
                },
            ),
            rule(
                "db-tie-allow",
                Allow,
                3,
                Criteria {
                    tool_ref: s("db"),
                    ..Default::default()
                },
            ),
            rule(
                "db-tie-deny",
                Deny,
                3,
                Criteria {
                    tool_ref: s("db"),
                    ..Default::default()
                },
            ),
            rule(
                "db-drop",
                Allow,
                0,
                Criteria {
                    tool_ref: s("db"),
                    access_level: s("destructive"),
                    mission_id: s("m-1"),
                    ..Default::default()
                },
            ),
            rule(
                "other-app",
                Deny,
                9,
                Criteria {
                    app: s("other"),
                    ..Default::default()
                },
            ),
            rule(
                "crm-write",
                RequireApproval,
                0,
                Criteria {
                    tool_ref: s("crm"),
                    action_type: s("write"),
                    ..Default::default()
                },
            ),
            rule(
                "crm-critical",
                Deny,
                0,
                Criteria {
                    tool_ref: s("crm"),
                    risk_level: s("critical"),
                    ..Default::default()
                },
            ),
        ]
    }

    #[test]
    fn precedence_table() {
        use Effect::*;
        let cases: Vec<(&str, Action, Effect, Option<&str>)> = vec![
            (
                "plain email allowed",
                action("email", "communication", "write", "low", None),
                Allow,
                Some("any-email"),
            ),
            (
                "bulk email: more specific wins",
                Action {
                    operation: s("bulk_send"),
                    ..action("email", "communication", "write", "low", None)
                },
                RequireApproval,
                Some("email-bulk"),
            ),
            (
                "tool names ignore case",
                action("EMAIL", "communication", "write", "low", None),
                Allow,
                Some("any-email"),
            ),
            (
                "small spend",
                action("card", "spend", "write", "low", Some(20.0)),
                Allow,
                Some("spend-small"),
            ),
            (
                "spend at the small ceiling",
                action("card", "spend", "write", "low", Some(50.0)),
                RequireApproval,
                Some("spend-mid"),
            ),
            (
                "mid spend",
                action("card", "spend", "write", "low", Some(120.0)),
                RequireApproval,
                Some("spend-mid"),
            ),
            (
                "big spend",
                action("card", "spend", "write", "low", Some(900.0)),
                Deny,
                Some("spend-big"),
            ),
            (
                "boundary 500 takes the stricter",
                action("card", "spend", "write", "low", Some(500.0)),
                Deny,
                Some("spend-big"),
            ),
            (
                "spend without an amount matches no range",
                action("card", "spend", "write", "low", None),
                Allow,
                None,
            ),
            (
                "priority breaks a specificity tie",
                action("shell", "code", "write", "low", None),
                Deny,
                Some("shell-high"),
            ),
            (
                "deny beats allow at equal priority",
                action("db", "write", "write", "low", None),
                Deny,
                Some("db-tie-deny"),
            ),
            (
                "specific allow beats general deny",
                action("db", "write", "destructive", "low", None),
                Allow,
                Some("db-drop"),
            ),
            (
                "another mission loses the specific allow",
                Action {
                    mission_id: s("m-2"),
                    ..action("db", "write", "destructive", "low", None)
                },
                Deny,
                Some("db-tie-deny"),
            ),
            (
                "app criterion",
                Action {
                    app: s("other"),
                    ..action("calendar", "read", "read_only", "low", None)
                },
                Deny,
                Some("other-app"),
            ),
            (
                "crm write needs approval",
                action("crm", "write", "write", "medium", None),
                RequireApproval,
                Some("crm-write"),
            ),
            (
                "crm critical read denied",
                action("crm", "read", "read_only", "critical", None),
                Deny,
                Some("crm-critical"),
            ),
            (
                "crm critical write: equal specificity, deny wins",
                action("crm", "write", "write", "critical", None),
                Deny,
                Some("crm-critical"),
            ),
            (
                "default: read allowed",
                action("calendar", "read", "read_only", "low", None),
                Allow,
                None,
            ),
            (
                "default: destructive needs approval",
                action("files", "write", "destructive", "low", None),
                RequireApproval,
                None,
            ),
            (
                "default: high risk needs approval",
                action("files", "write", "write", "high", None),
                RequireApproval,
                None,
            ),
            (
                "default: critical risk needs approval",
                action("files", "write", "write", "critical", None),
                RequireApproval,
                None,
            ),
            (
                "default: medium risk allowed",
                action("files", "write", "write", "medium", None),
                Allow,
                None,
            ),
        ];
        assert!(cases.len() >= 20);
        let rules = rules();
        for (name, a, effect, policy) in cases {
            let out = decide(&rules, &a, DefaultEffect::ByRisk);
            assert_eq!(out.effect, effect, "{name}: {:?}", out.reasons);
            assert_eq!(out.policy_id.as_deref(), policy, "{name}");
            assert!(!out.reasons.is_empty(), "{name}");
        }
    }

    #[test]
    fn configured_defaults() {
        let a = action("files", "write", "write", "low", None);
        assert_eq!(decide(&[], &a, DefaultEffect::Deny).effect, Effect::Deny);
        assert_eq!(
            decide(&[], &a, DefaultEffect::RequireApproval).effect,
            Effect::RequireApproval
        );
        let risky = action("files", "write", "destructive", "critical", None);
        assert_eq!(
            decide(&[], &risky, DefaultEffect::Allow).effect,
            Effect::Allow
        );
    }
}
