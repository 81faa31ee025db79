//! `status-check wait`: the merge gate, against scripted timelines.

use std::time::Duration;

use crate::support::*;

/// Fast polling for tests: the schedule's shape is unit-tested separately.
const FAST: [&str; 5] = ["wait", "--interval", "50ms", "--max-interval", "100ms"];

fn gate(test: Test) -> Test {
    test.args(&FAST)
}

fn list_gets(run: &Run) -> Vec<LoggedRequest> {
    run.requests_to("GET", "/status_checks")
}

#[test]
fn all_pass_after_some_polls() {
    let run = gate(Test::new().checks(&["security-scan", "license-check"]))
        .event(Event::status_at_poll(2, "security-scan", "passed"))
        .event(Event::status_at_poll(4, "license-check", "passed"))
        .run();
    run.code(0)
        .stdout_has("all 2 checks passed on !7")
        .stderr_has("waiting for 2 checks on !7 at a1a1a1a1")
        .stderr_has("security-scan: pending → passed (")
        .stderr_has("license-check: pending → passed (");
    assert_eq!(list_gets(&run).len(), 4);
    // One line per state change, not per poll.
    assert_eq!(run.stderr.matches("→").count(), 2, "{}", run.stderr);
}

#[test]
fn already_passed_takes_one_poll_and_one_head_read() {
    let run = gate(Test::new().checks(&["a"]))
        .world(|w| w.set_status(42, 7, "a", "passed"))
        .run();
    run.code(0).request_count(2);
    assert_eq!(
        run.requests_to("GET", "/merge_requests/7").len(),
        1,
        "the head is confirmed before passing"
    );
}

#[test]
fn a_failed_check_fails_fast() {
    let run = gate(Test::new().checks(&["scan", "slow"]))
        .event(Event::status_at_poll(2, "scan", "failed"))
        .run();
    run.code(1).stdout_has("status checks failed on !7: scan");
    assert_eq!(list_gets(&run).len(), 2);
}

#[test]
fn no_fail_fast_waits_for_the_others() {
    let run = gate(Test::new().checks(&["scan", "slow"]))
        .args(&["--no-fail-fast"])
        .event(Event::status_at_poll(2, "scan", "failed"))
        .event(Event::status_at_poll(5, "slow", "passed"))
        .run();
    run.code(1)
        .stdout_has("failed on !7: scan")
        .stderr_has("slow: pending → passed");
    assert_eq!(list_gets(&run).len(), 5);
}

#[test]
fn retry_failed_asks_gitlab_then_passes() {
    let run = gate(Test::new().checks(&["flaky"]))
        .args(&["--retry-failed", "2"])
        .event(Event::status_at_poll(2, "flaky", "failed"))
        .event(Event::status_at_poll(5, "flaky", "passed"))
        .run();
    run.code(0).stderr_has("flaky: failed → retrying (1/2)");
    assert_eq!(run.requests_to("POST", "/retry").len(), 1);
}

#[test]
fn retry_failed_gives_up_after_n() {
    let run = gate(Test::new().checks(&["flaky"]))
        .args(&["--retry-failed", "1"])
        .event(Event::status_at_poll(2, "flaky", "failed"))
        .event(Event::status_at_poll(4, "flaky", "failed"))
        .run();
    run.code(1).stdout_has("failed on !7: flaky");
    assert_eq!(run.requests_to("POST", "/retry").len(), 1);
}

#[test]
fn timeout_exits_3_naming_what_is_pending_within_a_second() {
    let run = Test::new()
        .checks(&["done", "never"])
        .world(|w| w.set_status(42, 7, "done", "passed"))
        .args(&[
            "wait",
            "--timeout",
            "1s",
            "--interval",
            "300ms",
            "--max-interval",
            "5s",
        ])
        .run();
    run.code(3)
        .stdout_has("timed out after")
        .stdout_has("still pending: never");
    assert!(!run.stdout.contains("pending: done"));
    assert!(
        run.elapsed < Duration::from_secs(2),
        "deadline honoured: {:?}",
        run.elapsed
    );
}

