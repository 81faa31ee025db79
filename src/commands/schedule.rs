//! When the gate polls next: exponential backoff with full jitter from the
//! first interval up to the longest, never faster than the server's
//! `Poll-Interval` unless the user asked for a lower interval explicitly.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerHint {
    Silent,
    /// Poll no faster than this.
    Floor(Duration),
    /// `Poll-Interval: -1`: the admin turned polling off; poll as rarely as allowed.
    Disabled,
}

pub struct Schedule {
    interval: Duration,
    max_interval: Duration,
    /// `--interval` given by the user: it may go below the server's floor.
    explicit: bool,
    /// What the server's `Poll-Interval` said, if anything.
    server: ServerHint,
    attempt: u32,
    rng: fastrand::Rng,
}

impl Schedule {
    pub fn new(interval: Duration, max_interval: Duration, explicit: bool) -> Schedule {
        Schedule {
            interval,
            max_interval: max_interval.max(interval),
            explicit,
            server: ServerHint::Silent,
            attempt: 0,
            rng: fastrand::Rng::new(),
        }
    }

    #[cfg(test)]
    fn seeded(mut self, seed: u64) -> Schedule {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// Takes the `Poll-Interval` header (milliseconds; -1 = polling disabled).
    pub fn observe_poll_interval(&mut self, header_ms: Option<i64>) {
        match header_ms {
            Some(ms) if ms < 0 => self.server = ServerHint::Disabled,
            Some(ms) if ms > 0 => {
                self.server = ServerHint::Floor(Duration::from_millis(ms.unsigned_abs()))
            }
            _ => {}
        }
    }

    /// Something changed: the next poll comes sooner again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The shortest delay allowed now.
    pub fn floor(&self) -> Duration {
        match self.server {
            ServerHint::Disabled => self.max_interval,
            // The server's floor wins, even above --max-interval, unless the
            // user explicitly asked for a shorter interval.
            ServerHint::Floor(floor) if !self.explicit => floor.max(self.interval),
            _ => self.interval,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let exponent = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let cap = self
            .interval
            .saturating_mul(1u32 << exponent)
            .min(self.max_interval);
        // Full jitter: uniform in [0, cap], then kept at or above the floor.
        let jittered = cap.mul_f64(self.rng.f64());
        jittered.max(self.floor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn grows_to_the_max_and_stays_within_bounds() {
        let mut s = Schedule::new(MS(100), MS(1000), false).seeded(7);
        let delays: Vec<Duration> = (0..50).map(|_| s.next_delay()).collect();
        assert!(delays.iter().all(|d| *d >= MS(100) && *d <= MS(1000)));
        assert!(delays.iter().skip(10).any(|d| *d > MS(500)), "backs off");
    }

    #[test]
    fn first_delay_is_the_interval_floor() {
        let mut s = Schedule::new(MS(2000), MS(30_000), false).seeded(1);
        assert!(s.next_delay() >= MS(2000));
    }

    #[test]
    fn poll_interval_is_a_floor_unless_a_lower_interval_was_asked_for() {
        let mut s = Schedule::new(MS(2000), MS(30_000), false).seeded(3);
        s.observe_poll_interval(Some(10_000));
        assert!((0..30).all(|_| s.next_delay() >= MS(10_000)));

        let mut explicit = Schedule::new(MS(100), MS(30_000), true).seeded(3);
        explicit.observe_poll_interval(Some(10_000));
        assert_eq!(explicit.floor(), MS(100));
    }

    #[test]
    fn disabled_polling_means_the_longest_interval() {
        let mut s = Schedule::new(MS(100), MS(3000), true).seeded(5);
        s.observe_poll_interval(Some(-1));
        assert!((0..10).all(|_| s.next_delay() == MS(3000)));
    }

    #[test]
    fn a_server_floor_above_the_max_wins() {
        let mut s = Schedule::new(MS(2000), MS(5000), false).seeded(9);
        s.observe_poll_interval(Some(60_000));
        assert_eq!(s.next_delay(), MS(60_000));
    }

    #[test]
    fn reset_brings_short_delays_back() {
        let mut s = Schedule::new(MS(100), MS(10_000), false).seeded(11);
        for _ in 0..20 {
            s.next_delay();
        }
        s.reset();
        let d = s.next_delay();
        assert!(d <= MS(100), "{d:?}");
    }
}
