//! The gate's loop: poll every MR's check list on the schedule, track each
//! selected check, retry failed ones when asked, re-read the MR's head before any
//! verdict, and stop at the first verdict or the deadline.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use super::progress::Progress;
use super::schedule::Schedule;
use super::settings::Settings;
use crate::checks::{self, Ctx, Target, Targets};
use crate::duration::human;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::error::ApiErrorKind;
use crate::gitlab::paths;
use crate::gitlab::{ApiError, CheckStatus, MergeRequest, MrCheck};
use crate::sha::Sha;

/// Besides before any verdict and when a check falls back to `pending` (what
/// a push does to every check), the MR's head is re-read this often: a push
/// that leaves every check pending changes nothing in the list.
const HEAD_EVERY_POLLS: u32 = 30;
const HEAD_EVERY: Duration = Duration::from_secs(300);
/// A body that is not JSON this many times in a row is not a passing glitch.
const MAX_DECODE_ERRORS: u32 = 3;

/// What a poll saw change.
#[derive(Clone, Copy, Default)]
pub(super) struct Changes {
    pub(super) any: bool,
    /// A decided check is pending again: the signature of a push.
    pub(super) back_to_pending: bool,
}

/// One check on one MR, as the gate tracks it.
pub(super) struct Tracked {
    /// Index of its MR in `Gate::mrs`.
    pub(super) mr: usize,
    pub(super) iid: u64,
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) status: CheckStatus,
    /// When it reached its status, from the start of the wait.
    pub(super) since: Duration,
    pub(super) retries: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Verdict {
    Passed,
    Failed,
    Timeout,
    Stale,
    Empty,
}

impl Verdict {
    pub(super) fn word(self, allow_empty: bool) -> &'static str {
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

pub(super) struct Gate<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) settings: Settings,
    pub(super) sha: Sha,
    pub(super) mrs: Vec<Target>,
    /// The gate is on a merged MR (a deploy after the merge): its head cannot move.
    pub(super) merged: bool,
    pub(super) started: Instant,
    pub(super) deadline: Instant,
    /// Keyed by (MR index, check id), in first-seen order per MR.
    pub(super) checks: BTreeMap<(usize, u64), Tracked>,
    pub(super) schedule: Schedule,
    pub(super) polls: u32,
    pub(super) polls_since_head: u32,
    pub(super) last_head_read: Instant,
    pub(super) decode_errors: u32,
    /// The transient error of the latest poll, when it failed (cleared by a
    /// successful poll): a timeout says why nothing was seen.
    pub(super) last_error: Option<String>,
    /// No poll before this: the `Retry-After` of a 429 or 503 that outlived
    /// the client's retries (it may reach past the deadline).
    pub(super) not_before: Option<Instant>,
    /// Set when the MR's head moved: (its label, new head).
    pub(super) moved: Option<(String, String)>,
    pub(super) empty_reason: String,
    /// Every check name of the first poll, selected or not (for `did you mean`).
    pub(super) first_listed: Vec<String>,
    pub(super) progress: Progress,
}

impl<'c, 'a> Gate<'c, 'a> {
    /// A gate on `found`'s MRs for `sha`, started at `started`, ending at `deadline`.
    pub(super) fn new(
        ctx: &'c Ctx<'a>,
        settings: Settings,
        sha: Sha,
        found: &Targets,
        started: Instant,
        deadline: Instant,
    ) -> Gate<'c, 'a> {
        let schedule = Schedule::new(
            settings.interval,
            settings.max_interval,
            settings.interval_explicit,
        );
        let progress = Progress::new(settings.progress_every);
        Gate {
            ctx,
            settings,
            sha,
            mrs: found.mrs.clone(),
            merged: found.is_merged(),
            started,
            deadline,
            checks: BTreeMap::new(),
            schedule,
            polls: 0,
            polls_since_head: 0,
            last_head_read: started,
            decode_errors: 0,
            last_error: None,
            not_before: None,
            moved: None,
            empty_reason: String::new(),
            first_listed: Vec::new(),
            progress,
        }
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) fn label(&self, check: &Tracked) -> String {
        label(self.several(), &self.mrs[check.mr].label, &check.name)
    }

    pub(super) fn several(&self) -> bool {
        self.mrs.len() > 1
    }

