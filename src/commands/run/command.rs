//! CMD itself: started (`platform::process`), waited for while stops are passed on to
//! it, and how it ended.

use std::ffi::OsString;
use std::io;
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Instant;

use super::heartbeat::heartbeat;
use super::reporter::{OnMr, Report, Reporter};
use super::supervisor::{Ended, Order, Supervisor};
use super::{say, warn};
use crate::checks::Ctx;
use crate::exit::Status;
use crate::platform::{process, signals};

/// What the supervising loop hears: a signal to status-check, or CMD's end.
pub(super) enum Heard {
    Signal(i32),
    Exited(io::Result<ExitStatus>),
}

/// A signal that arrived before CMD started, if any.
pub(super) fn first_signal(heard: &Receiver<Heard>) -> Option<i32> {
    heard.try_iter().find_map(|heard| match heard {
        Heard::Signal(signo) => Some(signo),
        Heard::Exited(_) => None,
    })
}

/// Starts CMD; stdin, stdout, stderr and the environment are the job's.
pub(super) fn spawn(command: &[OsString]) -> io::Result<Child> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command given"))?;
    process::spawn(program, args)
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
    pub(super) heard: &'e Receiver<Heard>,
    pub(super) waiter_tx: mpsc::Sender<Heard>,
    /// Targets holding a pending to keep alive.
    pub(super) live: Vec<OnMr>,
    pub(super) first_beat: Instant,
}

/// Waits for CMD while the heartbeat runs, forwarding signals, and reports the
/// outcome: on the first signal at once (the runner may kill status-check soon after),
/// else when CMD ends. The decisions are `Supervisor`'s.
pub(super) fn supervise(ctx: &Ctx, r: &Reporter, job: Supervised) -> (Ended, Report) {
    let Supervised {
        mut child,
        program,
        heard,
        waiter_tx,
        live,
        first_beat,
    } = job;
    let pid = child.id();
    let cfg = ctx.cfg;
    let (check, sha) = (&r.check, &r.sha);
    thread::scope(|s| {
        s.spawn(move || {
            let status = child.wait();
            let _ = waiter_tx.send(Heard::Exited(status));
        });
        let mut heart = match (r.plan.heartbeat, check, sha) {
            (Some(every), Some(check), Some(sha)) if !live.is_empty() => {
                let (stop_tx, stop_rx) = mpsc::channel::<()>();
                let handle =
                    s.spawn(move || heartbeat(cfg, check, live, sha, every, first_beat, stop_rx));
                Some((stop_tx, handle))
            }
            _ => None,
        };
        let mut report = None;
        let mut perform = |orders: Vec<Order>| {
            for order in orders {
                match order {
                    Order::Forward { signo, again } => forward(ctx, program, pid, signo, again),
                    Order::StopBeats => {
                        if let Some((stop_tx, handle)) = heart.take() {
                            drop(stop_tx);
                            let _ = handle.join();
                        }
                    }
                    Order::Report(status) => report = Some(r.report_all(ctx, status)),
                }
            }
        };
        let mut supervisor = Supervisor::default();
        let ended = loop {
            let exit = match heard.recv() {
                Ok(Heard::Signal(signo)) => {
                    perform(supervisor.signal(signo));
                    continue;
                }
                Ok(Heard::Exited(status)) => {
                    status.map(process::exit_of).map_err(|e| e.to_string())
                }
                Err(_) => Err("lost track of the command".to_owned()),
            };
            let (ended, orders) = supervisor.exited(exit);
            perform(orders);
            break ended;
        };
        (ended, report.expect("the supervisor reports once"))
    })
}

/// Passes a stop on to CMD, and says so.
fn forward(ctx: &Ctx, program: &str, pid: u32, signo: i32, again: bool) {
    let name = signals::describe(signo);
    if let Err(e) = process::forward(pid, signo) {
        warn(
            ctx.log,
            format!("could not pass {name} on to {program}: {e}"),
        );
    }
    let line = if again {
        format!("received {name} again: passed it on to {program}")
    } else {
        format!(
            "received {name}: passed it on to {program} ({}) and reporting the check failed",
            process::recipients(pid)
        )
    };
    say(ctx.log, line);
}
