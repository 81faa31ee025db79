//! The gate's simulator: random timelines of a simulated GitLab (checks that change,
//! appear, vanish and are renamed; pushes, merges, closings; retries accepted or
//! refused; Poll-Interval absent, changing or -1; paginated lists; several MRs;
//! 429s with and without `Retry-After` and `RateLimit-*`, 5xx, resets, slow answers,
//! bad JSON), run against the core on a virtual clock, with the invariants of
//! docs/reliability.md checked after every step.
//!
//! `cargo test` runs `SIM_SEEDS` seeds (10,000 by default); `SIM_SEED=N` replays one.
//! A failing seed is shrunk to the smallest timeline that still fails and printed.

use std::fmt;
use std::time::Duration;

use super::pacer::Setback;
use super::tracker::RETRY_GRACE;
use super::{End, Failure, Gate, Head, Item, MrState, Next, Page, RetryAnswer, Rules, Verdict};
use crate::gitlab::{Budget, CheckStatus};

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;
/// What a request may take before the client gives up (the driver's attempt timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// The cap on any wait, and the spread allowed on top of an asked wait.
const CAP: Duration = Duration::from_secs(300);
const SPREAD: f64 = 1.1;

#[derive(Clone, Debug)]
enum Change {
    Status {
        mr: usize,
        id: u64,
        status: CheckStatus,
    },
    Add {
        mr: usize,
        id: u64,
        name: String,
    },
    Remove {
        mr: usize,
        id: u64,
    },
    Rename {
        mr: usize,
        id: u64,
        name: String,
    },
    Push {
        mr: usize,
    },
    Merge {
        mr: usize,
    },
    Close {
        mr: usize,
    },
    PollInterval(Option<i64>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Bare429,
    RetryAfter429(u64),
    /// A 429 with `RateLimit-*` saying nothing remains until the reset (seconds).
    Budget429(u64),
    Unavailable503(Option<u64>),
    Reset,
    BadJson,
    /// An answer that takes this long (ms); past the request timeout it is a timeout.
    Slow(u64),
}

/// One generated world: what the gate is asked, and what happens to GitLab.
#[derive(Clone, Debug)]
struct Scenario {
    rules: Rules,
    seed: u64,
    mrs: usize,
    /// A gate after the merge (the deploy gate of the default branch): the MRs are
    /// merged from the start, as the commit's look-up told the driver.
    merged: bool,
    checks: Vec<Vec<(u64, String)>>,
    page_size: usize,
    poll_interval: Option<i64>,
    /// The token's budget on every list answer (`RateLimit-*`), shared with others.
    budget: Option<SimBudget>,
    retry_refused: bool,
    timeline: Vec<(Duration, Change)>,
    /// The n-th request meets this fault.
    faults: Vec<(usize, Fault)>,
    latency_ms: u64,
}

/// GitLab's per-token budget: `limit` requests per 60 s window (aligned to the start),
/// of which the other gates of the token spend `others_per_min`, evenly.
#[derive(Clone, Copy, Debug)]
struct SimBudget {
    limit: u32,
    others_per_min: u32,
}

const BUDGET_WINDOW: Duration = Duration::from_secs(60);

struct SimCheck {
    id: u64,
    name: String,
    status: CheckStatus,
    /// Retries asked (accepted or 422), and when the last was accepted.
    retries: u32,
    retried_at: Option<Duration>,
    /// When the last retry was accepted, whatever happened since.
    last_retry: Option<Duration>,
}

struct SimMr {
    sha: String,
    state: MrState,
    checks: Vec<SimCheck>,
    /// Checks removed from the MR, with their retries: the gate may have decided on
    /// one it read before it went.
    removed: Vec<SimCheck>,
}

/// Per MR: a complete list and when its last page was served.
type Lists = Vec<Option<(Duration, Vec<Item>)>>;

/// What the gate last saw, as the simulated GitLab served it.
#[derive(Clone, Default)]
struct Seen {
    /// Per MR: the last complete list and when its last page was served.
    lists: Lists,
    /// Per MR: the last head read (time, sha, state).
    heads: Vec<Option<(Duration, Option<String>, MrState)>>,
    /// Pages of the list being read, per MR.
    partial: Vec<Vec<Item>>,
    /// The longest the next sleep may be, from the last answer.
    allowed_sleep: Duration,
    /// When the last answer came; the next request's gap is measured from it.
    last_answer: Duration,
    /// The Poll-Interval the gate was given last (what it paces by).
    poll_interval: Option<i64>,
    /// Successful polls since the last setback that named no wait: rounds whose lists
    /// were read and whose requests (a head read, retries) met no setback after.
    since_bare: Option<u32>,
    /// The lists of this round were read, and no setback came after.
    round_listed: bool,
    any_asked_429: bool,
    /// The last answer was a success (not a setback).
    last_ok: bool,
    decode_run: u32,
    last_round_start: Option<Duration>,
    /// When every selected check passed on every open MR, unchanged since.
    passing_since: Option<Duration>,
    /// When a selected check failed for good (after its retries), unchanged since.
    failing_since: Option<Duration>,
    /// The longest poll interval the gate was given since either began.
    live_allowed: Duration,
    /// The lists of the first complete round.
    first_round: Option<Lists>,
    faults_seen: bool,
    /// This gate's requests in the budget's window (window number, count).
    own_requests: (u64, u32),
    /// The budget the last list answer showed (window number, remaining).
    last_budget: Option<(u64, u32)>,
    /// The most the budget fell between two list answers of one window: an upper bound
    /// of the gate's estimate of the gates sharing it.
    max_spent: u32,
    /// An answer's budget allowed a wait to its reset: verdicts may wait for it.
    budget_waited: bool,
    /// The wait the last list answer's budget allows (its reset), which the answers
    /// after it in the round (a head read, a retry) carry no budget to change.
    budget_allows: Duration,
    /// The lists as of the last round the gate completed.
    applied: Lists,
    /// The last head answer: when, and after how many of the gate's rounds.
    head_read: (Duration, u32),
    /// What the gate must do before it next sleeps (see `owe`).
    owed: Vec<Owed>,
}

/// Something the gate owes after a complete round, before it sleeps.
#[derive(Clone, Debug, PartialEq)]
enum Owed {
    /// A failed check with retries left.
    Retry(usize, u64),
    /// A head read: 30 rounds or 5 minutes since the last, or a check back to pending.
    Head,
}

struct Sim {
    sc: Scenario,
    now: Duration,
    mrs: Vec<SimMr>,
    next_event: usize,
    requests: usize,
    seen: Seen,
    log: Vec<String>,
    /// The delays the gate chose after its answers, in order.
    delays: Vec<Duration>,
}

#[derive(Debug)]
struct Violation {
    invariant: &'static str,
    detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

impl Sim {
    fn new(sc: Scenario) -> Sim {
        let mrs = (0..sc.mrs)
            .map(|mr| SimMr {
                sha: "sha-0".into(),
                state: if sc.merged {
                    MrState::Merged
                } else {
                    MrState::Open
                },
                checks: sc.checks[mr]
                    .iter()
                    .map(|(id, name)| SimCheck {
                        id: *id,
                        name: name.clone(),
                        status: CheckStatus::Pending,
                        retries: 0,
                        retried_at: None,
                        last_retry: None,
                    })
                    .collect(),
                removed: Vec::new(),
            })
            .collect();
        // After the merge, the commit's look-up (the driver's, before the gate) is the
        // head read that showed each MR merged at the SHA.
        let merged_head = (Duration::ZERO, Some("sha-0".to_owned()), MrState::Merged);
        let seen = Seen {
            lists: vec![None; sc.mrs],
            heads: vec![sc.merged.then_some(merged_head); sc.mrs],
            partial: vec![Vec::new(); sc.mrs],
            allowed_sleep: SECS(1),
            applied: vec![None; sc.mrs],
            ..Seen::default()
        };
        Sim {
            now: Duration::ZERO,
            mrs,
            next_event: 0,
            requests: 0,
            seen,
            log: Vec::new(),
            delays: Vec::new(),
            sc,
        }
    }

