//! The gate's edges that random timelines rarely reach: verdict words, a server that
//! announces pages it never ends, an MR closed under the gate, bad bodies in a row, a
//! head GitLab does not say, a retry whose answer was lost, the look-up's patience.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::config::Selection;
use crate::gitlab::Reply;
use crate::gitlab::client::MAX_PAGES;
use crate::gitlab::error::{ApiErrorKind, Transport};
use crate::gitlab::response::Headers;

pub(super) const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const OTHER: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn rules() -> Rules {
    Rules {
        timeout: Duration::from_secs(3600),
        interval: Duration::from_secs(1),
        max_interval: Duration::from_secs(2),
        checks: Selection {
            fail_fast: true,
            retry_resets_pending: true,
            ..Selection::default()
        },
    }
}

fn reply(status: u16, body: String, headers: Headers) -> Answer {
    Ok(Reply {
        method: "GET",
        path: "/projects/42/merge_requests/7/status_checks".into(),
        status,
        headers,
        body,
    })
}

/// A page of an MR's list: (id, status) of checks named `check-<id>`.
fn page(checks: &[(u64, &str)], next_page: Option<u32>) -> Answer {
    let items: Vec<_> = checks
        .iter()
        .map(|(id, status)| json!({"id": id, "name": format!("check-{id}"), "status": status}))
        .collect();
    let headers = Headers {
        next_page,
        ..Headers::default()
    };
    reply(200, json!(items).to_string(), headers)
}

fn head(sha: Option<&str>, state: &str) -> Answer {
    let body = json!({"iid": 7, "state": state, "sha": sha}).to_string();
    reply(200, body, Headers::default())
}

fn status(code: u16) -> Answer {
    reply(
        code,
        json!({"message": "no"}).to_string(),
        Headers::default(),
    )
}

fn lost(kind: Transport) -> Answer {
    Err(ApiError {
        method: "POST",
        path: "/x".into(),
        kind: ApiErrorKind::Transport {
            kind,
            detail: "lost".into(),
        },
    })
}

fn gate_with(rules: Rules, mrs: Mrs) -> (Gate, Duration) {
    let mut gate = Gate::new(rules, Sha::parse(SHA).unwrap(), mrs, 1);
    let mut now = Duration::ZERO;
    while let Next::Sleep { until } = gate.next(now) {
        now = until;
    }
    (gate, now)
}

/// Runs the gate to its first request after the start's spread.
fn started(mrs: usize) -> (Gate, Duration) {
    gate_with(rules(), Mrs::Known(mrs))
}

#[track_caller]
fn sends(gate: &mut Gate, now: Duration) -> Request {
    match gate.next(now) {
        Next::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[track_caller]
fn sleeps(gate: &mut Gate, now: Duration) -> Duration {
    match gate.next(now) {
        Next::Sleep { until } => until,
        other => panic!("expected a sleep, got {other:?}"),
    }
}

#[track_caller]
fn ends(gate: &mut Gate, now: Duration) -> End {
    match gate.next(now) {
        Next::Done(end) => end,
        other => panic!("expected the end, got {other:?}"),
    }
}

fn verdict(end: End) -> Verdict {
    match end {
        End::Verdict(v) => v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

#[test]
fn verdict_words() {
    assert_eq!(Verdict::Passed.word(false), "passed");
    assert_eq!(Verdict::Empty.word(true), "passed");
    assert_eq!(Verdict::Empty.word(false), "failed");
    assert_eq!(Verdict::Failed.word(true), "failed");
    assert_eq!(Verdict::Timeout.word(false), "timeout");
    assert_eq!(Verdict::Stale.word(false), "stale");
}

#[test]
fn pages_are_followed_forward_only() {
    let (mut gate, now) = started(1);
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 1 });
    gate.handle(now, page(&[(1, "pending")], Some(2)));
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 2 });
    // A server that announces the page it just served (or an earlier one) is done.
    gate.handle(now, page(&[(2, "pending")], Some(2)));
    assert_eq!(
        gate.rounds, 1,
        "the round ends at a page that does not move on"
    );
    assert_eq!(gate.tracker.checks.len(), 2);

    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], Some(MAX_PAGES + 1)));
    assert_eq!(gate.rounds, 1, "no page past MAX_PAGES");
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], Some(MAX_PAGES)));
    let last = Request::ReadList {
        mr: 0,
        page: MAX_PAGES,
    };
    assert_eq!(sends(&mut gate, now), last);
}

