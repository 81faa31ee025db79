//! Whether a project's check applies to a merge request.
//!
//! A check limited to protected branches is listed only on merge requests
//! that *target* one of them (exact branch name), so a name can exist in the
//! project and still be missing from an MR. Telling the two apart needs the
//! project's check list, which only a Maintainer may read.

use super::context::Ctx;
use crate::config::ProjectRef;
use crate::gitlab::ApiError;
use crate::gitlab::models::ProjectCheck;
use crate::gitlab::paths;

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
}