    fn selected(&self, name: &str) -> bool {
        let r = &self.sc.rules;
        (r.names.is_empty() || r.names.iter().any(|n| n == name))
            && !r.ignore.iter().any(|n| n == name)
    }

    /// Applies the timeline up to `now`.
    fn advance(&mut self, to: Duration) {
        self.now = self.now.max(to);
        while let Some((at, change)) = self.sc.timeline.get(self.next_event).cloned() {
            if at > self.now {
                break;
            }
            self.next_event += 1;
            self.apply(change);
        }
        let passing = self.truth_passing();
        match (passing, self.seen.passing_since) {
            (true, None) => self.seen.passing_since = Some(self.now),
            (false, _) => self.seen.passing_since = None,
            _ => {}
        }
        if self.seen.passing_since.is_none() && self.seen.failing_since.is_none() {
            self.seen.live_allowed = Duration::ZERO;
        }
        self.seen.live_allowed = self.seen.live_allowed.max(self.fault_free_pace());
        let failing = self.sc.rules.fail_fast && self.truth_failing();
        match (failing, self.seen.failing_since) {
            (true, None) => self.seen.failing_since = Some(self.now),
            (false, _) => self.seen.failing_since = None,
            _ => {}
        }
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Status { mr, id, status } => {
                if let Some(c) = self.mrs[mr].checks.iter_mut().find(|c| c.id == id) {
                    // The service answered something else: a retry's wait is over (an
                    // answer of `failed` again cannot be told from the old one).
                    if c.status != status {
                        c.retried_at = None;
                    }
                    c.status = status;
                }
            }
            Change::Add { mr, id, name } => {
                if !self.mrs[mr]
                    .checks
                    .iter()
                    .any(|c| c.id == id || c.name == name)
                {
                    self.mrs[mr].checks.push(SimCheck {
                        id,
                        name,
                        status: CheckStatus::Pending,
                        retries: 0,
                        retried_at: None,
                        last_retry: None,
                    });
                }
            }
            Change::Remove { mr, id } => {
                let m = &mut self.mrs[mr];
                if let Some(i) = m.checks.iter().position(|c| c.id == id) {
                    m.removed.push(m.checks.remove(i));
                }
            }
            Change::Rename { mr, id, name } => {
                if !self.mrs[mr].checks.iter().any(|c| c.name == name)
                    && let Some(c) = self.mrs[mr].checks.iter_mut().find(|c| c.id == id)
                {
                    c.name = name;
                }
            }
            Change::Push { mr } if self.mrs[mr].state == MrState::Open => {
                let m = &mut self.mrs[mr];
                m.sha = format!("sha-{}", self.now.as_millis());
                for c in &mut m.checks {
                    c.status = CheckStatus::Pending;
                }
            }
            Change::Merge { mr } if self.mrs[mr].state == MrState::Open => {
                self.mrs[mr].state = MrState::Merged;
            }
            Change::Close { mr } if self.mrs[mr].state == MrState::Open => {
                self.mrs[mr].state = MrState::Closed;
            }
            Change::PollInterval(pi) => self.sc.poll_interval = pi,
            Change::Push { .. } | Change::Merge { .. } | Change::Close { .. } => {}
        }
    }

    /// Every selected check passed on every MR not closed, at the gate's SHA.
    fn truth_passing(&self) -> bool {
        let open: Vec<&SimMr> = self
            .mrs
            .iter()
            .filter(|m| m.state != MrState::Closed)
            .collect();
        let selected = open
            .iter()
            .flat_map(|m| m.checks.iter())
            .filter(|c| self.selected(&c.name))
            .count();
        let named_present = self
            .sc
            .rules
            .names
            .iter()
            .all(|n| open.iter().any(|m| m.checks.iter().any(|c| &c.name == n)));
        !open.is_empty()
            && selected > 0
            && named_present
            && open.iter().all(|m| {
                m.sha == "sha-0"
                    && m.checks
                        .iter()
                        .filter(|c| self.selected(&c.name))
                        .all(|c| c.status == CheckStatus::Passed)
            })
    }

    /// A selected check on an MR still at the SHA failed, and its retries are spent
    /// (asked as often as allowed, or refused; before 16.5 not within 2 minutes of one).
    fn truth_failing(&self) -> bool {
        let r = &self.sc.rules;
        self.mrs
            .iter()
            .filter(|m| m.state != MrState::Closed && m.sha == "sha-0")
            .flat_map(|m| m.checks.iter())
            .filter(|c| self.selected(&c.name) && c.status == CheckStatus::Failed)
            .any(|c| {
                let spent = c.retries >= r.retry_failed || (self.sc.retry_refused && c.retries > 0);
                // Before 16.5 the gate cannot tell a new `failed` from the one it
                // retried (it may not have read what came between): 2 minutes' grace.
                let in_grace = !r.retry_resets_pending
                    && c.last_retry
                        .is_some_and(|t| self.now.saturating_sub(t) < RETRY_GRACE);
                spent && !in_grace
            })
    }

