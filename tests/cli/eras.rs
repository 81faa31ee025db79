//! Real GitLab, version by version: each test names the row of
//! `docs/gitlab-api.md` it holds status-check to, and runs the fake in that era.

use serde_json::Value;

use crate::support::*;

const SECRET: &str = "s3cr3t-hmac-value-never-printed";

/// A Maintainer's `sync --file checks.yml` on GitLab `version`, in a branch pipeline.
fn sync_on(version: &str, yaml: &str) -> Test {
    let mut test = Test::on_version(version)
        .branch_pipeline()
        .token(MAINTAINER_TOKEN);
    let path = test.tempdir().join("checks.yml");
    std::fs::write(&path, yaml).unwrap();
    test.args(&["sync", "--file", path.to_str().unwrap()])
}

/// Requests that change something.
fn writes(run: &Run) -> Vec<String> {
    run.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn posted_bodies(run: &Run) -> Vec<Value> {
    run.requests_to("POST", "/status_check_responses")
        .iter()
        .map(|r| serde_json::from_str(&r.body).expect("a JSON body"))
        .collect()
}

const WITH_SECRET: &str = "\
checks:
  - name: security-scan
    external_url: https://scanner.example.com/hook
    shared_secret_env: SCANNER_SECRET
";

const WITHOUT_SECRET: &str = "\
checks:
  - name: security-scan
    external_url: https://scanner.example.com/hook
";

// ---------------------------------------------------------------- hmac-17-3

#[test]
fn sync_refuses_shared_secrets_before_17_3_before_any_change() {
    let run = sync_on("17.2.0-ee", WITH_SECRET)
        .env("SCANNER_SECRET", SECRET)
        .run();
    run.code(2)
        .stderr_has("checks[0] (\"security-scan\") sets shared_secret_env")
        .stderr_has("GitLab 17.2 ignores shared secrets (GitLab 17.3+ stores them)")
        .stderr_has("hint: remove shared_secret_env from")
        .no_token_in_output();
    assert!(writes(&run).is_empty(), "{:?}", writes(&run));
    assert!(!run.stderr.contains(SECRET));
}

#[test]
fn sync_sends_shared_secrets_from_17_3() {
    let run = sync_on("17.3.0-ee", WITH_SECRET)
        .env("SCANNER_SECRET", SECRET)
        .run();
    run.code(0)
        .stdout_has("shared_secret: set (from $SCANNER_SECRET)");
    let stored = run
        .server
        .world(|w| w.project(42).unwrap().checks[0].shared_secret.clone());
    assert_eq!(stored.as_deref(), Some(SECRET));
}

#[test]
fn sync_without_secrets_still_works_before_17_3() {
    let run = sync_on("17.2.0-ee", WITHOUT_SECRET).run();
    run.code(0).stdout_has("+ create     \"security-scan\"");
    assert_eq!(
        writes(&run),
        ["POST /api/v4/projects/42/external_status_checks"]
    );
    // A second run finds nothing to do: no drift from a missing `hmac` key.
    let again = sync_on("17.2.0-ee", WITHOUT_SECRET)
        .world(|w| {
            w.add_check(42, "security-scan", "https://scanner.example.com/hook");
        })
        .args(&["--dry-run"])
        .run();
    again.code(0).stdout_has("nothing to change");
}

#[test]
fn sync_asks_the_version_when_no_variable_tells_it() {
    let run = sync_on("17.2.0-ee", WITH_SECRET)
        .no_version_vars()
        .env("SCANNER_SECRET", SECRET)
        .run();
    run.code(2).stderr_has("GitLab 17.2 ignores shared secrets");
    assert_eq!(run.requests()[0].path, "/api/v4/version");
    assert!(writes(&run).is_empty());
}

#[test]
fn sync_believes_the_check_list_over_the_version_variables() {
    // The CI variables describe the instance running the job, not one that
    // --api-url may point at: a check list without `hmac` tells the truth.
    let run = sync_on("17.2.0-ee", WITH_SECRET)
        .env("CI_SERVER_VERSION", "17.5.0-ee")
        .env("CI_SERVER_VERSION_MAJOR", "17")
        .env("CI_SERVER_VERSION_MINOR", "5")
        .env("SCANNER_SECRET", SECRET)
        .world(|w| {
            w.add_check(42, "security-scan", "https://scanner.example.com/hook");
        })
        .run();
    run.code(2)
        .stderr_has("its check list has no `hmac` key")
        .stderr_has("ignores shared secrets");
    assert!(writes(&run).is_empty());
}

#[test]
fn secrets_over_255_characters_are_refused_up_front() {
    let long = "x".repeat(256);
    for dry_run in [false, true] {
        let mut test = sync_on("17.5.0-ee", WITH_SECRET).env("SCANNER_SECRET", &long);
        if dry_run {
            test = test.args(&["--dry-run"]);
        }
        let run = test.run();
        run.code(2)
            .stderr_has("the shared secret in SCANNER_SECRET is 256 characters long; GitLab accepts at most 255")
            .request_count(0);
        assert!(!run.stderr.contains(&long));
    }
    sync_on("17.5.0-ee", WITH_SECRET)
        .env("SCANNER_SECRET", &"x".repeat(255))
        .run()
        .code(0);
}

// ---------------------------------------------------------------- status-param-14, status-field-flag-14-9

#[test]
fn gitlab_14_9_and_14_10_get_a_pass_without_status_and_never_a_failed() {
    for version in ["14.5.0-ee", "14.9.0-ee", "14.10.3-ee"] {
        let run = Test::on_version(version)
            .checks(&["scan"])
            .args(&["report", "passed", "--name", "scan"])
            .run();
        run.code(0).stdout_has("reported passed for \"scan\" on !7");
        assert_eq!(posted_bodies(&run)[0].get("status"), None, "{version}");
        assert_eq!(run.status_of("scan"), "approved");

        let run = Test::on_version(version)
            .checks(&["scan"])
            .args(&["report", "failed", "--name", "scan"])
            .run();
        run.code(2)
            .stderr_has("has no failed status for external checks")
            .stderr_has("15.0+ can report failed")
            .request_count(0);
    }
}

#[test]
fn run_on_14_x_posts_nothing_when_its_command_fails_and_keeps_its_code() {
    for version in ["14.8.0-ee", "14.10.0-ee"] {
        let run = Test::on_version(version)
            .checks(&["scan"])
            .args(&["run", "--name", "scan", "--", "sh", "-c", "exit 3"])
            .run();
        run.code(3).stderr_has("the check stays pending");
        assert!(
            run.requests_to("POST", "/status_check_responses")
                .is_empty(),
            "{version}: nothing posted"
        );
        assert_eq!(run.status_of("scan"), "pending");
    }
    // ...and a pass, without `status`.
    let run = Test::on_version("14.10.0-ee")
        .checks(&["scan"])
        .args(&["run", "--name", "scan", "--", "true"])
        .run();
    run.code(0);
    assert_eq!(posted_bodies(&run).len(), 1);
    assert_eq!(posted_bodies(&run)[0].get("status"), None);
}

// ---------------------------------------------------------------- check-lookup-whole-project

fn scoped_to_release(w: &mut World) -> u64 {
    w.add_scoped_check(42, "release-gate", "https://r.example.com", &["release"])
}

#[test]
fn a_check_id_for_other_target_branches_is_stored_but_said_to_gate_nothing() {
    let mut id = 0;
    let run = Test::new()
        .world(|w| id = scoped_to_release(w))
        .args(&["report", "passed", "--check-id", &id.to_string()])
        .run();
    run.code(0)
        .stderr_has(&format!("warning: check #{id} \"release-gate\" applies only to merge requests targeting release; !7 targets main"))
        .stderr_has("GitLab stored the response, but it gates nothing there")
        .request_count(1);

    // With --require-mr, that is an error (exit 2), still with one request.
    Test::new()
        .world(|w| id = scoped_to_release(w))
        .args(&[
            "report",
            "passed",
            "--check-id",
            &id.to_string(),
            "--require-mr",
        ])
        .run()
        .code(2)
        .stderr_has("applies only to merge requests targeting release")
        .stderr_has("--require-mr is set")
        .request_count(1);
}

#[test]
fn a_check_id_that_applies_gets_no_warning() {
    let mut id = 0;
    Test::new()
        .world(|w| {
            id = w.add_scoped_check(42, "main-gate", "https://m.example.com", &["main"]);
        })
        .args(&["report", "passed", "--check-id", &id.to_string()])
        .run()
        .code(0)
        .stderr_lacks("warning")
        .request_count(1);
}

#[test]
fn run_with_a_check_id_for_other_branches_warns_once() {
    let mut id = 0;
    let run = Test::new()
        .world(|w| id = scoped_to_release(w))
        .args(&["run", "--check-id", &id.to_string(), "--", "true"])
        .run();
    run.code(0);
    assert_eq!(
        run.stderr
            .matches("applies only to merge requests targeting release")
            .count(),
        1,
        "{}",
        run.stderr
    );
    // pending, then passed: both stored by GitLab
    assert_eq!(run.requests_to("POST", "/status_check_responses").len(), 2);
}

#[test]
fn from_19_4_the_answer_no_longer_tells_the_branches() {
    // `response-entity-19-4`: telling would cost a request (Maintainer only); none is made.
    let mut id = 0;
    Test::on_version("19.4.0-ee")
        .world(|w| id = scoped_to_release(w))
        .args(&["report", "passed", "--check-id", &id.to_string()])
        .run()
        .code(0)
        .stderr_lacks("warning")
        .request_count(1);
}

#[test]
fn a_reporter_posting_by_id_is_refused_by_role() {
    // `error-order`: the MR, then the role (403), then the check.
    let mut id = 0;
    Test::new()
        .world(|w| id = w.add_check(42, "scan", "https://s"))
        .token(REPORTER_TOKEN)
        .args(&["report", "passed", "--check-id", &id.to_string()])
        .run()
        .code(5)
        .stderr_has("403")
        .stderr_has("reporting needs Developer");
}

#[test]
fn a_reporter_may_wait_from_17_4() {
    // `reporter-read-17-4`
    let run = Test::on_version("17.4.0-ee")
        .checks(&["scan"])
        .world(|w| w.set_status(42, 7, "scan", "passed"))
        .token(REPORTER_TOKEN)
        .args(&["wait", "--timeout", "10s"])
        .run();
    run.code(0).stdout_has("all 1 checks passed on !7");
    Test::on_version("17.3.0-ee")
        .checks(&["scan"])
        .token(REPORTER_TOKEN)
        .args(&["wait", "--timeout", "10s"])
        .run()
        .code(5)
        .stderr_has("403")
        .stderr_has("Reporter from GitLab 17.4");
}

/// A doctor line of a JSON run, by id.
fn doctor_line(run: &Run, id: &str) -> Value {
    run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} line"))
}

