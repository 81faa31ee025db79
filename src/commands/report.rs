//! `status-check report <passed|failed|pending>`: post a response for the SHA.

use serde_json::{Value, json};

use crate::checks::{
    self, Ctx, Reported, Target, Targets, Want, status_param_allowed, status_word,
};
use crate::cli::ReportStatus;
use crate::config::{CheckRef, ReportTask};
use crate::error::Error;
use crate::exit::Code;
use crate::names::quote;
use crate::output::Outcome;
use crate::sha::Sha;

pub(super) fn run(ctx: &Ctx, args: &ReportTask) -> Result<Outcome, Error> {
    let check = &args.check;
    let sha = ctx.cfg.require_sha()?;
    ctx.project()?;
    let include_status = status_param_allowed(ctx, args.status)?;
    let targets = checks::find_targets(ctx, Some(sha), Want::Open)?;
    if let Some(err) = targets.none_found() {
        return Err(err);
    }
    if targets.mrs.is_empty() {
        return no_merge_request(ctx, args, sha, &targets);
    }
    let mut reported = Vec::new();
    let mut not_applicable = Vec::new();
    for mr in &targets.mrs {
        match report_one(ctx, check, mr, sha, args.status, include_status)? {
            Some(done) => reported.push(done),
            None => not_applicable.push(mr.clone()),
        }
    }
    if reported.is_empty() {
        return Err(checks::not_on_any(ctx, check, &targets));
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

/// Reports on one MR. `None` when the check does not apply to it (only
/// possible for a name lookup in a branch pipeline with several MRs).
fn report_one(
    ctx: &Ctx,
    check: &CheckRef,
    mr: &Target,
    sha: &Sha,
    status: ReportStatus,
    include_status: bool,
) -> Result<Option<Reported>, Error> {
    let Some(resolved) = checks::applies(ctx, check, mr)? else {
        return Ok(None);
    };
    checks::post_status(ctx, check, &resolved, mr, sha, status, include_status).map(Some)
}

fn no_merge_request(
    ctx: &Ctx,
    args: &ReportTask,
    sha: &Sha,
    targets: &Targets,
) -> Result<Outcome, Error> {
    let message = format!(
        "{}: nothing reported",
        targets.nothing_open(&ctx.project()?.raw)
    );
    if args.require_mr {
        return Err(Error::usage(message).hint(
            "--require-mr is set: run the job in merge request pipelines (rules: if: $CI_PIPELINE_SOURCE == \"merge_request_event\") or open a merge request",
        ));
    }
    Ok(Outcome::new(
        Code::Ok,
        message,
        json!({ "status": status_word(args.status), "sha": sha.as_str(), "reported": [], "note": "no open merge request" }),
    ))
}

fn outcome(status: ReportStatus, sha: &Sha, reported: &[Reported], skipped: &[Target]) -> Outcome {
    let word = status_word(status);
    let mut text = String::new();
    for r in reported {
        text.push_str(&format!(
            "reported {word} for {} on {} at {}\n",
            quote(&r.check.name),
            r.mr.label,
            sha.short()
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
        json!({ "status": word, "sha": sha.as_str(), "reported": json_reported, "skipped": skipped }),
    )
}
