//! The gate's sign of life: every `--progress-every` (5 minutes by default), one
//! line on stderr saying what is still pending, so a quiet gate does not look
//! hung: `still waiting: 2 pending ("security-scan", "deploy") after 5m of 30m`.

use std::time::Duration;

use super::driver::Driver;
use crate::duration::short;
use crate::gitlab::CheckStatus;
use crate::names::quote;

/// When the next line is due.
pub(super) struct Progress {
    every: Option<Duration>,
    next: Duration,
}

impl Progress {
    /// Every `every` from the start of the wait; `None`: never.
    pub(super) fn new(every: Option<Duration>) -> Progress {
        Progress {
            every,
            next: every.unwrap_or_default(),
        }
    }

    /// The mark a line is due for at `elapsed` (`5m`, then `10m`, …), if any: one
    /// line however many marks a long sleep passed, the next at the mark after.
    pub(super) fn due(&mut self, elapsed: Duration) -> Option<Duration> {
        let every = self.every?;
        if elapsed < self.next {
            return None;
        }
        let mut mark = self.next;
        while self.next <= elapsed {
            mark = self.next;
            self.next += every;
        }
        Some(mark)
    }
}

impl Driver<'_, '_> {
    /// Says what is still pending, when a line is due.
    pub(super) fn report_progress(&mut self) {
        let Some(mark) = self.progress.due(self.elapsed()) else {
            return;
        };
        let of = format!(
            "after {} of {}",
            short(mark),
            short(self.settings.rules.timeout)
        );
        let line = if self.polls() == 0 {
            let why = self
                .last_error()
                .map_or(String::new(), |e| format!(": {e}"));
            format!("still waiting: no successful poll yet {of}{why}")
        } else {
            let pending: Vec<String> = self
                .checks()
                .filter(|c| !matches!(c.status, CheckStatus::Passed | CheckStatus::Failed))
                .map(|c| {
                    if self.several() {
                        format!("{} {}", self.mrs[c.mr].label, quote(&c.name))
                    } else {
                        quote(&c.name)
                    }
                })
                .collect();
            format!(
                "still waiting: {} pending ({}) {of}",
                pending.len(),
                pending.join(", ")
            )
        };
        self.ctx.log.info(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_mark_and_none_when_off() {
        let s = Duration::from_secs;
        let mut p = Progress::new(Some(s(300)));
        assert_eq!(p.due(s(10)), None);
        assert_eq!(p.due(s(301)), Some(s(300)));
        assert_eq!(p.due(s(302)), None);
        // A long sleep past two marks: one line, for the later mark.
        assert_eq!(p.due(s(950)), Some(s(900)));
        assert_eq!(p.due(s(1199)), None);
        assert_eq!(p.due(s(1200)), Some(s(1200)));
        let mut off = Progress::new(None);
        assert_eq!(off.due(s(100_000)), None);
    }
}
