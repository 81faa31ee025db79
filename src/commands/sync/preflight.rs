//! Everything sync checks against GitLab before its first change: what this
//! version would accept and silently not do, the project's checks (and why a 401 or
//! 403 came), the protected branches the file names, and the project setting.

use std::collections::HashMap;

use super::file::{CheckSpec, SETTING, SyncFile};
use crate::checks::{self, Ctx};
use crate::config::ProjectRef;
use crate::error::Error;
use crate::gitlab::ApiError;
use crate::gitlab::models::{MAINTAINER, Project, ProjectCheck, role_name};
use crate::gitlab::paths;
use crate::gitlab::version::WildcardScopes;

/// What the file asks for that this GitLab would accept and silently not do: shared
/// secrets before 17.3 (the parameter is dropped, and the next run finds the same drift),
/// protected branch wildcards where scopes match by exact name (the check gates
/// nothing). The version is asked only when the file uses either. Returns the warnings
/// for what may not work: wildcards on a version whose rule is not known.
pub(super) fn refuse_what_the_version_ignores(
    ctx: &Ctx,
    file: &SyncFile,
    name: &str,
) -> Result<Vec<String>, Error> {
    let secrets = file.checks.iter().find(|c| c.shared_secret_env.is_some());
    let wildcard = file.checks.iter().find_map(|c| {
        c.protected_branches
            .iter()
            .find(|b| b.contains('*'))
            .map(|b| (c, b))
    });
    if secrets.is_none() && wildcard.is_none() {
        return Ok(Vec::new());
    }
    let version = ctx.server_version()?;
    if let Some(spec) = secrets.filter(|_| !version.stores_shared_secrets()) {
        return Err(secrets_unsupported(
            spec,
            name,
            &format!("GitLab {version}"),
        ));
    }
    let Some((spec, branch)) = wildcard else {
        return Ok(Vec::new());
    };
    match version.wildcard_scopes() {
        WildcardScopes::Matched => Ok(Vec::new()),
        WildcardScopes::Literal => Err(Error::usage(format!(
            "{name}: {} limits the check to `{branch}`, but GitLab {version} matches a check's protected branches to the merge request's target branch by exact name: a check limited to `{branch}` applies to no merge request, so it would gate nothing",
            spec.label()
        ))
        .hint(NAME_EACH_BRANCH)),
        WildcardScopes::Unknown => Ok(vec![format!(
            "{name}: {} limits the check to `{branch}`; GitLab matches such a branch to the target branch by exact name up to 18.9 (so the check gates nothing) and as a pattern in 19.4, and which GitLab {version} does is not known: after the sync, `status-check list` in a merge request into a branch matching `{branch}` shows whether the check applies; if it does not, {NAME_EACH_BRANCH}",
            spec.label()
        )]),
    }
}

const NAME_EACH_BRANCH: &str = "name each branch (protect it first: Settings → Repository → Protected branches), or leave protected_branches out to apply the check to every target branch";

/// A project check list without the `hmac` key comes from a GitLab that ignores shared
/// secrets, whatever the CI variables say about the version.
pub(super) fn refuse_secrets_without_hmac(
    file: &SyncFile,
    existing: &[ProjectCheck],
    name: &str,
) -> Result<(), Error> {
    let spec = file.checks.iter().find(|c| c.shared_secret_env.is_some());
    match (spec, existing.iter().find(|c| c.hmac.is_none())) {
        (Some(spec), Some(_)) => Err(secrets_unsupported(
            spec,
            name,
            "this GitLab (its check list has no `hmac` key)",
        )),
        _ => Ok(()),
    }
}

fn secrets_unsupported(spec: &CheckSpec, file: &str, server: &str) -> Error {
    Error::usage(format!(
        "{file}: {} sets shared_secret_env, but {server} ignores shared secrets (GitLab 17.3+ stores them): GitLab would answer success, store nothing, and every later sync would find the same change again",
        spec.label()
    ))
    .hint(format!(
        "remove shared_secret_env from {file} for this server (the checks sync without secrets), or upgrade GitLab to 17.3 or later"
    ))
}

/// The project's checks; a 401 or 403 is told apart (role or licence) with
/// one more request.
pub(super) fn list_checks(ctx: &Ctx, project: &ProjectRef) -> Result<Vec<ProjectCheck>, Error> {
    match checks::project_checks(ctx, project) {
        Ok(checks) => Ok(checks),
        Err(e) if matches!(e.status(), Some(401 | 403)) => Err(explain_refusal(ctx, project, e)),
        Err(e) => Err(Error::from(e).context("listing the project's external status checks")),
    }
}

