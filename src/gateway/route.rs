//! Which models may serve a request, best first: the pure part of routing, unit-tested.
//!
//! `model` is `auto`, `fast`, `max`, `thompson` (the `auto` candidates, which the gateway's
//! bandit orders per request), or a model name or alias. Candidates must be enabled,
//! healthy (breaker closed) and fit the context (input tokens plus `max_tokens`). `fast`
//! orders by observed latency (EWMA), `max` by weight, `auto` by weight per estimated cost,
//! escalating to capable models (weight >= 5) for long requests or requests with tools. A
//! named model comes first, the `auto` order after it as fallbacks.
//!
//! Local endpoints (seed "Local endpoints") are models only their account (and workspace, when
//! bound) sees; their default model leads `auto` and `fast`, managed models follow as
//! fallbacks. Their other discovered models are reachable by name only.
//!
//! The routing policy (the admin's routing config, or a simulation's body) narrows the
//! candidates further: a minimum weight, a cap on one request's estimated cost, a cap on the
//! latency EWMA. [`considered`] says, per model, why it was left out or how it scored; the
//! admin's simulation shows that, and [`plan`] orders exactly the models it keeps.

#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub provider: String,
    pub upstream: String,
    pub weight: u8,
    pub context_window: usize,
    pub input_per_1k: f64,
    pub output_per_1k: f64,
    pub aliases: Vec<String>,
    pub enabled: bool,
    /// Its provider's key is in the locked password vault: it cannot be called until an admin
    /// unlocks it.
    pub vault_locked: bool,
    /// Set for a local endpoint's model.
    pub local: Option<LocalOwner>,
    /// The caller's own provider key (BYOK) this call is sent with: the provider bills the
    /// caller, and the prices above are the fee (`gateway::byok`).
    pub byok_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LocalOwner {
    pub endpoint_id: String,
    pub account_id: String,
    /// The workspace row id the endpoint is bound to, if any.
    pub workspace_id: Option<String>,
    /// The endpoint's default model: the one modes route to.
    pub default: bool,
}

impl ModelEntry {
    /// Managed models serve everyone; a local endpoint's only its account (and workspace).
    pub fn visible_to(&self, account_id: &str, workspace_id: &str) -> bool {
        self.local.as_ref().is_none_or(|l| {
            l.account_id == account_id && l.workspace_id.as_ref().is_none_or(|w| w == workspace_id)
        })
    }

    pub fn cost(&self, input_tokens: usize, output_tokens: usize) -> f64 {
        input_tokens as f64 / 1000.0 * self.input_per_1k
            + output_tokens as f64 / 1000.0 * self.output_per_1k
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Auto,
    Fast,
    Max,
    /// The `auto` candidates, ordered per request by draws from their reward posteriors
    /// (`gateway::bandit`).
    Thompson,
}

#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub model: &'a str,
    pub account_id: &'a str,
    /// The workspace row id of the request.
    pub workspace_id: &'a str,
    pub input_tokens: usize,
    pub max_tokens: usize,
    pub has_tools: bool,
    pub policy: Policy,
}

/// What the operator (or a simulation) allows beyond fit and health; the default allows all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Policy {
    /// Models lighter than this are left out.
    pub min_weight: u8,
    /// Most one request may cost (its estimate: input plus `max_tokens` of output), in USD.
    pub max_cost_usd: Option<f64>,
    /// Models whose latency EWMA (or the prior, for models never timed) is above this are
    /// left out.
    pub max_latency_ms: Option<f64>,
}

/// One model as routing saw it for a request.
#[derive(Debug, Clone)]
pub struct Considered<'m> {
    pub model: &'m ModelEntry,
    /// Why it cannot serve this request; None when it may.
    pub excluded: Option<String>,
    pub estimated_cost_usd: f64,
    pub latency_ms: f64,
    /// `auto`'s score: weight per estimated USD.
    pub value: f64,
    /// Long or tool-using requests (`auto:escalated`) rank capable models (weight >= 5) first.
    pub capable: bool,
}

