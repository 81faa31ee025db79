//! The real binary's gate on random timelines against the fake GitLab: the wiring
//! between the core (proven on simulated timelines in `src/commands/wait/core/sim.rs`)
//! and the client, checked with the same promises, read from the fake's request log.

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::*;

const CHECKS: [&str; 2] = ["a", "b"];
const MAX_INTERVAL_MS: u64 = 300;
/// What a loaded machine (two cores, a whole test suite beside it) may add to a
/// sleep and a request: the gaps between requests catch gross wiring faults (a
/// wait slept twice, a retry storm); the exact bound is checked on the sleeps the
/// gate planned (`--verbose`), which no load changes.
const SLACK_MS: u64 = 1500;
/// The planned sleeps are logged to a tenth of a second.
const LOG_ROUNDING_MS: u64 = 50;

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
    )
        .prop_map(
            |(poll_interval_ms, interval_ms, retry_failed, fail_fast)| Options {
                poll_interval_ms,
                interval_ms,
                retry_failed,
                fail_fast,
            },
        )
}

fn fault() -> impl Strategy<Value = FaultKind> {
    prop_oneof![
        // A slow answer, within the request's timeout.
        Just(FaultKind::Delay(250)),
        // GitLab's own 429 says the budget is spent until its reset (1 s here).
        Just(FaultKind::TooManyRequests { retry_after: None }),
        // A proxy's 429: no Retry-After, no RateLimit-*.
        Just(FaultKind::Status {
            code: 429,
            body: "Too Many Requests".into(),
            content_type: "text/plain".into(),
        }),
        Just(FaultKind::TooManyRequests {
            retry_after: Some("1".into())
        }),
        Just(FaultKind::HtmlError(502)),
        Just(FaultKind::Reset),
        Just(FaultKind::InvalidJson),
    ]
}

