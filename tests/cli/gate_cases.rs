//! The five timelines of issue 28 that broke the gate's promises in the release binary,
//! each a real answer of GitLab or of a proxy in front of it, as tests named after the
//! promise they broke. (The simulator keeps the same five on simulated timelines, in
//! `src/commands/wait/gate/sim/regressions.rs`.)

use crate::support::*;

const LIST: &str = "/api/v4/projects/42/merge_requests/7/status_checks";
const HEAD: &str = "/api/v4/projects/42/merge_requests/7";
const LOOK_UP: &str = "/api/v4/projects/42/repository/commits/a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1/merge_requests";

fn gate(test: Test, timeout: &str) -> Test {
    test.args(&[
        "wait",
        "--interval",
        "50ms",
        "--max-interval",
        "100ms",
        "--timeout",
        timeout,
        "--verbose",
    ])
}

fn json(code: u16, body: &str) -> FaultKind {
    FaultKind::Status {
        code,
        body: body.into(),
        content_type: "application/json".into(),
    }
}

#[test]
fn politeness_no_more_retries_than_retry_failed_when_a_retry_s_answer_is_lost() {
    // GitLab carries out the retry, a proxy's 502 replaces its answer, the service fails
    // the check again. The gate retried again (GitLab acted on 2 retries) and, when the
    // second one passed, exited 0 where 1 was due.
    let run = gate(Test::new().checks(&["scan"]), "10s")
        .args(&["--retry-failed", "1"])
        .event(Event::status_at_poll(1, "scan", "failed"))
        .event(Event::status_at_poll(3, "scan", "failed"))
        .event(Event::status_at_poll(20, "scan", "passed"))
        .fault(
            Fault::new(FaultKind::AfterActing(Box::new(FaultKind::HtmlError(502))))
                .on("POST", "/retry"),
        )
        .run();
    // The failure after a retry whose answer was lost is taken after 2 minutes, or the
    // timeout comes first: never a pass, never a second retry.
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.requests_to("POST", "/retry").len(), 1, "{}", run.stderr);
    run.stderr_has("the answer to the retry was lost");
}

#[test]
fn politeness_a_retry_answered_with_a_bad_body_counts_as_asked() {
    // Every retry is carried out but answered 200 with a body that is not JSON: one retry
    // a poll, 14 to 15 in 20 s, then exit 3.
    let run = gate(Test::new().checks(&["scan"]), "3s")
        .args(&["--retry-failed", "1"])
        .event(Event::status_at_poll(1, "scan", "failed"))
        .fault(
            Fault::new(FaultKind::AfterActing(Box::new(FaultKind::InvalidJson)))
                .on("POST", "/retry")
                .times(100),
        )
        .run();
    run.code(3);
    assert_eq!(run.requests_to("POST", "/retry").len(), 1, "{}", run.stderr);
}

#[test]
fn safety_exit_0_needs_a_head_read_that_shows_the_sha() {
    // Every check passed, and the MR read answers `"sha": null` (GitLab's `diff_head_sha`
    // while it prepares the MR's diff): exit 0 after 0.3 s.
    let unsaid = json(200, r#"{"iid":7,"state":"opened","sha":null}"#);
    let passed = |w: &mut World| w.set_status(42, 7, "scan", "passed");
    let run = gate(Test::new().checks(&["scan"]).world(passed), "2s")
        .fault(Fault::new(unsaid.clone()).at("GET", HEAD).times(1000))
        .run();
    run.code(3).stderr_has("GitLab does not say its head yet");
    // Once GitLab says it, the gate passes.
    let run = gate(Test::new().checks(&["scan"]).world(passed), "5s")
        .fault(Fault::new(unsaid).at("GET", HEAD).times(2))
        .run();
    run.code(0);
    assert_eq!(run.requests_to("GET", "/merge_requests/7").len(), 3);
}

#[test]
fn liveness_the_look_up_is_as_patient_as_the_polls() {
    // A branch pipeline (no CI_MERGE_REQUEST_IID): the commit's look-up meets 503s for
    // about 20 s. The gate exited 5, though it promises to poll through transient faults
    // until --timeout.
    let unavailable = json(503, r#"{"message":"503 Service Unavailable"}"#);
    let passed = |w: &mut World| w.set_status(42, 7, "scan", "passed");
    let run = gate(
        Test::new()
            .branch_pipeline()
            .checks(&["scan"])
            .world(passed),
        "20s",
    )
    .fault(Fault::new(unavailable).at("GET", LOOK_UP).times(12))
    .run();
    run.code(0);
    assert_eq!(run.requests_to("GET", "/merge_requests").len(), 12 + 1);
    // Through its --timeout: exit 3, saying why.
    let unavailable = json(503, r#"{"message":"503 Service Unavailable"}"#);
    let run = gate(Test::new().branch_pipeline().checks(&["scan"]), "1s")
        .fault(Fault::new(unavailable).at("GET", LOOK_UP).times(1000))
        .run();
    run.code(3)
        .stdout_has("without one successful poll")
        .stdout_has("503");
}

#[test]
fn safety_one_empty_read_never_passes_a_named_gate() {
    // `--name scan --allow-empty`, and one read of the list answers `[]` while scan is
    // pending: exit 0.
    let run = gate(Test::new().checks(&["scan", "lint"]), "2s")
        .args(&["--name", "scan", "--allow-empty"])
        .event(Event::at_poll(
            2,
            Action::SetStatus {
                project_id: 42,
                iid: 7,
                check: "lint".into(),
                status: "passed".into(),
            },
        ))
        .fault(Fault::new(json(200, "[]")).at("GET", LIST).after(3))
        .run();
    run.code(3).stdout_has("still pending: scan");
    // On the first poll too: the empty read is read again at once.
    let run = gate(Test::new().checks(&["scan"]), "1s")
        .args(&["--name", "scan", "--allow-empty"])
        .fault(Fault::new(json(200, "[]")).at("GET", LIST))
        .run();
    run.code(3).stdout_has("still pending: scan");
}
