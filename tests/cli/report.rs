//! `status-check report`: by name and id, each status, each pipeline kind,
//! each GitLab trap.

use serde_json::Value;

use crate::support::*;

fn posted_body(run: &Run) -> Value {
    let posts = run.requests_to("POST", "/status_check_responses");
    assert_eq!(posts.len(), 1, "one POST");
    serde_json::from_str(&posts[0].body).expect("JSON body")
}

#[test]
fn by_name_in_an_mr_pipeline_takes_two_requests() {
    let run = Test::new()
        .checks(&["security-scan", "license-check"])
        .args(&["report", "passed", "--name", "security-scan"])
        .run();
    run.code(0)
        .stdout_has("reported passed for \"security-scan\" on !7")
        .request_count(2);
    assert_eq!(run.status_of("security-scan"), "passed");
    assert_eq!(run.status_of("license-check"), "pending");
    let list = &run.requests()[0];
    assert_eq!(
        list.path,
        "/api/v4/projects/42/merge_requests/7/status_checks"
    );
    assert_eq!(list.query_param("per_page").as_deref(), Some("100"));
    assert_eq!(list.auth(), Auth::PrivateToken(DEV_TOKEN.into()));
    assert!(
        list.header("user-agent")
            .unwrap()
            .starts_with("status-check/"),
        "User-Agent names the tool"
    );
    let body = posted_body(&run);
    assert_eq!(body["sha"], SHA_A);
    assert_eq!(body["status"], "passed");
}

#[test]
fn by_id_takes_one_request() {
    let mut id = 0;
    let run = Test::new()
        .world(|w| id = w.add_check(42, "security-scan", "https://x"))
        .args(&["report", "failed", "--check-id", &id.to_string()])
        .run();
    run.code(0).request_count(1);
    assert_eq!(run.status_of("security-scan"), "failed");
    assert_eq!(posted_body(&run)["external_status_check_id"], id);
}

#[test]
fn flags_work_after_and_before_the_subcommand() {
    let run = Test::new()
        .checks(&["lint"])
        .args(&[
            "--output",
            "json",
            "report",
            "passed",
            "--verbose",
            "--name",
            "lint",
        ])
        .run();
    run.code(0);
    let json = run.json();
    assert_eq!(json["status"], "passed");
    assert_eq!(json["reported"][0]["merge_request_iid"], 7);
    assert_eq!(json["reported"][0]["check_name"], "lint");
}

#[test]
fn every_option_has_an_env_var() {
    let run = Test::new()
        .checks(&["lint"])
        .env("STATUS_CHECK_NAME", "lint")
        .env("STATUS_CHECK_STATUS", "failed")
        .env("STATUS_CHECK_OUTPUT", "json")
        .args(&["report"])
        .run();
    run.code(0);
    assert_eq!(run.json()["status"], "failed");
    assert_eq!(run.status_of("lint"), "failed");
}

