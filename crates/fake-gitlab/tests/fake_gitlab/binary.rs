//! The standalone `fake-gitlab` binary: one `listening on` line, serves, `--log` never
//! prints tokens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, target: &str, token: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nPRIVATE-TOKEN: {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn binary_serves_a_scenario_and_logs_without_secrets() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let child = Command::new(env!("CARGO_BIN_EXE_fake-gitlab"))
        .args([
            "--scenario",
            "demo-timeline",
            "--log",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--script", &format!("{dir}/scenarios/demo-script.json")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(url.starts_with("127.0.0.1:"));
    let list = "/api/v4/projects/42/merge_requests/7/status_checks?private_token=SECRETQ";
    let first = get(&url, list, fake_gitlab::DEV_TOKEN);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains(r#""status":"pending""#));
    let second = get(&url, list, fake_gitlab::DEV_TOKEN);
    assert!(
        second.contains(r#""name":"security-scan","status":"passed""#),
        "{second}"
    );
    let denied = get(&url, "/api/v4/version", "glpat-WRONG");
    assert!(denied.starts_with("HTTP/1.1 401"));
    child.0.kill().unwrap();
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "GET /api/v4/projects/42/merge_requests/7/status_checks 200",
            "GET /api/v4/projects/42/merge_requests/7/status_checks 200",
            "GET /api/v4/version 401",
        ]
    );
    assert!(!err.contains("glpat") && !err.contains("SECRETQ"));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one stdout line");
}

#[test]
fn binary_rejects_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_fake-gitlab"))
        .args(["--scenario", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario"));
}

#[test]
fn binary_adds_latency_and_logs_json_lines() {
    let child = Command::new(env!("CARGO_BIN_EXE_fake-gitlab"))
        .args(["--scenario", "demo", "--log-json", "--latency-ms", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let list = "/api/v4/projects/42/merge_requests/7/status_checks?per_page=100&page=1&private_token=SECRETQ";
    let started = std::time::Instant::now();
    let answer = get(&url, list, fake_gitlab::DEV_TOKEN);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(60),
        "answered after {:?}",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(get(&url, "/api/v4/version", "glpat-WRONG").starts_with("HTTP/1.1 401"));
    child.0.kill().unwrap();
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(
        lines[0]["path"],
        "/api/v4/projects/42/merge_requests/7/status_checks"
    );
    assert_eq!(lines[0]["per_page"], "100");
    assert_eq!(lines[0]["page"], "1");
    assert_eq!(lines[0]["status"], 200);
    // Arrival is logged after the added latency.
    assert!(lines[0]["at_ms"].as_u64().unwrap() >= 60);
    assert_eq!(lines[1]["path"], "/api/v4/version");
    assert_eq!(lines[1]["per_page"], serde_json::Value::Null);
    assert_eq!(lines[1]["status"], 401);
    assert!(!err.contains("glpat") && !err.contains("SECRETQ"));
}

#[test]
fn binary_rejects_a_bad_latency() {
    let out = Command::new(env!("CARGO_BIN_EXE_fake-gitlab"))
        .args(["--latency-ms", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--latency-ms needs milliseconds"));
}
