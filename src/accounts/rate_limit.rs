//! Per-credential requests-per-minute limits, counted in fixed one-minute windows in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the current window ends.
    pub reset_secs: u64,
}

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&self, key: &str, limit: u32) -> Decision {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.check_at(key, limit, now)
    }

    pub fn check_at(&self, key: &str, limit: u32, now_secs: u64) -> Decision {
        let window = now_secs / 60;
        let reset_secs = 60 - now_secs % 60;
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (w, _)| *w == window);
        }
        let entry = windows.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            return Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_secs,
            };
        }
        entry.1 += 1;
        Decision {
            allowed: true,
            limit,
            remaining: limit - entry.1,
            reset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_up_to_the_limit_then_refuses_until_the_next_minute() {
        let limiter = RateLimiter::new();
        for i in 0..3 {
            let d = limiter.check_at("k", 3, 120);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i);
        }
        let refused = limiter.check_at("k", 3, 150);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(limiter.check_at("other", 3, 150).allowed);
        assert!(limiter.check_at("k", 3, 180).allowed);
    }
}