#[test]
fn pending_on_16_5_is_posted() {
    let run = Test::on_version("16.5.0")
        .checks(&["scan"])
        .args(&["report", "pending", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(posted_body(&run)["status"], "pending");
}

#[test]
fn pending_below_16_5_is_refused_before_any_request() {
    Test::on_version("16.4.0")
        .checks(&["scan"])
        .args(&["report", "pending", "--name", "scan"])
        .run()
        .code(2)
        .stderr_has("GitLab 16.4 cannot store a pending status")
        .request_count(0);
}

#[test]
fn on_14_x_a_pass_is_sent_without_status_and_read_back_as_approved() {
    let run = Test::on_version("14.5.0")
        .checks(&["scan"])
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    let body = posted_body(&run);
    assert!(
        body.get("status").is_none(),
        "14.0–14.8 has no status param: {body}"
    );
    assert_eq!(run.status_of("scan"), "approved");
}

#[test]
fn failed_on_14_5_is_refused() {
    Test::on_version("14.5.0")
        .checks(&["scan"])
        .args(&["report", "failed", "--name", "scan"])
        .run()
        .code(2)
        .stderr_has("no failed status")
        .request_count(0);
}

#[test]
fn version_is_read_from_the_api_once_when_the_job_does_not_say() {
    let run = Test::on_version("16.4.0")
        .no_version_vars()
        .checks(&["scan"])
        .args(&["report", "failed", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(run.requests_to("GET", "/version").len(), 1);
    run.request_count(3);
}

#[test]
fn merged_results_pipeline_reports_the_source_head_not_the_merge_commit() {
    let run = Test::new()
        .checks(&["scan"])
        .env("CI_COMMIT_SHA", MERGE_SHA)
        .env("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result")
        .env("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", SHA_A)
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(posted_body(&run)["sha"], SHA_A);
}

#[test]
fn fork_mr_reports_to_the_target_project() {
    let run = Test::new()
        .checks(&["scan"])
        .world(|w| {
            w.add_project(99, "contributor/app");
            w.mr_mut(42, 7).source_project_id = 99;
        })
        .env("CI_PROJECT_ID", "99")
        .env("CI_PROJECT_PATH", "contributor/app")
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert!(
        run.requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v4/projects/42/"))
    );
    assert_eq!(run.status_of("scan"), "passed");
}

#[test]
fn project_path_works_as_the_project() {
    let run = Test::new()
        .checks(&["scan"])
        .args(&[
            "--project",
            "acme/app",
            "report",
            "passed",
            "--name",
            "scan",
        ])
        .run();
    run.code(0);
    assert!(
        run.requests()[0]
            .path
            .starts_with("/api/v4/projects/acme%2Fapp/")
    );
}

#[test]
fn project_access_token_with_developer_role_is_enough() {
    let run = Test::new()
        .checks(&["scan"])
        .token(PROJECT_TOKEN)
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert!(
        run.requests()
            .iter()
            .all(|r| !r.path.contains("external_status_checks")),
        "never depends on the Maintainer-only project list"
    );
}

#[test]
fn branch_pipeline_without_mr_exits_0_saying_so() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| w.mr_mut(42, 7).state = "merged".into())
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0)
        .stdout_has("no open merge request")
        .request_count(1);
    assert!(
        run.requests()[0]
            .path
            .ends_with(&format!("/repository/commits/{SHA_A}/merge_requests"))
    );
}

#[test]
fn branch_pipeline_without_mr_and_require_mr_exits_2() {
    Test::new()
        .branch_pipeline()
        .world(|w| w.mr_mut(42, 7).state = "closed".into())
        .args(&["report", "passed", "--name", "scan", "--require-mr"])
        .run()
        .code(2)
        .stderr_has("--require-mr");
}

#[test]
fn branch_pipeline_reports_on_each_open_mr_of_the_sha() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| {
            w.add_mr(42, 8, "feature", "release", SHA_A, "opened");
            w.add_mr(42, 9, "feature", "main", SHA_A, "closed");
        })
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0).stdout_has("on !7").stdout_has("on !8");
    let posts = run.requests_to("POST", "/status_check_responses");
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| !p.path.contains("/merge_requests/9/")));
    run.server.world(|w| {
        assert_eq!(w.status_of(42, 8, "scan"), "passed");
        assert_eq!(w.status_of(42, 9, "scan"), "pending");
    });
}

#[test]
fn branch_pipeline_with_one_mr() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .args(&["report", "failed", "--name", "scan"])
        .run();
    run.code(0).request_count(3);
    assert_eq!(run.status_of("scan"), "failed");
}

#[test]
fn branch_pipeline_skips_mrs_where_a_scoped_check_does_not_apply() {
    let run = Test::new()
        .branch_pipeline()
        .world(|w| {
            w.add_scoped_check(42, "release-gate", "https://x", &["release"]);
            w.add_mr(42, 8, "feature", "release", SHA_A, "opened");
        })
        .args(&["report", "passed", "--name", "release-gate"])
        .run();
    run.code(0)
        .stdout_has("on !8")
        .stdout_has("does not apply to !7");
}

#[test]
fn unknown_name_lists_the_names_on_the_mr() {
    Test::new()
        .checks(&["security-scan", "license-check"])
        .args(&["report", "passed", "--name", "security_scan"])
        .run()
        .code(2)
        .stderr_has("no check named \"security_scan\" on !7")
        .stderr_has("\"security-scan\", \"license-check\"");
}

