//! `wait`'s flags, validated once into what the gate is asked to do (`Rules`, which
//! the gate in `commands/wait/gate/` runs on) and the reports to write, checked before
//! the first request.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Config, parse_count, parse_duration};
use crate::cli::WaitArgs;
use crate::duration::human;
use crate::error::Error;
use crate::names::parse_list;

/// `wait`, validated.
pub(crate) struct WaitTask {
    pub(crate) rules: Rules,
    pub(crate) allow_empty: bool,
    pub(crate) junit: Option<(PathBuf, File)>,
    pub(crate) dotenv: Option<(PathBuf, File)>,
    /// How often to say what is still pending; `None`: never.
    pub(crate) progress_every: Option<Duration>,
}

/// What the gate was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) checks: Selection,
}

/// Which checks the gate waits for, and how it treats a failed one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selection {
    pub(crate) names: Vec<String>,
    pub(crate) ignore: Vec<String>,
    pub(crate) retry_limit: u32,
    pub(crate) fail_fast: bool,
    /// GitLab 16.1+ is known to be the server (`CI_SERVER_VERSION_*`: the gate reads no
    /// version itself): an accepted retry has set `pending`.
    pub(crate) retry_resets_pending: bool,
}

impl Config {
    pub(crate) fn wait(&self, args: &WaitArgs) -> Result<WaitTask, Error> {
        let interval = parse_duration(&args.interval, "--interval")?;
        if interval.is_zero() {
            return Err(Error::usage("--interval must be above 0").hint("e.g. --interval 2s"));
        }
        let max_interval = parse_duration(&args.max_interval, "--max-interval")?;
        if max_interval < interval {
            return Err(Error::usage(format!(
                "--max-interval ({}) is shorter than --interval ({})",
                human(max_interval),
                human(interval)
            )));
        }
        // Names exactly as given: GitLab stores them as typed, spaces included.
        let names = list(&args.names, args.names_from_env, "STATUS_CHECK_NAMES")?;
        let mut ignore = list(&args.ignore, args.ignore_from_env, "STATUS_CHECK_IGNORE")?;
        // The job's own check can never pass while the job waits for it.
        if let Some(own) = args.self_name.as_deref().filter(|n| !n.trim().is_empty()) {
            ignore.push(own.to_owned());
        }
        let progress_every = parse_duration(&args.progress_every, "--progress-every")?;
        let timeout = parse_duration(&args.timeout, "--timeout")?;
        let retry_limit = parse_count(&args.retry_failed, "--retry-failed", 100)? as u32;
        Ok(WaitTask {
            rules: Rules {
                timeout,
                interval,
                max_interval,
                checks: Selection {
                    names,
                    ignore,
                    retry_limit,
                    fail_fast: args.fail_fast,
                    retry_resets_pending: self
                        .server_version
                        .is_some_and(|v| v.retry_resets_pending()),
                },
            },
            allow_empty: args.allow_empty,
            // Opened now, so an unwritable path fails before the wait, not after.
            junit: open_report(args.junit.as_deref(), "--junit")?,
            dotenv: open_report(args.dotenv.as_deref(), "--dotenv")?,
            progress_every: (!progress_every.is_zero()).then_some(progress_every),
        })
    }
}

/// The names of `--name`/`--ignore`: the flags' values as they are, or the
/// variable's text read as a JSON array (or one name).
fn list(given: &[String], from_env: bool, variable: &str) -> Result<Vec<String>, Error> {
    if !from_env {
        return Ok(given.to_vec());
    }
    let text = given.concat();
    parse_list(&text).map_err(|reason| {
        Error::usage(format!("{variable}: {reason}")).hint(format!(
            "set {variable} to a JSON array of names, e.g. [\"security-scan\", \"manual review\"] (what a component's array input gives), or to one name"
        ))
    })
}

fn open_report(path: Option<&Path>, flag: &str) -> Result<Option<(PathBuf, File)>, Error> {
    let Some(path) = path else { return Ok(None) };
    File::create(path)
        .map(|file| Some((path.to_path_buf(), file)))
        .map_err(|e| {
            Error::usage(format!("{flag}: cannot write {}: {e}", path.display()))
                .hint("give a path in a writable directory, e.g. inside $CI_PROJECT_DIR")
        })
}
