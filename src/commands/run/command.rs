//! CMD itself: started in a process group of its own, waited for while signals are
//! passed on to it, and how it ended.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Instant;

use super::heartbeat::heartbeat;
use super::reporter::{OnMr, Report, Reporter};
use super::{say, warn};
use crate::checks::Ctx;
use crate::cli::ReportStatus;
use crate::exit::Status;
use crate::signals;

pub(super) enum Event {
    Signal(i32),
    Exited(io::Result<ExitStatus>),
}

/// How CMD ended, and the exit status that follows from it.
pub(super) struct Ended {
    pub(super) status: Status,
    /// False when CMD could not be started at all.
    pub(super) started: bool,
    /// "exited with 3", "was ended by SIGTERM", ...
    pub(super) how: String,
    pub(super) command_code: Option<i32>,
    pub(super) signal: Option<i32>,
}

/// A signal that arrived before CMD started, if any.
pub(super) fn first_signal(events: &Receiver<Event>) -> Option<i32> {
    events.try_iter().find_map(|event| match event {
        Event::Signal(signo) => Some(signo),
        Event::Exited(_) => None,
    })
}

/// CMD in a process group of its own, so that a forwarded signal reaches
/// its children too. stdin, stdout, stderr and the environment are the job's.
pub(super) fn spawn(command: &[OsString]) -> io::Result<Child> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command given"))?;
    let mut command = Command::new(program);
    command.args(args).process_group(0);
    signals::unblock_in_child(&mut command);
    command.spawn()
}

/// 127 when CMD does not exist, 126 when it cannot be executed, as a shell says.
pub(super) fn cannot_start(ctx: &Ctx, program: &str, e: &io::Error) -> Ended {
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

pub(super) struct Supervised<'e> {
    pub(super) child: Child,
    pub(super) program: &'e str,
    pub(super) events: &'e Receiver<Event>,
    pub(super) waiter_tx: mpsc::Sender<Event>,
    /// Targets holding a pending to keep alive.
    pub(super) live: Vec<OnMr>,
    pub(super) first_beat: Instant,
}

/// Waits for CMD while the heartbeat runs, forwarding signals. On the first
/// signal the heartbeat stops and the check is reported failed at once (the
/// runner may kill status-check soon after); that report is returned.
pub(super) fn supervise(ctx: &Ctx, r: &Reporter, job: Supervised) -> (Ended, Option<Report>) {
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
    let (check, sha) = (&r.check, &r.sha);
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

pub(super) fn ended(status: io::Result<ExitStatus>, cancelled: Option<i32>) -> Ended {
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
}
