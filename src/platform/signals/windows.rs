//! Windows: the console's control events. GitLab Runner cancels a job by sending
//! Ctrl-C to its console, then ends what is left with `taskkill /F /T`
//! (`helpers/process/killer_windows.go`); a terminal sends Ctrl-C or Ctrl-Break; closing
//! the console, a logoff or a shutdown sends a close event.
//!
//! Windows runs a console handler on a thread of its own, so the handler may take
//! locks and allocate: `catch`'s callback is called from it directly. When it returns
//! from a close or shutdown event Windows ends the process, so it waits there a few
//! seconds for `run` to report the check failed (Windows allows 5 s for a close).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const CTRL_C_EVENT: u32 = 0;
const CTRL_BREAK_EVENT: u32 = 1;
const CTRL_CLOSE_EVENT: u32 = 2;
const CTRL_SHUTDOWN_EVENT: u32 = 6;

/// The C runtime's numbers of these events (`signal.h`).
pub(crate) const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
const SIGBREAK: i32 = 21;

/// How long a close or shutdown handler keeps the process alive for the report.
const LAST_WORDS: Duration = Duration::from_secs(4);

type Notify = Box<dyn Fn(i32) + Send>;

static EXIT: AtomicBool = AtomicBool::new(false);
static NOTIFY: OnceLock<Mutex<Notify>> = OnceLock::new();

#[link(name = "kernel32")]
unsafe extern "system" {
    fn SetConsoleCtrlHandler(
        handler: Option<unsafe extern "system" fn(u32) -> i32>,
        add: i32,
    ) -> i32;
}

/// On Ctrl-C, Ctrl-Break or a close: print one line and exit with 128 + its number.
pub(crate) fn exit_on_termination() {
    EXIT.store(true, Ordering::SeqCst);
    let _ = install();
}

/// Hands each event to `notify` for the rest of the process's life; only the first
/// call installs anything.
pub(crate) fn catch(notify: impl Fn(i32) + Send + 'static) -> io::Result<()> {
    if NOTIFY.set(Mutex::new(Box::new(notify))).is_err() {
        return Err(io::Error::other("the console's events are already caught"));
    }
    install()
}

pub(crate) fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "Ctrl-C",
        SIGBREAK => "Ctrl-Break",
        SIGTERM => "the console's close or a shutdown",
        _ => "a signal",
    }
}

fn install() -> io::Result<()> {
    // SAFETY: registers a handler with the signature Windows calls; it touches only
    // atomics, a mutex and the standard streams.
    match unsafe { SetConsoleCtrlHandler(Some(handler), 1) } {
        0 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

unsafe extern "system" fn handler(event: u32) -> i32 {
    let sig = match event {
        CTRL_C_EVENT => SIGINT,
        CTRL_BREAK_EVENT => SIGBREAK,
        CTRL_CLOSE_EVENT | CTRL_SHUTDOWN_EVENT => SIGTERM,
        // A logoff: a job under the runner's service outlives a user's session.
        _ => return 0,
    };
    if let Some(notify) = NOTIFY.get() {
        if let Ok(notify) = notify.lock() {
            notify(sig);
        }
        if sig == SIGTERM {
            std::thread::sleep(LAST_WORDS);
        }
        return 1;
    }
    if EXIT.load(Ordering::SeqCst) {
        eprintln!("status-check: interrupted ({}): stopping", name(sig));
        std::process::exit(128 + sig);
    }
    0
}
