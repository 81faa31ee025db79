//! `status-check control pass|fail`: compliance external controls, against the fake's
//! endpoint (docs/gitlab-api.md, "Compliance external controls").

use crate::support::*;

const SECRET: &str = "s3cret-of-control-12";
const CONTROL: &str = "/compliance_external_controls/12/status";
/// `control pass` of control 12, the one `controlled()` sets up.
const PASS: [&str; 4] = ["control", "pass", "--control-id", "12"];

/// GitLab 18.9 with external control 12 (framework 1, applied to project 42) and its
/// secret in STATUS_CHECK_CONTROL_SECRET.
fn controlled() -> Test {
    Test::on_version("18.9.0-ee")
        .world(|w| w.add_external_control(42, 1, 12, SECRET))
        .env("STATUS_CHECK_CONTROL_SECRET", SECRET)
}

fn no_secret_anywhere(run: &Run) {
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET));
    for r in run.requests() {
        let sent = format!("{} {} {:?} {}", r.path, r.query, r.headers, r.body);
        assert!(!sent.contains(SECRET), "the secret went out: {sent}");
    }
}

/// Control 13: a control of the same framework that is not external.
fn not_external(w: &mut World) {
    w.compliance.controls.push(Control {
        id: 13,
        framework: 1,
        external: false,
        secret: String::new(),
    })
}

#[test]
fn pass_and_fail_are_set_with_one_signed_request_and_no_token() {
    for status in ["pass", "fail"] {
        let run = controlled()
            .args(&["--verbose", "control", status, "--control-id", "12"])
            .run();
        run.code(0)
            .stdout_has(&format!("control 12 set to {status} on project 42"))
            .request_count(1)
            .no_token_in_output();
        assert_eq!(run.server.world(|w| w.control_status(42, 12)), status);
        let sent = &run.requests()[0];
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            (
                "PATCH",
                "/api/v4/projects/42/compliance_external_controls/12/status"
            )
        );
        assert_eq!(sent.header("private-token"), None, "no token goes with it");
        assert_eq!(sent.header("job-token"), None);
        no_secret_anywhere(&run);
    }
}

#[test]
fn the_signature_is_the_one_python_s_hmac_computes() {
    let run = controlled().args(&PASS).run();
    run.code(0);
    let sent = &run.requests()[0];
    let header = |name| sent.header(name).expect(name).to_owned();
    let (timestamp, nonce, signature) = (
        header("x-gitlab-timestamp"),
        header("x-gitlab-nonce"),
        header("x-gitlab-hmac-sha256"),
    );
    let script = "import hashlib, hmac, sys\n\
                  ts, nonce, secret = sys.argv[1:4]\n\
                  msg = f'{ts}{nonce}/api/v4/projects/42/compliance_external_controls/12/status' + 'status=pass'\n\
                  print(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest())";
    let python = std::process::Command::new("python3")
        .args(["-c", script, &timestamp, &nonce, SECRET])
        .output()
        .expect("python3 runs (the test machine has Python 3)");
    assert!(python.status.success(), "{python:?}");
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), signature);
    assert_eq!(nonce.len(), 32);
}

#[test]
fn a_runner_clock_ten_minutes_off_either_way_still_sets_it() {
    // The server's clock 600 s ahead is a runner 10 minutes behind, and the reverse.
    for offset in [600, -600] {
        let run = controlled()
            .world(|w| w.clock_offset_secs = offset)
            .args(&["--output", "json"])
            .args(&PASS)
            .run();
        run.code(0);
        assert_eq!(run.json()["clock_offset_secs"], offset, "{}", run.stderr);
        assert_eq!(run.json()["requests"], 2);
        let requests = run.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].status, 401);
        assert!(
            run.stderr.contains("signing again on GitLab's time"),
            "{}",
            run.stderr
        );
        assert_ne!(
            requests[0].header("x-gitlab-nonce"),
            requests[1].header("x-gitlab-nonce"),
            "a new nonce each attempt"
        );
        assert_eq!(run.server.world(|w| w.control_status(42, 12)), "pass");
    }
}

