//! How a job is stopped, as signal numbers on every platform: on Unix the signals
//! themselves; on Windows the console's events, numbered as its C runtime numbers
//! them (Ctrl-C 2, Ctrl-Break 21, a close, logoff or shutdown 15).
//!
//! - `exit_on_termination`: print one line and exit with 128 + the number (`wait`).
//! - `catch(notify)`: hand each one to `notify`, on a thread of its own, for the rest
//!   of the process's life (`run`).
//! - `name`: `SIGTERM`, `Ctrl-C`, ...

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{catch, exit_on_termination, name, unblock_in_child};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{SIGINT, catch, exit_on_termination, name};

/// `SIGTERM`, or `signal 42` when `name` does not know it.
pub(crate) fn describe(sig: i32) -> String {
    match name(sig) {
        "a signal" => format!("signal {sig}"),
        known => known.to_owned(),
    }
}
