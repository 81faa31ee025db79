//! The gate's decisions, without I/O: a state machine that is told what happened
//! (an answer of a list page or of the MR, a failed request, the time) and says what
//! to do next (read a list page, read an MR's head, retry a check, sleep until a
//! time, or end with a verdict). No clock, no sleep, no HTTP: `driver.rs` runs it
//! with the client and the real clock, the simulator (`sim/`) with a simulated GitLab
//! and a virtual clock. Times are `Duration`s since the wait began.
//!
//! A round reads every MR's list, page by page; a failed request ends the round and
//! the statuses of the last complete round stand. After a complete round: failed
//! checks are retried when asked; before any verdict, and when a check falls back to
//! `pending` (what a push does), every 30 rounds or 5 minutes, each MR's head is read;
//! a verdict needs a head read after the round, and a failed head read means no
//! verdict this round.

mod budget;
pub(crate) mod pacer;
pub(crate) mod tracker;

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tracker_tests;

use std::time::Duration;

use crate::gitlab::{Budget, CheckStatus};
use pacer::{Pacer, Setback};
pub(crate) use tracker::{Item, Tracked};
use tracker::{Standing, Tracker};

/// Besides before any verdict and when a check falls back to `pending`, the MR's head
/// is read this often: a push that leaves every check pending changes nothing in the list.
pub(crate) const HEAD_EVERY_ROUNDS: u32 = 30;
pub(crate) const HEAD_EVERY: Duration = Duration::from_secs(300);
/// A body that is not JSON this many times in a row is not a passing glitch.
pub(crate) const MAX_DECODE_ERRORS: u32 = 3;
/// Guard against a server that always announces a next page.
const MAX_PAGES: u32 = 1000;

/// What the gate was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) fail_fast: bool,
    pub(crate) retry_failed: u32,
    pub(crate) names: Vec<String>,
    pub(crate) ignore: Vec<String>,
    /// GitLab sets a retried check to `pending` (16.5+).
    pub(crate) retry_resets_pending: bool,
}

/// What the gate asks its driver to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    ReadList {
        mr: usize,
        page: u32,
    },
    ReadHead {
        mr: usize,
    },
    Retry {
        mr: usize,
        check: u64,
    },
    /// Nothing to do before this time (then call `next` again).
    Sleep {
        until: Duration,
    },
    Done(End),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed,
    Failed,
    Timeout,
    Stale,
    Empty,
}

impl Verdict {
    pub(crate) fn word(self, allow_empty: bool) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Empty if allow_empty => "passed",
            Verdict::Empty => "failed",
            Verdict::Failed => "failed",
            Verdict::Timeout => "timeout",
            Verdict::Stale => "stale",
        }
    }
}

/// How the wait ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Verdict(Verdict),
    /// After the first round: these `--name`s are on no MR's list (a usage error).
    UnknownNames(Vec<String>),
    /// `MAX_DECODE_ERRORS` undecodable bodies in a row: the last error is final.
    Undecodable,
}

/// One page of an MR's check list.
#[derive(Clone, Debug, Default)]
pub(crate) struct Page {
    pub(crate) items: Vec<Item>,
    pub(crate) next_page: Option<u32>,
    pub(crate) poll_interval_ms: Option<i64>,
    pub(crate) budget: Option<Budget>,
}

/// A request that failed in a way worth trying again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Setback(Setback),
    /// A 2xx whose body is not what GitLab sends.
    Undecodable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MrState {
    Open,
    Merged,
    Closed,
}

/// An answer to a read of the MR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) sha: Option<String>,
    pub(crate) state: MrState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryAnswer {
    Accepted,
    /// 422: GitLab says the check is not failed (any more).
    NotFailed,
    /// 404 or 403: this check will not be retried.
    Refused,
    Failed(Failure),
}