#[test]
fn a_request_repeated_on_the_way_is_signed_again_not_failed() {
    // A proxy that retried the request: GitLab saw the nonce already.
    let replayed = FaultKind::Status {
        code: 401,
        body: r#"{"error":"Invalid nonce"}"#.into(),
        content_type: "application/json".into(),
    };
    let run = controlled()
        .fault(Fault::new(replayed).on("PATCH", CONTROL))
        .args(&["control", "fail", "--control-id", "12"])
        .run();
    run.code(0).stderr_has("GitLab saw this request twice");
    let nonces: Vec<_> = run
        .requests()
        .iter()
        .map(|r| r.header("x-gitlab-nonce").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(nonces.len(), 2);
    assert_ne!(nonces[0], nonces[1]);
    assert_eq!(run.server.world(|w| w.control_status(42, 12)), "fail");
}

#[test]
fn transient_answers_are_retried_signed_afresh() {
    let run = controlled()
        .fault(Fault::new(FaultKind::HtmlError(502)).on("PATCH", CONTROL))
        .fault(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Some("1".into()),
            })
            .on("PATCH", CONTROL),
        )
        .args(&["--retry-delay", "50ms"])
        .args(&PASS)
        .run();
    run.code(0).request_count(3);
    // GitLab acted but the answer was lost: setting it again is harmless.
    let run = controlled()
        .fault(Fault::new(FaultKind::AfterActing(Box::new(FaultKind::Reset))).on("PATCH", CONTROL))
        .args(&["--retry-delay", "50ms"])
        .args(&PASS)
        .run();
    run.code(0).request_count(2);
    // A 200 that is not GitLab's is never taken for a success.
    let page = FaultKind::Status {
        code: 200,
        body: "<html>welcome</html>".into(),
        content_type: "text/html".into(),
    };
    let run = controlled()
        .fault(Fault::new(page).on("PATCH", CONTROL).times(10))
        .args(&[
            "--retries",
            "1",
            "--retry-delay",
            "50ms",
            "control",
            "pass",
            "--control-id",
            "12",
        ])
        .run();
    run.code(5)
        .stderr_has("this answer comes from something else");
    assert_eq!(run.server.world(|w| w.control_status(42, 12)), "pending");
}

