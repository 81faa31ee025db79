//! `status-check sync`: create, update, no-op, prune, dry run, GitLab's
//! uniqueness errors, and the secret never printed.

use serde_json::Value;

use crate::support::*;

const SECRET: &str = "s3cr3t-hmac-value-never-printed";

/// A Maintainer's sync of project 42 from `yaml` (written to checks.yml).
pub fn sync(yaml: &str) -> Test {
    let mut test = Test::new().branch_pipeline().token(MAINTAINER_TOKEN);
    let path = test.tempdir().join("checks.yml");
    std::fs::write(&path, yaml).unwrap();
    test.args(&["sync", "--file", path.to_str().unwrap()])
}

fn checks_of(run: &Run) -> Vec<Check> {
    run.server.world(|w| w.project(42).unwrap().checks.clone())
}

fn check<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
}

fn writes(run: &Run) -> Vec<String> {
    run.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn never_prints_the_secret(run: &Run) {
    run.no_token_in_output();
    assert!(!run.stdout.contains(SECRET), "secret in stdout");
    assert!(!run.stderr.contains(SECRET), "secret in stderr");
}

const TWO_CHECKS: &str = "\
only_allow_merge_if_all_status_checks_passed: true
checks:
  - name: security-scan
    external_url: https://scanner.example.com/hook
    protected_branches: [main, release]
    shared_secret_env: SCANNER_SECRET
  - name: license-check
    external_url: https://license.example.com/check
";

#[test]
fn creates_checks_with_branches_secret_and_the_merge_setting() {
    let run = sync(TWO_CHECKS).env("SCANNER_SECRET", SECRET).run();
    run.code(0)
        .stdout_has("+ create     \"security-scan\"")
        .stdout_has("protected_branches: main, release")
        .stdout_has("shared_secret: set (from $SCANNER_SECRET)")
        .stdout_has("+ create     \"license-check\"")
        .stdout_has(
            "~ update     project only_allow_merge_if_all_status_checks_passed: false → true",
        )
        .stdout_has("applied 3 changes")
        .stderr_has("created \"security-scan\"");
    never_prints_the_secret(&run);
    let checks = checks_of(&run);
    let scan = check(&checks, "security-scan");
    assert_eq!(scan.external_url, "https://scanner.example.com/hook");
    assert_eq!(scan.protected_branch_ids, [1, 2]);
    assert_eq!(scan.shared_secret.as_deref(), Some(SECRET));
    let lic = check(&checks, "license-check");
    assert!(lic.protected_branch_ids.is_empty());
    assert_eq!(lic.shared_secret, None);
    assert!(run.server.world(|w| {
        w.project(42)
            .unwrap()
            .only_allow_merge_if_all_status_checks_passed
    }));
    // The secret travels only in the body of the request that sets it.
    let posts = run.requests_to("POST", "/external_status_checks");
    assert_eq!(posts.len(), 2);
    let body: Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(body["shared_secret"], SECRET);
    assert_eq!(body["protected_branch_ids"], serde_json::json!([1, 2]));
    let body: Value = serde_json::from_str(&posts[1].body).unwrap();
    assert!(body.get("shared_secret").is_none());
    assert_eq!(run.requests_to("PUT", "/projects/42").len(), 1);
}

#[test]
fn a_second_run_changes_nothing() {
    let first = sync(TWO_CHECKS).env("SCANNER_SECRET", SECRET).run();
    first.code(0);
    let mut again = Test::new().branch_pipeline().token(MAINTAINER_TOKEN);
    let path = again.tempdir().join("checks.yml");
    std::fs::write(&path, TWO_CHECKS).unwrap();
    let server = first.server;
    let before = server.requests().len();
    let run = again
        .env("SCANNER_SECRET", SECRET)
        .args(&["sync", "--file", path.to_str().unwrap()])
        .run_against(server);
    run.code(0)
        .stdout_has("= unchanged  \"security-scan\"")
        .stdout_has("= unchanged  \"license-check\"")
        .stdout_has("= unchanged  project only_allow_merge_if_all_status_checks_passed: true")
        .stdout_has("matches")
        .stdout_has("nothing to change");
    never_prints_the_secret(&run);
    let new: Vec<_> = run.requests()[before..]
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert!(new.iter().all(|m| m == "GET"), "only reads: {new:?}");
    // Checks list, protected branches, project setting.
    assert_eq!(new.len(), 3);
}

#[test]
fn updates_url_branches_and_secret_in_place() {
    let mut id = 0;
    let run = sync(TWO_CHECKS)
        .env("SCANNER_SECRET", SECRET)
        .world(|w| {
            id = w.add_check(42, "security-scan", "https://old-scanner.example.com/hook");
            w.add_check(42, "license-check", "https://license.example.com/check");
        })
        .run();
    run.code(0)
        .stdout_has("~ update     \"security-scan\"")
        .stdout_has(
            "external_url: https://old-scanner.example.com/hook → https://scanner.example.com/hook",
        )
        .stdout_has("protected_branches: all branches → main, release")
        .stdout_has("shared_secret: none → set (from $SCANNER_SECRET)")
        .stdout_has("= unchanged  \"license-check\"");
    never_prints_the_secret(&run);
    let checks = checks_of(&run);
    let scan = check(&checks, "security-scan");
    assert_eq!(scan.id, id, "updated in place");
    assert_eq!(scan.external_url, "https://scanner.example.com/hook");
    assert_eq!(scan.protected_branch_ids, [1, 2]);
    assert_eq!(scan.shared_secret.as_deref(), Some(SECRET));
    assert_eq!(
        writes(&run),
        [
            format!("PUT /api/v4/projects/42/external_status_checks/{id}"),
            "PUT /api/v4/projects/42".to_owned()
        ]
    );
}

#[test]
fn dry_run_shows_the_drift_exits_1_and_changes_nothing() {
    let run = sync(TWO_CHECKS)
        .env("SCANNER_SECRET", SECRET)
        .world(|w| {
            w.add_check(42, "license-check", "https://license.example.com/old");
            w.add_check(42, "legacy", "https://legacy.example.com");
        })
        .args(&["--dry-run"])
        .run();
    run.code(1)
        .stdout_has("+ create     \"security-scan\"")
        .stdout_has("~ update     \"license-check\"")
        .stdout_has(
            "(external_url: https://license.example.com/old → https://license.example.com/check)",
        )
        .stdout_has("? unmanaged  \"legacy\"")
        .stdout_has("--prune deletes it")
        .stdout_has("dry run: 3 changes pending")
        .stdout_has("nothing was changed");
    never_prints_the_secret(&run);
    assert!(writes(&run).is_empty(), "{:?}", writes(&run));
    assert_eq!(checks_of(&run).len(), 2);
}

#[test]
fn dry_run_in_sync_exits_0() {
    sync("checks:\n  - {name: lint, external_url: https://lint.example.com}\n")
        .world(|w| {
            w.add_check(42, "lint", "https://lint.example.com");
        })
        .args(&["--dry-run"])
        .run()
        .code(0)
        .stdout_has("= unchanged  \"lint\"")
        .stdout_has("nothing to change");
}

#[test]
fn prune_deletes_the_checks_the_file_does_not_list() {
    let mut legacy = 0;
    let run = sync("checks:\n  - {name: lint, external_url: https://lint.example.com}\n")
        .world(|w| {
            w.add_check(42, "lint", "https://lint.example.com");
            legacy = w.add_check(42, "legacy", "https://legacy.example.com");
        })
        .args(&["--prune"])
        .run();
    run.code(0)
        .stdout_has(&format!("- delete     \"legacy\"  (id {legacy})"))
        .stdout_has("applied 1 change");
    assert_eq!(
        writes(&run),
        [format!(
            "DELETE /api/v4/projects/42/external_status_checks/{legacy}"
        )]
    );
    let names: Vec<String> = checks_of(&run).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["lint"]);
}

