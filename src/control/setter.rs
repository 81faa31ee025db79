//! What each answer to a control's status PATCH means, and what comes next: no clock,
//! no I/O. The caller signs each attempt afresh (a new nonce, `timestamp`), sends it,
//! and hands the answer and the runner's clock at that moment to `on_answer`.
//!
//! - `200 {"status": <asked>}`: set. Any other 2xx is not GitLab's answer: retried,
//!   then an error, never taken for a success.
//! - GitLab refused the timestamp (ahead of its clock, or 15 s old): once, the answer's
//!   `Date` says how far the runner's clock is off, and the next attempt is signed on
//!   GitLab's time. A runner minutes off costs one request more, never a failure.
//! - `Invalid nonce` to a nonce never sent before: something in between repeated the
//!   request (which may have set the status): a retry, with a new nonce.
//! - 429, 5xx, a connection that failed or broke: a retry (`--retries`), after the
//!   `Retry-After` GitLab gave, else the caller's backoff. Setting a status twice is
//!   harmless (GitLab answers 200 and changes nothing), so an attempt whose outcome is
//!   unknown is retried too.
//! - Any other refusal: stop, with what it means.

use std::time::Duration;

use super::refusal::Refusal;
use crate::gitlab::{ApiError, Reply};

/// Seconds the timestamp is set back from the clock it is taken on: GitLab refuses one
/// ahead of its own clock by a second, and accepts one 14 s behind.
pub(crate) const MARGIN_SECS: i64 = 2;

pub(crate) struct Setter {
    /// The status asked for: GitLab's 200 says it back.
    asked: &'static str,
    retries_left: usize,
    /// The server's clock minus the runner's, in seconds, once an answer's `Date` said.
    offset_secs: Option<i64>,
}

#[derive(Debug)]
pub(crate) enum Step {
    /// Stored: GitLab said so (`200 {"status": <asked>}`).
    Set,
    /// Sign afresh and send again: after `after` (GitLab's `Retry-After`), else at once
    /// (`Clock`) or after the caller's backoff (`None`).
    Again { after: Option<Duration>, why: Why },
    /// GitLab refused: stop.
    Refused(Refusal),
    /// No usable answer within the retries.
    GaveUp(ApiError),
}

/// Why an attempt is made again, for the log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// The runner's clock was off; the next attempt is signed on the server's time.
    Clock { offset_secs: i64 },
    /// The request was repeated on the way (`Invalid nonce`).
    Replayed,
    /// A 429, a 5xx, a connection that failed.
    Transient(String),
}

impl Setter {
    pub(crate) fn new(asked: &'static str, retries: usize) -> Setter {
        Setter {
            asked,
            retries_left: retries,
            offset_secs: None,
        }
    }

    /// The timestamp to sign with, on the server's clock when it is known.
    pub(crate) fn timestamp(&self, runner_secs: i64) -> i64 {
        runner_secs + self.offset_secs.unwrap_or(0) - MARGIN_SECS
    }

    /// How far the runner's clock is off, once GitLab's `Date` told.
    pub(crate) fn offset_secs(&self) -> Option<i64> {
        self.offset_secs
    }

    pub(crate) fn on_answer(&mut self, answer: Result<Reply, ApiError>, runner_secs: i64) -> Step {
        let reply = match answer {
            Ok(reply) => reply,
            Err(e) => return self.transient(e.is_transient(), e.fault_class(), || e),
        };
        if reply.is_success() {
            let said = serde_json::from_str::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("status")?.as_str().map(str::to_owned));
            if said.as_deref() == Some(self.asked) {
                return Step::Set;
            }
            // Not GitLab's answer (a proxy's page?): whether it was set is unknown, and
            // setting it again is harmless.
            let asked = self.asked;
            return self.transient(true, "unexpected answer".into(), || {
                reply.unexpected(format!(
                    "GitLab answers {{\"status\":\"{asked}\"}}: this answer comes from something else"
                ))
            });
        }
        let error = reply.error();
        let refusal = Refusal::of(reply.status, error.message());
        if refusal.is_clock()
            && self.offset_secs.is_none()
            && let Some(date) = reply.headers.date
        {
            let offset_secs = unix_secs(date) - runner_secs;
            self.offset_secs = Some(offset_secs);
            return Step::Again {
                after: Some(Duration::ZERO),
                why: Why::Clock { offset_secs },
            };
        }
        if refusal == Refusal::Replayed && self.retries_left > 0 {
            self.retries_left -= 1;
            return Step::Again {
                after: None,
                why: Why::Replayed,
            };
        }
        if error.is_transient() {
            let class = error.fault_class();
            return self.transient(true, class, || error);
        }
        Step::Refused(refusal)
    }

    fn transient(
        &mut self,
        transient: bool,
        class: String,
        error: impl FnOnce() -> ApiError,
    ) -> Step {
        if !transient || self.retries_left == 0 {
            return Step::GaveUp(error());
        }
        self.retries_left -= 1;
        let error = error();
        Step::Again {
            after: error.retry_after(),
            why: Why::Transient(class),
        }
    }
}

fn unix_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
#[path = "setter_tests.rs"]
mod tests;