#[test]
fn each_refusal_says_why_and_what_to_do() {
    let refused = |code: u16, error: &str| {
        Fault::new(FaultKind::Status {
            code,
            body: format!(r#"{{"error":"{error}"}}"#),
            content_type: "application/json".into(),
        })
        .on("PATCH", CONTROL)
    };
    let cases: Vec<(Test, &str, &str, &str)> = vec![
        (
            controlled().env("STATUS_CHECK_CONTROL_SECRET", "not-the-secret"),
            "12",
            "the secret does not match control 12 (--control-id/STATUS_CHECK_CONTROL_ID) (401 Invalid signature)",
            "store that same value in the variable STATUS_CHECK_CONTROL_SECRET",
        ),
        (
            controlled(),
            "99",
            "GitLab has no control 99",
            "external control of a compliance requirement",
        ),
        (
            controlled().world(not_external),
            "13",
            "control 13 (--control-id/STATUS_CHECK_CONTROL_ID) is not an external control",
            "make this one external",
        ),
        (
            controlled().world(|w| w.compliance.applied.clear()),
            "12",
            "GitLab found no project 42 (CI_PROJECT_ID) that has the framework holding control 12",
            "apply the compliance framework",
        ),
        (
            controlled().world(|w| w.projects[0].premium = false),
            "12",
            "project 42 (CI_PROJECT_ID) may not use compliance frameworks",
            "Premium or Ultimate",
        ),
        (
            Test::on_version("17.10.0-ee")
                .world(|w| w.add_external_control(42, 1, 12, SECRET))
                .env("STATUS_CHECK_CONTROL_SECRET", SECRET),
            "12",
            "GitLab has no external controls endpoint at http://127.0.0.1",
            "GitLab 17.11 or later",
        ),
        (
            controlled().fault(refused(401, "Missing required headers")),
            "12",
            "GitLab did not receive the signature headers",
            "let X-Gitlab-* request headers through",
        ),
        (
            controlled().fault(refused(
                400,
                "Failed to update compliance control status. Error: Status is invalid",
            )),
            "12",
            "GitLab could not store the status of control 12",
            "run the job again",
        ),
        (
            controlled().fault(refused(403, "Forbidden by the firewall")),
            "12",
            "setting the status of control 12 (--control-id/STATUS_CHECK_CONTROL_ID) answered 403: Forbidden by the firewall",
            "something between the job and GitLab",
        ),
    ];
    for (test, id, message, hint) in cases {
        let run = test.args(&["control", "pass", "--control-id", id]).run();
        run.code(5).stderr_has(message).stderr_has(hint);
        no_secret_anywhere(&run);
        assert_eq!(run.requests().len(), 1, "a refusal is not retried");
    }
}

#[test]
fn a_clock_refused_on_gitlab_s_own_time_too_names_the_runner_s_clock() {
    // Every attempt refused as expired: no clock fix helps (a GitLab whose nodes disagree).
    let expired = FaultKind::Status {
        code: 401,
        body: r#"{"error":"Request has expired"}"#.into(),
        content_type: "application/json".into(),
    };
    let run = controlled()
        .fault(Fault::new(expired).on("PATCH", CONTROL).times(5))
        .args(&PASS)
        .run();
    run.code(5)
        .stderr_has("15 s or more behind its clock (Request has expired)")
        .stderr_has("synchronise the runner's clock (NTP)")
        .request_count(2);
}

#[test]
fn inputs_are_checked_before_any_request() {
    let cases: Vec<(Test, &[&str], &str)> = vec![
        (
            controlled(),
            &["control", "pass"],
            "which control? none was named",
        ),
        (
            controlled(),
            &["control", "pass", "--control-id", "twelve"],
            "--control-id/STATUS_CHECK_CONTROL_ID `twelve` is not a positive number",
        ),
        (
            controlled().unset("STATUS_CHECK_CONTROL_SECRET"),
            &["control", "pass", "--control-id", "12"],
            "the variable STATUS_CHECK_CONTROL_SECRET is not set",
        ),
        (
            controlled(),
            &[
                "control",
                "pass",
                "--control-id",
                "12",
                "--secret-variable",
                "NOPE_NOT_SET",
            ],
            "the variable NOPE_NOT_SET named by --secret-variable/STATUS_CHECK_CONTROL_SECRET_VARIABLE is not set",
        ),
        (
            controlled(),
            &[
                "--project",
                "acme/app",
                "control",
                "pass",
                "--control-id",
                "12",
            ],
            "a control's status is set on a project by its number, and --project/STATUS_CHECK_PROJECT is `acme/app`",
        ),
        (
            controlled(),
            &["control", "passed", "--control-id", "12"],
            "invalid value 'passed'",
        ),
    ];
    for (test, args, message) in cases {
        let run = test.args(args).run();
        run.code(2).stderr_has(message).request_count(0);
        no_secret_anywhere(&run);
    }
}

#[test]
fn the_secret_comes_from_a_file_or_a_file_variable() {
    let dir = tempdir::TempDir::new();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let path = file.to_string_lossy().into_owned();
    controlled()
        .unset("STATUS_CHECK_CONTROL_SECRET")
        .args(&[
            "control",
            "pass",
            "--control-id",
            "12",
            "--secret-file",
            &path,
        ])
        .run()
        .code(0);
    // A variable of type File holds the file's path; a component names the variable.
    controlled()
        .unset("STATUS_CHECK_CONTROL_SECRET")
        .env("SAST_CONTROL_SECRET", &path)
        .args(&[
            "control",
            "fail",
            "--control-id",
            "12",
            "--secret-variable",
            "SAST_CONTROL_SECRET",
        ])
        .run()
        .code(0);
    // STATUS_CHECK_CONTROL_SECRET itself may be of type File.
    controlled()
        .env("STATUS_CHECK_CONTROL_SECRET", &path)
        .args(&PASS)
        .run()
        .code(0);
}

// ---------------------------------------------------------------- run --control-id

#[test]
fn run_sets_the_control_from_the_command_s_outcome_without_a_token() {
    for (command, code, status) in [("true", 0, "pass"), ("false", 1, "fail")] {
        let run = controlled()
            .unset("STATUS_CHECK_TOKEN")
            .args(&["run", "--control-id", "12", "--", command])
            .run();
        run.code(code)
            .stdout_has(&format!("control 12 set to {status} on project 42"))
            .request_count(1);
        assert_eq!(run.server.world(|w| w.control_status(42, 12)), status);
        assert_eq!(run.requests()[0].header("private-token"), None);
        no_secret_anywhere(&run);
    }
}

#[test]
fn run_reports_the_check_and_sets_the_control() {
    let run = controlled()
        .checks(&["scan"])
        .args(&[
            "--output",
            "json",
            "run",
            "--name",
            "scan",
            "--control-id",
            "12",
            "--",
            "true",
        ])
        .run();
    run.code(0);
    assert_eq!(run.status_of("scan"), "passed");
    assert_eq!(run.server.world(|w| w.control_status(42, 12)), "pass");
    let json = run.json();
    assert_eq!(json["check"], "scan");
    assert_eq!(json["control"]["status"], "pass");
    assert_eq!(json["control"]["control_id"], 12);
    // The check's requests carry the token; the control's does not.
    for r in run.requests() {
        let is_control = r.path.ends_with(CONTROL);
        assert_eq!(
            r.header("private-token").is_none(),
            is_control,
            "{}",
            r.path
        );
    }
}

#[test]
fn a_control_refused_changes_run_s_exit_only_when_the_command_succeeded() {
    let wrong_secret = || controlled().env("STATUS_CHECK_CONTROL_SECRET", "wrong");
    wrong_secret()
        .args(&["run", "--control-id", "12", "--", "true"])
        .run()
        .code(5)
        .stderr_has("the secret does not match control 12");
    wrong_secret()
        .args(&["run", "--control-id", "12", "--", "sh", "-c", "exit 3"])
        .run()
        .code(3)
        .stderr_has("the secret does not match control 12");
    // Before the command runs: a bad input, and the command does not run.
    controlled()
        .unset("STATUS_CHECK_CONTROL_SECRET")
        .args(&["run", "--control-id", "12", "--", "sh", "-c", "echo ran"])
        .run()
        .code(2)
        .stderr_has("STATUS_CHECK_CONTROL_SECRET is not set")
        .stderr_has("status-check did not run `sh`");
}

#[test]
fn a_cancelled_run_fails_the_control_at_once() {
    let mut test = controlled();
    let dir = test.tempdir();
    let started = dir.join("started");
    let script = format!("touch {}; sleep 300", started.display());
    let running = test
        .args(&["run", "--control-id", "12", "--", "sh", "-c", &script])
        .spawn();
    assert!(wait_for_file(&started, 10), "the command never started");
    running.signal("TERM");
    let run = running.wait();
    run.code(128 + 15)
        .stdout_has("control 12 set to fail on project 42");
    assert_eq!(run.server.world(|w| w.control_status(42, 12)), "fail");
}

// ---------------------------------------------------------------- doctor --control-id

fn control_line(run: &Run) -> serde_json::Value {
    run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "control")
        .cloned()
        .unwrap_or_else(|| panic!("no control line: {}", run.stdout))
}

