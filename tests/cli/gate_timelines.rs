//! The real binary's gate on random timelines against the fake GitLab: the wiring between
//! the core (proven on simulated timelines in `src/commands/wait/gate/sim/`) and the
//! client, checked with the same promises, read from the fake's request log. Faults land
//! on every endpoint the gate uses (the list, the MR, the retry, the commit's look-up),
//! before and after GitLab acted; each exit code is checked exactly.

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::*;

const CHECKS: [&str; 2] = ["a", "b"];
const MAX_INTERVAL_MS: u64 = 300;
const TIMEOUT_MS: u64 = 4000;
/// What a loaded machine (two cores, a whole test suite beside it) may add to a sleep
/// and a request: the gaps between requests catch gross wiring faults (a wait slept
/// twice, a retry storm); the exact bound is checked on the sleeps the gate planned
/// (`--verbose`), which no load changes.
const SLACK_MS: u64 = 1500;
/// The planned sleeps are logged to a tenth of a second.
const LOG_ROUNDING_MS: u64 = 50;
const LIST: &str = "/api/v4/projects/42/merge_requests/7/status_checks";
const HEAD: &str = "/api/v4/projects/42/merge_requests/7";
const LOOK_UP: &str = "/api/v4/projects/42/repository/commits/a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1/merge_requests";

#[derive(Clone, Debug)]
enum Step {
    Status(usize, &'static str),
    Push,
}

fn step() -> impl Strategy<Value = (usize, Step)> {
    let status = (
        0..2usize,
        prop_oneof![Just("passed"), Just("failed"), Just("pending")],
    )
        .prop_map(|(c, s)| Step::Status(c, s));
    (1..8usize, prop_oneof![8 => status, 1 => Just(Step::Push)])
}

/// The gate's options and GitLab's pace, at random: the pace is the longer of the
/// `Poll-Interval` and `--interval`.
#[derive(Clone, Debug)]
struct Options {
    poll_interval_ms: u64,
    interval_ms: u64,
    retry_failed: usize,
    fail_fast: bool,
    /// A branch pipeline: the commit's MRs are looked up.
    look_up: bool,
}

impl Options {
    fn pace_ms(&self) -> u64 {
        self.poll_interval_ms.max(self.interval_ms)
    }
}

fn options() -> impl Strategy<Value = Options> {
    (
        prop_oneof![Just(100u64), Just(200)],
        prop_oneof![Just(50u64), Just(150)],
        0..=1usize,
        any::<bool>(),
        proptest::bool::weighted(0.25),
    )
        .prop_map(
            |(poll_interval_ms, interval_ms, retry_failed, fail_fast, look_up)| Options {
                poll_interval_ms,
                interval_ms,
                retry_failed,
                fail_fast,
                look_up,
            },
        )
}

/// Where a fault lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum On {
    List,
    Head,
    Retry,
    LookUp,
}

impl On {
    fn fault(self, kind: FaultKind) -> Fault {
        match self {
            On::List => Fault::new(kind).at("GET", LIST),
            On::Head => Fault::new(kind).at("GET", HEAD),
            On::Retry => Fault::new(kind).on("POST", "/retry"),
            On::LookUp => Fault::new(kind).at("GET", LOOK_UP),
        }
    }
}

fn json(code: u16, body: &str) -> FaultKind {
    FaultKind::Status {
        code,
        body: body.into(),
        content_type: "application/json".into(),
    }
}

