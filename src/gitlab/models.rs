//! Serde types for the endpoints status-check reads. Tolerant of extra
//! fields, of missing optional ones, and of the status words of old servers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::sha::Sha;

/// One entry of `GET /projects/:id/merge_requests/:iid/status_checks`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct MrCheck {
    pub id: u64,
    pub name: String,
    /// Cut at `?` for Developers, empty for lower roles.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub external_url: String,
    pub status: CheckStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    Passed,
    Failed,
    Pending,
    /// A word this version of status-check does not know; treated as not passed.
    Other(String),
}

impl CheckStatus {
    pub fn from_word(word: &str) -> CheckStatus {
        match word {
            // 14.x says `approved`; older documentation says `pass`.
            "passed" | "approved" | "pass" => CheckStatus::Passed,
            "failed" => CheckStatus::Failed,
            "pending" => CheckStatus::Pending,
            other => CheckStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Pending => "pending",
            CheckStatus::Other(word) => word,
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CheckStatus, D::Error> {
        let word = String::deserialize(d)?;
        Ok(CheckStatus::from_word(&word))
    }
}

impl Serialize for CheckStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `GET /projects/:id/merge_requests/:iid` and the entries of
/// `GET /projects/:id/repository/commits/:sha/merge_requests`.
#[derive(Clone, Debug, Deserialize)]
pub struct MergeRequest {
    pub iid: u64,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub source_project_id: Option<u64>,
    #[serde(default)]
    pub target_project_id: Option<u64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub source_branch: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub target_branch: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub state: String,
    /// The source branch HEAD.
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub detailed_merge_status: Option<String>,
    /// Set once merged with a merge commit.
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    /// Set once merged with squash.
    #[serde(default)]
    pub squash_commit_sha: Option<String>,
}

impl MergeRequest {
    pub fn is_open(&self) -> bool {
        self.state == "opened"
    }

    pub fn is_merged(&self) -> bool {
        self.state == "merged"
    }

    /// Is `sha` the commit this MR landed as on its target branch: its merge commit, its
    /// squash commit, or (fast-forward merge, no merge commit) its head?
    pub fn landed_as(&self, sha: &Sha) -> bool {
        [&self.merge_commit_sha, &self.squash_commit_sha, &self.sha]
            .into_iter()
            .flatten()
            .any(|c| sha.is(c))
    }
}

/// `GET /version`.
#[derive(Clone, Debug, Deserialize)]
pub struct VersionInfo {
    pub version: String,
}

/// The parts of the 201 answer to a status response that we use: its id, and what
/// tells whether the check applies to the MR. Read through a JSON value (the fields
/// sit two levels down, and every one but `id` may be missing).
#[derive(Clone, Debug)]
pub struct PostedResponse {
    pub id: u64,
    /// `merge_request.target_branch` ("" when absent).
    pub target_branch: String,
    /// `external_status_check.name` ("" when absent).
    pub check_name: String,
    /// `external_status_check.protected_branches[].name`; `None` when the answer does
    /// not show them (GitLab 19.4+).
    pub protected_branches: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for PostedResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PostedResponse, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = |pointer: &str| {
            v.pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(PostedResponse {
            id: v["id"]
                .as_u64()
                .ok_or_else(|| serde::de::Error::missing_field("id"))?,
            target_branch: text("/merge_request/target_branch"),
            check_name: text("/external_status_check/name"),
            protected_branches: v
                .pointer("/external_status_check/protected_branches")
                .and_then(serde_json::Value::as_array)
                .map(|branches| {
                    branches
                        .iter()
                        .filter_map(|b| b["name"].as_str().map(str::to_owned))
                        .collect()
                }),
        })
    }
}

impl PostedResponse {
    /// GitLab stores a response for any check of the project, but a check limited to
    /// protected branches gates only MRs whose target branch is one of them, by exact
    /// name. `Some((branches, target))` when the answer shows this check is not one of
    /// the MR's; `None` when it applies or the answer does not tell.
    pub fn scoped_elsewhere(&self) -> Option<(Vec<String>, String)> {
        let branches = self.protected_branches.as_ref()?;
        let target = &self.target_branch;
        let applies = branches.is_empty() || branches.iter().any(|b| b == target);
        (!applies && !target.is_empty()).then(|| (branches.clone(), target.clone()))
    }
}

/// `GET /projects/:id/external_status_checks` (Maintainer only).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ProjectCheck {
    pub id: u64,
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub external_url: String,
    /// Whether a shared secret is set; the key exists from GitLab 17.3, with secrets.
    #[serde(default)]
    pub hmac: Option<bool>,
    #[serde(default)]
    pub protected_branches: Vec<BranchRef>,
}

impl ProjectCheck {
    /// The names of the protected branches it is limited to (empty: all branches).
    pub fn branch_names(&self) -> Vec<String> {
        self.protected_branches
            .iter()
            .map(|b| b.name.clone())
            .collect()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct BranchRef {
    pub id: u64,
    pub name: String,
}

/// `GET /user`: who the token belongs to.
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub username: String,
    /// Project and group access tokens belong to bot users.
    #[serde(default)]
    pub bot: bool,
}

/// `GET /personal_access_tokens/self` (15.5+): the token's own scopes.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenInfo {
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `GET /projects/:id`: the parts doctor and sync use.
#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub path_with_namespace: String,
    /// "Status checks must succeed" (15.9+, Ultimate); absent where unsupported.
    #[serde(default)]
    pub only_allow_merge_if_all_status_checks_passed: Option<bool>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

impl Project {
    /// The token user's access level: the higher of the project and group
    /// memberships, `None` when GitLab shows neither.
    pub fn access_level(&self) -> Option<u32> {
        let p = self.permissions.as_ref()?;
        let levels = [&p.project_access, &p.group_access];
        levels
            .iter()
            .filter_map(|a| a.as_ref())
            .map(|a| a.access_level)
            .max()
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub project_access: Option<AccessLevel>,
    #[serde(default)]
    pub group_access: Option<AccessLevel>,
}

/// An access level: in `permissions`, and `GET /projects/:id/members/all/:user_id`.
#[derive(Clone, Debug, Deserialize)]
pub struct AccessLevel {
    pub access_level: u32,
}

/// `GET /projects/:id/protected_branches`.
#[derive(Clone, Debug, Deserialize)]
pub struct ProtectedBranch {
    pub id: u64,
    pub name: String,
    /// The project's top-level group's (row `group-branches-18-0`), not its own.
    #[serde(default)]
    pub inherited: bool,
}

/// GitLab's name for an access level.
pub fn role_name(level: u32) -> &'static str {
    match level {
        0 => "no access",
        1..=9 => "Minimal access",
        10..=14 => "Guest",
        15..=19 => "Planner",
        20..=29 => "Reporter",
        30..=39 => "Developer",
        40..=49 => "Maintainer",
        _ => "Owner",
    }
}

pub(crate) const REPORTER: u32 = 20;
pub(crate) const DEVELOPER: u32 = 30;
pub(crate) const MAINTAINER: u32 = 40;

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_mr_list_of_each_era() {
        let v14: Vec<MrCheck> = serde_json::from_str(
            r#"[{"id":1,"name":"a","external_url":"https://x","status":"approved"},
                {"id":2,"name":"b","external_url":"https://y","status":"pending"}]"#,
        )
        .unwrap();
        assert_eq!(v14[0].status, CheckStatus::Passed);
        assert_eq!(v14[1].status, CheckStatus::Pending);
        let v16: Vec<MrCheck> = serde_json::from_str(
            r#"[{"id":3,"name":"c","external_url":"","status":"failed","extra":true}]"#,
        )
        .unwrap();
        assert_eq!(v16[0].status, CheckStatus::Failed);
        let odd: MrCheck =
            serde_json::from_str(r#"{"id":4,"name":"d","external_url":null,"status":"weird"}"#)
                .unwrap();
        assert_eq!(odd.status, CheckStatus::Other("weird".into()));
        assert_eq!(odd.external_url, "");
    }

