//! The CI environment, read in one place.
//!
//! Every `CI_*` variable (and the few other variables status-check falls back
//! on) is read here into a `CiContext`. Empty values count as unset: GitLab
//! defines some variables as empty strings in pipelines where they do not apply.

use std::cell::RefCell;
use std::env::VarError;
use std::ffi::OsString;

use crate::error::Error;
use crate::secret::Secret;

#[derive(Clone, Debug, Default)]
pub(crate) struct CiContext {
    /// `CI=true`: running inside a CI job (GitLab's or another's).
    pub in_ci: bool,
    /// `GITLAB_CI=true`: a GitLab job, whose log folds sections (other CIs'
    /// logs would show the markers as raw escapes).
    pub gitlab_ci: bool,
    pub api_v4_url: Option<String>,
    pub server_url: Option<String>,
    pub project_id: Option<String>,
    pub project_path: Option<String>,
    pub mr_project_id: Option<String>,
    pub mr_iid: Option<String>,
    pub mr_event_type: Option<String>,
    pub mr_source_branch_sha: Option<String>,
    pub mr_target_branch: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_ref_name: Option<String>,
    /// `CI_OPEN_MERGE_REQUESTS` (13.7+): up to four `path!iid` references of the open
    /// merge requests whose source is this branch (in a fork, the upstream MR).
    pub open_merge_requests: Option<String>,
    pub server_version: Option<String>,
    pub server_version_major: Option<String>,
    pub server_version_minor: Option<String>,
    pub tls_ca_file: Option<String>,
    /// Only whether it is present: the job token is never used, but its
    /// presence explains a missing access token.
    pub has_job_token: bool,
    /// A hash of the job token (never the value), so `doctor` can tell when
    /// the access token given is in fact the job token.
    pub job_token_fingerprint: Option<u64>,
    /// `GITLAB_TOKEN`, the conventional fallback for the access token.
    pub gitlab_token: Option<Secret<String>>,
    /// `SSL_CERT_FILE`: where the system CA bundle is, when not in the usual place.
    pub ssl_cert_file: Option<String>,
    /// Variables that are set but not valid UTF-8 (read as unset above).
    pub not_unicode: Vec<String>,
}

