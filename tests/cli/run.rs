//! `status-check run -- CMD`: pending, CMD, passed/failed; exit codes,
//! heartbeat, signals, stale SHAs and failing reports.

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// The request log once every request in it has its answer recorded: the
/// fake records a status after sending the answer, so the binary may have
/// exited before the last one is written down.
fn settled(run: &Run) -> &Run {
    let answered = run.server.wait_until(Duration::from_secs(5), |_, log| {
        log.iter().all(|r| r.status != 0)
    });
    assert!(answered, "the fake never recorded every answer");
    run
}

/// The statuses of the responses GitLab accepted, in order.
fn posted(run: &Run) -> Vec<String> {
    settled(run)
        .requests_to("POST", "/status_check_responses")
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).expect("JSON body");
            body["status"].as_str().unwrap_or("(none)").to_owned()
        })
        .collect()
}

fn accepted_posts(log: &[LoggedRequest]) -> usize {
    log.iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/status_check_responses"))
        .filter(|r| r.status == 201)
        .count()
}

/// A shell script that writes `started`, then waits for `release` and exits `code`.
fn gated_script(dir: &Path, code: i32) -> String {
    format!(
        "echo > {started}; while [ ! -f {release} ]; do sleep 0.05; done; exit {code}",
        started = dir.join("started").display(),
        release = dir.join("release").display(),
    )
}

fn release(dir: &Path) {
    std::fs::write(dir.join("release"), "").unwrap();
}

fn started(dir: &Path) {
    assert!(
        wait_for_file(&dir.join("started"), 10),
        "the command never started"
    );
}

#[test]
fn success_posts_pending_then_passed_and_passes_the_output_through() {
    let run = Test::new()
        .checks(&["security-scan", "license-check"])
        .args(&[
            "run",
            "--name",
            "security-scan",
            "--",
            "sh",
            "-c",
            "echo from-the-command; echo to-stderr >&2",
        ])
        .run();
    run.code(0)
        .stdout_has("from-the-command")
        .stderr_has("to-stderr")
        .stderr_has("reported pending for \"security-scan\" on !7")
        .stdout_has("`sh` exited with 0")
        .stdout_has("reported passed for \"security-scan\" on !7 at a1a1a1a1")
        .no_token_in_output();
    assert_eq!(posted(&run), ["pending", "passed"]);
    assert_eq!(
        run.requests_to("GET", "/status_checks").len(),
        1,
        "the name is resolved once, then posted by id"
    );
    assert_eq!(run.status_of("security-scan"), "passed");
    assert_eq!(run.status_of("license-check"), "pending");
}

#[test]
fn the_command_exit_code_is_passed_through_and_fails_the_check() {
    for code in [1, 3, 42] {
        let run = Test::new()
            .checks(&["scan"])
            .args(&[
                "run",
                "--name",
                "scan",
                "--",
                "sh",
                "-c",
                &format!("exit {code}"),
            ])
            .run();
        run.code(code)
            .stdout_has(&format!("exited with {code}"))
            .stdout_has("reported failed for \"scan\" on !7");
        assert_eq!(posted(&run), ["pending", "failed"]);
        assert_eq!(run.status_of("scan"), "failed");
    }
}

#[test]
fn by_check_id_needs_no_list() {
    let mut id = 0;
    let run = Test::new()
        .world(|w| id = w.add_check(42, "scan", "https://x"))
        .args(&["run", "--check-id", &id.to_string(), "--", "true"])
        .run();
    run.code(0).request_count(2);
    assert_eq!(run.status_of("scan"), "passed");
}

#[test]
fn a_command_that_is_not_found_exits_127_and_fails_the_check() {
    let run = Test::new()
        .checks(&["scan"])
        .args(&["run", "--name", "scan", "--", "./no-such-scan.sh"])
        .run();
    run.code(127)
        .stderr_has("`./no-such-scan.sh` was not found")
        .stdout_has("reported failed");
    assert_eq!(posted(&run), ["pending", "failed"]);
}

