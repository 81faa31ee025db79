//! `status-check doctor`: every line against the fake GitLab.

use serde_json::Value;

use crate::support::*;

/// A doctor run, read through its JSON output.
struct Doctor {
    run: Run,
    json: Value,
}

impl Doctor {
    fn of(test: Test) -> Doctor {
        Doctor::with(test, &[])
    }

    fn with(test: Test, args: &[&str]) -> Doctor {
        let run = test.args(&["doctor", "--output", "json"]).args(args).run();
        run.no_token_in_output();
        for r in run.requests() {
            assert!(
                !matches!(r.auth(), Auth::JobToken(_)),
                "the job token is never sent: {} {}",
                r.method,
                r.path
            );
        }
        let json = run.json();
        Doctor { run, json }
    }

    fn line(&self, id: &str) -> &Value {
        self.json["checks"]
            .as_array()
            .expect("checks array")
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("no line {id}: {:#}", self.json))
    }

    /// Line `id` has this result and its message (or fix) contains `needle`.
    fn has(&self, id: &str, result: &str, needle: &str) -> &Doctor {
        let line = self.line(id);
        assert_eq!(line["result"], result, "result of {id}: {:#}", self.json);
        let text = format!(
            "{} {}",
            line["message"].as_str().unwrap_or(""),
            line["fix"].as_str().unwrap_or("")
        );
        assert!(
            text.contains(needle),
            "{id} lacks {needle:?}: {:#}",
            self.json
        );
        self
    }

    fn lacks(&self, id: &str) -> &Doctor {
        assert!(
            !self.json["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["id"] == id),
            "unexpected line {id}: {:#}",
            self.json
        );
        self
    }

    fn code(&self, code: i32) -> &Doctor {
        self.run.code(code);
        assert_eq!(self.json["ok"], code == 0, "{:#}", self.json);
        self
    }

    fn no_request_to(&self, suffix: &str) -> &Doctor {
        let hits: Vec<String> = self
            .run
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(hits.is_empty(), "requests to {suffix}: {hits:?}");
        self
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- the happy path

#[test]
fn all_ok_in_a_merge_request_pipeline_with_five_requests() {
    let d = Doctor::of(
        Test::new()
            .checks(&["security-scan", "license-check"])
            .world(|w| {
                w.set_status(42, 7, "security-scan", "passed");
                w.project_mut(42)
                    .only_allow_merge_if_all_status_checks_passed = true;
            }),
    );
    d.code(0)
        .has("pipeline", "ok", "merge request pipeline")
        .has(
            "project",
            "ok",
            "42 = acme/app (from CI_MERGE_REQUEST_PROJECT_ID)",
        )
        .has("sha", "ok", SHA_A)
        .has("api-url", "ok", "(from CI_API_V4_URL)")
        .has("connection", "ok", "GitLab answered")
        .has("token", "ok", "personal access token of @dev")
        .has("token", "ok", "scopes api")
        .has("version", "ok", "GitLab 17.5")
        .has("role", "ok", "Developer")
        .has("role", "ok", "sync needs Maintainer")
        .has("mr", "ok", "!7 (from CI_MERGE_REQUEST_IID): feature → main")
        .has("licence", "ok", "available")
        .has(
            "checks",
            "ok",
            "security-scan (passed), license-check (pending)",
        )
        .has("merge-gate", "ok", "blocks merges")
        .has("merge-gate", "ok", "!7 is blocked by its checks right now")
        .lacks("name")
        .lacks("config")
        .no_request_to("/external_status_checks");
    d.run.request_count(5);
    assert_eq!(d.json["summary"]["fail"], 0);
    let ids: Vec<&str> = d.json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "pipeline",
            "project",
            "sha",
            "api-url",
            "connection",
            "token",
            "version",
            "role",
            "mr",
            "licence",
            "checks",
            "scopes",
            "merge-gate"
        ]
    );
    d.has(
        "scopes",
        "skip",
        "the project's check list (branch scopes) needs Maintainer",
    );
    for line in d.json["checks"].as_array().unwrap() {
        assert!(line["message"].is_string());
        assert!(
            line["fix"].is_null(),
            "ok and skip lines have no fix: {line}"
        );
    }
}

