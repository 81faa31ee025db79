//! Every option's variable: on/off flags take 1/0, yes/no, true/false (any
//! case); lists take a JSON array (as GitLab renders an array input) or one
//! name; `--token-variable` reads the token from the variable it names (a File
//! variable's path included). And `--help`: global options under their own
//! heading, `--name | --check-id` a required group, each command's exit codes.

use crate::support::*;

const FAST: [&str; 5] = ["wait", "--interval", "50ms", "--max-interval", "100ms"];

#[test]
fn on_off_variables_take_1_0_yes_no_true_false() {
    for on in ["1", "yes", "TRUE", "on", " true "] {
        Test::new()
            .checks(&["a"])
            .env("STATUS_CHECK_VERBOSE", on)
            .args(&["list"])
            .run()
            .code(0)
            .stderr_has("GET /projects/42/merge_requests/7/status_checks");
    }
    for off in ["0", "no", "False", "off"] {
        Test::new()
            .checks(&["a"])
            .env("STATUS_CHECK_VERBOSE", off)
            .args(&["list"])
            .run()
            .code(0)
            .stderr_lacks("GET /projects");
    }
}

#[test]
fn an_on_off_variable_with_another_value_is_a_usage_error_naming_it() {
    for (var, args) in [
        ("STATUS_CHECK_VERBOSE", &["list"][..]),
        ("STATUS_CHECK_ALLOW_EMPTY", &["wait"][..]),
        ("STATUS_CHECK_FAIL_FAST", &["wait"][..]),
        (
            "STATUS_CHECK_PENDING",
            &["run", "--name", "a", "--", "true"][..],
        ),
        (
            "STATUS_CHECK_REQUIRE_MR",
            &["report", "passed", "--name", "a"][..],
        ),
        ("STATUS_CHECK_DRY_RUN", &["sync", "--file", "x.yml"][..]),
    ] {
        Test::new()
            .env(var, "maybe")
            .args(args)
            .run()
            .code(2)
            .stderr_has(&format!("{var} takes true or false"))
            .request_count(0);
    }
}

#[test]
fn a_blank_on_off_variable_counts_as_unset() {
    // STATUS_CHECK_FAIL_FAST unset means fail fast: blank too.
    let run = Test::new()
        .checks(&["scan", "slow"])
        .env("STATUS_CHECK_FAIL_FAST", "")
        .env("STATUS_CHECK_VERBOSE", " ")
        .event(Event::status_at_poll(2, "scan", "failed"))
        .args(&FAST)
        .run();
    run.code(1).stderr_lacks("GET /projects");
    assert_eq!(run.requests_to("GET", "/status_checks").len(), 2);
}

#[test]
fn fail_fast_false_is_no_fail_fast() {
    let run = Test::new()
        .checks(&["scan", "slow"])
        .env("STATUS_CHECK_FAIL_FAST", "false")
        .event(Event::status_at_poll(2, "scan", "failed"))
        .event(Event::status_at_poll(4, "slow", "passed"))
        .args(&FAST)
        .run();
    run.code(1).stderr_has("slow: pending → passed");
}

#[test]
fn pending_false_is_no_pending() {
    let run = Test::new()
        .checks(&["scan"])
        .env("STATUS_CHECK_PENDING", "no")
        .args(&["run", "--name", "scan", "--", "true"])
        .run();
    run.code(0);
    let posted: Vec<String> = run
        .requests_to("POST", "/status_check_responses")
        .iter()
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].contains("passed"), "{posted:?}");
}

#[test]
fn wait_options_from_their_variables() {
    let mut test = Test::new().checks(&["a", "b", "manual review"]);
    let dir = test.tempdir();
    let junit = dir.join("j.xml");
    let dotenv = dir.join("d.env");
    let run = test
        .world(|w| w.set_status(42, 7, "b", "failed"))
        .env("STATUS_CHECK_NAMES", r#"["a", "manual review"]"#)
        .env("STATUS_CHECK_IGNORE", "manual review")
        .env("STATUS_CHECK_JUNIT", junit.to_str().unwrap())
        .env("STATUS_CHECK_DOTENV", dotenv.to_str().unwrap())
        .event(Event::status_at_poll(2, "a", "passed"))
        .args(&FAST)
        .run();
    run.code(0)
        .stdout_has("all 1 checks passed")
        .stderr_has("ignoring \"manual review\"");
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuite")
    );
    assert!(
        std::fs::read_to_string(&dotenv)
            .unwrap()
            .contains("STATUS_CHECKS_RESULT=passed")
    );
}

