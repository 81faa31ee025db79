//! Check names as GitLab stores them: any text, matched exactly everywhere a
//! name is compared; a name off only in case or surrounding spaces is
//! suggested (`did you mean`), never taken for the check; names are quoted
//! unambiguously in every message.

use crate::support::*;

const QUOTED: &str = "sec/scan ✓ \"quoted\"";

#[test]
fn report_matches_a_name_with_spaces_and_quotes_exactly() {
    Test::new()
        .checks(&["  padded  ", QUOTED])
        .args(&["report", "passed", "--name", "  padded  "])
        .run()
        .code(0)
        .stdout_has("reported passed for \"  padded  \" on !7");
    let run = Test::new()
        .checks(&[QUOTED])
        .args(&["report", "passed", "--name", QUOTED])
        .run();
    run.code(0)
        .stdout_has(r#"reported passed for "sec/scan ✓ \"quoted\"" on !7"#);
    assert_eq!(run.status_of(QUOTED), "passed");
}

#[test]
fn report_suggests_a_name_off_in_case_or_spaces_and_posts_nothing() {
    for given in ["Security scan", "  security scan  ", "SECURITY SCAN"] {
        let run = Test::new()
            .checks(&["security scan", "lint"])
            .args(&["report", "passed", "--name", given])
            .run();
        run.code(2)
            .stderr_has("no check named")
            .stderr_has("did you mean \"security scan\"?")
            .stderr_has("the checks on !7 are \"security scan\", \"lint\"");
        assert!(run.requests_to("POST", "").is_empty(), "{given:?} posted");
        assert_eq!(run.status_of("security scan"), "pending");
    }
}

#[test]
fn no_suggestion_for_a_name_that_differs_otherwise() {
    Test::new()
        .checks(&["security-scan"])
        .args(&["report", "passed", "--name", "security scan"])
        .run()
        .code(2)
        .stderr_lacks("did you mean");
}

#[test]
fn run_suggests_and_does_not_run_the_command() {
    let mut test = Test::new().checks(&["License check"]);
    let marker = test.tempdir().join("ran");
    let run = test
        .args(&[
            "run",
            "--name",
            "license check",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    run.code(2)
        .stderr_has("did you mean \"License check\"?")
        .stderr_has("did not run `touch`");
    assert!(!marker.exists());
}

#[test]
fn retry_suggests_too() {
    Test::new()
        .checks(&["Flaky"])
        .world(|w| w.set_status(42, 7, "Flaky", "failed"))
        .args(&["retry", "--name", "flaky"])
        .run()
        .code(2)
        .stderr_has("no check \"flaky\" on !7")
        .stderr_has("did you mean \"Flaky\"?");
}

#[test]
fn wait_names_are_exact_with_a_suggestion() {
    let run = Test::new()
        .checks(&["Deploy", "lint"])
        .args(&["wait", "--name", "deploy ", "--interval", "50ms"])
        .run();
    run.code(2)
        .stderr_has("--name \"deploy \": no such check on !7")
        .stderr_has("did you mean \"Deploy\"?");
    // Absence is read twice before it is a usage error.
    assert_eq!(run.requests_to("GET", "/status_checks").len(), 2);
}

#[test]
fn wait_ignore_off_in_case_is_pointed_out_and_not_applied() {
    // "manual Review" ignores nothing: the gate waits for "manual review" and
    // says why, rather than silently leaving it out.
    let run = Test::new()
        .checks(&["manual review", "lint"])
        .world(|w| w.set_status(42, 7, "lint", "passed"))
        .args(&[
            "wait",
            "--ignore",
            "manual Review",
            "--interval",
            "50ms",
            "--timeout",
            "300ms",
        ])
        .run();
    run.code(3)
        .stderr_has("ignoring \"manual Review\": no check of that name on !7; did you mean \"manual review\"?")
        .stdout_has("still pending: manual review");
}

#[test]
fn sync_warns_when_the_file_differs_from_gitlab_only_in_case() {
    crate::sync::sync("checks:\n  - {name: Lint, external_url: https://lint.example.com/v2}\n")
        .world(|w| {
            w.add_check(42, "lint", "https://lint.example.com");
        })
        .args(&["--dry-run"])
        .run()
        .code(1)
        .stderr_has(
            "checks[0] (\"Lint\"): GitLab has no check named exactly so (did you mean \"lint\"?",
        )
        .stdout_has("+ create     \"Lint\"")
        .stdout_has("? unmanaged  \"lint\"");
}
