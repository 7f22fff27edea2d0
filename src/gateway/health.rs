//! Per-model health: latency EWMA for `fast`, and a circuit breaker that takes a model out of
//! routing after consecutive failures and lets one request through after a cool-down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::gateway::route::Health;

const PRIOR_MS: f64 = 1_000.0;
const ALPHA: f64 = 0.2;

#[derive(Default)]
struct State {
    ewma_ms: Option<f64>,
    failures: u32,
    open_until: Option<Instant>,
}

pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    models: Mutex<HashMap<String, State>>,
}

impl Breakers {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            models: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, model: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut all = self.models.lock().unwrap_or_else(|p| p.into_inner());
        f(all.entry(model.to_string()).or_default())
    }

    pub fn success(&self, model: &str, latency: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        self.with(model, |s| {
            s.failures = 0;
            s.open_until = None;
            s.ewma_ms = Some(s.ewma_ms.map_or(ms, |e| ALPHA * ms + (1.0 - ALPHA) * e));
        });
    }

    /// Forgets a model's failures (a local endpoint that a recheck found healthy again).
    pub fn reset(&self, model: &str) {
        self.with(model, |s| {
            s.failures = 0;
            s.open_until = None;
        });
    }

    pub fn failure(&self, model: &str) {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        let opened = self.with(model, |s| {
            s.failures += 1;
            if s.failures >= threshold {
                s.open_until = Some(Instant::now() + cooldown);
                true
            } else {
                false
            }
        });
        if opened {
            tracing::warn!(model, "circuit breaker open");
        }
    }
}

impl Health for Breakers {
    fn healthy(&self, model: &str) -> bool {
        self.with(model, |s| s.open_until.is_none_or(|t| Instant::now() >= t))
    }

    fn latency_ms(&self, model: &str) -> f64 {
        self.with(model, |s| s.ewma_ms.unwrap_or(PRIOR_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakers_open_after_the_threshold_and_reset_closes_them() {
        let b = Breakers::new(3, Duration::from_secs(30));
        b.failure("m");
        b.failure("m");
        assert!(b.healthy("m"), "two failures keep it closed");
        b.failure("m");
        assert!(!b.healthy("m"), "the third opens it");
        assert!(b.healthy("other"));
        b.reset("m");
        assert!(b.healthy("m"));
        b.success("m", Duration::from_millis(40));
        b.success("m", Duration::from_millis(140));
        assert!(
            (b.latency_ms("m") - 60.0).abs() < 1e-9,
            "EWMA 0.2 * 140 + 0.8 * 40"
        );
        assert_eq!(b.latency_ms("never-seen"), PRIOR_MS);
    }
}
