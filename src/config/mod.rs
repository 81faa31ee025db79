//! Command line + CI environment → a validated `Config`.
//!
//! Every precedence rule (flag, then `STATUS_CHECK_*`, then the `CI_*`
//! fallbacks) and every format check lives here, and each error names the
//! input that caused it. Values a command may not need stay optional; the
//! `require_*` methods turn their absence into a usage error naming where
//! the value could come from.
//!
//! `inputs.rs` reads each input in its order of precedence and checks it;
//! `project.rs` parses projects and merge requests (`CI_OPEN_MERGE_REQUESTS`).
//! `named_variable.rs` reads a secret from a variable named on the command line;
//! `check_ref.rs` which check (`--name` or `--check-id`); `control.rs` an external control's id, project and secret; `task.rs` each command's
//! own flags, validated once into a `Task` (`wait.rs` wait's).

mod check_ref;
mod control;
mod inputs;
mod named_variable;
mod project;
mod task;
mod wait;

use std::path::PathBuf;
use std::time::Duration;

use crate::ci::CiContext;
use crate::cli::{GlobalArgs, defaults};
use crate::error::Error;
use crate::gitlab::ServerVersion;
use crate::secret::Token;
use crate::sha::Sha;

pub(crate) use check_ref::CheckRef;
pub(crate) use control::Control;
pub(crate) use inputs::{parse_count, parse_duration};
pub use project::parse_project;
pub(crate) use project::{MrRef, ProjectRef};
pub(crate) use task::{
    ControlTask, DoctorControl, DoctorTask, PENDING_TIMEOUT, ReportTask, RunTask, SyncTask, Task,
};
pub(crate) use wait::{Rules, Selection, WaitTask};

/// A value and the flag or variable it came from, for messages.
#[derive(Clone, Debug)]
pub(crate) struct Sourced<T> {
    pub value: T,
    pub source: &'static str,
}

#[derive(Debug)]
pub(crate) struct Config {
    pub api_url: Option<Sourced<String>>,
    pub token: Option<Sourced<Token>>,
    pub project: Option<Sourced<ProjectRef>>,
    pub mr: Option<Sourced<u64>>,
    /// The open MRs of this branch from `CI_OPEN_MERGE_REQUESTS`, when they are the ones
    /// to act on: no MR IID, and the SHA and project are the pipeline's own.
    pub open_mrs: Option<Vec<MrRef>>,
    pub sha: Option<Sourced<Sha>>,
    pub ca_file: Option<Sourced<PathBuf>>,
    pub server_version: Option<ServerVersion>,
    pub verbose: bool,
    pub request_timeout: Duration,
    pub retries: usize,
    pub retry_delay: Duration,
    pub ci: CiContext,
    /// Invalid inputs set aside by `build_lenient` (always empty after `build`).
    pub problems: Vec<Problem>,
}

/// An input `build_lenient` could not use: which one, and the error `build`
/// would have returned for it. The value is left unset (or at its default).
#[derive(Debug)]
pub(crate) struct Problem {
    pub input: Input,
    pub error: Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    ApiUrl,
    Token,
    Project,
    Mr,
    Sha,
    RequestTimeout,
    Retries,
    RetryDelay,
}

impl Config {
    /// The validated configuration, or the first invalid input's error.
    pub(crate) fn build(args: &GlobalArgs, ci: CiContext) -> Result<Config, Error> {
        ci.check_unicode()?;
        let mut cfg = Config::build_lenient(args, ci);
        if cfg.problems.is_empty() {
            Ok(cfg)
        } else {
            Err(cfg.problems.remove(0).error)
        }
    }