#[test]
fn the_deadline_holds_while_retrying_a_rate_limit() {
    let run = Test::new()
        .checks(&["a"])
        .fault(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Some("60".into()),
            })
            .times(100),
        )
        .args(&["wait", "--timeout", "1s"])
        .run();
    run.code(3).stdout_has(
        "without one successful poll: GET /projects/42/merge_requests/7/status_checks answered 429",
    );
    assert!(run.elapsed < Duration::from_secs(2), "{:?}", run.elapsed);
    // Retry-After reaches past the deadline: no poll hammers the limiter meanwhile.
    assert_eq!(list_gets(&run).len(), 1, "{}", run.stderr);
}

#[test]
fn retry_after_holds_back_the_next_poll_when_retries_ran_out() {
    let run = gate(Test::new().checks(&["a"]))
        .world(|w| w.set_status(42, 7, "a", "passed"))
        .args(&["--retries", "0"])
        .fault(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Some("1".into()),
            })
            .on("GET", "/status_checks"),
        )
        .run();
    run.code(0);
    let gets = list_gets(&run);
    assert_eq!(gets.len(), 2, "{}", run.stderr);
    assert!(
        gets[1].at_ms - gets[0].at_ms >= 1000,
        "the gate's own poll waits for Retry-After, not its 50ms interval"
    );
}

#[test]
fn a_push_during_the_wait_is_stale() {
    let run = gate(Test::new().checks(&["a", "b"]))
        .world(|w| w.set_status(42, 7, "a", "passed"))
        .event(Event::push_at_poll(3, SHA_B))
        .run();
    run.code(4)
        .stdout_has(&format!("moved from {SHA_A} to {SHA_B}"));
}

#[test]
fn a_push_is_noticed_even_when_nothing_changes_in_the_list() {
    let run = gate(Test::new().checks(&["a"]))
        .event(Event::push_at_poll(2, SHA_B))
        .run();
    run.code(4);
    let heads = run.requests_to("GET", "/merge_requests/7").len();
    assert!(
        heads <= list_gets(&run).len(),
        "the head is read at most as often as the list"
    );
}

#[test]
fn rate_limits_with_retry_after_are_waited_out() {
    let run = gate(Test::new().checks(&["a"]))
        .world(|w| w.set_status(42, 7, "a", "passed"))
        .fault(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Some("1".into()),
            })
            .on("GET", "/status_checks"),
        )
        .run();
    run.code(0);
    let gets = list_gets(&run);
    assert_eq!(gets.len(), 2);
    assert!(
        gets[1].at_ms - gets[0].at_ms >= 1000,
        "Retry-After honoured"
    );
    // (Counted as "answered 429": a section marker's Unix time may hold "429" too.)
    assert_eq!(
        run.stderr.matches("answered 429").count(),
        1,
        "logged once: {}",
        run.stderr
    );
}

#[test]
fn transient_faults_never_count_as_failures() {
    // A 429 from a per-endpoint limit (no budget headers, no Retry-After): the gate's
    // pace halves with each (pacing.rs), so four of them stay fast enough here.
    let too_many = FaultKind::Status {
        code: 429,
        body: "Retry later".into(),
        content_type: "text/plain".into(),
    };
    for (kind, times) in [
        (too_many, 4),
        (FaultKind::HtmlError(503), 4),
        (FaultKind::HtmlError(502), 4),
        (FaultKind::Reset, 4),
        // A body that is not JSON is a glitch twice, not three times in a row.
        (FaultKind::InvalidJson, 2),
    ] {
        let run = gate(Test::new().checks(&["a"]))
            .args(&["--retries", "1"])
            .fault(
                Fault::new(kind.clone())
                    .on("GET", "/status_checks")
                    .times(times),
            )
            .event(Event::status_at_poll(6, "a", "passed"))
            .run();
        run.code(0).stdout_has("all 1 checks passed");
        assert!(list_gets(&run).len() >= 6, "{kind:?}");
    }
}

#[test]
fn a_body_that_is_never_json_is_not_gitlab() {
    gate(Test::new().checks(&["a"]))
        .fault(
            Fault::new(FaultKind::InvalidJson)
                .on("GET", "/status_checks")
                .times(100),
        )
        .run()
        .code(5)
        .stderr_has("not the expected JSON")
        .stderr_has("/api/v4")
        .request_count(3);
}

