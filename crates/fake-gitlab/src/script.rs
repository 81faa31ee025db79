//! What tests script: injected faults, timeline events, and the request log.

use serde::{Deserialize, Serialize};

/// A fault injected into the first `times` requests matching `method` and `path_contains`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Fault {
    /// Matched case-insensitively; None = any method.
    pub method: Option<String>,
    /// Substring of the request target (path plus `?query`); None = any path.
    pub path_contains: Option<String>,
    /// The request's path, exactly (without the query); None = any.
    #[serde(default)]
    pub path_is: Option<String>,
    /// How many more matching requests this fault hits.
    pub times: usize,
    /// How many matching requests it lets pass first.
    #[serde(default)]
    pub after: usize,
    pub kind: FaultKind,
}

impl Fault {
    /// Any request, once.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            method: None,
            path_contains: None,
            path_is: None,
            times: 1,
            after: 0,
            kind,
        }
    }

    pub fn on(mut self, method: &str, path_contains: &str) -> Fault {
        self.method = Some(method.to_string());
        self.path_contains = Some(path_contains.to_string());
        self
    }

    /// Requests whose path (without the query) is exactly `path`.
    pub fn at(mut self, method: &str, path: &str) -> Fault {
        self.method = Some(method.to_string());
        self.path_is = Some(path.to_string());
        self
    }

    /// Lets the first `n` matching requests pass.
    pub fn after(mut self, n: usize) -> Fault {
        self.after = n;
        self
    }

    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    pub(crate) fn matches(&self, method: &str, target: &str) -> bool {
        let path = target.split('?').next().unwrap_or(target);
        self.times > 0
            && self.path_is.as_deref().is_none_or(|p| p == path)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| target.contains(p))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum FaultKind {
    /// 429 text/plain "Retry later" + RateLimit-* headers; `Retry-After` only when Some
    /// (raw value: seconds or an HTTP date).
    TooManyRequests { retry_after: Option<String> },
    Status {
        code: u16,
        body: String,
        content_type: String,
    },
    /// An nginx-style HTML error page with this status.
    HtmlError(u16),
    /// Read the request, close the socket without answering.
    Reset,
    /// Handle the request normally (state changes happen), send the status line, headers
    /// with the full Content-Length and half the body, then close.
    ResetMidBody,
    /// Sleep this many ms, then answer normally.
    Delay(u64),
    /// 200 application/json with a truncated JSON body.
    InvalidJson,
    /// 200 application/json with `{"unexpected":true}` where an array is expected, `[]`
    /// where an object is.
    WrongShape,
    /// 200 application/json with an empty body.
    Empty,
    /// 3xx with a Location header.
    Redirect { code: u16, location: String },
    /// Answer normally, with these headers added (e.g. malformed `RateLimit-*`).
    ExtraHeaders(Vec<(String, String)>),
    /// Answer normally but write the body one byte per interval.
    SlowDrip { interval_ms: u64 },
    /// 200 application/json with a valid JSON array of about `bytes` bytes.
    Huge { bytes: usize },
    /// Run the real endpoint first (a POST changes the world), then answer as the inner
    /// fault does: GitLab acted, but the client cannot tell (`Reset`, an `HtmlError` from a
    /// proxy, `InvalidJson`, ...). With `Delay(ms)` the endpoint's own answer is sent after
    /// the delay (a slow answer to a request already acted on). Nesting it is pointless:
    /// an inner `AfterActing` is read as its own inner fault.
    AfterActing(Box<FaultKind>),
}

