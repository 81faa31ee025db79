//! Compliance external controls against docs/gitlab-api.md (`external-controls-17-11`,
//! `control-order`). The signatures below were computed with Python's `hmac`, not with
//! the fake's code:
//!
//! ```python
//! hmac.new(b"control-secret-0123",
//!          f"{ts}{nonce}/api/v4/projects/{pid}/compliance_external_controls/{cid}/status"
//!          f"status={status}".encode(), hashlib.sha256).hexdigest()
//! ```

use crate::common::*;
use fake_gitlab::*;
use serde_json::json;

const SECRET: &str = "control-secret-0123";
const TS: i64 = 1_700_000_000;
const NONCE: &str = "0123456789abcdef0123456789abcdef";
/// ts, nonce, project 42, control 12, `pass`.
const PASS_42_12: &str = "973831cfccecb74176493ea725d7a1eed14c968b13d0710e9bf1a20bfec71ab5";
/// ts, nonce, project 42, control 12, `fail`.
const FAIL_42_12: &str = "891dd26d866f2ba1cf7764690e144ac4754f84c35c69f1b6ddd9ab3266dbbd65";
/// ts, nonce, project `acme/app` (as GitLab decodes `acme%2Fapp`), control 12, `pass`.
const PASS_PATH_12: &str = "e9689f82ae11a4b3aad80335080d2271f6a9b95193e2d937f548063fab8f8329";

const PATH: &str = "/projects/42/compliance_external_controls/12/status";

/// A server whose clock reads `TS + seconds_after` now.
fn at(version: &str, seconds_after: i64) -> FakeGitlab {
    let mut w = World::demo();
    w.version = version.into();
    w.add_external_control(42, 1, 12, SECRET);
    w.compliance.controls.push(Control {
        id: 13,
        framework: 1,
        external: false,
        secret: String::new(),
    });
    let machine = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    w.clock_offset_secs = TS + seconds_after - machine;
    FakeGitlab::start(w)
}

fn patch(
    fg: &FakeGitlab,
    path: &str,
    ts: &str,
    nonce: &str,
    signature: &str,
    status: &str,
) -> Resp {
    let body = json!({ "status": status }).to_string();
    call(
        fg,
        "PATCH",
        path,
        &[
            ("Content-Type", "application/json"),
            ("X-Gitlab-Timestamp", ts),
            ("X-Gitlab-Nonce", nonce),
            ("X-Gitlab-Hmac-Sha256", signature),
        ],
        Some(&body),
    )
}

fn answer(r: &Resp) -> (u16, serde_json::Value) {
    (r.status, r.json())
}

#[test]
fn a_signed_pass_and_fail_are_stored() {
    let fg = at("18.9.0-ee", 5);
    assert_eq!(fg.world(|w| w.control_status(42, 12)), "pending");
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, PASS_42_12, "pass");
    assert_eq!(answer(&r), (200, json!({"status": "pass"})));
    assert_eq!(fg.world(|w| w.control_status(42, 12)), "pass");
    let other_nonce = "fedcba9876543210fedcba9876543210";
    // A signature is over its own nonce: this one's is not FAIL_42_12's.
    let r = patch(&fg, PATH, &TS.to_string(), other_nonce, FAIL_42_12, "fail");
    assert_eq!(answer(&r), (401, json!({"error": "Invalid signature"})));
    let fg = at("18.9.0-ee", 5);
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, FAIL_42_12, "fail");
    assert_eq!(answer(&r), (200, json!({"status": "fail"})));
    // The project by its path, signed as GitLab decodes it.
    let fg = at("18.9.0-ee", 5);
    let path = "/projects/acme%2Fapp/compliance_external_controls/12/status";
    let r = patch(&fg, path, &TS.to_string(), NONCE, PASS_PATH_12, "pass");
    assert_eq!(r.status, 200, "{}", r.body);
    // Every answer is dated by the server's clock.
    assert_eq!(r.header("Date"), Some(http_date(TS as u64 + 5).as_str()));
}

