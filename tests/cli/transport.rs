//! HTTP behaviour: retries, redirects, token hygiene, verbose logs.

use crate::support::*;

#[test]
fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let run = Test::new()
        .checks(&["scan"])
        .fault(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Some("1".into()),
            })
            .on("GET", "/status_checks"),
        )
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0).request_count(3).stderr_has("429");
    let requests = run.requests();
    let gap = requests[1].at_ms - requests[0].at_ms;
    assert!(gap >= 1000, "Retry-After: 1 honoured, gap was {gap} ms");
}

#[test]
fn a_429_without_retry_after_backs_off() {
    let run = Test::new()
        .checks(&["scan"])
        .fault(
            Fault::new(FaultKind::TooManyRequests { retry_after: None })
                .on("GET", "/status_checks")
                .times(2),
        )
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0).request_count(4);
}

#[test]
fn gateway_errors_then_success() {
    for kind in [
        FaultKind::HtmlError(502),
        FaultKind::HtmlError(503),
        FaultKind::HtmlError(504),
        FaultKind::Reset,
    ] {
        let run = Test::new()
            .checks(&["scan"])
            .fault(
                Fault::new(kind.clone())
                    .on("GET", "/status_checks")
                    .times(2),
            )
            .args(&["report", "passed", "--name", "scan"])
            .run();
        run.code(0).request_count(4);
        assert_eq!(run.status_of("scan"), "passed", "{kind:?}");
    }
}

#[test]
fn a_503_on_the_post_is_retried_because_gitlab_did_not_act() {
    let run = Test::new()
        .checks(&["scan"])
        .fault(Fault::new(FaultKind::HtmlError(503)).on("POST", "/status_check_responses"))
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(run.requests_to("POST", "/status_check_responses").len(), 2);
}

#[test]
fn an_unanswered_post_is_checked_before_posting_again() {
    // ResetMidBody: GitLab stored the response but the answer was cut.
    let run = Test::new()
        .checks(&["scan"])
        .fault(Fault::new(FaultKind::ResetMidBody).on("POST", "/status_check_responses"))
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0)
        .stderr_has("re-reading")
        .stderr_has("not posting again");
    assert_eq!(
        run.requests_to("POST", "/status_check_responses").len(),
        1,
        "never posts twice"
    );
    assert_eq!(run.status_of("scan"), "passed");
}

#[test]
fn retries_give_up_with_exit_5_naming_the_endpoint() {
    Test::new()
        .checks(&["scan"])
        .fault(
            Fault::new(FaultKind::HtmlError(502))
                .on("GET", "/status_checks")
                .times(100),
        )
        .args(&["report", "passed", "--name", "scan", "--retries", "2"])
        .run()
        .code(5)
        .stderr_has("GET /projects/42/merge_requests/7/status_checks answered 502")
        .stderr_has("HTML error page")
        .request_count(3);
}

#[test]
fn the_token_is_never_sent_to_a_redirect_host() {
    let other = FakeGitlab::start(World::new("17.5.0"));
    let location = format!(
        "{}/api/v4/projects/42/merge_requests/7/status_checks",
        other.base_url()
    );
    let run = Test::new()
        .checks(&["scan"])
        .fault(Fault::new(FaultKind::Redirect {
            code: 302,
            location: location.clone(),
        }))
        .args(&["--verbose", "report", "passed", "--name", "scan"])
        .run();
    run.code(5)
        .stderr_has("302")
        .stderr_has(&location)
        .stderr_has("never follows redirects")
        .no_token_in_output();
    assert!(
        other.requests().is_empty(),
        "the redirect target got a request"
    );
}

#[test]
fn verbose_logs_requests_but_never_the_token() {
    let run = Test::new()
        .checks(&["scan"])
        .fault(Fault::new(FaultKind::TooManyRequests {
            retry_after: Some("0".into()),
        }))
        .args(&["--verbose", "report", "passed", "--name", "scan"])
        .run();
    run.code(0)
        .stderr_has("GET /projects/42/merge_requests/7/status_checks?per_page=100&page=1 → 429")
        .stderr_has("POST /projects/42/merge_requests/7/status_check_responses → 201")
        .no_token_in_output();
}

#[test]
fn errors_never_show_the_token() {
    for token in ALL_TOKENS {
        let run = Test::new()
            .checks(&["scan"])
            .token(token)
            .args(&[
                "--verbose",
                "--output",
                "json",
                "report",
                "passed",
                "--name",
                "scan",
            ])
            .run();
        run.no_token_in_output();
    }
}

#[test]
fn json_errors_on_stdout() {
    let run = Test::new()
        .checks(&["scan"])
        .args(&["--output", "json", "report", "passed", "--name", "nope"])
        .run();
    run.code(2);
    let json = run.json();
    assert_eq!(json["exit_code"], 2);
    assert!(json["error"].as_str().unwrap().contains("nope"));
}

#[test]
fn connection_refused_is_exit_5_with_a_hint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    Test::new()
        .env("CI_API_V4_URL", &format!("http://127.0.0.1:{port}/api/v4"))
        .args(&["list", "--retries", "1"])
        .run()
        .code(5)
        .stderr_has("could not connect")
        .stderr_has("--api-url");
}