fn doctor(test: Test, id: &str) -> Run {
    let run = test
        .args(&["--output", "json", "doctor", "--control-id", id])
        .run();
    no_secret_anywhere(&run);
    run
}

#[test]
fn doctor_checks_the_control_and_its_secret_without_setting_it_or_a_token() {
    let run = doctor(controlled().unset("STATUS_CHECK_TOKEN"), "12");
    let line = control_line(&run);
    assert_eq!(line["result"], "ok", "{line}");
    let message = line["message"].as_str().unwrap();
    assert!(
        message.starts_with("control 12 exists, is external, and its secret (the variable STATUS_CHECK_CONTROL_SECRET) matches;"),
        "{message}"
    );
    assert!(
        message.contains("show only when a status is set"),
        "{message}"
    );
    assert!(message.contains("ping is on"), "{message}");
    assert_eq!(run.server.world(|w| w.control_status(42, 12)), "pending");
    let probes = run.requests_to("PATCH", CONTROL);
    assert_eq!(probes.len(), 2);
    assert_eq!(
        probes[0].header("x-gitlab-hmac-sha256"),
        None,
        "the first is unsigned"
    );
    assert_eq!(probes[1].header("x-gitlab-timestamp"), Some("1"));
    // Without --control-id, no line and no request.
    let run = controlled().args(&["--output", "json", "doctor"]).run();
    assert!(
        run.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"] != "control")
    );
    assert!(run.requests_to("PATCH", CONTROL).is_empty());
}

#[test]
fn doctor_fails_the_control_line_with_the_reason() {
    for (test, id, result, says) in [
        (
            controlled().env("STATUS_CHECK_CONTROL_SECRET", "wrong"),
            "12",
            "fail",
            "the secret does not match control 12",
        ),
        (controlled(), "99", "fail", "GitLab has no control 99"),
        (
            controlled().world(not_external),
            "13",
            "fail",
            "control 13 (--control-id/STATUS_CHECK_CONTROL_ID) is not an external control",
        ),
        (
            Test::on_version("17.10.0-ee").env("STATUS_CHECK_CONTROL_SECRET", SECRET),
            "12",
            "fail",
            "GitLab has no external controls endpoint",
        ),
        (
            controlled().unset("STATUS_CHECK_CONTROL_SECRET"),
            "12",
            "warn",
            "control 12 exists and is external; the secret was not checked: the variable STATUS_CHECK_CONTROL_SECRET is not set",
        ),
        (
            controlled().world(|w| w.clock_offset_secs = -600),
            "12",
            "ok",
            "this runner's clock is -600 s off GitLab's",
        ),
    ] {
        let run = doctor(test, id);
        let line = control_line(&run);
        assert_eq!(line["result"], result, "{line}");
        assert!(line["message"].as_str().unwrap().contains(says), "{line}");
    }
}
