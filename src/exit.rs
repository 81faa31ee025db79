//! The one table of exit codes. Pipelines match on these: never renumber.
//!
//! `--help` prints the table from here (`help`, `command_help`), so the text and the
//! codes cannot drift apart.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
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
    /// Every code, in the order `--help` lists them.
    const ALL: [Code; 6] = [
        Code::Ok,
        Code::CheckFailed,
        Code::Usage,
        Code::Timeout,
        Code::Stale,
        Code::Api,
    ];

    pub(crate) fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code's name in `--help`.
    fn summary(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::CheckFailed => "check failed",
            Code::Usage => "usage/config",
            Code::Timeout => "timeout",
            Code::Stale => "stale SHA",
            Code::Api => "API/auth/network error",
        }
    }
}

/// What status-check exits with: one of its own codes, or, for `run`, the code that
/// its command's end calls for (the command's own, or a shell's for a command that
/// could not start or was ended by a signal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Own(Code),
    Command(u8),
}

/// A shell's codes for a command that did not run, and the base of a signal's.
const NOT_FOUND: u8 = 127;
const NOT_EXECUTABLE: u8 = 126;
const SIGNAL_BASE: i32 = 128;

impl Status {
    /// The command does not exist.
    pub(crate) const NOT_FOUND: Status = Status::Command(NOT_FOUND);
    /// The command exists but cannot be executed.
    pub(crate) const NOT_EXECUTABLE: Status = Status::Command(NOT_EXECUTABLE);

    /// The command exited with `code` (one outside 0..=255 reads as 1).
    pub(crate) fn exited(code: i32) -> Status {
        Status::Command(u8::try_from(code).unwrap_or(1))
    }

    /// Ended by signal `signo`: 128 + `signo`, as a shell says.
    pub(crate) fn signal(signo: i32) -> Status {
        Status::Command(u8::try_from(SIGNAL_BASE + signo.clamp(0, 127)).unwrap_or(u8::MAX))
    }

    pub(crate) fn as_u8(self) -> u8 {
        match self {
            Status::Own(code) => code.as_u8(),
            Status::Command(code) => code,
        }
    }

    pub(crate) fn is_success(self) -> bool {
        self.as_u8() == 0
    }
}

impl From<Code> for Status {
    fn from(code: Code) -> Status {
        Status::Own(code)
    }
}

/// The exit-code line of `status-check --help`.
pub(crate) fn help() -> String {
    let codes: Vec<String> = Code::ALL
        .iter()
        .map(|code| format!("{} {}", code.as_u8(), code.summary()))
        .collect();
    format!("Exit codes: {}.", codes.join(", "))
}

/// A command, for the exit codes that end its `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum For {
    Report,
    List,
    Retry,
    Wait,
    Run,
    Doctor,
    Sync,
    Control,
}

impl For {
    /// Each command's codes, in order, with what each means there (`None`: the
    /// code's name in the top-level help). 2 is always possible: a bad flag.
    fn codes(self) -> &'static [(Code, Option<&'static str>)] {
        const USAGE: (Code, Option<&str>) = (Code::Usage, None);
        const STALE: (Code, Option<&str>) = (Code::Stale, None);
        const API: (Code, Option<&str>) = (Code::Api, None);
        match self {
            For::Report => &[
                (
                    Code::Ok,
                    Some("reported (or no merge request, without --require-mr)"),
                ),
                USAGE,
                STALE,
                API,
            ],
            For::List => &[(Code::Ok, None), USAGE, STALE, API],
            For::Retry => &[
                (Code::Ok, Some("retry requested")),
                (
                    Code::CheckFailed,
                    Some("GitLab refused the retry (the check is not failed)"),
                ),
                USAGE,
                API,
            ],
            For::Wait => &[
                (Code::Ok, Some("every check passed")),
                (
                    Code::CheckFailed,
                    Some("a check failed, or none applies (without --allow-empty)"),
                ),
                USAGE,
                (Code::Timeout, Some("timed out")),
                (Code::Stale, Some("stale SHA (a push during the wait)")),
                API,
            ],
            For::Run => &[USAGE, API],
            For::Doctor => &[
                (Code::Ok, Some("no line failed")),
                (Code::CheckFailed, Some("a line failed")),
                (Code::Usage, Some("usage (a bad flag)")),
            ],
            For::Sync => &[
                (Code::Ok, Some("in line with the file, or changed to be")),
                (Code::CheckFailed, Some("--dry-run found changes to make")),
                USAGE,
                API,
            ],
            For::Control => &[
                (Code::Ok, Some("the status is set")),
                USAGE,
                (
                    Code::Api,
                    Some("GitLab refused it (each refusal says why), or API/network error"),
                ),
            ],
        }
    }
}

fn list(codes: &[(Code, Option<&str>)]) -> String {
    codes
        .iter()
        .map(|(code, meaning)| format!("{} {}", code.as_u8(), meaning.unwrap_or(code.summary())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The exit-code lines that end `status-check <command> --help`.
pub(crate) fn command_help(command: For) -> String {
    match command {
        For::Run => format!(
            "Exit code: CMD's own ({NOT_FOUND} not found, {NOT_EXECUTABLE} not executable, {SIGNAL_BASE}+N ended by signal N). \
             Only when CMD succeeded does a failed final report change it: {} stale SHA, {} API error. \
             Before CMD runs (it then does not run): {}.",
            Code::Stale.as_u8(),
            Code::Api.as_u8(),
            list(command.codes())
        ),
        For::Wait => format!(
            "Exit codes: {}; {} or {} when the job is cancelled (SIGTERM, SIGINT).",
            list(command.codes()),
            SIGNAL_BASE + 15,
            SIGNAL_BASE + 2
        ),
        _ => format!("Exit codes: {}.", list(command.codes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_code_in_order() {
        assert_eq!(
            help(),
            "Exit codes: 0 ok, 1 check failed, 2 usage/config, 3 timeout, 4 stale SHA, 5 API/auth/network error."
        );
    }

    #[test]
    fn each_commands_help_ends_with_its_codes() {
        assert_eq!(
            command_help(For::Report),
            "Exit codes: 0 reported (or no merge request, without --require-mr), 2 usage/config, 4 stale SHA, 5 API/auth/network error."
        );
        assert!(command_help(For::Wait).contains("3 timed out"));
        assert!(
            command_help(For::Wait)
                .ends_with("143 or 130 when the job is cancelled (SIGTERM, SIGINT).")
        );
        assert!(command_help(For::Run).starts_with("Exit code: CMD's own (127 not found"));
        for command in [
            For::Report,
            For::List,
            For::Retry,
            For::Wait,
            For::Run,
            For::Doctor,
            For::Sync,
            For::Control,
        ] {
            assert!(
                command.codes().iter().any(|(c, _)| *c == Code::Usage),
                "{command:?}"
            );
        }
    }

    #[test]
    fn a_commands_codes_follow_the_shell() {
        assert_eq!(Status::signal(15).as_u8(), 143);
        assert_eq!(Status::exited(300), Status::Command(1));
        assert_eq!(Status::NOT_FOUND.as_u8(), 127);
        assert!(Status::from(Code::Ok).is_success());
        assert!(!Status::from(Code::Stale).is_success());
    }
}