    #[test]
    fn reads_a_project_and_its_access_level() {
        let p: Project = serde_json::from_str(
            r#"{"id":42,"path_with_namespace":"acme/app","only_allow_merge_if_all_status_checks_passed":true,
                "permissions":{"project_access":{"access_level":30,"notification_level":3},
                               "group_access":{"access_level":40}}}"#,
        )
        .unwrap();
        assert_eq!(p.access_level(), Some(40));
        assert_eq!(p.only_allow_merge_if_all_status_checks_passed, Some(true));
        let bare: Project = serde_json::from_str(
            r#"{"id":42,"permissions":{"project_access":null,"group_access":null}}"#,
        )
        .unwrap();
        assert_eq!(bare.access_level(), None);
        assert_eq!(bare.only_allow_merge_if_all_status_checks_passed, None);
        assert_eq!(role_name(30), "Developer");
        assert_eq!(role_name(20), "Reporter");
    }

    #[test]
    fn reads_a_merge_request() {
        let mr: MergeRequest = serde_json::from_str(
            r#"{"iid":7,"project_id":42,"source_project_id":9,"target_project_id":42,
                "source_branch":"feature","target_branch":"main","state":"opened",
                "sha":"abc","diff_refs":{"head_sha":"abc"},"web_url":"http://x/-/merge_requests/7"}"#,
        )
        .unwrap();
        assert!(mr.is_open());
        assert_eq!(mr.sha.as_deref(), Some("abc"));
        assert_eq!(mr.source_project_id, Some(9));
    }
}
