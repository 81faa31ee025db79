//! `status-check report <passed|failed|pending>`: post a response for the SHA.

use serde_json::{Value, json};

use super::scope::{self, Scope};
use super::targets::{self, Targets};
use super::{CheckRef, Ctx, short};
use crate::cli::{ReportArgs, ReportStatus};
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::models::PostedResponse;
use crate::gitlab::paths;
use crate::gitlab::version::StatusParam;
use crate::gitlab::{ApiError, CheckStatus, MrCheck};
use crate::output::Outcome;

/// Attempts at a POST whose outcome stays unknown (each after re-reading the list).
const MAX_UNCERTAIN_POSTS: usize = 3;

pub fn run(ctx: &Ctx, args: &ReportArgs) -> Result<Outcome, Error> {
    let check = CheckRef::from_args(&args.check)?;
    let sha = ctx.cfg.require_sha()?;
    ctx.project()?;
    let include_status = status_param_allowed(ctx, args.status)?;
    let targets = targets::find(ctx, Some(sha))?;
    if let Some(err) = targets.none_found(sha) {
        return Err(err);
    }
    if targets.iids.is_empty() {
        return no_merge_request(ctx, args, sha);
    }
    let mut reported = Vec::new();
    let mut not_applicable = Vec::new();
    for &iid in &targets.iids {
        match report_one(ctx, &check, iid, sha, args.status, include_status)? {
            Some(done) => reported.push(done),
            None => not_applicable.push(iid),
        }
    }
    if reported.is_empty() {
        return Err(not_on_any(ctx, &check, &targets));
    }
    Ok(outcome(args.status, sha, &reported, &not_applicable))
}

/// Checks the version allows this status and says whether to send `status`.
/// The version is only looked up when it changes what is sent.
pub fn status_param_allowed(ctx: &Ctx, status: ReportStatus) -> Result<bool, Error> {
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
            "GitLab {version} has no failed status for external checks: any response means approved (14.9+ can report failed)"
        ))
        .hint("report only passed on this server, and let the check stay pending when it fails")),
        (ReportStatus::Passed, StatusParam::Absent) => Ok(false),
        _ => Ok(true),
    }
}

pub struct Reported {
    pub iid: u64,
    pub check: MrCheck,
    pub response_id: Option<u64>,
}

/// Reports on one MR. `None` when the check does not apply to it (only
/// possible for a name lookup in a branch pipeline with several MRs).
pub fn report_one(
    ctx: &Ctx,
    check: &CheckRef,
    iid: u64,
    sha: &str,
    status: ReportStatus,
    include_status: bool,
) -> Result<Option<Reported>, Error> {
    let Some(resolved) = resolve(ctx, check, iid)? else {
        return Ok(None);
    };
    post_status(ctx, check, &resolved, iid, sha, status, include_status).map(Some)
}

/// The check as MR `iid` lists it: by id without a request, by name through
/// the MR's own list (which a Developer may read). `None` when the name is
/// not listed on this MR.
pub fn resolve(ctx: &Ctx, check: &CheckRef, iid: u64) -> Result<Option<MrCheck>, Error> {
    match check {
        CheckRef::Id(id) => Ok(Some(MrCheck {
            id: *id,
            name: format!("#{id}"),
            external_url: String::new(),
            status: CheckStatus::Pending,
        })),
        CheckRef::Name(_) => {
            let listing = ctx.mr_checks(iid)?;
            let found = listing.items.into_iter().find(|c| check.matches(c));
            if found.is_none() {
                ctx.log
                    .detail(format!("{} does not apply to !{iid}", check.describe()));
            }
            Ok(found)
        }
    }
}

/// Posts one response for a check already resolved on MR `iid` (`check` is
/// how the user named it, for messages). A 409 becomes `stale()`; a POST
/// whose outcome is unknown is checked against the MR's list before it is
/// sent again.
pub fn post_status(
    ctx: &Ctx,
    check: &CheckRef,
    resolved: &MrCheck,
    iid: u64,
    sha: &str,
    status: ReportStatus,
    include_status: bool,
) -> Result<Reported, Error> {
    let path = paths::mr_responses(&ctx.project()?.encoded, iid);
    let mut body = json!({ "sha": sha, "external_status_check_id": resolved.id });
    if include_status {
        body["status"] = json!(status_word(status));
    }
    for _ in 0..MAX_UNCERTAIN_POSTS {
        match ctx.client.post::<PostedResponse>(&path, &body) {
            Ok(posted) => {
                return Ok(Reported {
                    iid,
                    check: resolved.clone(),
                    response_id: Some(posted.id),
                });
            }
            Err(e) if e.status() == Some(409) => return Err(stale(iid, sha, &e)),
            Err(e) if e.status() == Some(404) && matches!(check, CheckRef::Id(_)) => {
                return Err(Error::from(e.clone())
                    .context(format!("reporting {} on !{iid}", check.describe()))
                    .hint("the check id does not exist on this merge request (or applies only to other target branches): `status-check list` shows the ids"));
            }
            Err(e) if e.outcome_unknown() => {
                ctx.log.warn(format!("{e}: GitLab may have stored the response; re-reading the checks before trying again"));
                // Without the list, posting again could store it twice: stop,
                // naming the POST that failed first.
                let seen = already_reported(ctx, iid, resolved.id, status).map_err(|reread| {
                    Error::from(e.clone())
                        .context(format!("reporting {} on !{iid}", check.describe()))
                        .hint(format!(
                            "GitLab may have stored the response; re-reading the checks to tell failed too: {}",
                            reread.message
                        ))
                })?;
                if seen {
                    ctx.log.info(format!(
                        "!{iid} already shows {} as {}: not posting again",
                        resolved.name,
                        status_word(status)
                    ));
                    return Ok(Reported {
                        iid,
                        check: resolved.clone(),
                        response_id: None,
                    });
                }
            }
            Err(e) => {
                return Err(
                    Error::from(e).context(format!("reporting {} on !{iid}", check.describe()))
                );
            }
        }
    }
    Err(Error::api(format!(
        "reporting {} on !{iid}: GitLab did not confirm the response after {MAX_UNCERTAIN_POSTS} attempts",
        check.describe()
    ))
    .as_transient())
}

