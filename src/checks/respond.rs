//! Posting a response for a check: what each GitLab version accepts, and the rule
//! that a response is never posted twice (a POST whose outcome is unknown is checked
//! against the MR's list before it is sent again).

use serde_json::json;

use super::context::Ctx;
use super::scope;
use super::targets::Target;
use crate::cli::ReportStatus;
use crate::config::CheckRef;
use crate::error::Error;
use crate::gitlab::models::PostedResponse;
use crate::gitlab::version::StatusParam;
use crate::gitlab::{ApiError, CheckStatus, MrCheck, paths};
use crate::sha::Sha;

/// Attempts at a POST whose outcome stays unknown (each after re-reading the list).
const MAX_UNCERTAIN_POSTS: usize = 3;

/// Checks the version allows this status and says whether to send `status`.
/// The version is only looked up when it changes what is sent.
pub(crate) fn status_param_allowed(ctx: &Ctx, status: ReportStatus) -> Result<bool, Error> {
    let version = match (status, ctx.known_version()) {
        (_, Some(v)) => v,
        (ReportStatus::Passed, None) => return Ok(true),
        (_, None) => ctx.server_version()?,
    };
    match (status, version.status_param()) {
        (ReportStatus::Pending, _) if !version.accepts_pending() => Err(Error::usage(format!(
            "GitLab {version} cannot store a pending status (GitLab 16.5+ can)"
        ))
        .hint("drop the pending report on this server: a check without a response already shows as pending")),
        (ReportStatus::Failed, StatusParam::Absent) => Err(Error::usage(format!(
            "GitLab {version} has no failed status for external checks: any response may read as approved (GitLab 15.0+ can report failed)"
        ))
        .hint("report only passed on this server, and let the check stay pending when it fails (14.9 and 14.10 accept `failed` only behind a feature flag that is off by default, and then still show it as approved)")),
        (ReportStatus::Passed, StatusParam::Absent) => Ok(false),
        _ => Ok(true),
    }
}

/// One response GitLab stored.
pub(crate) struct Reported {
    pub mr: Target,
    pub check: MrCheck,
    pub response_id: Option<u64>,
    /// Set when GitLab's answer shows the check is limited to other target branches:
    /// the response is stored but gates nothing. The warning to print.
    pub gates_nothing: Option<String>,
}

/// Posts one response for a check already resolved on `mr` (`check` is
/// how the user named it, for messages). A 409 becomes `stale()`; a POST
/// whose outcome is unknown is checked against the MR's list before it is
/// sent again.
pub(crate) fn post_status(
    ctx: &Ctx,
    check: &CheckRef,
    resolved: &MrCheck,
    mr: &Target,
    sha: &Sha,
    status: ReportStatus,
    include_status: bool,
) -> Result<Reported, Error> {
    let path = paths::mr_responses(&mr.project.encoded, mr.iid);
    let mut body = json!({ "sha": sha.as_str(), "external_status_check_id": resolved.id });
    if include_status {
        body["status"] = json!(status_word(status));
    }
    let done = |response_id, gates_nothing| Reported {
        mr: mr.clone(),
        check: resolved.clone(),
        response_id,
        gates_nothing,
    };
    for _ in 0..MAX_UNCERTAIN_POSTS {
        match ctx.client.post::<PostedResponse>(&path, &body) {
            Ok(posted) => {
                let warning = gates_nothing(check, mr, &posted);
                return Ok(done(Some(posted.id), warning));
            }
            Err(e) if e.status() == Some(409) => return Err(stale(&mr.label, sha, &e)),
            Err(e) if e.is_refused_response() => {
                return Err(Error::from(e)
                    .context(format!("reporting {} on {}", check.describe(), mr.label))
                    .hint("GitLab found the merge request, the check and the commit, then refused the response: the token's user may see the merge request (as its author or assignee) but reporting needs the Developer role on the project"));
            }
            Err(e) if e.status() == Some(404) && matches!(check, CheckRef::Id(_)) => {
                return Err(Error::from(e.clone())
                    .context(format!("reporting {} on {}", check.describe(), mr.label))
                    .hint("the check id does not exist in this project: `status-check list` shows the ids of the checks of this merge request"));
            }
            Err(e) if e.outcome_unknown() => {
                ctx.log.warn(format!("{e}: GitLab may have stored the response; re-reading the checks before trying again"));
                // Without the list, posting again could store it twice: stop,
                // naming the POST that failed first.
                let seen = already_reported(ctx, mr, resolved.id, status).map_err(|reread| {
                    Error::from(e.clone())
                        .context(format!("reporting {} on {}", check.describe(), mr.label))
                        .hint(format!(
                            "GitLab may have stored the response; re-reading the checks to tell failed too: {}",
                            reread.message
                        ))
                })?;
                if seen {
                    ctx.log.info(format!(
                        "{} already shows {} as {}: not posting again",
                        mr.label,
                        resolved.name,
                        status_word(status)
                    ));
                    return Ok(done(None, None));
                }
            }
            Err(e) => {
                return Err(Error::from(e).context(format!(
                    "reporting {} on {}",
                    check.describe(),
                    mr.label
                )));
            }
        }
    }
    Err(Error::api(format!(
        "reporting {} on {}: GitLab did not confirm the response after {MAX_UNCERTAIN_POSTS} attempts",
        check.describe(),
        mr.label
    ))
    .into_transient())
}

/// The warning for a check given by id that GitLab accepted but that is limited to
/// other target branches (a name is resolved through the MR's own list, so it applies).
fn gates_nothing(check: &CheckRef, mr: &Target, posted: &PostedResponse) -> Option<String> {
    let CheckRef::Id(id) = check else {
        return None;
    };
    let (branches, target) = posted.scoped_elsewhere()?;
    let name = match posted.check_name.as_str() {
        "" => format!("check #{id}"),
        n => format!("check #{id} {}", crate::names::quote(n)),
    };
    Some(format!(
        "{name} applies only to merge requests targeting {}; {} targets {target}: GitLab stored the response, but it gates nothing there",
        scope::join(&branches),
        mr.label
    ))
}

fn already_reported(
    ctx: &Ctx,
    mr: &Target,
    check_id: u64,
    status: ReportStatus,
) -> Result<bool, Error> {
    let wanted = CheckStatus::from_word(status_word(status));
    let listing = ctx.mr_checks(mr)?;
    Ok(listing
        .items
        .iter()
        .any(|c| c.id == check_id && c.status == wanted && wanted != CheckStatus::Pending))
}

pub(crate) fn stale(mr: &str, sha: &Sha, e: &ApiError) -> Error {
    let head = e.head_from_409().unwrap_or("unknown");
    Error::stale(format!(
        "{sha} is not the head of {mr} any more: its head is {head} (GitLab answered 409)"
    ))
    .hint("someone pushed to the source branch; the pipeline for the new head reports for it")
}

pub(crate) fn status_word(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Passed => "passed",
        ReportStatus::Failed => "failed",
        ReportStatus::Pending => "pending",
    }
}
