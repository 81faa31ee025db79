//! The command line, as clap types only. Validation lives in `config.rs`.
//!
//! Every option can also come from an environment variable (`STATUS_CHECK_*`);
//! the CI fallbacks (`CI_*`) are applied in `config.rs`, where the order of
//! precedence is decided in one place.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{StringValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secret::Secret;

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
    #[command(flatten)]
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
    #[arg(short, long, global = true, env = "STATUS_CHECK_VERBOSE")]
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

    /// First delay between retries (doubles up to 30s; Retry-After wins)
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
    Report(ReportArgs),
    /// List the merge request's status checks
    List,
    /// Retry a failed check (GitLab 15.7+)
    Retry(CheckSelector),
    /// Wait until every selected check has passed (a merge gate)
    Wait(WaitArgs),
    /// Run a command as a status check: pending, run, passed/failed
    #[command(after_help = crate::exit::run_help())]
    Run(RunArgs),
    /// Diagnose why status checks do or do not work in this pipeline
    Doctor(DoctorArgs),
    /// Make the project's external status checks match a file
    Sync(SyncArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportStatus {
    Passed,
    Failed,
    Pending,
}

#[derive(Debug, Args)]
pub(crate) struct CheckSelector {
    /// Check name, as shown on the merge request
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
    #[arg(long, env = "STATUS_CHECK_REQUIRE_MR")]
    pub require_mr: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// Only wait for these checks (repeatable)
    #[arg(long = "name", value_name = "NAME")]
    pub names: Vec<String>,

    /// Do not wait for these checks (repeatable)
    #[arg(long = "ignore", value_name = "NAME")]
    pub ignore: Vec<String>,

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

    /// First poll interval (backs off exponentially with jitter)
    #[arg(
        long,
        env = "STATUS_CHECK_INTERVAL",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub interval: Option<String>,

    /// Longest poll interval
    #[arg(
        long,
        env = "STATUS_CHECK_MAX_INTERVAL",
        default_value = "30s",
        value_name = "DUR",
        allow_hyphen_values = true
    )]
    pub max_interval: String,

    /// Keep waiting for the other checks when one fails; report all at the end
    #[arg(long)]
    pub no_fail_fast: bool,

    /// Succeed when no check applies to the merge request
    #[arg(long, env = "STATUS_CHECK_ALLOW_EMPTY")]
    pub allow_empty: bool,

    /// Ask GitLab to retry a failed check up to N times before counting it failed
    #[arg(
        long,
        default_value = "0",
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub retry_failed: String,

    /// Write a JUnit XML report (for artifacts:reports:junit)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a dotenv report (for artifacts:reports:dotenv)
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub check: CheckSelector,

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
    #[arg(long)]
    pub no_pending: bool,

    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Also check this check name: does it exist, does it apply to this MR
    #[arg(long, env = "STATUS_CHECK_NAME", value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The checks file (YAML or JSON)
    #[arg(long, short, env = "STATUS_CHECK_SYNC_FILE", value_name = "FILE")]
    pub file: PathBuf,

    /// Print the changes without making them; exit 1 when there are any
    #[arg(long)]
    pub dry_run: bool,

    /// Delete checks that are not in the file
    #[arg(long)]
    pub prune: bool,

    /// Send every check's shared secret again (GitLab cannot show a secret,
    /// so sync otherwise sends one only when a check gains one)
    #[arg(long, env = "STATUS_CHECK_ROTATE_SECRETS")]
    pub rotate_secrets: bool,
}
