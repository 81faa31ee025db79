//! Why GitLab refused an external control's status, in its own words (docs/gitlab-api.md,
//! row `control-order`), and what to do about each: the message names the input that
//! caused it (the control id, the secret's variable, the project, the runner's clock).

use crate::error::Error;

/// One of GitLab's refusals, read from the answer's status and `error` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No route: GitLab before 17.11, or the Free edition (`404 Not Found`).
    NoEndpoint,
    /// `404 Control not found`: no control with that id on the instance.
    ControlNotFound,
    /// `403 Control is not external`.
    NotExternal,
    /// `401 Missing required headers`: the signature headers did not arrive.
    MissingHeaders,
    /// `401 Invalid nonce`: GitLab saw this exact request already (status-check never
    /// sends a nonce twice: something in between repeated the request).
    Replayed,
    /// `401 Invalid signature`: the secret (or the signed path) is not the control's.
    BadSignature,
    /// `401 Invalid timestamp`: ahead of the server's clock.
    ClockAhead,
    /// `401 Request has expired`: 15 s or more behind the server's clock.
    ClockBehind,
    /// `404 Project not found`: no such project, or the control's framework is not
    /// applied to it.
    ProjectNotFound,
    /// `401 Not permitted to update compliance control status`: no licence.
    NotLicensed,
    /// `400 Failed to update compliance control status. Error: …`.
    NotStored(String),
    /// Anything else: a proxy's answer, or GitLab's that this reading does not know.
    Other { status: u16, message: String },
}

/// The inputs a refusal's message names.
pub(crate) struct Inputs<'a> {
    pub control_id: u64,
    pub control_source: &'a str,
    pub project_id: u64,
    pub project_source: &'a str,
    pub secret_source: &'a str,
    pub api_url: &'a str,
    /// The server's clock minus the runner's, when an answer's `Date` told it.
    pub offset_secs: Option<i64>,
}

impl Refusal {
    pub(crate) fn of(status: u16, message: &str) -> Refusal {
        match (status, message.trim()) {
            (404, "404 Not Found") => Refusal::NoEndpoint,
            (404, "Control not found") => Refusal::ControlNotFound,
            (403, "Control is not external") => Refusal::NotExternal,
            (401, "Missing required headers") => Refusal::MissingHeaders,
            (401, "Invalid nonce") => Refusal::Replayed,
            (401, "Invalid signature") => Refusal::BadSignature,
            (401, "Invalid timestamp") => Refusal::ClockAhead,
            (401, "Request has expired") => Refusal::ClockBehind,
            (404, "Project not found") => Refusal::ProjectNotFound,
            (401, "Not permitted to update compliance control status") => Refusal::NotLicensed,
            (400, m) if m.starts_with("Failed to update compliance control status") => {
                Refusal::NotStored(m.to_owned())
            }
            (status, m) => Refusal::Other {
                status,
                message: m.to_owned(),
            },
        }
    }

    /// A refusal about time: the runner's clock and the server's disagree.
    pub(crate) fn is_clock(&self) -> bool {
        matches!(self, Refusal::ClockAhead | Refusal::ClockBehind)
    }