    /// Liveness, after every step: without faults, a pass (or a failure that fails fast)
    /// that stands is seen within one poll interval and the requests of a poll.
    fn check_live(&self) -> Result<(), Violation> {
        let closes = self
            .sc
            .timeline
            .iter()
            .any(|(_, c)| matches!(c, Change::Close { .. }));
        if self.seen.faults_seen || self.seen.budget_waited || closes {
            return Ok(());
        }
        let rounds = self.sc.checks.iter().map(Vec::len).sum::<usize>() + 4 * self.sc.mrs + 4;
        let slack = MS(self.sc.latency_ms) * rounds as u32 + SECS(1);
        let passing = self
            .seen
            .passing_since
            .filter(|_| self.sc.rules.retry_failed == 0);
        for (since, what) in [(passing, "a pass"), (self.seen.failing_since, "a failure")] {
            if let Some(since) = since
                && self.now > since + self.seen.live_allowed.max(self.fault_free_pace()) + slack
            {
                return violation(
                    "liveness: a verdict is seen within one poll interval",
                    format!("{what} since {since:?}, still running at {:?}", self.now),
                );
            }
        }
        Ok(())
    }

    /// The fault this request meets, and how long it takes.
    fn fault(&mut self) -> (Option<Fault>, Duration) {
        let n = self.requests;
        self.requests += 1;
        let window = self.window();
        let own = &mut self.seen.own_requests;
        *own = if own.0 == window {
            (window, own.1 + 1)
        } else {
            (window, 1)
        };
        let fault = self
            .sc
            .faults
            .iter()
            .find(|(i, _)| *i == n)
            .map(|(_, f)| *f);
        if let Some(f) = fault {
            self.log.push(format!("request {n} meets {f:?}"));
            // A slow answer is a fault too: liveness is promised without faults.
            self.seen.faults_seen = true;
        }
        let latency = match fault {
            Some(Fault::Slow(ms)) => MS(ms),
            _ => MS(self.sc.latency_ms),
        };
        (fault, latency)
    }

    /// Before a request at `self.now`: the sleep since the last answer was allowed.
    fn check_gap(&mut self, round_start: bool) -> Result<(), Violation> {
        let gap = self.now.saturating_sub(self.seen.last_answer);
        if gap > self.seen.allowed_sleep + MS(1) {
            return violation(
                "bounds: no sleep longer than --max-interval unless asked",
                format!(
                    "slept {gap:?} at {:?}, allowed {:?}",
                    self.now, self.seen.allowed_sleep
                ),
            );
        }
        if round_start {
            self.count_successful_poll();
            let pi = self.pace_floor();
            if let (Some(prev), Some(pi)) = (self.seen.last_round_start, pi)
                && self.now.saturating_sub(prev) + MS(1) < pi
            {
                return violation(
                    "politeness: list reads no closer than the Poll-Interval",
                    format!(
                        "rounds at {prev:?} and {:?}, Poll-Interval {pi:?}",
                        self.now
                    ),
                );
            }
            // Liveness: after a setback that named no wait, back at the pace in
            // ⌈log₂(max ÷ pace)⌉ successful polls.
            if let (Some(pi), Some(n)) = (pi, self.seen.since_bare)
                && self.sc.budget.is_none()
                && !self.seen.any_asked_429
                && self.seen.last_ok
                && n >= self.recovery_polls(pi)
                && gap > pi + MS(1)
            {
                return violation(
                    "liveness: back at the Poll-Interval after a bare setback",
                    format!(
                        "{n} successes since, slept {gap:?} at {:?}, pace {pi:?}",
                        self.now
                    ),
                );
            }
            self.seen.last_round_start = Some(self.now);
        }
        Ok(())
    }

    fn recovery_polls(&self, pi: Duration) -> u32 {
        let ratio = self.sc.rules.max_interval.as_secs_f64() / pi.as_secs_f64();
        ratio.log2().ceil().max(0.0) as u32
    }

    /// The pace a Poll-Interval sets: it, or `--interval` when longer (none without one).
    fn pace_floor(&self) -> Option<Duration> {
        let r = &self.sc.rules;
        match self.seen.poll_interval {
            Some(ms) if ms > 0 => Some(MS(ms as u64).min(CAP).max(r.interval)),
            _ => None,
        }
    }

    /// The longest sleep a successful answer allows.
    fn normal_allowed(&self) -> Duration {
        let r = &self.sc.rules;
        r.max_interval.max(self.pace_floor().unwrap_or_default())
    }

    /// The longest sleep between polls without faults: the pace GitLab's `Poll-Interval`
    /// sets, `--max-interval` when it turned polling off, and without one the gate's
    /// own backoff, which reaches `--max-interval`.
    fn fault_free_pace(&self) -> Duration {
        let pace = self.pace_floor().unwrap_or(self.sc.rules.max_interval);
        match self.sc.budget {
            // The budget may stretch the pace up to --max-interval.
            Some(_) => pace.max(self.sc.rules.max_interval),
            None => pace,
        }
    }

    fn answered(&mut self, asked: Option<Duration>, bare: bool) {
        self.seen.last_answer = self.now;
        let normal = self.normal_allowed();
        self.seen.allowed_sleep = match asked {
            Some(a) => normal.max(a.min(CAP).mul_f64(SPREAD)),
            None => normal,
        }
        .max(self.seen.budget_allows);
        if bare {
            self.seen.since_bare = Some(0);
        }
    }

    fn success(&mut self) {
        self.seen.last_ok = true;
        self.seen.decode_run = 0;
    }

    /// A round's lists (every open MR's, to its last page) were read.
    fn round_done(&mut self) {
        self.seen.round_listed = true;
    }

    /// The next round starts: the last one counts as a successful poll if no setback
    /// ended it (the gate's pacer then halved its level).
    fn count_successful_poll(&mut self) {
        if std::mem::take(&mut self.seen.round_listed)
            && let Some(n) = &mut self.seen.since_bare
        {
            *n += 1;
        }
    }

