//! When the gate polls next: the pacing rule, in one place.
//!
//! - **The pace** is GitLab's `Poll-Interval` on the MR's check list (10 s by
//!   default; GitLab's own frontend polls at it), or `--interval` when that is longer:
//!   never faster than GitLab asks. Without one, polls back off with full jitter from
//!   `--interval` to `--max-interval`, back to `--interval` when a check changes;
//!   `Poll-Interval: -1` (polling turned off) means `--max-interval`.
//! - **The token's budget** (`RateLimit-*`, shared by every gate of the token) may
//!   stretch the pace up to `--max-interval` (`budget.rs`).
//! - **After a 429 or a 5xx that says how long to wait** (`Retry-After`, or
//!   `RateLimit-Reset` with nothing remaining), the next poll comes after that wait,
//!   plus a spread of up to a tenth of it (of 5 minutes at most), never before the pace:
//!   the only waits longer than `--max-interval`, with a `Poll-Interval` above it. A
//!   `Retry-After` is waited out in full, however long (a wait past `--timeout` ends
//!   the gate at its timeout); a `RateLimit-Reset`, a time on the server's clock, is
//!   taken up to 5 minutes.
//! - **After one that does not** (a proxy's bare 429, a 502, a reset, a bad body),
//!   a level doubles from the pace, capped at `--max-interval`, and the wait is drawn
//!   between the pace and it; each successful poll halves it, so the gate is back at
//!   the pace within ⌈log₂(max-interval ÷ pace)⌉ polls.
//! - No wait the gate chooses itself is longer than 5 minutes (plus its spread).
//!
//! No clock here: `now` is the time since the wait began, given by the caller.

use std::time::Duration;

use super::budget::{AFTER_RESET_SPREAD, MAX_PACE, Share};
use crate::backoff::{Backoff, Jitter};
use crate::gitlab::Budget;

/// The longest `Poll-Interval` honoured (GitLab's default is 10 s; an admin's
/// multiplier may raise it, a broken proxy may send anything).
pub const MAX_SERVER_FLOOR: Duration = MAX_PACE;

/// The first poll of gates started together is spread over this.
const START_SPREAD: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerHint {
    Silent,
    /// Poll no faster than this.
    Floor(Duration),
    /// `Poll-Interval: -1`: the admin turned polling off; poll as rarely as allowed.
    Disabled,
}

/// A failed request, as far as pacing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setback {
    /// A 429: `Retry-After`, and the budget it carried, if any.
    Throttled {
        retry_after: Option<Duration>,
        budget: Option<Budget>,
    },
    /// A 5xx, a reset, a timeout, a bad body: `Retry-After` if the answer had one.
    Unavailable { retry_after: Option<Duration> },
}

pub struct Pacer {
    interval: Duration,
    max_interval: Duration,
    server: ServerHint,
    /// The pace without a server's `Poll-Interval`.
    backoff: Backoff,
    /// What the rate limit budget allows.
    share: Share,
    /// After a setback that stated no wait: the level the wait may reach.
    level: Option<Duration>,
    rng: fastrand::Rng,
}

