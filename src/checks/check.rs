//! Which check a command is about, and how the merge request lists it.

use super::context::Ctx;
use super::scope::{self, Scope};
use super::targets::{Target, Targets};
use crate::config::CheckRef;
use crate::error::Error;
use crate::gitlab::{CheckStatus, MergeRequest, MrCheck};
use crate::names::{did_you_mean, quote, quote_all};

/// How a merge request lists a check named by the user.
pub(crate) enum Resolved {
    Listed(MrCheck),
    /// The name is not on the MR's list; these are.
    NotListed(Vec<MrCheck>),
}

/// The check as `mr` lists it: by id without a request (its status then reads
/// `unknown`), by name through the MR's own list (which a Developer may read).
pub(crate) fn resolve(ctx: &Ctx, check: &CheckRef, mr: &Target) -> Result<Resolved, Error> {
    if let CheckRef::Id(id) = check {
        return Ok(Resolved::Listed(MrCheck {
            id: *id,
            name: format!("#{id}"),
            external_url: String::new(),
            status: CheckStatus::Other("unknown".into()),
        }));
    }
    let items = ctx.mr_checks(mr)?.items;
    match items.iter().position(|c| check.matches(c)) {
        Some(i) => Ok(Resolved::Listed(items[i].clone())),
        None => Ok(Resolved::NotListed(items)),
    }
}

/// The check as `mr` lists it, or `None` when it does not apply there (only
/// possible for a name, e.g. in a branch pipeline with several MRs).
pub(crate) fn applies(ctx: &Ctx, check: &CheckRef, mr: &Target) -> Result<Option<MrCheck>, Error> {
    match resolve(ctx, check, mr)? {
        Resolved::Listed(found) => Ok(Some(found)),
        Resolved::NotListed(_) => {
            ctx.log.detail(format!(
                "{} does not apply to {}",
                check.describe(),
                mr.label
            ));
            Ok(None)
        }
    }
}

/// The check name was found on none of the MRs: list what exists and, when
/// the token may read the project's checks, whether it is branch-scoped.
pub(crate) fn not_on_any(ctx: &Ctx, check: &CheckRef, targets: &Targets) -> Error {
    let CheckRef::Name(name) = check else {
        return Error::usage(format!(
            "{} applies to none of {}",
            check.describe(),
            targets.how
        ));
    };
    let mr = &targets.mrs[0];
    let listed: Vec<String> = ctx
        .mr_checks(mr)
        .map(|l| l.items.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    let existing = if listed.is_empty() {
        format!("{} has no external status checks", mr.label)
    } else {
        format!(
            "the checks on {} are {}",
            mr.label,
            quote_all(listed.iter().map(String::as_str))
        )
    };
    let where_ = if targets.mrs.len() == 1 {
        mr.label.clone()
    } else {
        format!("any of {} merge requests", targets.mrs.len())
    };
    let err = Error::usage(format!(
        "no check named {} on {where_}; {existing}",
        quote(name)
    ));
    // Never matched silently (a check gates merges): only suggested.
    if let Some(hint) = did_you_mean(name, listed.iter().map(String::as_str)) {
        return err.hint(hint);
    }
    match scope_hint(ctx, name, mr) {
        Some(hint) => err.hint(hint),
        None => err.hint("check the name in Settings → Merge requests → Status checks (names are case-sensitive)"),
    }
}

fn scope_hint(ctx: &Ctx, name: &str, mr: &Target) -> Option<String> {
    let Ok(checks) = scope::project_checks(ctx, &mr.project) else {
        return Some(format!(
            "if {} exists but is limited to protected branches, it is not listed on MRs targeting other branches; listing the project's checks to tell needs Maintainer",
            quote(name)
        ));
    };
    if scope::scope_of(&checks, name, "") == Scope::Missing {
        return None;
    }
    let target = ctx
        .client
        .get::<MergeRequest>(&ctx.mr_path(mr))
        .map(|mr| mr.target_branch)
        .unwrap_or_else(|_| "another branch".into());
    match scope::scope_of(&checks, name, &target) {
        Scope::OtherBranches(branches) => Some(format!(
            "{} exists in the project but applies only to merge requests targeting {}; {} targets {target}",
            quote(name),
            scope::join(&branches),
            mr.label
        )),
        _ => None,
    }
}
