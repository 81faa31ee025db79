//! The client's reading of an answer, case by case: which status stands for which
//! error (reply.rs), and what each error means for a retry, a POST whose outcome is
//! unknown, the log and the exit code (error.rs). Every caller's decision rests on
//! these, the gate's included.

use std::time::Duration;

use super::error::{ApiError, ApiErrorKind, Transport, head_from_409};
use super::reply::Reply;
use super::response::{Budget, Headers};
use crate::exit::Code;

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        method: "POST",
        path: "/projects/42/x".into(),
        status,
        headers: Headers {
            content_type: "application/json".into(),
            ..Headers::default()
        },
        body: body.into(),
    }
}

fn status(status: u16, message: &str) -> ApiError {
    ApiError {
        method: "GET",
        path: "/x".into(),
        kind: ApiErrorKind::Status {
            status,
            message: message.into(),
            retry_after: None,
            budget: None,
        },
    }
}

fn transport(kind: Transport) -> ApiError {
    ApiError {
        method: "POST",
        path: "/x".into(),
        kind: ApiErrorKind::Transport {
            kind,
            detail: "detail".into(),
        },
    }
}

fn redirect() -> ApiError {
    ApiError {
        method: "GET",
        path: "/x".into(),
        kind: ApiErrorKind::Redirect {
            status: 302,
            location: "https://elsewhere/".into(),
        },
    }
}

fn decode() -> ApiError {
    ApiError {
        method: "GET",
        path: "/x".into(),
        kind: ApiErrorKind::Decode {
            status: 200,
            detail: "not JSON".into(),
        },
    }
}

#[test]
fn only_a_2xx_is_a_success() {
    for code in [100, 199, 300, 304, 400, 404, 500] {
        assert!(!reply(code, "").is_success(), "{code}");
        assert!(reply(code, "").success().is_err(), "{code}");
    }
    for code in [200, 201, 202, 204, 299] {
        assert!(reply(code, "").is_success(), "{code}");
        assert_eq!(reply(code, "x").success().unwrap().body, "x");
    }
}

#[test]
fn a_3xx_is_a_redirect_never_followed() {
    let mut moved = reply(301, "");
    moved.headers.location = Some("https://other.example/api/v4".into());
    let error = moved.error();
    assert!(matches!(
        &error.kind,
        ApiErrorKind::Redirect { status: 301, location } if location == "https://other.example/api/v4"
    ));
    assert_eq!(error.method, "POST");
    assert_eq!(error.path, "/projects/42/x");
    for code in [300, 399] {
        assert!(matches!(
            reply(code, "").error().kind,
            ApiErrorKind::Redirect { location, .. } if location == "(no Location header)"
        ));
    }
    assert!(matches!(
        reply(400, "").error().kind,
        ApiErrorKind::Status { status: 400, .. }
    ));
}

#[test]
fn an_error_status_carries_gitlab_s_message_and_what_its_headers_said() {
    let budget = Budget {
        limit: 2000,
        remaining: 0,
        reset_in: Duration::from_secs(30),
    };
    let mut throttled = reply(429, r#"{"message":"Retry later"}"#);
    throttled.headers.retry_after = Some(Duration::from_secs(7));
    throttled.headers.budget = Some(budget);
    let error = throttled.error();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.message(), "Retry later");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(error.budget(), Some(budget));
    // What other kinds of error have none of it.
    for other in [transport(Transport::Reset), redirect(), decode()] {
        assert_eq!(other.status(), None);
        assert_eq!(other.message(), "");
        assert_eq!(other.retry_after(), None);
        assert_eq!(other.budget(), None);
    }
}