#[test]
fn doctor_does_not_tell_a_reporter_on_18_x_that_they_cannot_read_the_checks() {
    let doctor = |version: &str| {
        Test::on_version(version)
            .checks(&["scan"])
            .token(REPORTER_TOKEN)
            .args(&["--output", "json", "doctor"])
            .run()
    };
    let run = doctor("18.5.0-ee");
    let role = doctor_line(&run, "role");
    assert_eq!(role["result"], "warn", "{role}");
    let message = role["message"].as_str().unwrap();
    assert!(
        message.contains("enough for list and wait (GitLab 18.5 lets a Reporter read the checks)"),
        "{message}"
    );
    assert!(
        message.contains("report, run and retry need Developer"),
        "{message}"
    );
    assert_eq!(doctor_line(&run, "checks")["result"], "ok");
    // Before 17.4 the list answers 403 and the role line says why.
    let run = doctor("17.3.0-ee");
    run.code(1);
    assert_eq!(doctor_line(&run, "role")["result"], "fail");
}

// ---------------------------------------------------------------- response-404-permission

#[test]
fn an_author_below_developer_is_told_that_reporting_needs_developer() {
    for (version, answer) in [
        ("15.0.0-ee", "404: 404 Not Found"),
        ("16.4.0-ee", "404: 404 Not Found"),
        ("17.5.0-ee", "404: 404 Not Found"),
        ("18.1.0-ee", "404: 404 Not Found"),
        ("18.2.0-ee", "404: Not Found"),
        ("18.9.0-ee", "404: Not Found"),
    ] {
        let run = Test::on_version(version)
            .checks(&["scan"])
            .world(|w| w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER))
            .token(REPORTER_TOKEN)
            .args(&["report", "passed", "--name", "scan"])
            .run();
        run.code(5)
            .stderr_has(answer)
            .stderr_has("refused the response")
            .stderr_has("reporting needs the Developer role")
            .stderr_lacks("check id does not exist");
        assert_eq!(run.status_of("scan"), "pending");
    }
}

