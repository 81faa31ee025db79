//! `status-check wait`: the merge gate. Polls the MR's status checks until
//! every selected check has passed, one fails, the MR's head moves, or time
//! runs out.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::schedule::Schedule;
use crate::checks::{self, Ctx, Target, Want};
use crate::cli::WaitArgs;
use crate::config::{parse_count, parse_duration};
use crate::duration::human;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::error::ApiErrorKind;
use crate::gitlab::paths;
use crate::gitlab::{ApiError, CheckStatus, MergeRequest, MrCheck};
use crate::output::{Outcome, plural, table};
use crate::reports::{self, CheckResult, GateReport};
use crate::sha::short;
use crate::signals;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// Besides before any verdict and when a check falls back to `pending` (what
/// a push does to every check), the MR's head is re-read this often: a push
/// that leaves every check pending changes nothing in the list.
const HEAD_EVERY_POLLS: u32 = 30;
const HEAD_EVERY: Duration = Duration::from_secs(300);
/// A body that is not JSON this many times in a row is not a passing glitch.
const MAX_DECODE_ERRORS: u32 = 3;

struct Settings {
    names: Vec<String>,
    ignore: Vec<String>,
    timeout: Duration,
    interval: Duration,
    interval_explicit: bool,
    max_interval: Duration,
    fail_fast: bool,
    allow_empty: bool,
    retry_failed: u32,
    junit: Option<(PathBuf, File)>,
    dotenv: Option<(PathBuf, File)>,
}

impl Settings {
    fn from_args(args: &WaitArgs) -> Result<Settings, Error> {
        let interval = match &args.interval {
            Some(text) => parse_duration(text, "--interval")?,
            None => DEFAULT_INTERVAL,
        };
        if interval.is_zero() {
            return Err(Error::usage("--interval must be above 0").hint("e.g. --interval 2s"));
        }
        let max_interval = parse_duration(&args.max_interval, "--max-interval")?;
        if max_interval < interval {
            return Err(Error::usage(format!(
                "--max-interval ({}) is shorter than --interval ({})",
                human(max_interval),
                human(interval)
            )));
        }
        let mut ignore: Vec<String> = args.ignore.iter().map(|n| n.trim().to_owned()).collect();
        // The job's own check can never pass while the job waits for it.
        if let Some(own) = args
            .self_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            ignore.push(own.to_owned());
        }
        Ok(Settings {
            names: args.names.iter().map(|n| n.trim().to_owned()).collect(),
            ignore,
            timeout: parse_duration(&args.timeout, "--timeout")?,
            interval,
            interval_explicit: args.interval.is_some(),
            max_interval,
            fail_fast: !args.no_fail_fast,
            allow_empty: args.allow_empty,
            retry_failed: parse_count(&args.retry_failed, "--retry-failed", 100)? as u32,
            // Opened now, so an unwritable path fails before the wait, not after.
            junit: open_report(args.junit.as_deref(), "--junit")?,
            dotenv: open_report(args.dotenv.as_deref(), "--dotenv")?,
        })
    }
}

fn open_report(path: Option<&Path>, flag: &str) -> Result<Option<(PathBuf, File)>, Error> {
    let Some(path) = path else { return Ok(None) };
    File::create(path)
        .map(|file| Some((path.to_path_buf(), file)))
        .map_err(|e| {
            Error::usage(format!("{flag}: cannot write {}: {e}", path.display()))
                .hint("give a path in a writable directory, e.g. inside $CI_PROJECT_DIR")
        })
}

/// What a poll saw change.
#[derive(Clone, Copy, Default)]
struct Changes {
    any: bool,
    /// A decided check is pending again: the signature of a push.
    back_to_pending: bool,
}

