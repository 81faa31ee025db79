//! `status-check run -- CMD ARGS...`: run a job step as a status check.
//!
//! Resolve the check on each merge request once, post `pending` (16.5+),
//! run CMD with the job's stdio and environment while a heartbeat re-posts
//! `pending` (16.6+ fails a pending older than 2 minutes), then post
//! `passed` or `failed`. CMD's exit code is status-check's: a failed report
//! changes it only when CMD succeeded. SIGTERM, SIGINT and SIGHUP are passed
//! on to CMD's process group and fail the check at once, so a cancelled job
//! does not leave it pending.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::checks::{self, CheckRef, Ctx, Reported, Target, Want, status_word};
use crate::cli::{OutputFormat, ReportStatus, RunArgs};
use crate::config::{Config, parse_duration};
use crate::duration::human;
use crate::error::Error;
use crate::exit::{Code, Status};
use crate::gitlab::{MrCheck, ServerVersion};
use crate::log::Log;
use crate::output::{self, Outcome};
use crate::sha::short;
use crate::signals;

/// GitLab 16.6+ turns a pending response older than this into failed.
const PENDING_TIMEOUT: Duration = Duration::from_secs(120);
/// A faster heartbeat would only hammer GitLab.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
/// The shortest time one heartbeat (its POST and retries) may take.
const HEARTBEAT_DEADLINE_FLOOR: Duration = Duration::from_secs(5);

/// The check as one merge request lists it.
#[derive(Clone)]
struct OnMr {
    mr: Target,
    check: MrCheck,
}

/// What the server can store, decided once from its version.
struct Plan {
    pending: bool,
    /// Only on 16.6+, and only when a pending is posted.
    heartbeat: Option<Duration>,
    /// Send `status` with `passed` (not on 14.0–14.8).
    passed_param: bool,
    /// Why `failed` cannot be stored (before 14.9), if so.
    no_failed: Option<Error>,
}

/// Who reports what, and where: settled before CMD starts.
struct Reporter {
    check: CheckRef,
    sha: String,
    targets: Vec<OnMr>,
    plan: Plan,
    /// MRs already warned about a check that gates nothing there (warn once each).
    warned: std::cell::RefCell<Vec<Target>>,
}

/// The result of reporting one status on every target.
struct Report {
    status: ReportStatus,
    reported: Vec<Reported>,
    errors: Vec<Error>,
}

enum Event {
    Signal(i32),
    Exited(io::Result<ExitStatus>),
}

/// How CMD ended, and the exit status that follows from it.
struct Ended {
    status: Status,
    /// False when CMD could not be started at all.
    started: bool,
    /// "exited with 3", "was ended by SIGTERM", ...
    how: String,
    command_code: Option<i32>,
    signal: Option<i32>,
}

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<Outcome, Error> {
    let program = program_name(&args.command);
    let not_run = |e: Error| e.hint(format!("status-check did not run {program}"));
    let (reporter, deferred) = prepare(ctx, args).map_err(not_run)?;

    let (events_tx, events) = mpsc::channel();
    let notify = events_tx.clone();
    if let Err(e) = signals::catch(move |signo| {
        let _ = notify.send(Event::Signal(signo));
    }) {
        warn(
            ctx.log,
            format!(
                "cannot catch SIGTERM, SIGINT and SIGHUP ({e}): a cancelled job may leave the check pending"
            ),
        );
    }

    let live = post_pending(ctx, &reporter, &program).map_err(not_run)?;
    let started = Instant::now();
    let first_beat = started + reporter.plan.heartbeat.unwrap_or_default();

    let (ended, early) = if let Some(signo) = first_signal(&events) {
        say(
            ctx.log,
            format!(
                "received {} before {program} started: not running it; reporting failed",
                signals::describe(signo)
            ),
        );
        (Ended::not_started(signo), None)
    } else {
        match spawn(&args.command) {
            Ok(child) => {
                let waiter_tx = events_tx.clone();
                supervise(
                    ctx,
                    &reporter,
                    Supervised {
                        child,
                        program: &program,
                        events: &events,
                        waiter_tx,
                        live,
                        first_beat,
                    },
                )
            }
            Err(e) => (cannot_start(ctx, &program, &e), None),
        }
    };
    drop(events_tx);
    let elapsed = started.elapsed();
    let report = match early {
        Some(report) => report,
        None => {
            let status = if ended.status.is_success() {
                ReportStatus::Passed
            } else {
                ReportStatus::Failed
            };
            reporter.report_all(ctx, status)
        }
    };
    Ok(finish(
        &reporter, &program, &ended, report, deferred, elapsed,
    ))
}