#[test]
fn auth_errors_are_fatal_at_once() {
    // Before 17.4 a Reporter may not read the MR's checks (row `reporter-read-17-4`).
    let run = gate(Test::on_version("17.3").checks(&["a"]))
        .token(REPORTER_TOKEN)
        .run();
    run.code(5).stderr_has("403").request_count(1);
}

#[test]
fn poll_interval_header_is_a_floor() {
    let run = Test::new()
        .checks(&["a"])
        .world(|w| w.poll_interval_ms = 2500)
        .event(Event::status_at_poll(3, "a", "passed"))
        .args(&["wait", "--max-interval", "3s"])
        .run();
    run.code(0);
    let gets = list_gets(&run);
    for pair in gets.windows(2) {
        assert!(
            pair[1].at_ms - pair[0].at_ms >= 2500,
            "spacing {} ms",
            pair[1].at_ms - pair[0].at_ms
        );
    }
}

#[test]
fn politeness_an_interval_below_the_poll_interval_never_polls_faster() {
    // The issue-21 gate: `--interval 1s` against a GitLab that asks for 1.5 s.
    let run = Test::new()
        .checks(&["a"])
        .world(|w| w.poll_interval_ms = 1500)
        .event(Event::status_at_poll(3, "a", "passed"))
        .args(&["wait", "--interval", "1s", "--max-interval", "2s"])
        .run();
    run.code(0);
    let gets = list_gets(&run);
    assert_eq!(gets.len(), 3);
    for pair in gets.windows(2) {
        let spacing = pair[1].at_ms - pair[0].at_ms;
        assert!(spacing >= 1500, "spacing {spacing} ms");
    }
}

#[test]
fn a_zero_poll_interval_is_no_pace_at_all() {
    // `Poll-Interval: 0` would mean "poll continuously": it is ignored, and the
    // gate backs off between --interval and --max-interval as with no header.
    let run = Test::new()
        .checks(&["a"])
        .world(|w| w.poll_interval_ms = 0)
        .event(Event::status_at_poll(4, "a", "passed"))
        .args(&["wait", "--interval", "100ms", "--max-interval", "300ms"])
        .run();
    run.code(0);
    let gets = list_gets(&run);
    assert_eq!(gets.len(), 4);
    for pair in gets.windows(2) {
        let spacing = pair[1].at_ms - pair[0].at_ms;
        assert!(spacing >= 100, "spacing {spacing} ms");
    }
}

#[test]
fn polling_disabled_on_the_server_means_the_max_interval() {
    let run = Test::new()
        .checks(&["a"])
        .world(|w| w.poll_interval_ms = -1)
        .event(Event::status_at_poll(3, "a", "passed"))
        .args(&["wait", "--interval", "50ms", "--max-interval", "400ms"])
        .run();
    run.code(0);
    let gets = list_gets(&run);
    for pair in gets.windows(2) {
        assert!(pair[1].at_ms - pair[0].at_ms >= 400);
    }
}

#[test]
fn name_selects_and_ignore_and_self_exclude() {
    let failing = |t: Test| {
        t.checks(&["a", "b", "c"])
            .world(|w| w.set_status(42, 7, "b", "failed"))
    };
    gate(failing(Test::new()))
        .args(&["--name", "a"])
        .event(Event::status_at_poll(2, "a", "passed"))
        .run()
        .code(0)
        .stdout_has("all 1 checks passed");
    gate(failing(Test::new()))
        .args(&["--ignore", "b"])
        .event(Event::status_at_poll(2, "a", "passed"))
        .event(Event::status_at_poll(2, "c", "passed"))
        .run()
        .code(0)
        .stderr_has("ignoring \"b\"");
    gate(failing(Test::new()))
        .env("STATUS_CHECK_NAME", "b")
        .event(Event::status_at_poll(2, "a", "passed"))
        .event(Event::status_at_poll(2, "c", "passed"))
        .run()
        .code(0);
}