    /// The error to stop with: what GitLab said, which input it is about, what to do.
    pub(crate) fn error(&self, i: &Inputs) -> Error {
        let control = format!("control {} ({})", i.control_id, i.control_source);
        let project = format!("project {} ({})", i.project_id, i.project_source);
        match self {
            Refusal::NoEndpoint => Error::api(format!(
                "GitLab has no external controls endpoint at {} (404 Not Found)",
                i.api_url
            ))
            .hint("external controls need GitLab 17.11 or later, Premium or Ultimate; check the API URL too"),
            Refusal::ControlNotFound => Error::api(format!(
                "GitLab has no {control} (404 Control not found)"
            ))
            .hint("give the id of an external control of a compliance requirement (Secure → Compliance center → Frameworks → the requirement); GitLab looks it up on the whole instance"),
            Refusal::NotExternal => Error::api(format!(
                "{control} is not an external control (403 Control is not external)"
            ))
            .hint("only external controls take a status from outside GitLab: give the id of an external control, or make this one external in its framework"),
            Refusal::MissingHeaders => Error::api(
                "GitLab did not receive the signature headers X-Gitlab-Timestamp, X-Gitlab-Nonce and X-Gitlab-Hmac-Sha256 (401 Missing required headers)",
            )
            .hint("a proxy between the job and GitLab drops them: let X-Gitlab-* request headers through"),
            Refusal::Replayed => Error::api(
                "GitLab saw the same signed request twice (401 Invalid nonce): something between the job and GitLab repeated it, and each attempt since met the same",
            )
            .hint("a proxy or load balancer that retries requests repeats the nonce; the status may be set anyway: check the control, and let PATCH requests through unretried"),
            Refusal::BadSignature => Error::api(format!(
                "the secret does not match {control} (401 Invalid signature)"
            ))
            .hint(format!(
                "the secret is set on the control in its compliance framework (its HMAC shared secret): store that same value in {}",
                i.secret_source
            )),
            Refusal::ClockAhead | Refusal::ClockBehind => {
                let (word, margin) = if matches!(self, Refusal::ClockAhead) {
                    ("Invalid timestamp", "ahead of")
                } else {
                    ("Request has expired", "15 s or more behind")
                };
                let measured = i.offset_secs.map_or_else(
                    || "GitLab's answer had no Date header to set the time by".to_owned(),
                    |offset| format!("GitLab's clock is {} this runner's, and the signature was made on GitLab's time, yet refused again", human_offset(offset)),
                );
                Error::api(format!(
                    "GitLab refused the signature's timestamp as {margin} its clock ({word}): {measured}"
                ))
                .hint("synchronise the runner's clock (NTP); GitLab accepts a timestamp up to 14 s behind its own clock, never ahead")
            }
            Refusal::ProjectNotFound => Error::api(format!(
                "GitLab found no {project} that has the framework holding {control} (404 Project not found)"
            ))
            .hint("apply the compliance framework that holds the control to the project (Secure → Compliance center → Projects), or check the project: control sets the status of CI_PROJECT_ID's project"),
            Refusal::NotLicensed => Error::api(format!(
                "{project} may not use compliance frameworks (401 Not permitted to update compliance control status)"
            ))
            .hint("external controls need GitLab Premium or Ultimate on the project's top-level group"),
            Refusal::NotStored(message) => Error::api(format!(
                "GitLab could not store the status of {control} on {project} (400 {message})"
            ))
            .hint("the framework may have changed meanwhile: run the job again")
            .into_transient(),
            Refusal::Other { status, message } => Error::api(format!(
                "setting the status of {control} answered {status}: {message}"
            ))
            .hint("GitLab answers this endpoint with {\"error\": …}: another answer comes from something between the job and GitLab (a proxy, a firewall), or from a GitLab this status-check does not know"),
        }
    }
}

/// `12 s ahead of`, `3 min 20 s behind`.
fn human_offset(offset: i64) -> String {
    let (secs, way) = if offset >= 0 {
        (offset, "ahead of")
    } else {
        (-offset, "behind")
    };
    if secs >= 60 {
        format!("{} min {} s {way}", secs / 60, secs % 60)
    } else {
        format!("{secs} s {way}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_of_gitlab_s_words_is_read() {
        assert_eq!(Refusal::of(404, "404 Not Found"), Refusal::NoEndpoint);
        assert_eq!(
            Refusal::of(404, "Control not found"),
            Refusal::ControlNotFound
        );
        assert_eq!(
            Refusal::of(403, "Control is not external"),
            Refusal::NotExternal
        );
        assert_eq!(
            Refusal::of(401, "Missing required headers"),
            Refusal::MissingHeaders
        );
        assert_eq!(Refusal::of(401, "Invalid nonce"), Refusal::Replayed);
        assert_eq!(Refusal::of(401, "Invalid signature"), Refusal::BadSignature);
        assert_eq!(Refusal::of(401, "Invalid timestamp"), Refusal::ClockAhead);
        assert_eq!(
            Refusal::of(401, "Request has expired"),
            Refusal::ClockBehind
        );
        assert_eq!(
            Refusal::of(404, "Project not found"),
            Refusal::ProjectNotFound
        );
        assert_eq!(
            Refusal::of(401, "Not permitted to update compliance control status"),
            Refusal::NotLicensed
        );
        assert!(matches!(
            Refusal::of(400, "Failed to update compliance control status. Error: x"),
            Refusal::NotStored(_)
        ));
        assert!(matches!(
            Refusal::of(401, "401 Unauthorized"),
            Refusal::Other { status: 401, .. }
        ));
        // A status and words that do not go together are not GitLab's refusal.
        assert!(matches!(
            Refusal::of(403, "Invalid signature"),
            Refusal::Other { .. }
        ));
        assert!(Refusal::ClockAhead.is_clock() && Refusal::ClockBehind.is_clock());
        assert!(!Refusal::BadSignature.is_clock());
    }

    #[test]
    fn an_offset_reads_as_a_duration_and_a_direction() {
        assert_eq!(human_offset(600), "10 min 0 s ahead of");
        assert_eq!(human_offset(-200), "3 min 20 s behind");
        assert_eq!(human_offset(12), "12 s ahead of");
    }
}
