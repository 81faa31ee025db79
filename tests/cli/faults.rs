//! The fault matrix: every command against every way GitLab or the network
//! fails, persisting past the retries, in text and JSON output, with
//! `--verbose`. Each run must end with the exit code of the table below, no
//! panic, at most one `status-check: error:` line naming the endpoint and the
//! status (or what broke), and no token in stdout, stderr, JSON, JUnit or
//! dotenv, nor in any URL; a redirect's target sees no request at all.
//!
//! | class      | report, list, retry | wait | run (CMD exits 0) | run (CMD exits 3) |
//! |------------|---------------------|------|-------------------|-------------------|
//! | transient  | 5                   | 3    | 5                 | 3                 |
//! | bad body   | 5                   | 5    | 5                 | 3                 |
//! | fatal      | 5                   | 5    | 5                 | 5 (CMD not run)   |
//!
//! Transient: 429, 5xx, refused, resets, timeouts (retried; `wait` polls on
//! until its timeout). Bad body: a 2xx that is not the JSON expected (`wait`
//! gives up after 3 in a row; `run` still runs CMD, as GitLab may have acted).
//! Fatal: DNS, a redirect, a body over the cap, 401, 404 (never retried).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::*;

/// Fast retries and short timeouts: the shapes of the retry schedule are
/// unit-tested; here only the outcome matters.
pub(crate) const GLOBAL: [&str; 7] = [
    "--verbose",
    "--retries",
    "1",
    "--retry-delay",
    "20ms",
    "--request-timeout",
    "500ms",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Transient,
    BadBody,
    Fatal,
}

#[derive(Clone, Debug)]
pub(crate) enum Net {
    Fault(FaultKind),
    /// Nothing listens at the API URL.
    Refused,
    /// The API host does not resolve (RFC 2606 `.invalid`).
    Dns,
    /// A 302 to a second fake GitLab.
    Redirect,
}

#[derive(Clone, Debug)]
pub(crate) struct FaultCase {
    pub name: &'static str,
    pub net: Net,
    class: Class,
    /// What the error line says besides the endpoint.
    says: &'static str,
}