/// Every model the caller can see, with why it is left out of `ask` or how it scores.
pub fn considered<'m>(
    models: &'m [ModelEntry],
    ask: &Ask<'_>,
    health: &dyn Health,
) -> Vec<Considered<'m>> {
    models
        .iter()
        .filter(|m| m.visible_to(ask.account_id, ask.workspace_id))
        .map(|m| Considered {
            model: m,
            excluded: exclusion(m, ask, health),
            estimated_cost_usd: estimate(m, ask),
            latency_ms: health.latency_ms(&m.name),
            value: f64::from(m.weight) / estimate(m, ask),
            capable: !escalated(ask) || m.weight >= 5,
        })
        .collect()
}

/// Why `m` cannot serve `ask`, or None.
fn exclusion(m: &ModelEntry, ask: &Ask<'_>, health: &dyn Health) -> Option<String> {
    let needed = ask.input_tokens + ask.max_tokens;
    let p = &ask.policy;
    if !m.enabled {
        return Some("disabled (the model or its provider)".into());
    }
    if m.vault_locked {
        return Some("its provider's key is in the locked vault".into());
    }
    if !health.healthy(&m.name) {
        return Some("circuit breaker open".into());
    }
    if m.context_window < needed {
        return Some(format!(
            "context window {} < {needed} tokens needed",
            m.context_window
        ));
    }
    if m.weight < p.min_weight {
        return Some(format!("weight {} < min_weight {}", m.weight, p.min_weight));
    }
    if let Some(max) = p.max_cost_usd.filter(|max| estimate(m, ask) > *max) {
        return Some(format!(
            "estimated cost {:.6} USD > max_budget_usd {max}",
            estimate(m, ask)
        ));
    }
    if let Some(max) = p
        .max_latency_ms
        .filter(|max| health.latency_ms(&m.name) > *max)
    {
        return Some(format!(
            "latency {:.0} ms > max_latency_ms {max}",
            health.latency_ms(&m.name)
        ));
    }
    None
}

/// What routing knows of a model's health.
pub trait Health {
    fn healthy(&self, model: &str) -> bool;
    /// Latency estimate in ms (a prior when nothing was observed).
    fn latency_ms(&self, model: &str) -> f64;
}

pub fn mode_of(model: &str) -> Option<Mode> {
    match model {
        "auto" => Some(Mode::Auto),
        "fast" => Some(Mode::Fast),
        "max" => Some(Mode::Max),
        "thompson" => Some(Mode::Thompson),
        _ => None,
    }
}

pub struct Plan<'m> {
    pub candidates: Vec<&'m ModelEntry>,
    /// Why the first candidate leads, for the log and the usage row.
    pub method: String,
}

/// Candidates best first; empty when nothing can serve (unknown name, nothing fits).
pub fn plan<'m>(models: &'m [ModelEntry], ask: &Ask<'_>, health: &dyn Health) -> Plan<'m> {
    let usable = usable(models, ask, health);
    let (candidates, method) = match mode_of(ask.model) {
        Some(Mode::Auto) => {
            let method = if escalated(ask) {
                "auto:escalated"
            } else {
                "auto:value"
            };
            (routable(by_value(usable, ask)), method)
        }
        Some(Mode::Fast) => (routable(by_latency(usable, health)), "fast:latency"),
        Some(Mode::Max) => (by_weight(usable, ask), "max:weight"),
        Some(Mode::Thompson) => (routable(by_value(usable, ask)), "thompson"),
        None => (named(usable, ask), "named"),
    };
    Plan {
        candidates,
        method: method.into(),
    }
}

/// Visible to the caller, and nothing excludes it: enabled, healthy, room for the input and
/// `max_tokens`, within the policy.
fn usable<'m>(models: &'m [ModelEntry], ask: &Ask<'_>, health: &dyn Health) -> Vec<&'m ModelEntry> {
    models
        .iter()
        .filter(|m| {
            m.visible_to(ask.account_id, ask.workspace_id) && exclusion(m, ask, health).is_none()
        })
        .collect()
}

/// Long requests and requests with tools go to capable models first.
fn escalated(ask: &Ask<'_>) -> bool {
    ask.has_tools || ask.input_tokens > 2_000
}

/// The request's estimated cost on a model (never zero, so value can divide by it).
fn estimate(m: &ModelEntry, ask: &Ask<'_>) -> f64 {
    m.cost(ask.input_tokens, ask.max_tokens.max(1)).max(1e-9)
}

