//! run's protocol without I/O: when `pending` is posted again, what the final status is
//! and when it is posted, how CMD's end reads, and what status-check exits with.
//! `command.rs` and `heartbeat.rs` drive it with the process, the clock and the client;
//! the tests below drive it with random timelines. Times are `Duration`s from a start
//! the caller chooses.

use std::time::Duration;

use crate::cli::ReportStatus;
use crate::exit::{Code, Status};
pub(super) use crate::platform::process::Exit;
use crate::platform::signals;

/// How CMD ended, and the exit status that follows from it.
#[derive(Debug)]
pub(super) struct Ended {
    pub(super) status: Status,
    /// False when CMD could not be started at all.
    pub(super) started: bool,
    /// "exited with 3", "was ended by SIGTERM", ...
    pub(super) how: String,
    pub(super) command_code: Option<i32>,
    pub(super) signal: Option<i32>,
}

impl Ended {
    /// CMD ran and ended (`Err`: it could not be waited for); `cancelled` by this
    /// signal to status-check, if any.
    pub(super) fn from_exit(exit: Result<Exit, String>, cancelled: Option<i32>) -> Ended {
        let ended = |status, how, command_code, signal| Ended {
            status,
            started: true,
            how,
            command_code,
            signal,
        };
        match (exit, cancelled) {
            (Err(e), _) => ended(
                Status::exited(1),
                format!("could not be waited for ({e})"),
                None,
                cancelled,
            ),
            (Ok(Exit::Signal(signo)), _) => ended(
                Status::signal(signo),
                format!("was ended by {}", signals::describe(signo)),
                None,
                Some(signo),
            ),
            // A cancelled job must not look successful.
            (Ok(Exit::Code(0)), Some(signo)) => ended(
                Status::signal(signo),
                format!("exited with 0 after {}", signals::describe(signo)),
                Some(0),
                Some(signo),
            ),
            (Ok(Exit::Code(code)), _) => ended(
                Status::exited(code),
                format!("exited with {code}"),
                Some(code),
                cancelled,
            ),
        }
    }

    /// A stop signal arrived while pending was being posted.
    pub(super) fn not_started(signo: i32) -> Ended {
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

    /// The final status for the check.
    pub(super) fn report_status(&self) -> ReportStatus {
        if self.status.is_success() {
            ReportStatus::Passed
        } else {
            ReportStatus::Failed
        }
    }
}

/// What status-check exits with: CMD's status, unless CMD succeeded and reporting
/// failed; then the report's error (a stale SHA only when nothing else went wrong).
pub(super) fn exit_status(command: Status, report_errors: &[Code]) -> Status {
    let report_error = report_errors
        .iter()
        .find(|c| **c != Code::Stale)
        .or(report_errors.first());
    match report_error {
        Some(code) if command.is_success() => Status::from(*code),
        _ => command,
    }
}

/// What the supervisor asks of its driver while CMD runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    /// Pass the signal on to CMD (`again`: not the first).
    Forward { signo: i32, again: bool },
    /// End the heartbeat: before any final report, so that a late `pending` cannot
    /// overwrite `passed` or `failed`.
    StopBeats,
    /// Post this final status on every target.
    Report(ReportStatus),
}

/// CMD's supervision: signals and CMD's end in, orders out.
#[derive(Default, Debug)]
pub(super) struct Supervisor {
    cancelled: Option<i32>,
    reported: bool,
}

impl Supervisor {
    /// A stop signal (SIGTERM, SIGINT, SIGHUP; Ctrl-C or Ctrl-Break): passed on, and the
    /// first one fails the check at once (the runner may kill status-check soon after).
    pub(super) fn signal(&mut self, signo: i32) -> Vec<Order> {
        let again = self.cancelled.is_some();
        let mut orders = vec![Order::Forward { signo, again }];
        if !again {
            self.cancelled = Some(signo);
            orders.extend(self.report(ReportStatus::Failed));
        }
        orders
    }

    /// CMD ended: how it reads, and the final report unless a signal already made it.
    pub(super) fn exited(&mut self, exit: Result<Exit, String>) -> (Ended, Vec<Order>) {
        let ended = Ended::from_exit(exit, self.cancelled);
        let orders = self.report(ended.report_status());
        (ended, orders)
    }

    fn report(&mut self, status: ReportStatus) -> Vec<Order> {
        if std::mem::replace(&mut self.reported, true) {
            return vec![];
        }
        vec![Order::StopBeats, Order::Report(status)]
    }
}

/// How a heartbeat's post went on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    Posted,
    /// The MR moved on from the SHA: no more beats there.
    Stale,
    /// Anything else: tried again at the next beat.
    Failed,
}

/// The heartbeat's schedule: `pending` on every live target every `every`.
#[derive(Debug)]
pub(super) struct Beats {
    every: Duration,
    next: Duration,
    live: Vec<bool>,
}

impl Beats {
    /// The first beat at `first`, on `targets` targets.
    pub(super) fn new(every: Duration, first: Duration, targets: usize) -> Beats {
        Beats {
            every,
            next: first,
            live: vec![true; targets],
        }
    }

    /// When the next beat is due; `None` once no target is live.
    pub(super) fn next(&self) -> Option<Duration> {
        self.live.contains(&true).then_some(self.next)
    }

    /// The beat at `now`: the targets to post `pending` on. The next beat is `every`
    /// after this one, however long its posts take.
    pub(super) fn beat(&mut self, now: Duration) -> Vec<usize> {
        self.next = now + self.every;
        (0..self.live.len()).filter(|t| self.live[*t]).collect()
    }

    pub(super) fn answered(&mut self, target: usize, answer: Answer) {
        if answer == Answer::Stale {
            self.live[target] = false;
        }
    }

    pub(super) fn stop(&mut self) {
        self.live.fill(false);
    }
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
