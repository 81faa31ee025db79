//! The gate's edges that random timelines rarely reach: verdict words, a server that
//! announces pages it never ends, an MR closed under the gate, bad bodies in a row.

use std::time::Duration;

use super::*;

fn rules() -> Rules {
    Rules {
        timeout: Duration::from_secs(3600),
        interval: Duration::from_secs(1),
        max_interval: Duration::from_secs(2),
        fail_fast: true,
        retry_failed: 0,
        names: vec![],
        ignore: vec![],
        retry_resets_pending: true,
    }
}

fn item(id: u64, status: CheckStatus) -> Item {
    Item {
        id,
        name: format!("check-{id}"),
        status,
    }
}

fn page(items: Vec<Item>, next_page: Option<u32>) -> Page {
    Page {
        items,
        next_page,
        ..Page::default()
    }
}

/// Runs the gate to its first request after the start's spread.
fn started(mrs: usize) -> (Gate, Duration) {
    let mut gate = Gate::new(rules(), "sha".into(), mrs, false, 1);
    let mut now = Duration::ZERO;
    while let Next::Sleep { until } = gate.next(now) {
        now = until;
    }
    (gate, now)
}

fn head(sha: &str, state: MrState) -> Head {
    Head {
        sha: Some(sha.into()),
        state,
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
    assert_eq!(gate.next(now), Next::ReadList { mr: 0, page: 1 });
    gate.on_list(now, Ok(page(vec![item(1, CheckStatus::Pending)], Some(2))));
    assert_eq!(gate.next(now), Next::ReadList { mr: 0, page: 2 });
    // A server that announces the page it just served (or an earlier one) is done.
    gate.on_list(now, Ok(page(vec![item(2, CheckStatus::Pending)], Some(2))));
    assert_eq!(
        gate.rounds, 1,
        "the round ends at a page that does not move on"
    );
    assert_eq!(gate.tracker.checks.len(), 2);

    let (mut gate, now) = started(1);
    gate.next(now);
    gate.on_list(
        now,
        Ok(page(
            vec![item(1, CheckStatus::Pending)],
            Some(MAX_PAGES + 1),
        )),
    );
    assert_eq!(gate.rounds, 1, "no page past MAX_PAGES");
    let (mut gate, now) = started(1);
    gate.next(now);
    gate.on_list(
        now,
        Ok(page(vec![item(1, CheckStatus::Pending)], Some(MAX_PAGES))),
    );
    assert_eq!(
        gate.next(now),
        Next::ReadList {
            mr: 0,
            page: MAX_PAGES
        }
    );
}

#[test]
fn the_second_mr_is_read_after_the_first_and_the_round_counts_once() {
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.on_list(now, Ok(page(vec![item(1, CheckStatus::Pending)], None)));
    assert_eq!(gate.next(now), Next::ReadList { mr: 1, page: 1 });
    gate.on_list(now, Ok(page(vec![item(2, CheckStatus::Pending)], None)));
    assert_eq!(gate.rounds, 1);
    let Next::Sleep { until } = gate.next(now) else {
        panic!("undecided: sleeps");
    };
    gate.next(until);
    gate.on_list(until, Ok(page(vec![item(1, CheckStatus::Pending)], None)));
    gate.on_list(until, Ok(page(vec![item(2, CheckStatus::Pending)], None)));
    assert_eq!(gate.rounds, 2);
}

#[test]
fn a_push_on_the_second_mr_is_looked_for_at_once() {
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.on_list(now, Ok(page(vec![item(1, CheckStatus::Pending)], None)));
    gate.on_list(now, Ok(page(vec![item(2, CheckStatus::Passed)], None)));
    let Next::Sleep { until } = gate.next(now) else {
        panic!("undecided: sleeps");
    };
    // Back to pending on MR 1 only (MR 0 unchanged): the heads are read at once.
    gate.next(until);
    gate.on_list(until, Ok(page(vec![item(1, CheckStatus::Pending)], None)));
    gate.on_list(until, Ok(page(vec![item(2, CheckStatus::Pending)], None)));
    assert_eq!(gate.next(until), Next::ReadHead { mr: 0 });
}

#[test]
fn an_mr_closed_with_all_the_checks_leaves_nothing_to_wait_for() {
    let (mut gate, now) = started(2);
    gate.next(now);
    gate.on_list(now, Ok(page(vec![], None)));
    gate.on_list(now, Ok(page(vec![item(2, CheckStatus::Passed)], None)));
    // Passed: heads before the verdict; MR 1 was closed meanwhile.
    assert_eq!(gate.next(now), Next::ReadHead { mr: 0 });
    gate.on_head(now, Ok(head("sha", MrState::Open)));
    assert_eq!(gate.next(now), Next::ReadHead { mr: 1 });
    gate.on_head(now, Ok(head("sha", MrState::Closed)));
    assert_eq!(gate.next(now), Next::Done(End::Verdict(Verdict::Empty)));
}

#[test]
fn safety_one_bad_body_is_no_failure_three_in_a_row_end_the_wait() {
    let (mut gate, mut now) = started(1);
    for n in 1..=MAX_DECODE_ERRORS {
        assert_eq!(
            gate.next(now),
            Next::ReadList { mr: 0, page: 1 },
            "bad body {n}"
        );
        gate.on_list(now, Err(Failure::Undecodable));
        match gate.next(now) {
            Next::Sleep { until } => now = until,
            Next::Done(End::Undecodable) if n == MAX_DECODE_ERRORS => return,
            other => panic!("after {n}: {other:?}"),
        }
    }
    panic!("three bad bodies did not end the wait");
}

#[test]
fn a_merged_mr_s_head_is_not_read_again() {
    let (mut gate, mut now) = started(2);
    let pending = |gate: &mut Gate, now: Duration| {
        gate.on_list(now, Ok(page(vec![item(1, CheckStatus::Pending)], None)));
        gate.on_list(now, Ok(page(vec![item(2, CheckStatus::Pending)], None)));
    };
    gate.next(now);
    pending(&mut gate, now);
    assert!(matches!(gate.next(now), Next::Sleep { .. }));
    // Five minutes on, the heads are due: MR 0 turns out merged.
    now = HEAD_EVERY + Duration::from_secs(1);
    assert_eq!(gate.next(now), Next::ReadList { mr: 0, page: 1 });
    pending(&mut gate, now);
    assert_eq!(gate.next(now), Next::ReadHead { mr: 0 });
    gate.on_head(now, Ok(head("sha", MrState::Merged)));
    assert_eq!(gate.next(now), Next::ReadHead { mr: 1 });
    gate.on_head(now, Ok(head("sha", MrState::Open)));
    assert!(matches!(gate.next(now), Next::Sleep { .. }));
    // Five minutes later: only MR 1's head can still move.
    now += HEAD_EVERY + Duration::from_secs(1);
    assert_eq!(gate.next(now), Next::ReadList { mr: 0, page: 1 });
    pending(&mut gate, now);
    assert_eq!(gate.next(now), Next::ReadHead { mr: 1 });
}