#[test]
fn gitlab_s_pace_is_read_from_the_first_open_mr_s_first_page_only() {
    let paced = |checks: &[(u64, &str)], next_page, poll_interval_ms| {
        let headers = Headers {
            next_page,
            poll_interval_ms: Some(poll_interval_ms),
            ..Headers::default()
        };
        let items: Vec<_> = checks
            .iter()
            .map(|(id, status)| json!({"id": id, "name": format!("check-{id}"), "status": status}))
            .collect();
        reply(200, json!(items).to_string(), headers)
    };
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.handle(now, paced(&[(1, "pending")], Some(2), 5000));
    gate.next(now);
    gate.handle(now, paced(&[(2, "pending")], None, 100));
    gate.next(now);
    gate.handle(now, paced(&[(3, "pending")], None, 100));
    let until = sleeps(&mut gate, now);
    assert!(
        until - now >= Duration::from_secs(5),
        "the pace is MR 0's first page's: {:?}",
        until - now
    );
}

#[test]
fn a_check_that_appears_after_the_first_read_is_said_and_counts_as_a_change() {
    let appeared = |gate: &mut Gate| {
        gate.notices()
            .iter()
            .filter(|n| matches!(n, Notice::Appeared { .. }))
            .count()
    };
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], None));
    assert_eq!(
        appeared(&mut gate),
        0,
        "the first read's checks are not news"
    );
    let until = sleeps(&mut gate, now);
    gate.next(until);
    gate.handle(until, page(&[(1, "pending"), (2, "pending")], None));
    assert_eq!(appeared(&mut gate), 1);
}

#[test]
fn the_second_mr_is_read_after_the_first_and_the_round_counts_once() {
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], None));
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 1, page: 1 });
    gate.handle(now, page(&[(2, "pending")], None));
    assert_eq!(gate.rounds, 1);
    let until = sleeps(&mut gate, now);
    gate.next(until);
    gate.handle(until, page(&[(1, "pending")], None));
    gate.handle(until, page(&[(2, "pending")], None));
    assert_eq!(gate.rounds, 2);
}

#[test]
fn a_push_on_the_second_mr_is_looked_for_at_once() {
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], None));
    gate.handle(now, page(&[(2, "passed")], None));
    let until = sleeps(&mut gate, now);
    // Back to pending on MR 1 only (MR 0 unchanged): the heads are read at once.
    gate.next(until);
    gate.handle(until, page(&[(1, "pending")], None));
    gate.handle(until, page(&[(2, "pending")], None));
    assert_eq!(sends(&mut gate, until), Request::ReadHead { mr: 0 });
}

#[test]
fn an_mr_closed_with_all_the_checks_leaves_nothing_to_wait_for() {
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed")], None));
    gate.handle(now, page(&[(2, "passed")], None));
    // Passed: heads before the verdict; both were closed meanwhile.
    assert_eq!(sends(&mut gate, now), Request::ReadHead { mr: 0 });
    assert!(gate.is_open(0) && gate.is_open(1));
    gate.handle(now, head(Some(SHA), "closed"));
    assert!(!gate.is_open(0) && gate.is_open(1));
    assert_eq!(sends(&mut gate, now), Request::ReadHead { mr: 1 });
    gate.handle(now, head(Some(SHA), "closed"));
    assert!(!gate.is_open(1));
    assert_eq!(verdict(ends(&mut gate, now)), Verdict::Empty);
}

#[test]
fn safety_one_bad_body_is_no_failure_three_in_a_row_end_the_wait() {
    let (mut gate, mut now) = started(1);
    for n in 1..=MAX_BAD_BODIES {
        let read = Request::ReadList { mr: 0, page: 1 };
        assert_eq!(sends(&mut gate, now), read, "bad body {n}");
        gate.handle(now, reply(200, "<html>".into(), Headers::default()));
        match gate.next(now) {
            Next::Sleep { until } => now = until,
            Next::Done(End::Error(e)) if n == MAX_BAD_BODIES => {
                assert!(e.to_string().contains("an HTML page"), "{e}");
                return;
            }
            other => panic!("after {n}: {other:?}"),
        }
    }
    panic!("three bad bodies did not end the wait");
}

#[test]
fn safety_a_list_that_names_a_check_twice_is_a_bad_body() {
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed"), (1, "pending")], None));
    assert_eq!(gate.rounds, 0);
    sleeps(&mut gate, now);
    assert!(
        gate.last_error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("listed twice")
    );
}