#[test]
fn a_command_that_is_not_executable_exits_126() {
    let mut test = Test::new().checks(&["scan"]);
    let script = test.tempdir().join("scan.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let run = test
        .args(&["run", "--name", "scan", "--", script.to_str().unwrap()])
        .run();
    run.code(126).stderr_has("is not executable");
    assert_eq!(run.status_of("scan"), "failed");
}

#[test]
fn an_unknown_check_stops_before_the_command_runs() {
    let mut test = Test::new().checks(&["security-scan"]);
    let marker = test.tempdir().join("ran");
    let run = test
        .args(&[
            "run",
            "--name",
            "security_scan",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    run.code(2)
        .stderr_has("no check named \"security_scan\" on !7")
        .stderr_has("did not run `touch`");
    assert!(!marker.exists(), "the command must not run");
    assert!(run.requests_to("POST", "").is_empty());
}

#[test]
fn a_credential_error_on_pending_stops_before_the_command_runs() {
    let mut id = 0;
    let mut test = Test::new()
        .world(|w| id = w.add_check(42, "scan", "https://x"))
        .token(EXPIRED_TOKEN);
    let marker = test.tempdir().join("ran");
    let run = test
        .args(&[
            "run",
            "--check-id",
            &id.to_string(),
            "--",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    run.code(5)
        .stderr_has("expired")
        .stderr_has("did not run")
        .no_token_in_output();
    assert!(!marker.exists());
}

#[test]
fn a_gitlab_outage_on_pending_still_runs_the_command() {
    let run = Test::new()
        .checks(&["scan"])
        .fault(
            Fault::new(FaultKind::Status {
                code: 503,
                body: "down for maintenance".into(),
                content_type: "text/plain".into(),
            })
            .on("POST", "/status_check_responses")
            .times(2),
        )
        .args(&[
            "--retries",
            "1",
            "run",
            "--name",
            "scan",
            "--",
            "sh",
            "-c",
            "echo ran",
        ])
        .run();
    run.code(0)
        .stdout_has("ran")
        .stderr_has("running `sh` anyway");
    assert_eq!(posted(&run), ["passed"]);
}

/// `sleep 1.5` as the check on 16.6, whose pending times out after 700 ms, with a
/// heartbeat every `heartbeat`: whether the check read failed before the final
/// report, and the run.
fn past_the_pending_timeout(heartbeat: &str) -> (bool, Run) {
    let saw_failed = Cell::new(false);
    let run = Test::on_version("16.6.0")
        .checks(&["scan"])
        .world(|w| w.pending_timeout_ms = Some(700))
        .args(&[
            "run",
            "--name",
            "scan",
            "--heartbeat",
            heartbeat,
            "--",
            "sleep",
            "1.5",
        ])
        .spawn()
        .wait_for("the final report", 20, |w, _| {
            let status = w.status_of(42, 7, "scan");
            if status == "failed" {
                saw_failed.set(true);
            }
            status == "passed"
        })
        .wait();
    (saw_failed.get(), run)
}

#[test]
fn heartbeat_keeps_the_check_pending_past_the_pending_timeout() {
    let (saw_failed, run) = past_the_pending_timeout("200ms");
    run.code(0);
    assert!(!saw_failed, "the check read failed while the command ran");
    let statuses = posted(&run);
    assert!(
        statuses.len() >= 4,
        "pending, heartbeats, passed: {statuses:?}"
    );
    assert!(
        statuses[..statuses.len() - 1]
            .iter()
            .all(|s| s == "pending")
    );
}

/// The control for the test above: the same run with a heartbeat slower
/// than the command does let the fake time the pending out.
#[test]
fn without_a_heartbeat_the_pending_times_out() {
    let (saw_failed, run) = past_the_pending_timeout("30s");
    run.code(0);
    assert!(saw_failed, "the fake's pending timeout did not fire");
    assert_eq!(posted(&run), ["pending", "passed"]);
}

#[test]
fn a_failed_heartbeat_is_logged_and_retried() {
    let mut test = Test::on_version("16.6.0").checks(&["scan"]);
    let dir = test.tempdir();
    let running = test
        .args(&[
            "run",
            "--name",
            "scan",
            "--heartbeat",
            "200ms",
            "--",
            "sh",
            "-c",
            &gated_script(&dir, 0),
        ])
        .spawn();
    started(&dir);
    running.server.fault(
        Fault::new(FaultKind::HtmlError(500))
            .on("POST", "/status_check_responses")
            .times(3),
    );
    let running = running.wait_for("a heartbeat after the failures", 20, |_, log| {
        let failures = log.iter().filter(|r| r.status == 500).count();
        let last_failure = log.iter().rposition(|r| r.status == 500);
        failures == 3 && last_failure.is_some_and(|i| accepted_posts(&log[i..]) > 0)
    });
    release(&dir);
    let run = running.wait();
    run.code(0).stderr_has("heartbeat:");
    assert_eq!(run.status_of("scan"), "passed");
}

#[test]
fn on_16_5_pending_is_posted_once_without_heartbeat() {
    let run = Test::on_version("16.5.0")
        .checks(&["scan"])
        .args(&[
            "run",
            "--name",
            "scan",
            "--heartbeat",
            "100ms",
            "--",
            "sleep",
            "0.5",
        ])
        .run();
    run.code(0);
    assert_eq!(posted(&run), ["pending", "passed"]);
}

#[test]
fn on_16_4_no_pending_is_posted_and_that_is_said_once() {
    let run = Test::on_version("16.4.0")
        .checks(&["scan"])
        .args(&["run", "--name", "scan", "--", "true"])
        .run();
    run.code(0);
    assert_eq!(
        run.stderr.matches("cannot store a pending status").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(posted(&run), ["passed"]);
}

#[test]
fn no_pending_flag_posts_only_the_result() {
    let run = Test::new()
        .checks(&["scan"])
        .args(&["run", "--name", "scan", "--no-pending", "--", "false"])
        .run();
    run.code(1);
    assert_eq!(posted(&run), ["failed"]);
}

#[test]
fn sigterm_is_passed_to_the_command_group_and_fails_the_check() {
    let mut test = Test::new().checks(&["scan"]);
    let dir = test.tempdir();
    let sleeper = dir.join("sleeper");
    // A grandchild: it gets the signal only through the process group.
    let script = format!(
        "sleep 300 & echo $! > {p}.tmp && mv {p}.tmp {p}; wait",
        p = sleeper.display()
    );
    let running = test
        .args(&["run", "--name", "scan", "--", "sh", "-c", &script])
        .spawn();
    assert!(wait_for_file(&sleeper, 10), "the command never started");
    let pid: u32 = std::fs::read_to_string(&sleeper)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    running.signal("TERM");
    assert!(
        process_ends(pid, 10),
        "the command's child {pid} survived SIGTERM"
    );
    let run = running.wait();
    run.code(128 + 15)
        .stderr_has("received SIGTERM: passed it on to `sh`")
        .stdout_has("`sh` was ended by SIGTERM")
        .stdout_has("reported failed for \"scan\" on !7");
    assert_eq!(posted(&run), ["pending", "failed"]);
    assert_eq!(run.status_of("scan"), "failed");
}

#[test]
fn a_command_that_outlives_sigterm_has_the_check_failed_at_once() {
    let mut test = Test::new().checks(&["scan"]);
    let dir = test.tempdir();
    let script = format!(
        "trap 'echo > {trapped}' TERM; {gate}",
        trapped = dir.join("trapped").display(),
        gate = gated_script(&dir, 0)
    );
    let running = test
        .args(&["run", "--name", "scan", "--", "sh", "-c", &script])
        .spawn();
    started(&dir);
    running.signal("TERM");
    // Failed while the command still cleans up: a runner may SIGKILL next.
    let running = running.wait_for("failed while the command runs", 10, |w, _| {
        w.status_of(42, 7, "scan") == "failed"
    });
    assert!(
        wait_for_file(&dir.join("trapped"), 10),
        "no SIGTERM reached the command"
    );
    release(&dir);
    let run = running.wait();
    run.code(128 + 15).stdout_has("exited with 0 after SIGTERM");
    assert_eq!(posted(&run), ["pending", "failed"], "reported once");
}

#[test]
fn sigint_is_forwarded_too() {
    let mut test = Test::new().checks(&["scan"]);
    let dir = test.tempdir();
    let running = test
        .args(&[
            "run",
            "--name",
            "scan",
            "--",
            "sh",
            "-c",
            &gated_script(&dir, 0),
        ])
        .spawn();
    started(&dir);
    running.signal("INT");
    let run = running.wait();
    run.code(128 + 2).stderr_has("received SIGINT");
    assert_eq!(run.status_of("scan"), "failed");
}

fn stale_run(code: i32) -> Run {
    let mut test = Test::new().checks(&["scan"]);
    let dir = test.tempdir();
    let running = test
        .args(&[
            "run",
            "--name",
            "scan",
            "--",
            "sh",
            "-c",
            &gated_script(&dir, code),
        ])
        .spawn();
    started(&dir);
    running.server.world(|w| w.push_head(42, 7, SHA_B));
    release(&dir);
    running.wait()
}

#[test]
fn a_stale_sha_on_the_final_report_exits_4_naming_the_new_head() {
    let run = stale_run(0);
    run.code(4).stderr_has(&format!("its head is {SHA_B}"));
    assert_eq!(
        settled(&run)
            .requests_to("POST", "/status_check_responses")
            .last()
            .unwrap()
            .status,
        409
    );
}

#[test]
fn a_stale_sha_does_not_hide_a_failed_command() {
    stale_run(3)
        .code(3)
        .stderr_has(&format!("its head is {SHA_B}"));
}

#[test]
fn a_final_report_failing_with_500s_is_tried_again() {
    let run = Test::new()
        .checks(&["scan"])
        .fault(
            Fault::new(FaultKind::HtmlError(500))
                .on("POST", "/status_check_responses")
                .times(2),
        )
        .args(&["run", "--name", "scan", "--no-pending", "--", "true"])
        .run();
    run.code(0).stdout_has("reported passed");
    assert_eq!(run.requests_to("POST", "/status_check_responses").len(), 3);
    assert_eq!(run.status_of("scan"), "passed");
}

#[test]
fn a_final_report_that_keeps_failing_exits_5_only_when_the_command_passed() {
    for (command, expected) in [("exit 0", 5), ("exit 3", 3)] {
        let run = Test::new()
            .checks(&["scan"])
            .fault(
                Fault::new(FaultKind::HtmlError(500))
                    .on("POST", "/status_check_responses")
                    .times(100),
            )
            .args(&[
                "run",
                "--name",
                "scan",
                "--no-pending",
                "--",
                "sh",
                "-c",
                command,
            ])
            .run();
        run.code(expected)
            .stderr_has("status-check: error: reporting check \"scan\" on !7");
        assert_eq!(run.status_of("scan"), "pending");
    }
}

#[test]
fn json_output_ends_with_one_line_for_the_run() {
    let run = Test::new()
        .checks(&["scan"])
        .args(&[
            "--output",
            "json",
            "run",
            "--name",
            "scan",
            "--",
            "sh",
            "-c",
            "echo hello; exit 3",
        ])
        .run();
    run.code(3);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("hello"));
    let json: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(lines.next(), None);
    assert_eq!(json["check"], "scan");
    assert_eq!(json["status"], "failed");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["command_exit_code"], 3);
    assert!(json["duration_ms"].is_u64());
    assert_eq!(json["reported"][0]["merge_request_iid"], 7);
}

#[test]
fn branch_pipeline_reports_on_every_open_mr_of_the_sha() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| {
            w.add_mr(42, 8, "feature", "release", SHA_A, "opened");
            w.add_mr(42, 9, "feature", "main", SHA_A, "closed");
        })
        .args(&["run", "--name", "scan", "--", "true"])
        .run();
    run.code(0).stdout_has("on !7").stdout_has("on !8");
    assert_eq!(posted(&run), ["pending", "pending", "passed", "passed"]);
    run.server.world(|w| {
        assert_eq!(w.status_of(42, 8, "scan"), "passed");
        assert_eq!(w.status_of(42, 9, "scan"), "pending");
    });
}

#[test]
fn branch_pipeline_without_mr_runs_the_command_without_reporting() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| w.mr_mut(42, 7).state = "merged".into())
        .args(&["run", "--name", "scan", "--", "sh", "-c", "exit 7"])
        .run();
    run.code(7).stdout_has("nothing reported");
    assert!(run.requests_to("POST", "").is_empty());
}