impl CiContext {
    pub(crate) fn from_env() -> CiContext {
        let not_unicode = RefCell::new(Vec::new());
        let mut ctx = CiContext::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Some(value),
            Err(VarError::NotUnicode(_)) => {
                not_unicode.borrow_mut().push(name.to_owned());
                None
            }
            Err(VarError::NotPresent) => None,
        });
        ctx.not_unicode = not_unicode.into_inner();
        ctx
    }

    /// The usage error for a variable that is not valid UTF-8, if any.
    pub(crate) fn check_unicode(&self) -> Result<(), Error> {
        match self.not_unicode.first() {
            Some(name) => Err(not_utf8_variable(name)),
            None => Ok(()),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_map(vars: &std::collections::HashMap<String, String>) -> CiContext {
        CiContext::from_lookup(|name| vars.get(name).cloned())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> CiContext {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        CiContext {
            in_ci: get("CI").is_some_and(|v| v == "true") || get("GITLAB_CI").is_some(),
            gitlab_ci: get("GITLAB_CI").is_some_and(|v| v == "true"),
            api_v4_url: get("CI_API_V4_URL"),
            server_url: get("CI_SERVER_URL"),
            project_id: get("CI_PROJECT_ID"),
            project_path: get("CI_PROJECT_PATH"),
            mr_project_id: get("CI_MERGE_REQUEST_PROJECT_ID"),
            mr_iid: get("CI_MERGE_REQUEST_IID"),
            mr_event_type: get("CI_MERGE_REQUEST_EVENT_TYPE"),
            mr_source_branch_sha: get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"),
            mr_target_branch: get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            commit_sha: get("CI_COMMIT_SHA"),
            commit_ref_name: get("CI_COMMIT_REF_NAME"),
            open_merge_requests: get("CI_OPEN_MERGE_REQUESTS"),
            server_version: get("CI_SERVER_VERSION"),
            server_version_major: get("CI_SERVER_VERSION_MAJOR"),
            server_version_minor: get("CI_SERVER_VERSION_MINOR"),
            tls_ca_file: get("CI_SERVER_TLS_CA_FILE"),
            has_job_token: get("CI_JOB_TOKEN").is_some(),
            job_token_fingerprint: get("CI_JOB_TOKEN")
                .map(|t| crate::secret::fingerprint(t.trim_end_matches(['\n', '\r']))),
            gitlab_token: lookup("GITLAB_TOKEN").map(Secret::new),
            ssl_cert_file: get("SSL_CERT_FILE"),
            not_unicode: Vec::new(),
        }
    }

    /// Does the validated access token equal CI_JOB_TOKEN?
    pub(crate) fn is_job_token(&self, token: &crate::secret::Token) -> bool {
        token.looks_like_job_token() || self.job_token_fingerprint == Some(token.fingerprint())
    }

    /// What kind of pipeline this is, in GitLab's words, for logs and `doctor`.
    pub(crate) fn pipeline_kind(&self) -> PipelineKind {
        match (self.mr_iid.is_some(), self.mr_event_type.as_deref()) {
            (true, Some("merged_result")) => PipelineKind::MergedResults,
            (true, Some("merge_train")) => PipelineKind::MergeTrain,
            (true, _) => PipelineKind::MergeRequest,
            (false, _) if self.in_ci => PipelineKind::Branch,
            (false, _) => PipelineKind::Local,
        }
    }

    /// A fork MR: the pipeline runs in the fork, the MR (and its checks) live
    /// in the target project.
    pub(crate) fn is_fork_mr(&self) -> bool {
        matches!((&self.mr_project_id, &self.project_id), (Some(mr), Some(p)) if mr != p)
    }
}

fn not_utf8_variable(name: &str) -> Error {
    Error::usage(format!("the variable {name} is not valid UTF-8"))
        .hint(format!("set {name} to plain UTF-8 text (check the CI/CD variable's value and the job's `variables:`)"))
}

/// clap found an argument or a `STATUS_CHECK_*` variable that is not UTF-8
/// but does not say which: this names it (never its value, which may be a
/// token: only its position or name).
pub(crate) fn not_utf8(args: &[OsString]) -> Error {
    let hint =
        "pass flags and values as UTF-8 text (names, SHAs, durations and URLs are plain text)";
    // After `--` come the command and arguments of `run`, which may be any bytes: the
    // text clap refused is before them, or in a variable.
    let own = args
        .iter()
        .position(|a| a.as_os_str() == "--")
        .unwrap_or(args.len());
    for (i, arg) in args[..own].iter().enumerate().skip(1) {
        if arg.to_str().is_none() {
            // `--flag=value`: the flag part is still readable.
            let bytes = arg.as_encoded_bytes();
            if bytes.starts_with(b"-")
                && let Some(eq) = bytes.iter().position(|b| *b == b'=')
                && let Ok(flag) = std::str::from_utf8(&bytes[..eq])
            {
                return Error::usage(format!("the value of {flag} is not valid UTF-8")).hint(hint);
            }
            let after = args[..i]
                .iter()
                .rev()
                .find_map(|a| a.to_str().filter(|a| a.starts_with('-')));
            let what = match after {
                Some(flag) if i > 1 && args[i - 1].to_str() == Some(flag) => {
                    format!("the value of {flag}")
                }
                _ => format!("argument {i}"),
            };
            return Error::usage(format!("{what} is not valid UTF-8")).hint(hint);
        }
    }
    let mut names: Vec<String> = std::env::vars_os()
        .filter(|(_, value)| value.to_str().is_none())
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with("STATUS_CHECK_"))
        .collect();
    names.sort();
    match names.first() {
        Some(name) => not_utf8_variable(name),
        None => Error::usage("an argument or variable is not valid UTF-8").hint(hint),
    }
}

/// The variable `--token-variable` names, whose value is a secret (a token, or the
/// path of a File variable holding one): `None` when unset. Read here because this
/// module is the one reader of the environment; the error names the variable,
/// never its value.
pub(crate) fn secret_variable(name: &str) -> Result<Option<Secret<String>>, Error> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(Secret::new(value))),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(not_utf8_variable(name)),
    }
}

