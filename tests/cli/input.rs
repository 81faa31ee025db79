//! Bad input, table-driven: empty and malformed variables and flags, token
//! files, report paths, non-UTF-8 arguments. Each ends with exit 2 before any
//! request, one error line naming the input, a line telling the fix, and no
//! token in the output.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use crate::support::*;

/// One bad input: the test, what the error must name, how it tells the fix.
struct Bad {
    test: Test,
    input: &'static str,
    fix: &'static str,
}

fn bad(test: Test, input: &'static str, fix: &'static str) -> Bad {
    Bad { test, input, fix }
}

const DURATION_FIX: &str = "write durations like 90s, 5m, 1h30m";
const TOKEN_FIX: &str = "copy the token again without spaces or line breaks";
const EMPTY_TOKEN_FIX: &str = "protected variable";
const SHA_FIX: &str = "pass the full SHA";

fn check_all(cases: Vec<Bad>) {
    let mut failures = Vec::new();
    let total = cases.len();
    for Bad { test, input, fix } in cases {
        let run = test.run();
        let errors = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("status-check: error:") || l.starts_with("error:"))
            .count();
        let mut problems = Vec::new();
        if run.code != 2 {
            problems.push(format!("exit {}", run.code));
        }
        if errors != 1 {
            problems.push(format!("{errors} error lines"));
        }
        if !run.stderr.contains(input) {
            problems.push(format!("does not name {input:?}"));
        }
        if !run.stderr.contains(fix) {
            problems.push(format!("does not tell the fix {fix:?}"));
        }
        if !run.requests().is_empty() {
            problems.push(format!("{} requests sent", run.requests().len()));
        }
        if run.stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if ALL_TOKENS
            .iter()
            .any(|t| run.stderr.contains(t) || run.stdout.contains(t))
        {
            problems.push("a token is in the output".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{input}: {}\n{}", problems.join("; "), run.stderr));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} bad inputs mishandled:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn tokens() {
    let no_token = || Test::new().unset("STATUS_CHECK_TOKEN");
    check_all(vec![
        bad(
            Test::new().token("glpat abc").args(&["list"]),
            "--token/STATUS_CHECK_TOKEN contains whitespace",
            TOKEN_FIX,
        ),
        bad(
            Test::new().token("glpat-abc\ndef").args(&["list"]),
            "--token/STATUS_CHECK_TOKEN contains whitespace",
            TOKEN_FIX,
        ),
        bad(
            Test::new().token("glpat-\u{1b}[0m").args(&["list"]),
            "control characters",
            TOKEN_FIX,
        ),
        bad(
            Test::new().token("").args(&["list"]),
            "--token/STATUS_CHECK_TOKEN is empty",
            EMPTY_TOKEN_FIX,
        ),
        bad(
            Test::new().token("  \n").args(&["list"]),
            "--token/STATUS_CHECK_TOKEN is empty",
            EMPTY_TOKEN_FIX,
        ),
        bad(
            no_token().args(&["--token", "a b", "list"]),
            "--token/STATUS_CHECK_TOKEN contains whitespace",
            TOKEN_FIX,
        ),
        bad(
            no_token().env("GITLAB_TOKEN", "").args(&["list"]),
            "GITLAB_TOKEN is empty",
            EMPTY_TOKEN_FIX,
        ),
        bad(
            no_token().env("GITLAB_TOKEN", "glpat x").args(&["list"]),
            "GITLAB_TOKEN contains whitespace",
            TOKEN_FIX,
        ),
        bad(
            no_token().args(&["list"]),
            "only CI_JOB_TOKEN is available",
            "create a personal, project or group access token",
        ),
        bad(
            no_token().unset("CI_JOB_TOKEN").args(&["list"]),
            "no access token",
            "set STATUS_CHECK_TOKEN",
        ),
    ]);
}

#[test]
fn token_files() {
    let mut cases = Vec::new();
    let file_test = |contents: Option<&[u8]>, flag: bool| {
        let mut test = Test::new().unset("STATUS_CHECK_TOKEN");
        let dir = test.tempdir();
        let path = match contents {
            Some(bytes) => {
                let path = dir.join("token");
                std::fs::write(&path, bytes).unwrap();
                path
            }
            // A directory cannot be read as a file (and root reads any file,
            // so permissions cannot make one unreadable here).
            None => dir,
        };
        let path = path.to_str().unwrap().to_owned();
        if flag {
            test.args(&["--token-file", &path, "list"])
        } else {
            test.env("STATUS_CHECK_TOKEN_FILE", &path).args(&["list"])
        }
    };
    cases.push(bad(
        file_test(Some(b""), true),
        "--token-file/STATUS_CHECK_TOKEN_FILE is empty",
        EMPTY_TOKEN_FIX,
    ));
    cases.push(bad(
        file_test(Some(b"\n\n"), false),
        "--token-file/STATUS_CHECK_TOKEN_FILE is empty",
        EMPTY_TOKEN_FIX,
    ));
    cases.push(bad(
        file_test(Some(b"glpat-one\nglpat-two\n"), true),
        "contains whitespace",
        TOKEN_FIX,
    ));
    cases.push(bad(
        file_test(None, true),
        "cannot read the token file",
        "check the path",
    ));
    cases.push(bad(
        file_test(Some(b"glpat-\xff\xfe"), true),
        "cannot read the token file",
        "check the path",
    ));
    cases.push(bad(
        Test::new().unset("STATUS_CHECK_TOKEN").args(&[
            "--token-file",
            "/nonexistent/token",
            "list",
        ]),
        "cannot read the token file /nonexistent/token",
        "check the path",
    ));
    check_all(cases);
}

#[test]
fn project_mr_and_sha() {
    let report = ["report", "passed", "--name", "scan"];
    check_all(vec![
        bad(
            Test::new()
                .env("CI_MERGE_REQUEST_PROJECT_ID", "abc")
                .args(&["list"]),
            "the project `abc` from CI_MERGE_REQUEST_PROJECT_ID",
            "numeric id",
        ),
        bad(
            Test::new()
                .unset("CI_MERGE_REQUEST_PROJECT_ID")
                .env("CI_PROJECT_ID", "-1")
                .args(&["list"]),
            "from CI_PROJECT_ID",
            "numeric id",
        ),
        bad(
            Test::new().args(&["--project", "12ab", "list"]),
            "--project/STATUS_CHECK_PROJECT",
            "numeric id",
        ),
        bad(
            Test::new().args(&["--project", "0", "list"]),
            "--project/STATUS_CHECK_PROJECT",
            "numeric id",
        ),
        bad(
            Test::new().args(&["--mr", "seven", "list"]),
            "--mr/STATUS_CHECK_MR",
            "IID shown in the MR's URL",
        ),
        bad(
            Test::new().env("CI_MERGE_REQUEST_IID", "0").args(&["list"]),
            "CI_MERGE_REQUEST_IID",
            "IID shown in the MR's URL",
        ),
        bad(
            Test::new().env("CI_COMMIT_SHA", "a1a1a1a").args(&report),
            "the SHA `a1a1a1a` from CI_COMMIT_SHA",
            SHA_FIX,
        ),
        bad(
            Test::new()
                .env("CI_COMMIT_SHA", &"z".repeat(40))
                .args(&report),
            "from CI_COMMIT_SHA is not a full commit SHA (40 hex",
            SHA_FIX,
        ),
        bad(
            Test::new()
                .env("CI_COMMIT_SHA", &"a".repeat(41))
                .args(&report),
            "from CI_COMMIT_SHA",
            SHA_FIX,
        ),
        bad(
            Test::new().args(&["--sha", "main", "report", "passed", "--name", "x"]),
            "the SHA `main` from --sha/STATUS_CHECK_SHA",
            SHA_FIX,
        ),
        bad(
            Test::new()
                .env("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "HEAD")
                .args(&report),
            "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA",
            SHA_FIX,
        ),
        bad(
            Test::new().unset("CI_COMMIT_SHA").args(&report),
            "no commit SHA",
            "set --sha or STATUS_CHECK_SHA",
        ),
        bad(
            Test::new().env("CI_COMMIT_SHA", "").args(&report),
            "no commit SHA",
            "set --sha or STATUS_CHECK_SHA",
        ),
    ]);
}

#[test]
fn statuses_checks_and_urls() {
    check_all(vec![
        bad(
            Test::new().args(&["report", "succeeded", "--name", "x"]),
            "invalid value 'succeeded' for '<STATUS>'",
            "possible values: passed, failed, pending",
        ),
        bad(
            Test::new()
                .env("STATUS_CHECK_STATUS", "ok")
                .args(&["report", "--name", "x"]),
            "invalid value 'ok' for '<STATUS>'",
            "possible values: passed, failed, pending",
        ),
        bad(
            Test::new().args(&["report", "passed", "--check-id", "abc"]),
            "--check-id/STATUS_CHECK_ID `abc`",
            "`status-check list` shows each check's id",
        ),
        bad(
            Test::new().args(&["report", "passed", "--name", "  "]),
            "which check? none was named",
            "give --name NAME",
        ),
        bad(
            Test::new()
                .env("STATUS_CHECK_API_URL", "gitlab.example.com")
                .args(&["list"]),
            "the API URL `gitlab.example.com` from --api-url/STATUS_CHECK_API_URL",
            "use the form https://gitlab.example.com/api/v4",
        ),
        bad(
            Test::new()
                .env("CI_API_V4_URL", "ftp://gitlab.example.com/api/v4")
                .args(&["list"]),
            "from CI_API_V4_URL is not an http(s) URL",
            "use the form https://gitlab.example.com/api/v4",
        ),
        bad(
            Test::new().args(&["--output", "yaml", "list"]),
            "invalid value 'yaml' for '--output <OUTPUT>'",
            "possible values: text, json",
        ),
    ]);
}

#[test]
fn durations_and_counts() {
    let mut cases = Vec::new();
    for value in ["-5s", "10x", "99999999h", "", "5m3", "1.5s"] {
        cases.push(bad(
            Test::new().args(&["list", "--request-timeout", value]),
            "--request-timeout",
            DURATION_FIX,
        ));
    }
    for (flag, value) in [
        ("--timeout", "-5s"),
        ("--interval", "10x"),
        ("--max-interval", "99999999h"),
    ] {
        cases.push(bad(
            Test::new().args(&["wait", flag, value]),
            flag,
            DURATION_FIX,
        ));
    }
    cases.push(bad(
        Test::new()
            .env("STATUS_CHECK_TIMEOUT", "10x")
            .args(&["wait"]),
        "--timeout: `10x` has an unknown unit",
        DURATION_FIX,
    ));
    cases.push(bad(
        Test::new().args(&["--retry-delay", "-1s", "list"]),
        "--retry-delay: `-1s` is negative",
        DURATION_FIX,
    ));
    cases.push(bad(
        Test::new().args(&["run", "--name", "x", "--heartbeat", "-5s", "--", "true"]),
        "--heartbeat: `-5s` is negative",
        DURATION_FIX,
    ));
    cases.push(bad(
        Test::new().args(&["--retries", "abc", "list"]),
        "--retries: `abc` is not a whole number from 0 to 20",
        "give a count such as --retries 3",
    ));
    cases.push(bad(
        Test::new().args(&["--retries", "-2", "list"]),
        "--retries: `-2`",
        "give a count such as --retries 3",
    ));
    cases.push(bad(
        Test::new().args(&["--retries", "999", "list"]),
        "--retries: `999`",
        "give a count such as --retries 3",
    ));
    cases.push(bad(
        Test::new().args(&["wait", "--retry-failed", "-1"]),
        "--retry-failed: `-1`",
        "give a count such as --retry-failed 3",
    ));
    check_all(cases);
}

#[test]
fn files_status_check_writes_or_reads() {
    let mut cases = Vec::new();
    for flag in ["--junit", "--dotenv"] {
        cases.push(bad(
            Test::new()
                .checks(&["a"])
                .args(&["wait", flag, "/nonexistent/dir/report"]),
            "cannot write /nonexistent/dir/report",
            "give a path in a writable directory",
        ));
        let mut test = Test::new().checks(&["a"]);
        let dir = test.tempdir();
        cases.push(bad(
            test.args(&["wait", flag, dir.to_str().unwrap()]),
            flag,
            "give a path in a writable directory",
        ));
    }
    let mut test = Test::new();
    let empty = test.tempdir().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    cases.push(bad(
        test.env("CI_SERVER_TLS_CA_FILE", empty.to_str().unwrap())
            .args(&["list"]),
        "from CI_SERVER_TLS_CA_FILE holds no PEM certificate",
        "-----BEGIN CERTIFICATE-----",
    ));
    cases.push(bad(
        Test::new().args(&["--ca-file", "/nonexistent/ca.pem", "list"]),
        "cannot read the CA file /nonexistent/ca.pem from --ca-file/STATUS_CHECK_CA_FILE",
        "give a readable PEM bundle",
    ));
    check_all(cases);
}

/// Non-UTF-8 arguments and variables: clap alone says only "invalid UTF-8
/// was detected in one or more arguments"; status-check names the input.
#[test]
fn non_utf8_arguments_and_variables_are_named() {
    let bytes = |b: &[u8]| OsString::from_vec(b.to_vec());
    type Case = (Vec<OsString>, Vec<(&'static str, OsString)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![
                "report".into(),
                "passed".into(),
                "--name".into(),
                bytes(b"scan\xff"),
            ],
            vec![],
            "the value of --name is not valid UTF-8",
        ),
        (
            vec![bytes(b"--request-timeout=5\xffs"), "list".into()],
            vec![],
            "the value of --request-timeout is not valid UTF-8",
        ),
        (
            vec!["list".into(), "--sha".into(), bytes(b"\xfe\xfe")],
            vec![],
            "the value of --sha is not valid UTF-8",
        ),
        (
            vec!["report".into(), "passed".into()],
            vec![("STATUS_CHECK_NAME", bytes(b"scan\xff"))],
            "the variable STATUS_CHECK_NAME is not valid UTF-8",
        ),
        (
            vec!["list".into()],
            vec![("STATUS_CHECK_TOKEN", bytes(b"glpat-\xff"))],
            "the variable STATUS_CHECK_TOKEN is not valid UTF-8",
        ),
        (
            vec![
                "report".into(),
                "passed".into(),
                "--name".into(),
                "x".into(),
            ],
            vec![("CI_COMMIT_SHA", bytes(b"a1\xff"))],
            "the variable CI_COMMIT_SHA is not valid UTF-8",
        ),
        (
            vec!["list".into()],
            vec![("GITLAB_TOKEN", bytes(b"glpat-\xff"))],
            "the variable GITLAB_TOKEN is not valid UTF-8",
        ),
        // `run`'s command may be any bytes: the variable is to blame, not argument 4.
        (
            vec!["run".into(), "--".into(), "echo".into(), bytes(b"\xfe")],
            vec![("STATUS_CHECK_NAME", bytes(b"\xff"))],
            "the variable STATUS_CHECK_NAME is not valid UTF-8",
        ),
    ];
    for (args, env, needle) in cases {
        let server = FakeGitlab::start(World::new("17.5.0"));
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("CI_API_V4_URL", server.api_url())
            .env("CI_PROJECT_ID", "42")
            .env("CI_MERGE_REQUEST_IID", "7")
            .env("CI_COMMIT_SHA", SHA_A)
            .env("STATUS_CHECK_TOKEN", DEV_TOKEN)
            .args(&args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{needle}: {stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(stderr.contains("hint: "), "{needle}: {stderr}");
        assert!(
            !stderr.contains(DEV_TOKEN) && !stderr.contains("glpat-"),
            "{stderr}"
        );
        assert!(server.requests().is_empty(), "{needle}: requests sent");
    }
}

#[test]
fn list_variables() {
    let list_fix = "set STATUS_CHECK_NAMES to a JSON array of names";
    let mut cases = Vec::new();
    for text in [
        r#"["a""#,
        r#"[a, b]"#,
        r#"["a"] ["b"]"#,
        "[1, 2]",
        r#"["\q"]"#,
    ] {
        cases.push(bad(
            Test::new().env("STATUS_CHECK_NAMES", text).args(&["wait"]),
            "STATUS_CHECK_NAMES: not a JSON array of names",
            list_fix,
        ));
    }
    cases.push(bad(
        Test::new()
            .env("STATUS_CHECK_IGNORE", "[\"manual review\",")
            .args(&["wait"]),
        "STATUS_CHECK_IGNORE: not a JSON array of names",
        "set STATUS_CHECK_IGNORE to a JSON array of names",
    ));
    check_all(cases);
}