#[test]
fn text_output_is_a_checklist_with_fixes_and_a_summary() {
    let run = Test::new().checks(&["scan"]).args(&["doctor"]).run();
    run.code(0)
        .stdout_has("ok    pipeline")
        .stdout_has("warn  merge-gate")
        .stdout_has("fix: turn on Settings → Merge requests → Status checks must succeed")
        .stdout_has("11 ok, 1 warning, 0 failed, 1 not checked: status checks should work here")
        .no_token_in_output();
}

// ---------------------------------------------------------------- tokens

#[test]
fn job_token_only_fails_and_the_job_token_is_never_sent() {
    let d = Doctor::of(Test::new().checks(&["scan"]).unset("STATUS_CHECK_TOKEN"));
    d.code(1)
        .has("token", "fail", "only CI_JOB_TOKEN is available")
        .has("token", "fail", "access token with the `api` scope")
        .has("connection", "ok", "GitLab answered")
        .has("version", "ok", "GitLab 17.5")
        .has("role", "skip", "needs a working access token")
        .has("licence", "skip", "");
    // Reachability is probed without any credential.
    let requests = d.run.requests();
    assert_eq!(requests.len(), 1, "one anonymous probe");
    assert_eq!(requests[0].path, "/api/v4/version");
    assert_eq!(requests[0].auth(), Auth::None);
}

#[test]
fn the_job_token_given_as_the_access_token_is_named() {
    let d = Doctor::of(Test::new().token(JOB_TOKEN));
    d.code(1).has("token", "fail", "is the CI job token").has(
        "token",
        "fail",
        "STATUS_CHECK_TOKEN",
    );
    assert!(
        d.run.requests().iter().all(|r| r.auth() == Auth::None),
        "not sent as PRIVATE-TOKEN either"
    );
}

#[test]
fn a_job_token_is_known_by_its_prefix_alone() {
    // Another job's token (or one copied into a variable): not this job's
    // CI_JOB_TOKEN, but GitLab 16.8+ marks every job token with `glcbt-`.
    let d = Doctor::of(
        Test::new()
            .token("glcbt-64_other-jobs-token")
            .unset("CI_JOB_TOKEN"),
    );
    d.code(1).has("token", "fail", "is the CI job token");
    assert!(
        d.run.requests().iter().all(|r| r.auth() == Auth::None),
        "not sent as PRIVATE-TOKEN either"
    );
}

#[test]
fn no_token_at_all() {
    Doctor::of(
        Test::new()
            .unset("STATUS_CHECK_TOKEN")
            .unset("CI_JOB_TOKEN"),
    )
    .code(1)
    .has("token", "fail", "no access token")
    .has("token", "fail", "STATUS_CHECK_TOKEN");
}

#[test]
fn expired_token() {
    Doctor::of(Test::new().token(EXPIRED_TOKEN))
        .code(1)
        .has("connection", "ok", "GitLab answered")
        .has("token", "fail", "expired or was revoked")
        .has("role", "skip", "");
}

#[test]
fn unknown_token() {
    Doctor::of(Test::new().token("glpat-not-a-real-token"))
        .code(1)
        .has("token", "fail", "does not accept the token");
}

#[test]
fn project_access_token_is_recognised() {
    Doctor::of(Test::new().checks(&["scan"]).token(PROJECT_TOKEN))
        .code(0)
        .has("token", "ok", "project access token of @project_42_bot");
}

#[test]
fn read_api_scope_is_not_enough() {
    let d = Doctor::of(Test::new().checks(&["scan"]).world(|w| {
        w.tokens
            .iter_mut()
            .find(|t| t.value == DEV_TOKEN)
            .unwrap()
            .scopes = vec!["read_api".into()];
    }));
    d.code(1)
        .has("token", "fail", "read_api, without `api`")
        .has("role", "ok", "Developer");
}

