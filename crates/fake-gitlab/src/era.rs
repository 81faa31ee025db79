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

    /// Row `retry-15-7`: the retry endpoint exists.
    pub fn has_retry(self) -> bool {
        self.at_least(15, 7)
    }

    /// Row `poll-interval-15-11`: the MR check list sends `Poll-Interval`.
    pub fn sends_poll_interval(self) -> bool {
        self.at_least(15, 11)
    }

    /// Row `must-succeed-15-9`: the project setting "Status checks must succeed" exists
    /// (shown by `GET /projects/:id` on Ultimate projects only).
    pub fn has_must_succeed(self) -> bool {
        self.at_least(15, 9)
    }

    /// Row `url-cut-15-0`: the MR list cuts `external_url` at `?` (for Developers and
    /// Maintainers alike); 14.x shows the full URL.
    pub fn cuts_urls(self) -> bool {
        self.at_least(15, 0)
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
    /// (`read_external_status_check_response`); before, `approve_merge_request`
    /// (Developer, or a member who authored or is assigned to the MR). Seen in 17.4's
    /// source and in 18.9's; the first version is not known.
    pub fn reporter_reads_mr_checks(self) -> bool {
        self.at_least(17, 4)
    }

    /// Row `response-404-permission`: a user who passes `approve_merge_request` without
    /// `provide_status_check_response` (an author or assignee below Developer) gets a 404
    /// after the SHA check: `{"message":"404 Not Found"}` (`not_found!`) up to 18.x, and
    /// from 18.9 a service's error, `{"message":null}`.
    pub fn refusal_404_from_service(self) -> bool {
        self.at_least(18, 9)
    }

    /// Row `retry-permission-16-5`: from 16.5 the retry endpoint looks the MR up with
    /// `retry_failed_status_checks` (403 below Developer); 15.7–16.4 look it up with
    /// `approve_merge_request` and answer 404 to an approver without that permission.
    pub fn retry_checks_permission_first(self) -> bool {
        self.at_least(16, 5)
    }

    /// Row `retry-pending-16-5`: from 16.5 a retry puts the check back to `pending`;
    /// 15.7–16.4 only send the webhook again, and the list shows `failed` until the
    /// service answers.
    pub fn retry_resets_to_pending(self) -> bool {
        self.at_least(16, 5)
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
        assert!(!e("15.10.0").sends_poll_interval() && e("15.11.0").sends_poll_interval());
        assert!(!e("17.2.9").has_hmac() && e("17.3.0").has_hmac());
        assert!(!e("17.3.0").reporter_reads_mr_checks() && e("17.4.0").reporter_reads_mr_checks());
        assert!(!e("18.8.0").refusal_404_from_service() && e("18.9.0").refusal_404_from_service());
        assert!(!e("16.4.0").retry_resets_to_pending() && e("16.5.0").retry_resets_to_pending());
        assert!(
            !e("16.4.0").retry_checks_permission_first()
                && e("16.5.0").retry_checks_permission_first()
        );
        assert!(!e("15.6.0").has_retry() && e("15.7.0").has_retry());
        assert!(!e("14.10.0").cuts_urls() && e("15.0.0").cuts_urls());
        assert!(!e("15.8.0").has_must_succeed() && e("15.9.0").has_must_succeed());
        assert!(!e("16.4.0").accepts_pending() && e("16.5.0").accepts_pending());
        assert!(!e("16.5.0").pending_times_out() && e("16.6.0").pending_times_out());
        assert!(e("14.10.0").says_approved() && !e("15.0.0").says_approved());
        assert!(e("14.0.5").needs_feature_flag() && !e("14.1.0").needs_feature_flag());
        assert!(!e("19.3.0").matches_wildcard_scopes() && e("19.4.1").matches_wildcard_scopes());
        assert!(!e("19.3.0").reduced_response_entity() && e("19.4.0").reduced_response_entity());
    }
}