fn json_status(code: u16, message: &str) -> FaultKind {
    FaultKind::Status {
        code,
        body: serde_json::json!({ "message": message }).to_string(),
        content_type: "application/json".into(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) fn fault_cases() -> Vec<FaultCase> {
    use Class::*;
    let case = |name, net, class, says| FaultCase {
        name,
        net,
        class,
        says,
    };
    let fault = Net::Fault;
    vec![
        case(
            "429 with Retry-After seconds",
            fault(FaultKind::TooManyRequests {
                retry_after: Some("1".into()),
            }),
            Transient,
            "answered 429",
        ),
        case(
            "429 without Retry-After",
            fault(FaultKind::TooManyRequests { retry_after: None }),
            Transient,
            "answered 429",
        ),
        case(
            "429 with an HTTP-date Retry-After",
            fault(FaultKind::TooManyRequests {
                retry_after: Some(http_date(unix_now() + 1)),
            }),
            Transient,
            "answered 429",
        ),
        case(
            "500 JSON",
            fault(json_status(500, "500 Internal Server Error")),
            Transient,
            "answered 500",
        ),
        case(
            "502 HTML error page",
            fault(FaultKind::HtmlError(502)),
            Transient,
            "answered 502",
        ),
        case(
            "503 plain text",
            fault(FaultKind::Status {
                code: 503,
                body: "Service Unavailable\n".into(),
                content_type: "text/plain".into(),
            }),
            Transient,
            "answered 503",
        ),
        case(
            "504 HTML error page",
            fault(FaultKind::HtmlError(504)),
            Transient,
            "answered 504",
        ),
        case(
            "connection refused",
            Net::Refused,
            Transient,
            "could not connect",
        ),
        case(
            "reset before any answer",
            fault(FaultKind::Reset),
            Transient,
            "the connection broke",
        ),
        case(
            "reset mid-body",
            fault(FaultKind::ResetMidBody),
            Transient,
            "but the connection broke",
        ),
        case(
            "slow answer past the request timeout",
            fault(FaultKind::Delay(3_000)),
            Transient,
            "no answer within the request timeout",
        ),
        case(
            "slow-drip body",
            fault(FaultKind::SlowDrip { interval_ms: 100 }),
            Transient,
            "the body did not arrive within the request timeout",
        ),
        case(
            "200 with invalid JSON",
            fault(FaultKind::InvalidJson),
            BadBody,
            "with an unexpected body: not the expected JSON",
        ),
        case(
            "JSON of the wrong shape",
            fault(FaultKind::WrongShape),
            BadBody,
            "with an unexpected body: not the expected JSON",
        ),
        case(
            "200 with an HTML page",
            fault(FaultKind::Status {
                code: 200,
                body: "<!DOCTYPE html><html><head><title>Sign in · GitLab</title></head></html>"
                    .into(),
                content_type: "text/html".into(),
            }),
            BadBody,
            "an HTML page (Sign in · GitLab) instead of JSON",
        ),
        case(
            "200 with an empty body",
            fault(FaultKind::Empty),
            BadBody,
            "with an unexpected body: an empty body",
        ),
        case(
            "DNS failure",
            Net::Dns,
            Fatal,
            "the host name could not be resolved",
        ),
        case(
            "302 to another host",
            Net::Redirect,
            Fatal,
            "answered 302, a redirect to",
        ),
        case(
            "huge body",
            fault(FaultKind::Huge {
                bytes: 9 * 1024 * 1024,
            }),
            Fatal,
            "larger than 8 MiB",
        ),
        case(
            "401",
            fault(json_status(401, "401 Unauthorized")),
            Fatal,
            "answered 401",
        ),
        case(
            "404",
            fault(json_status(404, "404 Not found")),
            Fatal,
            "answered 404",
        ),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmd {
    Report,
    List,
    Retry,
    Wait,
    RunPasses,
    RunFails,
}

impl Cmd {
    fn expected(self, class: Class) -> i32 {
        match (self, class) {
            (Cmd::Wait, Class::Transient) => 3,
            (Cmd::RunFails, Class::Transient | Class::BadBody) => 3,
            _ => 5,
        }
    }

    /// The API path the first failing request goes to.
    fn endpoint(self) -> &'static str {
        match self {
            Cmd::RunPasses | Cmd::RunFails => {
                "POST /projects/42/merge_requests/7/status_check_responses"
            }
            _ => "GET /projects/42/merge_requests/7/status_checks",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Text,
    Json,
}

/// What one run left behind, besides the `Run`.
struct Artifacts {
    junit: Option<String>,
    dotenv: Option<String>,
}

/// `test` with the fault installed; for a redirect, the second server (keep
/// it alive until its request log is checked).
pub(crate) fn with_fault(mut test: Test, net: &Net) -> (Test, Option<FakeGitlab>) {
    let mut other = None;
    match net {
        Net::Fault(kind) => {
            test = test.fault(Fault::new(kind.clone()).times(100_000));
        }
        Net::Refused => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            drop(listener);
            test = test.env("CI_API_V4_URL", &format!("http://127.0.0.1:{port}/api/v4"));
        }
        Net::Dns => {
            test = test.env("CI_API_V4_URL", "http://gitlab.status-check.invalid/api/v4");
        }
        Net::Redirect => {
            let second = FakeGitlab::start(World::new("17.5.0"));
            let location = format!(
                "{}/api/v4/projects/42/merge_requests/7/status_checks",
                second.base_url()
            );
            test = test.fault(
                Fault::new(FaultKind::Redirect {
                    code: 302,
                    location,
                })
                .times(100_000),
            );
            other = Some(second);
        }
    }
    (test, other)
}

fn run_case(cmd: Cmd, case: &FaultCase, mode: Mode) -> (Run, Artifacts, Option<FakeGitlab>) {
    let mut id = 0;
    let mut test = Test::new()
        .checks(&["scan"])
        .world(|w| id = w.add_check(42, "deploy", "https://deploy.example.com"))
        .args(&GLOBAL);
    if mode == Mode::Json {
        test = test.args(&["--output", "json"]);
    }
    let dir = test.tempdir();
    let (junit, dotenv) = (dir.join("gate.xml"), dir.join("gate.env"));
    let id = id.to_string();
    test = match cmd {
        Cmd::Report => test.args(&["report", "passed", "--name", "scan"]),
        Cmd::List => test.args(&["list"]),
        Cmd::Retry => test.args(&["retry", "--name", "scan"]),
        Cmd::Wait => test.args(&[
            "wait",
            "--timeout",
            "1s",
            "--interval",
            "50ms",
            "--max-interval",
            "200ms",
            "--junit",
            junit.to_str().unwrap(),
            "--dotenv",
            dotenv.to_str().unwrap(),
        ]),
        Cmd::RunPasses => test.args(&["run", "--check-id", &id, "--", "true"]),
        Cmd::RunFails => test.args(&["run", "--check-id", &id, "--", "sh", "-c", "exit 3"]),
    };
    let (test, other) = with_fault(test, &case.net);
    let run = test.run();
    let artifacts = Artifacts {
        junit: std::fs::read_to_string(&junit).ok(),
        dotenv: std::fs::read_to_string(&dotenv).ok(),
    };
    (run, artifacts, other)
}

/// Every assertion of the matrix, for one run. Returns a description of
/// what is wrong, so that one test reports every failing cell at once.
fn check(cmd: Cmd, case: &FaultCase, mode: Mode) -> Result<(), String> {
    let (run, artifacts, other) = run_case(cmd, case, mode);
    let expected = cmd.expected(case.class);
    if std::env::var_os("SHOW_MATRIX").is_some() && mode == Mode::Text {
        eprintln!(
            "=== {cmd:?} × {} → {}\n{}{}",
            case.name, run.code, run.stdout, run.stderr
        );
    }
    let mut problems = Vec::new();
    if run.code != expected {
        problems.push(format!("exit code {} (expected {expected})", run.code));
    }
    let everything = format!("{}\n{}", run.stdout, run.stderr);
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if everything.contains(bad) {
            problems.push(format!("output contains {bad:?}"));
        }
    }
    let error_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("status-check: error:"))
        .collect();
    // Where the failure must be told: the error line, or for a wait that
    // timed out (an outcome, not an error) its result on stdout.
    let told = if expected == 3 && cmd == Cmd::Wait {
        if !error_lines.is_empty() {
            problems.push(format!("error lines on a timeout: {error_lines:?}"));
        }
        run.stdout.clone()
    } else {
        if error_lines.len() != 1 {
            problems.push(format!("{} error lines (expected 1)", error_lines.len()));
        }
        error_lines
            .first()
            .map(|l| l.to_string())
            .unwrap_or_default()
    };
    if !told.contains(cmd.endpoint()) {
        problems.push(format!("{:?} does not name {}", told, cmd.endpoint()));
    }
    if !told.contains(case.says) {
        problems.push(format!("{told:?} does not say {:?}", case.says));
    }
    if mode == Mode::Json {
        match run.stdout.lines().last().map(serde_json::from_str::<Value>) {
            Some(Ok(json)) => {
                let code = json.get("exit_code").and_then(Value::as_i64);
                let timeout = json.get("result").and_then(Value::as_str) == Some("timeout");
                if code != Some(i64::from(expected)) && !(expected == 3 && timeout) {
                    problems.push(format!("JSON does not carry the exit code: {json}"));
                }
            }
            _ => problems.push("the last stdout line is not JSON".into()),
        }
    }
    if cmd == Cmd::Wait {
        match (&artifacts.junit, &artifacts.dotenv) {
            (Some(junit), Some(dotenv)) => {
                if roxmltree::Document::parse(junit).is_err() {
                    problems.push(format!("JUnit does not parse: {junit}"));
                }
                let result = if expected == 3 { "timeout" } else { "error" };
                if !dotenv.contains(&format!("STATUS_CHECKS_RESULT={result}\n")) {
                    problems.push(format!("dotenv lacks the result {result}: {dotenv}"));
                }
            }
            _ => problems.push("wait wrote no JUnit or dotenv report".into()),
        }
    }
    let files = format!(
        "{}{}",
        artifacts.junit.unwrap_or_default(),
        artifacts.dotenv.unwrap_or_default()
    );
    for token in ALL_TOKENS {
        if everything.contains(token) || files.contains(token) {
            problems.push(format!("a token ({}…) is in the output", &token[..6]));
        }
        for r in run.requests() {
            if r.path.contains(token) || r.query.contains(token) {
                problems.push(format!("a token is in the URL {}?{}", r.path, r.query));
            }
        }
    }
    if let Some(other) = other
        && !other.requests().is_empty()
    {
        problems.push(format!(
            "the redirect's target got {} request(s)",
            other.requests().len()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} × {} ({mode:?}): {}\n--- stdout ---\n{}--- stderr ---\n{}",
            case.name,
            problems.join("; "),
            run.stdout,
            run.stderr
        ))
    }
}

/// Runs `jobs` on a few threads (the runs mostly wait on timers), collecting
/// every failure.
pub(crate) fn in_parallel<T: Sync>(
    jobs: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<(), String> + Sync,
) {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    if let Err(e) = f(job) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n\n")
    );
}

