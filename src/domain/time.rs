//! Points in time, stored as microseconds since the Unix epoch so that every
//! database backend compares and orders them the same way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
    }

    /// A timestamp from microseconds since the Unix epoch.
    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// A timestamp from seconds and nanoseconds since the Unix epoch, or `None`
    /// when it is outside the range identityd can store.
    pub fn from_unix(seconds: i64, nanos: i32) -> Option<Self> {
        let micros = seconds
            .checked_mul(1_000_000)?
            .checked_add(i64::from(nanos) / 1_000)?;
        Some(Self(micros))
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds and the remaining nanoseconds since the Unix epoch.
    pub fn as_unix(self) -> (i64, i32) {
        let seconds = self.0.div_euclid(1_000_000);
        let nanos = (self.0.rem_euclid(1_000_000) * 1_000) as i32;
        (seconds, nanos)
    }

    /// This time moved back by `duration`.
    pub fn minus(self, duration: Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_conversion_round_trips_including_before_the_epoch() {
        for micros in [0, 1, 1_700_000_000_123_456, -1, -1_500_000] {
            let t = Timestamp::from_micros(micros);
            let (s, n) = t.as_unix();
            assert!((0..1_000_000_000).contains(&n));
            assert_eq!(Timestamp::from_unix(s, n), Some(t));
        }
    }

    #[test]
    fn out_of_range_times_are_refused() {
        assert_eq!(Timestamp::from_unix(i64::MAX, 0), None);
    }
}
