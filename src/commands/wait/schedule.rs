//! When the gate polls next.
//!
//! When GitLab sends a `Poll-Interval` (10 s by default) on the MR's
//! status-check list, that is the pace of the list: GitLab's own frontend
//! polls at the interval it receives, and polling slower only delays the
//! verdict (a pass landing in a 30 s gap waits up to 30 s). The gate's rare
//! reads of the MR's head (another endpoint) come on top. Without a `Poll-Interval`, or when the user asked for a lower interval
//! explicitly, polls back off exponentially with full jitter from the first
//! interval to the longest; `Poll-Interval: -1` means the longest.
//!
//! On top of that pace, the token's rate limit budget may ask for longer (`pace.rs`):
//! many gates sharing one token slow down together before GitLab answers 429.

use std::time::{Duration, Instant};

use super::pace::Pace;
use crate::backoff::{Backoff, Jitter};
use crate::gitlab::Budget;

/// The longest `Poll-Interval` honoured (GitLab's default is 10 s; an admin's
/// multiplier may raise it, a broken proxy may send anything).
pub const MAX_SERVER_FLOOR: Duration = Duration::from_secs(300);

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
    /// The pace without a server's `Poll-Interval`, or below it when `explicit`.
    backoff: Backoff,
    /// What the rate limit budget allows.
    pace: Pace,
}

/// The first poll of gates started together is spread over this.
const START_SPREAD: Duration = Duration::from_secs(1);

impl Schedule {
    pub fn new(interval: Duration, max_interval: Duration, explicit: bool) -> Schedule {
        Schedule {
            interval,
            max_interval: max_interval.max(interval),
            explicit,
            server: ServerHint::Silent,
            backoff: Backoff::new(interval, max_interval, Jitter::Full),
            pace: Pace::new(),
        }
    }

    /// A fixed random sequence, for tests.
    pub fn seeded(mut self, seed: u64) -> Schedule {
        self.backoff = self.backoff.seeded(seed);
        self.pace = self.pace.seeded(seed);
        self
    }

    /// The delay before the first poll: a random part of a second, so that gates started
    /// in the same second (one per merge request of a big pipeline) do not all ask at once.
    pub fn first_delay(&mut self) -> Duration {
        START_SPREAD.min(self.interval).mul_f64(fastrand::f64())
    }

    /// A poll is about to be sent.
    pub fn polling(&mut self) {
        self.pace.polling(Instant::now());
    }

    /// A poll's answer: its rate limit budget, if it carried one.
    pub fn observe_budget(&mut self, budget: Option<Budget>) {
        match budget {
            Some(budget) => self.pace.budget(budget, Instant::now()),
            None => self.pace.no_budget(self.steady(), Instant::now()),
        }
    }

    /// A poll was answered 429: how long to wait before the next one.
    pub fn throttled(&mut self, budget: Option<Budget>, retry_after: Option<Duration>) -> Duration {
        let steady = self.steady();
        self.pace
            .throttled(budget, retry_after, steady, Instant::now())
    }

    /// The pace without a budget to go by: the server's, else the first interval.
    fn steady(&self) -> Duration {
        self.server_pace().unwrap_or(self.interval)
    }

    /// The pace the server sets, when it sets one that applies: its `Poll-Interval`
    /// (unless the user asked for a lower interval), or the longest interval when it
    /// turned polling off.
    fn server_pace(&self) -> Option<Duration> {
        match self.server {
            ServerHint::Disabled => Some(self.max_interval),
            ServerHint::Floor(pace) if !self.explicit => Some(pace.max(self.interval)),
            _ => None,
        }
    }

    /// Takes the `Poll-Interval` header (milliseconds; -1 = polling disabled).
    /// A floor above `MAX_SERVER_FLOOR` is taken as that: a gate that polls
    /// once an hour is no gate.
    pub fn observe_poll_interval(&mut self, header_ms: Option<i64>) {
        match header_ms {
            Some(ms) if ms < 0 => self.server = ServerHint::Disabled,
            Some(ms) if ms > 0 => {
                let floor = Duration::from_millis(ms.unsigned_abs()).min(MAX_SERVER_FLOOR);
                self.server = ServerHint::Floor(floor);
            }
            _ => {}
        }
    }