    pub(super) fn poll_until_verdict(&mut self) -> Result<Verdict, Error> {
        // From here the gate paces itself by GitLab's 429s: the client hands them back.
        self.ctx.client.defer_rate_limits();
        let first = self.schedule.first_delay();
        thread::sleep(first.min(self.deadline.saturating_duration_since(Instant::now())));
        loop {
            let polled = self.poll_once()?;
            if polled.is_some() && self.polls == 1 {
                if let Some(verdict) = self.first_poll_checks()? {
                    return Ok(verdict);
                }
                self.header();
            }
            // Nothing is known until one poll has succeeded.
            if self.polls == 0 {
                self.report_progress();
                if !self.sleep_until_next_poll() {
                    return Ok(Verdict::Timeout);
                }
                continue;
            }
            // `None`: a transient error, already logged; the last statuses stand.
            let changes = polled.unwrap_or_default();
            if changes.any {
                self.schedule.reset();
            }
            if let Some(verdict) = self.verdict_from_statuses()? {
                // Before any verdict: is this still the MR's head?
                if self.head_moved()? {
                    return Ok(Verdict::Stale);
                }
                return Ok(verdict);
            }
            let due = changes.back_to_pending
                || self.polls_since_head >= HEAD_EVERY_POLLS
                || self.last_head_read.elapsed() >= HEAD_EVERY;
            if due && self.head_moved()? {
                return Ok(Verdict::Stale);
            }
            self.report_progress();
            if !self.sleep_until_next_poll() {
                return Ok(Verdict::Timeout);
            }
        }
    }

    /// Reads every MR's list. `Ok(None)` on a transient failure.
    fn poll_once(&mut self) -> Result<Option<Changes>, Error> {
        let mut lists = Vec::new();
        self.schedule.polling();
        for i in 0..self.mrs.len() {
            let mr = &self.mrs[i];
            let path = paths::mr_checks(&mr.project.encoded, mr.iid);
            match self.ctx.client.get_all::<MrCheck>(&path) {
                Ok(listing) => {
                    self.schedule
                        .observe_poll_interval(listing.poll_interval_ms);
                    self.schedule.observe_budget(listing.budget);
                    lists.push((i, listing.items));
                }
                Err(e) => return self.transient_or_fatal(e, i).map(|()| None),
            }
        }
        self.polls += 1;
        self.polls_since_head += 1;
        self.decode_errors = 0;
        self.last_error = None;
        self.ctx.log.detail(format!(
            "poll {} after {}",
            self.polls,
            human(self.elapsed())
        ));
        let mut changes = Changes::default();
        for (i, items) in lists {
            for check in items {
                let change = self.track(i, check);
                changes.any |= change.any;
                changes.back_to_pending |= change.back_to_pending;
            }
        }
        Ok(Some(changes))
    }

    fn transient_or_fatal(&mut self, e: ApiError, mr: usize) -> Result<(), Error> {
        let decode = matches!(e.kind, ApiErrorKind::Decode { .. });
        if decode {
            self.decode_errors += 1;
        }
        if (e.is_transient() || decode) && self.decode_errors < MAX_DECODE_ERRORS {
            self.last_error = Some(e.to_string());
            self.wait_for_retry_after(&e);
            self.ctx.log.once(
                &format!("wait-{}", e.fault_class()),
                format!("{e}: transient, polling again (not a check failure)"),
            );
            return Ok(());
        }
        Err(Error::from(e).context(format!(
            "listing the status checks of {}",
            self.mrs[mr].label
        )))
    }

    /// Updates one check and says how it changed.
    fn track(&mut self, mr: usize, check: MrCheck) -> Changes {
        if self.polls == 1 {
            self.first_listed.push(check.name.clone());
        }
        if !self.selected(&check.name) {
            return Changes::default();
        }
        let now = self.elapsed();
        let key = (mr, check.id);
        let several = self.several();
        let mr_label = self.mrs[mr].label.clone();
        let first_poll = self.polls == 1;
        match self.checks.get_mut(&key) {
            Some(tracked) if tracked.status != check.status => {
                let line = format!(
                    "{}: {} → {} ({})",
                    label(several, &mr_label, &check.name),
                    tracked.status,
                    check.status,
                    human(now)
                );
                let back_to_pending =
                    matches!(tracked.status, CheckStatus::Passed | CheckStatus::Failed)
                        && check.status == CheckStatus::Pending;
                tracked.status = check.status;
                tracked.since = now;
                self.ctx.log.info(line);
                Changes {
                    any: true,
                    back_to_pending,
                }
            }
            Some(_) => Changes::default(),
            None => {
                if !first_poll {
                    self.ctx.log.info(format!(
                        "{}: appeared on {mr_label} as {} ({})",
                        check.name,
                        check.status,
                        human(now)
                    ));
                }
                self.checks.insert(
                    key,
                    Tracked {
                        mr,
                        iid: self.mrs[mr].iid,
                        id: check.id,
                        name: check.name,
                        status: check.status,
                        since: now,
                        retries: 0,
                    },
                );
                Changes {
                    any: !first_poll,
                    back_to_pending: false,
                }
            }
        }
    }

