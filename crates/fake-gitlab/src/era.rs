//! What each GitLab version does differently: one switch per version-dependent row of
//! `docs/gitlab-api.md`, named after that row, so a test or a reader can find where a rule
//! comes from. The API code asks these; it never compares version numbers itself.

use crate::world::parse_version;

/// How a status response carries its status (rows `status-param-14`, `status-param-14-9`,
/// `status-param-15`, `pending-16-5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusParam {
    /// 14.0–14.8: no `status` parameter; a response means approved.
    Absent,
    /// 14.9–14.10: `status` optional (`passed`/`failed`), but with the feature flag
    /// `status_checks_add_status_field` off (the default) the list shows every response
    /// as approved.
    OptionalFlagOff,
    /// 15.0+: `status` required, `passed` or `failed` (and `pending` from 16.5).
    Required,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Era {
    pub major: u32,
    pub minor: u32,
}

impl Era {
    pub fn of(version: &str) -> Era {
        let (major, minor) = parse_version(version);
        Era { major, minor }
    }

    fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// Rows `status-param-14`, `status-param-14-9`, `status-param-15`.
    pub fn status_param(self) -> StatusParam {
        if !self.at_least(14, 9) {
            StatusParam::Absent
        } else if !self.at_least(15, 0) {
            StatusParam::OptionalFlagOff
        } else {
            StatusParam::Required
        }
    }

    /// Row `status-words-15`: before 15.0 the MR list says `approved`, from 15.0 `passed`.
    pub fn says_approved(self) -> bool {
        !self.at_least(15, 0)
    }

    /// Row `pending-16-5`: a response may set `pending`.
    pub fn accepts_pending(self) -> bool {
        self.at_least(16, 5)
    }

    /// Row `pending-timeout-16-6`: a stored `pending` older than 2 minutes reads `failed`.
    pub fn pending_times_out(self) -> bool {
        self.at_least(16, 6)
    }

    /// Row `retry-15-7`: the retry endpoint exists (CHANGELOG 15.7.0, !106401).
    pub fn has_retry(self) -> bool {
        self.at_least(15, 7)
    }

    /// Row `poll-interval-15-10`: the MR check list sends `Poll-Interval` (CHANGELOG
    /// 15.10.0, !111763).
    pub fn sends_poll_interval(self) -> bool {
        self.at_least(15, 10)
    }

    /// Row `must-succeed-15-9`: the project setting "Status checks must succeed" exists
    /// (shown by `GET /projects/:id` on Ultimate projects only).
    pub fn has_must_succeed(self) -> bool {
        self.at_least(15, 9)
    }

    /// Row `url-cut-16-0`: the MR list cuts `external_url` at `?` (for Developers and
    /// Maintainers alike; CHANGELOG 16.0.0, !117675); before, the full URL.
    pub fn cuts_urls(self) -> bool {
        self.at_least(16, 0)
    }

    /// Row `hmac-17-3`: `shared_secret` is a create/update parameter and the project check
    /// entity has `hmac`. Before, the parameter is ignored and the key is absent.
    pub fn has_hmac(self) -> bool {
        self.at_least(17, 3)
    }

    /// Row `ff-14-0`: every status-check endpoint also needs the feature flag
    /// `ff_external_status_checks`, off by default (removed in 14.1).
    pub fn needs_feature_flag(self) -> bool {
        (self.major, self.minor) == (14, 0)
    }

    /// Row `response-14-0`: a response looks no check up and asks no more than
    /// `approve_merge_request`: an unknown check id fails the record's validation (500),
    /// an approver below Developer is answered 201.
    pub fn response_checks_nothing(self) -> bool {
        self.needs_feature_flag()
    }

    /// Row `response-developer-15-0`: a response asks `provide_status_check_response`
    /// (Developer) after the SHA: present in 15.0.0 (diffblue@7e026a62, CHANGELOG 15.0.0
    /// !87108), absent in 14.5.2 (VERSION-dated), where an approver below Developer is
    /// answered 201. The fake's choice for 14.1–14.10, not read: as 14.5.2.
    pub fn response_needs_developer(self) -> bool {
        self.at_least(15, 0)
    }

    /// Row `wildcard-19-4`: a check limited to `release/*` applies to MRs into
    /// `release/1.0` (seen in 19.4.1; the first version is not known); before, the
    /// protected branch name must equal the target branch (read up to 18.9; the fake's
    /// choice for 18.10-19.3, whose source was not read).
    pub fn matches_wildcard_scopes(self) -> bool {
        self.at_least(19, 4)
    }

    /// Row `response-entity-19-4`: the 201 answer to a response shows only the check's
    /// `id`, `name` and cut URL (no `protected_branches`).
    pub fn reduced_response_entity(self) -> bool {
        self.at_least(19, 4)
    }

    /// Row `reporter-read-17-4`: a Reporter may read the MR's check list
    /// (`read_external_status_check_response`, CHANGELOG 17.4.0 !164366, !163679); before,
    /// `approve_merge_request` (Developer, or a member who authored or is assigned to the
    /// MR). (17.11.0's rule for non-members of internal projects is not modelled.)
    pub fn reporter_reads_mr_checks(self) -> bool {
        self.at_least(17, 4)
    }