#[test]
fn an_empty_list_with_prune_deletes_everything() {
    let run = sync("checks: []\n")
        .checks(&["a", "b"])
        .args(&["--prune"])
        .run();
    run.code(0).stdout_has("applied 2 changes");
    assert!(checks_of(&run).is_empty());
}

#[test]
fn json_output_lists_actions_and_field_changes() {
    let run = sync(TWO_CHECKS)
        .world(|w| {
            w.add_check(42, "license-check", "https://license.example.com/old");
        })
        .args(&["--dry-run", "--output", "json"])
        .run();
    run.code(1);
    never_prints_the_secret(&run);
    let json = run.json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["in_sync"], false);
    assert_eq!(json["changes"], 3);
    assert_eq!(json["applied"], 0);
    assert_eq!(json["project"], "42");
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks[0]["action"], "create");
    assert_eq!(checks[0]["name"], "security-scan");
    assert!(checks[0]["id"].is_null());
    let fields: Vec<&str> = checks[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["external_url", "protected_branches", "shared_secret"]
    );
    assert_eq!(checks[1]["action"], "update");
    assert_eq!(
        checks[1]["changes"][0]["old"],
        "https://license.example.com/old"
    );
    assert_eq!(
        checks[1]["changes"][0]["new"],
        "https://license.example.com/check"
    );
    assert_eq!(json["project_setting"]["action"], "update");
    assert_eq!(json["project_setting"]["new"], true);
}