    /// Like `build`, but an invalid input is recorded in `problems` and left
    /// unset instead of failing: `doctor` reports every problem as a line.
    pub(crate) fn build_lenient(args: &GlobalArgs, ci: CiContext) -> Config {
        let mut problems = Vec::new();
        let api_url = keep(&mut problems, Input::ApiUrl, inputs::api_url(args, &ci)).flatten();
        let token = keep(&mut problems, Input::Token, inputs::token(args, &ci)).flatten();
        let project = keep(&mut problems, Input::Project, inputs::project(args, &ci)).flatten();
        let mr = keep(&mut problems, Input::Mr, inputs::mr(args, &ci)).flatten();
        let sha = keep(&mut problems, Input::Sha, inputs::sha(args, &ci)).flatten();
        let open_mrs = inputs::open_mrs(&ci, mr.as_ref(), project.as_ref(), sha.as_ref());
        let request_timeout = keep_or_default(
            &mut problems,
            Input::RequestTimeout,
            (&args.request_timeout, defaults::REQUEST_TIMEOUT),
            |text| parse_duration(text, "--request-timeout"),
        )
        .max(Duration::from_millis(100));
        let retries = keep_or_default(
            &mut problems,
            Input::Retries,
            (&args.retries, defaults::RETRIES),
            |text| parse_count(text, "--retries", 20),
        );
        let retry_delay = keep_or_default(
            &mut problems,
            Input::RetryDelay,
            (&args.retry_delay, defaults::RETRY_DELAY),
            |text| parse_duration(text, "--retry-delay"),
        );
        Config {
            api_url,
            token,
            project,
            mr,
            open_mrs,
            sha,
            ca_file: inputs::ca_file(args, &ci),
            server_version: inputs::server_version(&ci),
            verbose: args.verbose,
            request_timeout,
            retries,
            retry_delay,
            ci,
            problems,
        }
    }

    /// The problem with `input`, if `build_lenient` set it aside.
    pub(crate) fn problem(&self, input: Input) -> Option<&Error> {
        self.problems
            .iter()
            .find(|p| p.input == input)
            .map(|p| &p.error)
    }

    pub(crate) fn require_api_url(&self) -> Result<&str, Error> {
        self.api_url.as_ref().map(|u| u.value.as_str()).ok_or_else(|| {
            Error::usage("no GitLab API URL")
                .hint("set --api-url or STATUS_CHECK_API_URL, e.g. https://gitlab.example.com/api/v4 (GitLab jobs set CI_API_V4_URL)")
        })
    }

    pub(crate) fn require_token(&self) -> Result<&Token, Error> {
        if let Some(token) = &self.token {
            return Ok(&token.value);
        }
        if self.ci.has_job_token {
            return Err(Error::usage(
                "no access token: only CI_JOB_TOKEN is available, and GitLab refuses job tokens on every external status check endpoint",
            )
            .hint("create a personal, project or group access token with the `api` scope and at least the Developer role on the project")
            .hint("store it as a masked CI/CD variable and pass it as STATUS_CHECK_TOKEN (or GITLAB_TOKEN, or a File variable with --token-file)"));
        }
        Err(Error::usage("no access token").hint(
            "set STATUS_CHECK_TOKEN (or GITLAB_TOKEN, or --token-file PATH) to an access token with the `api` scope and Developer role",
        ))
    }

    pub(crate) fn require_project(&self) -> Result<&ProjectRef, Error> {
        self.project.as_ref().map(|p| &p.value).ok_or_else(|| {
            Error::usage("no project").hint(
                "set --project or STATUS_CHECK_PROJECT to the project id or path (GitLab jobs set CI_PROJECT_ID)",
            )
        })
    }

    pub(crate) fn require_sha(&self) -> Result<&Sha, Error> {
        self.sha.as_ref().map(|s| &s.value).ok_or_else(|| {
            Error::usage("no commit SHA").hint(
                "set --sha or STATUS_CHECK_SHA (GitLab jobs set CI_COMMIT_SHA and, in merged results pipelines, CI_MERGE_REQUEST_SOURCE_BRANCH_SHA)",
            )
        })
    }
}

fn keep<T>(problems: &mut Vec<Problem>, input: Input, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            problems.push(Problem { input, error });
            None
        }
    }
}