    /// A fault as the core sees it, and what it asked.
    fn setback(&mut self, fault: Fault) -> Failure {
        self.seen.faults_seen = true;
        self.seen.round_listed = false;
        // A failed request ends the poll: what was owed waits for the next round.
        self.seen.owed.clear();
        self.seen.last_ok = false;
        let (failure, asked, bare) = match fault {
            Fault::Bare429 => (
                Failure::Setback(Setback::Throttled {
                    retry_after: None,
                    budget: None,
                }),
                None,
                true,
            ),
            Fault::RetryAfter429(s) => (
                Failure::Setback(Setback::Throttled {
                    retry_after: Some(SECS(s)),
                    budget: None,
                }),
                Some(SECS(s)),
                false,
            ),
            Fault::Budget429(reset) => (
                Failure::Setback(Setback::Throttled {
                    retry_after: None,
                    budget: Some(Budget {
                        limit: 600,
                        remaining: 0,
                        reset_in: SECS(reset),
                    }),
                }),
                Some(SECS(reset)),
                false,
            ),
            Fault::Unavailable503(after) => (
                Failure::Setback(Setback::Unavailable {
                    retry_after: after.map(SECS),
                }),
                after.map(SECS),
                after.is_none(),
            ),
            Fault::Reset | Fault::Slow(_) => (
                Failure::Setback(Setback::Unavailable { retry_after: None }),
                None,
                true,
            ),
            Fault::BadJson => (Failure::Undecodable, None, true),
        };
        if matches!(fault, Fault::RetryAfter429(_) | Fault::Budget429(_)) {
            self.seen.any_asked_429 = true;
        }
        // Three bad bodies without a good answer between end the wait.
        if fault == Fault::BadJson {
            self.seen.decode_run += 1;
        }
        self.answered(asked, bare);
        failure
    }

    /// Sends the request's latency, or the timeout the client would give.
    fn take(&mut self, latency: Duration) -> bool {
        let remaining = self.sc.rules.timeout.saturating_sub(self.now);
        let limit = REQUEST_TIMEOUT.min(remaining).max(MS(100));
        if latency >= limit {
            self.advance(self.now + limit);
            return false;
        }
        self.advance(self.now + latency);
        true
    }

    fn window(&self) -> u64 {
        (self.now.as_secs_f64() / BUDGET_WINDOW.as_secs_f64()) as u64
    }

    /// The token's budget now: what the other gates spent of this window so far, and
    /// this gate's requests in it.
    fn budget_now(&self) -> Option<Budget> {
        let b = self.sc.budget?;
        let window = self.window();
        let into = self.now.saturating_sub(BUDGET_WINDOW * window as u32);
        let others = (f64::from(b.others_per_min) * into.as_secs_f64() / 60.0) as u32;
        let own = if self.seen.own_requests.0 == window {
            self.seen.own_requests.1
        } else {
            0
        };
        Some(Budget {
            limit: b.limit,
            remaining: b.limit.saturating_sub(others + own),
            reset_in: BUDGET_WINDOW.saturating_sub(into).max(SECS(1)),
        })
    }

    /// Whether a list answer's budget allows the gate to wait to its reset: when what is
    /// left (used at 90 %) is less than one more round of the gates the gate may think
    /// share it, which is at most the most the budget fell between two of its answers.
    fn budget_asks(&mut self, budget: Budget) -> Option<Duration> {
        let window = self.window();
        if let Some((w, before)) = self.seen.last_budget
            && w == window
            && before >= budget.remaining
        {
            self.seen.max_spent = self.seen.max_spent.max(before - budget.remaining);
        }
        self.seen.last_budget = Some((window, budget.remaining));
        let usable = (f64::from(budget.remaining) * 0.9).floor();
        let tight = usable < f64::from(self.seen.max_spent.max(1));
        self.seen.budget_waited |= tight;
        let asked = tight.then_some(budget.reset_in);
        self.seen.budget_allows = asked.map_or(Duration::ZERO, |a| a.min(CAP).mul_f64(SPREAD));
        asked
    }

    fn read_list(&mut self, mr: usize, page: u32) -> Result<Page, Failure> {
        let (fault, latency) = self.fault();
        if !self.take(latency) {
            return Err(self.setback(Fault::Slow(0)));
        }
        if let Some(f) = fault.filter(|f| !matches!(f, Fault::Slow(_))) {
            return Err(self.setback(f));
        }
        // GitLab answers a spent budget with a 429 that tells it (and nothing else).
        let budget = match self.budget_now() {
            Some(b) if b.remaining == 0 => {
                return Err(self.setback(Fault::Budget429(b.reset_in.as_secs())));
            }
            budget => budget,
        };
        let all: Vec<Item> = self.mrs[mr]
            .checks
            .iter()
            .map(|c| Item {
                id: c.id,
                name: c.name.clone(),
                status: c.status.clone(),
            })
            .collect();
        let size = self.sc.page_size;
        let start = (page as usize - 1) * size;
        let items: Vec<Item> = all.iter().skip(start).take(size).cloned().collect();
        let more = start + size < all.len();
        let first_mr = (0..self.sc.mrs).find(|i| {
            self.seen.heads[*i]
                .as_ref()
                .is_none_or(|h| h.2 != MrState::Closed)
        });
        if page == 1 && first_mr == Some(mr) && self.sc.poll_interval.is_some_and(|p| p != 0) {
            self.seen.poll_interval = self.sc.poll_interval;
        }
        if page == 1 {
            self.seen.partial[mr].clear();
        }
        self.seen.partial[mr].extend(items.iter().cloned());
        if !more {
            let list = std::mem::take(&mut self.seen.partial[mr]);
            self.seen.lists[mr] = Some((self.now, list));
            let last_open = (0..self.sc.mrs).rev().find(|i| {
                self.seen.heads[*i]
                    .as_ref()
                    .is_none_or(|h| h.2 != MrState::Closed)
            });
            if last_open == Some(mr) {
                self.round_done();
                if self.seen.first_round.is_none() {
                    self.seen.first_round = Some(self.seen.lists.clone());
                }
            }
        }
        self.success();
        let asked = budget.and_then(|b| self.budget_asks(b));
        self.answered(asked, false);
        Ok(Page {
            items,
            next_page: more.then_some(page + 1),
            poll_interval_ms: if page == 1 {
                self.sc.poll_interval
            } else {
                None
            },
            budget,
        })
    }