#[test]
fn the_token_is_not_handed_to_the_command() {
    let mut test = Test::new().checks(&["scan"]).unset("STATUS_CHECK_TOKEN");
    let dir = test.tempdir();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{DEV_TOKEN}\n")).unwrap();
    let env_dump = dir.join("env");
    let run = test
        .args(&[
            "--token-file",
            token_file.to_str().unwrap(),
            "run",
            "--name",
            "scan",
            "--",
            "sh",
            "-c",
            &format!("env > {}", env_dump.display()),
        ])
        .run();
    run.code(0).no_token_in_output();
    let env = std::fs::read_to_string(&env_dump).unwrap();
    assert!(!env.contains(DEV_TOKEN), "the command saw the token");
    assert!(
        env.contains("CI_MERGE_REQUEST_IID=7"),
        "the job's environment is inherited"
    );
}

#[test]
fn a_heartbeat_that_would_hammer_is_refused() {
    Test::new()
        .checks(&["scan"])
        .args(&["run", "--name", "scan", "--heartbeat", "0", "--", "true"])
        .run()
        .code(2)
        .stderr_has("--heartbeat")
        .request_count(0);
}

/// True once `pid` is gone or a zombie (nobody may reap it in a container).
fn process_ends(pid: u32, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let gone = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
            Err(_) if Path::new("/proc/self").exists() => true,
            Err(_) => !kill_0(pid),
        };
        if gone {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_0(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
