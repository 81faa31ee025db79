//! The gate's share of the token's rate limit budget. Times are the gate's clock: a
//! `Duration` since the wait began (no clock is read here).
//!
//! Many gates poll GitLab with one token, and GitLab counts their requests together:
//! `RateLimit-Limit` a minute, `RateLimit-Remaining` left until `RateLimit-Reset`. A gate
//! cannot see the others, but it sees the shared counter: between two of its polls the
//! remaining budget fell by D, so about D × (its interval ÷ the time that passed) gates
//! poll as often as it does. Spending what is left evenly until the reset needs an
//! interval of n × T ÷ R (T to the reset, R left, kept at 90 %): every gate that reads
//! the same counter slows down by the same rule, and none waits longer than the
//! Poll-Interval while the budget lasts.
//!
//! Where GitLab sends the budget only with a 429, the 429 is the signal: the poll rate
//! halves, or falls to the fair share that the 429's headers and the gate's own polls
//! of the window tell (a 429 means the token spent its whole budget: with k polls of
//! this gate in it, one poll per window ÷ k is this gate's share), and the next poll
//! comes after the reset (spread over a tenth of the new interval, so that the gates
//! throttled together do not return in the same instant). Each successful poll then raises the rate by a
//! step (additive increase): quickly up to that fair share, slowly beyond it, back to
//! the Poll-Interval.

use std::collections::VecDeque;
use std::time::Duration;

use crate::gitlab::Budget;

/// GitLab states `RateLimit-Limit` per minute.
const WINDOW: Duration = Duration::from_secs(60);
/// The share of what is left a gate plans to spend: room for estimates that lag.
const UTILIZATION: f64 = 0.9;
/// After a 429, a successful poll raises the rate by this share of the Poll-Interval's
/// rate while below the fair share the 429 told...
const RECOVERY_FAST: f64 = 0.05;
/// ...and above it, the rate climbs back to the Poll-Interval's evenly over this long:
/// gates sharing a token must not all return to full speed together, and as some of
/// them finish, the others get their share.
const RECOVERY_TIME: Duration = Duration::from_secs(600);
/// Gates throttled together come back after the reset spread over this share of their
/// new interval.
pub(crate) const AFTER_RESET_SPREAD: f64 = 0.1;
/// One 429 lowers the rate by at most this factor: a 429 that claims a huge share of
/// the budget went elsewhere (another user of the token) slows the gate step by step.
const MAX_CUT: f64 = 4.0;
/// No pace is slower than this; a gate that polls once in ten minutes is no gate.
pub(crate) const MAX_PACE: Duration = Duration::from_secs(300);
/// Two budgets whose resets are this close belong to the same window.
const SAME_WINDOW: Duration = Duration::from_secs(2);

/// The budget seen on a poll.
struct Seen {
    remaining: u32,
    reset_at: Duration,
    at: Duration,
}

pub(crate) struct Share {
    last: Option<Seen>,
    /// The gates (counted in polls like this gate's) sharing the budget: a moving
    /// average of what the counter showed.
    sharing: Option<f64>,
    /// The interval the budget allows, from the last budget seen; `None`: no limit.
    budget_interval: Option<Duration>,
    /// The last budget seen was spent: the wait to its reset (spread), which GitLab's
    /// headers ask for and so may exceed `--max-interval`.
    exhausted: Option<Duration>,
    /// The poll rate (per second) after a 429, when the answers carry no budget;
    /// `None`: the Poll-Interval's.
    throttled_rate: Option<f64>,
    /// The fair rate the last 429 told, if its headers did.
    fair_rate: Option<f64>,
    /// Since when, and from which rate, the rate climbs back to the Poll-Interval's.
    climbing: Option<(Duration, f64)>,
    /// The delay this gate last planned before a poll.
    planned: Option<Duration>,
    /// This gate's polls of the last minute, to count its share when throttled.
    polls: VecDeque<Duration>,
    rng: fastrand::Rng,
}

impl Share {
    pub(crate) fn new() -> Share {
        Share {
            last: None,
            sharing: None,
            budget_interval: None,
            exhausted: None,
            throttled_rate: None,
            fair_rate: None,
            climbing: None,
            planned: None,
            polls: VecDeque::new(),
            rng: fastrand::Rng::new(),
        }
    }

