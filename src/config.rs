//! Command line + CI environment → a validated `Config`.
//!
//! Every precedence rule (flag, then `STATUS_CHECK_*`, then the `CI_*`
//! fallbacks) and every format check lives here, and each error names the
//! input that caused it. Values a command may not need stay optional; the
//! `require_*` methods turn their absence into a usage error naming where
//! the value could come from.

use std::path::PathBuf;
use std::time::Duration;

use crate::ci::CiContext;
use crate::cli::{GlobalArgs, OutputFormat, defaults};
use crate::duration;
use crate::error::Error;
use crate::gitlab::ServerVersion;
use crate::secret::Token;
use crate::sha::Sha;
use crate::user_file;

/// A value and the flag or variable it came from, for messages.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    pub value: T,
    pub source: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRef {
    /// As given: `42` or `group/project`.
    pub raw: String,
    /// For URLs: `42` or `group%2Fproject`.
    pub encoded: String,
}

/// A merge request named by project and IID (an entry of `CI_OPEN_MERGE_REQUESTS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrRef {
    pub project: ProjectRef,
    pub iid: u64,
}

#[derive(Debug)]
pub struct Config {
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
    pub output: OutputFormat,
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
pub struct Problem {
    pub input: Input,
    pub error: Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
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
    pub fn build(args: &GlobalArgs, ci: CiContext) -> Result<Config, Error> {
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
    pub fn build_lenient(args: &GlobalArgs, ci: CiContext) -> Config {
        let mut problems = Vec::new();
        let api_url = keep(&mut problems, Input::ApiUrl, api_url(args, &ci)).flatten();
        let token = keep(&mut problems, Input::Token, token(args, &ci)).flatten();
        let project = keep(&mut problems, Input::Project, project(args, &ci)).flatten();
        let mr = keep(&mut problems, Input::Mr, mr(args, &ci)).flatten();
        let sha = keep(&mut problems, Input::Sha, sha(args, &ci)).flatten();
        let open_mrs = open_mrs(&ci, mr.as_ref(), project.as_ref(), sha.as_ref());
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
            ca_file: ca_file(args, &ci),
            server_version: server_version(&ci),
            output: args.output,
            verbose: args.verbose,
            request_timeout,
            retries,
            retry_delay,
            ci,
            problems,
        }
    }

    /// The problem with `input`, if `build_lenient` set it aside.
    pub fn problem(&self, input: Input) -> Option<&Error> {
        self.problems
            .iter()
            .find(|p| p.input == input)
            .map(|p| &p.error)
    }

    pub fn require_api_url(&self) -> Result<&str, Error> {
        self.api_url.as_ref().map(|u| u.value.as_str()).ok_or_else(|| {
            Error::usage("no GitLab API URL")
                .hint("set --api-url or STATUS_CHECK_API_URL, e.g. https://gitlab.example.com/api/v4 (GitLab jobs set CI_API_V4_URL)")
        })
    }