#[test]
fn the_nonce_is_spent_by_any_request_that_reaches_it() {
    let fg = at("18.9.0-ee", 5);
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, &"0".repeat(64), "pass");
    assert_eq!(answer(&r), (401, json!({"error": "Invalid signature"})));
    // The same nonce again, now correctly signed: replayed.
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, PASS_42_12, "pass");
    assert_eq!(answer(&r), (401, json!({"error": "Invalid nonce"})));
    let r = patch(&fg, PATH, &TS.to_string(), "short", PASS_42_12, "pass");
    assert_eq!(answer(&r), (401, json!({"error": "Invalid nonce"})));
    assert_eq!(fg.world(|w| w.control_status(42, 12)), "pending");
    // Forgotten after 16 s.
    fg.world(|w| w.clock_offset_secs += 16);
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, PASS_42_12, "pass");
    assert_eq!(answer(&r), (401, json!({"error": "Request has expired"})));
}

#[test]
fn the_timestamp_is_on_the_server_s_clock_within_14_seconds_back() {
    for (after, expected) in [
        (0, None),
        (14, None),
        (15, Some("Request has expired")),
        (600, Some("Request has expired")),
        (-1, Some("Invalid timestamp")),
        (-600, Some("Invalid timestamp")),
    ] {
        let fg = at("18.9.0-ee", after);
        let r = patch(&fg, PATH, &TS.to_string(), NONCE, PASS_42_12, "pass");
        match expected {
            None => assert_eq!(r.status, 200, "{after}: {}", r.body),
            Some(error) => assert_eq!(answer(&r), (401, json!({ "error": error })), "{after}"),
        }
    }
}

#[test]
fn refusals_come_in_gitlab_s_order() {
    let fg = at("18.9.0-ee", 5);
    let ts = TS.to_string();
    let unsigned = |path: &str, body: &str| {
        call(
            &fg,
            "PATCH",
            path,
            &[("Content-Type", "application/json")],
            Some(body),
        )
    };
    let status = r#"{"status":"pass"}"#;
    assert_eq!(
        answer(&unsigned(PATH, r#"{"status":"passed"}"#)),
        (400, json!({"error": "status does not have a valid value"}))
    );
    assert_eq!(
        answer(&unsigned(
            "/projects/42/compliance_external_controls/99/status",
            status
        )),
        (404, json!({"error": "Control not found"}))
    );
    assert_eq!(
        answer(&unsigned(
            "/projects/42/compliance_external_controls/13/status",
            status
        )),
        (403, json!({"error": "Control is not external"}))
    );
    assert_eq!(
        answer(&unsigned(PATH, status)),
        (401, json!({"error": "Missing required headers"}))
    );
    // A correct signature for a project without the framework.
    fg.world(|w| {
        w.projects.push(Project {
            id: 43,
            path: "acme/other".into(),
            ..Project::default()
        })
    });
    let r = patch(
        &fg,
        "/projects/43/compliance_external_controls/12/status",
        &ts,
        NONCE,
        &"0".repeat(64),
        "pass",
    );
    assert_eq!(answer(&r), (401, json!({"error": "Invalid signature"})));
    // No licence (Premium), checked after the signature.
    let fg = at("18.9.0-ee", 5);
    fg.world(|w| w.projects[0].premium = false);
    let r = patch(&fg, PATH, &ts, NONCE, PASS_42_12, "pass");
    assert_eq!(
        answer(&r),
        (
            401,
            json!({"error": "Not permitted to update compliance control status"})
        )
    );
    // The framework no longer applied to the project.
    let fg = at("18.9.0-ee", 5);
    fg.world(|w| w.compliance.applied.clear());
    let r = patch(&fg, PATH, &ts, NONCE, PASS_42_12, "pass");
    assert_eq!(answer(&r), (404, json!({"error": "Project not found"})));
    // No user is looked at: a token changes nothing.
    let fg = at("18.9.0-ee", 5);
    let body = json!({ "status": "pass" }).to_string();
    let r = call(
        &fg,
        "PATCH",
        PATH,
        &[
            ("PRIVATE-TOKEN", "glpat-unknown"),
            ("X-Gitlab-Timestamp", &ts),
            ("X-Gitlab-Nonce", NONCE),
            ("X-Gitlab-Hmac-Sha256", PASS_42_12),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn before_17_11_there_is_no_route() {
    let fg = at("17.10.0-ee", 5);
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, PASS_42_12, "pass");
    assert_eq!(answer(&r), (404, json!({"error": "404 Not Found"})));
    let fg = at("17.11.0-ee", 5);
    let r = patch(&fg, PATH, &TS.to_string(), NONCE, PASS_42_12, "pass");
    assert_eq!(r.status, 200, "{}", r.body);
}