// ---------------------------------------------------------------- role and licence

#[test]
fn reporter_before_17_4_fails_on_role_and_the_licence_still_shows() {
    let d = Doctor::of(
        Test::on_version("17.3")
            .checks(&["scan"])
            .token(REPORTER_TOKEN),
    );
    d.code(1)
        .has("role", "fail", "@reporter is Reporter on acme/app")
        .has("role", "fail", "Developer role")
        .has("licence", "ok", "available")
        .has(
            "checks",
            "skip",
            "cannot be read with this role (403): see the role line",
        )
        .no_request_to("/external_status_checks");
}

#[test]
fn maintainer_is_enough_for_sync() {
    Doctor::of(Test::new().checks(&["scan"]).token(MAINTAINER_TOKEN))
        .code(0)
        .has(
            "role",
            "ok",
            "Maintainer on acme/app: enough for every command, sync included",
        );
}

#[test]
fn project_not_visible_to_the_user() {
    Doctor::of(Test::new().world(|w| w.set_role(42, 1, None)))
        .code(1)
        .has("role", "fail", "does not exist, or @dev cannot see it")
        .has("mr", "fail", "");
}

#[test]
fn unlicensed_project() {
    let d = Doctor::of(
        Test::new()
            .checks(&["scan"])
            .world(|w| w.project_mut(42).ultimate = false),
    );
    d.code(1)
        .has("token", "ok", "valid")
        .has(
            "licence",
            "fail",
            "answered 401 while the token works elsewhere",
        )
        .has(
            "licence",
            "fail",
            "no Ultimate licence, or the feature is unavailable",
        )
        .has("checks", "skip", "401");
}

#[test]
fn unlicensed_project_without_an_mr_as_maintainer() {
    Doctor::of(
        Test::new()
            .branch_pipeline()
            .env("CI_COMMIT_SHA", SHA_B)
            .token(MAINTAINER_TOKEN)
            .world(|w| w.project_mut(42).ultimate = false),
    )
    .code(1)
    .has("mr", "warn", "no open merge request")
    .has("licence", "fail", "the project's check list answered 401");
}

#[test]
fn licence_cannot_be_known_by_a_developer_without_an_mr() {
    Doctor::of(Test::new().branch_pipeline().env("CI_COMMIT_SHA", SHA_B))
        .code(0)
        .has("licence", "warn", "can't be known without a merge request")
        .no_request_to("/external_status_checks");
}

// ---------------------------------------------------------------- versions

#[test]
fn gitlab_16_4_cannot_store_pending_and_16_6_times_it_out() {
    Doctor::of(Test::on_version("16.4.0-ee").checks(&["scan"]))
        .code(0)
        .has("version", "ok", "GitLab 16.4")
        .has("version", "ok", "pending cannot be reported (16.5+)");
    let d = Doctor::of(Test::on_version("16.6.0-ee").checks(&["scan"]));
    d.code(0).has("version", "ok", "GitLab 16.6").has(
        "version",
        "ok",
        "older than 2 minutes is turned into failed",
    );
}

#[test]
fn the_approved_era_warns() {
    Doctor::of(Test::on_version("14.5.0-ee").checks(&["scan"]))
        .code(0)
        .has("version", "warn", "the `approved` era")
        .has("version", "warn", "no retry endpoint (15.7+)")
        .has(
            "merge-gate",
            "warn",
            "no \"Status checks must succeed\" setting (15.9+)",
        );
}

#[test]
fn version_from_get_version_without_ci_variables() {
    let d = Doctor::of(
        Test::on_version("16.6.3-ee")
            .checks(&["scan"])
            .no_version_vars(),
    );
    d.code(0)
        .has("version", "ok", "GitLab 16.6 (from GET /version)");
    assert_eq!(d.run.requests_to("GET", "/version").len(), 1);
}

#[test]
fn old_servers_are_not_asked_for_token_scopes() {
    let d = Doctor::of(Test::on_version("15.4.0-ee").checks(&["scan"]));
    d.code(0)
        .has("token", "ok", "scopes could not be read")
        .no_request_to("/personal_access_tokens/self");
}