/// What modes choose from: managed models and each local endpoint's default model, the
/// local ones first (the seed: your endpoint is preferred, managed routing the fallback).
fn routable(mut list: Vec<&ModelEntry>) -> Vec<&ModelEntry> {
    list.retain(|m| m.local.as_ref().is_none_or(|l| l.default));
    list.sort_by_key(|m| m.local.is_none());
    list
}

/// `auto`: capable models first when escalated, then weight per estimated cost.
fn by_value<'m>(mut list: Vec<&'m ModelEntry>, ask: &Ask<'_>) -> Vec<&'m ModelEntry> {
    let escalate = escalated(ask);
    let capable = |m: &ModelEntry| !escalate || m.weight >= 5;
    let value = |m: &ModelEntry| f64::from(m.weight) / estimate(m, ask);
    list.sort_by(|a, b| {
        capable(b)
            .cmp(&capable(a))
            .then(value(b).total_cmp(&value(a)))
            .then(a.name.cmp(&b.name))
    });
    list
}

/// `fast`: lowest observed latency first.
fn by_latency<'m>(mut list: Vec<&'m ModelEntry>, health: &dyn Health) -> Vec<&'m ModelEntry> {
    list.sort_by(|a, b| {
        health
            .latency_ms(&a.name)
            .total_cmp(&health.latency_ms(&b.name))
            .then(a.name.cmp(&b.name))
    });
    list
}

/// `max`: the heaviest model first, the cheaper of equals; local endpoints get no precedence.
fn by_weight<'m>(mut list: Vec<&'m ModelEntry>, ask: &Ask<'_>) -> Vec<&'m ModelEntry> {
    list.retain(|m| m.local.as_ref().is_none_or(|l| l.default));
    list.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then(estimate(a, ask).total_cmp(&estimate(b, ask)))
            .then(a.name.cmp(&b.name))
    });
    list
}

