//! Login throttling per client IP: after `max_attempts` failed logins inside `window`, the IP
//! is locked out for `lockout`, whatever it sends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    max_attempts: u32,
    window: Duration,
    lockout: Duration,
    state: Mutex<HashMap<IpAddr, IpState>>,
}

#[derive(Default)]
struct IpState {
    failures: Vec<Instant>,
    locked_until: Option<Instant>,
}

impl LoginLimiter {
    pub fn new(max_attempts: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_attempts,
            window,
            lockout,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` while `ip` is locked out.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    pub fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.get(&ip).and_then(|s| s.locked_until) {
            Some(until) if until > now => Err((until - now).as_secs().max(1)),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, ip: IpAddr) {
        self.record_failure_at(ip, Instant::now());
    }

    pub fn record_failure_at(&self, ip: IpAddr, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.len() > 100_000 {
            state.retain(|_, s| s.locked_until.is_some_and(|u| u > now) || !s.failures.is_empty());
        }
        let entry = state.entry(ip).or_default();
        entry
            .failures
            .retain(|t| now.duration_since(*t) < self.window);
        entry.failures.push(now);
        if entry.failures.len() >= self.max_attempts as usize {
            entry.locked_until = Some(now + self.lockout);
            entry.failures.clear();
        }
    }

    pub fn record_success(&self, ip: IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = state.get_mut(&ip) {
            entry.failures.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_ip_for_the_lockout_period() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(300), Duration::from_secs(900));
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let t0 = Instant::now();
        for i in 0..4 {
            limiter.record_failure_at(ip, t0 + Duration::from_secs(i));
            assert!(limiter.check_at(ip, t0 + Duration::from_secs(i)).is_ok());
        }
        limiter.record_failure_at(ip, t0 + Duration::from_secs(5));
        assert!(limiter.check_at(ip, t0 + Duration::from_secs(6)).is_err());
        assert!(limiter
            .check_at("10.0.0.2".parse().expect("ip"), t0)
            .is_ok());
        assert!(limiter
            .check_at(ip, t0 + Duration::from_secs(5 + 901))
            .is_ok());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(300), Duration::from_secs(900));
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let t0 = Instant::now();
        for i in 0..10u64 {
            limiter.record_failure_at(ip, t0 + Duration::from_secs(i * 100));
        }
        assert!(limiter.check_at(ip, t0 + Duration::from_secs(1000)).is_ok());
    }
}