    fn read_head(&mut self, mr: usize) -> Result<Head, Failure> {
        let (fault, latency) = self.fault();
        if !self.take(latency) {
            return Err(self.setback(Fault::Slow(0)));
        }
        if let Some(f) = fault.filter(|f| !matches!(f, Fault::Slow(_))) {
            return Err(self.setback(f));
        }
        let m = &self.mrs[mr];
        let head = Head {
            sha: Some(m.sha.clone()),
            state: m.state,
        };
        self.seen.heads[mr] = Some((self.now, head.sha.clone(), head.state));
        self.success();
        self.answered(None, false);
        Ok(head)
    }

    fn retry(&mut self, mr: usize, id: u64) -> RetryAnswer {
        let (fault, latency) = self.fault();
        if !self.take(latency) {
            return RetryAnswer::Failed(self.setback(Fault::Slow(0)));
        }
        if let Some(f) = fault.filter(|f| !matches!(f, Fault::Slow(_) | Fault::BadJson)) {
            return RetryAnswer::Failed(self.setback(f));
        }
        self.success();
        self.answered(None, false);
        let resets = self.sc.rules.retry_resets_pending;
        let refused = self.sc.retry_refused;
        let now = self.now;
        let Some(c) = self.mrs[mr].checks.iter_mut().find(|c| c.id == id) else {
            return RetryAnswer::Refused;
        };
        c.retries += 1;
        if refused {
            return RetryAnswer::Refused;
        }
        if c.status != CheckStatus::Failed {
            return RetryAnswer::NotFailed;
        }
        c.retried_at = Some(now);
        c.last_retry = Some(now);
        if resets {
            c.status = CheckStatus::Pending;
        }
        RetryAnswer::Accepted
    }

    /// After a round the gate completed: what it must do before it sleeps. Only what
    /// the gate is sure to know counts (its lists; the retries that reached GitLab),
    /// so that nothing is owed that a correct gate might rightly skip.
    fn owe(&mut self, gate: &Gate) {
        let r = &self.sc.rules;
        let previous = std::mem::replace(&mut self.seen.applied, self.seen.lists.clone());
        let mut owed = Vec::new();
        let mut counted = false;
        for mr in (0..self.sc.mrs).filter(|m| gate.is_open(*m)) {
            let Some((_, list)) = &self.seen.lists[mr] else {
                continue;
            };
            for item in list.iter().filter(|i| self.selected(&i.name)) {
                let was_passed = previous[mr].as_ref().is_some_and(|(_, l)| {
                    l.iter().any(|p| {
                        p.id == item.id && self.selected(&p.name) && p.status == CheckStatus::Passed
                    })
                });
                if was_passed && item.status == CheckStatus::Pending {
                    owed.push(Owed::Head);
                }
                let sim = self.mrs[mr].checks.iter().find(|c| c.id == item.id);
                let (CheckStatus::Failed, Some(c)) = (&item.status, sim) else {
                    continue;
                };
                // Before 16.5 a retried check's `failed` may be the old one (the grace).
                let near_retry = !r.retry_resets_pending
                    && c.last_retry
                        .is_some_and(|t| self.now.saturating_sub(t) < RETRY_GRACE + SECS(1));
                if near_retry {
                    continue;
                }
                if (self.sc.retry_refused && c.retries > 0) || c.retries >= r.retry_failed {
                    counted = true;
                } else {
                    owed.push(Owed::Retry(mr, item.id));
                }
            }
        }
        if counted && r.fail_fast {
            owed.retain(|o| *o == Owed::Head);
        }
        let (at, round) = self.seen.head_read;
        if gate.rounds.saturating_sub(round) >= super::HEAD_EVERY_ROUNDS
            || self.now.saturating_sub(at) >= super::HEAD_EVERY
        {
            owed.push(Owed::Head);
        }
        let unmerged = (0..self.sc.mrs).any(|m| {
            gate.is_open(m)
                && self.seen.heads[m]
                    .as_ref()
                    .is_none_or(|h| h.2 != MrState::Merged)
        });
        if !unmerged {
            owed.retain(|o| *o != Owed::Head);
        }
        owed.dedup();
        self.seen.owed = owed;
    }

    /// Runs the gate to its end, checking the invariants after every step.
    fn run(&mut self, gate: &mut Gate) -> Result<End, Violation> {
        for _ in 0..100_000 {
            self.advance(self.now);
            self.check_live()?;
            let action = gate.next(self.now);
            for event in gate.notices() {
                if let super::Notice::NextPoll { delay } = event {
                    self.delays.push(delay);
                }
                self.log.push(format!("{event:?}"));
            }
            self.log.push(format!("{:?} {action:?}", self.now));
            let ended_by =
                |end: &End| matches!(end, End::Undecodable | End::Verdict(Verdict::Timeout));
            if self.seen.decode_run >= super::MAX_DECODE_ERRORS
                && !matches!(&action, Next::Done(end) if ended_by(end))
            {
                return violation(
                    "safety: three bad bodies in a row end the wait",
                    format!("{action:?} after {} in a row", self.seen.decode_run),
                )
                .map(|()| End::Undecodable);
            }
            match action {
                Next::ReadList { mr, page } => {
                    let round_start = page == 1 && (0..mr).all(|i| !gate.is_open(i));
                    self.check_gap(round_start)?;
                    let answer = self.read_list(mr, page);
                    let rounds = gate.rounds;
                    gate.on_list(self.now, answer);
                    if gate.rounds > rounds {
                        self.owe(gate);
                    }
                }
                Next::ReadHead { mr } => {
                    self.check_gap(false)?;
                    let answer = self.read_head(mr);
                    self.seen.head_read = (self.now, gate.rounds);
                    self.seen.owed.retain(|o| *o != Owed::Head);
                    gate.on_head(self.now, answer);
                }
                Next::Retry { mr, check } => {
                    self.check_gap(false)?;
                    let asked = self.mrs[mr]
                        .checks
                        .iter()
                        .find(|c| c.id == check)
                        .map_or(0, |c| c.retries);
                    if asked >= self.sc.rules.retry_failed {
                        return violation(
                            "politeness: no more retries of a check than --retry-failed",
                            format!("retry {} of check {check} on MR {mr}", asked + 1),
                        )
                        .map(|()| End::Undecodable);
                    }
                    if self.sc.retry_refused && asked > 0 {
                        return violation(
                            "politeness: a check GitLab refused to retry (404) is not retried again",
                            format!("check {check} on MR {mr}"),
                        )
                        .map(|()| End::Undecodable);
                    }
                    self.seen.owed.retain(|o| *o != Owed::Retry(mr, check));
                    let answer = self.retry(mr, check);
                    gate.on_retry(self.now, answer);
                }
                Next::Sleep { until } => {
                    if !self.seen.owed.is_empty() {
                        return violation(
                            "liveness: a poll retries its failed checks and makes its due head reads",
                            format!("sleeps owing {:?}", self.seen.owed),
                        )
                        .map(|()| End::Undecodable);
                    }
                    if until <= self.now && until < self.sc.rules.timeout {
                        return Err(Violation {
                            invariant: "progress: a sleep ends in the future",
                            detail: format!("sleep until {until:?} at {:?}", self.now),
                        });
                    }
                    self.advance(until);
                }
                Next::Done(end) => {
                    self.check_end(gate, &end)?;
                    return Ok(end);
                }
            }
        }
        Err(Violation {
            invariant: "progress: the gate ends",
            detail: "100,000 steps".into(),
        })
    }