/// A shared secret for `sync`, from the variable the checks file names.
/// Read here because this module is the one reader of the environment; an
/// empty value counts as unset.
pub(crate) fn shared_secret(name: &str) -> Option<Secret<String>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PipelineKind {
    MergeRequest,
    MergedResults,
    MergeTrain,
    Branch,
    Local,
}

impl PipelineKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            PipelineKind::MergeRequest => "merge request pipeline",
            PipelineKind::MergedResults => "merged results pipeline",
            PipelineKind::MergeTrain => "merge train pipeline",
            PipelineKind::Branch => "branch pipeline",
            PipelineKind::Local => "outside CI",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> CiContext {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CiContext::from_map(&map)
    }

    #[test]
    fn empty_values_are_unset() {
        let c = ctx(&[("CI_MERGE_REQUEST_IID", ""), ("CI_COMMIT_SHA", "  ")]);
        assert!(c.mr_iid.is_none());
        assert!(c.commit_sha.is_none());
    }

    #[test]
    fn pipeline_kinds() {
        assert_eq!(ctx(&[]).pipeline_kind(), PipelineKind::Local);
        assert_eq!(ctx(&[("CI", "true")]).pipeline_kind(), PipelineKind::Branch);
        let mr = ctx(&[("CI", "true"), ("CI_MERGE_REQUEST_IID", "7")]);
        assert_eq!(mr.pipeline_kind(), PipelineKind::MergeRequest);
        let mrp = ctx(&[
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result"),
        ]);
        assert_eq!(mrp.pipeline_kind(), PipelineKind::MergedResults);
    }

    #[test]
    fn fork_is_detected_from_the_two_project_ids() {
        let c = ctx(&[
            ("CI_PROJECT_ID", "9"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "42"),
        ]);
        assert!(c.is_fork_mr());
        let same = ctx(&[
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "42"),
        ]);
        assert!(!same.is_fork_mr());
    }

    #[test]
    fn a_non_utf8_argument_is_named_by_position_or_flag() {
        use std::os::unix::ffi::OsStringExt;
        let args = |list: &[&[u8]]| -> Vec<OsString> {
            list.iter()
                .map(|a| OsString::from_vec(a.to_vec()))
                .collect()
        };
        let bad: &[u8] = b"x\xff";
        let said = |list: &[&[u8]]| not_utf8(&args(list)).message;
        assert_eq!(
            said(&[b"status-check", b"list", b"--sha", bad]),
            "the value of --sha is not valid UTF-8"
        );
        // A flag earlier on does not own a value it is not next to.
        assert_eq!(
            said(&[b"status-check", b"--sha", b"abc", bad]),
            "argument 3 is not valid UTF-8"
        );
        assert_eq!(
            said(&[b"status-check", bad]),
            "argument 1 is not valid UTF-8"
        );
        assert_eq!(
            said(&[b"status-check", b"--request-timeout=5\xffs"]),
            "the value of --request-timeout is not valid UTF-8"
        );
    }

    #[test]
    fn job_token_is_only_noted() {
        let c = ctx(&[("CI_JOB_TOKEN", "glcbt-x")]);
        assert!(c.has_job_token);
        assert!(!format!("{c:?}").contains("glcbt"));
        let same = crate::secret::Token::parse("glcbt-x", "t").unwrap();
        assert!(c.is_job_token(&same));
        let old_style = ctx(&[("CI_JOB_TOKEN", "abcdef123456")]);
        let token = crate::secret::Token::parse("abcdef123456", "t").unwrap();
        assert!(old_style.is_job_token(&token));
        let other = crate::secret::Token::parse("glpat-1", "t").unwrap();
        assert!(!old_style.is_job_token(&other));
    }
}