#[test]
fn a_merged_mr_s_head_is_not_read_again() {
    let (mut gate, mut now) = started(2);
    let pending = |gate: &mut Gate, now: Duration| {
        gate.handle(now, page(&[(1, "pending")], None));
        gate.handle(now, page(&[(2, "pending")], None));
    };
    gate.next(now);
    pending(&mut gate, now);
    sleeps(&mut gate, now);
    // Five minutes on, the heads are due: MR 0 turns out merged.
    now = HEAD_EVERY + Duration::from_secs(1);
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 1 });
    pending(&mut gate, now);
    assert_eq!(sends(&mut gate, now), Request::ReadHead { mr: 0 });
    gate.handle(now, head(Some(SHA), "merged"));
    assert_eq!(sends(&mut gate, now), Request::ReadHead { mr: 1 });
    gate.handle(now, head(Some(SHA), "opened"));
    sleeps(&mut gate, now);
    // Five minutes later: only MR 1's head can still move.
    now += HEAD_EVERY + Duration::from_secs(1);
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 1 });
    pending(&mut gate, now);
    assert_eq!(sends(&mut gate, now), Request::ReadHead { mr: 1 });
}

#[test]
fn safety_exit_0_needs_a_head_read_that_shows_the_sha() {
    for unsaid in [None, Some(""), Some("not a sha")] {
        let (mut gate, now) = started(1);
        gate.next(now);
        gate.handle(now, page(&[(1, "passed")], None));
        assert_eq!(sends(&mut gate, now), Request::ReadHead { mr: 0 });
        gate.handle(now, head(unsaid, "opened"));
        // No verdict: the next round reads the list and the head again.
        let until = sleeps(&mut gate, now);
        gate.next(until);
        gate.handle(until, page(&[(1, "passed")], None));
        assert_eq!(sends(&mut gate, until), Request::ReadHead { mr: 0 });
        gate.handle(until, head(Some(SHA), "opened"));
        assert_eq!(verdict(ends(&mut gate, until)), Verdict::Passed);
    }
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed")], None));
    gate.next(now);
    gate.handle(now, head(Some(OTHER), "opened"));
    assert_eq!(verdict(ends(&mut gate, now)), Verdict::Stale);
    let moved = Moved::During {
        mr: 0,
        head: OTHER.into(),
    };
    assert_eq!(gate.moved, Some(moved));
}

fn retrying(limit: u32) -> (Gate, Duration) {
    let mut rules = rules();
    rules.checks.retry_limit = limit;
    let (mut gate, now) = gate_with(rules, Mrs::Known(1));
    gate.next(now);
    gate.handle(now, page(&[(1, "failed")], None));
    assert_eq!(sends(&mut gate, now), Request::Retry { mr: 0, check: 1 });
    (gate, now)
}

#[test]
fn politeness_a_retry_whose_answer_was_lost_counts_as_asked() {
    let answers: [fn() -> Answer; 6] = [
        || status(500),
        || status(502),
        || status(504),
        || lost(Transport::Reset),
        || lost(Transport::Timeout),
        || reply(200, "<html>".into(), Headers::default()),
    ];
    for answer in answers {
        let (mut gate, now) = retrying(1);
        gate.handle(now, answer());
        assert_eq!(gate.tracker.checks[&(0, 1)].retries, 1);
        let until = sleeps(&mut gate, now);
        // Still `failed` after the grace: the retry asked for is spent.
        let later = until + tracker::RETRY_GRACE;
        gate.next(later);
        gate.handle(later, page(&[(1, "failed")], None));
        assert_eq!(sends(&mut gate, later), Request::ReadHead { mr: 0 });
        gate.handle(later, head(Some(SHA), "opened"));
        assert_eq!(verdict(ends(&mut gate, later)), Verdict::Failed);
    }
}

#[test]
fn a_retry_in_a_round_whose_head_is_due_is_sent_after_the_head_in_that_round() {
    let mut rules = rules();
    rules.checks.retry_limit = 1;
    let (mut gate, now) = gate_with(rules, Mrs::Known(1));
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], None));
    let later = sleeps(&mut gate, now) + HEAD_EVERY;
    gate.next(later);
    gate.handle(later, page(&[(1, "failed")], None));
    assert_eq!(sends(&mut gate, later), Request::ReadHead { mr: 0 });
    gate.handle(later, head(Some(SHA), "opened"));
    assert_eq!(sends(&mut gate, later), Request::Retry { mr: 0, check: 1 });
}

