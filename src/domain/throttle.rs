//! Progressive throttling of repeated failures: a few are free, then each
//! further failure makes the next attempt wait twice as long as the one
//! before, up to a cap that works as a short temporary lock. A hard lockout
//! would let anyone lock a real user out by failing on purpose; a capped,
//! growing delay keeps guessing slow and lets the real user back in soon.

use std::time::Duration;

/// How failures against one subject (a user, a client address) are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// The delay after the first failure past the free ones.
    pub base_delay: Duration,
    /// The longest delay: the temporary lock.
    pub max_delay: Duration,
}

impl ThrottleRule {
    /// How long attempts must wait after the `failures`-th failure in a row.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures <= self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures - 1).min(31);
        self.base_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Whether the `failures`-th failure reaches the cap: a temporary lock.
    pub fn locks_after(&self, failures: u32) -> bool {
        failures > self.free_failures && self.delay_after(failures) >= self.max_delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> ThrottleRule {
        ThrottleRule {
            free_failures: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }

    #[test]
    fn free_failures_cost_nothing() {
        for failures in 0..=3 {
            assert_eq!(rule().delay_after(failures), Duration::ZERO);
        }
    }

    #[test]
    fn delays_double_then_stop_at_the_cap() {
        let delays: Vec<u64> = (4..=12).map(|n| rule().delay_after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(!rule().locks_after(9));
        assert!(rule().locks_after(10));
        assert_eq!(rule().delay_after(u32::MAX), Duration::from_secs(60));
    }
}