#[test]
fn an_unknown_name_is_a_usage_error_on_the_second_read() {
    // Absence is read twice: one odd answer that misses a check is no usage error.
    gate(Test::new().checks(&["a"]))
        .args(&["--name", "nope"])
        .run()
        .code(2)
        .stderr_has("--name \"nope\": no such check on !7")
        .request_count(2);
}

#[test]
fn nothing_to_wait_for_fails_unless_allowed() {
    gate(Test::new())
        .run()
        .code(1)
        .stderr_has("no external status checks apply to !7")
        .stderr_has("--allow-empty");
    gate(Test::new())
        .args(&["--allow-empty"])
        .run()
        .code(0)
        .stdout_has("nothing to wait for");
    gate(Test::new().checks(&["only"]))
        .args(&["--ignore", "only"])
        .run()
        .code(1)
        .stderr_has("every check on !7 is ignored");
}

#[test]
fn checks_that_appear_late_are_waited_for() {
    let run = gate(Test::new().checks(&["a"]))
        .event(Event::at_poll(
            2,
            Action::AddCheck {
                project_id: 42,
                name: "late".into(),
                external_url: "https://x".into(),
            },
        ))
        .event(Event::status_at_poll(3, "a", "passed"))
        .event(Event::status_at_poll(6, "late", "passed"))
        .run();
    run.code(0)
        .stderr_has("late: appeared on !7 as pending")
        .stdout_has("all 2 checks passed");
    assert_eq!(list_gets(&run).len(), 6);
}

#[test]
fn pages_are_followed_every_poll() {
    let names: Vec<String> = (0..245).map(|i| format!("c{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = gate(Test::new().checks(&refs))
        .world(|w| {
            for name in &names {
                w.set_status(42, 7, name, "passed");
            }
        })
        .args(&["--output", "json"])
        .run();
    run.code(0).request_count(4);
    let json = run.json();
    assert_eq!(json["checks"].as_array().unwrap().len(), 245);
}

#[test]
fn gitlab_16_6_turns_an_old_pending_into_failed() {
    let run = gate(Test::on_version("16.6.0").checks(&["slow-service"]))
        .world(|w| {
            w.pending_timeout_ms = Some(300);
            w.set_status(42, 7, "slow-service", "pending");
        })
        .run();
    run.code(1).stderr_has("slow-service: pending → failed");
}

#[test]
fn approved_on_14_x_is_passed() {
    gate(Test::on_version("14.5.0").checks(&["a"]))
        .event(Event::status_at_poll(2, "a", "approved"))
        .run()
        .code(0);
}

#[test]
fn junit_report_parses_with_a_testcase_per_check() {
    let mut test = Test::new().checks(&["ok", "bad", "never"]);
    let dir = test.tempdir();
    let junit = dir.join("gate.xml");
    let run = gate(test)
        .world(|w| {
            w.set_status(42, 7, "ok", "passed");
            w.set_status(42, 7, "bad", "failed");
        })
        .args(&[
            "--no-fail-fast",
            "--timeout",
            "1s",
            "--junit",
            junit.to_str().unwrap(),
        ])
        .run();
    run.code(3);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3);
    let by_name = |name: &str| {
        cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap()
    };
    assert!(by_name("ok").children().all(|c| !c.is_element()));
    assert!(by_name("bad").children().any(|c| c.has_tag_name("failure")));
    assert!(by_name("never").children().any(|c| c.has_tag_name("error")));
    let suites = doc.root_element();
    assert_eq!(suites.attribute("failures"), Some("1"));
    assert_eq!(suites.attribute("errors"), Some("1"));
}

#[test]
fn dotenv_report_for_later_jobs() {
    let mut test = Test::new().checks(&["security-scan"]);
    let env = test.tempdir().join("gate.env");
    let run = gate(test)
        .event(Event::status_at_poll(2, "security-scan", "passed"))
        .args(&["--dotenv", env.to_str().unwrap()])
        .run();
    run.code(0);
    let text = std::fs::read_to_string(&env).unwrap();
    assert!(text.contains("STATUS_CHECKS_RESULT=passed\n"), "{text}");
    assert!(text.contains("STATUS_CHECK_SECURITY_SCAN=passed\n"));
    for line in text.lines() {
        let (key, _) = line.split_once('=').expect("KEY=VALUE");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{key}"
        );
    }
}