/// A model named (or aliased) by the request first, the `auto` order after it as fallbacks;
/// nothing when no usable model has that name.
fn named<'m>(mut usable: Vec<&'m ModelEntry>, ask: &Ask<'_>) -> Vec<&'m ModelEntry> {
    let is_named =
        |m: &&ModelEntry| m.name == ask.model || m.aliases.iter().any(|a| a == ask.model);
    let Some(i) = usable.iter().position(is_named) else {
        return Vec::new();
    };
    let first = usable.remove(i);
    let mut list = vec![first];
    list.extend(routable(by_value(usable, ask)));
    list
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct H(HashMap<&'static str, (bool, f64)>);
    impl Health for H {
        fn healthy(&self, m: &str) -> bool {
            self.0.get(m).is_none_or(|h| h.0)
        }
        fn latency_ms(&self, m: &str) -> f64 {
            self.0.get(m).map_or(1000.0, |h| h.1)
        }
    }

    fn model(name: &str, weight: u8, window: usize, price: f64) -> ModelEntry {
        ModelEntry {
            name: name.into(),
            provider: "p".into(),
            upstream: name.into(),
            weight,
            context_window: window,
            input_per_1k: price,
            output_per_1k: price * 2.0,
            aliases: vec![format!("{name}-alias")],
            enabled: true,
            vault_locked: false,
            byok_key: None,
            local: None,
        }
    }

    fn names(p: &Plan<'_>) -> Vec<String> {
        p.candidates.iter().map(|m| m.name.clone()).collect()
    }

    fn ask(model: &str, input: usize, tools: bool) -> Ask<'_> {
        Ask {
            model,
            account_id: "acc",
            workspace_id: "ws",
            input_tokens: input,
            max_tokens: 100,
            has_tools: tools,
            policy: Policy::default(),
        }
    }

    #[test]
    fn modes_order_the_candidates() {
        let models = vec![
            model("small", 2, 8_000, 0.0001),
            model("mid", 5, 32_000, 0.001),
            model("big", 9, 128_000, 0.01),
        ];
        let h = H(HashMap::from([
            ("small", (true, 900.0)),
            ("mid", (true, 200.0)),
            ("big", (true, 1500.0)),
        ]));
        assert_eq!(
            names(&plan(&models, &ask("auto", 100, false), &h)),
            ["small", "mid", "big"]
        );
        assert_eq!(
            names(&plan(&models, &ask("auto", 100, true), &h)),
            ["mid", "big", "small"]
        );
        assert_eq!(
            names(&plan(&models, &ask("fast", 100, false), &h)),
            ["mid", "small", "big"]
        );
        assert_eq!(
            names(&plan(&models, &ask("max", 100, false), &h)),
            ["big", "mid", "small"]
        );
        assert_eq!(
            names(&plan(&models, &ask("big-alias", 100, false), &h)),
            ["big", "small", "mid"]
        );
        assert!(plan(&models, &ask("unknown", 100, false), &h)
            .candidates
            .is_empty());
    }

    #[test]
    fn filters_unhealthy_disabled_and_too_long() {
        let mut models = vec![
            model("small", 2, 8_000, 0.0001),
            model("mid", 5, 32_000, 0.001),
            model("big", 9, 128_000, 0.01),
        ];
        models[1].enabled = false;
        let h = H(HashMap::from([("big", (false, 10.0))]));
        assert_eq!(
            names(&plan(&models, &ask("auto", 100, false), &h)),
            ["small"]
        );
        assert!(plan(&models, &ask("auto", 10_000, false), &h)
            .candidates
            .is_empty());
        let h = H(HashMap::new());
        assert_eq!(
            names(&plan(&models, &ask("max", 20_000, false), &h)),
            ["big"]
        );
    }

    #[test]
    fn the_policy_leaves_out_light_costly_and_slow_models_and_says_why() {
        let models = vec![
            model("small", 2, 8_000, 0.0001),
            model("mid", 5, 32_000, 0.001),
            model("big", 9, 128_000, 0.01),
        ];
        let h = H(HashMap::from([("mid", (true, 3000.0))]));
        let mut a = ask("auto", 1000, false);
        a.policy = Policy {
            min_weight: 3,
            max_cost_usd: Some(0.005),
            max_latency_ms: Some(2000.0),
        };
        assert!(plan(&models, &a, &h).candidates.is_empty());
        let why: Vec<String> = considered(&models, &a, &h)
            .into_iter()
            .map(|c| c.excluded.unwrap_or_default())
            .collect();
        assert!(why[0].starts_with("weight 2 < min_weight 3"), "{why:?}");
        assert!(why[1].starts_with("latency 3000 ms"), "{why:?}");
        assert!(why[2].starts_with("estimated cost"), "{why:?}");
        a.policy.max_latency_ms = None;
        assert_eq!(names(&plan(&models, &a, &h)), ["mid"]);
    }

    fn local(name: &str, account: &str, workspace: Option<&str>, default: bool) -> ModelEntry {
        ModelEntry {
            local: Some(LocalOwner {
                endpoint_id: "e".into(),
                account_id: account.into(),
                workspace_id: workspace.map(str::to_string),
                default,
            }),
            ..model(name, 3, 8_000, 0.00001)
        }
    }

    #[test]
    fn local_endpoints_lead_for_their_owner_only() {
        let models = vec![
            model("small", 2, 8_000, 0.0001),
            model("big", 9, 128_000, 0.01),
            local("mine/llama", "acc", None, true),
            local("mine/other", "acc", None, false),
            local("theirs/llama", "someone-else", None, true),
            local("other-ws/llama", "acc", Some("ws2"), true),
        ];
        let h = H(HashMap::new());
        assert_eq!(
            names(&plan(&models, &ask("auto", 100, false), &h)),
            ["mine/llama", "small", "big"]
        );
        assert_eq!(
            names(&plan(&models, &ask("fast", 100, false), &h)),
            ["mine/llama", "big", "small"]
        );
        assert_eq!(
            names(&plan(&models, &ask("max", 100, false), &h)),
            ["big", "mine/llama", "small"]
        );
        assert_eq!(
            names(&plan(&models, &ask("mine/other", 100, false), &h)),
            ["mine/other", "mine/llama", "small", "big"]
        );
        assert!(plan(&models, &ask("theirs/llama", 100, false), &h)
            .candidates
            .is_empty());
        assert!(plan(&models, &ask("other-ws/llama", 100, false), &h)
            .candidates
            .is_empty());
    }
}
