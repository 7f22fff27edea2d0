//! Per-model health: latency EWMA for `fast`, and a circuit breaker that takes a model out of
//! routing after consecutive failures and lets one request through after a cool-down. The
//! counts and the last error are kept for the admin's health view (`/admin/v1/health`); they
//! live in memory and start again with the process.

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
    successes_total: u64,
    failures_total: u64,
    last_error: Option<(String, String)>,
}

/// What the admin sees of one model's health.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelHealth {
    /// closed, open (out of routing) or half_open (the cool-down passed: the next request
    /// tries it).
    pub breaker: &'static str,
    pub consecutive_failures: u32,
    pub requests: u64,
    pub failures: u64,
    /// Latency EWMA in ms, when any request succeeded.
    pub latency_ewma_ms: Option<f64>,
    /// The last failure: why, and when (RFC 3339).
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

impl ModelHealth {
    /// Failures over attempts, 0 when none were made.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
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
            s.successes_total += 1;
            s.ewma_ms = Some(s.ewma_ms.map_or(ms, |e| ALPHA * ms + (1.0 - ALPHA) * e));
        });
    }

    /// What is known of `model` (an unseen model: closed, nothing counted).
    pub fn report(&self, model: &str) -> ModelHealth {
        self.with(model, |s| {
            let breaker = match s.open_until {
                None => "closed",
                Some(t) if Instant::now() < t => "open",
                Some(_) => "half_open",
            };
            ModelHealth {
                breaker,
                consecutive_failures: s.failures,
                requests: s.successes_total + s.failures_total,
                failures: s.failures_total,
                latency_ewma_ms: s.ewma_ms,
                last_error: s.last_error.as_ref().map(|e| e.0.clone()),
                last_error_at: s.last_error.as_ref().map(|e| e.1.clone()),
            }
        })
    }

    /// Forgets a model's failures (a local endpoint that a recheck found healthy again).
    pub fn reset(&self, model: &str) {
        self.with(model, |s| {
            s.failures = 0;
            s.open_until = None;
        });
    }

    /// A failed attempt at `model`, and why (kept as its last error).
    pub fn failure(&self, model: &str, why: &str) {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        let opened = self.with(model, |s| {
            s.failures += 1;
            s.failures_total += 1;
            s.last_error = Some((why.to_string(), crate::store::time::now()));
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
        b.failure("m", "answered 500");
        b.failure("m", "answered 500");
        assert!(b.healthy("m"), "two failures keep it closed");
        b.failure("m", "timed out");
        assert!(!b.healthy("m"), "the third opens it");
        let seen = b.report("m");
        assert_eq!(seen.breaker, "open");
        assert_eq!((seen.requests, seen.failures), (3, 3));
        assert_eq!(seen.last_error.as_deref(), Some("timed out"));
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
        let seen = b.report("m");
        assert_eq!(seen.breaker, "closed");
        assert_eq!((seen.requests, seen.failures), (5, 3));
        assert!((seen.error_rate() - 0.6).abs() < 1e-9);
    }
}
