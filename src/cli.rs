//! The command line, as clap types only. Validation lives in `config.rs`.
//!
//! Every option but `sync --prune` can also come from an environment variable
//! (`STATUS_CHECK_*`); the CI fallbacks (`CI_*`) are applied in `config.rs`,
//! where the order of precedence is decided in one place. An on/off flag's
//! variable takes `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`; a list's
//! takes a JSON array of names or one name (read in `names.rs`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{StringValueParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{
    ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};

use crate::exit;
use crate::secret::Secret;

/// The heading of the options every command takes, in each command's `--help`.
const GLOBAL: &str = "Global options";

/// Parses the command line (and the `STATUS_CHECK_*` variables clap reads), and
/// notes which lists came from a variable: those are read as JSON arrays.
pub(crate) fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Wait(wait), Some(("wait", sub))) = (&mut cli.command, matches.subcommand()) {
        wait.names_from_env = from_env(sub, "names");
        wait.ignore_from_env = from_env(sub, "ignore");
    }
    Ok(cli)
}

fn from_env(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::EnvVariable)
}

/// An on/off flag's value, from its variable: `true`/`false`, `1`/`0`, `yes`/`no`,
/// `on`/`off`, in any case, surrounding spaces ignored; blank counts as unset (the
/// flag's absence), like every empty variable. The flag itself takes no value, so
/// a value this refuses came from the variable, which the error names.
#[derive(Clone, Copy)]
struct OnOff;

impl OnOff {
    fn read(text: &str) -> Option<bool> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        }
    }
}

impl TypedValueParser for OnOff {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<bool, clap::Error> {
        if let Some(on) = value.to_str().and_then(OnOff::read) {
            return Ok(on);
        }
        if value.to_str().is_some_and(|v| v.trim().is_empty()) {
            // Unset: what the flag's absence means (`--no-…` flags default to on).
            return Ok(arg.is_some_and(|a| matches!(a.get_action(), ArgAction::SetFalse)));
        }
        let variable = arg.and_then(clap::Arg::get_env).map_or_else(
            || "the variable".to_owned(),
            |v| v.to_string_lossy().into_owned(),
        );
        let mut err = clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!("{variable} takes true or false (also 1/0, yes/no, on/off)\n"),
        );
        err = err.with_cmd(cmd);
        Err(err)
    }
}

/// The defaults of the global flags that take a value. `config.rs` falls back on
/// them too, when `doctor` sets an invalid value aside.
pub(crate) mod defaults {
    pub(crate) const REQUEST_TIMEOUT: &str = "30s";
    pub(crate) const RETRIES: &str = "4";
    pub(crate) const RETRY_DELAY: &str = "1s";
}

