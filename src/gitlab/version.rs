//! What each GitLab version can do with external status checks.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
}

/// How a status response carries its status, by version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusParam {
    /// 14.x: no usable `status` parameter; any response means "approved".
    /// (14.9 and 14.10 accept an optional `failed`, but with the feature flag
    /// `status_checks_add_status_field` off, the default, the list still shows
    /// every response as approved: a `failed` must never be posted there.)
    Absent,
    /// 15.0+: required.
    Required,
}

impl ServerVersion {
    pub const fn new(major: u32, minor: u32) -> ServerVersion {
        ServerVersion { major, minor }
    }

    /// Reads `16.6.1-ee`, `17.0.0-pre`, `15.11`.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let mut parts = text.trim().split(['.', '-', '+']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(ServerVersion { major, minor })
    }

    pub fn from_parts(major: &str, minor: &str) -> Option<ServerVersion> {
        Some(ServerVersion {
            major: major.trim().parse().ok()?,
            minor: minor.trim().parse().ok()?,
        })
    }

    pub fn status_param(self) -> StatusParam {
        if self < ServerVersion::new(15, 0) {
            StatusParam::Absent
        } else {
            StatusParam::Required
        }
    }

    /// 16.5+ accepts `pending` as a response status.
    pub fn accepts_pending(self) -> bool {
        self >= ServerVersion::new(16, 5)
    }

    /// 16.6+ turns a `pending` response older than 2 minutes into `failed`.
    pub fn times_out_pending(self) -> bool {
        self >= ServerVersion::new(16, 6)
    }

    /// The retry endpoint exists from 15.7.
    pub fn has_retry(self) -> bool {
        self >= ServerVersion::new(15, 7)
    }

    /// "Status checks must succeed" (`only_allow_merge_if_all_status_checks_passed`)
    /// exists from 15.9.
    pub fn has_must_succeed(self) -> bool {
        self >= ServerVersion::new(15, 9)
    }

    /// `shared_secret` and the `hmac` key exist from 17.3; before, GitLab drops the
    /// parameter without a word.
    pub fn stores_shared_secrets(self) -> bool {
        self >= ServerVersion::new(17, 3)
    }

    /// How a check limited to `release/*` is matched to target branches (row
    /// `wildcard-19-4`): by exact name in every source read up to 18.9's, as a pattern
    /// in 19.4.1's; the fix's first version is not known.
    pub fn wildcard_scopes(self) -> WildcardScopes {
        if self >= ServerVersion::new(19, 4) {
            WildcardScopes::Matched
        } else if self >= ServerVersion::new(18, 10) {
            WildcardScopes::Unknown
        } else {
            WildcardScopes::Literal
        }
    }

    /// "GitLab X" where a rule of the scopes is known for X; where it is not (between
    /// 18.9 and 19.4), says so.
    pub fn scope_rule_label(self) -> String {
        match self.wildcard_scopes() {
            WildcardScopes::Unknown => {
                format!("GitLab {self} (unless it already has the fix seen in 19.4)")
            }
            _ => format!("GitLab {self}"),
        }
    }

    /// A retry sets the check to `pending` itself (row `retry-pending-16-1`: its
    /// response's `retried_at` from 16.1.0, a stored `pending` later); before, the list
    /// reads `failed` until the service answers again.
    pub fn retry_resets_pending(self) -> bool {
        self >= ServerVersion::new(16, 1)
    }

    /// A check may be limited to a protected branch of the project's top-level group (row
    /// `group-branches-18-0`); before, GitLab refuses such an id (422).
    pub fn group_branch_scopes(self) -> bool {
        self >= ServerVersion::new(18, 0)
    }

    /// A Reporter may read an MR's check list (`read_external_status_check_response`,
    /// row `reporter-read-17-4`: CHANGELOG 17.4.0); before, only who may approve the MR
    /// (Developer, or its author or assignee).
    pub fn reporter_reads_checks(self) -> bool {
        self >= ServerVersion::new(17, 4)
    }

    /// Which merge requests GitLab sends a scoped check's webhook for (row `webhook-by-name`).
    pub fn webhook_rule(self) -> WebhookRule {
        if self < ServerVersion::new(14, 1) {
            WebhookRule::Every
        } else if self.wildcard_scopes() == WildcardScopes::Matched {
            WebhookRule::AsGated
        } else {
            WebhookRule::ByName
        }
    }
}

