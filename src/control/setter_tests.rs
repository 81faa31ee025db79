//! Each kind of answer, and what the setter makes of it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::gitlab::error::{ApiErrorKind, Transport};
use crate::gitlab::response::Headers;

const RUNNER: i64 = 1_700_000_000;

fn answer(status: u16, error: &str, date: Option<i64>, retry_after: Option<u64>) -> Reply {
    Reply {
        method: "PATCH",
        path: "/projects/42/compliance_external_controls/12/status".into(),
        status,
        headers: Headers {
            content_type: "application/json".into(),
            date: date.map(|d| UNIX_EPOCH + Duration::from_secs(d as u64)),
            retry_after: retry_after.map(Duration::from_secs),
            ..Headers::default()
        },
        body: if status < 300 {
            r#"{"status":"pass"}"#.into()
        } else {
            serde_json::json!({ "error": error }).to_string()
        },
    }
}

fn lost(kind: Transport) -> ApiError {
    ApiError {
        method: "PATCH",
        path: "/x".into(),
        kind: ApiErrorKind::Transport {
            kind,
            detail: "lost".into(),
        },
    }
}

#[test]
fn only_gitlab_s_200_saying_the_status_back_is_set() {
    let mut setter = Setter::new("pass", 2);
    let step = setter.on_answer(Ok(answer(200, "", None, None)), RUNNER);
    assert!(matches!(step, Step::Set));
    // Another status said back, or a page that is not GitLab's: unknown, tried again,
    // then an error, never a success.
    let mut setter = Setter::new("fail", 1);
    let step = setter.on_answer(Ok(answer(200, "", None, None)), RUNNER);
    assert!(matches!(
        step,
        Step::Again {
            after: None,
            why: Why::Transient(_)
        }
    ));
    let mut odd = answer(200, "", None, None);
    odd.body = "<html>".into();
    let step = setter.on_answer(Ok(odd), RUNNER);
    assert!(matches!(step, Step::GaveUp(e) if e.to_string().contains("something else")));
}

#[test]
fn the_timestamp_is_the_runner_s_clock_then_the_server_s_once_it_said() {
    let mut setter = Setter::new("pass", 0);
    assert_eq!(setter.timestamp(RUNNER), RUNNER - MARGIN_SECS);
    // The runner is 10 minutes ahead: GitLab says its time, once.
    let server = RUNNER - 600;
    let step = setter.on_answer(
        Ok(answer(401, "Invalid timestamp", Some(server), None)),
        RUNNER,
    );
    assert!(matches!(
        step,
        Step::Again {
            after: Some(Duration::ZERO),
            why: Why::Clock { offset_secs: -600 }
        }
    ));
    assert_eq!(setter.offset_secs(), Some(-600));
    assert_eq!(setter.timestamp(RUNNER + 1), server + 1 - MARGIN_SECS);
    // Refused again on the server's own time: the clocks are not the problem to fix here.
    let step = setter.on_answer(
        Ok(answer(401, "Invalid timestamp", Some(server), None)),
        RUNNER,
    );
    assert!(matches!(step, Step::Refused(Refusal::ClockAhead)));

    // 10 minutes behind: expired, then on the server's time.
    let mut setter = Setter::new("pass", 0);
    let step = setter.on_answer(
        Ok(answer(401, "Request has expired", Some(RUNNER + 600), None)),
        RUNNER,
    );
    assert!(matches!(
        step,
        Step::Again {
            why: Why::Clock { offset_secs: 600 },
            ..
        }
    ));
    assert_eq!(setter.timestamp(RUNNER), RUNNER + 600 - MARGIN_SECS);
}

#[test]
fn without_a_date_a_clock_refusal_stops() {
    let mut setter = Setter::new("pass", 3);
    let step = setter.on_answer(Ok(answer(401, "Request has expired", None, None)), RUNNER);
    assert!(matches!(step, Step::Refused(Refusal::ClockBehind)));
    assert_eq!(setter.offset_secs(), None);
}

#[test]
fn a_repeated_request_is_sent_again_with_a_new_nonce_within_the_retries() {
    let mut setter = Setter::new("pass", 1);
    let replayed = || Ok(answer(401, "Invalid nonce", Some(RUNNER), None));
    assert!(matches!(
        setter.on_answer(replayed(), RUNNER),
        Step::Again {
            after: None,
            why: Why::Replayed
        }
    ));
    assert!(matches!(
        setter.on_answer(replayed(), RUNNER),
        Step::Refused(Refusal::Replayed)
    ));
}

#[test]
fn transient_answers_are_retried_after_retry_after_then_given_up() {
    let mut setter = Setter::new("pass", 2);
    let step = setter.on_answer(Ok(answer(429, "Retry later", None, Some(7))), RUNNER);
    assert!(matches!(
        step,
        Step::Again { after: Some(after), why: Why::Transient(class) }
            if after == Duration::from_secs(7) && class == "429"
    ));
    // An attempt whose outcome is unknown is retried too: setting twice is harmless.
    let step = setter.on_answer(Err(lost(Transport::Reset)), RUNNER);
    assert!(matches!(
        step,
        Step::Again {
            after: None,
            why: Why::Transient(_)
        }
    ));
    let step = setter.on_answer(Ok(answer(502, "Bad Gateway", None, None)), RUNNER);
    assert!(matches!(step, Step::GaveUp(e) if e.status() == Some(502)));
    // Not transient: at once.
    let step = Setter::new("pass", 5).on_answer(Err(lost(Transport::Tls)), RUNNER);
    assert!(matches!(step, Step::GaveUp(_)));
}

#[test]
fn refusals_stop_at_once_whatever_the_retries() {
    for (status, word, refusal) in [
        (401, "Invalid signature", Refusal::BadSignature),
        (404, "Control not found", Refusal::ControlNotFound),
        (403, "Control is not external", Refusal::NotExternal),
        (404, "Project not found", Refusal::ProjectNotFound),
        (404, "404 Not Found", Refusal::NoEndpoint),
        (401, "Missing required headers", Refusal::MissingHeaders),
    ] {
        let step =
            Setter::new("pass", 5).on_answer(Ok(answer(status, word, Some(RUNNER), None)), RUNNER);
        assert!(matches!(step, Step::Refused(r) if r == refusal), "{word}");
    }
}

#[test]
fn a_date_before_1970_is_still_an_offset() {
    let before = UNIX_EPOCH - Duration::from_secs(5);
    assert_eq!(unix_secs(before), -5);
    assert_eq!(
        unix_secs(SystemTime::UNIX_EPOCH + Duration::from_secs(9)),
        9
    );
}
