//! Serde types for the endpoints status-check reads. Tolerant of extra
//! fields, of missing optional ones, and of the status words of old servers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

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
}

impl MergeRequest {
    pub fn is_open(&self) -> bool {
        self.state == "opened"
    }
}

/// `GET /version`.
#[derive(Clone, Debug, Deserialize)]
pub struct VersionInfo {
    pub version: String,
}

/// The parts of the 201 answer to a status response that we use.
#[derive(Clone, Debug, Deserialize)]
pub struct PostedResponse {
    pub id: u64,
}

/// `GET /projects/:id/external_status_checks` (Maintainer only).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ProjectCheck {
    pub id: u64,
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub external_url: String,
    #[serde(default)]
    pub hmac: bool,
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