/// One check on one MR, as the gate tracks it.
struct Tracked {
    /// Index of its MR in `Gate::mrs`.
    mr: usize,
    iid: u64,
    id: u64,
    name: String,
    status: CheckStatus,
    /// When it reached its status, from the start of the wait.
    since: Duration,
    retries: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verdict {
    Passed,
    Failed,
    Timeout,
    Stale,
    Empty,
}

impl Verdict {
    fn word(self, allow_empty: bool) -> &'static str {
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

struct Gate<'c, 'a> {
    ctx: &'c Ctx<'a>,
    settings: Settings,
    sha: String,
    mrs: Vec<Target>,
    /// The gate is on a merged MR (a deploy after the merge): its head cannot move.
    merged: bool,
    started: Instant,
    deadline: Instant,
    /// Keyed by (MR index, check id), in first-seen order per MR.
    checks: BTreeMap<(usize, u64), Tracked>,
    schedule: Schedule,
    polls: u32,
    polls_since_head: u32,
    last_head_read: Instant,
    decode_errors: u32,
    /// The transient error of the latest poll, when it failed (cleared by a
    /// successful poll): a timeout says why nothing was seen.
    last_error: Option<String>,
    /// No poll before this: the `Retry-After` of a 429 or 503 that outlived
    /// the client's retries (it may reach past the deadline).
    not_before: Option<Instant>,
    /// Set when the MR's head moved: (its label, new head).
    moved: Option<(String, String)>,
    empty_reason: String,
}

pub fn run(ctx: &Ctx, args: &WaitArgs) -> Result<Outcome, Error> {
    let mut settings = Settings::from_args(args)?;
    signals::exit_on_termination();
    let sha = ctx.cfg.require_sha()?.to_owned();
    let started = Instant::now();
    let deadline = started + settings.timeout;
    ctx.client.set_deadline(Some(deadline));
    let found = match checks::find_targets(ctx, Some(&sha), Want::OpenOrMerged) {
        Ok(found) => found,
        Err(e) => return Err(write_error_reports(&mut settings, &sha, e)),
    };
    if found.mrs.is_empty() {
        if let Some(err) = found.none_found(&sha) {
            return Err(write_error_reports(&mut settings, &sha, err));
        }
    }
    let schedule = Schedule::new(
        settings.interval,
        settings.max_interval,
        settings.interval_explicit,
    );
    let mut gate = Gate {
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
    };
    if gate.mrs.is_empty() {
        gate.empty_reason = format!("no open merge request: {}", found.how);
        return gate.finish(Verdict::Empty);
    }
    match gate.poll_until_verdict() {
        Ok(verdict) => gate.finish(verdict),
        Err(e) => {
            let sha = gate.sha.clone();
            Err(write_error_reports(&mut gate.settings, &sha, e))
        }
    }
}

impl Gate<'_, '_> {
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn label(&self, check: &Tracked) -> String {
        label(self.several(), &self.mrs[check.mr].label, &check.name)
    }

    fn several(&self) -> bool {
        self.mrs.len() > 1
    }

    fn poll_until_verdict(&mut self) -> Result<Verdict, Error> {
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
            if !self.sleep_until_next_poll() {
                return Ok(Verdict::Timeout);
            }
        }
    }