/// What the driver may log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A round completed: its number.
    Polled {
        round: u32,
    },
    Changed {
        mr: usize,
        name: String,
        from: CheckStatus,
        to: CheckStatus,
    },
    Appeared {
        mr: usize,
        name: String,
        status: CheckStatus,
    },
    Removed {
        mr: usize,
        name: String,
    },
    Retrying {
        mr: usize,
        name: String,
        n: u32,
        limit: u32,
    },
    RetryRefused {
        mr: usize,
        name: String,
        never: bool,
    },
    Closed {
        mr: usize,
    },
    NextPoll {
        delay: Duration,
    },
}

#[derive(Clone, Debug)]
enum Phase {
    Start,
    Sleeping { until: Duration },
    Listing { mr: usize, page: u32 },
    Retrying { queue: Vec<(usize, u64)> },
    Heads { mr: usize },
    Done(End),
}

pub(crate) struct Gate {
    rules: Rules,
    sha: String,
    /// Per MR: still gated (not closed) and whether it is merged (its head is fixed).
    open: Vec<bool>,
    merged: Vec<bool>,
    phase: Phase,
    pacer: Pacer,
    pub(crate) tracker: Tracker,
    /// The pages of the round so far, per MR.
    pages: Vec<Vec<Item>>,
    /// Complete rounds.
    pub(crate) rounds: u32,
    rounds_since_head: u32,
    last_head_read: Duration,
    /// A head read is due before the next verdict or sleep.
    head_due: bool,
    decode_errors: u32,
    /// The MR whose head moved, and its new head.
    pub(crate) moved: Option<(usize, String)>,
    events: Vec<Notice>,
}

impl Gate {
    /// A gate for `sha` on `mrs` merge requests (`merged`: a gate after the merge).
    pub(crate) fn new(rules: Rules, sha: String, mrs: usize, merged: bool, seed: u64) -> Gate {
        let pacer = Pacer::new(rules.interval, rules.max_interval).seeded(seed);
        let tracker = Tracker::new(
            mrs,
            rules.names.clone(),
            rules.ignore.clone(),
            rules.retry_failed,
            rules.fail_fast,
            rules.retry_resets_pending,
        );
        Gate {
            rules,
            sha,
            open: vec![true; mrs],
            merged: vec![merged; mrs],
            phase: Phase::Start,
            pacer,
            tracker,
            pages: vec![Vec::new(); mrs],
            rounds: 0,
            rounds_since_head: 0,
            last_head_read: Duration::ZERO,
            head_due: false,
            decode_errors: 0,
            moved: None,
            events: Vec::new(),
        }
    }

