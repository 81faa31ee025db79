//! The gate's decisions, without I/O: a state machine that is handed what each request
//! brought back (an answer with any status, or the failure that left none) and says what
//! to do next (send a request, sleep until a time, or end). No clock, no sleep, no HTTP:
//! `driver.rs` runs it with the client and the real clock, the simulator (`sim/`) with a
//! simulated GitLab and a virtual clock. Times are `Duration`s since the wait began.
//!
//! - Without an MR given, the commit's merge requests are looked up first, as patiently
//!   as the polls that follow; an empty look-up is believed on its second reading.
//! - A round reads every gated MR's list, page by page; a failed request ends the round
//!   and the statuses of the last complete round stand.
//! - After a complete round: failed checks are retried when asked; before any verdict,
//!   when a check falls back to `pending` (what a push does), and every 30 rounds or 5
//!   minutes, each MR's head is read. A verdict needs a head read after the round that
//!   showed the SHA: a head GitLab does not say (`sha` null) means no verdict yet.
//! - What an answer means (transient, a bad body, fatal; a retry acted on or not) is
//!   `answer.rs`'s; what the checks add up to is `tracker.rs`'s.

mod answer;
mod budget;
mod heads;
mod look_up;
pub(crate) mod pacer;
mod round;
pub(crate) mod tracker;

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tracker_tests;

use std::time::Duration;

use crate::checks::CommitMrs;
pub(crate) use crate::config::Rules;
use crate::gitlab::{ApiError, CheckStatus, MergeRequest};
use crate::sha::Sha;
pub(crate) use answer::Answer;
use answer::Reading;
use pacer::{Pacer, Setback};
use tracker::Tracker;
pub(crate) use tracker::{Item, Tracked};

/// Besides before any verdict and when a check falls back to `pending`, the MR's head
/// is read this often: a push that leaves every check pending changes nothing in the list.
const HEAD_EVERY_ROUNDS: u32 = 30;
const HEAD_EVERY: Duration = Duration::from_secs(300);
/// A body that is not GitLab's JSON this many times in a row is not a passing glitch.
const MAX_BAD_BODIES: u32 = 3;

/// The merge requests to gate: known (this many), or the commit's, to look up first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mrs {
    Known(usize),
    LookUp,
}

/// A request the gate asks its driver to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// A page of the commit's merge requests (`commits/:sha/merge_requests`).
    FindMrs {
        page: u32,
    },
    /// A page of MR `mr`'s status checks.
    ReadList {
        mr: usize,
        page: u32,
    },
    /// MR `mr` itself: its state and head.
    ReadHead {
        mr: usize,
    },
    Retry {
        mr: usize,
        check: u64,
    },
}

/// What to do next.
#[derive(Clone, Debug)]
pub(crate) enum Next {
    Send(Request),
    /// Nothing to do before this time (then ask again).
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
#[derive(Clone, Debug)]
pub(crate) enum End {
    Verdict(Verdict),
    /// These `--name`s are on no MR's list, two complete reads in a row from the first.
    UnknownNames(Vec<String>),
    /// A fatal answer, or the third bad body in a row.
    Error(ApiError),
}

/// Which head moved: an MR's during the wait, or (before it began) every open MR's
/// that holds the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Moved {
    During { mr: usize, head: String },
    BeforeStart,
}