fn matrix(cmds: &[Cmd]) {
    let mut jobs = Vec::new();
    for case in fault_cases() {
        for &cmd in cmds {
            for mode in [Mode::Text, Mode::Json] {
                jobs.push((cmd, case.clone(), mode));
            }
        }
    }
    in_parallel(&jobs, 4, |(cmd, case, mode)| check(*cmd, case, *mode));
}

#[test]
fn matrix_report() {
    matrix(&[Cmd::Report]);
}

#[test]
fn matrix_list() {
    matrix(&[Cmd::List]);
}

#[test]
fn matrix_retry() {
    matrix(&[Cmd::Retry]);
}

#[test]
fn matrix_wait() {
    matrix(&[Cmd::Wait]);
}

#[test]
fn matrix_run() {
    matrix(&[Cmd::RunPasses, Cmd::RunFails]);
}

// ------------------------------------------------------------------ never twice

/// A fault on the response POST, and whether GitLab acted on the request.
fn post_faults() -> Vec<(&'static str, FaultKind, bool)> {
    let acted = |inner| FaultKind::AfterActing(Box::new(inner));
    vec![
        ("stored, then reset mid-body", FaultKind::ResetMidBody, true),
        ("stored, then reset", acted(FaultKind::Reset), true),
        ("stored, then 500", acted(FaultKind::HtmlError(500)), true),
        ("stored, then 502", acted(FaultKind::HtmlError(502)), true),
        ("stored, then 504", acted(FaultKind::HtmlError(504)), true),
        (
            "stored, then answered too late",
            acted(FaultKind::Delay(3_000)),
            true,
        ),
        (
            "stored, then a slow-drip body",
            FaultKind::SlowDrip { interval_ms: 100 },
            true,
        ),
        (
            "stored, then invalid JSON",
            acted(FaultKind::InvalidJson),
            true,
        ),
        ("stored, then an empty body", acted(FaultKind::Empty), true),
        (
            "stored, then the wrong shape",
            acted(FaultKind::WrongShape),
            true,
        ),
        ("not stored: reset", FaultKind::Reset, false),
        ("not stored: 500", FaultKind::HtmlError(500), false),
        ("not stored: 502", FaultKind::HtmlError(502), false),
        ("not stored: 504", FaultKind::HtmlError(504), false),
        ("not stored: invalid JSON", FaultKind::InvalidJson, false),
        ("not stored: empty body", FaultKind::Empty, false),
        (
            "not stored: 429",
            FaultKind::TooManyRequests { retry_after: None },
            false,
        ),
        ("not stored: 503", FaultKind::HtmlError(503), false),
    ]
}

