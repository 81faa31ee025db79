//! Compliance external controls: `PATCH /projects/:id/compliance_external_controls/
//! :control_id/status`, as `ee/lib/api/compliance_external_controls.rb` answers it
//! (docs/gitlab-api.md, rows `external-controls-17-11` and `control-order`).
//!
//! No user is authenticated: the request is signed with the control's secret. The checks
//! run in GitLab's order, each with its status and `{"error": ...}` body: the parameters
//! (400), the control anywhere on the instance (404), external (403), the three headers
//! (401), the nonce (32 characters, unseen: 401; then stored for 16 s, whatever follows),
//! the signature (401), the timestamp (0 or ahead of the server's clock; 15 s old or
//! more: 401), the project (404), the licence (401), the framework on the project (404).

use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::{Request, Response, percent_decode};
use crate::world::World;

/// GitLab's `VERIFICATION_TIMESTAMP_EXPIRY`: a timestamp this old is refused.
const EXPIRY_SECS: i64 = 15;
/// How long a nonce is remembered (`VERIFICATION_TIMESTAMP_EXPIRY + 1`).
const NONCE_TTL_SECS: i64 = 16;
const NONCE_LENGTH: usize = 32;

/// A requirement's control (`ComplianceRequirementsControl`): in a framework, external or
/// not, with the secret an external one is signed with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Control {
    pub id: u64,
    pub framework: u64,
    pub external: bool,
    pub secret: String,
}

/// A control's status on one project: `pending` until set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlStatus {
    pub project: u64,
    pub control: u64,
    pub status: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Compliance {
    pub controls: Vec<Control>,
    /// `(framework, project)`: the framework is applied to the project.
    pub applied: Vec<(u64, u64)>,
    pub statuses: Vec<ControlStatus>,
    /// Nonces seen, with the server's Unix time they are forgotten at.
    pub nonces: Vec<(String, i64)>,
}

impl World {
    /// An external control `id` with `secret`, in framework `framework`, which is applied
    /// to `project`.
    pub fn add_external_control(&mut self, project: u64, framework: u64, id: u64, secret: &str) {
        self.compliance.controls.push(Control {
            id,
            framework,
            external: true,
            secret: secret.to_owned(),
        });
        if !self.compliance.applied.contains(&(framework, project)) {
            self.compliance.applied.push((framework, project));
        }
    }

    /// The control's status on the project as GitLab stores it (`pending` when never set).
    pub fn control_status(&self, project: u64, control: u64) -> String {
        self.compliance
            .statuses
            .iter()
            .find(|s| s.project == project && s.control == control)
            .map_or_else(|| "pending".to_owned(), |s| s.status.clone())
    }
}

fn error(status: u16, e: &str) -> Response {
    Response::json(status, &json!({ "error": e }))
}

/// Ruby's `String#to_i`: leading whitespace, a sign, the leading digits; 0 without any.
fn ruby_to_i(s: &str) -> i64 {
    let s = s.trim_start();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}

/// `PATCH /projects/:id/compliance_external_controls/:control_id/status`.
pub(crate) fn set_status(w: &mut World, req: &Request, id: &str, control_id: &str) -> Response {
    let params = crate::api::Params::from_request(req);
    let Ok(control_id) = control_id.parse::<u64>() else {
        return error(400, "control_id is invalid");
    };
    let status = match params.get("status") {
        None => return error(400, "status is missing, status does not have a valid value"),
        Some(s @ ("pass" | "fail")) => s.to_owned(),
        Some(_) => return error(400, "status does not have a valid value"),
    };
    let Some(control) = w
        .compliance
        .controls
        .iter()
        .find(|c| c.id == control_id)
        .cloned()
    else {
        return error(404, "Control not found");
    };
    if !control.external {
        return error(403, "Control is not external");
    }
    let header = |name: &str| req.header(name).filter(|v| !v.trim().is_empty());
    let (Some(timestamp), Some(nonce), Some(signature)) = (
        header("x-gitlab-timestamp"),
        header("x-gitlab-nonce"),
        header("x-gitlab-hmac-sha256"),
    ) else {
        return error(401, "Missing required headers");
    };
    let now = w.unix_now();
    w.compliance.nonces.retain(|(_, until)| *until > now);
    if nonce.chars().count() != NONCE_LENGTH || w.compliance.nonces.iter().any(|(n, _)| n == nonce)
    {
        return error(401, "Invalid nonce");
    }
    // Stored before the signature is checked: a refused request spends its nonce too.
    w.compliance
        .nonces
        .push((nonce.to_owned(), now + NONCE_TTL_SECS));
    // `:id` as Grape decoded it, whatever the instance's path prefix.
    let id = percent_decode(id, false);
    let path = format!("/api/v4/projects/{id}/compliance_external_controls/{control_id}/status");
    let payload = format!("{timestamp}{nonce}{path}status={status}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, control.secret.as_bytes());
    let expected = hex(hmac::sign(&key, payload.as_bytes()).as_ref());
    if !constant_time_eq(signature.as_bytes(), expected.as_bytes()) {
        return error(401, "Invalid signature");
    }
    let ts = ruby_to_i(timestamp);
    if ts == 0 || ts > now {
        return error(401, "Invalid timestamp");
    }
    if now - ts >= EXPIRY_SECS {
        return error(401, "Request has expired");
    }
    let Some(project) = find_project(w, &id) else {
        return error(404, "Project not found");
    };
    let (project_id, licensed) = (w.projects[project].id, w.projects[project].premium);
    if !licensed {
        return error(401, "Not permitted to update compliance control status");
    }
    if !w
        .compliance
        .applied
        .contains(&(control.framework, project_id))
    {
        return error(404, "Project not found");
    }
    match w
        .compliance
        .statuses
        .iter_mut()
        .find(|s| s.project == project_id && s.control == control_id)
    {
        Some(s) => s.status = status.clone(),
        None => w.compliance.statuses.push(ControlStatus {
            project: project_id,
            control: control_id,
            status: status.clone(),
        }),
    }
    Response::json(200, &json!({ "status": status }))
}

/// `find_project`: by id when numeric, else by full path; no visibility check.
fn find_project(w: &World, id: &str) -> Option<usize> {
    match id.parse::<u64>() {
        Ok(n) => w.projects.iter().position(|p| p.id == n),
        Err(_) => w.projects.iter().position(|p| p.path == id),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `ActiveSupport::SecurityUtils.secure_compare`: same length, same bytes.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_to_i_reads_leading_digits() {
        assert_eq!(ruby_to_i("1700000000"), 1_700_000_000);
        assert_eq!(ruby_to_i("12.9"), 12);
        assert_eq!(ruby_to_i("abc"), 0);
        assert_eq!(ruby_to_i(""), 0);
        assert_eq!(ruby_to_i("-5"), -5);
        assert_eq!(ruby_to_i(" 42x"), 42);
    }

    #[test]
    fn secure_compare_needs_equal_length_and_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
