//! The one error type commands return: an exit code, a message and hints.
//!
//! The exit code is chosen by the constructor that names the kind of failure
//! (`usage`, `api`, `stale`, ...), never ad hoc at the call site.

use std::fmt;

use crate::exit::Code;

/// `Clone`, so a caller that keeps an error (doctor's lines, a deferred report) copies
/// it whole, code included, instead of rebuilding it.
#[derive(Clone, Debug)]
pub(crate) struct Error {
    pub code: Code,
    pub message: String,
    pub hints: Vec<String>,
    /// GitLab or the network failed in a way a later attempt may not
    /// (a 5xx, 429, reset or timeout that outlived the retries). Lets a
    /// command tell "GitLab is having a bad minute" from "this cannot work".
    pub transient: bool,
}

impl Error {
    fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            hints: Vec::new(),
            transient: false,
        }
    }

    /// A bad flag, variable or file: the user must change the job.
    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error::new(Code::Usage, message)
    }

    /// GitLab, the network or authentication failed.
    pub(crate) fn api(message: impl Into<String>) -> Error {
        Error::new(Code::Api, message)
    }

    /// The SHA is no longer the head of the merge request.
    pub(crate) fn stale(message: impl Into<String>) -> Error {
        Error::new(Code::Stale, message)
    }

    /// A check failed or a retry was refused.
    pub(crate) fn check_failed(message: impl Into<String>) -> Error {
        Error::new(Code::CheckFailed, message)
    }

    /// Marks the failure as one a later attempt may not repeat.
    pub(crate) fn into_transient(mut self) -> Error {
        self.transient = true;
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hints.push(hint.into());
        self
    }

    /// Prefixes the message with what was being done, e.g. `reporting to !7`.
    pub(crate) fn context(mut self, what: impl fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