fn fault() -> impl Strategy<Value = (On, FaultKind)> {
    let on = prop_oneof![4 => Just(On::List), 2 => Just(On::Head), 2 => Just(On::Retry), 1 => Just(On::LookUp)];
    let kind = prop_oneof![
        // Before GitLab acts.
        Just(FaultKind::Delay(250)),
        Just(FaultKind::TooManyRequests { retry_after: None }),
        Just(FaultKind::Status {
            code: 429,
            body: "Too Many Requests".into(),
            content_type: "text/plain".into(),
        }),
        Just(FaultKind::TooManyRequests {
            retry_after: Some("1".into())
        }),
        Just(FaultKind::HtmlError(502)),
        Just(json(503, r#"{"message":"503 Service Unavailable"}"#)),
        Just(FaultKind::Reset),
        // After GitLab acted: its answer lost.
        Just(FaultKind::AfterActing(Box::new(FaultKind::HtmlError(502)))),
        Just(FaultKind::AfterActing(Box::new(FaultKind::Reset))),
        Just(FaultKind::AfterActing(Box::new(FaultKind::InvalidJson))),
        // A bad body; an odd one (a head not said, a list read empty).
        Just(FaultKind::InvalidJson),
        Just(json(200, r#"{"iid":7,"state":"opened","sha":null}"#)),
        Just(json(200, "[]")),
    ];
    (on, kind)
}

/// An answer GitLab gave as it is: a 200 no fault changed (a slow one is as good).
fn good(r: &LoggedRequest) -> bool {
    r.status == 200 && r.fault.as_deref().is_none_or(|f| f.starts_with("Delay"))
}

/// A body the gate cannot read as the endpoint's: cut-off JSON, or a 200 of the wrong
/// shape (an array where the MR is expected, an object where a list is).
fn bad_body(r: &LoggedRequest) -> bool {
    let Some(f) = r.fault.as_deref() else {
        return false;
    };
    let array = f.contains(r#"body: "[""#);
    let object = f.contains(r#"body: "{""#);
    f.contains("InvalidJson")
        || (f.contains("code: 200") && r.path == HEAD && array)
        || (f.contains("code: 200") && r.path != HEAD && object)
}

/// The checks' statuses once the first `polls` list reads arrived (events fire before
/// the read that reaches their count is answered), and whether a push happened.
fn state_after(timeline: &[(usize, Step)], polls: usize) -> ([&'static str; 2], bool) {
    let mut status = ["pending"; 2];
    let mut pushed = false;
    for (_, step) in timeline.iter().filter(|(at, _)| *at <= polls) {
        match step {
            Step::Status(c, s) => status[*c] = s,
            Step::Push => {
                pushed = true;
                status = ["pending"; 2];
            }
        }
    }
    (status, pushed)
}

struct Case {
    options: Options,
    timeline: Vec<(usize, Step)>,
    faults: Vec<(On, FaultKind)>,
}

fn run_case(case: &Case) -> Run {
    let interval = format!("{}ms", case.options.interval_ms);
    let retry_failed = case.options.retry_failed.to_string();
    let timeout = format!("{TIMEOUT_MS}ms");
    let mut args = vec![
        "wait",
        "--interval",
        &interval,
        "--max-interval",
        "300ms",
        "--timeout",
        &timeout,
        "--retry-failed",
        &retry_failed,
        "--verbose",
    ];
    if !case.options.fail_fast {
        args.push("--no-fail-fast");
    }
    let poll_interval_ms = case.options.poll_interval_ms as i64;
    let mut test = Test::new()
        .checks(&CHECKS)
        .world(|w| w.poll_interval_ms = poll_interval_ms)
        .args(&args);
    if case.options.look_up {
        test = test.branch_pipeline();
    }
    for (at, step) in &case.timeline {
        test = test.event(match step {
            Step::Status(c, s) => Event::status_at_poll(*at, CHECKS[*c], s),
            Step::Push => Event::push_at_poll(*at, SHA_B),
        });
    }
    for (on, kind) in &case.faults {
        test = test.fault(on.fault(kind.clone()));
    }
    test.run()
}

fn check_timeline(
    options: Options,
    timeline: Vec<(usize, Step)>,
    pass_at: Option<usize>,
    faults: Vec<(On, FaultKind)>,
) -> Result<(), TestCaseError> {
    let mut timeline = timeline;
    if let Some(at) = pass_at {
        for c in 0..2 {
            timeline.push((at, Step::Status(c, "passed")));
        }
    }
    timeline.sort_by_key(|(at, _)| *at);
    let case = Case {
        options,
        timeline,
        faults,
    };
    let run = run_case(&case);
    let requests = run.requests();
    let lists: Vec<&LoggedRequest> = requests.iter().filter(|r| r.path == LIST).collect();
    let good = |r: &LoggedRequest| good(r);
    let last_good = lists.iter().rposition(|r| good(r));
    let seen = last_good.map(|i| state_after(&case.timeline, i + 1));
    let log = format!("{}\n{requests:#?}", run.stderr);
    match run.code {
        0 => {
            let (status, pushed) = seen.expect("a pass needs a good read");
            prop_assert!(
                status.iter().all(|s| *s == "passed"),
                "exit 0 on {status:?}\n{log}"
            );
            prop_assert!(!pushed, "exit 0 after a push\n{log}");
            // A head read after the last list read that was answered, saying the SHA (a
            // request the client gave up on may reach the fake's log late).
            let head_after = requests
                .iter()
                .rev()
                .take_while(|r| !(r.path == LIST && good(r)))
                .any(|r| r.path == HEAD && good(r));
            prop_assert!(
                head_after,
                "exit 0 without a head read that showed the SHA\n{log}"
            );
        }
        1 if run.stderr.contains("nothing to gate on") => check_empty(&requests, &log)?,
        1 => check_failure(&case, &run, seen, &log)?,
        3 => prop_assert!(
            run.elapsed.as_millis() as u64 >= TIMEOUT_MS,
            "exit 3 after {:?}, before --timeout\n{log}",
            run.elapsed
        ),
        4 => prop_assert!(
            case.timeline.iter().any(|(_, s)| matches!(s, Step::Push)),
            "exit 4 without a push\n{log}"
        ),
        5 => check_error(&requests, &log)?,
        other => prop_assert!(false, "exit {other}\n{log}"),
    }
    check_politeness(&case, &run, &lists, &log)?;
    check_bounds(&case, &run, &requests, &log)
}

/// Exit 1: each check the error names read `failed` on the last list read the gate took,
/// after exactly the retries asked for (each a POST GitLab may have acted on: not answered
/// 429 or 503, not refused before it was sent).
fn check_failure(
    case: &Case,
    run: &Run,
    seen: Option<([&'static str; 2], bool)>,
    log: &str,
) -> Result<(), TestCaseError> {
    let (status, _) = seen.expect("a failure needs a good read");
    let line = format!("{}\n{}", run.stdout, run.stderr);
    let line = line
        .lines()
        .find(|l| l.contains("status checks failed on !7: "))
        .unwrap_or_default();
    let named: Vec<&str> = line
        .rsplit(": ")
        .next()
        .unwrap_or_default()
        .split(", ")
        .collect();
    prop_assert!(
        !named.is_empty() && !line.is_empty(),
        "exit 1 naming no check\n{log}"
    );
    for name in named {
        let c = CHECKS.iter().position(|n| *n == name);
        prop_assert!(
            c.is_some_and(|c| status[c] == "failed"),
            "exit 1 for {name} on {status:?}\n{log}"
        );
        let id = run.server.world(|w| {
            let project = w.project(42).expect("project 42");
            project.checks.iter().find(|k| k.name == name).map(|k| k.id)
        });
        let retry = format!("/status_checks/{}/retry", id.unwrap_or_default());
        let retries = asked(&run.requests(), &retry);
        prop_assert!(
            retries == case.options.retry_failed,
            "{name} failed after {retries} retries, --retry-failed {}\n{log}",
            case.options.retry_failed
        );
    }
    Ok(())
}

/// Exit 1 with nothing to gate on: the project always has its checks, so only two lies
/// in a row (a list, or the commit's look-up, read `[]` twice with no true answer
/// between) may end the wait empty: the gate fails safe, never passes.
fn check_empty(requests: &[LoggedRequest], log: &str) -> Result<(), TestCaseError> {
    let lied_twice = |path: &str| {
        let answered: Vec<&LoggedRequest> = requests
            .iter()
            .filter(|r| r.path == path && r.status == 200)
            .collect();
        answered.len() >= 2
            && answered[answered.len() - 2..].iter().all(|r| {
                r.fault
                    .as_deref()
                    .is_some_and(|f| f.contains(r#"body: "[]""#))
            })
    };
    prop_assert!(
        lied_twice(LIST) || lied_twice(LOOK_UP),
        "exit 1, nothing to gate on, without two empty reads in a row\n{log}"
    );
    Ok(())
}

/// The retries (POSTs to `path`) GitLab acted on or may have: all but those answered
/// 429 or 503, or reset before they reached it.
fn asked(requests: &[LoggedRequest], path: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(path))
        .filter(|r| !matches!(r.status, 429 | 503) && r.fault.as_deref() != Some("Reset"))
        .count()
}

/// Exit 5: the last answer was fatal, or the last three bad bodies came with no good
/// answer between.
fn check_error(requests: &[LoggedRequest], log: &str) -> Result<(), TestCaseError> {
    let fatal = requests
        .last()
        .is_some_and(|r| matches!(r.status, 401 | 403 | 404));
    let bad_run = requests
        .iter()
        .rev()
        .take_while(|r| !good(r))
        .filter(|r| bad_body(r))
        .count();
    prop_assert!(
        fatal || bad_run >= 3,
        "exit 5 with {bad_run} bad bodies in a row\n{log}"
    );
    Ok(())
}

/// Once a list answer told the gate GitLab's Poll-Interval, two polls are never closer
/// than the pace (one MR, one page: each list read begins a poll, but for the first
/// poll's second read when it listed nothing), whatever --interval says; and no check is
/// retried more often than --retry-failed.
fn check_politeness(
    case: &Case,
    run: &Run,
    lists: &[&LoggedRequest],
    log: &str,
) -> Result<(), TestCaseError> {
    let told = lists
        .iter()
        .position(|r| r.status == 200 && r.fault.is_none());
    let reads = &lists[told.map_or(lists.len(), |t| t + 1)..];
    for pair in reads.windows(2) {
        let gap = pair[1].at_ms.saturating_sub(pair[0].at_ms);
        prop_assert!(
            gap + 5 >= case.options.pace_ms(),
            "list reads {gap} ms apart, pace {} ms: {pair:#?}\n{log}",
            case.options.pace_ms()
        );
    }
    let requests = run.requests();
    let per_check: std::collections::HashMap<&str, usize> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/retry"))
        .map(|r| (r.path.as_str(), asked(&requests, &r.path)))
        .collect();
    prop_assert!(
        per_check.values().all(|n| *n <= case.options.retry_failed),
        "retries {per_check:?} with --retry-failed {}\n{log}",
        case.options.retry_failed
    );
    Ok(())
}

/// Bounds, as the gate planned them: no sleep longer than --max-interval unless a 429
/// asked for longer (Retry-After 1 s, or the fake's spent budget until its reset, 1 s
/// here), plus a tenth; and as they happened, with a loaded machine's slack.
fn check_bounds(
    case: &Case,
    run: &Run,
    requests: &[LoggedRequest],
    log: &str,
) -> Result<(), TestCaseError> {
    let throttled = case
        .faults
        .iter()
        .any(|(_, f)| matches!(f, FaultKind::TooManyRequests { .. }));
    let longest_planned = if throttled { 1100 } else { MAX_INTERVAL_MS } + LOG_ROUNDING_MS;
    for line in run.stderr.lines() {
        let Some(secs) = line
            .split("next poll in ")
            .nth(1)
            .and_then(|rest| rest.strip_suffix('s'))
        else {
            continue;
        };
        let planned: f64 = secs.parse().expect("next poll in N.Ns");
        prop_assert!(
            planned * 1000.0 <= longest_planned as f64,
            "planned a sleep of {planned} s\n{log}"
        );
    }
    for pair in requests.windows(2) {
        let asked = pair[0]
            .fault
            .as_deref()
            .is_some_and(|f| f.contains("TooManyRequests"));
        let gap = pair[1].at_ms.saturating_sub(pair[0].at_ms);
        let allowed = if asked { 1100 } else { MAX_INTERVAL_MS } + SLACK_MS;
        prop_assert!(
            gap <= allowed,
            "gap {gap} ms after {} {}\n{log}",
            pair[0].status,
            pair[0].path
        );
    }
    Ok(())
}

/// 16 timelines a test, or `GATE_TIMELINES_CASES`.
fn cases() -> u32 {
    std::env::var("GATE_TIMELINES_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

proptest! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, ..Config::default() })]

    #[test]
    fn the_binary_keeps_the_gates_promises_on_random_timelines(
        options in options(),
        timeline in proptest::collection::vec(step(), 0..5),
        pass_at in proptest::option::weighted(0.8, 1..10usize),
        faults in proptest::collection::vec(fault(), 0..3),
    ) {
        check_timeline(options, timeline, pass_at, faults)?;
    }

    #[test]
    fn the_binary_keeps_the_gates_promises_through_faults_on_every_endpoint(
        options in options(),
        timeline in proptest::collection::vec(step(), 0..3),
        pass_at in proptest::option::weighted(0.9, 1..6usize),
        faults in proptest::collection::vec(fault(), 1..6),
    ) {
        check_timeline(options, timeline, pass_at, faults)?;
    }
}
