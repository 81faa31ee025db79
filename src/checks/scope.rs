//! Whether a project's check applies to a merge request.
//!
//! A check limited to protected branches is listed only on merge requests
//! that *target* one of them (exact branch name), so a name can exist in the
//! project and still be missing from an MR. Telling the two apart needs the
//! project's check list, which only a Maintainer may read.

use super::context::Ctx;
use crate::config::ProjectRef;
use crate::gitlab::ApiError;
use crate::gitlab::models::{ProjectCheck, ProtectedBranch};
use crate::gitlab::paths;
use crate::gitlab::version::WebhookRule;

/// What the project's check list says about a name and a target branch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// No check of that name in the project.
    Missing,
    /// It applies to merge requests targeting any branch.
    AllBranches,
    /// It is limited to these protected branches, the target among them.
    Applies(Vec<String>),
    /// It is limited to these protected branches, and the target is not one.
    OtherBranches(Vec<String>),
}

pub(crate) fn scope_of(checks: &[ProjectCheck], name: &str, target: &str) -> Scope {
    let Some(check) = checks.iter().find(|c| c.name == name) else {
        return Scope::Missing;
    };
    let branches = check.branch_names();
    if branches.is_empty() {
        Scope::AllBranches
    } else if branches.iter().any(|b| b == target) {
        Scope::Applies(branches)
    } else {
        Scope::OtherBranches(branches)
    }
}

/// Row `webhook-by-name`: of `targets` (target branches that can be named: the project's
/// protected branches, an MR's target), those GitLab sends the webhook of a check limited
/// to `scope` for, although the check does not gate their merge requests. Before the
/// wildcard fix, dispatch asks `protected_branches.by_name(target)`, which matches the
/// target anywhere in a branch's name, ignoring case (exactly for targets of 1 or 2
/// characters), while gating matches names exactly: `main-old` is sent for `main`, and
/// `release/*` for `release`.
pub(crate) fn sent_but_not_gated(
    rule: WebhookRule,
    scope: &[String],
    targets: &[String],
) -> Vec<String> {
    if scope.is_empty() {
        return Vec::new();
    }
    let gated = |target: &String| scope.contains(target);
    let sent = |target: &String| match rule {
        WebhookRule::Every => true,
        WebhookRule::ByName => scope.iter().any(|branch| by_name(branch, target)),
        WebhookRule::AsGated => false,
    };
    let mut found: Vec<String> = targets
        .iter()
        .filter(|t| sent(t) && !gated(t))
        .cloned()
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `ProtectedBranch.by_name`: `ILIKE '%target%'` from 3 characters (GitLab's
/// `MIN_CHARS_FOR_PARTIAL_MATCHING`), a case-insensitive equality below.
fn by_name(branch: &str, target: &str) -> bool {
    let (branch, target) = (branch.to_lowercase(), target.to_lowercase());
    if target.chars().count() >= 3 {
        branch.contains(&target)
    } else {
        branch == target
    }
}

/// `GET /projects/:id/external_status_checks`, every page (Maintainer only:
/// a lower role gets 401, like a missing licence).
pub(crate) fn project_checks(
    ctx: &Ctx,
    project: &ProjectRef,
) -> Result<Vec<ProjectCheck>, ApiError> {
    ctx.client
        .get_all(&paths::project_checks(&project.encoded))
        .map(|listing| listing.items)
}

/// `GET /projects/:id/protected_branches`, every page (a Reporter from 15.11, a
/// Maintainer before).
/// GitLab lists at most this many protected branches (the project's and its top-level
/// group's): `ProtectedBranchesFinder::LIMIT`, applied before pagination (row
/// `protected-branches-15-11`). A list this long may leave some out.
pub(crate) const PROTECTED_BRANCHES_CAP: usize = 100;

pub(crate) fn protected_branches(
    ctx: &Ctx,
    project: &ProjectRef,
) -> Result<Vec<ProtectedBranch>, ApiError> {
    ctx.client
        .get_all(&paths::protected_branches(&project.encoded))
        .map(|listing| listing.items)
}

/// The branch list of a scoped check, for messages: `main, release`.
pub(crate) fn join(branches: &[String]) -> String {
    branches.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitlab::models::BranchRef;

    fn check(name: &str, branches: &[&str]) -> ProjectCheck {
        ProjectCheck {
            id: 1,
            name: name.into(),
            external_url: "https://x".into(),
            hmac: Some(false),
            protected_branches: branches
                .iter()
                .enumerate()
                .map(|(i, b)| BranchRef {
                    id: i as u64 + 1,
                    name: (*b).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn scope_by_target_branch() {
        let checks = [check("all", &[]), check("scoped", &["main", "release"])];
        assert_eq!(scope_of(&checks, "nope", "main"), Scope::Missing);
        assert_eq!(scope_of(&checks, "all", "dev"), Scope::AllBranches);
        assert_eq!(
            scope_of(&checks, "scoped", "release"),
            Scope::Applies(vec!["main".into(), "release".into()])
        );
        assert_eq!(
            scope_of(&checks, "scoped", "dev"),
            Scope::OtherBranches(vec!["main".into(), "release".into()])
        );
        // Names are case-sensitive, as in GitLab.
        assert_eq!(scope_of(&checks, "Scoped", "main"), Scope::Missing);
    }

    #[test]
    fn the_webhook_goes_where_the_target_is_part_of_a_branch_name() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let targets = names(&["main", "MAIN", "main-old", "release", "re", "dev", "ma"]);
        let by = WebhookRule::ByName;
        assert_eq!(
            sent_but_not_gated(by, &names(&["main-old"]), &targets),
            names(&["MAIN", "main"]),
            "a part of 3+ characters, ignoring case; the branch itself is gated"
        );
        assert_eq!(
            sent_but_not_gated(by, &names(&["release/*"]), &targets),
            names(&["release"]),
            "`re` is shorter than 3 characters: only an exact match"
        );
        assert_eq!(
            sent_but_not_gated(by, &names(&["RE"]), &targets),
            names(&["re"])
        );
        assert!(
            sent_but_not_gated(by, &[], &targets).is_empty(),
            "unscoped: gates all"
        );
        assert!(
            sent_but_not_gated(WebhookRule::AsGated, &names(&["main-old"]), &targets).is_empty()
        );
        assert_eq!(
            sent_but_not_gated(
                WebhookRule::Every,
                &names(&["main"]),
                &names(&["main", "dev"])
            ),
            names(&["dev"])
        );
    }
}
