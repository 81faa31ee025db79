//! `status-check list`.

use crate::support::*;

#[test]
fn table_of_the_mr_checks() {
    let run = Test::new()
        .checks(&["security-scan", "license-check"])
        .world(|w| w.set_status(42, 7, "security-scan", "passed"))
        .args(&["list"])
        .run();
    run.code(0)
        .stdout_has("ID")
        .stdout_has("security-scan")
        .stdout_has("passed")
        .stdout_has("https://checks.example.com/license-check")
        .request_count(1);
    assert!(
        !run.stdout.contains("secret=s3"),
        "the fake cuts the query for Developers"
    );
}

#[test]
fn json_array_of_id_name_status_url() {
    let run = Test::new()
        .checks(&["a", "b"])
        .world(|w| w.set_status(42, 7, "b", "failed"))
        .args(&["list", "--output", "json"])
        .run();
    run.code(0);
    let json = run.json();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["name"], "b");
    assert_eq!(items[1]["status"], "failed");
    assert!(items[0]["id"].as_u64().is_some());
    assert!(items[0]["external_url"].is_string());
}

#[test]
fn approved_from_14_x_reads_as_passed() {
    let run = Test::on_version("14.5.0")
        .checks(&["a"])
        .world(|w| w.set_status(42, 7, "a", "approved"))
        .args(&["list", "--output", "json"])
        .run();
    run.code(0);
    assert_eq!(run.json()[0]["status"], "passed");
}

#[test]
fn forty_five_checks_fit_one_page_of_100() {
    let names: Vec<String> = (0..45).map(|i| format!("check-{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = Test::new()
        .checks(&refs)
        .args(&["list", "--output", "json"])
        .run();
    run.code(0).request_count(1);
    assert_eq!(run.json().as_array().unwrap().len(), 45);
}

#[test]
fn pagination_is_followed_to_the_end() {
    let names: Vec<String> = (0..245).map(|i| format!("check-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = Test::new()
        .checks(&refs)
        .args(&["list", "--output", "json"])
        .run();
    run.code(0).request_count(3);
    let items = run.json();
    assert_eq!(items.as_array().unwrap().len(), 245);
    assert_eq!(items[244]["name"], "check-244");
    let pages: Vec<String> = run
        .requests()
        .iter()
        .filter_map(|r| r.query_param("page"))
        .collect();
    assert_eq!(pages, ["1", "2", "3"]);
}

#[test]
fn pagination_without_totals_follows_x_next_page() {
    let names: Vec<String> = (0..150).map(|i| format!("c{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = Test::new()
        .checks(&refs)
        .world(|w| w.total_headers_limit = 10)
        .args(&["list", "--output", "json"])
        .run();
    run.code(0).request_count(2);
    assert_eq!(run.json().as_array().unwrap().len(), 150);
}

#[test]
fn broken_pipe_is_not_an_error() {
    use std::io::Read;
    let names: Vec<String> = (0..300)
        .map(|i| format!("a-rather-long-check-name-{i:03}"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let test = Test::new().checks(&refs);
    // Run through a pipe closed after the first bytes.
    let run = test.args(&["list"]).run();
    run.code(0);
    let mut env = std::collections::BTreeMap::new();
    env.insert("STATUS_CHECK_TOKEN".to_string(), DEV_TOKEN.to_string());
    env.insert("STATUS_CHECK_API_URL".to_string(), run.server.api_url());
    env.insert("STATUS_CHECK_PROJECT".to_string(), "42".to_string());
    env.insert("STATUS_CHECK_MR".to_string(), "7".to_string());
    let mut child = command(&env, &["list".to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.code() == Some(0), "exit {status:?}: {stderr}");
}

#[test]
fn branch_pipeline_lists_every_open_mr() {
    let run = Test::new()
        .branch_pipeline()
        .checks(&["scan"])
        .world(|w| {
            w.add_mr(42, 8, "feature", "release", SHA_A, "opened");
        })
        .args(&["list"])
        .run();
    run.code(0).stdout_has("!7").stdout_has("!8");
}

#[test]
fn branch_pipeline_without_an_open_mr_says_so() {
    Test::new()
        .branch_pipeline()
        .world(|w| w.mr_mut(42, 7).state = "merged".into())
        .args(&["list"])
        .run()
        .code(0)
        .stdout_has("no open merge request has a1a1a1a1 as its head");
}