    fn check_end(&self, gate: &Gate, end: &End) -> Result<(), Violation> {
        let r = &self.sc.rules;
        if self.now > r.timeout + SECS(1) {
            return violation(
                "bounds: ends by --timeout + 1 s",
                format!("ended at {:?} with {end:?}", self.now),
            );
        }
        let open: Vec<usize> = (0..self.sc.mrs).filter(|i| gate.is_open(*i)).collect();
        if let Some(first) = &self.seen.first_round {
            let missing: Vec<String> = r
                .names
                .iter()
                .filter(|n| {
                    !first
                        .iter()
                        .flatten()
                        .any(|(_, l)| l.iter().any(|i| &i.name == *n))
                })
                .cloned()
                .collect();
            if !missing.is_empty() && *end != End::UnknownNames(missing.clone()) {
                return violation(
                    "usage: a --name on no list of the first poll is exit 2",
                    format!("{missing:?} missing, ended {end:?}"),
                );
            }
        }
        match end {
            End::Verdict(Verdict::Passed) => self.check_pass(&open),
            End::Verdict(Verdict::Failed) => self.check_fail(&open),
            End::Verdict(Verdict::Stale) => {
                let moved = open.iter().any(|&mr| {
                    self.seen.heads[mr]
                        .as_ref()
                        .is_some_and(|h| h.1.as_deref() != Some("sha-0"))
                });
                if moved {
                    Ok(())
                } else {
                    violation(
                        "safety: stale only when a head read showed another SHA",
                        String::new(),
                    )
                }
            }
            End::Verdict(Verdict::Empty) => {
                let nothing = open.is_empty()
                    || open.iter().all(|&mr| {
                        self.seen.lists[mr]
                            .as_ref()
                            .is_some_and(|(_, l)| l.iter().all(|i| !self.selected(&i.name)))
                    });
                if nothing {
                    Ok(())
                } else {
                    violation("safety: empty only with nothing to wait for", String::new())
                }
            }
            End::Verdict(Verdict::Timeout) => {
                if self.now < r.timeout {
                    return violation(
                        "bounds: no timeout before --timeout",
                        format!("{:?}", self.now),
                    );
                }
                // A verdict that stood long enough was caught by `check_live`, every step.
                Ok(())
            }
            End::UnknownNames(names) => {
                let listed = |n: &String| {
                    self.seen
                        .lists
                        .iter()
                        .flatten()
                        .any(|(_, l)| l.iter().any(|i| &i.name == n))
                };
                if gate.rounds == 1 && names.iter().all(|n| !listed(n)) {
                    Ok(())
                } else {
                    violation(
                        "safety: unknown names only on the first poll",
                        format!("{names:?}"),
                    )
                }
            }
            End::Undecodable => {
                if self.seen.decode_run >= super::MAX_DECODE_ERRORS {
                    Ok(())
                } else {
                    violation(
                        "safety: a single bad body is never final",
                        format!("{} in a row", self.seen.decode_run),
                    )
                }
            }
        }
    }

    /// Exit 0: the last complete read of every open MR's list showed every selected
    /// check passed, and a head read after it showed the SHA.
    fn check_pass(&self, open: &[usize]) -> Result<(), Violation> {
        if open.is_empty() {
            return violation("safety: a pass needs an MR", String::new());
        }
        let mut selected = 0;
        for &mr in open {
            let Some((listed_at, list)) = &self.seen.lists[mr] else {
                return violation("safety: a pass needs every list read", format!("MR {mr}"));
            };
            for item in list.iter().filter(|i| self.selected(&i.name)) {
                selected += 1;
                if item.status != CheckStatus::Passed {
                    return violation(
                        "safety: exit 0 only if every selected check passed",
                        format!("MR {mr}: {} is {}", item.name, item.status),
                    );
                }
            }
            // A merged MR's head cannot move: one read that showed it merged will do.
            let head_ok = self.seen.heads[mr]
                .as_ref()
                .is_some_and(|(at, sha, state)| {
                    (at >= listed_at || *state == MrState::Merged)
                        && sha.as_deref() == Some("sha-0")
                });
            if !head_ok {
                return violation(
                    "safety: exit 0 only after a head read that equals the SHA",
                    format!(
                        "MR {mr}: list at {listed_at:?}, head {:?}",
                        self.seen.heads[mr]
                    ),
                );
            }
        }
        for name in &self.sc.rules.names {
            let present = open.iter().any(|&mr| {
                self.seen.lists[mr]
                    .as_ref()
                    .is_some_and(|(_, l)| l.iter().any(|i| &i.name == name))
            });
            if !present {
                return violation(
                    "safety: exit 0 only with every --name present",
                    name.clone(),
                );
            }
        }
        if selected == 0 {
            return violation(
                "safety: exit 0 needs a check (or --allow-empty)",
                String::new(),
            );
        }
        Ok(())
    }

