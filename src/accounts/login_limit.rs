//! Login throttling per client network: an IPv4 address, or an IPv6 /64 (one subscriber's
//! allocation, so rotating addresses inside it buys nothing).
//!
//! Every attempt takes a slot *before* the password is checked, so concurrent guesses cannot
//! all pass a check made before any of them failed; a successful login hands its own slot
//! back (and only its own: successes never erase failures). More than `max_attempts` attempts
//! inside `window` lock the network out for `lockout`, whatever it sends. Both tables are moka
//! caches: entries expire on their own and the number tracked is capped.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// The most networks each table tracks; past it moka evicts the least used entries.
const MAX_TRACKED: u64 = 100_000;

pub struct LoginLimiter {
    max_attempts: u32,
    lockout: Duration,
    /// Attempts per network, in a fixed window that starts at the network's first attempt.
    attempts: Cache<IpAddr, Arc<AtomicU32>>,
    /// Locked-out networks and when their lockout ends.
    locked: Cache<IpAddr, Instant>,
}

/// One admitted login attempt. Dropping it keeps the slot taken (a failure, or an error on
/// the way); [`Attempt::succeeded`] gives it back.
#[must_use = "an attempt is counted until it is marked as succeeded"]
pub struct Attempt {
    counter: Arc<AtomicU32>,
}

impl Attempt {
    pub fn succeeded(self) {
        // Saturating: the window may have restarted meanwhile; never wrap below zero.
        let _ = self
            .counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(1))
            });
    }
}

impl LoginLimiter {
    pub fn new(max_attempts: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_attempts,
            lockout,
            attempts: Cache::builder()
                .max_capacity(MAX_TRACKED)
                .time_to_live(window)
                .build(),
            locked: Cache::builder()
                .max_capacity(MAX_TRACKED)
                .time_to_live(lockout)
                .build(),
        }
    }

    /// Takes a slot for a login attempt from `ip`, or `Err(seconds)` while its network is
    /// locked out (this attempt may be the one that locks it).
    pub fn begin(&self, ip: IpAddr) -> Result<Attempt, u64> {
        let network = network_of(ip);
        let now = Instant::now();
        if let Some(until) = self.locked.get(&network) {
            if until > now {
                return Err((until - now).as_secs().max(1));
            }
        }
        let counter = self
            .attempts
            .get_with(network, || Arc::new(AtomicU32::new(0)));
        let taken = counter.fetch_add(1, Ordering::SeqCst).saturating_add(1);
        if taken > self.max_attempts {
            self.locked.insert(network, now + self.lockout);
            return Err(self.lockout.as_secs().max(1));
        }
        Ok(Attempt { counter })
    }

    /// Networks with a live entry in either table (after pending expiries are applied).
    pub fn tracked(&self) -> u64 {
        self.attempts.run_pending_tasks();
        self.locked.run_pending_tasks();
        self.attempts.entry_count() + self.locked.entry_count()
    }
}

/// The key a client is counted under: IPv4 (an IPv4-mapped IPv6 address included) as is,
/// IPv6 by its /64 prefix.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn limiter(window_ms: u64, lockout_ms: u64) -> LoginLimiter {
        LoginLimiter::new(
            5,
            Duration::from_millis(window_ms),
            Duration::from_millis(lockout_ms),
        )
    }

    #[test]
    fn the_sixth_attempt_in_a_window_locks_the_network_out() {
        let limiter = limiter(300_000, 900_000);
        for _ in 0..5 {
            let _failed = limiter.begin(ip("10.0.0.1")).expect("admitted");
        }
        assert!(limiter.begin(ip("10.0.0.1")).is_err());
        assert!(limiter.begin(ip("10.0.0.1")).is_err());
        assert!(limiter.begin(ip("10.0.0.2")).is_ok());
    }

    #[test]
    fn a_success_gives_back_its_own_slot_only() {
        let limiter = limiter(300_000, 900_000);
        for _ in 0..20 {
            limiter.begin(ip("10.0.0.1")).expect("admitted").succeeded();
        }
        for _ in 0..4 {
            let _failed = limiter.begin(ip("10.0.0.1")).expect("admitted");
        }
        limiter.begin(ip("10.0.0.1")).expect("admitted").succeeded();
        let _failed = limiter
            .begin(ip("10.0.0.1"))
            .expect("fifth failure admitted");
        assert!(limiter.begin(ip("10.0.0.1")).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(network_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(network_of(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        let limiter = limiter(300_000, 900_000);
        for host in 1..=5 {
            let _failed = limiter
                .begin(ip(&format!("2001:db8:1:2::{host}")))
                .expect("admitted");
        }
        assert!(limiter.begin(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(limiter.begin(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn entries_expire_with_their_window_and_lockout() {
        let limiter = limiter(150, 150);
        for _ in 0..6 {
            let _ = limiter.begin(ip("10.0.0.1"));
        }
        assert!(limiter.begin(ip("10.0.0.1")).is_err());
        assert_eq!(limiter.tracked(), 2);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(limiter.tracked(), 0);
        assert!(limiter.begin(ip("10.0.0.1")).is_ok());
    }
}