    /// A fixed random sequence, for tests.
    pub(crate) fn seeded(mut self, seed: u64) -> Share {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// A poll is sent now.
    pub(crate) fn polling(&mut self, now: Duration) {
        while self
            .polls
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > WINDOW)
        {
            self.polls.pop_front();
        }
        self.polls.push_back(now);
    }

    /// The poll's answer carried the budget.
    pub(crate) fn budget(&mut self, budget: Budget, now: Duration) {
        let reset_at = now + budget.reset_in;
        if let Some(seen) = self
            .last
            .as_ref()
            .filter(|s| same_window(s.reset_at, reset_at) && s.remaining >= budget.remaining)
        {
            let spent = f64::from(seen.remaining - budget.remaining);
            let elapsed = now.saturating_sub(seen.at).as_secs_f64();
            // A missed poll doubles both what was spent and the time it took: count
            // gates per planned interval, not per gap. (Two readings at once: p ÷ 0
            // is infinite or NaN, and `min` makes either 1.)
            let gates = match self.planned {
                Some(p) => spent * (p.as_secs_f64() / elapsed).min(1.0),
                None => spent,
            };
            self.sharing = Some(match self.sharing {
                Some(avg) => (avg + gates) / 2.0,
                None => gates,
            });
        }
        self.last = Some(Seen {
            remaining: budget.remaining,
            reset_at,
            at: now,
        });
        // The answers carry the budget: it, not a 429's guess, sets the pace.
        self.throttled_rate = None;
        let sharing = self.sharing.unwrap_or(1.0).max(1.0);
        let usable = (f64::from(budget.remaining) * UTILIZATION).floor();
        if usable >= sharing {
            self.budget_interval = Some(secs(sharing * budget.reset_in.as_secs_f64() / usable));
            self.exhausted = None;
        } else {
            // Not enough for one more round: come back in the next window, spread over
            // the interval its fresh budget allows (at most a tenth of the wait).
            let fresh = sharing * WINDOW.as_secs_f64() / (f64::from(budget.limit) * UTILIZATION);
            let spread = secs(fresh).min(budget.reset_in.mul_f64(AFTER_RESET_SPREAD));
            self.budget_interval = None;
            self.exhausted = Some(budget.reset_in.min(MAX_PACE) + spread.mul_f64(self.rng.f64()));
        }
    }

    /// The poll's answer carried no budget: recover from a 429, quickly up to the fair
    /// share the 429 told, then evenly over `RECOVERY_TIME` to the Poll-Interval's rate.
    pub(crate) fn no_budget(&mut self, poll_interval: Duration, now: Duration) {
        self.budget_interval = None;
        self.exhausted = None;
        let Some(rate) = self.throttled_rate else {
            return;
        };
        let full = 1.0 / poll_interval.as_secs_f64().max(0.001);
        let next = match self.fair_rate {
            Some(fair) if rate < fair => (rate + RECOVERY_FAST * full).min(fair),
            _ => {
                let (since, from) = *self.climbing.get_or_insert((now, rate));
                let share = now.saturating_sub(since).as_secs_f64() / RECOVERY_TIME.as_secs_f64();
                from + (full - from) * share
            }
        };
        self.throttled_rate = (next < full).then_some(next);
        if self.throttled_rate.is_none() {
            self.climbing = None;
        }
    }

    /// A 429: the rate falls (by half, or to the fair share its headers tell). How long
    /// to wait before the next poll is the caller's (`Pacer`): what the 429 asked.
    pub(crate) fn throttled(
        &mut self,
        budget: Option<Budget>,
        poll_interval: Duration,
        now: Duration,
    ) {
        let rate = 1.0 / self.interval(poll_interval).as_secs_f64().max(0.001);
        self.fair_rate = budget.map(|b| self.fair_rate_of(b, now));
        let lowered = match self.fair_rate {
            Some(fair) => (rate / 2.0).min(fair),
            None => rate / 2.0,
        };
        let floor = 1.0 / MAX_PACE.as_secs_f64();
        let next = lowered.max(rate / MAX_CUT).max(floor);
        self.throttled_rate = Some(next);
        self.climbing = None;
        self.budget_interval = None;
        self.exhausted = None;
        self.last = None;
    }