#[test]
fn a_retry_by_an_author_below_developer_names_the_role_it_needs() {
    // `retry-permission-16-1`: 15.7-16.0 answer 404 (as to an unknown check), 16.1+ 403.
    for (version, status, hint) in [
        ("16.0.0-ee", "404", "15.7 to 16.0 to a user below Developer"),
        ("16.1.0-ee", "403", "Developer"),
    ] {
        let run = Test::on_version(version)
            .checks(&["scan"])
            .world(|w| {
                w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER);
                w.set_status(42, 7, "scan", "failed");
            })
            .token(REPORTER_TOKEN)
            .args(&["retry", "--name", "scan"])
            .run();
        run.code(5).stderr_has(status).stderr_has(hint);
        assert_eq!(run.status_of("scan"), "failed", "{version}");
    }
}

// ---------------------------------------------------------------- response-developer-15-0

#[test]
fn on_14_5_an_author_below_developer_may_report() {
    // 14.5.2 looks the check up but asks no Developer role: the author's pass is stored.
    let run = Test::on_version("14.5.2-ee")
        .checks(&["scan"])
        .world(|w| w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER))
        .token(REPORTER_TOKEN)
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(run.status_of("scan"), "approved");
    // ...and, unlike 14.0, it looks the check up: an unknown id is a 404, not a 500.
    Test::on_version("14.5.2-ee")
        .checks(&["scan"])
        .args(&["report", "passed", "--check-id", "9999"])
        .run()
        .code(5)
        .stderr_has("404")
        .stderr_has("check id does not exist")
        .stderr_lacks("500");
}

