//! The signature GitLab checks on an external control's status (docs/gitlab-api.md,
//! "Compliance external controls"): lowercase hex HMAC-SHA256, keyed with the control's
//! secret, of the timestamp, the nonce, the API path and `status=<status>`, with no
//! separator. The path is GitLab's literal `/api/v4/...`, whatever prefix the instance
//! sits under.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::cli::ControlStatus;
use crate::gitlab::paths;

/// The path GitLab signs over: `:id` as it decodes it (status-check sends a number), the
/// control id as an integer.
pub(crate) fn signed_path(project_id: u64, control_id: u64) -> String {
    format!("/api/v4{}", paths::control_status(project_id, control_id))
}

/// What GitLab recomputes and compares: `X-Gitlab-Hmac-Sha256`.
pub(crate) fn signature(
    secret: &str,
    timestamp: i64,
    nonce: &str,
    project_id: u64,
    control_id: u64,
    status: ControlStatus,
) -> String {
    let path = signed_path(project_id, control_id);
    let payload = format!("{timestamp}{nonce}{path}status={}", status.word());
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex(hmac::sign(&key, payload.as_bytes()).as_ref())
}

/// 32 characters from 16 random bytes: GitLab wants exactly 32 and remembers each for
/// 16 s, so every attempt needs a new one.
pub(crate) fn nonce() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number generator failed".to_owned())?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with Python's `hmac`, not with this code:
    /// `hmac.new(b"control-secret-0123", f"{ts}{nonce}{path}status={s}".encode(),
    /// hashlib.sha256).hexdigest()`.
    #[test]
    fn the_signature_matches_an_independent_computation() {
        let nonce = "0123456789abcdef0123456789abcdef";
        let sign = |status| signature("control-secret-0123", 1_700_000_000, nonce, 42, 12, status);
        assert_eq!(
            sign(ControlStatus::Pass),
            "973831cfccecb74176493ea725d7a1eed14c968b13d0710e9bf1a20bfec71ab5"
        );
        assert_eq!(
            sign(ControlStatus::Fail),
            "891dd26d866f2ba1cf7764690e144ac4754f84c35c69f1b6ddd9ab3266dbbd65"
        );
    }

    #[test]
    fn a_nonce_is_32_hex_characters_and_new_each_time() {
        let (a, b) = (nonce().unwrap(), nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn the_path_is_gitlab_s_literal_one() {
        assert_eq!(
            signed_path(42, 12),
            "/api/v4/projects/42/compliance_external_controls/12/status"
        );
    }
}