#[test]
fn a_body_decodes_or_is_a_decode_error_naming_its_status() {
    assert_eq!(
        reply(200, "[1, 2]").decode::<Vec<u32>>().unwrap(),
        vec![1, 2]
    );
    // A 204 says nothing: JSON null.
    assert_eq!(reply(204, "").decode::<Option<u32>>().unwrap(), None);
    assert_eq!(reply(204, "  ").decode::<Option<u32>>().unwrap(), None);
    // Any other empty body is not JSON.
    let error = reply(200, "").decode::<Option<u32>>().unwrap_err();
    assert!(matches!(
        error.kind,
        ApiErrorKind::Decode { status: 200, .. }
    ));
    let error = reply(202, "<html>").decode::<u32>().unwrap_err();
    assert!(matches!(
        error.kind,
        ApiErrorKind::Decode { status: 202, .. }
    ));
    let error = reply(200, "{}").unexpected("no sha".into());
    assert!(matches!(
        &error.kind,
        ApiErrorKind::Decode { status: 200, detail } if detail == "no sha"
    ));
    assert_eq!(error.path, "/projects/42/x");
}

#[test]
fn transient_answers_are_rate_limits_server_errors_and_broken_connections() {
    for code in [429, 500, 502, 503, 504, 599] {
        assert!(status(code, "").is_transient(), "{code}");
    }
    for code in [400, 401, 403, 404, 409, 422, 428, 499] {
        assert!(!status(code, "").is_transient(), "{code}");
    }
    for kind in [Transport::Connect, Transport::Timeout, Transport::Reset] {
        assert!(transport(kind).is_transient(), "{kind:?}");
    }
    for kind in [
        Transport::Dns,
        Transport::Tls,
        Transport::TooLarge,
        Transport::Other,
    ] {
        assert!(!transport(kind).is_transient(), "{kind:?}");
    }
    assert!(!redirect().is_transient());
    assert!(!decode().is_transient());
}

#[test]
fn a_post_s_outcome_is_unknown_when_gitlab_may_have_acted() {
    for code in [500, 502, 504] {
        assert!(status(code, "").outcome_unknown(), "{code}");
    }
    // A throttle or an unavailable application never reached it.
    for code in [429, 503, 400, 404] {
        assert!(!status(code, "").outcome_unknown(), "{code}");
    }
    assert!(transport(Transport::Timeout).outcome_unknown());
    assert!(transport(Transport::Reset).outcome_unknown());
    for kind in [Transport::Connect, Transport::Dns, Transport::Tls] {
        assert!(!transport(kind).outcome_unknown(), "{kind:?}");
    }
    // A 2xx whose body was lost or mangled: GitLab acted.
    assert!(decode().outcome_unknown());
    assert!(!redirect().outcome_unknown());
}

#[test]
fn each_kind_of_fault_has_its_own_class_for_the_log() {
    assert_eq!(status(503, "").fault_class(), "503");
    assert_eq!(redirect().fault_class(), "302");
    assert_eq!(transport(Transport::Reset).fault_class(), "reset");
    assert_eq!(transport(Transport::Timeout).fault_class(), "timeout");
    assert_eq!(decode().fault_class(), "decode");
}

#[test]
fn the_refused_response_is_gitlab_s_permission_404_only() {
    // Row `response-404-permission`: `404 Not Found` (capital F), or 18.2+'s null message
    // read as the status's phrase.
    assert!(status(404, "404 Not Found").is_refused_response());
    assert!(status(404, "Not Found").is_refused_response());
    // An unknown MR or check.
    assert!(!status(404, "404 Not found").is_refused_response());
    assert!(!status(404, "404 Project Not Found").is_refused_response());
    assert!(!status(403, "404 Not Found").is_refused_response());
    assert!(!transport(Transport::Reset).is_refused_response());
}

