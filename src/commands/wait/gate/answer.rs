//! What an answer means to the gate: the one place that reads a status, a body and a
//! transport failure, for every request the gate makes. The driver hands over what came
//! back; the simulator hands over what its GitLab served; both reach these rules.
//!
//! - **Transient** (try again at the next poll): 429, any 5xx, a refused connection, a
//!   reset, a timeout (`ApiError::is_transient`, the client's own rule).
//! - **A bad body**: a 2xx that is not the JSON GitLab sends (or a list that names a check
//!   twice). Three in a row, with no good answer between, end the wait.
//! - **Fatal**: everything else (3xx, 401, 403, 404, other 4xx, DNS, TLS, a body over the
//!   cap): nothing to try again.
//! - **A retry** may have been acted on when its answer is lost: a 500, 502 or 504, a
//!   reset, a timeout, a 2xx with a bad body (`ApiError::outcome_unknown`). It counts as a
//!   retry asked for. A 429, a 503 or a refused connection says GitLab did not act.

use std::collections::BTreeSet;

use super::pacer::Setback;
use super::tracker::Item;
use crate::gitlab::response::Headers;
use crate::gitlab::{ApiError, MergeRequest, MrCheck, Reply};
use crate::sha::Sha;

/// What came back for one request: an answer with any status, or none.
pub(crate) type Answer = Result<Reply, ApiError>;

/// What an answer to a read means.
#[derive(Clone, Debug)]
pub(crate) enum Reading<T> {
    Good(T, Headers),
    /// Worth trying again at the next poll; how to pace it, and the error for the log.
    Setback(Setback, ApiError),
    BadBody(ApiError),
    Fatal(ApiError),
}

/// Reads a 2xx body as `T`, or says why not.
pub(crate) fn read<T: serde::de::DeserializeOwned>(answer: Answer) -> Reading<T> {
    let reply = match answer.and_then(Reply::success) {
        Ok(reply) => reply,
        Err(e) => return failed(e),
    };
    match reply.decode() {
        Ok(value) => Reading::Good(value, reply.headers),
        Err(e) => Reading::BadBody(e),
    }
}

/// An answer that is not a 2xx (or none): transient, or fatal.
fn failed<T>(e: ApiError) -> Reading<T> {
    match setback(&e) {
        Some(setback) => Reading::Setback(setback, e),
        None => Reading::Fatal(e),
    }
}

/// How a transient failure paces the next poll; `None`: not transient.
pub(crate) fn setback(e: &ApiError) -> Option<Setback> {
    if !e.is_transient() {
        return None;
    }
    Some(match e.status() {
        Some(429) => Setback::Throttled {
            retry_after: e.retry_after(),
            budget: e.budget(),
        },
        _ => Setback::Unavailable {
            retry_after: e.retry_after(),
        },
    })
}

/// One page of an MR's check list.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    pub(crate) items: Vec<Item>,
    /// The endpoint, for an error about the read.
    pub(crate) path: String,
}

/// One page of an MR's check list: its checks; a check listed twice is a bad body.
pub(crate) fn list_page(answer: Answer) -> Reading<Page> {
    let reply = match answer.and_then(Reply::success) {
        Ok(reply) => reply,
        Err(e) => return failed(e),
    };
    let checks: Vec<MrCheck> = match reply.decode() {
        Ok(checks) => checks,
        Err(e) => return Reading::BadBody(e),
    };
    let mut ids = BTreeSet::new();
    if let Some(twice) = checks.iter().find(|c| !ids.insert(c.id)) {
        return Reading::BadBody(reply.unexpected(format!("check {} is listed twice", twice.id)));
    }
    let items = checks
        .into_iter()
        .map(|c| Item {
            id: c.id,
            name: c.name,
            status: c.status,
        })
        .collect();
    let page = Page {
        items,
        path: reply.path,
    };
    Reading::Good(page, reply.headers)
}

/// Where an MR stands, as a read of it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// Open (or locked, or a state this version does not know: still gating), with its
    /// head when GitLab says it (`sha` is null while GitLab prepares the MR's diff).
    Open(Option<String>),
    Merged(Option<String>),
    Closed,
}

impl Head {
    pub(crate) fn of(mr: &MergeRequest) -> Head {
        // Only a SHA is a head: anything else says nothing about one.
        let sha = mr
            .sha
            .as_deref()
            .and_then(Sha::parse)
            .map(|s| s.as_str().to_owned());
        match mr.state.as_str() {
            "closed" => Head::Closed,
            "merged" => Head::Merged(sha),
            _ => Head::Open(sha),
        }
    }
}

/// What an answer to a retry means.
#[derive(Clone, Debug)]
pub(crate) enum Retried {
    /// A 2xx: GitLab retries the check.
    Accepted,
    /// The answer was lost (a 500, 502, 504, a reset, a timeout, a bad body): GitLab may
    /// have acted. The setback paces the next poll; `bad_body` counts towards three.
    Unknown {
        setback: Setback,
        error: ApiError,
        bad_body: bool,
    },
    /// GitLab did not act (a 429, a 503, a refused connection): asked again next poll.
    NotActed(Setback, ApiError),
    /// 422: GitLab says the check is not failed (any more).
    NotFailed,
    /// 404 or 403: this check will not be retried; its message for the log.
    Refused(String),
    Fatal(ApiError),
}