#[test]
fn a_flag_wins_over_the_list_variable_and_is_read_literally() {
    // The flag's value is a name, even one that looks like JSON.
    Test::new()
        .checks(&["[\"a\"]", "b"])
        .world(|w| w.set_status(42, 7, "[\"a\"]", "passed"))
        .env("STATUS_CHECK_NAMES", r#"["b"]"#)
        .args(&FAST)
        .args(&["--name", "[\"a\"]"])
        .run()
        .code(0)
        .stdout_has("all 1 checks passed");
}

#[test]
fn retry_failed_from_its_variable() {
    let run = Test::new()
        .checks(&["flaky"])
        .env("STATUS_CHECK_RETRY_FAILED", "1")
        .event(Event::status_at_poll(2, "flaky", "failed"))
        .event(Event::status_at_poll(4, "flaky", "passed"))
        .args(&FAST)
        .run();
    run.code(0).stderr_has("flaky: failed → retrying (1/1)");
}

#[test]
fn sync_dry_run_from_its_variable() {
    let run =
        crate::sync::sync("checks:\n  - {name: lint, external_url: https://lint.example.com}\n")
            .env("STATUS_CHECK_DRY_RUN", "1")
            .run();
    run.code(1).stdout_has("dry run: 1 change pending");
    assert!(run.requests().iter().all(|r| r.method == "GET"));
}

// ------------------------------------------------------------ --token-variable

#[test]
fn token_variable_reads_the_named_variable_and_wins() {
    let run = Test::new()
        .checks(&["a"])
        .token("glpat-not-this-one")
        .env("STATUS_CHECK_TOKEN_VARIABLE", "MY_TOKEN")
        .env("MY_TOKEN", DEV_TOKEN)
        .args(&["report", "passed", "--name", "a"])
        .run();
    run.code(0).no_token_in_output();
    assert_eq!(run.status_of("a"), "passed");
}

#[test]
fn token_variable_of_type_file_reads_the_file() {
    let mut test = Test::new().checks(&["a"]).unset("STATUS_CHECK_TOKEN");
    let file = test.tempdir().join("MY_TOKEN");
    std::fs::write(&file, format!("{DEV_TOKEN}\n")).unwrap();
    let run = test
        .env("MY_TOKEN", file.to_str().unwrap())
        .args(&[
            "--token-variable",
            "MY_TOKEN",
            "report",
            "passed",
            "--name",
            "a",
        ])
        .run();
    run.code(0).no_token_in_output();
    assert_eq!(run.status_of("a"), "passed");
}

#[test]
fn a_bad_token_variable_is_exit_2_naming_it_never_its_value() {
    let mut dir_test = Test::new();
    let dir = dir_test.tempdir();
    let missing = dir.join("no-such-file");
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let cases: Vec<(Test, Option<String>, &str)> = vec![
        (
            Test::new(),
            None,
            "the variable MY_TOKEN named by --token-variable/STATUS_CHECK_TOKEN_VARIABLE is not set",
        ),
        (
            Test::new(),
            Some(String::new()),
            "MY_TOKEN named by --token-variable/STATUS_CHECK_TOKEN_VARIABLE is empty",
        ),
        (
            Test::new(),
            Some(dir.to_str().unwrap().to_owned()),
            "cannot read the token file that MY_TOKEN names",
        ),
        (
            Test::new(),
            Some(missing.to_str().unwrap().to_owned()),
            "cannot read the token file that MY_TOKEN names",
        ),
        (
            Test::new(),
            Some(empty.to_str().unwrap().to_owned()),
            "the file in MY_TOKEN (--token-variable/STATUS_CHECK_TOKEN_VARIABLE) is empty",
        ),
        (
            Test::new(),
            Some("glpat-has space".to_owned()),
            "the variable MY_TOKEN (--token-variable/STATUS_CHECK_TOKEN_VARIABLE) contains whitespace",
        ),
    ];
    for (test, value, said) in cases {
        let test = match &value {
            Some(v) => test.env("MY_TOKEN", v),
            None => test,
        };
        let run = test
            .env("STATUS_CHECK_TOKEN_VARIABLE", "MY_TOKEN")
            .args(&["list"])
            .run();
        run.code(2)
            .stderr_has(said)
            .request_count(0)
            .no_token_in_output();
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            assert!(
                !run.stderr.contains(&v),
                "the value is shown: {}",
                run.stderr
            );
        }
    }
    // The token itself given as the name: refused without echoing it.
    let run = Test::new()
        .args(&["--token-variable", DEV_TOKEN, "list"])
        .run();
    run.code(2)
        .stderr_has("--token-variable/STATUS_CHECK_TOKEN_VARIABLE is not a variable name")
        .no_token_in_output();
    drop(dir_test);
}

// ------------------------------------------------------------ --help

#[test]
fn every_commands_help_has_the_global_heading_and_ends_with_its_exit_codes() {
    for command in ["report", "list", "retry", "wait", "run", "doctor", "sync"] {
        let run = Test::new().args(&[command, "--help"]).run();
        run.code(0).stdout_has("\nGlobal options:\n");
        let last = run.stdout.trim_end().lines().last().unwrap_or("");
        assert!(
            last.starts_with("Exit code"),
            "{command} --help ends with {last:?}"
        );
        let (options, global) = run.stdout.split_once("Global options:").unwrap();
        assert!(global.contains("--token-variable <NAME>"), "{command}");
        assert!(
            !options.contains("--api-url"),
            "{command}: --api-url outside the heading"
        );
    }
}

#[test]
fn name_or_check_id_is_required_and_their_variables_satisfy_it() {
    Test::new()
        .args(&["report", "passed"])
        .run()
        .code(2)
        .stderr_has("<--name <NAME>|--check-id <ID>>")
        .request_count(0);
    Test::new()
        .checks(&["a"])
        .env("STATUS_CHECK_NAME", "a")
        .args(&["report", "passed"])
        .run()
        .code(0);
    let mut id = 0;
    let test = Test::new().world(|w| id = w.add_check(42, "a", "https://a.example.com"));
    test.env("STATUS_CHECK_ID", &id.to_string())
        .args(&["retry"])
        .run()
        .code(1)
        .stderr_has("GitLab refused to retry");
}