    pub fn require_token(&self) -> Result<&Token, Error> {
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

    pub fn require_project(&self) -> Result<&ProjectRef, Error> {
        self.project.as_ref().map(|p| &p.value).ok_or_else(|| {
            Error::usage("no project").hint(
                "set --project or STATUS_CHECK_PROJECT to the project id or path (GitLab jobs set CI_PROJECT_ID)",
            )
        })
    }

    pub fn require_sha(&self) -> Result<&Sha, Error> {
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

/// The first value set, in order of precedence: the flag (or its `STATUS_CHECK_*`
/// variable), then each CI variable it falls back on. A blank value counts as unset.
fn first_set<'v, const N: usize>(
    candidates: [(Option<&'v str>, &'static str); N],
) -> Option<(&'v str, &'static str)> {
    candidates
        .into_iter()
        .find_map(|(value, source)| Some((value.filter(|v| !v.trim().is_empty())?, source)))
}

fn api_url(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<String>>, Error> {
    let from_server = ci
        .server_url
        .as_deref()
        .map(|url| format!("{}/api/v4", url.trim_end_matches('/')));
    let Some((url, source)) = first_set([
        (args.api_url.as_deref(), "--api-url/STATUS_CHECK_API_URL"),
        (ci.api_v4_url.as_deref(), "CI_API_V4_URL"),
        (from_server.as_deref(), "CI_SERVER_URL"),
    ]) else {
        return Ok(None);
    };
    let url = url.trim().trim_end_matches('/').to_owned();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace) =>
        {
            Ok(Some(Sourced { value: url, source }))
        }
        _ => Err(Error::usage(format!(
            "the API URL `{url}` from {source} is not an http(s) URL"
        ))
        .hint("use the form https://gitlab.example.com/api/v4")),
    }
}

fn token(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<Token>>, Error> {
    let bad = |message: String| {
        if message.ends_with("is empty") {
            Error::usage(message).hint("the value is set but empty: a job variable defined from another one (STATUS_CHECK_TOKEN: $MY_TOKEN) is empty when that one is missing, e.g. a protected variable in a pipeline for an unprotected branch")
        } else {
            Error::usage(message).hint("copy the token again without spaces or line breaks; a File variable may end with one newline")
        }
    };
    if let Some(raw) = &args.token {
        let source = "--token/STATUS_CHECK_TOKEN";
        return Token::validate(raw, source)
            .map(|value| Some(Sourced { value, source }))
            .map_err(bad);
    }
    if let Some(path) = &args.token_file {
        let source = "--token-file/STATUS_CHECK_TOKEN_FILE";
        let text = user_file::read(
            path,
            "the token file",
            &format!("({source})"),
            "check the path; in a job, a CI/CD variable of type File gives a path",
            |path| std::fs::read_to_string(path),
        )?;
        return Token::parse(&text, source)
            .map(|value| Some(Sourced { value, source }))
            .map_err(bad);
    }
    if let Some(raw) = &ci.gitlab_token {
        let source = "GITLAB_TOKEN";
        return Token::validate(raw, source)
            .map(|value| Some(Sourced { value, source }))
            .map_err(bad);
    }
    Ok(None)
}

fn project(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<ProjectRef>>, Error> {
    let Some((raw, source)) = first_set([
        (args.project.as_deref(), "--project/STATUS_CHECK_PROJECT"),
        (ci.mr_project_id.as_deref(), "CI_MERGE_REQUEST_PROJECT_ID"),
        (ci.project_id.as_deref(), "CI_PROJECT_ID"),
    ]) else {
        return Ok(None);
    };
    let raw = raw.trim().trim_matches('/').to_owned();
    parse_project(&raw)
        .map(|value| Some(Sourced { value, source }))
        .ok_or_else(|| {
            Error::usage(format!(
                "the project `{raw}` from {source} is neither a numeric id nor a path like group/project"
            ))
            .hint("use the project's numeric id (Settings → General) or its full path")
        })
}

pub fn parse_project(raw: &str) -> Option<ProjectRef> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return (raw.parse::<u64>().ok()? > 0).then(|| ProjectRef {
            raw: raw.to_owned(),
            encoded: raw.to_owned(),
        });
    }
    let valid_segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let segments: Vec<&str> = raw.split('/').collect();
    if segments.len() < 2 || !segments.iter().all(|s| valid_segment(s)) {
        return None;
    }
    Some(ProjectRef {
        raw: raw.to_owned(),
        encoded: segments.join("%2F"),
    })
}

fn mr(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<u64>>, Error> {
    let Some((raw, source)) = first_set([
        (args.mr.as_deref(), "--mr/STATUS_CHECK_MR"),
        (ci.mr_iid.as_deref(), "CI_MERGE_REQUEST_IID"),
    ]) else {
        return Ok(None);
    };
    let digits = raw.trim().trim_start_matches('!');
    match digits.parse::<u64>() {
        Ok(iid) if iid > 0 => Ok(Some(Sourced { value: iid, source })),
        _ => Err(Error::usage(format!(
            "the merge request IID `{raw}` from {source} is not a positive number"
        ))
        .hint("give the IID shown in the MR's URL (…/-/merge_requests/7 → 7)")),
    }
}

/// `CI_OPEN_MERGE_REQUESTS`, used only in a branch pipeline acting on its own commit and
/// project: a `--sha` or `--project` of the user's names something the variable does not
/// describe. A value that does not read as `path!iid,...` is set aside: the commit
/// look-up then finds the MRs as it would without the variable.
fn open_mrs(
    ci: &CiContext,
    mr: Option<&Sourced<u64>>,
    project: Option<&Sourced<ProjectRef>>,
    sha: Option<&Sourced<Sha>>,
) -> Option<Vec<MrRef>> {
    let pipelines_own = project.is_some_and(|p| !p.source.starts_with("--"))
        && sha.is_some_and(|s| s.source == "CI_COMMIT_SHA");
    if mr.is_some() || !pipelines_own {
        return None;
    }
    parse_open_mrs(ci.open_merge_requests.as_deref()?)
}

/// `acme/app!7,upstream/app!12` → the two MRs; `None` when any entry is malformed.
pub fn parse_open_mrs(raw: &str) -> Option<Vec<MrRef>> {
    let mut mrs = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (path, iid) = entry.rsplit_once('!')?;
        let iid = iid.parse::<u64>().ok().filter(|n| *n > 0)?;
        let project = parse_project(path)?;
        if !mrs
            .iter()
            .any(|m: &MrRef| m.project == project && m.iid == iid)
        {
            mrs.push(MrRef { project, iid });
        }
    }
    (!mrs.is_empty()).then_some(mrs)
}

fn sha(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<Sha>>, Error> {
    // In merged results and merge train pipelines CI_COMMIT_SHA is an internal
    // merge commit; the MR's head is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA.
    let Some((raw, source)) = first_set([
        (args.sha.as_deref(), "--sha/STATUS_CHECK_SHA"),
        (
            ci.mr_source_branch_sha.as_deref(),
            "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA",
        ),
        (ci.commit_sha.as_deref(), "CI_COMMIT_SHA"),
    ]) else {
        return Ok(None);
    };
    match Sha::parse(raw) {
        Some(value) => Ok(Some(Sourced { value, source })),
        None => Err(Error::usage(format!(
            "the SHA `{raw}` from {source} is not a full commit SHA (40 hex characters)"
        ))
        .hint("pass the full SHA, e.g. $CI_COMMIT_SHA, not a short one or a branch name")),
    }
}

fn ca_file(args: &GlobalArgs, ci: &CiContext) -> Option<Sourced<PathBuf>> {
    if let Some(path) = &args.ca_file {
        return Some(Sourced {
            value: path.clone(),
            source: "--ca-file/STATUS_CHECK_CA_FILE",
        });
    }
    ci.tls_ca_file.as_ref().map(|p| Sourced {
        value: PathBuf::from(p),
        source: "CI_SERVER_TLS_CA_FILE",
    })
}

fn server_version(ci: &CiContext) -> Option<ServerVersion> {
    match (&ci.server_version_major, &ci.server_version_minor) {
        (Some(major), Some(minor)) => ServerVersion::from_parts(major, minor),
        _ => ci.server_version.as_deref().and_then(ServerVersion::parse),
    }
}

pub fn parse_duration(text: &str, flag: &str) -> Result<Duration, Error> {
    duration::parse(text).map_err(|reason| {
        Error::usage(format!("{flag}: {reason}"))
            .hint("write durations like 90s, 5m, 1h30m or plain seconds")
    })
}

pub fn parse_count(text: &str, flag: &str, max: usize) -> Result<usize, Error> {
    match text.trim().parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(Error::usage(format!(
            "{flag}: `{text}` is not a whole number from 0 to {max}"
        ))
        .hint(format!("give a count such as {flag} 3 (digits only)"))),
    }
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
    fn project_forms() {
        assert_eq!(parse_project("42").unwrap().encoded, "42");
        assert_eq!(
            parse_project("acme/sub/app").unwrap().encoded,
            "acme%2Fsub%2Fapp"
        );
        assert!(parse_project("abc").is_none());
        assert!(parse_project("0").is_none());
        assert!(parse_project("a b/c").is_none());
        assert!(parse_project("a//c").is_none());
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