    /// Something changed: the next poll comes sooner again.
    pub fn reset(&mut self) {
        self.backoff.reset();
    }

    pub fn next_delay(&mut self) -> Duration {
        let base = match self.server_pace() {
            Some(pace) => pace,
            // The gate's backoff has no end: `unwrap_or` is never taken.
            None => self.backoff.next().unwrap_or(self.max_interval),
        };
        self.pace.delay(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn schedule(interval: u64, max: u64, explicit: bool) -> Schedule {
        Schedule::new(MS(interval), MS(max), explicit).seeded(7)
    }

    #[test]
    fn without_a_poll_interval_it_backs_off_within_bounds() {
        let mut s = schedule(100, 1000, false);
        let delays: Vec<Duration> = (0..50).map(|_| s.next_delay()).collect();
        assert!(delays.iter().all(|d| *d >= MS(100) && *d <= MS(1000)));
        assert!(delays.iter().skip(10).any(|d| *d > MS(500)), "backs off");
        assert!(delays.windows(2).any(|w| w[0] != w[1]), "jittered");
    }

    #[test]
    fn the_servers_poll_interval_sets_a_steady_pace() {
        let mut s = schedule(2000, 30_000, false);
        s.observe_poll_interval(Some(10_000));
        let delays: Vec<Duration> = (0..40).map(|_| s.next_delay()).collect();
        assert!(delays.iter().all(|d| *d == MS(10_000)), "{delays:?}");
    }

    #[test]
    fn an_explicit_lower_interval_goes_below_the_poll_interval() {
        let mut s = schedule(100, 1000, true);
        s.observe_poll_interval(Some(10_000));
        assert!((0..30).all(|_| s.next_delay() <= MS(1000)));
    }

    #[test]
    fn an_interval_above_the_poll_interval_is_kept() {
        let mut s = schedule(20_000, 30_000, false);
        s.observe_poll_interval(Some(10_000));
        assert!(s.next_delay() >= MS(20_000));
    }

    #[test]
    fn disabled_polling_means_the_longest_interval() {
        let mut s = schedule(100, 3000, true);
        s.observe_poll_interval(Some(-1));
        assert!((0..10).all(|_| s.next_delay() == MS(3000)));
    }

    #[test]
    fn a_zero_poll_interval_is_ignored() {
        let mut s = schedule(100, 1000, false);
        s.observe_poll_interval(Some(0));
        let delays: Vec<Duration> = (0..30).map(|_| s.next_delay()).collect();
        assert!(delays.iter().all(|d| *d >= MS(100) && *d <= MS(1000)));
        assert!(
            delays.windows(2).any(|w| w[0] != w[1]),
            "backs off, jittered"
        );
        // ...and does not erase a pace the server gave before.
        s.observe_poll_interval(Some(2000));
        s.observe_poll_interval(Some(0));
        assert_eq!(s.next_delay(), MS(2000));
    }

    #[test]
    fn a_server_pace_above_the_max_wins() {
        let mut s = schedule(2000, 5000, false);
        s.observe_poll_interval(Some(60_000));
        assert!(s.next_delay() >= MS(60_000));
    }

    #[test]
    fn an_absurd_poll_interval_is_capped() {
        let mut s = schedule(2000, 5000, false);
        s.observe_poll_interval(Some(i64::MAX));
        assert_eq!(s.next_delay(), MAX_SERVER_FLOOR);
    }

    #[test]
    fn reset_brings_short_delays_back() {
        let mut s = schedule(100, 10_000, false);
        for _ in 0..20 {
            s.next_delay();
        }
        s.reset();
        assert!(s.next_delay() <= MS(100));
    }
}