#[test]
fn the_secret_is_set_only_when_hmac_differs_unless_rotated() {
    let yaml = "checks:\n  - {name: scan, external_url: https://scan.example.com, shared_secret_env: SCANNER_SECRET}\n";
    let with_secret = |w: &mut World| {
        w.add_check(42, "scan", "https://scan.example.com");
        w.project_mut(42).checks[0].shared_secret = Some("old-secret".into());
    };
    let run = sync(yaml)
        .env("SCANNER_SECRET", SECRET)
        .world(with_secret)
        .run();
    run.code(0).stdout_has("= unchanged  \"scan\"");
    assert!(writes(&run).is_empty());
    let run = sync(yaml)
        .env("SCANNER_SECRET", SECRET)
        .world(with_secret)
        .args(&["--rotate-secrets"])
        .run();
    run.code(0)
        .stdout_has("shared_secret: set → set (from $SCANNER_SECRET) again (--rotate-secrets)");
    never_prints_the_secret(&run);
    assert_eq!(checks_of(&run)[0].shared_secret.as_deref(), Some(SECRET));
}

#[test]
fn a_secret_dropped_from_the_file_is_cleared() {
    let run = sync("checks:\n  - {name: scan, external_url: https://scan.example.com}\n")
        .world(|w| {
            w.add_check(42, "scan", "https://scan.example.com");
            w.project_mut(42).checks[0].shared_secret = Some("old-secret".into());
        })
        .run();
    run.code(0).stdout_has("shared_secret: set → none");
    assert!(!run.stdout.contains("old-secret"));
    assert_eq!(checks_of(&run)[0].shared_secret, None);
}

#[test]
fn the_file_can_be_json() {
    let mut test = Test::new().branch_pipeline().token(MAINTAINER_TOKEN);
    let path = test.tempdir().join("checks.json");
    std::fs::write(
        &path,
        r#"{"checks": [{"name": "lint", "external_url": "https://lint.example.com", "protected_branches": ["main"]}]}"#,
    )
    .unwrap();
    let run = test.args(&["sync", "--file", path.to_str().unwrap()]).run();
    run.code(0).stdout_has("+ create     \"lint\"");
    assert_eq!(checks_of(&run)[0].protected_branch_ids, [1]);
}

// ---------------------------------------------------------------- usage errors (exit 2)

#[test]
fn a_bad_file_fails_before_any_request() {
    let run = sync("checks:\n  - name: a\n   external_url: https://x\n").run();
    run.code(2)
        .stderr_has("checks.yml is not valid YAML")
        .stderr_has("line")
        .request_count(0);
    let run =
        sync("checks:\n  - {name: a, external_url: https://x, protected_branch: [main]}\n").run();
    run.code(2)
        .stderr_has("checks[0] (\"a\"): unknown key `protected_branch`")
        .request_count(0);
}

#[test]
fn a_missing_file_names_the_flag() {
    Test::new()
        .token(MAINTAINER_TOKEN)
        .args(&["sync", "--file", "/nonexistent/checks.yml"])
        .run()
        .code(2)
        .stderr_has(
            "cannot read the checks file /nonexistent/checks.yml (--file/STATUS_CHECK_SYNC_FILE)",
        )
        .request_count(0);
}

#[test]
fn a_secret_written_into_the_file_is_refused_without_echoing_it() {
    let run = sync(&format!(
        "checks:\n  - {{name: a, external_url: https://x, shared_secret: {SECRET}}}\n"
    ))
    .run();
    run.code(2)
        .stderr_has("do not write the secret into the file")
        .request_count(0);
    never_prints_the_secret(&run);
}

#[test]
fn an_unknown_branch_name_is_a_usage_error_and_nothing_changes() {
    let run = sync(
        "checks:\n  - {name: lint, external_url: https://lint.example.com, protected_branches: [main, relase]}\n",
    )
    .run();
    run.code(2)
        .stderr_has("checks[0] (\"lint\"): `relase` is not a protected branch of 42 (its protected branches are main, release)")
        .stderr_has("protect the branch first");
    assert!(writes(&run).is_empty());
}

#[test]
fn a_missing_secret_variable_is_a_usage_error_before_any_request() {
    let run = sync(TWO_CHECKS).run();
    run.code(2)
        .stderr_has("checks[0] (\"security-scan\"): shared_secret_env names SCANNER_SECRET, which is not set")
        .stderr_has("masked CI/CD variable")
        .request_count(0);
}

#[test]
fn a_dry_run_without_the_secret_variable_only_warns() {
    let run = sync(TWO_CHECKS).args(&["--dry-run"]).run();
    run.code(1)
        .stderr_has("warning: checks[0] (\"security-scan\"): SCANNER_SECRET is not set")
        .stdout_has("shared_secret: set (from $SCANNER_SECRET)");
}