    /// Passed when all passed; failed per the fail-fast policy (after the
    /// allowed retries); otherwise keep waiting.
    fn verdict_from_statuses(&mut self) -> Result<Option<Verdict>, Error> {
        let failed: Vec<(usize, u64)> = self
            .checks
            .iter()
            .filter(|(_, c)| c.status == CheckStatus::Failed)
            .map(|(k, _)| *k)
            .collect();
        let mut counted_failed = 0;
        for key in failed {
            if self.checks[&key].retries < self.settings.retry_failed && self.retry(key)? {
                continue;
            }
            counted_failed += 1;
        }
        if counted_failed > 0 && self.settings.fail_fast {
            return Ok(Some(Verdict::Failed));
        }
        let undecided = self
            .checks
            .values()
            .any(|c| !matches!(c.status, CheckStatus::Passed | CheckStatus::Failed));
        if undecided {
            return Ok(None);
        }
        Ok(Some(if counted_failed > 0 {
            Verdict::Failed
        } else {
            Verdict::Passed
        }))
    }

    /// Asks GitLab to retry a failed check; true when it did.
    fn retry(&mut self, key: (usize, u64)) -> Result<bool, Error> {
        let limit = self.settings.retry_failed;
        let (mr, check) = {
            let t = &self.checks[&key];
            (
                self.mrs[t.mr].clone(),
                MrCheck {
                    id: t.id,
                    name: t.name.clone(),
                    external_url: String::new(),
                    status: t.status.clone(),
                },
            )
        };
        match checks::retry_one(self.ctx, &mr, &check) {
            Ok(()) => {
                let now = self.elapsed();
                let tracked = self.checks.get_mut(&key).expect("tracked");
                tracked.retries += 1;
                tracked.status = CheckStatus::Pending;
                tracked.since = now;
                let line = format!(
                    "{}: failed → retrying ({}/{limit}) ({})",
                    label(self.mrs.len() > 1, &mr.label, &check.name),
                    tracked.retries,
                    human(now)
                );
                self.ctx.log.info(line);
                Ok(true)
            }
            Err(e) if e.code == Code::Api => Err(e),
            Err(e) => {
                self.ctx
                    .log
                    .warn(format!("{}: retry not possible: {}", check.name, e.message));
                let tracked = self.checks.get_mut(&key).expect("tracked");
                tracked.retries = limit;
                Ok(false)
            }
        }
    }

    /// Reads each MR's head; true (and remembered) when one moved. A merged MR's
    /// head cannot move: no request.
    fn head_moved(&mut self) -> Result<bool, Error> {
        self.polls_since_head = 0;
        self.last_head_read = Instant::now();
        if self.merged {
            return Ok(false);
        }
        for mr in self.mrs.clone() {
            let path = self.ctx.mr_path(&mr);
            let read: MergeRequest = match self.ctx.client.get(&path) {
                Ok(read) => read,
                Err(e) if e.is_transient() => {
                    self.wait_for_retry_after(&e);
                    self.ctx.log.once(
                        "wait-head",
                        format!("{e}: transient, reading the head again later"),
                    );
                    continue;
                }
                Err(e) => {
                    return Err(Error::from(e).context(format!("reading the head of {}", mr.label)));
                }
            };
            if let Some(head) = read.sha.filter(|head| !self.sha.is(head)) {
                self.moved = Some((mr.label.clone(), head));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Remembers when GitLab said to come back: no poll before it. A 429 also slows
    /// the gate's pace (the token's budget is shared).
    fn wait_for_retry_after(&mut self, e: &ApiError) {
        let after = if e.status() == Some(429) {
            Some(self.schedule.throttled(e.budget(), e.retry_after()))
        } else {
            e.retry_after()
        };
        if let Some(after) = after {
            let at = Instant::now() + after;
            self.not_before = Some(self.not_before.map_or(at, |t| t.max(at)));
        }
    }

    /// Sleeps until the next poll; false when the deadline comes first.
    fn sleep_until_next_poll(&mut self) -> bool {
        let mut delay = self.schedule.next_delay();
        if let Some(at) = self.not_before.take() {
            // GitLab said when to come back: not sooner, even if that is
            // past the deadline (then the wait ends at the deadline).
            delay = delay.max(at.saturating_duration_since(Instant::now()));
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return false;
        }
        self.ctx
            .log
            .detail(format!("next poll in {:.1}s", delay.as_secs_f64()));
        thread::sleep(delay.min(remaining));
        Instant::now() < self.deadline
    }
}

/// How a check is named in the log: with its MR when the gate covers several.
fn label(several_mrs: bool, mr: &str, name: &str) -> String {
    if several_mrs {
        format!("{mr} {name}")
    } else {
        name.to_owned()
    }
}
