//! `run`'s command: started so that a job's stop reaches it and its children, and how
//! it ended.
//!
//! - `spawn`: with the job's stdio and environment (on Unix in a process group of its
//!   own, with the signals status-check blocks unblocked).
//! - `forward`: pass a stop on to it (on Windows the console has already delivered it).
//! - `recipients`: who a forwarded stop reaches, for the log.
//! - `exit_of`: its end, as `Exit`.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{exit_of, forward, recipients, spawn};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{exit_of, forward, recipients, spawn};

/// How the process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    /// Ended by this signal (on Windows: by Ctrl-C or Ctrl-Break, as SIGINT).
    Signal(i32),
}