#[test]
fn a_retry_gitlab_did_not_act_on_is_asked_again() {
    let answers: [fn() -> Answer; 3] =
        [|| status(429), || status(503), || lost(Transport::Connect)];
    for answer in answers {
        let (mut gate, now) = retrying(1);
        gate.handle(now, answer());
        assert_eq!(gate.tracker.checks[&(0, 1)].retries, 0);
        let until = sleeps(&mut gate, now);
        gate.next(until);
        gate.handle(until, page(&[(1, "failed")], None));
        assert_eq!(sends(&mut gate, until), Request::Retry { mr: 0, check: 1 });
    }
}

#[test]
fn a_refused_retry_and_a_fatal_answer() {
    let (mut gate, now) = retrying(3);
    gate.handle(now, status(404));
    let t = &gate.tracker.checks[&(0, 1)];
    assert!(t.unretryable && t.reread && t.retries == 1);
    let (mut gate, now) = retrying(3);
    gate.handle(now, status(422));
    assert_eq!(gate.tracker.checks[&(0, 1)].retries, 1);
    let (mut gate, now) = retrying(3);
    gate.handle(now, status(401));
    assert!(matches!(ends(&mut gate, now), End::Error(e) if e.status() == Some(401)));
}

fn look_up(found: serde_json::Value) -> Answer {
    reply(200, found.to_string(), Headers::default())
}

#[test]
fn liveness_the_look_up_is_as_patient_as_the_polls() {
    let (mut gate, mut now) = gate_with(rules(), Mrs::LookUp);
    for _ in 0..20 {
        assert_eq!(sends(&mut gate, now), Request::FindMrs { page: 1 });
        gate.handle(now, status(503));
        now = sleeps(&mut gate, now);
    }
    assert_eq!(sends(&mut gate, now), Request::FindMrs { page: 1 });
    let open = json!([{"iid": 7, "state": "opened", "sha": SHA}, {"iid": 9, "state": "opened", "sha": OTHER}]);
    gate.handle(now, look_up(open));
    let notices = gate.notices();
    assert!(
        notices
            .iter()
            .any(|n| matches!(n, Notice::Found(found) if found.open == [7]))
    );
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 1 });
}

#[test]
fn the_look_up_s_pages_are_followed_forward_only_up_to_max_pages() {
    let paged = |next_page| {
        let headers = Headers {
            next_page: Some(next_page),
            ..Headers::default()
        };
        reply(200, json!([]).to_string(), headers)
    };
    let (mut gate, now) = gate_with(rules(), Mrs::LookUp);
    gate.next(now);
    gate.handle(now, paged(2));
    assert_eq!(sends(&mut gate, now), Request::FindMrs { page: 2 });
    let open = json!([{"iid": 7, "state": "opened", "sha": SHA}]);
    let headers = Headers {
        next_page: Some(2),
        ..Headers::default()
    };
    // A server that announces the page it just served is done: the MRs of both pages.
    gate.handle(now, reply(200, open.to_string(), headers));
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 1 });
    for (next, followed) in [(1, false), (MAX_PAGES, true), (MAX_PAGES + 1, false)] {
        let (mut gate, now) = gate_with(rules(), Mrs::LookUp);
        gate.next(now);
        gate.handle(now, paged(next));
        let asked = gate.next(now);
        let asks_next = matches!(asked, Next::Send(Request::FindMrs { page }) if page == next);
        assert_eq!(asks_next, followed, "next page {next}: {asked:?}");
    }
}

#[test]
fn an_empty_look_up_is_believed_on_its_second_reading() {
    let (mut gate, now) = gate_with(rules(), Mrs::LookUp);
    gate.next(now);
    gate.handle(now, look_up(json!([])));
    let until = sleeps(&mut gate, now);
    assert_eq!(sends(&mut gate, until), Request::FindMrs { page: 1 });
    gate.handle(until, look_up(json!([])));
    assert_eq!(verdict(ends(&mut gate, until)), Verdict::Empty);

    // Every open MR of the commit has moved on: stale before the wait began.
    let (mut gate, now) = gate_with(rules(), Mrs::LookUp);
    gate.next(now);
    gate.handle(
        now,
        look_up(json!([{"iid": 9, "state": "opened", "sha": OTHER}])),
    );
    assert_eq!(verdict(ends(&mut gate, now)), Verdict::Stale);
    assert_eq!(gate.moved, Some(Moved::BeforeStart));

    // The merged MR the commit landed as: gated, its head never read.
    let (mut gate, now) = gate_with(rules(), Mrs::LookUp);
    gate.next(now);
    let merged = json!([{"iid": 5, "state": "merged", "sha": OTHER, "merge_commit_sha": SHA}]);
    gate.handle(now, look_up(merged));
    gate.next(now);
    gate.handle(now, page(&[(1, "passed")], None));
    assert_eq!(verdict(ends(&mut gate, now)), Verdict::Passed);
}