// ---------------------------------------------------------------- response-14-0

#[test]
fn on_14_0_a_wrong_check_id_is_a_server_error_after_the_sha() {
    // `response-14-0`: no look-up of the check: GitLab fails the record (500), which is
    // retried and then an API error naming the endpoint; the author below Developer
    // may report.
    let on_14_0 = || {
        Test::on_version("14.0.5-ee").checks(&["scan"]).world(|w| {
            w.ff_external_status_checks = true;
            w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER);
        })
    };
    on_14_0()
        .args(&["report", "passed", "--check-id", "9999"])
        .run()
        .code(5)
        .stderr_has("500")
        .stderr_has("status_check_responses");
    let run = on_14_0()
        .token(REPORTER_TOKEN)
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(run.status_of("scan"), "approved");
}

// ---------------------------------------------------------------- webhook-by-name

/// Project 42 with the protected branch `main-old` and a check `deploy` limited to it.
fn main_old(w: &mut World) {
    w.protect_branch(42, "main-old");
    w.add_scoped_check(42, "deploy", "https://d", &["main-old"]);
}

#[test]
fn doctor_names_the_targets_a_webhook_goes_to_without_gating_them() {
    let doctor = |version: &str| {
        Test::on_version(version)
            .token(MAINTAINER_TOKEN)
            .world(main_old)
            .args(&["--output", "json", "doctor"])
            .run()
    };
    let run = doctor("18.9.0-ee");
    let scopes = doctor_line(&run, "scopes");
    assert_eq!(scopes["result"], "warn", "{scopes}");
    let message = scopes["message"].as_str().unwrap();
    assert!(
        message.contains("GitLab 18.9 also sends the webhook of \"deploy\" (main-old) → main for merge requests it does not gate"),
        "{message}"
    );
    assert!(run.requests_to("GET", "/protected_branches").len() == 1);
    // From the wildcard fix (seen in 19.4), dispatch follows gating.
    assert_eq!(doctor_line(&doctor("19.4.0-ee"), "scopes")["result"], "ok");
}

