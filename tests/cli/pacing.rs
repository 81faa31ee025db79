//! The gate at scale: it paces itself by GitLab's rate limit budget (`RateLimit-*`
//! headers), backs off after a 429 and comes back after the reset, and ignores headers
//! that make no sense. Timing is asserted only as "no sooner than" here; how fast the
//! gate is lives in the benchmark (`bench/load`).

use crate::support::*;

fn list_gets(run: &Run) -> Vec<LoggedRequest> {
    run.requests_to("GET", "/status_checks")
}

fn throttled(run: &Run) -> usize {
    run.requests().iter().filter(|r| r.status == 429).count()
}

/// A gate on one check of MR !7 that passes at the `polls`-th poll, polling every
/// `every_ms` unless the token budget (`limit`) asks for longer.
fn gate(every_ms: u64, limit: Option<TokenRateLimit>, polls: usize) -> Test {
    let every = format!("{every_ms}ms");
    Test::new()
        .checks(&["a"])
        .world(move |w| w.token_rate_limit = limit)
        .event(Event::status_at_poll(polls, "a", "passed"))
        .args(&[
            "wait",
            "--timeout",
            "60s",
            "--interval",
            &every,
            "--max-interval",
            &every,
        ])
}

#[test]
fn with_budget_to_spare_the_gate_polls_at_its_pace() {
    let limit = TokenRateLimit {
        headers: RateLimitHeaders::Always,
        ..TokenRateLimit::per_minute(2000)
    };
    let run = gate(200, Some(limit), 5).run();
    run.code(0);
    let gets = list_gets(&run);
    assert_eq!(gets.len(), 5);
    for pair in gets.windows(2) {
        assert!(pair[1].at_ms - pair[0].at_ms >= 200, "{}", run.stderr);
    }
    assert_eq!(throttled(&run), 0);
}

#[test]
fn a_spent_budget_is_waited_for_to_its_reset_without_a_429() {
    // Six requests every three seconds and --max-interval 100ms: the gate polls at
    // its pace while the budget lasts (the budget may stretch a wait only up to
    // --max-interval), and when nothing is left it waits for the reset, as the
    // headers ask, rather than be throttled.
    let limit = TokenRateLimit {
        per_window: 6,
        window_secs: 3,
        headers: RateLimitHeaders::Always,
    };
    let run = gate(100, Some(limit), 10).run();
    run.code(0).stdout_has("all 1 checks passed");
    assert_eq!(throttled(&run), 0, "{}", run.stderr);
    let gets = list_gets(&run);
    assert_eq!(gets.len(), 10);
    let longest = gets
        .windows(2)
        .map(|w| w[1].at_ms - w[0].at_ms)
        .max()
        .unwrap_or(0);
    assert!(
        longest >= 1000,
        "a wait for the reset: longest gap {longest} ms"
    );
}

#[test]
fn a_throttled_gate_comes_back_after_the_reset() {
    // Headers on 429s only (GitLab's default): the 429 is the signal.
    let limit = TokenRateLimit {
        per_window: 3,
        window_secs: 2,
        headers: RateLimitHeaders::On429,
    };
    let run = gate(100, Some(limit), 8).run();
    run.code(0).stdout_has("all 1 checks passed");
    let requests = run.requests();
    let first_429 = requests
        .iter()
        .position(|r| r.status == 429)
        .expect("a 429 at the fourth request");
    // No poll before the window's end (Retry-After).
    let next = &requests[first_429 + 1];
    let retry_after: u64 = 1;
    assert!(next.at_ms >= requests[first_429].at_ms + retry_after * 1000 / 2);
    assert!(
        throttled(&run) <= 3,
        "backs off instead of hammering: {} 429s\n{}",
        throttled(&run),
        run.stderr
    );
    // (Counted as "answered 429": a section marker's Unix time may hold "429" too.)
    assert_eq!(
        run.stderr.matches("answered 429").count(),
        1,
        "logged once: {}",
        run.stderr
    );
}

#[test]
fn rate_limit_headers_that_make_no_sense_are_ignored() {
    let cases: [&[(&str, &str)]; 6] = [
        &[
            ("RateLimit-Limit", "-5"),
            ("RateLimit-Remaining", "-1"),
            ("RateLimit-Reset", "-9"),
        ],
        &[
            ("RateLimit-Limit", "lots"),
            ("RateLimit-Remaining", "x"),
            ("RateLimit-Reset", "soon"),
        ],
        &[
            ("RateLimit-Limit", "99999999999999999999999"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "99999999999999999999999"),
        ],
        // A reset in the past, and one a year ahead.
        &[
            ("RateLimit-Limit", "600"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "1"),
        ],
        &[
            ("RateLimit-Limit", "600"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "4102444800"),
        ],
        // More left than the limit.
        &[
            ("RateLimit-Limit", "10"),
            ("RateLimit-Remaining", "11"),
            ("RateLimit-Reset", "4102444800"),
        ],
    ];
    for headers in cases {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let run = gate(100, None, 4)
            .fault(
                Fault::new(FaultKind::ExtraHeaders(headers.clone()))
                    .on("GET", "/status_checks")
                    .times(100),
            )
            .run();
        run.code(0).stderr_lacks("panicked");
        let gets = list_gets(&run);
        assert_eq!(gets.len(), 4, "{headers:?}");
        let slowest = gets.windows(2).map(|p| p[1].at_ms - p[0].at_ms).max();
        // Ignored: the gate's pace (100 ms) holds, not a year-long reset.
        assert!(
            slowest.is_some_and(|ms| ms < 5_000),
            "{headers:?}: {slowest:?}"
        );
    }
}