#[derive(Debug, Parser)]
#[command(
    name = "status-check",
    version,
    about = "Drive GitLab external status checks from CI jobs",
    long_about = "Drive GitLab external status checks from CI jobs: report a status, run a \
                  command as a check, or wait for every check to pass before deploying.",
    after_help = crate::exit::help()
)]
pub(crate) struct Cli {
    #[command(flatten, next_help_heading = GLOBAL)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// GitLab API base URL [default: $CI_API_V4_URL, else $CI_SERVER_URL/api/v4]
    #[arg(long, global = true, env = "STATUS_CHECK_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// Access token with `api` scope and Developer role [default: $GITLAB_TOKEN].
    /// Prefer the variable or --token-file: a flag shows in the process list.
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = StringValueParser::new().map(Secret::new)
    )]
    pub token: Option<Secret<String>>,

    /// Read the access token from the variable named NAME (a File variable's
    /// value is a path: the token is read from that file); wins over --token,
    /// --token-file and $GITLAB_TOKEN
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_TOKEN_VARIABLE",
        value_name = "NAME"
    )]
    pub token_variable: Option<String>,

    /// Read the access token from this file (e.g. a CI/CD variable of type File)
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_TOKEN_FILE",
        value_name = "PATH"
    )]
    pub token_file: Option<PathBuf>,

    /// Project id or path [default: $CI_MERGE_REQUEST_PROJECT_ID, else $CI_PROJECT_ID]
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_PROJECT",
        value_name = "ID|PATH"
    )]
    pub project: Option<String>,

    /// Merge request IID [default: $CI_MERGE_REQUEST_IID; without one, the open MRs of the SHA]
    #[arg(long, global = true, env = "STATUS_CHECK_MR", value_name = "IID")]
    pub mr: Option<String>,

    /// Commit SHA [default: $CI_MERGE_REQUEST_SOURCE_BRANCH_SHA, else $CI_COMMIT_SHA]
    #[arg(long, global = true, env = "STATUS_CHECK_SHA", value_name = "SHA")]
    pub sha: Option<String>,

    /// PEM file of extra CA certificates [default: $CI_SERVER_TLS_CA_FILE]
    #[arg(long, global = true, env = "STATUS_CHECK_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Output format
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_OUTPUT",
        value_enum,
        default_value = "text"
    )]
    pub output: OutputFormat,

    /// Log every API request (never the token)
    #[arg(short, long, global = true, env = "STATUS_CHECK_VERBOSE", action = ArgAction::SetTrue, value_parser = OnOff)]
    pub verbose: bool,

    /// Time limit for one API request, including retries' individual attempts
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_REQUEST_TIMEOUT",
        default_value = defaults::REQUEST_TIMEOUT,
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub request_timeout: String,

    /// How often a transient API error (429, 5xx, reset, timeout) is retried
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_RETRIES",
        default_value = defaults::RETRIES,
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub retries: String,

    /// First delay between retries (doubles up to 30s, plus up to as much again of
    /// jitter; Retry-After wins)
    #[arg(
        long,
        global = true,
        env = "STATUS_CHECK_RETRY_DELAY",
        default_value = defaults::RETRY_DELAY,
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub retry_delay: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Report a status for a check on the merge request(s) of the SHA
    #[command(after_help = exit::command_help(exit::For::Report))]
    Report(ReportArgs),
    /// List the merge request's status checks
    #[command(after_help = exit::command_help(exit::For::List))]
    List,
    /// Retry a failed check (GitLab 15.7+)
    #[command(after_help = exit::command_help(exit::For::Retry))]
    Retry(CheckSelector),
    /// Wait until every selected check has passed (a merge gate)
    #[command(after_help = exit::command_help(exit::For::Wait))]
    Wait(WaitArgs),
    /// Run a command as a status check: pending, run, passed/failed
    #[command(after_help = exit::command_help(exit::For::Run))]
    Run(RunArgs),
    /// Diagnose why status checks do or do not work in this pipeline
    #[command(after_help = exit::command_help(exit::For::Doctor))]
    Doctor(DoctorArgs),
    /// Make the project's external status checks match a file
    #[command(after_help = exit::command_help(exit::For::Sync))]
    Sync(SyncArgs),
    /// Set a compliance framework's external control to pass or fail (GitLab 17.11+)
    #[command(after_help = exit::command_help(exit::For::Control))]
    Control(ControlArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportStatus {
    Passed,
    Failed,
    Pending,
}

/// Which check: `--name` or `--check-id` (or their variables), one of them required.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub(crate) struct CheckSelector {
    /// Check name, exactly as shown on the merge request (case and spaces count)
    #[arg(long, env = "STATUS_CHECK_NAME", value_name = "NAME")]
    pub name: Option<String>,

    /// Check id (skips the name lookup; wins over --name)
    #[arg(long, env = "STATUS_CHECK_ID", value_name = "ID")]
    pub check_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The status to report
    #[arg(value_enum, env = "STATUS_CHECK_STATUS")]
    pub status: ReportStatus,

    #[command(flatten)]
    pub check: CheckSelector,

    /// Fail (exit 2) when no merge request is found for the SHA
    #[arg(long, env = "STATUS_CHECK_REQUIRE_MR", action = ArgAction::SetTrue, value_parser = OnOff)]
    pub require_mr: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// Only wait for these checks (repeatable; the variable: a JSON array or one name)
    #[arg(long = "name", env = "STATUS_CHECK_NAMES", value_name = "NAME")]
    pub names: Vec<String>,

    /// Do not wait for these checks (repeatable; the variable: a JSON array or one name)
    #[arg(long = "ignore", env = "STATUS_CHECK_IGNORE", value_name = "NAME")]
    pub ignore: Vec<String>,

    /// `names` came from STATUS_CHECK_NAMES (one text to read as a list).
    #[arg(skip)]
    pub names_from_env: bool,

    /// `ignore` came from STATUS_CHECK_IGNORE.
    #[arg(skip)]
    pub ignore_from_env: bool,

    /// The check this job itself reports, ignored automatically
    #[arg(long = "self", env = "STATUS_CHECK_NAME", value_name = "NAME")]
    pub self_name: Option<String>,

    /// Give up after this long (exit 3)
    #[arg(
        long,
        env = "STATUS_CHECK_TIMEOUT",
        default_value = "30m",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub timeout: String,

    /// The pace: GitLab's Poll-Interval, or this when longer (never faster than GitLab
    /// asks); with no Poll-Interval, polls back off with jitter from this to
    /// --max-interval, and come back to it when a check changes
    #[arg(
        long,
        env = "STATUS_CHECK_INTERVAL",
        default_value = "2s",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub interval: String,

    /// Longest poll interval (also the pace when GitLab sends Poll-Interval: -1). A
    /// token's shared budget may stretch the pace up to it. Only GitLab stretches a
    /// wait past it: a longer Poll-Interval (at most 5 minutes), a rate limit spent
    /// until its reset (at most 5 minutes), or a Retry-After, waited out in full up
    /// to --timeout (each plus up to a tenth). After a 429 or 5xx that names no
    /// wait, the pace is back at the Poll-Interval within
    /// ceil(log2(max-interval / pace)) successful polls
    #[arg(
        long,
        env = "STATUS_CHECK_MAX_INTERVAL",
        default_value = "30s",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub max_interval: String,

    /// Keep waiting for the other checks when one fails; report all at the end
    /// (the variable says whether to fail fast: `false` = this flag)
    #[arg(long = "no-fail-fast", env = "STATUS_CHECK_FAIL_FAST", action = ArgAction::SetFalse, value_parser = OnOff)]
    pub fail_fast: bool,

    /// Succeed when no check applies to the merge request
    #[arg(long, env = "STATUS_CHECK_ALLOW_EMPTY", action = ArgAction::SetTrue, value_parser = OnOff)]
    pub allow_empty: bool,

    /// Ask GitLab to retry a failed check up to N times before counting it failed
    /// (a retry whose answer was lost counts: GitLab may have acted). Before 16.1, or
    /// without CI_SERVER_VERSION_*, a retried check's `failed` counts once it was read
    /// pending or passed since, or 2 minutes after the retry
    #[arg(
        long,
        env = "STATUS_CHECK_RETRY_FAILED",
        default_value = "0",
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub retry_failed: String,

    /// Write a JUnit XML report (for artifacts:reports:junit)
    #[arg(long, env = "STATUS_CHECK_JUNIT", value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a dotenv report (for artifacts:reports:dotenv)
    #[arg(long, env = "STATUS_CHECK_DOTENV", value_name = "FILE")]
    pub dotenv: Option<PathBuf>,

    /// Say which checks are still pending this often (0: never)
    #[arg(
        long,
        env = "STATUS_CHECK_PROGRESS_EVERY",
        default_value = "5m",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub progress_every: String,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Check name, exactly as shown on the merge request (case and spaces
    /// count); with --control-id, the check may be left out
    #[arg(long, env = "STATUS_CHECK_NAME", value_name = "NAME")]
    pub name: Option<String>,

    /// Check id (skips the name lookup; wins over --name)
    #[arg(long, env = "STATUS_CHECK_ID", value_name = "ID")]
    pub check_id: Option<String>,

    /// Also set this compliance external control to pass or fail with the
    /// command's outcome (without --name or --check-id, only the control)
    #[command(flatten)]
    pub control: ControlSelector,

    /// Re-post `pending` this often while the command runs (GitLab 16.6+ fails
    /// a pending older than 2 minutes)
    #[arg(
        long,
        env = "STATUS_CHECK_HEARTBEAT",
        default_value = "60s",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub heartbeat: String,

    /// Do not post `pending` before running the command (nor heartbeats)
    /// (the variable says whether to post it: `false` = this flag)
    #[arg(long = "no-pending", env = "STATUS_CHECK_PENDING", action = ArgAction::SetFalse, value_parser = OnOff)]
    pub pending: bool,

    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Also check this check name: does it exist, does it apply to this MR
    #[arg(long, env = "STATUS_CHECK_NAME", value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    pub control: ControlSelector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ControlStatus {
    Pass,
    Fail,
}

impl ControlStatus {
    /// The word GitLab takes (and signs).
    pub(crate) fn word(self) -> &'static str {
        match self {
            ControlStatus::Pass => "pass",
            ControlStatus::Fail => "fail",
        }
    }
}