#[test]
fn sync_warns_where_a_scope_sends_the_webhook_to_other_branches() {
    let yaml = "\
checks:
  - name: deploy
    external_url: https://d.example.com/hook
    protected_branches: [main-old]
";
    let run = sync_on("17.5.0-ee", yaml)
        .world(|w| protect(w, "main-old"))
        .run();
    run.code(0)
        .stdout_has("+ create     \"deploy\"")
        .stderr_has("checks[0] (\"deploy\"): limited to main-old, but GitLab 17.5 also sends its webhook for merge requests into main, which it does not gate");
    sync_on("19.4.0-ee", yaml)
        .world(|w| protect(w, "main-old"))
        .run()
        .code(0)
        .stderr_lacks("also sends its webhook");
    // The plan as JSON carries the warning too, for a pipeline that reads it.
    let run = sync_on("17.5.0-ee", yaml)
        .world(|w| protect(w, "main-old"))
        .args(&["--output", "json", "--dry-run"])
        .run();
    run.code(1);
    let warnings = run.json()["warnings"].clone();
    assert!(
        warnings[0]
            .as_str()
            .is_some_and(|w| w.contains("also sends its webhook for merge requests into main")),
        "{warnings}"
    );
}

// ---------------------------------------------------------------- wildcard-literal, wildcard-19-4