/// Everything that can stop the job before CMD runs: flags, the version,
/// the merge requests, and the check's id on each of them.
/// The error, if any, is reported at the end like a failed report (every
/// merge request of the SHA has moved on).
fn prepare(ctx: &Ctx, args: &RunArgs) -> Result<(Reporter, Option<Error>), Error> {
    let check = CheckRef::from_args(&args.check)?;
    let every = heartbeat_interval(&args.heartbeat)?;
    let sha = ctx.cfg.require_sha()?.to_owned();
    ctx.project()?;
    let version = ctx.server_version()?;
    let plan = plan(ctx, version, args.no_pending, every)?;
    let found = checks::find_targets(ctx, Some(&sha), Want::Open)?;
    let mut deferred = None;
    if let Some(err) = found.none_found(&sha) {
        warn(
            ctx.log,
            format!("{}: running the command without reporting", err.message),
        );
        deferred = Some(err);
    } else if found.mrs.is_empty() {
        say(
            ctx.log,
            format!(
                "{}: running the command without reporting",
                found.nothing_open(&sha, &ctx.project()?.raw)
            ),
        );
    }
    let mut resolved = Vec::new();
    let mut skipped = Vec::new();
    for mr in &found.mrs {
        match checks::applies(ctx, &check, mr)? {
            Some(check) => resolved.push(OnMr {
                mr: mr.clone(),
                check,
            }),
            None => skipped.push(mr),
        }
    }
    if !found.mrs.is_empty() && resolved.is_empty() {
        return Err(checks::not_on_any(ctx, &check, &found));
    }
    for mr in skipped {
        let what = check.describe();
        say(
            ctx.log,
            format!("{what} does not apply to {}: not reporting there", mr.label),
        );
    }
    let reporter = Reporter {
        check,
        sha,
        targets: resolved,
        plan,
        warned: Default::default(),
    };
    Ok((reporter, deferred))
}

fn heartbeat_interval(raw: &str) -> Result<Duration, Error> {
    let every = parse_duration(raw, "--heartbeat")?;
    if every < MIN_HEARTBEAT {
        return Err(Error::usage(format!(
            "--heartbeat: `{raw}` is too short (at least {}ms)",
            MIN_HEARTBEAT.as_millis()
        ))
        .hint("the default, 60s, keeps a pending check alive on GitLab 16.6+, which fails a pending older than 2 minutes"));
    }
    Ok(every)
}

fn plan(
    ctx: &Ctx,
    version: ServerVersion,
    no_pending: bool,
    every: Duration,
) -> Result<Plan, Error> {
    let pending = !no_pending && version.accepts_pending();
    if !no_pending && !pending {
        say(
            ctx.log,
            format!(
                "GitLab {version} cannot store a pending status (16.5+ can): not posting one; the check shows pending until the result is reported"
            ),
        );
    }
    let heartbeat = (pending && version.times_out_pending()).then_some(every);
    if heartbeat.is_some() && every >= PENDING_TIMEOUT {
        warn(
            ctx.log,
            format!(
                "--heartbeat {} is not shorter than GitLab's 2-minute pending timeout: the check may read failed while the command runs (the default is 60s)",
                human(every)
            ),
        );
    }
    Ok(Plan {
        pending,
        heartbeat,
        passed_param: checks::status_param_allowed(ctx, ReportStatus::Passed)?,
        no_failed: checks::status_param_allowed(ctx, ReportStatus::Failed).err(),
    })
}