// ---------------------------------------------------------------- pipelines

#[test]
fn fork_merge_request_uses_the_target_project() {
    let d = Doctor::of(
        Test::new()
            .checks(&["scan"])
            .env("CI_PROJECT_ID", "99")
            .env("CI_PROJECT_PATH", "contributor/app"),
    );
    d.code(0)
        .has("pipeline", "ok", "a fork merge request")
        .has("pipeline", "ok", "CI_PROJECT_ID 99")
        .has(
            "project",
            "ok",
            "42 = acme/app (from CI_MERGE_REQUEST_PROJECT_ID): the MR's project, not the fork",
        );
    assert!(
        d.run
            .requests()
            .iter()
            .all(|r| !r.path.contains("/projects/99")),
        "nothing asked of the fork"
    );
}

#[test]
fn fork_merge_request_without_a_token_explains_the_variables() {
    Doctor::of(
        Test::new()
            .env("CI_PROJECT_ID", "99")
            .unset("STATUS_CHECK_TOKEN"),
    )
    .code(1)
    .has("token", "fail", "only CI_JOB_TOKEN")
    .has(
        "token",
        "fail",
        "parent project's CI/CD variables are not available",
    );
}

#[test]
fn merged_results_pipeline_reports_the_source_head() {
    Doctor::of(
        Test::new()
            .checks(&["scan"])
            .env("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result")
            .env("CI_COMMIT_SHA", MERGE_SHA)
            .env("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", SHA_A),
    )
    .code(0)
    .has("pipeline", "ok", "merged results pipeline")
    .has(
        "sha",
        "ok",
        "from CI_MERGE_REQUEST_SOURCE_BRANCH_SHA: the MR's source branch head",
    )
    .has("mr", "ok", "head a1a1a1a1");
}

#[test]
fn merge_train_without_the_source_sha_fails() {
    Doctor::of(
        Test::new()
            .checks(&["scan"])
            .env("CI_MERGE_REQUEST_EVENT_TYPE", "merge_train")
            .env("CI_COMMIT_SHA", MERGE_SHA),
    )
    .code(1)
    .has("pipeline", "ok", "merge train pipeline")
    .has("sha", "fail", "temporary merge commit")
    .has("mr", "warn", "reports for this SHA get 409");
}

#[test]
fn branch_pipeline_finds_the_mr_by_sha() {
    Doctor::of(Test::new().branch_pipeline().checks(&["scan"]))
        .code(0)
        .has("pipeline", "ok", "branch pipeline for feature")
        .has(
            "mr",
            "ok",
            "!7 (the open MR whose head is a1a1a1a1, found by SHA)",
        )
        .has("checks", "ok", "scan (pending)");
}

#[test]
fn branch_pipeline_without_an_mr_only_warns() {
    Doctor::of(
        Test::new()
            .branch_pipeline()
            .checks(&["scan"])
            .env("CI_COMMIT_SHA", SHA_B),
    )
    .code(0)
    .has(
        "mr",
        "warn",
        "no open merge request has b2b2b2b2 as its head",
    )
    .has("mr", "warn", "merge_request_event")
    .has("checks", "skip", "no merge request");
}

#[test]
fn a_stale_sha_is_flagged() {
    Doctor::of(
        Test::new()
            .checks(&["scan"])
            .world(|w| w.push_head(42, 7, SHA_B)),
    )
    .code(0)
    .has("mr", "warn", "its head is b2b2b2b2 and the SHA is a1a1a1a1")
    .has("mr", "warn", "exit 4");
}

#[test]
fn a_merged_mr_warns() {
    Doctor::of(
        Test::new()
            .checks(&["scan"])
            .world(|w| w.mr_mut(42, 7).state = "merged".into()),
    )
    .code(0)
    .has("mr", "warn", "merged: its checks no longer gate a merge");
}

