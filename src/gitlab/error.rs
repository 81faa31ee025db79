//! What went wrong talking to GitLab, and the hints that teach the fix.

use std::fmt;
use std::time::Duration;

use super::response::Budget;
use crate::error::Error;

#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub method: &'static str,
    /// The API path (below `/api/v4`), without the query string.
    pub path: String,
    pub kind: ApiErrorKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ApiErrorKind {
    /// GitLab (or a proxy in front of it) answered with an error status.
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
        /// What a 429 said of the rate limit budget (`RateLimit-*`), if anything.
        budget: Option<Budget>,
    },
    /// A 3xx: never followed, so the token cannot leak to another host.
    Redirect { status: u16, location: String },
    /// No usable answer: DNS, connect, TLS, timeout, reset.
    Transport { kind: Transport, detail: String },
    /// A 2xx whose body is not the JSON we expect.
    Decode { status: u16, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Dns,
    Connect,
    Tls,
    Timeout,
    /// The connection broke after the request was (maybe) sent.
    Reset,
    TooLarge,
    Other,
}

impl ApiError {
    pub(crate) fn status(&self) -> Option<u16> {
        match self.kind {
            ApiErrorKind::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    /// GitLab's own message (`message` or `error` of the JSON body).
    pub(crate) fn message(&self) -> &str {
        match &self.kind {
            ApiErrorKind::Status { message, .. } => message,
            _ => "",
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ApiErrorKind::Status { retry_after, .. } => retry_after,
            _ => None,
        }
    }

    /// The rate limit budget the error answer carried.
    pub(crate) fn budget(&self) -> Option<Budget> {
        match self.kind {
            ApiErrorKind::Status { budget, .. } => budget,
            _ => None,
        }
    }

    /// Worth trying again: rate limits, gateway errors, resets and timeouts.
    /// DNS failures, TLS failures, auth and client errors are not.
    pub(crate) fn is_transient(&self) -> bool {
        match &self.kind {
            ApiErrorKind::Status { status, .. } => *status == 429 || *status >= 500,
            ApiErrorKind::Transport { kind, .. } => matches!(
                kind,
                Transport::Connect | Transport::Timeout | Transport::Reset
            ),
            ApiErrorKind::Redirect { .. } | ApiErrorKind::Decode { .. } => false,
        }
    }

    /// For a POST: true when GitLab may have acted on the request although we
    /// got no confirmation (a reset or timeout after sending, a gateway error).
    /// A 429 or 503 means the request never reached the application.
    pub(crate) fn outcome_unknown(&self) -> bool {
        match &self.kind {
            ApiErrorKind::Status { status, .. } => matches!(status, 500 | 502 | 504),
            ApiErrorKind::Transport { kind, .. } => {
                matches!(kind, Transport::Timeout | Transport::Reset)
            }
            ApiErrorKind::Decode { .. } => true,
            ApiErrorKind::Redirect { .. } => false,
        }
    }

    /// A short name for the kind of fault, used to log each kind once.
    pub(crate) fn fault_class(&self) -> String {
        match &self.kind {
            ApiErrorKind::Status { status, .. } => status.to_string(),
            ApiErrorKind::Redirect { status, .. } => status.to_string(),
            ApiErrorKind::Transport { kind, .. } => format!("{kind:?}").to_lowercase(),
            ApiErrorKind::Decode { .. } => "decode".into(),
        }
    }

    /// The 404 GitLab gives, after the MR, the check and the SHA passed, to a user who may
    /// approve the MR but not report on it (an author or assignee below Developer): its
    /// `not_found!` says `404 Not Found` (capital F; an unknown MR or check says
    /// `404 Not found`), 18.9's service says nothing (`{"message":null}`). Row
    /// `response-404-permission`.
    pub(crate) fn is_refused_response(&self) -> bool {
        self.status() == Some(404) && matches!(self.message(), "404 Not Found" | "Not Found")
    }

    /// A fine-grained personal access token's refusal (row `fine-grained-tokens`): 403
    /// `{"error":"insufficient_granular_scope", …}`, not the role's `403 Forbidden`. The
    /// permission it lacks, when GitLab names it; `Some("")` when the route takes no
    /// fine-grained token at all.
    pub(crate) fn missing_permission(&self) -> Option<&str> {
        let message = self.message();
        if self.status() != Some(403) || !message.starts_with("insufficient_granular_scope") {
            return None;
        }
        let named = message
            .split_once("permissions: [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(permission, _)| permission);
        Some(named.unwrap_or(""))
    }

    /// The MR's head from a 409's message (`SHA does not match HEAD of source
    /// branch: <sha>`), when it names one.
    pub(crate) fn head_from_409(&self) -> Option<&str> {
        head_from_409(self.message())
    }

    fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = self.endpoint();
        match &self.kind {
            ApiErrorKind::Status {
                status, message, ..
            } => write!(f, "{endpoint} answered {status}: {message}"),
            ApiErrorKind::Redirect { status, location } => {
                write!(f, "{endpoint} answered {status}, a redirect to {location}")
            }
            ApiErrorKind::Transport { detail, .. } => write!(f, "{endpoint} failed: {detail}"),
            ApiErrorKind::Decode { status, detail } => {
                write!(
                    f,
                    "{endpoint} answered {status} with an unexpected body: {detail}"
                )
            }
        }
    }
}

/// The head SHA at the end of GitLab's 409 message: the text after the last
/// `": "`, when it is at least 7 hex digits.
pub fn head_from_409(message: &str) -> Option<&str> {
    message
        .rsplit(": ")
        .next()
        .map(str::trim)
        .filter(|h| h.len() >= 7 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

const HINT_TOKEN_VARS: &str =
    "the token comes from --token, STATUS_CHECK_TOKEN, --token-file or GITLAB_TOKEN";

impl From<ApiError> for Error {
    /// The default reading of an API error: exit 5 with the hints for the
    /// GitLab traps behind each status. Commands that know better (409, 422)
    /// match on the status before falling back to this.
    fn from(e: ApiError) -> Error {
        let transient = e.is_transient() || e.outcome_unknown();
        let mut error = ApiError::reading(e);
        error.transient = transient;
        error
    }
}

impl ApiError {
    /// The message, exit code and hints for each kind of API failure.
    fn reading(e: ApiError) -> Error {
        let text = e.to_string();
        match &e.kind {
            ApiErrorKind::Status { status: 401, message, .. } => {
                let err = Error::api(text);
                if message.contains("invalid_token") || message.contains("expired") {
                    err.hint("the token has expired or was revoked: create a new one")
                        .hint(HINT_TOKEN_VARS)
                } else {
                    err.hint("401 has three causes on status-check endpoints: the token is invalid or expired; it is a CI job token (CI_JOB_TOKEN is refused: use a personal, project or group access token with the `api` scope); or the project has no Ultimate licence (external status checks are an Ultimate feature)")
                        .hint(HINT_TOKEN_VARS)
                }
            }
            ApiErrorKind::Status { status: 403, .. } => match e.missing_permission() {
                Some("") => Error::api(text).hint(
                    "the token is a fine-grained personal access token, which this endpoint does not take: use a personal, project or group access token with the `api` scope",
                ),
                Some(permission) => Error::api(text).hint(format!(
                    "the token is a fine-grained personal access token without the permission `{permission}` on this project: add it to the token (User settings → Access tokens), or use one with the `api` scope; docs/reference.md lists what each command needs"
                )),
                None => Error::api(text).hint(
                    "the token's role on the project is too low: reporting needs Developer; listing and waiting need Developer (Reporter from GitLab 17.4); managing checks (sync) needs Maintainer",
                ),
            },
            ApiErrorKind::Status { status: 404, message, .. } => {
                let err = Error::api(text);
                if message.contains("Project") {
                    err.hint("the project does not exist or the token's user cannot see it: check --project / CI_MERGE_REQUEST_PROJECT_ID / CI_PROJECT_ID and the user's membership")
                } else if message.contains("Commit") {
                    err.hint("the commit is not in this project: check --sha / CI_COMMIT_SHA and --project")
                } else {
                    err.hint("the merge request or check does not exist, or the token's role is below Developer: check --mr / CI_MERGE_REQUEST_IID and the check id")
                }
            }
            ApiErrorKind::Status { status: 400, .. } => Error::usage(text)
                .hint("GitLab rejected a parameter; if the server is older than status-check assumes, set CI_SERVER_VERSION_MAJOR/MINOR"),
            ApiErrorKind::Status { status: 429, .. } => Error::api(text).hint(
                "GitLab is rate limiting this user; status-check retried with backoff. Try again later or raise --retries",
            ),
            ApiErrorKind::Status { status, .. } if *status >= 500 => Error::api(text).hint(
                "GitLab or a proxy in front of it failed; status-check retried with backoff. Try again later or raise --retries",
            ),
            ApiErrorKind::Status { .. } => Error::api(text),
            ApiErrorKind::Redirect { .. } => Error::api(text).hint(
                "status-check never follows redirects, so the token cannot reach another host: set --api-url (or CI_API_V4_URL) to the final API URL, ending in /api/v4",
            ),
            ApiErrorKind::Transport { kind: Transport::Dns, .. } => Error::api(text)
                .hint("the host name does not resolve: check --api-url / STATUS_CHECK_API_URL / CI_API_V4_URL"),
            ApiErrorKind::Transport { kind: Transport::Connect, .. } => Error::api(text)
                .hint("nothing answers at that address: check --api-url and any HTTPS_PROXY / NO_PROXY setting"),
            ApiErrorKind::Transport { kind: Transport::Tls, .. } => Error::api(text).hint(
                "the server's certificate is not trusted: for a self-managed instance with its own CA, pass the CA bundle with --ca-file (CI_SERVER_TLS_CA_FILE is used automatically in jobs)",
            ),
            ApiErrorKind::Transport { kind: Transport::Timeout, .. } => Error::api(text)
                .hint("GitLab did not answer in time: raise --request-timeout or try again later"),
            ApiErrorKind::Transport { kind: Transport::Reset, .. } => Error::api(text).hint(
                "the connection to GitLab broke (a proxy, a load balancer or a restart); status-check retried with backoff. Try again later or raise --retries",
            ),
            ApiErrorKind::Transport { kind: Transport::TooLarge, .. } => Error::api(text)
                .hint("the answer is far larger than any GitLab status-check answer: is --api-url pointing at GitLab?"),
            ApiErrorKind::Transport { .. } => Error::api(text),
            ApiErrorKind::Decode { .. } => Error::api(text).hint(
                "this does not look like GitLab's API: check that --api-url / CI_API_V4_URL ends in /api/v4 and that no proxy answers instead",
            ),
        }
    }
}
