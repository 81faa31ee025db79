//! The REST paths status-check uses (below `/api/v4`), spelt in one place.
//! `project` is the URL-ready project id: `42` or `acme%2Fapp`.

use crate::sha::Sha;

pub(crate) fn project(project: &str) -> String {
    format!("/projects/{project}")
}

/// The project's external status checks (Maintainer only).
pub(crate) fn project_checks(project: &str) -> String {
    format!("/projects/{project}/external_status_checks")
}

pub(crate) fn protected_branches(project: &str) -> String {
    format!("/projects/{project}/protected_branches")
}

pub(crate) fn member(project: &str, user_id: u64) -> String {
    format!("/projects/{project}/members/all/{user_id}")
}

pub(crate) fn merge_request(project: &str, iid: u64) -> String {
    format!("/projects/{project}/merge_requests/{iid}")
}

/// The MR's own list of checks (a Developer may read it).
pub(crate) fn mr_checks(project: &str, iid: u64) -> String {
    format!("/projects/{project}/merge_requests/{iid}/status_checks")
}

pub(crate) fn mr_responses(project: &str, iid: u64) -> String {
    format!("/projects/{project}/merge_requests/{iid}/status_check_responses")
}

pub(crate) fn mr_check_retry(project: &str, iid: u64, check_id: u64) -> String {
    format!("/projects/{project}/merge_requests/{iid}/status_checks/{check_id}/retry")
}

/// The MRs (of this target project) that contain the commit.
pub(crate) fn commit_mrs(project: &str, sha: &Sha) -> String {
    format!("/projects/{project}/repository/commits/{sha}/merge_requests")
}

/// An external control's status on a project (signed, no token: `control`). Always the
/// project's numeric id: the signature covers the id as GitLab decodes it.
pub(crate) fn control_status(project_id: u64, control_id: u64) -> String {
    format!("/projects/{project_id}/compliance_external_controls/{control_id}/status")
}