#[test]
fn an_unknown_mr_fails() {
    Doctor::of(Test::new().env("CI_MERGE_REQUEST_IID", "70"))
        .code(1)
        .has("mr", "fail", "no merge request !70 in project 42")
        .has("checks", "skip", "");
}

#[test]
fn outside_ci_with_flags() {
    let d = Doctor::with(
        Test::new()
            .checks(&["scan"])
            .unset("CI")
            .unset("GITLAB_CI")
            .unset("CI_MERGE_REQUEST_IID")
            .unset("CI_MERGE_REQUEST_PROJECT_ID")
            .unset("CI_PROJECT_ID")
            .unset("CI_COMMIT_SHA"),
        &["--project", "acme/app", "--mr", "7"],
    );
    d.code(0)
        .has("pipeline", "ok", "outside CI")
        .has(
            "project",
            "ok",
            "acme/app (from --project/STATUS_CHECK_PROJECT)",
        )
        .has("sha", "warn", "report and run need one")
        .has("mr", "ok", "!7 (from --mr/STATUS_CHECK_MR)");
    assert!(
        d.run
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/api/v4/projects/acme%2Fapp")),
        "the path form is URL-encoded"
    );
}

// ---------------------------------------------------------------- checks and --name

#[test]
fn no_checks_on_the_mr_warns() {
    Doctor::of(Test::new())
        .code(0)
        .has(
            "checks",
            "warn",
            "no external status checks apply to !7 (target branch main)",
        )
        .has("checks", "warn", "status-check sync");
}

#[test]
fn name_that_applies() {
    Doctor::with(
        Test::new().checks(&["security-scan"]),
        &["--name", "security-scan"],
    )
    .code(0)
    .has("name", "ok", "\"security-scan\" applies to !7")
    .no_request_to("/external_status_checks");
}

#[test]
fn name_from_the_environment() {
    Doctor::of(
        Test::new()
            .checks(&["security-scan"])
            .env("STATUS_CHECK_NAME", "security-scan"),
    )
    .code(0)
    .has("name", "ok", "applies to !7");
}

#[test]
fn scoped_check_for_another_target_branch_as_maintainer() {
    let d = Doctor::with(
        Test::new()
            .token(MAINTAINER_TOKEN)
            .checks(&["lint"])
            .world(|w| {
                w.add_scoped_check(42, "deploy-gate", "https://gate.example.com", &["release"]);
            }),
        &["--name", "deploy-gate"],
    );
    d.code(1)
        .has("checks", "ok", "lint (pending)")
        .has(
            "name",
            "fail",
            "\"deploy-gate\" exists but applies only to merge requests targeting release; !7 targets main",
        )
        .has("name", "fail", "add main to the check's protected branches");
    assert_eq!(d.run.requests_to("GET", "/external_status_checks").len(), 1);
}

#[test]
fn scoped_check_that_applies_to_this_target() {
    Doctor::with(
        Test::new().world(|w| {
            w.add_scoped_check(42, "deploy-gate", "https://gate.example.com", &["main"]);
        }),
        &["--name", "deploy-gate"],
    )
    .code(0)
    .has("name", "ok", "\"deploy-gate\" applies to !7");
}

#[test]
fn scoped_check_cannot_be_told_apart_by_a_developer() {
    Doctor::with(
        Test::new().checks(&["lint"]).world(|w| {
            w.add_scoped_check(42, "deploy-gate", "https://gate.example.com", &["release"]);
        }),
        &["--name", "deploy-gate"],
    )
    .code(1)
    .has(
        "name",
        "fail",
        "no check named \"deploy-gate\" on !7; its checks are \"lint\"",
    )
    .has(
        "name",
        "fail",
        "can't be known: reading the project's check list needs Maintainer",
    )
    .no_request_to("/external_status_checks");
}

#[test]
fn missing_name_as_maintainer_lists_the_project_checks() {
    Doctor::with(
        Test::new()
            .token(MAINTAINER_TOKEN)
            .checks(&["lint", "scan"]),
        &["--name", "scanner"],
    )
    .code(1)
    .has(
        "name",
        "fail",
        "no check named \"scanner\" in the project; its checks are \"lint\", \"scan\"",
    )
    .has("name", "fail", "case-sensitive");
}

