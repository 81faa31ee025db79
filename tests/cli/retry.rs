//! `status-check retry`.

use crate::support::*;

#[test]
fn retry_of_a_failed_check_is_accepted() {
    let run = Test::new()
        .checks(&["scan"])
        .world(|w| w.set_status(42, 7, "scan", "failed"))
        .args(&["retry", "--name", "scan"])
        .run();
    run.code(0).stdout_has("retry requested for \"scan\" on !7");
    assert_eq!(run.status_of("scan"), "pending");
    assert_eq!(run.requests_to("POST", "/retry").len(), 1);
}

#[test]
fn retry_of_a_passed_check_is_refused_with_its_status() {
    Test::new()
        .checks(&["scan"])
        .world(|w| w.set_status(42, 7, "scan", "passed"))
        .args(&["retry", "--name", "scan"])
        .run()
        .code(1)
        .stderr_has("External status check must be failed")
        .stderr_has("its status is passed");
}

#[test]
fn retry_by_id_reads_the_status_only_when_refused() {
    let mut id = 0;
    let run = Test::new()
        .world(|w| {
            id = w.add_check(42, "scan", "https://x");
            w.set_status(42, 7, "scan", "pending");
        })
        .args(&["retry", "--check-id", &id.to_string()])
        .run();
    run.code(1)
        .stderr_has("its status is pending")
        .request_count(2);
}

#[test]
fn retry_needs_15_7() {
    Test::on_version("15.6.0")
        .checks(&["scan"])
        .args(&["retry", "--name", "scan"])
        .run()
        .code(2)
        .stderr_has("15.7+")
        .request_count(0);
}

#[test]
fn a_retry_request_that_fails_is_an_api_error_not_a_refusal() {
    for kind in [FaultKind::HtmlError(502), FaultKind::Reset] {
        let run = Test::new()
            .checks(&["scan"])
            .world(|w| w.set_status(42, 7, "scan", "failed"))
            .fault(Fault::new(kind.clone()).on("POST", "/retry").times(10))
            .args(&["retry", "--name", "scan"])
            .run();
        run.code(5)
            .stderr_has("retrying \"scan\" on !7")
            .stderr_lacks("GitLab refused")
            .stderr_lacks("an unknown check id also answers 404");
        // A POST whose outcome is unknown is not sent again.
        assert_eq!(run.requests_to("POST", "/retry").len(), 1, "{kind:?}");
    }
}

#[test]
fn retry_of_an_unknown_check_id_says_what_a_404_means() {
    Test::new()
        .checks(&["scan"])
        .args(&["retry", "--check-id", "9999"])
        .run()
        .code(5)
        .stderr_has("404")
        .stderr_has("the retry endpoint needs GitLab 15.7+; an unknown check id also answers 404")
        .request_count(1);
}