/// What happened, for the log.
#[derive(Clone, Debug)]
pub(crate) enum Notice {
    /// The commit's look-up: the gate gates `open` (else `merged`), in this order.
    Found(CommitMrs),
    Polled {
        round: u32,
    },
    NextPoll {
        delay: Duration,
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
    /// The retry's answer was lost: counted as asked, GitLab may have acted.
    RetryUnanswered {
        mr: usize,
        name: String,
    },
    /// 422 (`never`: `None`), or 403/404 and GitLab's message: never retried again.
    RetryRefused {
        mr: usize,
        name: String,
        never: Option<String>,
    },
    Closed {
        mr: usize,
    },
    /// GitLab does not say the MR's head (`sha` null): no verdict until it does.
    HeadUnknown {
        mr: usize,
    },
    /// A request failed in a way worth trying again (or a bad body short of the third).
    Setback(ApiError),
}

#[derive(Clone, Debug)]
enum Phase {
    Start,
    Sleeping { until: Duration },
    LookingUp { page: u32 },
    Listing { mr: usize, page: u32 },
    Retrying { queue: Vec<(usize, u64)> },
    Heads { mr: usize },
    Done(End),
}

/// Whether this round read the heads, and what they said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadsRead {
    No,
    /// Every head read showed the SHA (or the MR closed).
    Said,
    /// A head GitLab did not say (`sha` null).
    Unsaid,
}

/// One gated merge request.
#[derive(Clone, Copy, Debug)]
struct Mr {
    /// Still gated: not shown closed.
    open: bool,
    /// Shown merged (or found merged): its head cannot move.
    merged: bool,
}

pub(crate) struct Gate {
    rules: Rules,
    sha: Sha,
    mrs: Option<Vec<Mr>>,
    phase: Phase,
    pacer: Pacer,
    pub(crate) tracker: Tracker,
    /// The pages of the round so far, per MR, and the `X-Total` their first said.
    pages: Vec<Vec<Item>>,
    totals: Vec<Option<u64>>,
    /// Per MR: a read of its list was taken (the first announces nothing).
    read_once: Vec<bool>,
    /// A decided check fell back to `pending` in this round's reads.
    back_to_pending: bool,
    found: Vec<MergeRequest>,
    empty_look_ups: u32,
    /// Complete rounds.
    pub(crate) rounds: u32,
    /// The `--name`s the first round did not list (confirmed or not by the second).
    unlisted_names: Vec<String>,
    rounds_since_head: u32,
    last_head_read: Duration,
    /// A head read is due before the next verdict or sleep.
    head_due: bool,
    /// A head read of this round did not say the head.
    head_unknown: bool,
    heads_this_round: HeadsRead,
    /// The round's retries, asked after its due head reads.
    retry_queue: Vec<(usize, u64)>,
    bad_bodies: u32,
    pub(crate) moved: Option<Moved>,
    /// The failure of the latest request, until a round completes: a timeout says why
    /// nothing was seen.
    pub(crate) last_error: Option<ApiError>,
    notices: Vec<Notice>,
}

impl Gate {
    /// A gate for `sha` on `mrs` (never merged when known: only a look-up finds a merged MR).
    pub(crate) fn new(rules: Rules, sha: Sha, mrs: Mrs, seed: u64) -> Gate {
        let pacer = Pacer::new(rules.interval, rules.max_interval).seeded(seed);
        let count = match mrs {
            Mrs::Known(n) => n,
            Mrs::LookUp => 0,
        };
        let tracker = Tracker::new(count, rules.checks.clone());
        let mr = Mr {
            open: true,
            merged: false,
        };
        Gate {
            rules,
            sha,
            mrs: (mrs != Mrs::LookUp).then(|| vec![mr; count]),
            phase: Phase::Start,
            pacer,
            tracker,
            pages: vec![Vec::new(); count],
            totals: vec![None; count],
            read_once: vec![false; count],
            back_to_pending: false,
            found: Vec::new(),
            empty_look_ups: 0,
            rounds: 0,
            unlisted_names: Vec::new(),
            rounds_since_head: 0,
            last_head_read: Duration::ZERO,
            head_due: false,
            head_unknown: false,
            heads_this_round: HeadsRead::No,
            retry_queue: Vec::new(),
            bad_bodies: 0,
            moved: None,
            last_error: None,
            notices: Vec::new(),
        }
    }

    /// What happened since the last call, for the log.
    pub(crate) fn notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub(crate) fn is_open(&self, mr: usize) -> bool {
        self.mrs.as_ref().is_some_and(|m| m[mr].open)
    }