/// A scripted change of the world, fired once.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub trigger: Trigger,
    pub action: Action,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Trigger {
    /// When the MR's status_checks list has been GET (page 1) this many times, before
    /// answering that request. Every arriving GET counts (also faulted or refused ones).
    AfterPolls {
        project_id: u64,
        iid: u64,
        polls: usize,
    },
    /// This many ms after server start; evaluated on every request arrival (and in
    /// `wait_until`).
    AfterMs(u64),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Action {
    SetStatus {
        project_id: u64,
        iid: u64,
        check: String,
        status: String,
    },
    PushHead {
        project_id: u64,
        iid: u64,
        sha: String,
    },
    SetMrState {
        project_id: u64,
        iid: u64,
        state: String,
    },
    AddCheck {
        project_id: u64,
        name: String,
        external_url: String,
    },
}

impl Action {
    /// Applies the action; an action naming something that does not exist does nothing.
    pub(crate) fn apply(&self, w: &mut crate::World) {
        match self {
            Action::SetStatus {
                project_id,
                iid,
                check,
                status,
            } => {
                let _ = w.try_set_status(*project_id, *iid, check, status);
            }
            Action::PushHead {
                project_id,
                iid,
                sha,
            } => {
                if w.mr(*project_id, *iid).is_some() {
                    w.push_head(*project_id, *iid, sha);
                }
            }
            Action::SetMrState {
                project_id,
                iid,
                state,
            } => {
                if w.mr(*project_id, *iid).is_some() {
                    w.mr_mut(*project_id, *iid).state = state.clone();
                }
            }
            Action::AddCheck {
                project_id,
                name,
                external_url,
            } => {
                if w.project(*project_id).is_some() {
                    w.add_check(*project_id, name, external_url);
                }
            }
        }
    }
}

/// Which credential a request carried.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Auth {
    None,
    PrivateToken(String),
    Bearer(String),
    JobToken(String),
}

/// The credential in a header list (names compared case-insensitively). Precedence:
/// PRIVATE-TOKEN, then Authorization: Bearer, then JOB-TOKEN.
pub(crate) fn auth_of(headers: &[(String, String)]) -> Auth {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(t) = get("private-token") {
        return Auth::PrivateToken(t);
    }
    if let Some(a) = get("authorization") {
        let mut parts = a.splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        if scheme.eq_ignore_ascii_case("bearer") {
            return Auth::Bearer(parts.next().unwrap_or("").trim().to_string());
        }
    }
    if let Some(t) = get("job-token") {
        return Auth::JobToken(t);
    }
    Auth::None
}

/// One request as the fake received it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    /// Raw path, without the query.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Milliseconds since server start, at arrival.
    pub at_ms: u64,
    /// What was answered; 0 if the connection was reset (or not answered yet).
    pub status: u16,
    /// The fault that answered it, if one did (its kind, as `Debug` writes it).
    #[serde(default)]
    pub fault: Option<String>,
}

impl LoggedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn auth(&self) -> Auth {
        auth_of(&self.headers)
    }

    /// First value of query parameter `k`, percent-decoded.
    pub fn query_param(&self, k: &str) -> Option<String> {
        crate::http::parse_form(&self.query)
            .into_iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
    }
}

/// The demo timeline (`--scenario demo-timeline`): while something polls MR !7 of project
/// 42, "security-scan" passes at the 2nd poll, "license-check" at the 4th and
/// "deploy-approval" at the 6th.
impl Event {
    /// When MR !7 of project 42 has been polled `polls` times: `action`.
    pub fn at_poll(polls: usize, action: Action) -> Event {
        Event {
            trigger: Trigger::AfterPolls {
                project_id: 42,
                iid: 7,
                polls,
            },
            action,
        }
    }

    /// At poll `polls` of MR !7 (project 42), `check` gets `status`.
    pub fn status_at_poll(polls: usize, check: &str, status: &str) -> Event {
        Event::at_poll(
            polls,
            Action::SetStatus {
                project_id: 42,
                iid: 7,
                check: check.to_string(),
                status: status.to_string(),
            },
        )
    }

    /// At poll `polls`, someone pushes `sha` to MR !7's source branch.
    pub fn push_at_poll(polls: usize, sha: &str) -> Event {
        Event::at_poll(
            polls,
            Action::PushHead {
                project_id: 42,
                iid: 7,
                sha: sha.to_string(),
            },
        )
    }
}

pub fn demo_events() -> Vec<Event> {
    [
        (2, "security-scan"),
        (4, "license-check"),
        (6, "deploy-approval"),
    ]
    .into_iter()
    .map(|(polls, check)| Event::status_at_poll(polls, check, "passed"))
    .collect()
}
