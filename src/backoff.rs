//! Exponential backoff with jitter: the one implementation, for the client's retries
//! and the gate's polls.
//!
//! Step n is `first × 2ⁿ`, capped at `max`. How the delay is drawn from the step is the
//! caller's choice:
//! - [`Jitter::Added`] (the client's retries): the step plus up to one more step, so a
//!   retry never comes sooner than the step and `--retries` attempts outlast a short
//!   outage.
//! - [`Jitter::Full`] (the gate's polls): uniform up to the step, kept at or above
//!   `first`, so that many gates polling one GitLab spread out.

use std::time::Duration;

/// Above this exponent the step is past any cap anyway; it keeps `2ⁿ` in range.
const MAX_EXPONENT: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Jitter {
    /// In `[step, 2 × step)`.
    Added,
    /// In `[first, step]`.
    Full,
}

pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    jitter: Jitter,
    /// Delays given since the start or the last `reset`.
    attempt: u32,
    /// How many delays it gives; `None`: no end.
    limit: Option<usize>,
    rng: fastrand::Rng,
}

impl Backoff {
    /// From `first` up to `max` (at least `first`), without end.
    pub(crate) fn new(first: Duration, max: Duration, jitter: Jitter) -> Backoff {
        Backoff {
            first,
            max: max.max(first),
            jitter,
            attempt: 0,
            limit: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// Ends after `times` delays (the client's `--retries`).
    pub(crate) fn limited(mut self, times: usize) -> Backoff {
        self.limit = Some(times);
        self
    }

    /// A fixed random sequence, for tests.
    pub(crate) fn seeded(mut self, seed: u64) -> Backoff {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// Back to the first step.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    fn step(&self) -> Duration {
        self.first
            .saturating_mul(1u32 << self.attempt.min(MAX_EXPONENT))
            .min(self.max)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self
            .limit
            .is_some_and(|limit| self.attempt as usize >= limit)
        {
            return None;
        }
        let step = self.step();
        self.attempt = self.attempt.saturating_add(1);
        Some(match self.jitter {
            Jitter::Added => step.saturating_add(step.mul_f64(self.rng.f64())),
            Jitter::Full => step.mul_f64(self.rng.f64()).max(self.first),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn added_jitter_doubles_from_the_first_delay_up_to_the_cap() {
        let delays: Vec<Duration> = Backoff::new(MS(100), MS(1000), Jitter::Added)
            .limited(6)
            .seeded(7)
            .collect();
        assert_eq!(delays.len(), 6, "one delay per retry");
        let steps = [100, 200, 400, 800, 1000, 1000];
        for (delay, step) in delays.iter().zip(steps) {
            assert!(*delay >= MS(step) && *delay < MS(2 * step), "{delays:?}");
        }
    }

    #[test]
    fn full_jitter_stays_between_the_first_delay_and_the_step() {
        let mut backoff = Backoff::new(MS(100), MS(1000), Jitter::Full).seeded(7);
        let delays: Vec<Duration> = backoff.by_ref().take(50).collect();
        assert!(delays.iter().all(|d| *d >= MS(100) && *d <= MS(1000)));
        assert!(delays.iter().skip(10).any(|d| *d > MS(500)), "backs off");
        assert!(delays.windows(2).any(|w| w[0] != w[1]), "jittered");
        backoff.reset();
        assert_eq!(backoff.next(), Some(MS(100)), "the first step is the floor");
    }

    #[test]
    fn no_retries_means_no_delay() {
        assert_eq!(
            Backoff::new(MS(100), MS(1000), Jitter::Added)
                .limited(0)
                .next(),
            None
        );
        assert_eq!(
            Backoff::new(Duration::ZERO, MS(30_000), Jitter::Added)
                .limited(3)
                .collect::<Vec<_>>(),
            [Duration::ZERO; 3]
        );
    }
}