fn explain_refusal(ctx: &Ctx, project: &ProjectRef, e: ApiError) -> Error {
    let status = e.status().unwrap_or(401);
    let Ok(p) = ctx.client.get::<Project>(&paths::project(&project.encoded)) else {
        return Error::from(e).context("listing the project's external status checks");
    };
    let name = if p.path_with_namespace.is_empty() {
        project.raw.clone()
    } else {
        p.path_with_namespace.clone()
    };
    match p.access_level() {
        Some(level) if level < MAINTAINER => Error::api(format!(
            "sync needs the Maintainer role on {name}; the token's user is {} (GitLab answered {status} to the project's check list)",
            role_name(level)
        ))
        .hint("use a token of a Maintainer: e.g. a project access token with the Maintainer role and the `api` scope, stored as a masked, protected CI/CD variable"),
        _ => Error::api(format!(
            "GitLab answered {status} to {name}'s check list although the token works and is Maintainer: no Ultimate licence, or the feature is unavailable"
        ))
        .hint("external status checks need GitLab Ultimate (or a trial) for the project; `status-check doctor` shows what else is missing"),
    }
}

/// Name → id of the project's protected branches, read only when the file
/// names some.
pub(super) fn protected_branches(
    ctx: &Ctx,
    project: &ProjectRef,
    file: &SyncFile,
) -> Result<HashMap<String, u64>, Error> {
    if file.checks.iter().all(|c| c.protected_branches.is_empty()) {
        return Ok(HashMap::new());
    }
    let listing = checks::protected_branches(ctx, project).map_err(|e| {
        let hint_403 = e.status() == Some(403);
        let err = Error::from(e).context("listing the project's protected branches");
        if hint_403 {
            err.hint("sync needs the Maintainer role on the project")
        } else {
            err
        }
    })?;
    let capped = listing.len() >= checks::PROTECTED_BRANCHES_CAP;
    // Row `group-branches-18-0`: a check may be limited to the top-level group's protected
    // branches from 18.0; before, GitLab refuses their ids (422).
    let group_scopes = ctx.known_version().is_none_or(|v| v.group_branch_scopes());
    let (own, inherited): (Vec<_>, Vec<_>) = listing.into_iter().partition(|b| !b.inherited);
    let group: Vec<String> = inherited.iter().map(|b| b.name.clone()).collect();
    let usable = own
        .into_iter()
        .chain(inherited.into_iter().filter(|_| group_scopes));
    let map: HashMap<String, u64> = usable.map(|b| (b.name, b.id)).collect();
    for spec in &file.checks {
        for name in &spec.protected_branches {
            if !map.contains_key(name) && group.contains(name) {
                let v = ctx
                    .known_version()
                    .map_or_else(String::new, |v| format!(" {v}"));
                return Err(Error::usage(format!(
                    "{}: `{name}` is a protected branch of {}'s group, and GitLab{v} limits a check only to the project's own (its group's from 18.0)",
                    spec.label(),
                    project.raw
                ))
                .hint("protect the branch in the project itself (Settings → Repository → Protected branches), or upgrade GitLab to 18.0+"));
            }
            if !map.contains_key(name) {
                let mut known: Vec<&str> = map.keys().map(String::as_str).collect();
                known.sort_unstable();
                let known = if known.is_empty() {
                    "it has none".to_owned()
                } else {
                    format!("its protected branches are {}", known.join(", "))
                };
                return Err(Error::usage(format!(
                    "{}: `{name}` is not a protected branch of {} ({known})",
                    spec.label(),
                    project.raw
                ))
                .hint(if capped {
                    "GitLab lists at most 100 protected branches (the project's and its top-level group's): a branch beyond them cannot be found through the API; protect fewer branches, or limit the check in Settings → Merge requests → Status checks"
                } else {
                    "a status check can only be limited to protected branches: protect the branch first (Settings → Repository → Protected branches), or fix the name"
                }));
            }
        }
    }
    Ok(map)
}

pub(super) fn current_setting(ctx: &Ctx, project: &ProjectRef) -> Result<bool, Error> {
    if let Some(v) = ctx.known_version().filter(|v| !v.has_must_succeed()) {
        return Err(Error::usage(format!(
            "the file sets {SETTING}, but GitLab {v} has no such setting (15.9+)"
        ))
        .hint(format!("remove {SETTING} from the file")));
    }
    let p: Project = ctx
        .client
        .get(&paths::project(&project.encoded))
        .map_err(|e| Error::from(e).context(format!("reading project {}", project.raw)))?;
    p.only_allow_merge_if_all_status_checks_passed.ok_or_else(|| {
        Error::usage(format!(
            "the file sets {SETTING}, but GitLab does not show that setting for {} (it needs Ultimate and GitLab 15.9+)",
            project.raw
        ))
        .hint(format!("remove {SETTING} from the file"))
    })
}
