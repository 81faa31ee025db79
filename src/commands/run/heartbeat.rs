//! The heartbeat: `pending` again and again while CMD runs, so that GitLab 16.6+
//! does not fail a pending older than 2 minutes.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::reporter::OnMr;
use super::warn;
use crate::checks::{self, CheckRef, Ctx};
use crate::cli::ReportStatus;
use crate::config::Config;
use crate::duration::human;
use crate::exit::Code;
use crate::log::Log;
use crate::sha::Sha;

/// The shortest time one heartbeat (its POST and retries) may take.
const HEARTBEAT_DEADLINE_FLOOR: Duration = Duration::from_secs(5);

/// Re-posts pending on `live` every `every` until told to stop. Failures are
/// logged and tried again at the next beat; a stale SHA ends the beats for
/// that merge request. Runs on its own thread, with its own client and log.
pub(super) fn heartbeat(
    cfg: &Config,
    check: &CheckRef,
    mut live: Vec<OnMr>,
    sha: &Sha,
    every: Duration,
    mut next: Instant,
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
