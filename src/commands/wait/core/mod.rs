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
pub(crate) mod pacer;
pub(crate) mod tracker;

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tracker_tests;

use std::time::Duration;

use crate::checks::{CommitMrs, sort_commit_mrs};
use crate::gitlab::client::MAX_PAGES;
use crate::gitlab::error::ApiErrorKind;
use crate::gitlab::{ApiError, CheckStatus, MergeRequest};
use crate::sha::Sha;
pub(crate) use answer::Answer;
use answer::{Head, Reading, Retried};
use pacer::{Pacer, Setback};
pub(crate) use tracker::{Item, Selection, Tracked};
use tracker::{Standing, Tracker};

/// Besides before any verdict and when a check falls back to `pending`, the MR's head
/// is read this often: a push that leaves every check pending changes nothing in the list.
const HEAD_EVERY_ROUNDS: u32 = 30;
const HEAD_EVERY: Duration = Duration::from_secs(300);
/// A body that is not GitLab's JSON this many times in a row is not a passing glitch.
const MAX_BAD_BODIES: u32 = 3;

/// What the gate was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) checks: Selection,
}

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

    fn on_look_up(&mut self, now: Duration, page: u32, answer: Answer) {
        let (found, headers) = match answer::read::<Vec<MergeRequest>>(answer) {
            Reading::Good(found, headers) => (found, headers),
            other => return self.failed(now, other),
        };
        self.bad_bodies = 0;
        self.found.extend(found);
        match headers.next_page {
            Some(next) if next > page && next <= MAX_PAGES => {
                self.phase = Phase::LookingUp { page: next };
            }
            _ => self.looked_up(now),
        }
    }

    /// Every page of the look-up read: the MRs to gate, or why there are none.
    fn looked_up(&mut self, now: Duration) {
        let sorted = sort_commit_mrs(&self.sha, &self.found);
        if sorted.is_empty() {
            // A merged MR whose head GitLab did not say may be the commit's: not an empty
            // reading, but none to go by either.
            self.empty_look_ups = if sorted.unsure {
                0
            } else {
                self.empty_look_ups + 1
            };
            if self.empty_look_ups < 2 {
                // Maybe GitLab has not yet linked a just-pushed commit to its MR.
                self.sleep_after(now, None);
                return;
            }
        }
        self.notices.push(Notice::Found(sorted.clone()));
        let (count, merged) = if !sorted.open.is_empty() {
            (sorted.open.len(), false)
        } else if !sorted.moved.is_empty() {
            self.moved = Some(Moved::BeforeStart);
            self.phase = Phase::Done(End::Verdict(Verdict::Stale));
            return;
        } else {
            (usize::from(sorted.merged.is_some()), true)
        };
        self.mrs = Some(vec![Mr { open: true, merged }; count]);
        self.tracker.set_mrs(count);
        self.pages = vec![Vec::new(); count];
        self.totals = vec![None; count];
        self.read_once = vec![false; count];
        self.phase = match count {
            0 => Phase::Done(End::Verdict(Verdict::Empty)),
            _ => {
                self.pacer.polling(now);
                Phase::Listing { mr: 0, page: 1 }
            }
        };
    }

    fn first_open(&self, from: usize) -> Option<usize> {
        let mrs = self.mrs.as_deref().unwrap_or_default();
        (from..mrs.len()).find(|&i| mrs[i].open)
    }

    fn on_list(&mut self, now: Duration, mr: usize, number: u32, answer: Answer) {
        let (page, headers) = match answer::list_page(answer) {
            Reading::Good(page, headers) => (page, headers),
            other => return self.failed(now, other),
        };
        self.bad_bodies = 0;
        if number == 1 && Some(mr) == self.first_open(0) {
            self.pacer.observe_poll_interval(headers.poll_interval_ms);
        }
        self.pacer.observe_budget(headers.budget, now);
        if number == 1 {
            self.totals[mr] = headers.total;
        }
        self.pages[mr].extend(page.items);
        let last = !matches!(headers.next_page, Some(next) if next > number && next <= MAX_PAGES);
        if let Some(detail) = self.does_not_add_up(mr, headers.total, last) {
            // A check deleted between two pages, or a body a proxy changed: the read is
            // not a list of the MR's checks. Read it again at the next poll.
            let error = ApiError {
                method: "GET",
                path: page.path,
                kind: ApiErrorKind::Decode {
                    status: 200,
                    detail,
                },
            };
            self.notices.push(Notice::Setback(error.clone()));
            self.last_error = Some(error);
            self.sleep_after(now, None);
            return;
        }
        match headers.next_page {
            Some(next) if !last => {
                self.phase = Phase::Listing { mr, page: next };
            }
            _ => {
                self.mr_read(now, mr);
                match self.first_open(mr + 1) {
                    Some(next) => self.phase = Phase::Listing { mr: next, page: 1 },
                    None => self.round_complete(now),
                }
            }
        }
    }

    /// Why the read of MR `mr`'s list so far does not add up to the `X-Total` its pages
    /// said (`total` on this one; `last`: no page follows), if it does not.
    fn does_not_add_up(&self, mr: usize, total: Option<u64>, last: bool) -> Option<String> {
        let said = self.totals[mr];
        if total != said {
            return Some(format!(
                "its pages said {} and {} checks in all",
                said.map_or("none".into(), |t| t.to_string()),
                total.map_or("none".into(), |t| t.to_string())
            ));
        }
        let listed = self.pages[mr].len() as u64;
        match said {
            Some(total) if last && listed != total => Some(format!(
                "it listed {listed} checks of the {total} it said (X-Total)"
            )),
            _ => None,
        }
    }

    /// Every page of MR `mr`'s list is in: the tracker takes it at once (a later MR's
    /// failed read does not throw it away: "two reads in a row" are its list's own).
    fn mr_read(&mut self, now: Duration, mr: usize) {
        let items = std::mem::take(&mut self.pages[mr]);
        let first = !std::mem::replace(&mut self.read_once[mr], true);
        let changes = self.tracker.apply(mr, items, now, first, &mut self.notices);
        if changes.any {
            self.pacer.changed();
        }
        self.back_to_pending |= changes.back_to_pending;
    }

    fn round_complete(&mut self, now: Duration) {
        self.rounds += 1;
        self.rounds_since_head += 1;
        self.last_error = None;
        self.notices.push(Notice::Polled { round: self.rounds });
        let back_to_pending = std::mem::take(&mut self.back_to_pending);
        self.tracker.read_complete();
        if self.rounds <= 2 {
            let unlisted = self.tracker.missing_names();
            if self.rounds == 1 {
                let tracked = |mr: usize| self.tracker.checks.keys().any(|k| k.0 == mr);
                let nothing = !unlisted.is_empty()
                    || (0..self.pages.len()).any(|mr| self.is_open(mr) && !tracked(mr));
                self.unlisted_names = unlisted;
                // Absence is read twice: on the first poll the second read comes at once,
                // so that one odd answer (an MR's list read empty) cannot pass the gate,
                // end it empty or make a name unknown.
                if nothing && let Some(mr) = self.first_open(0) {
                    self.pages.iter_mut().for_each(Vec::clear);
                    self.tracker.read_begins();
                    self.phase = Phase::Listing { mr, page: 1 };
                    return;
                }
            } else {
                let confirmed: Vec<String> = unlisted
                    .into_iter()
                    .filter(|n| self.unlisted_names.contains(n))
                    .collect();
                self.unlisted_names.clear();
                if !confirmed.is_empty() {
                    self.phase = Phase::Done(End::UnknownNames(confirmed));
                    return;
                }
            }
        }
        self.head_due = back_to_pending
            || self.rounds_since_head >= HEAD_EVERY_ROUNDS
            || now.saturating_sub(self.last_head_read) >= HEAD_EVERY;
        let queue = match self.tracker.standing() {
            Standing::Retry(queue) => queue,
            _ => Vec::new(),
        };
        self.phase = Phase::Retrying { queue };
    }

    /// The verdict the checks stand at, if any: none while a `--name` missing from the
    /// first round is not yet confirmed missing (exit 2 comes first).
    fn verdict(&self) -> Option<Verdict> {
        if !self.unlisted_names.is_empty() {
            return None;
        }
        match self.tracker.standing() {
            Standing::Passed => Some(Verdict::Passed),
            Standing::Failed => Some(Verdict::Failed),
            Standing::Empty => Some(Verdict::Empty),
            Standing::Retry(_) | Standing::Undecided => None,
        }
    }

    /// Every retry answered: a verdict (after a head read), or the next round.
    fn after_retries(&mut self, now: Duration) -> Next {
        let verdict = self.verdict();
        if (verdict.is_some() || self.head_due)
            && let Some(mr) = self.first_head_to_read(0)
        {
            self.head_unknown = false;
            self.phase = Phase::Heads { mr };
            return Next::Send(Request::ReadHead { mr });
        }
        match verdict {
            Some(v) => self.end(End::Verdict(v)),
            None => self.sleep_after(now, None),
        }
    }

    fn first_head_to_read(&self, from: usize) -> Option<usize> {
        let mrs = self.mrs.as_deref().unwrap_or_default();
        (from..mrs.len()).find(|&i| mrs[i].open && !mrs[i].merged)
    }

    fn on_retry(&mut self, now: Duration, mut queue: Vec<(usize, u64)>, answer: Answer) {
        if queue.is_empty() {
            return;
        }
        let key = queue.remove(0);
        let (mr, limit) = (key.0, self.rules.checks.retry_limit);
        let name = |gate: &Gate| gate.tracker.checks.get(&key).map(|t| t.name.clone());
        match answer::retry(answer) {
            Retried::Accepted => {
                self.bad_bodies = 0;
                if let Some(t) = self.tracker.retried(key, now, true) {
                    let (name, n) = (t.name.clone(), t.retries);
                    self.notices.push(Notice::Retrying { mr, name, n, limit });
                }
            }
            Retried::Unknown {
                setback,
                error,
                bad_body,
            } => {
                self.tracker.retried(key, now, false);
                if let Some(name) = name(self) {
                    self.notices.push(Notice::RetryUnanswered { mr, name });
                }
                return if bad_body {
                    self.bad_body(now, error)
                } else {
                    self.setback(now, setback, error)
                };
            }
            Retried::NotActed(setback, error) => return self.setback(now, setback, error),
            Retried::NotFailed => self.refused(key, None),
            Retried::Refused(message) => self.refused(key, Some(message)),
            Retried::Fatal(error) => return self.finish(End::Error(error)),
        }
        self.phase = Phase::Retrying { queue };
    }

    /// GitLab refused a retry: 422 (`None`), or 403/404 with its message (never again).
    fn refused(&mut self, key: (usize, u64), never: Option<String>) {
        self.bad_bodies = 0;
        self.tracker.retry_refused(key, never.is_some());
        if let Some(t) = self.tracker.checks.get(&key) {
            self.notices.push(Notice::RetryRefused {
                mr: key.0,
                name: t.name.clone(),
                never,
            });
        }
    }

    fn on_head(&mut self, now: Duration, mr: usize, answer: Answer) {
        let read = match answer::read::<MergeRequest>(answer) {
            Reading::Good(read, _) => read,
            // No verdict without the head: the next round reads everything again.
            other => return self.failed(now, other),
        };
        self.bad_bodies = 0;
        let head = match Head::of(&read) {
            Head::Closed => {
                self.mrs.as_mut().expect("gated MRs")[mr].open = false;
                self.tracker.drop_mr(mr);
                self.notices.push(Notice::Closed { mr });
                None
            }
            // Merged at the SHA: its head cannot move, it is not read again.
            Head::Merged(Some(sha)) if self.sha.is(&sha) => {
                self.mrs.as_mut().expect("gated MRs")[mr].merged = true;
                Some(Some(sha))
            }
            Head::Merged(sha) => Some(sha),
            Head::Open(sha) => Some(sha),
        };
        match head {
            Some(Some(sha)) if !self.sha.is(&sha) => {
                self.moved = Some(Moved::During { mr, head: sha });
                return self.finish(End::Verdict(Verdict::Stale));
            }
            Some(None) => {
                self.notices.push(Notice::HeadUnknown { mr });
                self.head_unknown = true;
            }
            _ => {}
        }
        if let Some(next) = self.first_head_to_read(mr + 1) {
            self.phase = Phase::Heads { mr: next };
            return;
        }
        self.heads_read(now);
    }

    /// Every head of the round read: a verdict, unless a head was not said.
    fn heads_read(&mut self, now: Duration) {
        self.rounds_since_head = 0;
        self.last_head_read = now;
        // A head GitLab did not say is read again at the next round.
        self.head_due = self.head_unknown;
        if !self.mrs.iter().flatten().any(|m| m.open) {
            return self.finish(End::Verdict(Verdict::Empty));
        }
        // A closed MR took its checks along: what is left decides.
        match self.verdict().filter(|_| !self.head_unknown) {
            Some(v) => self.finish(End::Verdict(v)),
            None => {
                self.sleep_after(now, None);
            }
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
