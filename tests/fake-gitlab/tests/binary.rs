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