fn already_reported(
    ctx: &Ctx,
    iid: u64,
    check_id: u64,
    status: ReportStatus,
) -> Result<bool, Error> {
    let wanted = CheckStatus::from_word(status_word(status));
    let listing = ctx.mr_checks(iid)?;
    Ok(listing
        .items
        .iter()
        .any(|c| c.id == check_id && c.status == wanted && wanted != CheckStatus::Pending))
}

pub fn stale(iid: u64, sha: &str, e: &ApiError) -> Error {
    let head = e.head_from_409().unwrap_or("unknown");
    Error::stale(format!(
        "{sha} is not the head of !{iid} any more: its head is {head} (GitLab answered 409)"
    ))
    .hint("someone pushed to the source branch; the pipeline for the new head reports for it")
}

pub fn status_word(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Passed => "passed",
        ReportStatus::Failed => "failed",
        ReportStatus::Pending => "pending",
    }
}

fn no_merge_request(ctx: &Ctx, args: &ReportArgs, sha: &str) -> Result<Outcome, Error> {
    let message = format!(
        "no open merge request has {} as its head in {}: nothing reported",
        short(sha),
        ctx.project()?.raw
    );
    if args.require_mr {
        return Err(Error::usage(message).hint(
            "--require-mr is set: run the job in merge request pipelines (rules: if: $CI_PIPELINE_SOURCE == \"merge_request_event\") or open a merge request",
        ));
    }
    Ok(Outcome::new(
        Code::Ok,
        message,
        json!({ "status": status_word(args.status), "sha": sha, "reported": [], "note": "no open merge request" }),
    ))
}

/// The check name was found on none of the MRs: list what exists and, when
/// the token may read the project's checks, whether it is branch-scoped.
pub fn not_on_any(ctx: &Ctx, check: &CheckRef, targets: &Targets) -> Error {
    let CheckRef::Name(name) = check else {
        return Error::usage(format!(
            "{} applies to none of {}",
            check.describe(),
            targets.how
        ));
    };
    let iid = targets.iids[0];
    let names: Vec<String> = ctx
        .mr_checks(iid)
        .map(|l| {
            l.items
                .into_iter()
                .map(|c| format!("\"{}\"", c.name))
                .collect()
        })
        .unwrap_or_default();
    let existing = if names.is_empty() {
        format!("!{iid} has no external status checks")
    } else {
        format!("the checks on !{iid} are {}", names.join(", "))
    };
    let where_ = if targets.iids.len() == 1 {
        format!("!{iid}")
    } else {
        format!("any of {} merge requests", targets.iids.len())
    };
    let err = Error::usage(format!("no check named \"{name}\" on {where_}; {existing}"));
    match scope_hint(ctx, name, iid) {
        Some(hint) => err.hint(hint),
        None => err.hint("check the name in Settings → Merge requests → Status checks (names are case-sensitive)"),
    }
}

fn scope_hint(ctx: &Ctx, name: &str, iid: u64) -> Option<String> {
    let project = ctx.project().ok()?;
    let Ok(checks) = scope::project_checks(ctx, project) else {
        return Some(format!(
            "if \"{name}\" exists but is limited to protected branches, it is not listed on MRs targeting other branches; listing the project's checks to tell needs Maintainer"
        ));
    };
    if scope::scope_of(&checks, name, "") == Scope::Missing {
        return None;
    }
    let target = ctx
        .client
        .get::<crate::gitlab::MergeRequest>(&ctx.mr_path(iid).ok()?)
        .map(|mr| mr.target_branch)
        .unwrap_or_else(|_| "another branch".into());
    match scope::scope_of(&checks, name, &target) {
        Scope::OtherBranches(branches) => Some(format!(
            "\"{name}\" exists in the project but applies only to merge requests targeting {}; !{iid} targets {target}",
            scope::join(&branches)
        )),
        _ => None,
    }
}

fn outcome(status: ReportStatus, sha: &str, reported: &[Reported], skipped: &[u64]) -> Outcome {
    let word = status_word(status);
    let mut text = String::new();
    for r in reported {
        text.push_str(&format!(
            "reported {word} for \"{}\" on !{} at {}\n",
            r.check.name,
            r.iid,
            short(sha)
        ));
    }
    for iid in skipped {
        text.push_str(&format!("the check does not apply to !{iid}: skipped\n"));
    }
    let json_reported: Vec<Value> = reported
        .iter()
        .map(|r| {
            json!({
                "merge_request_iid": r.iid,
                "check_id": r.check.id,
                "check_name": r.check.name,
                "response_id": r.response_id,
            })
        })
        .collect();
    Outcome::new(
        Code::Ok,
        text,
        json!({ "status": word, "sha": sha, "reported": json_reported, "skipped": skipped }),
    )
}
