//! One answer as it came back, whatever its status: what the client's callers decode,
//! and what the gate's core reads to decide what an answer means (`wait/gate/answer.rs`).

use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiErrorKind};
use super::response::{Headers, decode_detail, error_message};

/// An HTTP answer: its status, the headers status-check reads, the body.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub method: &'static str,
    /// The API path (below `/api/v4`), without the query string.
    pub path: String,
    pub status: u16,
    pub headers: Headers,
    pub body: String,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A 2xx as it is; any other status as the error it stands for.
    pub(crate) fn success(self) -> Result<Reply, ApiError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.error())
        }
    }

    /// The error a status that is not a 2xx stands for: a redirect (never followed) or
    /// an error status with GitLab's message.
    pub(crate) fn error(&self) -> ApiError {
        let kind = match self.status {
            300..=399 => ApiErrorKind::Redirect {
                status: self.status,
                location: self
                    .headers
                    .location
                    .clone()
                    .unwrap_or_else(|| "(no Location header)".into()),
            },
            status => ApiErrorKind::Status {
                status,
                message: error_message(status, &self.headers.content_type, &self.body),
                retry_after: self.headers.retry_after,
                budget: self.headers.budget,
            },
        };
        self.fail(kind)
    }

    /// The body as `T`; a body that is not (an empty 204 reads as JSON `null`).
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body = if self.body.trim().is_empty() && self.status == 204 {
            "null"
        } else {
            &self.body
        };
        serde_json::from_str(body).map_err(|e| {
            self.fail(ApiErrorKind::Decode {
                status: self.status,
                detail: decode_detail(&self.body, &e),
            })
        })
    }

    /// A body that decoded but is not what GitLab sends (`detail` says how).
    pub(crate) fn unexpected(&self, detail: String) -> ApiError {
        self.fail(ApiErrorKind::Decode {
            status: self.status,
            detail,
        })
    }

    fn fail(&self, kind: ApiErrorKind) -> ApiError {
        ApiError {
            method: self.method,
            path: self.path.clone(),
            kind,
        }
    }
}