    /// Reads every MR's list. `Ok(None)` on a transient failure.
    fn poll_once(&mut self) -> Result<Option<Changes>, Error> {
        let mut lists = Vec::new();
        for i in 0..self.mrs.len() {
            let mr = &self.mrs[i];
            let path = paths::mr_checks(&mr.project.encoded, mr.iid);
            match self.ctx.client.get_all::<MrCheck>(&path) {
                Ok(listing) => {
                    self.schedule
                        .observe_poll_interval(listing.poll_interval_ms);
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

    fn selected(&self, name: &str) -> bool {
        let named = self.settings.names.is_empty() || self.settings.names.iter().any(|n| n == name);
        named && !self.settings.ignore.iter().any(|n| n == name)
    }

    /// After the first poll: unknown names are a usage error, and an empty
    /// selection ends the wait.
    fn first_poll_checks(&mut self) -> Result<Option<Verdict>, Error> {
        let missing: Vec<&String> = self
            .settings
            .names
            .iter()
            .filter(|n| !self.checks.values().any(|c| &c.name == *n))
            .collect();
        if !missing.is_empty() {
            let names = missing
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::usage(format!(
                "--name {names}: no such check on {}",
                self.mr_list()
            ))
            .hint("`status-check list` shows the checks that apply to this merge request; a check limited to protected branches only applies to MRs targeting them"));
        }
        if self.checks.is_empty() {
            self.empty_reason = if self.settings.ignore.is_empty() && self.settings.names.is_empty()
            {
                format!("no external status checks apply to {}", self.mr_list())
            } else {
                format!(
                    "every check on {} is ignored ({})",
                    self.mr_list(),
                    self.settings.ignore.join(", ")
                )
            };
            return Ok(Some(Verdict::Empty));
        }
        Ok(None)
    }

    /// `!7`, `!7, !9`, or `merged !7` for a gate after the merge.
    fn mr_list(&self) -> String {
        let list = self
            .mrs
            .iter()
            .map(|m| m.label.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if self.merged {
            format!("merged {list}")
        } else {
            list
        }
    }

    fn header(&self) {
        let names: Vec<String> = self
            .checks
            .values()
            .map(|c| format!("{} ({})", self.label(c), c.status))
            .collect();
        let mut line = format!(
            "waiting for {} on {} at {} (timeout {}): {}",
            plural(self.checks.len(), "check"),
            self.mr_list(),
            short(&self.sha),
            human(self.settings.timeout),
            names.join(", ")
        );
        if !self.settings.ignore.is_empty() {
            line.push_str(&format!("; ignoring {}", self.settings.ignore.join(", ")));
        }
        self.ctx
            .log
            .section_start("status_check_wait", &line, self.ctx.log.is_verbose());
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
            if let Some(head) = read.sha.filter(|head| *head != self.sha) {
                self.moved = Some((mr.label.clone(), head));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sleeps until the next poll; false when the deadline comes first.
    fn wait_for_retry_after(&mut self, e: &ApiError) {
        if let Some(after) = e.retry_after() {
            let at = Instant::now() + after;
            self.not_before = Some(self.not_before.map_or(at, |t| t.max(at)));
        }
    }

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

    fn finish(mut self, verdict: Verdict) -> Result<Outcome, Error> {
        self.ctx.log.section_end("status_check_wait");
        let waited = self.elapsed();
        let results: Vec<CheckResult> = self
            .checks
            .values()
            .map(|c| CheckResult {
                iid: c.iid,
                name: c.name.clone(),
                status: c.status.to_string(),
                seconds: c.since.as_secs_f64(),
            })
            .collect();
        let word = verdict.word(self.settings.allow_empty);
        let report = GateReport {
            result: word,
            sha: &self.sha,
            waited_seconds: waited.as_secs_f64(),
            checks: &results,
        };
        write_reports(&mut self.settings, &report)?;
        if !results.is_empty() {
            self.summary_table(&results);
        }
        let (code, text) = self.verdict_text(verdict, waited)?;
        let json = json!({
            "result": word,
            "sha": self.sha,
            "merge_requests": self.mrs.iter().map(|m| m.iid).collect::<Vec<_>>(),
            "merged": self.merged,
            "waited_seconds": (waited.as_secs_f64() * 10.0).round() / 10.0,
            "requests": self.ctx.client.request_count(),
            "checks": self.checks.values().map(|c| json!({
                "merge_request_iid": c.iid,
                "id": c.id,
                "name": c.name,
                "status": c.status.as_str(),
                "seconds": (c.since.as_secs_f64() * 10.0).round() / 10.0,
                "retries": c.retries,
            })).collect::<Vec<_>>(),
            "reason": if verdict == Verdict::Empty { Some(&self.empty_reason) } else { None },
            "last_error": self.last_error,
        });
        Ok(Outcome::new(code, text, json))
    }

    fn names_with(&self, pred: impl Fn(&CheckStatus) -> bool) -> String {
        self.checks
            .values()
            .filter(|c| pred(&c.status))
            .map(|c| self.label(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn verdict_text(&self, verdict: Verdict, waited: Duration) -> Result<(Code, String), Error> {
        let mrs = self.mr_list();
        Ok(match verdict {
            Verdict::Passed => (
                Code::Ok,
                format!(
                    "all {} checks passed on {mrs} after {}",
                    self.checks.len(),
                    human(waited)
                ),
            ),
            Verdict::Failed => (
                Code::CheckFailed,
                format!(
                    "status checks failed on {mrs}: {}",
                    self.names_with(|s| *s == CheckStatus::Failed)
                ),
            ),
            Verdict::Timeout if self.polls == 0 => (
                Code::Timeout,
                format!(
                    "timed out after {} on {mrs} without one successful poll: {}",
                    human(waited),
                    self.last_error
                        .as_deref()
                        .unwrap_or("no answer from GitLab in time")
                ),
            ),
            Verdict::Timeout => {
                let mut text = format!(
                    "timed out after {} on {mrs}; still pending: {}",
                    human(waited),
                    self.names_with(|s| !matches!(s, CheckStatus::Passed | CheckStatus::Failed))
                );
                if let Some(error) = &self.last_error {
                    text.push_str(&format!("; the last poll failed: {error}"));
                }
                (Code::Timeout, text)
            }
            Verdict::Stale => {
                let (mr, head) = self.moved.clone().unwrap_or_default();
                (
                    Code::Stale,
                    format!(
                        "stale: {mr} moved from {} to {head} during the wait; this pipeline no longer gates it",
                        self.sha
                    ),
                )
            }
            Verdict::Empty if self.settings.allow_empty => (
                Code::Ok,
                format!("{}: nothing to wait for (--allow-empty)", self.empty_reason),
            ),
            Verdict::Empty => {
                return Err(Error::check_failed(format!("{}: nothing to gate on", self.empty_reason)).hint(
                    "add external status checks to the project (Settings → Merge requests), or pass --allow-empty to let the gate pass without any",
                ));
            }
        })
    }

    fn summary_table(&self, results: &[CheckResult]) {
        let multiple = self.several();
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.name.clone(),
                    r.status.clone(),
                    human(Duration::from_secs_f64(r.seconds)),
                ];
                if multiple {
                    row.insert(0, format!("!{}", r.iid));
                }
                row
            })
            .collect();
        let headers: &[&str] = if multiple {
            &["MR", "CHECK", "STATUS", "AT"]
        } else {
            &["CHECK", "STATUS", "AT"]
        };
        self.ctx.log.info(table(headers, &rows));
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

fn write_reports(settings: &mut Settings, report: &GateReport) -> Result<(), Error> {
    if let Some((path, file)) = settings.junit.as_mut() {
        write_file(file, path, "--junit", &reports::junit(report))?;
    }
    if let Some((path, file)) = settings.dotenv.as_mut() {
        write_file(file, path, "--dotenv", &reports::dotenv(report))?;
    }
    Ok(())
}

/// On an error, the dotenv report still tells later jobs what happened.
fn write_error_reports(settings: &mut Settings, sha: &str, error: Error) -> Error {
    let result = if error.code == Code::Stale {
        "stale"
    } else {
        "error"
    };
    let report = GateReport {
        result,
        sha,
        waited_seconds: 0.0,
        checks: &[],
    };
    match write_reports(settings, &report) {
        Ok(()) => error,
        Err(write_error) => write_error,
    }
}

fn write_file(file: &mut File, path: &Path, flag: &str, text: &str) -> Result<(), Error> {
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| Error::usage(format!("{flag}: cannot write {}: {e}", path.display())))
}
