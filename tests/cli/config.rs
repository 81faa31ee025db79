//! Configuration errors: exit 2, naming the input and the fix, before any request.

use crate::support::*;

fn usage_error(test: Test, needle: &str) {
    test.run()
        .code(2)
        .stderr_has(needle)
        .request_count(0)
        .no_token_in_output();
}

#[test]
fn missing_api_url() {
    // No fake URL variables: unset after the builder sets them is not possible,
    // so point the explicit variable at nothing and drop the CI ones.
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("STATUS_CHECK_TOKEN", DEV_TOKEN)
        .env("CI_PROJECT_ID", "42")
        .env("CI_MERGE_REQUEST_IID", "7")
        .env("CI_COMMIT_SHA", SHA_A)
        .args(["report", "passed", "--name", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no GitLab API URL") && stderr.contains("CI_API_V4_URL"),
        "{stderr}"
    );
}

#[test]
fn missing_token() {
    usage_error(
        Test::new()
            .unset("STATUS_CHECK_TOKEN")
            .unset("CI_JOB_TOKEN")
            .args(&["list"]),
        "no access token",
    );
}

#[test]
fn token_with_spaces_or_newline() {
    usage_error(
        Test::new().token("glpat abc").args(&["list"]),
        "contains whitespace",
    );
    usage_error(
        Test::new().token("glpat\nabc").args(&["list"]),
        "contains whitespace",
    );
}

#[test]
fn token_file_missing_or_empty() {
    usage_error(
        Test::new().unset("STATUS_CHECK_TOKEN").args(&[
            "list",
            "--token-file",
            "/nonexistent/token",
        ]),
        "cannot read the token file /nonexistent/token",
    );
    let mut test = Test::new().unset("STATUS_CHECK_TOKEN");
    let file = test.tempdir().join("empty");
    std::fs::write(&file, "\n").unwrap();
    usage_error(
        test.args(&["list", "--token-file", file.to_str().unwrap()]),
        "is empty",
    );
}

#[test]
fn non_numeric_project() {
    usage_error(
        Test::new()
            .env("CI_MERGE_REQUEST_PROJECT_ID", "abc")
            .args(&["list"]),
        "CI_MERGE_REQUEST_PROJECT_ID",
    );
}

#[test]
fn short_sha() {
    usage_error(
        Test::new()
            .env("CI_COMMIT_SHA", "a1a1a1a")
            .args(&["report", "passed", "--name", "x"]),
        "not a full commit SHA",
    );
}

#[test]
fn bad_mr_iid() {
    usage_error(
        Test::new().args(&["list", "--mr", "seven"]),
        "--mr/STATUS_CHECK_MR",
    );
}

#[test]
fn unknown_status_is_a_usage_error() {
    Test::new()
        .args(&["report", "succeeded", "--name", "x"])
        .run()
        .code(2)
        .stderr_has("passed");
}

#[test]
fn bad_durations() {
    for bad in ["-5s", "10x", "99999999h"] {
        usage_error(
            Test::new().args(&["list", "--request-timeout", bad]),
            "--request-timeout",
        );
    }
}

#[test]
fn bad_api_url() {
    usage_error(
        Test::new()
            .env("STATUS_CHECK_API_URL", "gitlab.example.com")
            .args(&["list"]),
        "not an http(s) URL",
    );
}

#[test]
fn ca_file_without_certificates() {
    let mut test = Test::new();
    let file = test.tempdir().join("ca.pem");
    std::fs::write(&file, "not a certificate\n").unwrap();
    usage_error(
        test.args(&["list", "--ca-file", file.to_str().unwrap()]),
        "holds no PEM certificate",
    );
}

#[test]
fn help_and_version_exit_0() {
    Test::new()
        .args(&["--help"])
        .run()
        .code(0)
        .stdout_has("report");
    Test::new()
        .args(&["--version"])
        .run()
        .code(0)
        .stdout_has(concat!("status-check ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn non_utf8_argument_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let out = std::process::Command::new(BIN)
        .env_clear()
        .arg("report")
        .arg("passed")
        .arg("--name")
        .arg(std::ffi::OsStr::from_bytes(b"bad\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));
}

#[test]
fn a_broken_ssl_cert_file_is_named_for_https() {
    let mut test = Test::new();
    let file = test.tempdir().join("bundle.pem");
    std::fs::write(&file, "no certificates here\n").unwrap();
    test.env("SSL_CERT_FILE", file.to_str().unwrap())
        .env(
            "STATUS_CHECK_API_URL",
            "https://gitlab.example.invalid/api/v4",
        )
        .args(&["list"])
        .run()
        .code(2)
        .stderr_has("SSL_CERT_FILE")
        .stderr_has("holds no PEM certificate")
        .request_count(0);
}
