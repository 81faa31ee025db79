//! `status-check report <passed|failed|pending>`: post a response for the SHA.

use serde_json::{Value, json};

use super::scope::{self, Scope};
use super::targets::{self, Target, Targets, Want};
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
    let targets = targets::find(ctx, Some(sha), Want::Open)?;
    if let Some(err) = targets.none_found(sha) {
        return Err(err);
    }
    if targets.mrs.is_empty() {
        return no_merge_request(ctx, args, sha, &targets);
    }
    let mut reported = Vec::new();
    let mut not_applicable = Vec::new();
    for mr in &targets.mrs {
        match report_one(ctx, &check, mr, sha, args.status, include_status)? {
            Some(done) => reported.push(done),
            None => not_applicable.push(mr.clone()),
        }
    }
    if reported.is_empty() {
        return Err(not_on_any(ctx, &check, &targets));
    }
    let mut gates_nothing = None;
    for done in &reported {
        if let Some(warning) = &done.gates_nothing {
            ctx.log.warn(warning);
            gates_nothing.get_or_insert_with(|| warning.clone());
        }
    }
    if let Some(warning) = gates_nothing.filter(|_| args.require_mr) {
        return Err(Error::usage(warning).hint(
            "--require-mr is set: report a check that applies to this merge request (`status-check list` shows them), or limit the check to this target branch too",
        ));
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
            "GitLab {version} has no failed status for external checks: any response may read as approved (GitLab 15.0+ can report failed)"
        ))
        .hint("report only passed on this server, and let the check stay pending when it fails (14.9 and 14.10 accept `failed` only behind a feature flag that is off by default, and then still show it as approved)")),
        (ReportStatus::Passed, StatusParam::Absent) => Ok(false),
        _ => Ok(true),
    }
}

pub struct Reported {
    pub mr: Target,
    pub check: MrCheck,
    pub response_id: Option<u64>,
    /// Set when GitLab's answer shows the check is limited to other target branches:
    /// the response is stored but gates nothing. The warning to print.
    pub gates_nothing: Option<String>,
}

/// Reports on one MR. `None` when the check does not apply to it (only
/// possible for a name lookup in a branch pipeline with several MRs).
pub fn report_one(
    ctx: &Ctx,
    check: &CheckRef,
    mr: &Target,
    sha: &str,
    status: ReportStatus,
    include_status: bool,
) -> Result<Option<Reported>, Error> {
    let Some(resolved) = resolve(ctx, check, mr)? else {
        return Ok(None);
    };
    post_status(ctx, check, &resolved, mr, sha, status, include_status).map(Some)
}

/// The check as the MR lists it: by id without a request, by name through
/// the MR's own list (which a Developer may read). `None` when the name is
/// not listed on this MR.
pub fn resolve(ctx: &Ctx, check: &CheckRef, mr: &Target) -> Result<Option<MrCheck>, Error> {
    match check {
        CheckRef::Id(id) => Ok(Some(MrCheck {
            id: *id,
            name: format!("#{id}"),
            external_url: String::new(),
            status: CheckStatus::Pending,
        })),
        CheckRef::Name(_) => {
            let listing = ctx.mr_checks(mr)?;
            let found = listing.items.into_iter().find(|c| check.matches(c));
            if found.is_none() {
                ctx.log.detail(format!(
                    "{} does not apply to {}",
                    check.describe(),
                    mr.label
                ));
            }
            Ok(found)
        }
    }
}

/// Posts one response for a check already resolved on `mr` (`check` is
/// how the user named it, for messages). A 409 becomes `stale()`; a POST
/// whose outcome is unknown is checked against the MR's list before it is
/// sent again.
pub fn post_status(
    ctx: &Ctx,
    check: &CheckRef,
    resolved: &MrCheck,
    mr: &Target,
    sha: &str,
    status: ReportStatus,
    include_status: bool,
) -> Result<Reported, Error> {
    let path = paths::mr_responses(&mr.project.encoded, mr.iid);
    let mut body = json!({ "sha": sha, "external_status_check_id": resolved.id });
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
    .as_transient())
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
        n => format!("check #{id} \"{n}\""),
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

pub fn stale(mr: &str, sha: &str, e: &ApiError) -> Error {
    let head = e.head_from_409().unwrap_or("unknown");
    Error::stale(format!(
        "{sha} is not the head of {mr} any more: its head is {head} (GitLab answered 409)"
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

fn no_merge_request(
    ctx: &Ctx,
    args: &ReportArgs,
    sha: &str,
    targets: &Targets,
) -> Result<Outcome, Error> {
    let message = format!(
        "{}: nothing reported",
        targets.nothing_open(sha, &ctx.project()?.raw)
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
    let mr = &targets.mrs[0];
    let names: Vec<String> = ctx
        .mr_checks(mr)
        .map(|l| {
            l.items
                .into_iter()
                .map(|c| format!("\"{}\"", c.name))
                .collect()
        })
        .unwrap_or_default();
    let existing = if names.is_empty() {
        format!("{} has no external status checks", mr.label)
    } else {
        format!("the checks on {} are {}", mr.label, names.join(", "))
    };
    let where_ = if targets.mrs.len() == 1 {
        mr.label.clone()
    } else {
        format!("any of {} merge requests", targets.mrs.len())
    };
    let err = Error::usage(format!("no check named \"{name}\" on {where_}; {existing}"));
    match scope_hint(ctx, name, mr) {
        Some(hint) => err.hint(hint),
        None => err.hint("check the name in Settings → Merge requests → Status checks (names are case-sensitive)"),
    }
}

fn scope_hint(ctx: &Ctx, name: &str, mr: &Target) -> Option<String> {
    let Ok(checks) = scope::project_checks(ctx, &mr.project) else {
        return Some(format!(
            "if \"{name}\" exists but is limited to protected branches, it is not listed on MRs targeting other branches; listing the project's checks to tell needs Maintainer"
        ));
    };
    if scope::scope_of(&checks, name, "") == Scope::Missing {
        return None;
    }
    let target = ctx
        .client
        .get::<crate::gitlab::MergeRequest>(&ctx.mr_path(mr))
        .map(|mr| mr.target_branch)
        .unwrap_or_else(|_| "another branch".into());
    match scope::scope_of(&checks, name, &target) {
        Scope::OtherBranches(branches) => Some(format!(
            "\"{name}\" exists in the project but applies only to merge requests targeting {}; {} targets {target}",
            scope::join(&branches),
            mr.label
        )),
        _ => None,
    }
}

fn outcome(status: ReportStatus, sha: &str, reported: &[Reported], skipped: &[Target]) -> Outcome {
    let word = status_word(status);
    let mut text = String::new();
    for r in reported {
        text.push_str(&format!(
            "reported {word} for \"{}\" on {} at {}\n",
            r.check.name,
            r.mr.label,
            short(sha)
        ));
    }
    for mr in skipped {
        text.push_str(&format!(
            "the check does not apply to {}: skipped\n",
            mr.label
        ));
    }
    let json_reported: Vec<Value> = reported
        .iter()
        .map(|r| {
            json!({
                "merge_request_iid": r.mr.iid,
                "check_id": r.check.id,
                "check_name": r.check.name,
                "response_id": r.response_id,
                "applies": r.gates_nothing.is_none(),
            })
        })
        .collect();
    let skipped: Vec<u64> = skipped.iter().map(|mr| mr.iid).collect();
    Outcome::new(
        Code::Ok,
        text,
        json!({ "status": word, "sha": sha, "reported": json_reported, "skipped": skipped }),
    )
}