/// The checks' statuses once the first `polls` list reads arrived (events fire before
/// the read that reaches their count is answered), and whether a push happened.
fn state_after(timeline: &[(usize, Step)], polls: usize) -> ([&'static str; 2], bool) {
    let mut status = ["pending"; 2];
    let mut pushed = false;
    for (at, step) in timeline.iter().filter(|(at, _)| *at <= polls) {
        let _ = at;
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

fn check_timeline(
    options: Options,
    timeline: Vec<(usize, Step)>,
    pass_at: Option<usize>,
    faults: Vec<FaultKind>,
) -> Result<(), TestCaseError> {
    let mut timeline = timeline;
    if let Some(at) = pass_at {
        for c in 0..2 {
            timeline.push((at, Step::Status(c, "passed")));
        }
    }
    timeline.sort_by_key(|(at, _)| *at);
    let poll_interval_ms = options.poll_interval_ms as i64;
    let interval = format!("{}ms", options.interval_ms);
    let retry_failed = options.retry_failed.to_string();
    let mut args = vec![
        "wait",
        "--interval",
        &interval,
        "--max-interval",
        "300ms",
        "--timeout",
        "4s",
        "--retry-failed",
        &retry_failed,
        "--verbose",
    ];
    if !options.fail_fast {
        args.push("--no-fail-fast");
    }
    let mut test = Test::new()
        .checks(&CHECKS)
        .world(|w| w.poll_interval_ms = poll_interval_ms)
        .args(&args);
    for (at, step) in &timeline {
        test = test.event(match step {
            Step::Status(c, s) => Event::status_at_poll(*at, CHECKS[*c], s),
            Step::Push => Event::push_at_poll(*at, SHA_B),
        });
    }
    for kind in &faults {
        test = test.fault(Fault::new(kind.clone()).on("GET", "/status_checks"));
    }
    let run = test.run();
    let code = run.code;
    let requests = run.requests();
    let lists: Vec<&LoggedRequest> = requests
        .iter()
        .filter(|r| r.path.ends_with("/status_checks"))
        .collect();
    let last_good = lists.iter().rposition(|r| r.status == 200);
    let seen = last_good.map(|i| state_after(&timeline, i + 1));
    match code {
        0 => {
            let (status, pushed) = seen.expect("a pass needs a good read");
            prop_assert!(
                status.iter().all(|s| *s == "passed"),
                "exit 0 on {status:?}\n{}",
                run.stderr
            );
            prop_assert!(!pushed, "exit 0 after a push\n{}", run.stderr);
            // After the last list read that was answered (a request the client gave up
            // on may reach the fake's log late, on a loaded machine).
            let head_after = requests
                .iter()
                .rev()
                .take_while(|r| !(r.path.ends_with("/status_checks") && r.status == 200))
                .any(|r| r.path.ends_with("/merge_requests/7") && r.status == 200);
            prop_assert!(
                head_after,
                "exit 0 without a head read after the last list\n{}\n{requests:#?}",
                run.stderr
            );
        }
        1 => {
            let (status, _) = seen.expect("a failure needs a good read");
            prop_assert!(
                status.contains(&"failed"),
                "exit 1 on {status:?}\n{}",
                run.stderr
            );
        }
        3 => {
            let last = requests.last().map_or(0, |r| r.at_ms);
            prop_assert!(last <= 5000, "requests after the deadline: {last} ms");
        }
        4 => prop_assert!(timeline.iter().any(|(_, s)| matches!(s, Step::Push))),
        // A fault: an error status, or a body that is not JSON (served with a 200).
        5 => prop_assert!(
            lists.iter().any(|r| r.status != 200)
                || faults.iter().any(|f| matches!(f, FaultKind::InvalidJson)),
            "exit 5 without a fault\n{}",
            run.stderr
        ),
        other => prop_assert!(false, "exit {other}\n{}", run.stderr),
    }
    // Politeness: once a list answer told the gate GitLab's Poll-Interval, two list
    // reads are never closer than the pace (one MR, one page: each list read starts a
    // poll), whatever --interval says; and no check is retried more often than
    // --retry-failed. (Before the first good answer the gate knows only --interval.)
    // The faults answer the first list reads, in order.
    let told = lists.iter().enumerate().position(|(i, r)| {
        r.status == 200 && !matches!(faults.get(i), Some(FaultKind::InvalidJson))
    });
    for pair in lists[told.unwrap_or(lists.len())..].windows(2) {
        let gap = pair[1].at_ms.saturating_sub(pair[0].at_ms);
        prop_assert!(
            gap + 5 >= options.pace_ms(),
            "list reads {gap} ms apart, pace {} ms: {pair:#?}\n{}",
            options.pace_ms(),
            run.stderr
        );
    }
    let retries = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/retry"));
    let mut per_check = std::collections::HashMap::new();
    for r in retries {
        *per_check.entry(r.path.clone()).or_insert(0usize) += 1;
    }
    prop_assert!(
        per_check.values().all(|n| *n <= options.retry_failed),
        "retries {per_check:?} with --retry-failed {}\n{}",
        options.retry_failed,
        run.stderr
    );
    // Bounds, as the gate planned them: no sleep longer than --max-interval unless a
    // 429 asked for longer (Retry-After 1 s, or the fake's spent budget until its
    // reset, 1 s here), plus a tenth.
    let throttled = faults
        .iter()
        .any(|f| matches!(f, FaultKind::TooManyRequests { .. }));
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
            "planned a sleep of {planned} s\n{}",
            run.stderr
        );
    }
    // And as they happened: the same bounds, with a loaded machine's slack. The
    // faults answer the first list reads, in order.
    let mut list_index = 0;
    for pair in requests.windows(2) {
        let asked = if pair[0].path.ends_with("/status_checks") {
            list_index += 1;
            matches!(
                faults.get(list_index - 1),
                Some(FaultKind::TooManyRequests { .. })
            )
        } else {
            false
        };
        let gap = pair[1].at_ms.saturating_sub(pair[0].at_ms);
        let allowed = if asked { 1100 } else { MAX_INTERVAL_MS } + SLACK_MS;
        prop_assert!(
            gap <= allowed,
            "gap {gap} ms after {} {}\n{}",
            pair[0].status,
            pair[0].path,
            run.stderr
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 16, failure_persistence: None, ..Config::default() })]

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
    fn the_binary_keeps_the_gates_promises_through_faults(
        options in options(),
        timeline in proptest::collection::vec(step(), 0..3),
        pass_at in proptest::option::weighted(0.9, 1..6usize),
        faults in proptest::collection::vec(fault(), 1..5),
    ) {
        check_timeline(options, timeline, pass_at, faults)?;
    }
}