#[test]
fn every_error_reads_as_an_exit_code_a_hint_and_whether_it_may_pass() {
    let read = crate::error::Error::from;
    let error = read(status(401, "401 Unauthorized"));
    assert_eq!(error.code, Code::Api);
    assert!(!error.transient);
    assert!(error.hints[0].contains("three causes"));
    assert!(
        read(status(401, "invalid_token: Token was revoked")).hints[0]
            .contains("expired or was revoked")
    );
    assert!(read(status(401, "expired")).hints[0].contains("expired or was revoked"));
    assert_eq!(read(status(400, "bad")).code, Code::Usage);
    assert!(read(status(404, "404 Project Not Found")).hints[0].contains("--project"));
    assert!(read(status(404, "404 Commit Not Found")).hints[0].contains("--sha"));
    assert!(read(status(404, "404 Not found")).hints[0].contains("--mr"));
    let throttled = read(status(429, ""));
    assert!(throttled.transient);
    assert!(throttled.hints[0].contains("rate limiting"));
    for code in [500, 502, 503] {
        let failed = read(status(code, ""));
        assert!(failed.transient, "{code}");
        assert!(failed.hints[0].contains("GitLab or a proxy"), "{code}");
    }
    assert!(read(status(418, "teapot")).hints.is_empty());
    assert!(read(redirect()).hints[0].contains("never follows redirects"));
    let hints = |kind| read(transport(kind)).hints;
    assert!(hints(Transport::Dns)[0].contains("does not resolve"));
    assert!(hints(Transport::Connect)[0].contains("nothing answers"));
    assert!(hints(Transport::Tls)[0].contains("--ca-file"));
    assert!(hints(Transport::Timeout)[0].contains("--request-timeout"));
    assert!(hints(Transport::Reset)[0].contains("connection to GitLab broke"));
    assert!(hints(Transport::TooLarge)[0].contains("far larger"));
    assert!(hints(Transport::Other).is_empty());
    // A lost POST answer may have acted: transient, so a caller can tell.
    assert!(read(transport(Transport::Timeout)).transient);
    assert!(read(decode()).transient);
    assert!(read(decode()).hints[0].contains("does not look like GitLab's API"));
    assert!(!read(transport(Transport::Dns)).transient);
}

#[test]
fn the_message_names_the_endpoint_and_what_it_answered() {
    assert_eq!(
        status(409, "conflict").to_string(),
        "GET /x answered 409: conflict"
    );
    assert_eq!(
        redirect().to_string(),
        "GET /x answered 302, a redirect to https://elsewhere/"
    );
    assert_eq!(
        transport(Transport::Reset).to_string(),
        "POST /x failed: detail"
    );
    assert_eq!(
        decode().to_string(),
        "GET /x answered 200 with an unexpected body: not JSON"
    );
    assert_eq!(
        crate::error::Error::from(status(409, "conflict")).message,
        "GET /x answered 409: conflict"
    );
}

#[test]
fn a_409_names_the_head_it_found() {
    let head = "0123456789abcdef0123456789abcdef01234567";
    let conflict = status(
        409,
        &format!("SHA does not match HEAD of source branch: {head}"),
    );
    assert_eq!(conflict.head_from_409(), Some(head));
    assert_eq!(status(409, "409 Conflict").head_from_409(), None);
    // The parser under it: a SHA only when the text after the last `: ` is hex, 7+.
    assert_eq!(
        head_from_409(&format!("SHA does not match HEAD of source branch: {head}")),
        Some(head)
    );
    assert_eq!(head_from_409("409 Conflict"), None);
    assert_eq!(head_from_409("x: abc"), None);
    assert_eq!(head_from_409(""), None);
}

#[test]
fn a_fine_grained_token_s_refusal_names_the_permission() {
    let e = status(
        403,
        "insufficient_granular_scope: Access denied: Your Personal Access Token lacks the required permissions: [read_external_status_check] for \"acme/app\".",
    );
    assert_eq!(e.missing_permission(), Some("read_external_status_check"));
    let e = status(
        403,
        "insufficient_granular_scope: Unable to determine boundaries and permissions for authorization",
    );
    assert_eq!(e.missing_permission(), Some(""));
    assert_eq!(status(403, "403 Forbidden").missing_permission(), None);
    assert_eq!(
        status(401, "insufficient_granular_scope: [x]").missing_permission(),
        None
    );
    let fine = crate::error::Error::from(status(
        403,
        "insufficient_granular_scope: Access denied: … permissions: [retry_external_status_check] for \"a/b\".",
    ));
    assert!(fine.hints[0].contains("without the permission `retry_external_status_check`"));
    let role = crate::error::Error::from(status(403, "403 Forbidden"));
    assert!(role.hints[0].contains("role on the project is too low"));
}