#[test]
fn a_url_kept_by_an_unlisted_check_is_refused_before_any_change() {
    let run = sync("checks:\n  - {name: renamed, external_url: https://scan.example.com}\n")
        .world(|w| {
            w.add_check(42, "old-name", "https://scan.example.com");
        })
        .run();
    run.code(2)
        .stderr_has("checks[0] (\"renamed\"): external_url https://scan.example.com is already used by the check \"old-name\"")
        .stderr_has("--prune");
    assert!(writes(&run).is_empty());
}

#[test]
fn a_rename_with_prune_deletes_first_then_creates() {
    let run = sync("checks:\n  - {name: renamed, external_url: https://scan.example.com}\n")
        .world(|w| {
            w.add_check(42, "old-name", "https://scan.example.com");
        })
        .args(&["--prune"])
        .run();
    run.code(0);
    let w = writes(&run);
    assert!(
        w[0].starts_with("DELETE") && w[1].starts_with("POST"),
        "{w:?}"
    );
    assert_eq!(checks_of(&run)[0].name, "renamed");
}

#[test]
fn the_merge_setting_needs_15_9() {
    let mut test = Test::on_version("15.8.0-ee")
        .branch_pipeline()
        .token(MAINTAINER_TOKEN);
    let path = test.tempdir().join("checks.yml");
    std::fs::write(
        &path,
        "only_allow_merge_if_all_status_checks_passed: true\nchecks: []\n",
    )
    .unwrap();
    let run = test.args(&["sync", "--file", path.to_str().unwrap()]).run();
    run.code(2)
        .stderr_has("GitLab 15.8 has no such setting (15.9+)");
    assert!(writes(&run).is_empty());
}

// ---------------------------------------------------------------- GitLab refuses

#[test]
fn a_developer_is_told_that_sync_needs_maintainer() {
    let run = sync(TWO_CHECKS)
        .env("SCANNER_SECRET", SECRET)
        .token(DEV_TOKEN)
        .run();
    run.code(5)
        .stderr_has("sync needs the Maintainer role on acme/app; the token's user is Developer")
        .stderr_has("project access token with the Maintainer role");
    never_prints_the_secret(&run);
    assert!(writes(&run).is_empty());
}

#[test]
fn a_403_on_a_write_says_maintainer() {
    let run = sync("checks:\n  - {name: lint, external_url: https://lint.example.com}\n")
        .fault(
            Fault::new(FaultKind::Status {
                code: 403,
                body: r#"{"message":"403 Forbidden"}"#.into(),
                content_type: "application/json".into(),
            })
            .on("POST", "/external_status_checks"),
        )
        .run();
    run.code(5)
        .stderr_has("sync stopped at create \"lint\", after 0 of 1 changes")
        .stderr_has("403 Forbidden")
        .stderr_has("sync needs the Maintainer role")
        .stderr_has("run it again to finish");
}

#[test]
fn an_unlicensed_project_is_named() {
    let run = sync("checks: []\n")
        .world(|w| w.project_mut(42).ultimate = false)
        .run();
    run.code(5)
        .stderr_has("no Ultimate licence, or the feature is unavailable");
}

#[test]
fn gitlab_name_taken_is_shown_clearly() {
    // Someone created the name between sync's read and its write.
    let run = sync("checks:\n  - {name: lint, external_url: https://lint.example.com}\n")
        .fault(
            Fault::new(FaultKind::Status {
                code: 422,
                body: r#"{"message":["Name has already been taken"]}"#.into(),
                content_type: "application/json".into(),
            })
            .on("POST", "/external_status_checks"),
        )
        .run();
    run.code(2)
        .stderr_has("sync stopped at create \"lint\", after 0 of 1 changes: GitLab refused it (422): Name has already been taken")
        .stderr_has("check names are unique in a project")
        .stderr_has("run it again to finish");
}

#[test]
fn gitlab_url_taken_is_shown_clearly() {
    // A swap of two URLs: whichever update goes first collides in GitLab.
    let run = sync(
        "checks:\n  - {name: a, external_url: https://b.example.com}\n  - {name: b, external_url: https://a.example.com}\n",
    )
    .world(|w| {
        w.add_check(42, "a", "https://a.example.com");
        w.add_check(42, "b", "https://b.example.com");
    })
    .run();
    run.code(2)
        .stderr_has("GitLab refused it (422): External url has already been taken")
        .stderr_has("external URLs are unique in a project");
    assert_eq!(
        run.requests_to("PUT", "").len(),
        1,
        "stopped at the first refusal"
    );
}

#[test]
fn verbose_logs_never_show_the_secret() {
    let run = sync(TWO_CHECKS)
        .env("SCANNER_SECRET", SECRET)
        .args(&["--verbose"])
        .run();
    run.code(0)
        .stderr_has("POST /projects/42/external_status_checks");
    never_prints_the_secret(&run);
}