    /// Row `response-404-permission`: a user who passes `approve_merge_request` without
    /// `provide_status_check_response` (an author or assignee below Developer) gets a 404
    /// after the SHA check: `{"message":"404 Not Found"}` (`not_found!`) 15.0–18.1, and
    /// from 18.2 `StatusCheckResponses::CreateService`'s error, `{"message":null}`
    /// (CHANGELOG 18.2.0, !189293).
    pub fn refusal_404_from_service(self) -> bool {
        self.at_least(18, 2)
    }

    /// Row `retry-permission-16-1`: from 16.1 the retry endpoint looks the MR up with
    /// `retry_failed_status_checks` (403 below Developer; CHANGELOG 16.1.0, !113926);
    /// 15.7–16.0 look it up with `approve_merge_request` and answer 404 to an approver
    /// without that permission.
    pub fn retry_checks_permission_first(self) -> bool {
        self.at_least(16, 1)
    }

    /// Row `retry-pending-16-1`: from 16.1 a retried check reads `pending` (its response's
    /// `retried_at`, CHANGELOG 16.1.0 !113926; a stored `pending` later); 15.7–16.0 only
    /// send the webhook again, and the list shows `failed` until the service answers.
    pub fn retry_resets_to_pending(self) -> bool {
        self.at_least(16, 1)
    }

    /// Row `group-branches-18-0`: a check may be limited to a protected branch of the
    /// project's top-level group (CHANGELOG 18.0.0, !189498); before, only the project's.
    pub fn group_branch_scopes(self) -> bool {
        self.at_least(18, 0)
    }

    /// Row `protected-branches-15-11`: `GET protected_branches` needs `read_code`
    /// (Reporter; CHANGELOG 15.11.0, !115495); before, `admin_project` (Maintainer).
    pub fn protected_branches_read_code(self) -> bool {
        self.at_least(15, 11)
    }

    /// Row `external-controls-17-11`: `PATCH projects/:id/compliance_external_controls/
    /// :control_id/status` exists (seen in a commit listed under CHANGELOG 17.11.0,
    /// !185412, whose spec tests it; the API docs say 17.11); before, no route.
    pub fn has_external_controls(self) -> bool {
        self.at_least(17, 11)
    }

    /// Row `fine-grained-tokens`: a fine-grained personal access token is checked against
    /// each route's `route_setting :authorization` permissions (seen in 18.9; generally
    /// available in 19.2 by GitLab's later notes); before, no such token exists.
    pub fn fine_grained_tokens(self) -> bool {
        self.at_least(18, 9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let e = Era::of;
        assert_eq!(e("14.8.0-ee").status_param(), StatusParam::Absent);
        assert_eq!(e("14.9.0-ee").status_param(), StatusParam::OptionalFlagOff);
        assert_eq!(e("14.10.5-ee").status_param(), StatusParam::OptionalFlagOff);
        assert_eq!(e("15.0.0-ee").status_param(), StatusParam::Required);
        assert!(!e("15.9.0").sends_poll_interval() && e("15.10.0").sends_poll_interval());
        assert!(!e("17.2.9").has_hmac() && e("17.3.0").has_hmac());
        assert!(!e("17.3.0").reporter_reads_mr_checks() && e("17.4.0").reporter_reads_mr_checks());
        assert!(!e("18.1.0").refusal_404_from_service() && e("18.2.0").refusal_404_from_service());
        assert!(!e("16.0.0").retry_resets_to_pending() && e("16.1.0").retry_resets_to_pending());
        assert!(
            !e("16.0.0").retry_checks_permission_first()
                && e("16.1.0").retry_checks_permission_first()
        );
        assert!(!e("14.10.0").response_needs_developer() && e("15.0.0").response_needs_developer());
        assert!(!e("17.11.0").group_branch_scopes() && e("18.0.0").group_branch_scopes());
        assert!(
            !e("15.10.0").protected_branches_read_code()
                && e("15.11.0").protected_branches_read_code()
        );
        assert!(!e("18.8.0").fine_grained_tokens() && e("18.9.0").fine_grained_tokens());
        assert!(!e("17.10.0").has_external_controls() && e("17.11.0").has_external_controls());
        assert!(!e("15.6.0").has_retry() && e("15.7.0").has_retry());
        assert!(!e("15.11.0").cuts_urls() && e("16.0.0").cuts_urls());
        assert!(!e("15.8.0").has_must_succeed() && e("15.9.0").has_must_succeed());
        assert!(!e("16.4.0").accepts_pending() && e("16.5.0").accepts_pending());
        assert!(!e("16.5.0").pending_times_out() && e("16.6.0").pending_times_out());
        assert!(e("14.10.0").says_approved() && !e("15.0.0").says_approved());
        assert!(e("14.0.5").needs_feature_flag() && !e("14.1.0").needs_feature_flag());
        assert!(!e("19.3.0").matches_wildcard_scopes() && e("19.4.1").matches_wildcard_scopes());
        assert!(!e("19.3.0").reduced_response_entity() && e("19.4.0").reduced_response_entity());
    }
}