#[test]
fn stale_result_reaches_the_dotenv_too() {
    let mut test = Test::new().checks(&["a"]);
    let env = test.tempdir().join("gate.env");
    let run = gate(test)
        .world(|w| w.push_head(42, 7, SHA_B))
        .args(&["--dotenv", env.to_str().unwrap()])
        .run();
    run.code(4);
    assert!(
        std::fs::read_to_string(&env)
            .unwrap()
            .contains("STATUS_CHECKS_RESULT=stale")
    );
}

#[test]
fn unwritable_report_path_fails_before_any_request() {
    gate(Test::new().checks(&["a"]))
        .args(&["--junit", "/nonexistent-dir/gate.xml"])
        .run()
        .code(2)
        .stderr_has("--junit: cannot write /nonexistent-dir/gate.xml")
        .request_count(0);
}

#[test]
fn json_summary() {
    let run = gate(Test::new().checks(&["a"]))
        .event(Event::status_at_poll(2, "a", "passed"))
        .args(&["--output", "json"])
        .run();
    run.code(0);
    let json = run.json();
    assert_eq!(json["result"], "passed");
    assert_eq!(json["requests"], run.requests().len());
    assert!(json["waited_seconds"].as_f64().is_some());
    assert_eq!(json["checks"][0]["name"], "a");
    assert_eq!(json["checks"][0]["status"], "passed");
}

#[test]
fn branch_pipeline_gates_every_open_mr() {
    let run = gate(Test::new().branch_pipeline().checks(&["a"]))
        .world(|w| {
            w.add_mr(42, 8, "feature", "release", SHA_A, "opened");
            w.set_status(42, 8, "a", "passed");
        })
        .event(Event::status_at_poll(2, "a", "passed"))
        .run();
    run.code(0).stdout_has("all 2 checks passed on !7, !8");
}

#[test]
fn sigterm_stops_at_once_with_143() {
    let running = gate(Test::new().checks(&["a"]))
        .spawn()
        .wait_for("two polls", 10, |_, reqs| reqs.len() >= 2);
    running.signal("TERM");
    let run = running.wait();
    run.code(143)
        .stderr_has("terminated (SIGTERM")
        .stderr_lacks("panicked");
}

#[test]
fn sigint_stops_at_once_with_130() {
    let running = gate(Test::new().checks(&["a"]))
        .spawn()
        .wait_for("two polls", 10, |_, reqs| reqs.len() >= 2);
    running.signal("INT");
    running.wait().code(130).stderr_has("interrupted (SIGINT");
}

#[test]
fn a_quiet_gate_says_what_is_still_pending_every_progress_interval() {
    let run = Test::new()
        .checks(&["done", "security-scan", "deploy"])
        .world(|w| w.set_status(42, 7, "done", "passed"))
        .args(&FAST)
        .args(&["--timeout", "1s", "--progress-every", "300ms"])
        .run();
    run.code(3)
        .stderr_has("still waiting: 2 pending (\"security-scan\", \"deploy\") after 300ms of 1s");
    // A line per interval at most, never one per poll.
    let lines = run.stderr.matches("still waiting:").count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{}", run.stderr);
}

#[test]
fn progress_lines_are_off_with_0_and_by_default_in_a_short_wait() {
    for extra in [&["--progress-every", "0"][..], &[][..]] {
        Test::new()
            .checks(&["never"])
            .env(
                "STATUS_CHECK_PROGRESS_EVERY",
                if extra.is_empty() { "0" } else { "5m" },
            )
            .args(&FAST)
            .args(&["--timeout", "400ms"])
            .args(extra)
            .run()
            .code(3)
            .stderr_lacks("still waiting");
    }
}