    /// On a 429 the token spent its whole budget; this gate's polls since the window
    /// began are its share of it: k polls in a window of W make W ÷ k fair (at 90 %).
    fn fair_rate_of(&self, budget: Budget, now: Duration) -> f64 {
        let began = now.checked_sub(WINDOW.saturating_sub(budget.reset_in));
        let mine = self
            .polls
            .iter()
            .filter(|t| began.is_none_or(|b| **t >= b))
            .count()
            .max(1);
        mine as f64 / WINDOW.as_secs_f64() * UTILIZATION
    }

    /// The interval now, at least the Poll-Interval.
    fn interval(&self, poll_interval: Duration) -> Duration {
        let throttled = self.throttled_rate.map(|rate| secs(1.0 / rate));
        [self.budget_interval, throttled]
            .into_iter()
            .flatten()
            .fold(poll_interval, Duration::max)
    }

    /// The delay before the next poll: `base` (the Poll-Interval, or the gate's own
    /// schedule) unless the budget asks for longer, then jittered by ±10 % so that gates
    /// reading the same counter do not poll in step, and never above `cap`
    /// (`--max-interval`, or a longer Poll-Interval). Only a spent budget waits past
    /// `cap`: to its reset, as GitLab's headers ask.
    pub(crate) fn delay(&mut self, base: Duration, cap: Duration) -> Duration {
        let paced = self.interval(base);
        let delay = if paced > base {
            paced.mul_f64(0.9 + 0.2 * self.rng.f64()).max(base)
        } else {
            base
        };
        let delay = match self.exhausted {
            Some(wait) => wait.max(base),
            None => delay.min(cap.max(base)),
        };
        let delay = delay.min(MAX_PACE.max(base) + MAX_PACE.mul_f64(AFTER_RESET_SPREAD));
        self.planned = Some(delay);
        delay
    }
}

fn same_window(a: Duration, b: Duration) -> bool {
    let gap = a.abs_diff(b);
    gap <= SAME_WINDOW
}