/// `given` parsed, or (with the problem recorded) the flag's default from `cli.rs`.
fn keep_or_default<T>(
    problems: &mut Vec<Problem>,
    input: Input,
    (given, default): (&str, &str),
    parse: impl Fn(&str) -> Result<T, Error>,
) -> T {
    keep(problems, input, parse(given)).unwrap_or_else(|| {
        parse(default).unwrap_or_else(|_| panic!("the default `{default}` of cli.rs parses"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn build(args: &[&str], env: &[(&str, &str)]) -> Result<Config, Error> {
        let mut argv = vec!["status-check"];
        argv.extend_from_slice(args);
        argv.push("list");
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let map = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::build(&cli.global, CiContext::from_map(&map))
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA2: &str = "89abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn api_url_precedence() {
        let c = build(&[], &[("CI_SERVER_URL", "https://gl.example.com/")]).unwrap();
        assert_eq!(c.api_url.unwrap().value, "https://gl.example.com/api/v4");
        let c = build(
            &[],
            &[
                ("CI_API_V4_URL", "https://a/api/v4"),
                ("CI_SERVER_URL", "https://b"),
            ],
        )
        .unwrap();
        assert_eq!(c.api_url.unwrap().value, "https://a/api/v4");
        let c = build(
            &["--api-url", "http://c/api/v4/"],
            &[("CI_API_V4_URL", "https://a/api/v4")],
        )
        .unwrap();
        assert_eq!(c.api_url.unwrap().value, "http://c/api/v4");
        assert!(build(&["--api-url", "gitlab.com"], &[]).is_err());
    }

    #[test]
    fn merged_results_sha_wins_over_the_merge_commit() {
        let c = build(
            &[],
            &[
                ("CI_COMMIT_SHA", SHA),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", SHA2),
            ],
        )
        .unwrap();
        let sha = c.sha.unwrap();
        assert_eq!(sha.value.as_str(), SHA2);
        assert_eq!(sha.source, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA");
    }

    #[test]
    fn fork_mr_uses_the_mr_project() {
        let c = build(
            &[],
            &[
                ("CI_PROJECT_ID", "9"),
                ("CI_MERGE_REQUEST_PROJECT_ID", "42"),
            ],
        )
        .unwrap();
        assert_eq!(c.project.unwrap().value.raw, "42");
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = build(&[], &[("CI_COMMIT_SHA", "abc123")]).unwrap_err();
        assert!(e.message.contains("CI_COMMIT_SHA"), "{}", e.message);
        let e = build(&[], &[("CI_MERGE_REQUEST_IID", "seven")]).unwrap_err();
        assert!(e.message.contains("CI_MERGE_REQUEST_IID"));
        let e = build(&["--token", "a b"], &[]).unwrap_err();
        assert!(e.message.contains("--token"));
        assert!(!e.message.contains("a b"));
        let e = build(&["--request-timeout", "10x"], &[]).unwrap_err();
        assert!(e.message.contains("--request-timeout"));
    }

    #[test]
    fn lenient_build_collects_every_problem_in_order() {
        let cli = crate::cli::Cli::try_parse_from([
            "status-check",
            "--api-url",
            "gitlab.com",
            "--retries",
            "x",
            "doctor",
        ])
        .unwrap();
        let map = [("CI_COMMIT_SHA", "abc"), ("CI_PROJECT_ID", "42")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cfg = Config::build_lenient(&cli.global, CiContext::from_map(&map));
        let inputs: Vec<Input> = cfg.problems.iter().map(|p| p.input).collect();
        assert_eq!(inputs, [Input::ApiUrl, Input::Sha, Input::Retries]);
        assert!(cfg.api_url.is_none() && cfg.sha.is_none());
        assert_eq!(cfg.project.unwrap().value.raw, "42");
        assert_eq!(cfg.retries, 4, "the default of --retries");
        // `build` reports the first of them.
        let e = Config::build(&cli.global, CiContext::from_map(&map)).unwrap_err();
        assert!(e.message.contains("gitlab.com"), "{}", e.message);
    }

    #[test]
    fn open_merge_requests_only_for_the_pipelines_own_commit() {
        let vars = [
            ("CI_PROJECT_ID", "42"),
            ("CI_COMMIT_SHA", SHA),
            ("CI_OPEN_MERGE_REQUESTS", "acme/app!7"),
        ];
        assert!(build(&[], &vars).unwrap().open_mrs.is_some());
        assert!(build(&["--sha", SHA2], &vars).unwrap().open_mrs.is_none());
        assert!(
            build(&["--project", "acme/app"], &vars)
                .unwrap()
                .open_mrs
                .is_none()
        );
        assert!(build(&["--mr", "7"], &vars).unwrap().open_mrs.is_none());
    }

    #[test]
    fn job_token_alone_is_explained() {
        let c = build(&[], &[("CI_JOB_TOKEN", "glcbt-1")]).unwrap();
        let e = c.require_token().unwrap_err();
        assert!(e.message.contains("CI_JOB_TOKEN"));
        assert!(e.hints.iter().any(|h| h.contains("Developer")));
    }

    #[test]
    fn version_from_ci_variables() {
        let c = build(
            &[],
            &[
                ("CI_SERVER_VERSION_MAJOR", "16"),
                ("CI_SERVER_VERSION_MINOR", "4"),
            ],
        )
        .unwrap();
        assert_eq!(c.server_version, Some(ServerVersion::new(16, 4)));
        let c = build(&[], &[("CI_SERVER_VERSION", "15.11.2-ee")]).unwrap();
        assert_eq!(c.server_version, Some(ServerVersion::new(15, 11)));
    }
}