    /// What happened since the last call, for the log.
    pub(crate) fn notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.events)
    }

    pub(crate) fn is_open(&self, mr: usize) -> bool {
        self.open[mr]
    }

    /// What to do at `now`.
    pub(crate) fn next(&mut self, now: Duration) -> Next {
        let deadline = self.rules.timeout;
        match &self.phase {
            Phase::Done(end) => return Next::Done(end.clone()),
            Phase::Start => {
                let until = now + self.pacer.first_delay();
                self.phase = Phase::Sleeping { until };
            }
            _ => {}
        }
        if now >= deadline {
            return self.end(End::Verdict(Verdict::Timeout));
        }
        match self.phase.clone() {
            Phase::Sleeping { until } if now >= until => self.start_round(now),
            Phase::Sleeping { until } => Next::Sleep {
                until: until.min(deadline),
            },
            Phase::Listing { mr, page } => Next::ReadList { mr, page },
            Phase::Retrying { queue } => match queue.first() {
                Some(&(mr, check)) => Next::Retry { mr, check },
                None => self.after_retries(now),
            },
            Phase::Heads { mr } => Next::ReadHead { mr },
            Phase::Start | Phase::Done(_) => unreachable!("handled above"),
        }
    }

    fn start_round(&mut self, now: Duration) -> Next {
        match self.first_open(0) {
            Some(mr) => {
                self.pages.iter_mut().for_each(Vec::clear);
                self.pacer.polling(now);
                self.phase = Phase::Listing { mr, page: 1 };
                Next::ReadList { mr, page: 1 }
            }
            None => self.end(End::Verdict(Verdict::Empty)),
        }
    }

    fn first_open(&self, from: usize) -> Option<usize> {
        (from..self.open.len()).find(|&i| self.open[i])
    }

    /// The answer to `ReadList`.
    pub(crate) fn on_list(&mut self, now: Duration, answer: Result<Page, Failure>) {
        let Phase::Listing { mr, page } = self.phase else {
            return;
        };
        let page_answer = match answer {
            Ok(p) => p,
            Err(failure) => return self.setback(now, failure),
        };
        self.decode_errors = 0;
        if page == 1 && mr == self.first_open(0).unwrap_or(0) {
            self.pacer
                .observe_poll_interval(page_answer.poll_interval_ms);
        }
        self.pacer.observe_budget(page_answer.budget, now);
        self.pages[mr].extend(page_answer.items);
        match page_answer.next_page {
            Some(next) if next > page && next <= MAX_PAGES => {
                self.phase = Phase::Listing { mr, page: next };
            }
            _ => match self.first_open(mr + 1) {
                Some(next) => self.phase = Phase::Listing { mr: next, page: 1 },
                None => self.round_complete(now),
            },
        }
    }

    fn round_complete(&mut self, now: Duration) {
        self.rounds += 1;
        self.rounds_since_head += 1;
        self.events.push(Notice::Polled { round: self.rounds });
        let first = self.rounds == 1;
        let mut back_to_pending = false;
        for mr in 0..self.open.len() {
            if !self.open[mr] {
                continue;
            }
            let items = std::mem::take(&mut self.pages[mr]);
            let changes = self.tracker.apply(mr, items, now, first, &mut self.events);
            if changes.any {
                self.pacer.changed();
            }
            back_to_pending |= changes.back_to_pending;
        }
        if first {
            let missing = self.tracker.missing_names();
            if !missing.is_empty() {
                self.phase = Phase::Done(End::UnknownNames(missing));
                return;
            }
            if self.tracker.checks.is_empty() {
                self.phase = Phase::Done(End::Verdict(Verdict::Empty));
                return;
            }
        }
        self.head_due = back_to_pending
            || self.rounds_since_head >= HEAD_EVERY_ROUNDS
            || now.saturating_sub(self.last_head_read) >= HEAD_EVERY;
        self.phase = match self.tracker.standing() {
            Standing::Retry(queue) => Phase::Retrying { queue },
            _ => Phase::Retrying { queue: Vec::new() },
        };
    }

    /// Every retry answered: a verdict (after a head read), or the next round.
    fn after_retries(&mut self, now: Duration) -> Next {
        let standing = self.tracker.standing();
        let verdict = match standing {
            Standing::Passed => Some(Verdict::Passed),
            Standing::Failed => Some(Verdict::Failed),
            Standing::Empty => Some(Verdict::Empty),
            Standing::Retry(_) | Standing::Undecided => None,
        };
        if (verdict.is_some() || self.head_due)
            && let Some(mr) = self.first_head_to_read(0)
        {
            self.phase = Phase::Heads { mr };
            return Next::ReadHead { mr };
        }
        match verdict {
            Some(v) => self.end(End::Verdict(v)),
            None => self.sleep_after(now, None),
        }
    }

    fn first_head_to_read(&self, from: usize) -> Option<usize> {
        (from..self.open.len()).find(|&i| self.open[i] && !self.merged[i])
    }

    /// The answer to `Retry`.
    pub(crate) fn on_retry(&mut self, now: Duration, answer: RetryAnswer) {
        let Phase::Retrying { mut queue } = self.phase.clone() else {
            return;
        };
        if queue.is_empty() {
            return;
        }
        let key = queue.remove(0);
        let limit = self.rules.retry_failed;
        // No reset of `decode_errors` here: retries follow a poll's good list answers,
        // and a bad retry answer ends the poll.
        match answer {
            RetryAnswer::Accepted => {
                if let Some(t) = self.tracker.retry_accepted(key, now) {
                    self.events.push(Notice::Retrying {
                        mr: key.0,
                        name: t.name.clone(),
                        n: t.retries,
                        limit,
                    });
                }
            }
            RetryAnswer::NotFailed | RetryAnswer::Refused => {
                let never = answer == RetryAnswer::Refused;
                self.tracker.retry_refused(key, never);
                if let Some(t) = self.tracker.checks.get(&key) {
                    self.events.push(Notice::RetryRefused {
                        mr: key.0,
                        name: t.name.clone(),
                        never,
                    });
                }
            }
            // The check stays failed but not counted: the next round tries again.
            RetryAnswer::Failed(failure) => return self.setback(now, failure),
        }
        self.phase = Phase::Retrying { queue };
    }

    /// The answer to `ReadHead`.
    pub(crate) fn on_head(&mut self, now: Duration, answer: Result<Head, Failure>) {
        let Phase::Heads { mr } = self.phase else {
            return;
        };
        let head = match answer {
            Ok(head) => head,
            // No verdict without the head: the next round reads everything again.
            Err(failure) => return self.setback(now, failure),
        };
        self.decode_errors = 0;
        match head.state {
            MrState::Closed => {
                self.open[mr] = false;
                self.tracker.drop_mr(mr);
                self.events.push(Notice::Closed { mr });
            }
            MrState::Merged => self.merged[mr] = true,
            MrState::Open => {}
        }
        if head.state != MrState::Closed
            && let Some(sha) = head.sha.filter(|s| *s != self.sha)
        {
            self.moved = Some((mr, sha));
            self.phase = Phase::Done(End::Verdict(Verdict::Stale));
            return;
        }
        if let Some(next) = self.first_head_to_read(mr + 1) {
            self.phase = Phase::Heads { mr: next };
            return;
        }
        self.rounds_since_head = 0;
        self.last_head_read = now;
        self.head_due = false;
        if !self.open.iter().any(|o| *o) {
            self.phase = Phase::Done(End::Verdict(Verdict::Empty));
            return;
        }
        // A closed MR took its checks along: what is left decides.
        self.phase = Phase::Retrying { queue: Vec::new() };
        let verdict = match self.tracker.standing() {
            Standing::Passed => Some(Verdict::Passed),
            Standing::Failed => Some(Verdict::Failed),
            Standing::Empty => Some(Verdict::Empty),
            _ => None,
        };
        match verdict {
            Some(v) => self.phase = Phase::Done(End::Verdict(v)),
            None => {
                self.sleep_after(now, None);
            }
        }
    }

    fn setback(&mut self, now: Duration, failure: Failure) {
        let setback = match failure {
            Failure::Setback(s) => s,
            Failure::Undecodable => {
                self.decode_errors += 1;
                if self.decode_errors >= MAX_DECODE_ERRORS {
                    self.phase = Phase::Done(End::Undecodable);
                    return;
                }
                Setback::Unavailable { retry_after: None }
            }
        };
        self.sleep_after(now, Some(setback));
    }

    fn sleep_after(&mut self, now: Duration, setback: Option<Setback>) -> Next {
        let delay = match setback {
            Some(s) => self.pacer.after_setback(now, s),
            None => self.pacer.after_success(now),
        };
        self.events.push(Notice::NextPoll { delay });
        let until = now + delay;
        self.phase = Phase::Sleeping { until };
        Next::Sleep {
            until: until.min(self.rules.timeout),
        }
    }

    fn end(&mut self, end: End) -> Next {
        self.phase = Phase::Done(end.clone());
        Next::Done(end)
    }
}
