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

fn fault() -> impl Strategy<Value = FaultKind> {
    prop_oneof![
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
    let mut test = Test::new()
        .checks(&CHECKS)
        .world(|w| w.poll_interval_ms = 100)
        .args(&[
            "wait",
            "--interval",
            "100ms",
            "--max-interval",
            "300ms",
            "--timeout",
            "4s",
            "--verbose",
        ]);
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
    #![proptest_config(Config { cases: 12, failure_persistence: None, ..Config::default() })]

    #[test]
    fn the_binary_keeps_the_gates_promises_on_random_timelines(
        timeline in proptest::collection::vec(step(), 0..5),
        pass_at in proptest::option::weighted(0.8, 1..10usize),
        faults in proptest::collection::vec(fault(), 0..3),
    ) {
        check_timeline(timeline, pass_at, faults)?;
    }

    #[test]
    fn the_binary_keeps_the_gates_promises_through_faults(
        timeline in proptest::collection::vec(step(), 0..3),
        pass_at in proptest::option::weighted(0.9, 1..6usize),
        faults in proptest::collection::vec(fault(), 1..5),
    ) {
        check_timeline(timeline, pass_at, faults)?;
    }
}