/// Seconds as a duration; whatever the arithmetic gave, within `0..=MAX_PACE`.
fn secs(s: f64) -> Duration {
    if s.is_finite() {
        Duration::from_secs_f64(s.clamp(0.0, MAX_PACE.as_secs_f64()))
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const PI: Duration = Duration::from_secs(10);
    /// A --max-interval that does not cap the budget's pace.
    const BIG: Duration = Duration::from_secs(300);

    #[test]
    fn arithmetic_that_went_astray_is_no_pace_or_the_longest() {
        assert_eq!(secs(1.5), Duration::from_millis(1500));
        assert_eq!(secs(0.0), Duration::ZERO);
        assert_eq!(secs(-3.0), Duration::ZERO);
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(f64::INFINITY), Duration::ZERO);
        assert_eq!(secs(1e12), MAX_PACE);
    }

    fn budget(limit: u32, remaining: u32, reset_in: u64) -> Budget {
        Budget {
            limit,
            remaining,
            reset_in: S(reset_in),
        }
    }

    #[test]
    fn with_budget_to_spare_the_poll_interval_holds() {
        let mut pace = Share::new().seeded(1);
        let t0 = Duration::ZERO;
        pace.budget(budget(2000, 1999, 60), t0);
        assert_eq!(pace.delay(PI, BIG), PI);
        // One request of its own per poll: alone on the token.
        pace.budget(budget(2000, 1998, 50), t0 + PI);
        assert_eq!(pace.delay(PI, BIG), PI);
    }

    #[test]
    fn many_gates_on_one_token_slow_down_to_their_fair_share() {
        let mut pace = Share::new().seeded(1);
        let t0 = Duration::ZERO;
        pace.budget(budget(2000, 2000 - 500, 60), t0);
        assert_eq!(pace.delay(PI, BIG), PI, "one reading tells nothing yet");
        // 500 requests in one 10 s interval: 500 gates; 1000 left for 50 s.
        pace.budget(budget(2000, 1000, 50), t0 + PI);
        let d = pace.delay(PI, BIG);
        // 500 × 50 ÷ 900 ≈ 27.8 s, ±10 %.
        assert!(d >= S(25) && d <= S(31), "{d:?}");
    }

    #[test]
    fn an_exhausted_budget_waits_for_the_next_window() {
        let mut pace = Share::new().seeded(1);
        let t0 = Duration::ZERO;
        pace.budget(budget(2000, 400, 30), t0);
        pace.budget(budget(2000, 0, 20), t0 + PI);
        let d = pace.delay(PI, BIG);
        assert!(d >= S(18), "at least the reset (20 s, −10 %): {d:?}");
    }

    #[test]
    fn a_throttled_gate_falls_to_its_fair_share_and_recovers_slowly() {
        let mut pace = Share::new().seeded(1);
        let t0 = Duration::ZERO;
        for i in 0..4 {
            pace.polling(t0 + PI * i);
        }
        // Throttled 40 s into the window after 4 polls of its own: one poll per
        // 60 ÷ 4 s is its share (÷ 0.9: 16.7 s); halving the rate gives 20 s.
        pace.throttled(Some(budget(2000, 0, 20)), PI, t0 + S(40));
        let backed = pace.delay(PI, BIG);
        assert!(backed >= S(18) && backed <= S(22), "halved: {backed:?}");
        // Quickly back to the fair share (a step of a 20th of the full rate a poll)...
        let t1 = t0 + S(60);
        pace.no_budget(PI, t1);
        pace.no_budget(PI, t1);
        let fair = pace.delay(PI, BIG);
        assert!(fair >= S(15) && fair <= S(19), "fair: {fair:?}");
        // ...then evenly, over ten minutes, to the Poll-Interval.
        pace.no_budget(PI, t1);
        pace.no_budget(PI, t1 + S(300));
        let halfway = pace.delay(PI, BIG);
        assert!(halfway >= S(11) && halfway <= S(14), "{halfway:?}");
        pace.no_budget(PI, t1 + S(601));
        assert_eq!(pace.delay(PI, BIG), PI);
    }

    #[test]
    fn a_429_without_headers_halves_the_rate() {
        let mut pace = Share::new().seeded(1);
        pace.throttled(None, PI, Duration::ZERO);
        let d = pace.delay(PI, BIG);
        assert!(d >= S(18) && d <= S(22), "{d:?}");
        assert_eq!(pace.delay(PI, S(15)), S(15), "never above --max-interval");
    }

    #[test]
    fn one_429_cuts_the_rate_by_four_at_most() {
        // A 429 whose budget went elsewhere (1 poll of this gate for a limit of 600).
        let mut pace = Share::new().seeded(1);
        let now = Duration::ZERO;
        pace.polling(now);
        pace.throttled(Some(budget(600, 0, 1)), S(1), now);
        let d = pace.delay(S(1), BIG);
        assert!(d <= S(5), "{d:?}");
    }

    #[test]
    fn nothing_waits_longer_than_the_cap() {
        let mut pace = Share::new().seeded(1);
        let now = Duration::ZERO;
        for _ in 0..20 {
            pace.throttled(None, PI, now);
        }
        assert!(pace.delay(PI, BIG) <= MAX_PACE);
        pace.budget(budget(1, 0, 3600), now);
        assert!(
            pace.delay(PI, S(30)) <= MAX_PACE.mul_f64(1.1),
            "a spent budget waits for its reset, capped"
        );
        assert!(
            pace.delay(PI, S(30)) > S(30),
            "past --max-interval: GitLab asked"
        );
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(1)
    }

    #[test]
    fn the_share_counts_gates_per_planned_interval_and_averages() {
        let mut pace = Share::new().seeded(1);
        pace.planned = Some(S(10));
        pace.budget(budget(2000, 1500, 60), S(0));
        assert_eq!(pace.sharing, None, "one reading tells nothing");
        // 40 spent in 20 s, twice the planned 10 s: 20 gates per interval.
        pace.budget(budget(2000, 1460, 40), S(20));
        assert_eq!(pace.sharing, Some(20.0));
        let usable = (1460.0_f64 * 0.9).floor();
        assert!(close(
            pace.budget_interval.unwrap(),
            secs(20.0 * 40.0 / usable)
        ));
        // 60 spent in 10 s: 60 gates; the average of the two is 40.
        pace.budget(budget(2000, 1400, 30), S(30));
        assert_eq!(pace.sharing, Some(40.0));
        let usable = (1400.0_f64 * 0.9).floor();
        assert!(close(
            pace.budget_interval.unwrap(),
            secs(40.0 * 30.0 / usable)
        ));
    }

    #[test]
    fn two_readings_at_once_count_what_was_spent() {
        for planned in [S(0), S(10)] {
            let mut pace = Share::new().seeded(1);
            pace.planned = Some(planned);
            pace.budget(budget(2000, 1500, 60), S(5));
            pace.budget(budget(2000, 1470, 60), S(5));
            assert_eq!(pace.sharing, Some(30.0));
        }
    }

    #[test]
    fn a_reading_of_another_window_counts_nothing() {
        let mut pace = Share::new().seeded(1);
        pace.budget(budget(2000, 1000, 5), S(0));
        // A new window (its reset 55 s away), with less left than before.
        pace.budget(budget(2000, 900, 55), S(10));
        assert_eq!(pace.sharing, None);
        // The same window, with more left than before (a counter that went back).
        pace.budget(budget(2000, 950, 45), S(20));
        assert_eq!(pace.sharing, None);
    }

    #[test]
    fn a_spent_budget_waits_to_the_reset_spread_over_the_fresh_interval() {
        let mut pace = Share::new().seeded(7);
        pace.sharing = Some(50.0);
        pace.budget(budget(600, 0, 120), S(0));
        // The fresh window allows 50 gates one poll per 50 × 60 ÷ 540 s.
        let spread = secs(50.0 * 60.0 / (600.0 * 0.9)).min(S(120).mul_f64(0.1));
        let drawn = fastrand::Rng::with_seed(7).f64();
        assert!(close(
            pace.exhausted.unwrap(),
            S(120) + spread.mul_f64(drawn)
        ));
        assert_eq!(pace.budget_interval, None);
    }

    #[test]
    fn after_a_429_the_rate_steps_up_to_the_fair_share_then_climbs_to_the_full_rate() {
        let mut pace = Share::new().seeded(1);
        pace.throttled_rate = Some(0.02);
        pace.fair_rate = Some(0.5);
        pace.no_budget(PI, S(0));
        // A twentieth of the Poll-Interval's rate (0.1/s) a poll.
        assert!((pace.throttled_rate.unwrap() - 0.025).abs() < 1e-12);
        pace.fair_rate = None;
        pace.throttled_rate = Some(0.05);
        pace.no_budget(PI, S(100));
        assert_eq!(pace.climbing, Some((S(100), 0.05)));
        pace.no_budget(PI, S(400));
        assert!((pace.throttled_rate.unwrap() - 0.075).abs() < 1e-12);
        // Exactly at the end of the climb: the full rate, not throttled any more.
        pace.no_budget(PI, S(700));
        assert_eq!(pace.throttled_rate, None);
        assert_eq!(pace.climbing, None);
    }

    #[test]
    fn a_poll_a_minute_old_is_still_in_the_window() {
        let mut pace = Share::new().seeded(1);
        pace.polling(S(0));
        pace.polling(S(60));
        assert_eq!(pace.polls.len(), 2);
        pace.polling(S(61));
        assert_eq!(pace.polls.len(), 2, "the poll of 0 s left at 61 s");
        // A 429 whose window began at 1 s: two of its polls in it.
        pace.throttled(Some(budget(600, 0, 0)), PI, S(61));
        assert!((pace.fair_rate.unwrap() - 2.0 / 60.0 * 0.9).abs() < 1e-12);
    }

    #[test]
    fn a_spent_budget_waits_to_its_reset_capped_at_five_minutes_and_a_tenth() {
        for seed in 0..20 {
            let mut pace = Share::new().seeded(seed);
            pace.budget(budget(1, 0, 3600), S(0));
            let d = pace.delay(PI, S(30));
            assert!(d >= MAX_PACE && d <= MAX_PACE.mul_f64(1.1), "{d:?}");
        }
    }

    #[test]
    fn a_budget_with_no_limit_waits_to_its_reset_unspread() {
        let mut pace = Share::new().seeded(3);
        pace.budget(budget(0, 0, 40), S(0));
        assert_eq!(pace.exhausted, Some(S(40)));
    }
}