    /// Exit 1: a selected check read `failed` after the retries asked for.
    fn check_fail(&self, open: &[usize]) -> Result<(), Violation> {
        let r = &self.sc.rules;
        // The gate decides when its round is complete: at the last list read.
        let decided_at = self.seen.lists.iter().flatten().map(|(t, _)| *t).max();
        let counted = open.iter().any(|&mr| {
            let (Some((_, list)), Some(at)) = (&self.seen.lists[mr], decided_at) else {
                return false;
            };
            list.iter()
                .filter(|i| self.selected(&i.name) && i.status == CheckStatus::Failed)
                .any(|i| {
                    let m = &self.mrs[mr];
                    let sim = m.checks.iter().chain(&m.removed).find(|c| c.id == i.id);
                    let retries = sim.map_or(0, |c| c.retries);
                    let in_grace = !r.retry_resets_pending
                        && sim
                            .and_then(|c| c.retried_at)
                            .is_some_and(|t| at.saturating_sub(t) < RETRY_GRACE);
                    let refused = self.sc.retry_refused && sim.is_some();
                    (refused || retries >= r.retry_failed) && !in_grace
                })
        });
        if counted {
            Ok(())
        } else {
            violation(
                "safety: exit 1 only for a failed check after its retries",
                format!(
                    "lists {:?}",
                    self.seen
                        .lists
                        .iter()
                        .map(|l| l.as_ref().map(|(t, l)| (t, l.len())))
                        .collect::<Vec<_>>()
                ),
            )
        }
    }
}

/// A scenario from a seed.
fn generate(seed: u64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mrs = if rng.u8(..10) < 8 {
        1
    } else {
        rng.usize(2..=3)
    };
    let names_pool = ["scan", "lint", "Scan", "review", "deploy", "perf"];
    let mut next_id = 1;
    let mut checks = Vec::new();
    for _ in 0..mrs {
        let n = rng.usize(0..=4);
        let mut list = Vec::new();
        for name in names_pool.iter().take(n) {
            list.push((next_id, (*name).to_owned()));
            next_id += 1;
        }
        checks.push(list);
    }
    let interval = MS(rng.u64(100..=5000));
    let max_interval = interval + MS(rng.u64(0..=25_000));
    let timeout = SECS(rng.u64(5..=600));
    let names = if rng.u8(..4) == 0 {
        vec![names_pool[rng.usize(..3)].to_owned()]
    } else {
        Vec::new()
    };
    let ignore = if rng.u8(..5) == 0 {
        vec![names_pool[rng.usize(..5)].to_owned()]
    } else {
        Vec::new()
    };
    let rules = Rules {
        timeout,
        interval,
        max_interval,
        fail_fast: rng.u8(..4) != 0,
        retry_failed: if rng.u8(..3) == 0 { rng.u32(1..=2) } else { 0 },
        names,
        ignore,
        retry_resets_pending: rng.bool(),
    };
    let poll_interval = match rng.u8(..5) {
        0 => None,
        1 => Some(-1),
        _ => Some(rng.i64(500..=15_000)),
    };
    let mut timeline = Vec::new();
    let events = rng.usize(0..=12);
    for _ in 0..events {
        let at = MS(rng.u64(0..=timeout.as_millis() as u64));
        let mr = rng.usize(..mrs);
        let id = rng.u64(1..next_id.max(2) + 1);
        let change = match rng.u8(..20) {
            0..=9 => Change::Status {
                mr,
                id,
                status: match rng.u8(..6) {
                    0 => CheckStatus::Failed,
                    1 => CheckStatus::Pending,
                    _ => CheckStatus::Passed,
                },
            },
            10 => Change::Add {
                mr,
                id: 100 + rng.u64(..5),
                name: names_pool[rng.usize(..names_pool.len())].to_owned(),
            },
            11 => Change::Remove { mr, id },
            12 => Change::Rename {
                mr,
                id,
                name: names_pool[rng.usize(..names_pool.len())].to_owned(),
            },
            13 => Change::Push { mr },
            14 => Change::Merge { mr },
            15 => Change::Close { mr },
            16 => Change::PollInterval(match rng.u8(..3) {
                0 => None,
                1 => Some(-1),
                _ => Some(rng.i64(500..=20_000)),
            }),
            _ => Change::Status {
                mr,
                id,
                status: CheckStatus::Passed,
            },
        };
        timeline.push((at, change));
    }
    // Most timelines end with every check passing.
    if rng.u8(..3) != 0 {
        let at = MS(rng.u64(0..=timeout.as_millis() as u64));
        for mr in 0..mrs {
            for id in 1..next_id {
                timeline.push((
                    at,
                    Change::Status {
                        mr,
                        id,
                        status: CheckStatus::Passed,
                    },
                ));
            }
        }
    }
    timeline.sort_by_key(|(at, _)| *at);
    let fault_rate = [0, 0, 5, 15, 40][rng.usize(..5)];
    let mut faults = Vec::new();
    for i in 0..400 {
        if rng.u8(..100) < fault_rate {
            let fault = match rng.u8(..8) {
                0 | 1 => Fault::Bare429,
                2 => Fault::RetryAfter429(rng.u64(0..=40)),
                3 => Fault::Budget429(rng.u64(0..=60)),
                4 => Fault::Unavailable503(rng.bool().then(|| rng.u64(0..=10))),
                5 => Fault::Reset,
                6 => Fault::BadJson,
                _ => Fault::Slow(rng.u64(0..=5000)),
            };
            faults.push((i, fault));
        }
    }
    Scenario {
        rules,
        seed,
        mrs,
        merged: rng.u8(..8) == 0,
        checks,
        page_size: rng.usize(1..=3),
        poll_interval,
        budget: (rng.u8(..4) == 0).then(|| {
            let limit = rng.u32(30..=2000);
            SimBudget {
                limit,
                others_per_min: rng.u32(0..=limit + limit / 5),
            }
        }),
        retry_refused: rng.u8(..5) == 0,
        timeline,
        faults,
        latency_ms: rng.u64(0..=300),
    }
}

fn run_scenario(sc: &Scenario) -> Result<End, (Violation, Vec<String>)> {
    let mut sim = Sim::new(sc.clone());
    let mut gate = Gate::new(sc.rules.clone(), "sha-0".into(), sc.mrs, sc.merged, sc.seed);
    sim.run(&mut gate).map_err(|v| (v, sim.log))
}

/// The smallest scenario that still breaks the same invariant: timeline events, faults
/// and checks removed one at a time, one page per list, no retries, no name filters.
fn shrink(mut sc: Scenario, invariant: &str) -> Scenario {
    let breaks = |tried: &Scenario| {
        run_scenario(tried).is_err_and(|(violation, _)| violation.invariant == invariant)
    };
    loop {
        let mut smaller = false;
        for tried in simpler(&sc) {
            if breaks(&tried) {
                sc = tried;
                smaller = true;
            }
        }
        if !smaller {
            return sc;
        }
    }
}

/// Each scenario one step simpler than `sc`.
fn simpler(sc: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut with = |change: &dyn Fn(&mut Scenario)| {
        let mut tried = sc.clone();
        change(&mut tried);
        out.push(tried);
    };
    for i in (0..sc.timeline.len()).rev() {
        with(&|t| _ = t.timeline.remove(i));
    }
    for i in (0..sc.faults.len()).rev() {
        with(&|t| _ = t.faults.remove(i));
    }
    for (mr, checks) in sc.checks.iter().enumerate() {
        for i in (0..checks.len()).rev() {
            with(&|t| _ = t.checks[mr].remove(i));
        }
    }
    if sc.page_size < 100 {
        with(&|t| t.page_size = 100);
    }
    if sc.rules.retry_failed > 0 {
        with(&|t| t.rules.retry_failed = 0);
    }
    if !sc.rules.names.is_empty() || !sc.rules.ignore.is_empty() {
        with(&|t| {
            t.rules.names.clear();
            t.rules.ignore.clear();
        });
    }
    out
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn the_gate_keeps_its_promises_on_random_timelines() {
    let (from, count) = match env_u64("SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("SIM_FROM").unwrap_or(0),
            env_u64("SIM_SEEDS").unwrap_or(10_000),
        ),
    };
    let mut ends = std::collections::BTreeMap::new();
    for seed in from..from + count {
        let sc = generate(seed);
        match run_scenario(&sc) {
            Ok(end) => *ends.entry(format!("{end:?}")).or_insert(0) += 1,
            Err((v, _)) => {
                let small = shrink(sc, v.invariant);
                let (v2, log) = run_scenario(&small).err().unwrap_or((v, Vec::new()));
                let keep = if std::env::var_os("SIM_LOG_ALL").is_some() {
                    usize::MAX
                } else {
                    25
                };
                let tail: Vec<&String> = log.iter().rev().take(keep).collect();
                panic!(
                    "seed {seed} broke {v2}\nreplay: SIM_SEED={seed} cargo test the_gate_keeps_its_promises\nsmallest failing scenario: {small:#?}\nlast steps (newest first): {tail:#?}"
                );
            }
        }
    }
    eprintln!("{count} seeds from {from}: {ends:?}");
}

/// The lone gate of issue 21: `--interval 1s --max-interval 2s --timeout 20s`, a
/// Poll-Interval of 1 s, two checks that pass from the start.
fn lone_gate(faults: Vec<(usize, Fault)>) -> Scenario {
    Scenario {
        rules: Rules {
            timeout: SECS(20),
            interval: SECS(1),
            max_interval: SECS(2),
            fail_fast: true,
            retry_failed: 0,
            names: Vec::new(),
            ignore: Vec::new(),
            retry_resets_pending: true,
        },
        seed: 1,
        mrs: 1,
        merged: false,
        checks: vec![vec![(1, "a".into()), (2, "b".into())]],
        page_size: 100,
        poll_interval: Some(1000),
        budget: None,
        retry_refused: false,
        timeline: vec![
            (
                MS(0),
                Change::Status {
                    mr: 0,
                    id: 1,
                    status: CheckStatus::Passed,
                },
            ),
            (
                MS(0),
                Change::Status {
                    mr: 0,
                    id: 2,
                    status: CheckStatus::Passed,
                },
            ),
        ],
        faults,
        latency_ms: 20,
    }
}

/// How the gate ended, when, and the delays it chose after its answers.
fn sleeps(sc: &Scenario) -> (End, Duration, Vec<Duration>) {
    let mut sim = Sim::new(sc.clone());
    let mut gate = Gate::new(sc.rules.clone(), "sha-0".into(), sc.mrs, false, sc.seed);
    let end = sim.run(&mut gate).unwrap_or_else(|v| panic!("{v}"));
    (end, sim.now, sim.delays)
}

#[test]
fn bounds_three_bare_429s_never_stretch_a_wait_past_max_interval() {
    // Requests 1 to 3 (the first is 0) meet a proxy's 429 without Retry-After.
    let sc = lone_gate(vec![
        (0, Fault::Bare429),
        (1, Fault::Bare429),
        (2, Fault::Bare429),
    ]);
    let (end, at, sleeps) = sleeps(&sc);
    assert_eq!(end, End::Verdict(Verdict::Passed), "{sleeps:?}");
    assert!(sleeps.iter().all(|s| *s <= SECS(2)), "{sleeps:?}");
    // Three setbacks within 2 s each, then one poll and the head read: well before 10 s.
    assert!(at < SECS(10), "passed at {at:?}: {sleeps:?}");
}

#[test]
fn liveness_after_bare_429s_the_pace_is_back_at_the_poll_interval() {
    let mut sc = lone_gate(vec![
        (0, Fault::Bare429),
        (1, Fault::Bare429),
        (2, Fault::Bare429),
    ]);
    sc.rules.max_interval = SECS(8);
    sc.rules.timeout = SECS(60);
    sc.timeline.clear();
    sc.timeline.push((
        SECS(40),
        Change::Status {
            mr: 0,
            id: 1,
            status: CheckStatus::Passed,
        },
    ));
    sc.timeline.push((
        SECS(40),
        Change::Status {
            mr: 0,
            id: 2,
            status: CheckStatus::Passed,
        },
    ));
    let (end, _, sleeps) = sleeps(&sc);
    assert_eq!(end, End::Verdict(Verdict::Passed));
    // ⌈log₂(8 ÷ 1)⌉ = 3 polls after the last 429, the pace is the Poll-Interval.
    let after = &sleeps[3 + 2..];
    assert!(
        !after.is_empty() && after.iter().all(|s| *s == SECS(1)),
        "{sleeps:?}"
    );
}

#[test]
fn bounds_a_retry_after_is_kept_to_within_a_tenth() {
    let sc = lone_gate(vec![
        (0, Fault::RetryAfter429(2)),
        (1, Fault::RetryAfter429(2)),
    ]);
    let (end, _, sleeps) = sleeps(&sc);
    assert_eq!(end, End::Verdict(Verdict::Passed));
    assert!(sleeps[0] >= SECS(2) && sleeps[0] <= MS(2200), "{sleeps:?}");
    assert!(sleeps[1] >= SECS(2) && sleeps[1] <= MS(2200), "{sleeps:?}");
}