#[test]
fn a_name_off_in_case_or_spaces_is_suggested_never_taken() {
    for given in ["Scan", " scan "] {
        Doctor::with(Test::new().checks(&["lint", "scan"]), &["--name", given])
            .code(1)
            .has("name", "fail", "no check named")
            .has("name", "fail", "did you mean \"scan\"?");
    }
}

#[test]
fn name_without_an_mr_as_maintainer_reads_the_project_list() {
    Doctor::with(
        Test::new()
            .branch_pipeline()
            .env("CI_COMMIT_SHA", SHA_B)
            .token(MAINTAINER_TOKEN)
            .world(|w| {
                w.add_scoped_check(42, "deploy-gate", "https://gate.example.com", &["release"]);
            }),
        &["--name", "deploy-gate"],
    )
    .code(0)
    .has("licence", "ok", "the project's check list answered")
    .has("name", "ok", "limited to merge requests targeting release");
}

// ---------------------------------------------------------------- connection and inputs

#[test]
fn unreachable_api_url() {
    let port = free_port();
    let d = Doctor::of(
        Test::new()
            .env("CI_API_V4_URL", &format!("http://127.0.0.1:{port}/api/v4"))
            .env("STATUS_CHECK_RETRIES", "0"),
    );
    d.code(1)
        .has("connection", "fail", "could not connect")
        .has("connection", "fail", "--api-url")
        .has("token", "skip", "GitLab did not answer")
        .has("version", "ok", "GitLab 17.5")
        .has("role", "skip", "");
}

#[test]
fn an_instance_url_instead_of_the_api_url() {
    let mut test = Test::new();
    let server = FakeGitlab::start(World::new("17.5.0-ee"));
    test = test.env("CI_API_V4_URL", &server.base_url());
    let run = test
        .args(&["doctor", "--output", "json"])
        .run_against(server);
    run.code(1);
    let json = run.json();
    let line = |id: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(line("api-url")["result"], "warn", "{json:#}");
    assert_eq!(line("connection")["result"], "fail", "{json:#}");
    assert!(
        line("connection")["fix"]
            .as_str()
            .unwrap()
            .contains("must end in /api/v4"),
        "{json:#}"
    );
}

#[test]
fn an_unreadable_ca_file_fails_the_connection_line() {
    Doctor::with(Test::new(), &["--ca-file", "/nonexistent/ca.pem"])
        .code(1)
        .has(
            "connection",
            "fail",
            "cannot read the CA file /nonexistent/ca.pem",
        )
        .has("role", "skip", "GitLab cannot be reached");
}

#[test]
fn invalid_inputs_are_lines_not_a_usage_error() {
    Doctor::of(
        Test::new()
            .env("CI_COMMIT_SHA", "abc123")
            .env("STATUS_CHECK_RETRY_DELAY", "soon"),
    )
    .code(1)
    .has(
        "sha",
        "fail",
        "the SHA `abc123` from CI_COMMIT_SHA is not a full commit SHA",
    )
    .has("config", "fail", "--retry-delay")
    .has("role", "ok", "Developer");
    Doctor::of(Test::new().env("CI_MERGE_REQUEST_IID", "seven"))
        .code(1)
        .has(
            "mr",
            "fail",
            "the merge request IID `seven` from CI_MERGE_REQUEST_IID",
        )
        .has("checks", "skip", "no merge request");
}

#[test]
fn a_redirect_is_not_followed() {
    let d = Doctor::of(
        Test::new().fault(
            Fault::new(FaultKind::Redirect {
                code: 301,
                location: "https://elsewhere.example.com/api/v4/user".into(),
            })
            .on("GET", "/user"),
        ),
    );
    d.code(1)
        .has(
            "connection",
            "fail",
            "a redirect to https://elsewhere.example.com",
        )
        .has("connection", "fail", "never follows redirects");
    d.run.request_count(1);
}
