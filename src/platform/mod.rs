//! What differs between Unix and Windows, one module per concern; everything else in
//! status-check is the same code on every platform, and every `unsafe` block of
//! status-check lives here.
//!
//! - `signals`: how a job is stopped (SIGTERM, SIGINT, SIGHUP; Ctrl-C, Ctrl-Break, a
//!   console's close), for `wait` (exit at once) and `run` (fail the check first).
//! - `process`: `run`'s command: started so that a stop reaches it, and how it ended.
//! - `roots`: the system's trusted CA certificates.
//!
//! Arguments and variables need no module: `OsStr::as_encoded_bytes` reads a
//! non-UTF-8 argument on every platform.

pub(crate) mod process;
pub(crate) mod roots;
pub(crate) mod signals;
