//! The one table of exit codes. Pipelines match on these: never renumber.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Everything asked for happened.
    Ok = 0,
    /// A check failed, or GitLab refused a retry.
    CheckFailed = 1,
    /// Usage or configuration: a missing token or CI variable, an unknown check, a bad value.
    Usage = 2,
    /// `wait` ran out of time.
    Timeout = 3,
    /// The SHA is no longer the merge request's head.
    Stale = 4,
    /// API, authentication or network error, after retries.
    Api = 5,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> ExitCode {
        ExitCode::from(code.as_u8())
    }
}
