//! The `permissions` line: for a fine-grained personal access token (row
//! `fine-grained-tokens`), each permission status-check's commands use, asked of GitLab
//! without changing anything. GitLab checks a fine-grained token's permission while it
//! authenticates, before the parameters, the project, the role and the licence: a request
//! that could never act (a response with no fields, a retry of check 0, a change of check
//! 0) is refused `insufficient_granular_scope` without the permission, and fails on
//! something else with it.

use super::lines::LineId;
use super::{Doctor, Found};
use crate::checks::Ctx;
use crate::gitlab::client::Method;
use crate::gitlab::paths;

/// One permission, the request that asks for it, and the commands that need it.
struct Probe {
    permission: &'static str,
    method: Method,
    path: String,
    needed_by: &'static str,
}

impl<'a> Doctor<'a> {
    pub(super) fn permissions(&mut self, ctx: &Ctx, found: &Found) {
        // Only a fine-grained token has this line: a classic one's scopes are on the
        // token line.
        if !found.fine_grained {
            return;
        }
        let probes = probes(self, found);
        let mut missing = Vec::new();
        let mut granted = Vec::new();
        for probe in &probes {
            let answer = ctx.client.exchange(probe.method, &probe.path, Some("{}"));
            match answer.map(|reply| reply.error().missing_permission().is_some()) {
                Ok(true) => missing.push(format!("`{}` ({})", probe.permission, probe.needed_by)),
                Ok(false) => granted.push(probe.permission),
                Err(_) => {}
            }
        }
        let unasked = if merge_request(self, found, "").is_none() {
            "; without a merge request the MR's permissions were not asked"
        } else {
            ""
        };
        if missing.is_empty() {
            self.ok(
                LineId::Permissions,
                format!(
                    "fine-grained token: GitLab grants {} of the permissions status-check uses{unasked}",
                    granted.len()
                ),
            );
        } else {
            self.fail(
                LineId::Permissions,
                format!("fine-grained token without {}{unasked}", missing.join(", ")),
                "add the permissions to the token (User settings → Access tokens → the token's permissions), or use a personal, project or group access token with the `api` scope",
            );
        }
    }
}

/// What to ask: the project's permissions, and with a merge request its own.
fn probes(doctor: &Doctor, found: &Found) -> Vec<Probe> {
    let Some(project) = doctor.cfg.project.as_ref().map(|p| p.value.encoded.clone()) else {
        return Vec::new();
    };
    let probe = |permission, method, path, needed_by| Probe {
        permission,
        method,
        path,
        needed_by,
    };
    let check_0 = format!("{}/0", paths::project_checks(&project));
    let mut probes = vec![
        probe(
            "read_project",
            Method::Get,
            paths::project(&project),
            "sync, doctor",
        ),
        probe(
            "update_project",
            Method::Put,
            paths::project(&project),
            "sync's merge setting",
        ),
        probe(
            "read_external_status_check_service",
            Method::Get,
            paths::project_checks(&project),
            "sync",
        ),
        probe(
            "create_external_status_check_service",
            Method::Post,
            paths::project_checks(&project),
            "sync",
        ),
        probe(
            "update_external_status_check_service",
            Method::Put,
            check_0.clone(),
            "sync",
        ),
        probe(
            "delete_external_status_check_service",
            Method::Delete,
            check_0,
            "sync --prune",
        ),
        probe(
            "read_protected_branch",
            Method::Get,
            paths::protected_branches(&project),
            "sync with branches",
        ),
    ];
    if let Some(sha) = doctor.cfg.sha.as_ref() {
        let path = paths::commit_mrs(&project, &sha.value);
        probes.push(probe(
            "read_commit_merge_request",
            Method::Get,
            path,
            "branch pipelines",
        ));
    }
    if let Some((p, iid)) = merge_request(doctor, found, &project) {
        probes.extend([
            probe(
                "read_merge_request",
                Method::Get,
                paths::merge_request(&p, iid),
                "wait",
            ),
            probe(
                "read_external_status_check",
                Method::Get,
                paths::mr_checks(&p, iid),
                "list, wait, report and run by name",
            ),
            probe(
                "update_external_status_check",
                Method::Post,
                paths::mr_responses(&p, iid),
                "report, run",
            ),
            probe(
                "retry_external_status_check",
                Method::Post,
                paths::mr_check_retry(&p, iid, 0),
                "retry, wait --retry-failed",
            ),
        ]);
    }
    probes
}

/// The merge request to ask its permissions on: the one the MR line found, else the one
/// the pipeline names (read or not: a missing `read_merge_request` is what is asked).
fn merge_request(doctor: &Doctor, found: &Found, project: &str) -> Option<(String, u64)> {
    if let (Some(mr), Some(p)) = (&found.mr, &found.mr_project) {
        return Some((p.encoded.clone(), mr.iid));
    }
    if let Some(open) = doctor.cfg.open_mrs.as_ref().and_then(|o| o.first()) {
        return Some((open.project.encoded.clone(), open.iid));
    }
    doctor
        .cfg
        .mr
        .as_ref()
        .map(|mr| (project.to_owned(), mr.value))
}
