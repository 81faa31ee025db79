//! Each command's own flags, validated once, as the global ones are into `Config`
//! (ripgrep's `HiArgs`, just's `Subcommand`): `Config::task` turns the command line's
//! command into a `Task` of typed values, and no command parses a string after it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::CheckRef;
use super::Control;
use super::{Config, Sourced, WaitTask, parse_duration};
use crate::cli::{Command, ControlSelector, ControlStatus, ReportStatus, RunArgs};
use crate::error::Error;

/// What to do: a command and its flags, validated.
pub(crate) enum Task {
    Report(ReportTask),
    List,
    Retry(CheckRef),
    Wait(WaitTask),
    Run(RunTask),
    Doctor(DoctorTask),
    Sync(SyncTask),
    Control(ControlTask),
}

pub(crate) struct ReportTask {
    pub(crate) status: ReportStatus,
    pub(crate) check: CheckRef,
    pub(crate) require_mr: bool,
}

pub(crate) struct RunTask {
    /// The check to report (`None`: only a control is set).
    pub(crate) check: Option<CheckRef>,
    /// The compliance control set with the command's outcome, if any.
    pub(crate) control: Option<Control>,
    pub(crate) heartbeat: Duration,
    pub(crate) pending: bool,
    pub(crate) command: Vec<OsString>,
}

/// `doctor` stops at nothing: what cannot be used is a line, so its inputs keep their
/// errors.
pub(crate) struct DoctorTask {
    pub(crate) name: Option<String>,
    /// With `--control-id`: the control's inputs, each read on its own.
    pub(crate) control: Option<DoctorControl>,
}

pub(crate) struct DoctorControl {
    pub(crate) id: Result<Sourced<u64>, Error>,
    pub(crate) project: Result<Sourced<u64>, Error>,
    /// The whole control, secret included (its error: the secret's, once the id and
    /// the project are good).
    pub(crate) control: Result<Control, Error>,
}

pub(crate) struct SyncTask {
    pub(crate) file: PathBuf,
    pub(crate) dry_run: bool,
    pub(crate) prune: bool,
    pub(crate) rotate_secrets: bool,
}

pub(crate) struct ControlTask {
    pub(crate) status: ControlStatus,
    pub(crate) control: Control,
}

/// GitLab 16.6+ turns a pending response older than this into failed.
pub(crate) const PENDING_TIMEOUT: Duration = Duration::from_secs(120);
/// A faster heartbeat would only hammer GitLab.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);

impl Config {
    /// The command's flags, validated.
    pub(crate) fn task(&self, command: &Command) -> Result<Task, Error> {
        Ok(match command {
            Command::Report(args) => Task::Report(ReportTask {
                status: args.status,
                check: CheckRef::from_args(&args.check)?,
                require_mr: args.require_mr,
            }),
            Command::List => Task::List,
            Command::Retry(args) => Task::Retry(CheckRef::from_args(args)?),
            Command::Wait(args) => Task::Wait(self.wait(args)?),
            Command::Run(args) => Task::Run(self.run(args)?),
            Command::Doctor(args) => Task::Doctor(DoctorTask {
                // Exactly as given: GitLab stores names as typed, spaces included.
                name: args.name.clone().filter(|n| !n.trim().is_empty()),
                control: self.doctor_control(&args.control),
            }),
            Command::Sync(args) => Task::Sync(SyncTask {
                file: args.file.clone(),
                dry_run: args.dry_run,
                prune: args.prune,
                rotate_secrets: args.rotate_secrets,
            }),
            Command::Control(args) => Task::Control(ControlTask {
                status: args.status,
                control: self.require_control(&args.control)?,
            }),
        })
    }

    /// `run`'s flags; an error says the command did not run.
    fn run(&self, args: &RunArgs) -> Result<RunTask, Error> {
        let program = match args.command.first() {
            Some(program) => format!("`{}`", program.to_string_lossy()),
            None => "the command".to_owned(),
        };
        let not_run = |e: Error| e.hint(format!("status-check did not run {program}"));
        let control = self.control(&args.control).map_err(not_run)?;
        // A blank flag or variable counts as unset (a component clears STATUS_CHECK_NAME).
        let (name, check_id) = (given(&args.name), given(&args.check_id));
        let check = match (name, check_id, &control) {
            (None, None, Some(_)) => None,
            _ => Some(CheckRef::from_flags(name, check_id).map_err(not_run)?),
        };
        Ok(RunTask {
            check,
            control,
            heartbeat: heartbeat_interval(&args.heartbeat).map_err(not_run)?,
            pending: args.pending,
            command: args.command.clone(),
        })
    }

    fn doctor_control(&self, args: &ControlSelector) -> Option<DoctorControl> {
        let id = self.control_id(args).transpose()?;
        let project = self.control_project();
        let control = match (&id, &project) {
            (Ok(id), Ok(project_id)) => {
                self.control_secret(args)
                    .map(|(secret, secret_source)| Control {
                        id: id.clone(),
                        project_id: project_id.clone(),
                        secret,
                        secret_source,
                    })
            }
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        Some(DoctorControl {
            id,
            project,
            control,
        })
    }
}

/// A flag's value, unless blank.
fn given(flag: &Option<String>) -> Option<&str> {
    flag.as_deref().filter(|v| !v.trim().is_empty())
}

fn heartbeat_interval(raw: &str) -> Result<Duration, Error> {
    let every = parse_duration(raw, "--heartbeat")?;
    if every < MIN_HEARTBEAT {
        return Err(Error::usage(format!(
            "--heartbeat: `{raw}` is too short (at least {}ms)",
            MIN_HEARTBEAT.as_millis()
        ))
        .hint("the default, 60s, keeps a pending check alive on GitLab 16.6+, which fails a pending older than 2 minutes"));
    }
    Ok(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_must_not_hammer() {
        assert!(heartbeat_interval("0").is_err());
        assert!(heartbeat_interval("50ms").is_err());
        assert_eq!(
            heartbeat_interval("200ms").unwrap(),
            Duration::from_millis(200)
        );
        assert_eq!(heartbeat_interval("60s").unwrap(), Duration::from_secs(60));
    }
}