/// `report` never stores a response twice for one call: when a POST's
/// outcome is unknown it re-reads the MR's list and posts again only when
/// the status is not there; a POST GitLab certainly did not act on (429,
/// 503) is simply retried.
#[test]
fn report_never_posts_twice_when_the_outcome_is_unknown() {
    let mut jobs = Vec::new();
    for (name, kind, acted) in post_faults() {
        for by_id in [false, true] {
            jobs.push((name, kind.clone(), acted, by_id));
        }
    }
    in_parallel(&jobs, 4, |(name, kind, acted, by_id)| {
        let mut id = 0;
        let mut test = Test::new()
            .world(|w| id = w.add_check(42, "scan", "https://scan.example.com"))
            .args(&GLOBAL)
            .fault(Fault::new(kind.clone()).on("POST", "/status_check_responses"));
        test = if *by_id {
            test.args(&["report", "passed", "--check-id", &id.to_string()])
        } else {
            test.args(&["report", "passed", "--name", "scan"])
        };
        let run = test.run();
        let stored = run.server.world(|w| {
            w.mr(42, 7)
                .unwrap()
                .responses
                .iter()
                .filter(|r| r.sha == SHA_A && r.check_id == id)
                .count()
        });
        let posts = run.requests_to("POST", "/status_check_responses").len();
        let expected_posts = if *acted { 1 } else { 2 };
        let ok = run.code == 0
            && stored == 1
            && posts == expected_posts
            && run.status_of("scan") == "passed"
            && !run.stderr.contains("panicked");
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{name} (by id: {by_id}): exit {}, {stored} stored, {posts} POSTs (expected 0, 1, {expected_posts})\n{}",
                run.code, run.stderr
            ))
        }
    });
}

/// `run`'s final report goes through the same path: a passed result stored
/// behind a proxy's 502 is not posted again.
#[test]
fn run_does_not_post_its_result_twice() {
    let mut id = 0;
    let run = Test::new()
        .world(|w| id = w.add_check(42, "scan", "https://scan.example.com"))
        .args(&GLOBAL)
        .args(&["run", "--no-pending", "--check-id"])
        .args(&[&id.to_string(), "--", "true"])
        .fault(
            Fault::new(FaultKind::AfterActing(Box::new(FaultKind::HtmlError(502))))
                .on("POST", "/status_check_responses"),
        )
        .run();
    run.code(0).stderr_has("not posting again");
    assert_eq!(run.requests_to("POST", "/status_check_responses").len(), 1);
    assert_eq!(run.status_of("scan"), "passed");
}