const WILDCARD: &str = "\
checks:
  - name: release-gate
    external_url: https://r.example.com/hook
    protected_branches: [release/*]
";

fn protect(w: &mut World, name: &str) {
    w.protect_branch(42, name);
}

#[test]
fn sync_refuses_wildcard_branches_where_they_gate_nothing() {
    let run = sync_on("18.9.0-ee", WILDCARD)
        .world(|w| protect(w, "release/*"))
        .run();
    run.code(2)
        .stderr_has("checks[0] (\"release-gate\") limits the check to `release/*`")
        .stderr_has("GitLab 18.9 matches a check's protected branches to the merge request's target branch by exact name")
        .stderr_has("it would gate nothing");
    assert!(writes(&run).is_empty());
}

#[test]
fn sync_warns_of_wildcard_branches_where_the_rule_is_not_known() {
    // Literal in every source read up to 18.9, matched in 19.4.1: 18.10-19.3 may be either.
    for version in ["18.10.0-ee", "19.3.0-ee"] {
        let run = sync_on(version, WILDCARD)
            .world(|w| protect(w, "release/*"))
            .run();
        run.code(0)
            .stdout_has("+ create     \"release-gate\"")
            .stderr_has("limits the check to `release/*`")
            .stderr_has("is not known")
            .stderr_has(
                "`status-check list` in a merge request into a branch matching `release/*`",
            );
    }
}

#[test]
fn sync_accepts_wildcard_branches_from_19_4() {
    let run = sync_on("19.4.0-ee", WILDCARD)
        .world(|w| protect(w, "release/*"))
        .run();
    run.code(0).stdout_has("+ create     \"release-gate\"");
}

#[test]
fn doctor_flags_wildcard_scoped_checks_as_gating_nothing() {
    let doctor = |version: &str| {
        Test::on_version(version)
            .token(MAINTAINER_TOKEN)
            .world(|w| {
                w.add_scoped_check(42, "release-gate", "https://r", &["release/*"]);
                w.add_check(42, "scan", "https://s");
            })
            .args(&["--output", "json", "doctor"])
            .run()
    };
    let line = |run: &Run| -> Value {
        run.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == "scopes")
            .cloned()
            .expect("a scopes line")
    };
    let run = doctor("18.5.0-ee");
    run.code(1);
    let scopes = line(&run);
    assert_eq!(scopes["result"], "fail");
    let message = scopes["message"].as_str().unwrap();
    assert!(
        message.contains("\"release-gate\" (release/*)"),
        "{message}"
    );
    assert!(message.contains("gate nothing"), "{message}");
    let run = doctor("19.1.0-ee");
    let scopes = line(&run);
    assert_eq!(scopes["result"], "warn", "{scopes}");
    assert!(
        scopes["message"].as_str().unwrap().contains("is not known"),
        "{scopes}"
    );
    let run = doctor("19.4.0-ee");
    run.code(0);
    assert_eq!(line(&run)["result"], "ok");
}

// ---------------------------------------------------------------- open-mrs-var-13-7

#[test]
fn a_branch_pipeline_uses_ci_open_merge_requests_without_a_commit_lookup() {
    let with = Test::new()
        .branch_pipeline()
        .env("CI_OPEN_MERGE_REQUESTS", "acme/app!7")
        .checks(&["scan"])
        .args(&["report", "passed", "--name", "scan"])
        .run();
    with.code(0)
        .stdout_has("reported passed for \"scan\" on !7")
        .request_count(2);
    assert!(with.requests_to("GET", "/merge_requests").is_empty());

    let without = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .args(&["report", "passed", "--name", "scan"])
        .run();
    without.code(0).request_count(3);
    assert_eq!(without.requests_to("GET", "/merge_requests").len(), 1);
}

/// A branch pipeline in the fork `fork/app` (project 9) whose branch is the
/// source of MR !7 of `acme/app`.
fn fork_pipeline() -> Test {
    Test::new()
        .branch_pipeline()
        .env("CI_PROJECT_ID", "9")
        .env("CI_PROJECT_PATH", "fork/app")
        .world(|w| {
            w.add_project(9, "fork/app").commits.push(SHA_A.into());
            w.mr_mut(42, 7).source_project_id = 9;
            w.add_check(42, "scan", "https://s");
        })
}

#[test]
fn a_fork_branch_pipeline_reaches_the_upstream_mr() {
    let run = fork_pipeline()
        .env("CI_OPEN_MERGE_REQUESTS", "acme/app!7")
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0)
        .stdout_has("reported passed for \"scan\" on acme/app!7")
        .request_count(2);
    assert_eq!(run.status_of("scan"), "passed");
    assert!(
        run.requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v4/projects/acme%2Fapp/")),
        "every request goes to the upstream project"
    );
    // Without the variable the fork's commit look-up finds no MR of the fork.
    fork_pipeline()
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(0)
        .stdout_has("nothing reported");
}

#[test]
fn the_variable_is_set_aside_when_the_user_names_the_commit_or_it_is_malformed() {
    // --sha names another commit than the pipeline's: look it up.
    Test::new()
        .branch_pipeline()
        .env("CI_OPEN_MERGE_REQUESTS", "acme/app!7")
        .checks(&["scan"])
        .args(&["report", "passed", "--name", "scan", "--sha", SHA_A])
        .run()
        .code(0)
        .request_count(3);
    Test::new()
        .branch_pipeline()
        .env("CI_OPEN_MERGE_REQUESTS", "acme/app#7")
        .checks(&["scan"])
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(0)
        .request_count(3);
    // In an MR pipeline the IID wins.
    Test::new()
        .env("CI_OPEN_MERGE_REQUESTS", "acme/app!9")
        .checks(&["scan"])
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(0)
        .stdout_has("on !7")
        .request_count(2);
}

#[test]
fn doctor_says_where_the_merge_request_came_from() {
    let run = fork_pipeline()
        .env("CI_OPEN_MERGE_REQUESTS", "acme/app!7")
        .args(&["--output", "json", "doctor"])
        .run();
    let mr = run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "mr")
        .cloned()
        .unwrap();
    assert_eq!(mr["result"], "ok", "{mr}");
    assert!(
        mr["message"]
            .as_str()
            .unwrap()
            .contains("from CI_OPEN_MERGE_REQUESTS: acme/app!7"),
        "{mr}"
    );
}

// ---------------------------------------------------------------- merged-mr-by-merge-commit

/// A deploy job on main after !7 was merged: its pipeline's commit is the merge commit.
fn after_merge(merge: Option<&str>, squash: Option<&str>, scan: &str) -> Test {
    let sha = merge.or(squash).unwrap_or(SHA_A).to_owned();
    let (merge, squash) = (merge.map(str::to_owned), squash.map(str::to_owned));
    let scan = scan.to_owned();
    Test::new()
        .branch_pipeline()
        .env("CI_COMMIT_SHA", &sha)
        .env("CI_COMMIT_REF_NAME", "main")
        .checks(&["scan", "license"])
        .world(move |w| {
            w.set_status(42, 7, "scan", &scan);
            w.set_status(42, 7, "license", "passed");
            w.merge_mr(42, 7, merge.as_deref(), squash.as_deref());
        })
}

#[test]
fn a_deploy_gate_after_the_merge_gates_on_the_merged_mr() {
    let run = after_merge(Some(MERGE_SHA), None, "passed")
        .args(&["wait", "--timeout", "10s"])
        .run();
    run.code(0)
        .stdout_has("all 2 checks passed on merged !7")
        .request_count(2);
    // The merged MR's head cannot move: no head read.
    assert!(run.requests_to("GET", "/merge_requests/7").is_empty());

    let squashed = "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6";
    after_merge(None, Some(squashed), "failed")
        .args(&["wait", "--timeout", "10s"])
        .run()
        .code(1)
        .stdout_has("status checks failed on merged !7: scan");
}

#[test]
fn a_fast_forward_merge_is_found_by_its_head() {
    after_merge(None, None, "passed")
        .args(&["wait", "--timeout", "10s"])
        .run()
        .code(0)
        .stdout_has("passed on merged !7");
}

#[test]
fn an_older_commit_of_a_merged_mr_is_not_what_landed() {
    // SHA_A is in !7's diff, but !7 landed as its merge commit: no gate on it.
    Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| {
            w.push_head(42, 7, SHA_B);
            w.merge_mr(42, 7, Some(MERGE_SHA), None);
        })
        .args(&["wait", "--timeout", "10s"])
        .run()
        .code(1)
        .stderr_has("no open merge request")
        .stderr_lacks("merged !7");
}

#[test]
fn a_closed_mr_is_not_gated_on() {
    Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| w.mr_mut(42, 7).state = "closed".into())
        .args(&["wait", "--timeout", "10s"])
        .run()
        .code(1)
        .stderr_has("no open merge request");
}

#[test]
fn report_and_run_do_not_post_on_merged_mrs() {
    let run = after_merge(Some(MERGE_SHA), None, "passed")
        .args(&["report", "failed", "--name", "scan"])
        .run();
    run.code(0)
        .stdout_has("it belongs to merged !7")
        .stdout_has("nothing reported")
        .request_count(1);
    let run = after_merge(Some(MERGE_SHA), None, "passed")
        .args(&["run", "--name", "scan", "--", "false"])
        .run();
    run.code(1).stderr_has("it belongs to merged !7");
    assert!(run.requests_to("POST", "").is_empty());
}

// ---------------------------------------------------------------- commits-latest-diff

#[test]
fn after_a_force_push_the_old_commit_finds_no_mr() {
    Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| w.force_push(42, 7, SHA_B))
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(0)
        .stdout_has("no open merge request has a1a1a1a1 as its head")
        .request_count(1);
}

// ---------------------------------------------------------------- poll-interval-15-10

#[test]
fn before_15_10_the_gate_paces_itself() {
    let run = Test::on_version("15.9.0-ee")
        .checks(&["a"])
        .event(Event::status_at_poll(3, "a", "passed"))
        .args(&["wait", "--interval", "100ms", "--max-interval", "300ms"])
        .run();
    run.code(0);
    let lists = run.requests_to("GET", "/status_checks");
    assert_eq!(lists.len(), 3);
    for pair in lists.windows(2) {
        assert!(pair[1].at_ms - pair[0].at_ms >= 100);
    }
}

// ---------------------------------------------------------------- fine-grained-tokens

fn fine_grained(version: &str) -> Test {
    Test::on_version(version)
        .checks(&["scan"])
        .token(FINE_GRAINED_TOKEN)
}

fn doctor_of(test: Test) -> Run {
    let run = test.args(&["doctor", "--output", "json"]).run();
    run.no_token_in_output();
    run
}

#[test]
fn doctor_asks_a_fine_grained_token_s_permissions_without_changing_anything() {
    let run = doctor_of(fine_grained("19.2.0-ee"));
    let token = doctor_line(&run, "token");
    assert!(
        token["message"]
            .as_str()
            .unwrap()
            .contains("fine-grained personal access token of @fine"),
        "{token}"
    );
    let line = doctor_line(&run, "permissions");
    assert_eq!(line["result"], "ok", "{line}");
    // Nothing was changed: no response, no retry, no check.
    run.server.world(|w| {
        assert!(w.mr(42, 7).unwrap().responses.is_empty());
        assert_eq!(w.project(42).unwrap().checks.len(), 1);
    });
    // Every permission a command needs, taken away, is named (doctor's own reads aside).
    let own = ["read_user", "read_member", "read_metadata"];
    for permission in FINE_GRAINED_PERMISSIONS.iter().filter(|p| !own.contains(p)) {
        let run = doctor_of(fine_grained("19.2.0-ee").world(|w| w.revoke_permission(permission)));
        let line = doctor_line(&run, "permissions");
        assert_eq!(line["result"], "fail", "{permission}: {line}");
        let message = line["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{permission}`")),
            "{permission}: {line}"
        );
    }
}

#[test]
fn a_fine_grained_token_without_a_permission_is_told_which_not_the_role() {
    let run = fine_grained("19.2.0-ee")
        .world(|w| w.revoke_permission("update_external_status_check"))
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(5)
        .stderr_has("insufficient_granular_scope")
        .stderr_has("without the permission `update_external_status_check`")
        .stderr_lacks("role on the project is too low");
    let run = fine_grained("19.2.0-ee")
        .world(|w| w.revoke_permission("read_external_status_check"))
        .args(&["wait", "--timeout", "5s"])
        .run();
    run.code(5)
        .stderr_has("without the permission `read_external_status_check`");
}

// ---------------------------------------------------------------- group-branches-18-0

const GROUP_SCOPED: &str = "checks:\n  - name: scan\n    external_url: https://checks.example.com/scan\n    protected_branches: [stable]\n";

#[test]
fn sync_limits_a_check_to_a_group_s_protected_branch_from_18_0() {
    let group = |w: &mut World| _ = w.protect_group_branch(42, "stable");
    let run = sync_on("18.0.0-ee", GROUP_SCOPED).world(group).run();
    run.code(0);
    run.server.world(|w| {
        let p = w.project(42).unwrap();
        let stable = p.group_protected_branches[0].id;
        assert_eq!(p.checks[0].protected_branch_ids, [stable]);
    });
    let run = sync_on("17.11.0-ee", GROUP_SCOPED).world(group).run();
    run.code(2)
        .stderr_has("`stable` is a protected branch of 42's group")
        .stderr_has("18.0");
    assert!(writes(&run).is_empty(), "{:?}", writes(&run));
}

#[test]
fn sync_says_when_gitlab_s_100_protected_branches_may_hide_one() {
    let many = |w: &mut World| {
        for i in 0..120 {
            w.protect_branch(42, &format!("b{i:03}"));
        }
    };
    let run = sync_on("18.9.0-ee", GROUP_SCOPED).world(many).run();
    run.code(2)
        .stderr_has("`stable` is not a protected branch")
        .stderr_has("at most 100 protected branches");
}

// ---------------------------------------------------------------- detailed-merge-status-15-6

#[test]
fn doctor_tells_a_token_that_cannot_read_the_checks_what_the_mr_says_of_them() {
    let run = doctor_of(
        Test::on_version("17.3.0-ee")
            .checks(&["scan"])
            .world(|w| {
                w.project_mut(42)
                    .only_allow_merge_if_all_status_checks_passed = true
            })
            .token(REPORTER_TOKEN),
    );
    let line = doctor_line(&run, "checks");
    let message = line["message"].as_str().unwrap();
    assert!(message.contains("`status_checks_must_pass`"), "{line}");
}