/// How GitLab matches a check's wildcard protected branch to a merge request's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WildcardScopes {
    /// By exact name: `release/*` applies to no merge request (read up to 18.9).
    Literal,
    /// Not known: newer than the last source read literal, older than 19.4.
    Unknown,
    /// As a pattern: `release/*` applies to merge requests into `release/1.0` (19.4).
    Matched,
}

/// Which merge requests a check limited to protected branches has its webhook sent for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookRule {
    /// 14.0: every merge request, whatever the check's branches.
    Every,
    /// 14.1 until the wildcard fix (seen in 19.4): `protected_branches.by_name(target)`, a
    /// case-insensitive match of the target branch anywhere in a protected branch's name
    /// (an exact one for targets shorter than 3 characters).
    ByName,
    /// From the wildcard fix: the merge requests the check gates.
    AsGated,
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gitlab_version_strings() {
        assert_eq!(
            ServerVersion::parse("16.6.1-ee"),
            Some(ServerVersion::new(16, 6))
        );
        assert_eq!(
            ServerVersion::parse("17.0.0-pre"),
            Some(ServerVersion::new(17, 0))
        );
        assert_eq!(
            ServerVersion::parse("15.11"),
            Some(ServerVersion::new(15, 11))
        );
        assert_eq!(ServerVersion::parse("x.y"), None);
        assert_eq!(ServerVersion::parse("16"), None);
    }

    #[test]
    fn capabilities_by_version() {
        let v = ServerVersion::new;
        assert_eq!(v(14, 8).status_param(), StatusParam::Absent);
        assert_eq!(v(14, 9).status_param(), StatusParam::Absent);
        assert_eq!(v(14, 10).status_param(), StatusParam::Absent);
        assert_eq!(v(15, 0).status_param(), StatusParam::Required);
        assert!(!v(16, 4).accepts_pending());
        assert!(v(16, 5).accepts_pending());
        assert!(!v(16, 5).times_out_pending());
        assert!(v(16, 6).times_out_pending());
        assert!(!v(15, 6).has_retry());
        assert!(v(15, 7).has_retry());
        assert!(!v(15, 8).has_must_succeed());
        assert!(v(15, 9).has_must_succeed());
        assert!(!v(17, 2).stores_shared_secrets());
        assert!(v(17, 3).stores_shared_secrets());
        assert_eq!(v(18, 9).wildcard_scopes(), WildcardScopes::Literal);
        assert_eq!(v(18, 10).wildcard_scopes(), WildcardScopes::Unknown);
        assert_eq!(v(19, 3).wildcard_scopes(), WildcardScopes::Unknown);
        assert_eq!(v(19, 4).wildcard_scopes(), WildcardScopes::Matched);
        assert_eq!(v(18, 9).scope_rule_label(), "GitLab 18.9");
        assert!(
            v(19, 0)
                .scope_rule_label()
                .contains("unless it already has the fix")
        );
        assert!(!v(16, 0).retry_resets_pending());
        assert!(v(16, 1).retry_resets_pending());
        assert!(!v(17, 11).group_branch_scopes());
        assert!(v(18, 0).group_branch_scopes());
        assert!(!v(17, 3).reporter_reads_checks());
        assert!(v(17, 4).reporter_reads_checks());
        assert_eq!(v(14, 0).webhook_rule(), WebhookRule::Every);
        assert_eq!(v(14, 1).webhook_rule(), WebhookRule::ByName);
        assert_eq!(v(19, 3).webhook_rule(), WebhookRule::ByName);
        assert_eq!(v(19, 4).webhook_rule(), WebhookRule::AsGated);
        assert!(v(15, 10) > v(15, 9));
    }
}