pub(crate) fn retry(answer: Answer) -> Retried {
    let e = match answer.and_then(Reply::success) {
        Ok(reply) => match reply.decode::<serde_json::Value>() {
            Ok(_) => return Retried::Accepted,
            Err(e) => {
                let setback = Setback::Unavailable { retry_after: None };
                return Retried::Unknown {
                    setback,
                    error: e,
                    bad_body: true,
                };
            }
        },
        Err(e) => e,
    };
    match (e.status(), setback(&e)) {
        (Some(422), _) => Retried::NotFailed,
        (Some(403 | 404), _) => Retried::Refused(e.message().to_owned()),
        (_, Some(setback)) if e.outcome_unknown() => Retried::Unknown {
            setback,
            error: e,
            bad_body: false,
        },
        (_, Some(setback)) => Retried::NotActed(setback, e),
        (_, None) => Retried::Fatal(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gitlab::error::{ApiErrorKind, Transport};

    fn reply(status: u16, body: &str, headers: Headers) -> Answer {
        Ok(Reply {
            method: "POST",
            path: "/x".into(),
            status,
            headers,
            body: body.into(),
        })
    }

    fn status(code: u16) -> Answer {
        reply(code, r#"{"message":"m"}"#, Headers::default())
    }

    fn none(kind: Transport) -> Answer {
        Err(ApiError {
            method: "POST",
            path: "/x".into(),
            kind: ApiErrorKind::Transport {
                kind,
                detail: String::new(),
            },
        })
    }

    fn retried(answer: Answer) -> &'static str {
        match retry(answer) {
            Retried::Accepted => "accepted",
            Retried::Unknown { bad_body: true, .. } => "unknown, bad body",
            Retried::Unknown { .. } => "unknown",
            Retried::NotActed(..) => "not acted",
            Retried::NotFailed => "not failed",
            Retried::Refused(_) => "refused",
            Retried::Fatal(_) => "fatal",
        }
    }

    #[test]
    fn what_a_retry_s_answer_means() {
        assert_eq!(
            retried(reply(
                202,
                r#"{"message":"202 Accepted"}"#,
                Headers::default()
            )),
            "accepted"
        );
        assert_eq!(
            retried(reply(202, "<html>", Headers::default())),
            "unknown, bad body"
        );
        assert_eq!(retried(status(422)), "not failed");
        assert_eq!(retried(status(403)), "refused");
        assert_eq!(retried(status(404)), "refused");
        for code in [500, 502, 504] {
            assert_eq!(retried(status(code)), "unknown", "{code}");
        }
        assert_eq!(retried(none(Transport::Reset)), "unknown");
        assert_eq!(retried(none(Transport::Timeout)), "unknown");
        for code in [429, 503] {
            assert_eq!(retried(status(code)), "not acted", "{code}");
        }
        assert_eq!(retried(none(Transport::Connect)), "not acted");
        for code in [301, 400, 401, 409] {
            assert_eq!(retried(status(code)), "fatal", "{code}");
        }
        for kind in [
            Transport::Dns,
            Transport::Tls,
            Transport::TooLarge,
            Transport::Other,
        ] {
            assert_eq!(retried(none(kind)), "fatal", "{kind:?}");
        }
    }

    fn reading(answer: Answer) -> String {
        match read::<Vec<u64>>(answer) {
            Reading::Good(v, _) => format!("good {v:?}"),
            Reading::Setback(s, _) => format!("{s:?}"),
            Reading::BadBody(_) => "bad body".into(),
            Reading::Fatal(_) => "fatal".into(),
        }
    }

    #[test]
    fn what_a_read_s_answer_means() {
        assert_eq!(
            reading(reply(200, "[1, 2]", Headers::default())),
            "good [1, 2]"
        );
        for body in ["", "<html>", "{}", "[1"] {
            assert_eq!(
                reading(reply(200, body, Headers::default())),
                "bad body",
                "{body}"
            );
        }
        let after = Headers {
            retry_after: Some(Duration::from_secs(3)),
            ..Headers::default()
        };
        assert_eq!(
            reading(reply(429, "Retry later", after.clone())),
            "Throttled { retry_after: Some(3s), budget: None }"
        );
        assert_eq!(
            reading(reply(503, "", after)),
            "Unavailable { retry_after: Some(3s) }"
        );
        for code in [500, 502, 504] {
            assert_eq!(reading(status(code)), "Unavailable { retry_after: None }");
        }
        for kind in [Transport::Connect, Transport::Reset, Transport::Timeout] {
            assert_eq!(reading(none(kind)), "Unavailable { retry_after: None }");
        }
        for code in [302, 401, 403, 404, 422] {
            assert_eq!(reading(status(code)), "fatal", "{code}");
        }
        assert_eq!(reading(none(Transport::Dns)), "fatal");
    }

    #[test]
    fn a_head_is_a_sha_or_nothing() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let mr = |state: &str, sha: Option<&str>| {
            let json = serde_json::json!({"iid": 7, "state": state, "sha": sha});
            Head::of(&serde_json::from_value(json).unwrap())
        };
        assert_eq!(mr("opened", Some(sha)), Head::Open(Some(sha.into())));
        assert_eq!(mr("locked", Some(sha)), Head::Open(Some(sha.into())));
        assert_eq!(mr("reopened?", None), Head::Open(None));
        assert_eq!(mr("opened", Some("")), Head::Open(None));
        assert_eq!(mr("opened", Some("HEAD")), Head::Open(None));
        assert_eq!(mr("merged", Some(sha)), Head::Merged(Some(sha.into())));
        assert_eq!(mr("closed", None), Head::Closed);
        let missing: MergeRequest = serde_json::from_str(r#"{"iid": 7}"#).unwrap();
        assert_eq!(Head::of(&missing), Head::Open(None));
    }
}