impl Pacer {
    pub fn new(interval: Duration, max_interval: Duration) -> Pacer {
        let max_interval = max_interval.max(interval);
        Pacer {
            interval,
            max_interval,
            server: ServerHint::Silent,
            backoff: Backoff::new(interval, max_interval, Jitter::Full),
            share: Share::new(),
            level: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// A fixed random sequence.
    pub fn seeded(mut self, seed: u64) -> Pacer {
        self.backoff = self.backoff.seeded(seed);
        self.share = self.share.seeded(seed.wrapping_add(1));
        self.rng = fastrand::Rng::with_seed(seed.wrapping_add(2));
        self
    }

    /// The delay before the first poll: a random part of a second, so that gates started
    /// in the same second (one per merge request of a big pipeline) do not all ask at once.
    pub fn first_delay(&mut self) -> Duration {
        START_SPREAD.min(self.interval).mul_f64(self.rng.f64())
    }

    /// A list read is sent at `now`.
    pub fn polling(&mut self, now: Duration) {
        self.share.polling(now);
    }

    /// Takes the `Poll-Interval` header (milliseconds; -1 = polling disabled). A floor
    /// above `MAX_SERVER_FLOOR` is taken as that: a gate that polls once an hour is no gate.
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

    /// A successful answer: its rate limit budget, if it carried one.
    pub fn observe_budget(&mut self, budget: Option<Budget>, now: Duration) {
        match budget {
            Some(budget) => self.share.budget(budget, now),
            None => self.share.no_budget(self.steady(), now),
        }
    }

    /// A check changed: without a server pace, the next poll comes sooner again.
    pub fn changed(&mut self) {
        self.backoff.reset();
    }

    /// The delay after a successful round.
    pub fn after_success(&mut self, _now: Duration) -> Duration {
        let base = self.base();
        self.level = self.level.map(|l| l / 2).filter(|l| *l > base);
        let cap = self.max_interval.max(base);
        let paced = self.share.delay(base, cap);
        paced.max(self.draw_below_level(base))
    }

    /// The delay after a failed request.
    pub fn after_setback(&mut self, now: Duration, setback: Setback) -> Duration {
        let asked = match setback {
            Setback::Throttled {
                retry_after,
                budget,
            } => {
                // Only a 429 that tells the budget tells this gate's share of it; a
                // bare one (a proxy's) is a setback like a 502.
                if budget.is_some() {
                    let steady = self.steady();
                    self.share.throttled(budget, steady, now);
                }
                let reset = budget.filter(|b| b.remaining == 0);
                retry_after.or(reset.map(|b| b.reset_in.min(MAX_PACE)))
            }
            Setback::Unavailable { retry_after } => retry_after,
        };
        let base = self.base();
        match asked {
            Some(asked) => {
                let spread = asked
                    .min(MAX_PACE)
                    .mul_f64(AFTER_RESET_SPREAD * self.rng.f64());
                (asked + spread).max(base)
            }
            None => {
                let cap = self.max_interval.max(base);
                let raised = self.level.unwrap_or(base).saturating_mul(2).min(cap);
                self.level = (raised > base).then_some(raised);
                self.draw_below_level(base)
            }
        }
    }

    /// Between `base` and the level of the last setbacks (`base` without one).
    fn draw_below_level(&mut self, base: Duration) -> Duration {
        match self.level {
            Some(level) => base + level.saturating_sub(base).mul_f64(self.rng.f64()),
            None => base,
        }
    }

    /// The pace now: the server's, else the next step of the gate's own backoff.
    fn base(&mut self) -> Duration {
        match self.server_pace() {
            Some(pace) => pace,
            // The gate's backoff has no end: `unwrap_or` is never taken.
            None => self.backoff.next().unwrap_or(self.max_interval),
        }
    }

    /// The pace without a budget to go by: the server's, else the first interval.
    fn steady(&self) -> Duration {
        self.server_pace().unwrap_or(self.interval)
    }

    /// The pace the server sets, when it sets one: its `Poll-Interval` (or `--interval`
    /// when longer), or the longest interval when it turned polling off.
    fn server_pace(&self) -> Option<Duration> {
        match self.server {
            ServerHint::Disabled => Some(self.max_interval),
            ServerHint::Floor(pace) => Some(pace.max(self.interval)),
            ServerHint::Silent => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_first_poll_is_spread_over_a_second_at_most() {
        let mut pacer = Pacer::new(S(10), S(60)).seeded(3);
        let firsts: Vec<Duration> = (0..50).map(|_| pacer.first_delay()).collect();
        assert!(firsts.iter().all(|d| *d < S(1)));
        assert!(firsts.iter().any(|d| *d > Duration::from_millis(500)));
        let mut quick = Pacer::new(Duration::from_millis(200), S(60)).seeded(3);
        assert!((0..50).all(|_| quick.first_delay() < Duration::from_millis(200)));
    }

    #[test]
    fn a_poll_interval_of_zero_is_no_floor() {
        let mut pacer = Pacer::new(S(1), S(60)).seeded(5);
        pacer.observe_poll_interval(Some(0));
        // The gate's own backoff, from --interval towards --max-interval.
        let delays: Vec<Duration> = (0..12).map(|i| pacer.after_success(S(i))).collect();
        assert!(delays.iter().any(|d| *d > S(2)), "{delays:?}");
        assert!(delays[0] < S(4), "not polling turned off: {delays:?}");
        pacer.observe_poll_interval(Some(1500));
        assert_eq!(pacer.after_success(S(20)), Duration::from_millis(1500));
    }

    #[test]
    fn a_429_s_fair_share_counts_this_gate_s_polls() {
        let mut pacer = Pacer::new(S(10), S(300)).seeded(1);
        pacer.observe_poll_interval(Some(10_000));
        for at in [0, 10, 20, 30] {
            pacer.polling(S(at));
        }
        let wait = pacer.after_setback(S(40), throttled(Some(budget(600, 0, 20))));
        assert!(wait >= S(20) && wait <= S(22), "to the reset: {wait:?}");
        // Four polls of the window: a fair share of 4 × 0.9 a minute, above the
        // halved rate, so the rate steps up at once: about 18 s, not 40 s.
        pacer.observe_budget(None, S(62));
        let next = pacer.after_success(S(62));
        assert!(next > S(15) && next < S(22), "{next:?}");
    }

    fn budget(limit: u32, remaining: u32, reset_in: u64) -> Budget {
        Budget {
            limit,
            remaining,
            reset_in: S(reset_in),
        }
    }

    /// A 429 without `Retry-After`, with this budget (`None`: a bare one).
    fn throttled(budget: Option<Budget>) -> Setback {
        Setback::Throttled {
            retry_after: None,
            budget,
        }
    }

    #[test]
    fn after_bare_429s_a_success_halves_the_level_not_more() {
        let mut longest = Duration::ZERO;
        for seed in 0..20 {
            let mut pacer = Pacer::new(S(1), S(8)).seeded(seed);
            pacer.observe_poll_interval(Some(1000));
            for at in 0..3 {
                pacer.after_setback(S(at), throttled(None));
            }
            // The level reached 8 s; one success halves it to 4 s.
            let next = pacer.after_success(S(10));
            assert!(next >= S(1) && next <= S(4), "{next:?}");
            longest = longest.max(next);
        }
        assert!(longest > S(2), "the wait is drawn up to the halved level");
    }

    #[test]
    fn a_429_whose_budget_is_not_spent_states_no_wait() {
        let mut pacer = Pacer::new(S(1), S(2)).seeded(1);
        pacer.observe_poll_interval(Some(1000));
        let wait = pacer.after_setback(S(0), throttled(Some(budget(600, 5, 30))));
        assert!(wait <= S(2), "within --max-interval: {wait:?}");
    }

    #[test]
    fn a_change_brings_the_gate_s_own_backoff_back_to_the_interval() {
        let mut pacer = Pacer::new(S(1), S(60)).seeded(2);
        for i in 0..10 {
            pacer.after_success(S(i));
        }
        pacer.changed();
        assert_eq!(pacer.after_success(S(20)), S(1));
    }

    #[test]
    fn the_budget_of_the_answers_stretches_the_pace() {
        let mut pacer = Pacer::new(S(10), S(300)).seeded(1);
        pacer.observe_poll_interval(Some(10_000));
        pacer.observe_budget(Some(budget(2000, 1500, 60)), S(0));
        assert_eq!(pacer.after_success(S(0)), S(10));
        // 500 spent in one interval: 500 gates share 1,000 for 50 s.
        pacer.observe_budget(Some(budget(2000, 1000, 50)), S(10));
        let next = pacer.after_success(S(10));
        assert!(next >= S(25) && next <= S(31), "{next:?}");
    }

    #[test]
    fn politeness_a_shorter_interval_never_polls_faster_than_the_poll_interval() {
        let mut pacer = Pacer::new(S(1), S(30)).seeded(6);
        pacer.observe_poll_interval(Some(10_000));
        assert!((0..20).all(|i| pacer.after_success(S(i * 10)) == S(10)));
    }

    #[test]
    fn a_longer_interval_is_the_pace_over_a_shorter_poll_interval() {
        let mut pacer = Pacer::new(S(15), S(30)).seeded(6);
        pacer.observe_poll_interval(Some(10_000));
        assert!((0..20).all(|i| pacer.after_success(S(i * 15)) == S(15)));
    }

    #[test]
    fn polling_turned_off_polls_at_the_longest_interval() {
        let mut pacer = Pacer::new(S(1), S(45)).seeded(4);
        pacer.observe_poll_interval(Some(-1));
        assert_eq!(pacer.after_success(S(0)), S(45));
        assert_eq!(pacer.after_success(S(45)), S(45));
    }
}