/// Which external control, and where its secret is: for `control`, and `run` and
/// `doctor` with `--control-id`.
#[derive(Debug, Args)]
pub(crate) struct ControlSelector {
    /// The external control's id (its compliance requirement's control)
    #[arg(long, env = "STATUS_CHECK_CONTROL_ID", value_name = "ID")]
    pub control_id: Option<String>,

    /// Read the control's secret from this file (wins over --secret-variable)
    #[arg(long, env = "STATUS_CHECK_CONTROL_SECRET_FILE", value_name = "PATH")]
    pub secret_file: Option<PathBuf>,

    /// Read the control's secret from the variable named NAME: its value, or,
    /// for a File variable (a path), that file [default: STATUS_CHECK_CONTROL_SECRET]
    #[arg(
        long,
        env = "STATUS_CHECK_CONTROL_SECRET_VARIABLE",
        value_name = "NAME"
    )]
    pub secret_variable: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ControlArgs {
    /// The status to set
    #[arg(value_enum, env = "STATUS_CHECK_CONTROL_STATUS")]
    pub status: ControlStatus,

    #[command(flatten)]
    pub control: ControlSelector,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The checks file (YAML or JSON)
    #[arg(long, short, env = "STATUS_CHECK_SYNC_FILE", value_name = "FILE")]
    pub file: PathBuf,

    /// Print the changes without making them; exit 1 when there are any
    #[arg(long, env = "STATUS_CHECK_DRY_RUN", action = ArgAction::SetTrue, value_parser = OnOff)]
    pub dry_run: bool,

    /// Delete checks that are not in the file (no variable: a deletion is
    /// asked for on the command line, never inherited)
    #[arg(long)]
    pub prune: bool,

    /// Send every check's shared secret again (GitLab cannot show a secret,
    /// so sync otherwise sends one only when a check gains one)
    #[arg(long, env = "STATUS_CHECK_ROTATE_SECRETS", action = ArgAction::SetTrue, value_parser = OnOff)]
    pub rotate_secrets: bool,
}
