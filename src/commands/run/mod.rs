//! `status-check run -- CMD ARGS...`: run a job step as a status check.
//!
//! Resolve the check on each merge request once, post `pending` (16.5+),
//! run CMD with the job's stdio and environment while a heartbeat re-posts
//! `pending` (16.6+ fails a pending older than 2 minutes), then post
//! `passed` or `failed`. CMD's exit code is status-check's: a failed report
//! changes it only when CMD succeeded. SIGTERM, SIGINT and SIGHUP are passed
//! on to CMD's process group and fail the check at once, so a cancelled job
//! does not leave it pending.
//!
//! This file settles everything before CMD starts and posts `pending`;
//! `command` runs and supervises CMD, `heartbeat` keeps the pending alive, and
//! `reporter` posts the result and builds the outcome.

mod command;
mod heartbeat;
mod reporter;
mod supervisor;

use std::ffi::OsString;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::checks::{self, Ctx, Want};
use crate::cli::ReportStatus;
use crate::config::{CheckRef, Config, Control, PENDING_TIMEOUT, RunTask};
use crate::control;
use crate::duration::human;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::Client;
use crate::gitlab::ServerVersion;
use crate::log::Log;
use crate::names::quote;
use crate::output::Outcome;
use crate::platform::signals;
use command::{Heard, Supervised, cannot_start, first_signal, spawn, supervise};
use reporter::{OnMr, Plan, Reporter, finish};
use supervisor::Ended;

pub(super) fn run(cfg: &Config, log: &Log, mut args: RunTask) -> Result<Outcome, Error> {
    let program = program_name(&args.command);
    let not_run = |e: Error| e.hint(format!("status-check did not run {program}"));
    let (check, control) = (args.check.take(), args.control.take());
    // Only a check needs the token: a control's request is signed with its secret.
    let ctx = match check {
        Some(_) => Ctx::connect(cfg, log),
        None => control::client(cfg, log).map(|client| Ctx::with_client(cfg, log, client)),
    }
    .map_err(not_run)?;
    let control = match control {
        Some(control) => Some((control, control::client(cfg, log).map_err(not_run)?)),
        None => None,
    };
    let (reporter, deferred) = prepare(&ctx, &args, check, control).map_err(not_run)?;
    let ctx = &ctx;

    let (heard_tx, heard) = mpsc::channel();
    let notify = heard_tx.clone();
    if let Err(e) = signals::catch(move |signo| {
        let _ = notify.send(Heard::Signal(signo));
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

    let (ended, report) = if let Some(signo) = first_signal(&heard) {
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
                let waiter_tx = heard_tx.clone();
                let (ended, report) = supervise(
                    ctx,
                    &reporter,
                    Supervised {
                        child,
                        program: &program,
                        heard: &heard,
                        waiter_tx,
                        live,
                        first_beat,
                    },
                );
                (ended, Some(report))
            }
            Err(e) => (cannot_start(ctx, &program, &e), None),
        }
    };
    drop(heard_tx);
    let elapsed = started.elapsed();
    let report = report.unwrap_or_else(|| reporter.report_all(ctx, ended.report_status()));
    Ok(finish(
        &reporter, &program, &ended, report, deferred, elapsed,
    ))
}

/// Everything that can stop the job before CMD runs: flags, the version,
/// the merge requests, and the check's id on each of them (without a check, only a
/// control is set: none of that is needed).
/// The error, if any, is reported at the end like a failed report (every
/// merge request of the SHA has moved on).
fn prepare<'a>(
    ctx: &Ctx,
    args: &RunTask,
    check: Option<CheckRef>,
    control: Option<(Control, Client<'a>)>,
) -> Result<(Reporter<'a>, Option<Error>), Error> {
    let every = args.heartbeat;
    let Some(check) = check else {
        let reporter = Reporter {
            check: None,
            sha: ctx.cfg.sha.as_ref().map(|sha| sha.value.clone()),
            targets: Vec::new(),
            plan: Plan::nothing_posted(),
            control,
            warned: Default::default(),
        };
        return Ok((reporter, None));
    };
    let sha = ctx.cfg.require_sha()?.clone();
    ctx.project()?;
    let version = ctx.server_version()?;
    let plan = plan(ctx, version, !args.pending, every)?;
    let found = checks::find_targets(ctx, Some(&sha), Want::Open)?;
    let mut deferred = None;
    if let Some(err) = found.none_found() {
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
                found.nothing_open(&ctx.project()?.raw)
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
        check: Some(check),
        sha: Some(sha),
        targets: resolved,
        plan,
        control,
        warned: Default::default(),
    };
    Ok((reporter, deferred))
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
    let (Some(check), Some(sha)) = (&r.check, &r.sha) else {
        return Ok(live);
    };
    if !r.plan.pending {
        return Ok(live);
    }
    for target in &r.targets {
        let posted = checks::post_status(
            ctx,
            check,
            &target.check,
            &target.mr,
            sha,
            ReportStatus::Pending,
            true,
        );
        match posted {
            Ok(done) => {
                say(
                    ctx.log,
                    format!(
                        "reported pending for {} on {} at {}; running {program}",
                        quote(&target.check.name),
                        target.mr.label,
                        sha.short()
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
                            check,
                            &done.check,
                            &done.mr,
                            sha,
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

/// `./scan.sh`, in backquotes, for messages.
fn program_name(command: &[OsString]) -> String {
    match command.first() {
        Some(program) => format!("`{}`", program.to_string_lossy()),
        None => "the command".to_owned(),
    }
}

/// run's own progress lines are prefixed: they mix with CMD's output.
pub(super) fn say(log: &Log, line: impl AsRef<str>) {
    log.info(format!("status-check: {}", line.as_ref()));
}

pub(super) fn warn(log: &Log, line: impl AsRef<str>) {
    log.info(format!("status-check: warning: {}", line.as_ref()));
}
