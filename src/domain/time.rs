//! Points in time, stored as microseconds since the Unix epoch so that every
//! database backend compares and orders them the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest time RFC 3339 can write: 0001-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000_000);

    /// The latest time RFC 3339 can write: 9999-12-31T23:59:59.999999Z. Later
    /// times cannot be rendered as JSON or as a date in mail.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999_999);

    /// The system time. Read the time through a [`Clock`] (`App::now()`)
    /// instead, so that everything runs on the one clock tests can move;
    /// `tests/api/clock.rs` fails on a call outside this file.
    pub(crate) fn now() -> Self {
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
    /// when it is outside RFC 3339's range ([`Self::MIN`]..=[`Self::MAX`]).
    pub fn from_unix(seconds: i64, nanos: i32) -> Option<Self> {
        let micros = seconds
            .checked_mul(1_000_000)?
            .checked_add(i64::from(nanos) / 1_000)?;
        (Self::MIN.0..=Self::MAX.0)
            .contains(&micros)
            .then_some(Self(micros))
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

    /// This time moved back by `duration`, never before [`Self::MIN`].
    pub fn minus(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(micros_of(duration)).max(Self::MIN.0))
    }

    /// This time moved forward by `duration`, never past [`Self::MAX`], so a
    /// huge configured lifetime still gives a time that can be written down.
    pub fn plus(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(micros_of(duration)).min(Self::MAX.0))
    }

    /// The time as `YYYY-MM-DD HH:MM UTC`, for people (mail, messages).
    pub fn to_utc_minutes(self) -> String {
        let (seconds, _) = self.as_unix();
        let days = seconds.div_euclid(86_400);
        let of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
            of_day / 3_600,
            of_day % 3_600 / 60
        )
    }

    /// The time as RFC 3339 in UTC with microseconds
    /// (`2026-11-24T08:59:00.000000Z`), for documents machines read.
    pub fn to_rfc3339(self) -> String {
        let (seconds, nanos) = self.as_unix();
        let days = seconds.div_euclid(86_400);
        let of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            of_day / 3_600,
            of_day % 3_600 / 60,
            of_day % 60,
            nanos / 1_000
        )
    }

    /// How long after `earlier` this is; zero if it is not after it.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn micros_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Where the use cases read the time: the system clock, shifted by an offset
/// that only tests change (to reach an expiry without waiting for it).
/// Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock, unshifted.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time on this clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::now().shifted(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Moves this clock, and every clone of it, forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        self.offset_micros
            .fetch_add(micros_of(duration), Ordering::Relaxed);
    }
}

impl Timestamp {
    fn shifted(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_minutes_read_like_a_calendar() {
        let t = |s: i64| Timestamp::from_unix(s, 0).unwrap().to_utc_minutes();
        assert_eq!(t(0), "1970-01-01 00:00 UTC");
        assert_eq!(
            Timestamp::from_micros(1_795_510_740_000_123).to_rfc3339(),
            "2026-11-24T08:59:00.000123Z"
        );
        assert_eq!(t(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(t(1_795_510_740), "2026-11-24 08:59 UTC");
        assert_eq!(t(-60), "1969-12-31 23:59 UTC");
    }

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
        // Year 287,000, as an attacker sent it for a credential's expiry.
        assert_eq!(Timestamp::from_unix(8_994_000_000_000, 0), None);
        assert_eq!(Timestamp::from_unix(253_402_300_800, 0), None);
        assert_eq!(Timestamp::from_unix(-62_135_596_801, 0), None);
    }

    #[test]
    fn the_ends_of_rfc3339s_range_are_accepted_and_read_as_dates() {
        let last = Timestamp::from_unix(253_402_300_799, 999_999_999).unwrap();
        assert_eq!(last, Timestamp::MAX);
        assert_eq!(last.to_utc_minutes(), "9999-12-31 23:59 UTC");
        let first = Timestamp::from_unix(-62_135_596_800, 0).unwrap();
        assert_eq!(first, Timestamp::MIN);
        assert_eq!(first.to_utc_minutes(), "0001-01-01 00:00 UTC");
    }

    #[test]
    fn arithmetic_stays_within_rfc3339s_range() {
        let far = Timestamp::MAX.minus(Duration::from_secs(1));
        assert_eq!(far.plus(Duration::from_secs(u64::MAX)), Timestamp::MAX);
        assert_eq!(
            Timestamp::MIN
                .plus(Duration::from_secs(1))
                .minus(Duration::MAX),
            Timestamp::MIN
        );
    }
}
