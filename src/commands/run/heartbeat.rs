//! The heartbeat: `pending` again and again while CMD runs, so that GitLab 16.6+
//! does not fail a pending older than 2 minutes.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::reporter::OnMr;
use super::supervisor::{Answer, Beats};
use super::warn;
use crate::checks::{self, Ctx};
use crate::cli::ReportStatus;
use crate::config::{CheckRef, Config};
use crate::duration::human;
use crate::exit::Code;
use crate::log::Log;
use crate::sha::Sha;

/// The shortest time one heartbeat (its POST and retries) may take.
const HEARTBEAT_DEADLINE_FLOOR: Duration = Duration::from_secs(5);

/// Re-posts pending on `live` as `Beats` schedules it, from `first` on, until told to
/// stop. Failures are logged and tried again at the next beat; a stale SHA ends the
/// beats for that merge request. Runs on its own thread, with its own client and log.
pub(super) fn heartbeat(
    cfg: &Config,
    check: &CheckRef,
    live: Vec<OnMr>,
    sha: &Sha,
    every: Duration,
    first: Instant,
    stop: Receiver<()>,
) {
    let log = Log::new(cfg.verbose, cfg.ci.gitlab_ci);
    let ctx = match Ctx::connect(cfg, &log) {
        Ok(ctx) => ctx,
        Err(e) => {
            warn(&log, format!("no heartbeat: {e}"));
            return;
        }
    };
    let origin = Instant::now();
    let mut beats = Beats::new(every, first.saturating_duration_since(origin), live.len());
    while let Some(due) = beats.next() {
        match stop.recv_timeout((origin + due).saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                beats.stop();
                continue;
            }
        }
        let beat = Instant::now();
        // Retries end in time for the next beat, which retries anyway; a
        // floor keeps a short heartbeat from timing out a slow but fine POST.
        ctx.client
            .set_deadline(Some(beat + every.max(HEARTBEAT_DEADLINE_FLOOR)));
        for target in beats.beat(beat - origin) {
            let answer = post_pending(&ctx, &log, check, &live[target], sha, every);
            beats.answered(target, answer);
        }
    }
}

fn post_pending(
    ctx: &Ctx,
    log: &Log,
    check: &CheckRef,
    target: &OnMr,
    sha: &Sha,
    every: Duration,
) -> Answer {
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
        Ok(_) => {
            log.detail(format!(
                "status-check: heartbeat: pending again on {}",
                target.mr.label
            ));
            Answer::Posted
        }
        Err(e) if e.code == Code::Stale => {
            let line = format!("heartbeat: {e}; no more heartbeats on {}", target.mr.label);
            warn(log, line);
            Answer::Stale
        }
        Err(e) => {
            warn(
                log,
                format!("heartbeat: {e}; trying again in {}", human(every)),
            );
            Answer::Failed
        }
    }
}