#[test]
fn section_markers_only_in_a_gitlab_job() {
    let passed = |t: Test| {
        gate(t.checks(&["a"]))
            .world(|w| w.set_status(42, 7, "a", "passed"))
            .run()
    };
    passed(Test::new())
        .code(0)
        .stderr_has("\x1b[0Ksection_start:")
        .stderr_has("\x1b[0Ksection_end:");
    // Another CI (CI=true, no GITLAB_CI): the header as plain text.
    for gitlab_ci in [None, Some("false")] {
        let t = Test::new().unset("GITLAB_CI");
        let t = match gitlab_ci {
            Some(v) => t.env("GITLAB_CI", v),
            None => t,
        };
        passed(t)
            .code(0)
            .stderr_has("waiting for 1 check on !7")
            .stderr_lacks("\x1b[");
    }
}

#[test]
fn on_several_mrs_every_line_names_the_mr() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["a"])
        .world(|w| {
            w.add_mr(42, 8, "feature", "release", SHA_A, "opened");
            w.set_status(42, 7, "a", "passed");
        })
        .args(&FAST)
        .args(&["--timeout", "1s", "--progress-every", "300ms"])
        .run();
    run.code(3)
        .stderr_has("waiting for 2 checks on !7, !8 at a1a1a1a1 (timeout 1s): !7 a (passed), !8 a (pending)")
        .stderr_has("still waiting: 1 pending (!8 \"a\") after 300ms of 1s")
        .stderr_has("MR  CHECK  STATUS   AT")
        .stderr_has("!8  a      pending");
}

#[test]
fn on_one_mr_no_line_names_it() {
    let run = gate(Test::new().checks(&["a"]))
        .args(&["--timeout", "1s", "--progress-every", "300ms"])
        .run();
    run.code(3)
        .stderr_has("waiting for 1 check on !7 at a1a1a1a1 (timeout 1s): a (pending)")
        .stderr_has("still waiting: 1 pending (\"a\") after 300ms of 1s")
        .stderr_has("CHECK  STATUS   AT")
        .stderr_lacks("MR  CHECK");
}

#[test]
fn the_waiting_line_comes_once_after_the_first_poll() {
    let run = gate(Test::new().checks(&["a"]))
        .args(&["--timeout", "1s", "--progress-every", "300ms"])
        .run();
    run.code(3);
    assert_eq!(
        run.stderr.matches("waiting for 1 check").count(),
        1,
        "{}",
        run.stderr
    );
    let header = run.stderr.find("waiting for 1 check").unwrap();
    let progress = run.stderr.find("still waiting").expect("a progress line");
    assert!(header < progress, "{}", run.stderr);
}

#[test]
fn a_branch_pipeline_whose_mr_moved_on_before_the_wait_is_stale() {
    Test::new()
        .branch_pipeline()
        .checks(&["a"])
        .world(|w| w.push_head(42, 7, SHA_B))
        .args(&FAST)
        .run()
        .code(4)
        .stderr_has(&format!("is no longer the head of !7 (now {}", &SHA_B[..8]))
        .stderr_lacks("during the wait");
}

#[test]
fn a_fatal_answer_says_what_the_gate_was_doing() {
    // A token revoked during the wait: 401 on whichever request came next.
    let revoked = || {
        Fault::new(FaultKind::Status {
            code: 401,
            body: r#"{"message":"401 Unauthorized"}"#.into(),
            content_type: "application/json".into(),
        })
    };
    let cases = [
        (
            Test::new(),
            "passed",
            revoked().on("GET", "/status_checks"),
            "listing the status checks of !7",
        ),
        (
            Test::new(),
            "passed",
            revoked().at("GET", "/api/v4/projects/42/merge_requests/7"),
            "reading the head of !7",
        ),
        (
            Test::new(),
            "failed",
            revoked().on("POST", "/retry"),
            "error: retrying a: POST",
        ),
        (
            Test::new().branch_pipeline(),
            "passed",
            revoked().on("GET", "/repository/commits/"),
            "finding the merge requests of a1a1a1a1 (no MR IID: CI_MERGE_REQUEST_IID is unset)",
        ),
    ];
    for (test, status, fault, doing) in cases {
        gate(test.checks(&["a"]))
            .world(|w| w.set_status(42, 7, "a", status))
            .args(&["--retry-failed", "1"])
            .fault(fault)
            .run()
            .code(5)
            .stderr_has(doing);
    }
}
