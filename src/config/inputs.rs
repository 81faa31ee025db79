//! Each input of the config: where it comes from, in order of precedence, and the
//! check that names the input when its value is wrong.

use std::path::PathBuf;
use std::time::Duration;

use super::Sourced;
use super::named_variable::{self, NamedVariable};
use super::project::{MrRef, ProjectRef, parse_open_mrs, parse_project};
use crate::ci::CiContext;
use crate::cli::GlobalArgs;
use crate::duration;
use crate::error::Error;
use crate::gitlab::ServerVersion;
use crate::secret::Token;
use crate::sha::Sha;
use crate::user_file;

/// The first value set, in order of precedence: the flag (or its `STATUS_CHECK_*`
/// variable), then each CI variable it falls back on. A blank value counts as unset.
fn first_set<'v, const N: usize>(
    candidates: [(Option<&'v str>, &'static str); N],
) -> Option<(&'v str, &'static str)> {
    candidates
        .into_iter()
        .find_map(|(value, source)| Some((value.filter(|v| !v.trim().is_empty())?, source)))
}

pub(super) fn api_url(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<String>>, Error> {
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

pub(super) fn token(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<Token>>, Error> {
    let bad = |message: String| {
        if message.ends_with("is empty") {
            Error::usage(message).hint("the value is set but empty: a job variable defined from another one (STATUS_CHECK_TOKEN: $MY_TOKEN) is empty when that one is missing, e.g. a protected variable in a pipeline for an unprotected branch")
        } else {
            Error::usage(message).hint("copy the token again without spaces or line breaks; a File variable may end with one newline")
        }
    };
    if let Some(name) = &args.token_variable {
        return token_from_variable(name).map(|value| {
            Some(Sourced {
                value,
                source: TOKEN_VARIABLE,
            })
        });
    }
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

const TOKEN_VARIABLE: &str = "--token-variable/STATUS_CHECK_TOKEN_VARIABLE";

/// The token from the variable `name` (`--token-variable`): its value, or the file a
/// File variable names.
fn token_from_variable(name: &str) -> Result<Token, Error> {
    let (text, source) = named_variable::read(&NamedVariable {
        name,
        flag: Some(TOKEN_VARIABLE),
        holds: "token",
        example: "STATUS_CHECK_TOKEN",
        fix: format!(
            "define {name} as a masked CI/CD variable holding the access token (or of type File), or name another variable (a component's token_variable input); a protected variable exists only in pipelines of protected branches"
        ),
    })?;
    Token::validate(&text, &source).map_err(|message| {
        Error::usage(message).hint("copy the token again without spaces or line breaks; a File variable may end with one newline")
    })
}

/// Where `--project` came from, for messages and for the inputs that take only it.
pub(super) const PROJECT_FLAG: &str = "--project/STATUS_CHECK_PROJECT";

pub(super) fn project(
    args: &GlobalArgs,
    ci: &CiContext,
) -> Result<Option<Sourced<ProjectRef>>, Error> {
    let Some((raw, source)) = first_set([
        (args.project.as_deref(), PROJECT_FLAG),
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

pub(super) fn mr(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<u64>>, Error> {
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
pub(super) fn open_mrs(
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

pub(super) fn sha(args: &GlobalArgs, ci: &CiContext) -> Result<Option<Sourced<Sha>>, Error> {
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

pub(super) fn ca_file(args: &GlobalArgs, ci: &CiContext) -> Option<Sourced<PathBuf>> {
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

pub(super) fn server_version(ci: &CiContext) -> Option<ServerVersion> {
    match (&ci.server_version_major, &ci.server_version_minor) {
        (Some(major), Some(minor)) => ServerVersion::from_parts(major, minor),
        _ => ci.server_version.as_deref().and_then(ServerVersion::parse),
    }
}

pub(crate) fn parse_duration(text: &str, flag: &str) -> Result<Duration, Error> {
    duration::parse(text).map_err(|reason| {
        Error::usage(format!("{flag}: {reason}"))
            .hint("write durations like 90s, 5m, 1h30m or plain seconds")
    })
}

pub(crate) fn parse_count(text: &str, flag: &str, max: usize) -> Result<usize, Error> {
    match text.trim().parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(Error::usage(format!(
            "{flag}: `{text}` is not a whole number from 0 to {max}"
        ))
        .hint(format!("give a count such as {flag} 3 (digits only)"))),
    }
}