/// Posts pending on every target and returns those that now hold one (for
/// the heartbeat). A stale SHA or a GitLab that keeps failing is logged and
/// CMD runs anyway (the final report tries again); any other error stops
/// the job, after failing the pendings already posted.
fn post_pending(ctx: &Ctx, r: &Reporter, program: &str) -> Result<Vec<OnMr>, Error> {
    let mut live = Vec::new();
    if !r.plan.pending {
        return Ok(live);
    }
    for target in &r.targets {
        let posted = checks::post_status(
            ctx,
            &r.check,
            &target.check,
            &target.mr,
            &r.sha,
            ReportStatus::Pending,
            true,
        );
        match posted {
            Ok(done) => {
                say(
                    ctx.log,
                    format!(
                        "reported pending for \"{}\" on {} at {}; running {program}",
                        target.check.name,
                        target.mr.label,
                        short(&r.sha)
                    ),
                );
                r.warn_if_gates_nothing(ctx, &done);
                live.push(target.clone());
            }
            Err(e) if e.code == Code::Stale || e.transient => warn(
                ctx.log,
                format!(
                    "{}: running {program} anyway; its result is reported when it ends",
                    e.message
                ),
            ),
            Err(e) => {
                if r.plan.no_failed.is_none() {
                    for done in &live {
                        let _ = checks::post_status(
                            ctx,
                            &r.check,
                            &done.check,
                            &done.mr,
                            &r.sha,
                            ReportStatus::Failed,
                            true,
                        );
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(live)
}

/// A signal that arrived before CMD started, if any.
fn first_signal(events: &Receiver<Event>) -> Option<i32> {
    events.try_iter().find_map(|event| match event {
        Event::Signal(signo) => Some(signo),
        Event::Exited(_) => None,
    })
}

/// CMD in a process group of its own, so that a forwarded signal reaches
/// its children too. stdin, stdout, stderr and the environment are the job's.
fn spawn(command: &[OsString]) -> io::Result<Child> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command given"))?;
    let mut command = Command::new(program);
    command.args(args).process_group(0);
    signals::unblock_in_child(&mut command);
    command.spawn()
}

/// 127 when CMD does not exist, 126 when it cannot be executed, as a shell says.
fn cannot_start(ctx: &Ctx, program: &str, e: &io::Error) -> Ended {
    let (status, how, hint) = match e.kind() {
        io::ErrorKind::NotFound => (
            Status::NOT_FOUND,
            "was not found",
            "give a path (./scan.sh) or a program on the job's PATH",
        ),
        io::ErrorKind::PermissionDenied => (
            Status::NOT_EXECUTABLE,
            "is not executable",
            "make it executable (chmod +x, or `git update-index --chmod=+x`) or run it through its interpreter (sh ./scan.sh)",
        ),
        _ => (
            Status::NOT_EXECUTABLE,
            "could not be started",
            "check that it is a program this system can run",
        ),
    };
    ctx.log.info(format!(
        "status-check: error: {program} {how} ({e})\n  hint: {hint}"
    ));
    Ended {
        status,
        how: how.to_owned(),
        started: false,
        command_code: None,
        signal: None,
    }
}

struct Supervised<'e> {
    child: Child,
    program: &'e str,
    events: &'e Receiver<Event>,
    waiter_tx: mpsc::Sender<Event>,
    /// Targets holding a pending to keep alive.
    live: Vec<OnMr>,
    first_beat: Instant,
}

/// Waits for CMD while the heartbeat runs, forwarding signals. On the first
/// signal the heartbeat stops and the check is reported failed at once (the
/// runner may kill status-check soon after); that report is returned.
fn supervise(ctx: &Ctx, r: &Reporter, job: Supervised) -> (Ended, Option<Report>) {
    let Supervised {
        mut child,
        program,
        events,
        waiter_tx,
        live,
        first_beat,
    } = job;
    let pgid = child.id();
    let cfg = ctx.cfg;
    let (check, sha) = (&r.check, r.sha.as_str());
    thread::scope(|s| {
        s.spawn(move || {
            let status = child.wait();
            let _ = waiter_tx.send(Event::Exited(status));
        });
        let mut heart = match r.plan.heartbeat {
            Some(every) if !live.is_empty() => {
                let (stop_tx, stop_rx) = mpsc::channel::<()>();
                let handle =
                    s.spawn(move || heartbeat(cfg, check, live, sha, every, first_beat, stop_rx));
                Some((stop_tx, handle))
            }
            _ => None,
        };
        // Stopped before any other report, so that a late heartbeat cannot
        // overwrite passed or failed with pending.
        let mut stop_heart = || {
            if let Some((stop_tx, handle)) = heart.take() {
                drop(stop_tx);
                let _ = handle.join();
            }
        };
        let mut cancelled = None;
        let mut early = None;
        let status = loop {
            match events.recv() {
                Ok(Event::Signal(signo)) => {
                    let name = signals::describe(signo);
                    match signals::forward(pgid, signo) {
                        Ok(()) => {}
                        // The command's group is already gone.
                        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                        Err(e) => warn(
                            ctx.log,
                            format!("could not pass {name} on to {program}: {e}"),
                        ),
                    }
                    if cancelled.is_some() {
                        say(
                            ctx.log,
                            format!("received {name} again: passed it on to {program}"),
                        );
                        continue;
                    }
                    cancelled = Some(signo);
                    say(
                        ctx.log,
                        format!(
                            "received {name}: passed it on to {program} (process group {pgid}) and reporting the check failed"
                        ),
                    );
                    stop_heart();
                    early = Some(r.report_all(ctx, ReportStatus::Failed));
                }
                Ok(Event::Exited(status)) => break status,
                Err(_) => break Err(io::Error::other("lost track of the command")),
            }
        };
        stop_heart();
        (ended(status, cancelled), early)
    })
}

/// Re-posts pending on `live` every `every` until told to stop. Failures are
/// logged and tried again at the next beat; a stale SHA ends the beats for
/// that merge request. Runs on its own thread, with its own client and log.
fn heartbeat(
    cfg: &Config,
    check: &CheckRef,
    mut live: Vec<OnMr>,
    sha: &str,
    every: Duration,
    mut next: Instant,
    stop: Receiver<()>,
) {
    let log = Log::new(cfg.verbose, cfg.ci.in_ci);
    let ctx = match Ctx::connect(cfg, &log) {
        Ok(ctx) => ctx,
        Err(e) => {
            warn(&log, format!("no heartbeat: {e}"));
            return;
        }
    };
    loop {
        match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let beat = Instant::now();
        next = beat + every;
        // Retries end in time for the next beat, which retries anyway; a
        // floor keeps a short heartbeat from timing out a slow but fine POST.
        ctx.client
            .set_deadline(Some(beat + every.max(HEARTBEAT_DEADLINE_FLOOR)));
        live.retain(|t| {
            match checks::post_status(
                &ctx,
                check,
                &t.check,
                &t.mr,
                sha,
                ReportStatus::Pending,
                true,
            ) {
                Ok(_) => {
                    log.detail(format!(
                        "status-check: heartbeat: pending again on {}",
                        t.mr.label
                    ));
                    true
                }
                Err(e) if e.code == Code::Stale => {
                    warn(
                        &log,
                        format!("heartbeat: {e}; no more heartbeats on {}", t.mr.label),
                    );
                    false
                }
                Err(e) => {
                    warn(
                        &log,
                        format!("heartbeat: {e}; trying again in {}", human(every)),
                    );
                    true
                }
            }
        });
        if live.is_empty() {
            return;
        }
    }
}

fn ended(status: io::Result<ExitStatus>, cancelled: Option<i32>) -> Ended {
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            return Ended {
                started: true,
                status: Status::exited(1),
                how: format!("could not be waited for ({e})"),
                command_code: None,
                signal: cancelled,
            };
        }
    };
    if let Some(signo) = status.signal() {
        return Ended {
            started: true,
            status: Status::signal(signo),
            how: format!("was ended by {}", signals::describe(signo)),
            command_code: None,
            signal: Some(signo),
        };
    }
    let code = status.code().unwrap_or(1);
    match cancelled {
        // A cancelled job must not look successful.
        Some(signo) if code == 0 => Ended {
            started: true,
            status: Status::signal(signo),
            how: format!("exited with 0 after {}", signals::describe(signo)),
            command_code: Some(code),
            signal: Some(signo),
        },
        _ => Ended {
            started: true,
            status: Status::exited(code),
            how: format!("exited with {code}"),
            command_code: Some(code),
            signal: cancelled,
        },
    }
}

impl Ended {
    /// A stop signal arrived while pending was being posted.
    fn not_started(signo: i32) -> Ended {
        Ended {
            status: Status::signal(signo),
            how: format!(
                "was not started: status-check received {}",
                signals::describe(signo)
            ),
            started: false,
            command_code: None,
            signal: Some(signo),
        }
    }
}

impl Reporter {
    /// Posts `status` on every target; errors are collected, not returned.
    fn report_all(&self, ctx: &Ctx, status: ReportStatus) -> Report {
        let mut report = Report {
            status,
            reported: Vec::new(),
            errors: Vec::new(),
        };
        if status == ReportStatus::Failed {
            if let Some(why) = &self.plan.no_failed {
                if !self.targets.is_empty() {
                    say(ctx.log, format!("{}: the check stays pending", why.message));
                }
                return report;
            }
        }
        let include_status = status != ReportStatus::Passed || self.plan.passed_param;
        for target in &self.targets {
            match checks::post_status(
                ctx,
                &self.check,
                &target.check,
                &target.mr,
                &self.sha,
                status,
                include_status,
            ) {
                Ok(done) => {
                    self.warn_if_gates_nothing(ctx, &done);
                    report.reported.push(done);
                }
                Err(e) => report.errors.push(e),
            }
        }
        report
    }

    /// Warns (once per MR) that GitLab stored the response for a check that is limited
    /// to other target branches.
    fn warn_if_gates_nothing(&self, ctx: &Ctx, done: &Reported) {
        let Some(warning) = &done.gates_nothing else {
            return;
        };
        let mut warned = self.warned.borrow_mut();
        if !warned.contains(&done.mr) {
            warned.push(done.mr.clone());
            warn(ctx.log, warning);
        }
    }

    /// The check's name for output: as named, else as the first MR lists it.
    fn label(&self) -> String {
        match (&self.check, self.targets.first()) {
            (CheckRef::Name(name), _) => name.clone(),
            (CheckRef::Id(_), Some(target)) => target.check.name.clone(),
            (CheckRef::Id(id), None) => format!("#{id}"),
        }
    }
}

/// The outcome: CMD's exit code, unless CMD succeeded and reporting failed.
/// Report errors are printed here (on stderr), since the outcome is printed
/// in any case.
fn finish(
    r: &Reporter,
    program: &str,
    ended: &Ended,
    mut report: Report,
    deferred: Option<Error>,
    elapsed: Duration,
) -> Outcome {
    let nothing_to_report = r.targets.is_empty() && deferred.is_none();
    report.errors.extend(deferred);
    for error in &report.errors {
        output::emit_error(error, OutputFormat::Text);
    }
    let report_error = report
        .errors
        .iter()
        .find(|e| e.code != Code::Stale)
        .or(report.errors.first());
    let status = match report_error {
        Some(e) if ended.status.is_success() => Status::from(e.code),
        _ => ended.status,
    };
    let code = status.as_u8();
    let word = status_word(report.status);
    let mut text = if ended.started {
        format!("{program} {} after {}", ended.how, human(elapsed))
    } else {
        format!("{program} {}", ended.how)
    };
    if code != ended.status.as_u8() || ended.signal.is_some() {
        text.push_str(&format!(" (exit code {code})"));
    }
    for done in &report.reported {
        text.push_str(&format!(
            "\nreported {word} for \"{}\" on {} at {}",
            done.check.name,
            done.mr.label,
            short(&r.sha)
        ));
    }
    if nothing_to_report {
        text.push_str("\nnothing reported: no merge request to report on");
    }
    let reported: Vec<Value> = report
        .reported
        .iter()
        .map(|done| {
            json!({
                "merge_request_iid": done.mr.iid,
                "check_id": done.check.id,
                "check_name": done.check.name,
                "response_id": done.response_id,
            })
        })
        .collect();
    let errors: Vec<&str> = report.errors.iter().map(|e| e.message.as_str()).collect();
    Outcome::new(
        status,
        text,
        json!({
            "check": r.label(),
            "check_id": r.targets.first().map(|t| t.check.id),
            "status": word,
            "exit_code": code,
            "command": program.trim_matches('`'),
            "command_exit_code": ended.command_code,
            "signal": ended.signal.map(signals::describe),
            "duration_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "sha": r.sha,
            "reported": reported,
            "errors": errors,
        }),
    )
}

/// `./scan.sh`, in backquotes, for messages.
fn program_name(command: &[OsString]) -> String {
    match command.first() {
        Some(program) => format!("`{}`", program.to_string_lossy()),
        None => "the command".to_owned(),
    }
}

/// run's own progress lines are prefixed: they mix with CMD's output.
fn say(log: &Log, line: impl AsRef<str>) {
    log.info(format!("status-check: {}", line.as_ref()));
}

fn warn(log: &Log, line: impl AsRef<str>) {
    log.info(format!("status-check: warning: {}", line.as_ref()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_codes_follow_the_shell() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        let code = |ended: Ended| ended.status.as_u8();
        assert_eq!(code(ended(Ok(exited(0)), None)), 0);
        assert_eq!(code(ended(Ok(exited(42)), None)), 42);
        let killed = ended(Ok(ExitStatus::from_raw(libc::SIGTERM)), Some(libc::SIGTERM));
        assert_eq!(killed.status.as_u8(), 128 + 15);
        assert_eq!(killed.how, "was ended by SIGTERM");
        // A command that traps SIGTERM and exits 0 was still cancelled.
        assert_eq!(code(ended(Ok(exited(0)), Some(libc::SIGINT))), 128 + 2);
        // One that exits non-zero keeps its code.
        assert_eq!(code(ended(Ok(exited(3)), Some(libc::SIGTERM))), 3);
    }

    #[test]
    fn heartbeat_must_not_hammer() {
        assert!(heartbeat_interval("0").is_err());
        assert!(heartbeat_interval("50ms").is_err());
        assert_eq!(
            heartbeat_interval("200ms").unwrap(),
            Duration::from_millis(200)
        );
        assert_eq!(heartbeat_interval("60s").unwrap(), Duration::from_secs(60));
    }
}
