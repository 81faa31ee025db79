//! `status-check retry`: ask GitLab to re-run a failed check (15.7+).

use serde_json::json;

use crate::checks::{self, Ctx, Resolved, Target, Want};
use crate::config::CheckRef;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::MrCheck;
use crate::names::{did_you_mean, quote, quote_all};
use crate::output::Outcome;

pub(super) fn run(ctx: &Ctx, check: &CheckRef) -> Result<Outcome, Error> {
    if let Some(version) = ctx.known_version().filter(|v| !v.has_retry()) {
        return Err(Error::usage(format!(
            "GitLab {version} has no retry endpoint for status checks (15.7+ has)"
        ))
        .hint("push a new commit or ask the external service to post again"));
    }
    let found = checks::find_targets(ctx, None, Want::Open)?;
    if found.mrs.is_empty() {
        return Err(
            Error::usage(format!("no merge request to retry on: {}", found.how))
                .hint("pass --mr IID or run in a merge request pipeline"),
        );
    }
    let mut lines = Vec::new();
    let mut retried = Vec::new();
    for mr in &found.mrs {
        let target = match checks::resolve(ctx, check, mr)? {
            Resolved::Listed(target) => target,
            Resolved::NotListed(listed) => return Err(not_listed(check, mr, &listed)),
        };
        checks::retry_one(ctx, mr, &target)?;
        lines.push(format!(
            "retry requested for {} on {}",
            quote(&target.name),
            mr.label
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

fn not_listed(check: &CheckRef, mr: &Target, listed: &[MrCheck]) -> Error {
    let names = || listed.iter().map(|c| c.name.as_str());
    let err = Error::usage(format!("no {} on {}", check.describe(), mr.label));
    let err = match check {
        CheckRef::Name(name) => match did_you_mean(name, names()) {
            Some(hint) => err.hint(hint),
            None => err,
        },
        CheckRef::Id(_) => err,
    };
    err.hint(format!(
        "the checks on {} are: {}",
        mr.label,
        quote_all(names())
    ))
}
