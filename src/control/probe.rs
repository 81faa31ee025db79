//! What can be learnt of a control without setting its status (docs/gitlab-api.md, row
//! `control-order`), for `doctor`:
//!
//! - unsigned, the request stops before the nonce: `401 Missing required headers` means
//!   the control exists and is external (404 and 403 say it does not, or is not);
//! - signed with the secret and the timestamp `1` (not 0, long expired), GitLab checks
//!   the signature, then refuses the timestamp: `Request has expired` means the secret
//!   is right, `Invalid signature` that it is not. Only a random nonce is spent.
//!
//! Whether the project has the control's framework, and the licence, come after a valid
//! signature and timestamp: only setting a status tells.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Control;
use super::refusal::{Inputs, Refusal};
use super::sign::{nonce, signature};
use crate::cli::ControlStatus;
use crate::config::Sourced;
use crate::error::Error;
use crate::gitlab::client::Method;
use crate::gitlab::{Client, Reply, paths};

/// What the unsigned request said of the control.
pub(crate) enum Exists {
    /// `401 Missing required headers`: found, and external.
    External,
    /// A refusal that says why not (no endpoint, no control, not external).
    Refused(Error),
    /// An answer that is none of GitLab's: what it was.
    Unexpected(String),
}

/// What the signed request with an expired timestamp said of the secret.
pub(crate) enum Secret {
    Matches,
    Refused(Error),
    Unexpected(String),
}

/// The unsigned request, and the server's clock minus the runner's (from its `Date`).
pub(crate) fn exists(
    client: &Client,
    control_id: &Sourced<u64>,
    project_id: &Sourced<u64>,
) -> (Exists, Option<i64>) {
    let path = paths::control_status(project_id.value, control_id.value);
    let body = r#"{"status":"pass"}"#;
    let reply = match client.exchange_with(Method::Patch, &path, Some(body), &[]) {
        Ok(reply) => reply,
        Err(e) => return (Exists::Refused(Error::from(e)), None),
    };
    let offset = reply
        .headers
        .date
        .map(|date| secs(date) - secs(SystemTime::now()));
    let refusal = refusal_of(&reply);
    let exists = match refusal {
        Some(Refusal::MissingHeaders) => Exists::External,
        Some(r @ (Refusal::NoEndpoint | Refusal::ControlNotFound | Refusal::NotExternal)) => {
            let inputs = Inputs {
                control_id: control_id.value,
                control_source: control_id.source,
                project_id: project_id.value,
                project_source: project_id.source,
                secret_source: "",
                api_url: client.base_url(),
                offset_secs: offset,
            };
            Exists::Refused(r.error(&inputs))
        }
        _ => Exists::Unexpected(answered(&reply)),
    };
    (exists, offset)
}

/// The request signed with `control`'s secret and the timestamp `1`.
pub(crate) fn secret(client: &Client, control: &Control) -> Secret {
    let path = paths::control_status(control.project_id.value, control.id.value);
    let nonce = match nonce() {
        Ok(nonce) => nonce,
        Err(e) => return Secret::Unexpected(e),
    };
    let (project, id) = (control.project_id.value, control.id.value);
    let signature = signature(
        control.secret.expose(),
        1,
        &nonce,
        project,
        id,
        ControlStatus::Pass,
    );
    let headers = [
        ("X-Gitlab-Timestamp", "1"),
        ("X-Gitlab-Nonce", nonce.as_str()),
        ("X-Gitlab-Hmac-Sha256", signature.as_str()),
    ];
    let body = r#"{"status":"pass"}"#;
    let reply = match client.exchange_with(Method::Patch, &path, Some(body), &headers) {
        Ok(reply) => reply,
        Err(e) => return Secret::Refused(Error::from(e)),
    };
    match refusal_of(&reply) {
        Some(Refusal::ClockBehind) => Secret::Matches,
        Some(Refusal::BadSignature) => {
            let inputs = Inputs {
                control_id: id,
                control_source: control.id.source,
                project_id: project,
                project_source: control.project_id.source,
                secret_source: &control.secret_source,
                api_url: client.base_url(),
                offset_secs: None,
            };
            Secret::Refused(Refusal::BadSignature.error(&inputs))
        }
        _ => Secret::Unexpected(answered(&reply)),
    }
}

fn refusal_of(reply: &Reply) -> Option<Refusal> {
    (!reply.is_success()).then(|| Refusal::of(reply.status, reply.error().message()))
}

fn answered(reply: &Reply) -> String {
    let error = reply.error();
    format!("{} {}", reply.status, error.message())
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
