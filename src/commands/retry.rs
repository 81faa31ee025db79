//! `status-check retry`: ask GitLab to re-run a failed check (15.7+).

use serde_json::json;

use super::targets::{self, Target, Want};
use super::{CheckRef, Ctx};
use crate::cli::CheckSelector;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::paths;
use crate::gitlab::{CheckStatus, MrCheck};
use crate::output::Outcome;

pub fn run(ctx: &Ctx, args: &CheckSelector) -> Result<Outcome, Error> {
    let check = CheckRef::from_args(args)?;
    if let Some(version) = ctx.known_version().filter(|v| !v.has_retry()) {
        return Err(Error::usage(format!(
            "GitLab {version} has no retry endpoint for status checks (15.7+ has)"
        ))
        .hint("push a new commit or ask the external service to post again"));
    }
    let found = targets::find(ctx, None, Want::Open)?;
    if found.mrs.is_empty() {
        return Err(
            Error::usage(format!("no merge request to retry on: {}", found.how))
                .hint("pass --mr IID or run in a merge request pipeline"),
        );
    }
    let mut lines = Vec::new();
    let mut retried = Vec::new();
    for mr in &found.mrs {
        let target = resolve(ctx, &check, mr)?;
        retry_one(ctx, mr, &target)?;
        lines.push(format!(
            "retry requested for \"{}\" on {}",
            target.name, mr.label
        ));
        retried.push(
            json!({ "merge_request_iid": mr.iid, "check_id": target.id, "check_name": target.name }),
        );
    }
    Ok(Outcome::new(
        Code::Ok,
        lines.join("\n"),
        json!({ "retried": retried }),
    ))
}

/// Finds the check on the MR (by id without a request).
fn resolve(ctx: &Ctx, check: &CheckRef, mr: &Target) -> Result<MrCheck, Error> {
    if let CheckRef::Id(id) = check {
        return Ok(MrCheck {
            id: *id,
            name: format!("#{id}"),
            external_url: String::new(),
            status: CheckStatus::Other("unknown".into()),
        });
    }
    let listing = ctx.mr_checks(mr)?;
    let names: Vec<String> = listing
        .items
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    listing
        .items
        .into_iter()
        .find(|c| check.matches(c))
        .ok_or_else(|| {
            Error::usage(format!("no {} on {}", check.describe(), mr.label)).hint(format!(
                "the checks on {} are: {}",
                mr.label,
                names.join(", ")
            ))
        })
}

pub fn retry_one(ctx: &Ctx, mr: &Target, check: &MrCheck) -> Result<(), Error> {
    let path = paths::mr_check_retry(&mr.project.encoded, mr.iid, check.id);
    match ctx.client.post::<serde_json::Value>(&path, &json!({})) {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(422) => {
            let current = match &check.status {
                CheckStatus::Other(_) => ctx
                    .mr_checks(mr)
                    .ok()
                    .and_then(|l| l.items.into_iter().find(|c| c.id == check.id))
                    .map_or_else(|| "unknown".to_owned(), |c| c.status.to_string()),
                known => known.to_string(),
            };
            Err(Error::check_failed(format!(
                "GitLab refused to retry \"{}\" on {}: {} (its status is {current})",
                check.name,
                mr.label,
                e.message()
            ))
            .hint("only a failed check can be retried"))
        }
        Err(e) if e.status() == Some(404) => Err(Error::from(e)
            .context(format!("retrying \"{}\" on {}", check.name, mr.label))
            .hint("the retry endpoint needs GitLab 15.7+; an unknown check id also answers 404")),
        Err(e) => {
            Err(Error::from(e).context(format!("retrying \"{}\" on {}", check.name, mr.label)))
        }
    }
}