#[test]
fn scoped_check_is_explained_when_the_token_may_read_the_project_checks() {
    Test::new()
        .token(MAINTAINER_TOKEN)
        .world(|w| {
            w.add_scoped_check(42, "release-gate", "https://x", &["release"]);
        })
        .args(&["report", "passed", "--name", "release-gate"])
        .run()
        .code(2)
        .stderr_has("exists in the project but applies only to merge requests targeting release; !7 targets main");
}

#[test]
fn scoped_check_with_a_developer_token_says_what_cannot_be_known() {
    Test::new()
        .world(|w| {
            w.add_scoped_check(42, "release-gate", "https://x", &["release"]);
        })
        .args(&["report", "passed", "--name", "release-gate"])
        .run()
        .code(2)
        .stderr_has("has no external status checks")
        .stderr_has("needs Maintainer");
}

#[test]
fn stale_sha_exits_4_naming_the_new_head() {
    Test::new()
        .checks(&["scan"])
        .world(|w| w.push_head(42, 7, SHA_B))
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(4)
        .stderr_has(&format!("its head is {SHA_B}"));
}

#[test]
fn branch_pipeline_for_an_old_commit_is_stale() {
    Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| w.push_head(42, 7, SHA_B))
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(4)
        .stderr_has("no longer the head of !7");
}

#[test]
fn reporter_gets_a_role_hint() {
    Test::new()
        .checks(&["scan"])
        .token(REPORTER_TOKEN)
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(5)
        .stderr_has("403")
        .stderr_has("need Developer");
}

#[test]
fn unlicensed_project_gets_the_three_causes_of_401() {
    Test::new()
        .checks(&["scan"])
        .world(|w| w.project_mut(42).ultimate = false)
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(5)
        .stderr_has("401")
        .stderr_has("Ultimate licence")
        .stderr_has("job token");
}

#[test]
fn expired_token_is_named() {
    Test::new()
        .checks(&["scan"])
        .token(EXPIRED_TOKEN)
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(5)
        .stderr_has("expired")
        .no_token_in_output();
}

#[test]
fn only_a_job_token_is_a_configuration_error_without_any_request() {
    Test::new()
        .checks(&["scan"])
        .unset("STATUS_CHECK_TOKEN")
        .args(&["report", "passed", "--name", "scan"])
        .run()
        .code(2)
        .stderr_has("only CI_JOB_TOKEN is available")
        .stderr_has("`api` scope")
        .request_count(0)
        .no_token_in_output();
}

#[test]
fn gitlab_token_and_token_file_are_fallbacks() {
    let run = Test::new()
        .checks(&["scan"])
        .unset("STATUS_CHECK_TOKEN")
        .env("GITLAB_TOKEN", MAINTAINER_TOKEN)
        .args(&["report", "passed", "--name", "scan"])
        .run();
    run.code(0);
    assert_eq!(
        run.requests()[0].auth(),
        Auth::PrivateToken(MAINTAINER_TOKEN.into())
    );

    let mut test = Test::new().checks(&["scan"]).unset("STATUS_CHECK_TOKEN");
    let file = test.tempdir().join("token");
    std::fs::write(&file, format!("{PROJECT_TOKEN}\n")).unwrap();
    let run = test
        .args(&[
            "report",
            "passed",
            "--name",
            "scan",
            "--token-file",
            file.to_str().unwrap(),
        ])
        .run();
    run.code(0);
    assert_eq!(
        run.requests()[0].auth(),
        Auth::PrivateToken(PROJECT_TOKEN.into())
    );
}

#[test]
fn unknown_check_id_is_explained() {
    Test::new()
        .checks(&["scan"])
        .args(&["report", "passed", "--check-id", "999"])
        .run()
        .code(5)
        .stderr_has("404")
        .stderr_has("status-check list");
}

#[test]
fn no_check_named_is_a_usage_error() {
    Test::new()
        .args(&["report", "passed"])
        .run()
        .code(2)
        .stderr_has("--name");
}