    /// What to do at `now`.
    pub(crate) fn next(&mut self, now: Duration) -> Next {
        match &self.phase {
            Phase::Done(end) => return Next::Done(end.clone()),
            Phase::Start => {
                let until = now + self.pacer.first_delay();
                self.phase = Phase::Sleeping { until };
            }
            _ => {}
        }
        if now >= self.rules.timeout {
            return self.end(End::Verdict(Verdict::Timeout));
        }
        match self.phase.clone() {
            Phase::Sleeping { until } if now >= until => self.start_round(now),
            Phase::Sleeping { until } => Next::Sleep {
                until: until.min(self.rules.timeout),
            },
            Phase::LookingUp { page } => Next::Send(Request::FindMrs { page }),
            Phase::Listing { mr, page } => Next::Send(Request::ReadList { mr, page }),
            Phase::Retrying { queue } => match queue.first() {
                Some(&(mr, check)) => Next::Send(Request::Retry { mr, check }),
                None => self.after_retries(now),
            },
            Phase::Heads { mr } => Next::Send(Request::ReadHead { mr }),
            Phase::Start | Phase::Done(_) => unreachable!("handled above"),
        }
    }

    /// What came back for the request `next` asked for last.
    pub(crate) fn handle(&mut self, now: Duration, answer: Answer) {
        match self.phase.clone() {
            Phase::LookingUp { page } => self.on_look_up(now, page, answer),
            Phase::Listing { mr, page } => self.on_list(now, mr, page, answer),
            Phase::Retrying { queue } => self.on_retry(now, queue, answer),
            Phase::Heads { mr } => self.on_head(now, mr, answer),
            Phase::Start | Phase::Sleeping { .. } | Phase::Done(_) => {}
        }
    }

    fn start_round(&mut self, now: Duration) -> Next {
        let Some(mrs) = &self.mrs else {
            self.found.clear();
            self.phase = Phase::LookingUp { page: 1 };
            return Next::Send(Request::FindMrs { page: 1 });
        };
        match mrs.iter().position(|m| m.open) {
            Some(mr) => {
                self.pages.iter_mut().for_each(Vec::clear);
                self.tracker.read_begins();
                self.pacer.polling(now);
                self.phase = Phase::Listing { mr, page: 1 };
                Next::Send(Request::ReadList { mr, page: 1 })
            }
            None => self.end(End::Verdict(Verdict::Empty)),
        }
    }

    /// A read that did not bring what was asked.
    fn failed<T>(&mut self, now: Duration, reading: Reading<T>) {
        match reading {
            Reading::Good(..) => {}
            Reading::Setback(setback, error) => self.setback(now, setback, error),
            Reading::BadBody(error) => self.bad_body(now, error),
            Reading::Fatal(error) => self.finish(End::Error(error)),
        }
    }

    fn setback(&mut self, now: Duration, setback: Setback, error: ApiError) {
        self.notices.push(Notice::Setback(error.clone()));
        self.last_error = Some(error);
        self.sleep_after(now, Some(setback));
    }

    fn bad_body(&mut self, now: Duration, error: ApiError) {
        self.bad_bodies += 1;
        if self.bad_bodies >= MAX_BAD_BODIES {
            return self.finish(End::Error(error));
        }
        self.setback(now, Setback::Unavailable { retry_after: None }, error);
    }

    fn sleep_after(&mut self, now: Duration, setback: Option<Setback>) -> Next {
        let delay = match setback {
            Some(s) => self.pacer.after_setback(now, s),
            None => self.pacer.after_success(now),
        };
        self.notices.push(Notice::NextPoll { delay });
        let until = now + delay;
        self.phase = Phase::Sleeping { until };
        Next::Sleep {
            until: until.min(self.rules.timeout),
        }
    }

    fn finish(&mut self, end: End) {
        self.phase = Phase::Done(end);
    }

    fn end(&mut self, end: End) -> Next {
        self.phase = Phase::Done(end.clone());
        Next::Done(end)
    }
}