#[test]
fn safety_a_named_check_missing_from_one_read_never_ends_the_wait_empty() {
    let mut rules = rules();
    rules.checks.names = vec!["check-1".into()];
    let (mut gate, mut now) = gate_with(rules, Mrs::Known(1));
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], None));
    for _ in 0..3 {
        now = sleeps(&mut gate, now);
        gate.next(now);
        gate.handle(now, page(&[], None));
    }
    sleeps(&mut gate, now);
}

#[test]
fn a_name_missing_from_the_first_two_reads_is_a_usage_error() {
    let mut rules = rules();
    rules.checks.names = vec!["check-9".into()];
    let (mut gate, now) = gate_with(rules.clone(), Mrs::Known(1));
    gate.next(now);
    gate.handle(now, page(&[(1, "failed")], None));
    // No verdict (not even the failure) before the name's absence is confirmed, at once.
    assert_eq!(sends(&mut gate, now), Request::ReadList { mr: 0, page: 1 });
    gate.handle(now, page(&[(1, "failed")], None));
    assert!(matches!(ends(&mut gate, now), End::UnknownNames(n) if n == ["check-9"]));

    let (mut gate, now) = gate_with(rules, Mrs::Known(1));
    gate.next(now);
    gate.handle(now, page(&[(1, "pending")], None));
    gate.next(now);
    gate.handle(now, page(&[(1, "pending"), (9, "pending")], None));
    sleeps(&mut gate, now);
}

fn page_of(checks: &[(u64, &str)], next_page: Option<u32>, total: u64) -> Answer {
    let mut answer = page(checks, next_page);
    if let Ok(reply) = &mut answer {
        reply.headers.total = Some(total);
    }
    answer
}

#[test]
fn safety_a_read_that_does_not_add_up_to_its_x_total_is_not_taken() {
    // A page said 3 checks in all, the read listed 2: read again at the next poll.
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page_of(&[(1, "passed")], Some(2), 3));
    gate.next(now);
    gate.handle(now, page_of(&[(2, "passed")], None, 3));
    assert_eq!(gate.rounds, 0);
    assert!(gate.tracker.checks.is_empty());
    let until = sleeps(&mut gate, now);
    // The pages disagree (a check deleted between them): not taken either.
    gate.next(until);
    gate.handle(until, page_of(&[(1, "passed")], Some(2), 3));
    gate.next(until);
    gate.handle(until, page_of(&[(2, "passed")], None, 2));
    assert_eq!(gate.rounds, 0);
    let later = sleeps(&mut gate, until);
    gate.next(later);
    gate.handle(later, page_of(&[(1, "passed")], Some(2), 2));
    gate.next(later);
    gate.handle(later, page_of(&[(2, "passed")], None, 2));
    assert_eq!(gate.rounds, 1);
}

#[test]
fn safety_a_merged_head_that_does_not_say_its_sha_is_read_again() {
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed")], None));
    gate.next(now);
    gate.handle(now, head(None, "merged"));
    let until = sleeps(&mut gate, now);
    gate.next(until);
    gate.handle(until, page(&[(1, "passed")], None));
    assert_eq!(sends(&mut gate, until), Request::ReadHead { mr: 0 });
}

#[test]
fn a_list_read_is_taken_even_when_a_later_mr_s_read_fails() {
    // MR 0's check goes missing on one read, then MR 1's read fails: MR 0's read still
    // counts, so its next complete read in a row lets the check go.
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed"), (2, "pending")], None));
    gate.handle(now, page(&[(3, "passed")], None));
    let mut now = sleeps(&mut gate, now);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed")], None));
    assert!(gate.tracker.checks[&(0, 2)].missing);
    gate.handle(now, status(502));
    now = sleeps(&mut gate, now);
    gate.next(now);
    gate.handle(now, page(&[(1, "passed")], None));
    assert!(!gate.tracker.checks.contains_key(&(0, 2)));
}

#[test]
fn a_look_up_that_lists_a_merged_mr_without_its_head_is_no_empty_reading() {
    let (mut gate, mut now) = gate_with(rules(), Mrs::LookUp);
    for _ in 0..3 {
        assert_eq!(sends(&mut gate, now), Request::FindMrs { page: 1 });
        gate.handle(
            now,
            look_up(json!([{"iid": 5, "state": "merged", "sha": null}])),
        );
        now = sleeps(&mut gate, now);
    }
}
