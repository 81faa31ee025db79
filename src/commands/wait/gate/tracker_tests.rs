//! The tracker's rules one at a time; the simulator checks them together.

use std::time::Duration;

use super::Notice;
use super::tracker::{Changes, Item, RETRY_GRACE, Standing, Tracker};
use crate::config::Selection;
use crate::gitlab::CheckStatus::{self, Failed, Passed, Pending};

const CHECK: u64 = 7;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn item(status: CheckStatus) -> Item {
    Item {
        id: CHECK,
        name: "security".into(),
        status,
    }
}

fn selection(retries: u32, retry_resets_pending: bool) -> Selection {
    Selection {
        retry_limit: retries,
        retry_resets_pending,
        ..Selection::default()
    }
}

/// A tracker of every check on one MR, `retries` retries, no fail-fast.
fn tracker(retries: u32, retry_resets_pending: bool) -> Tracker {
    Tracker::new(1, selection(retries, retry_resets_pending))
}

/// One complete read of the MR's list with a single check.
fn read(t: &mut Tracker, status: CheckStatus, at: u64) -> (Changes, Vec<Notice>) {
    read_items(t, vec![item(status)], at)
}

fn read_items(t: &mut Tracker, items: Vec<Item>, at: u64) -> (Changes, Vec<Notice>) {
    let mut notices = Vec::new();
    let changes = t.apply(0, items, secs(at), false, &mut notices);
    t.read_complete();
    (changes, notices)
}

fn status(t: &Tracker) -> CheckStatus {
    t.checks[&(0, CHECK)].status.clone()
}

#[test]
fn the_first_read_announces_nothing_a_later_new_check_is_announced() {
    let mut t = tracker(0, true);
    let mut notices = Vec::new();
    let changes = t.apply(0, vec![item(Pending)], secs(0), true, &mut notices);
    assert!(notices.is_empty() && !changes.any);

    let mut t = tracker(0, true);
    let (changes, notices) = read(&mut t, Pending, 0);
    assert!(changes.any);
    assert!(matches!(notices[..], [Notice::Appeared { mr: 0, .. }]));
}

#[test]
fn a_retry_s_old_failed_stays_pending_for_the_grace_then_counts() {
    // Before 16.1 (or not known to be 16.1+), or whenever the retry's answer was lost.
    for (resets, confirmed) in [(false, true), (false, false), (true, false)] {
        let mut t = tracker(1, resets);
        read(&mut t, Failed, 0);
        assert_eq!(t.standing(), Standing::Retry(vec![(0, CHECK)]));
        t.retried((0, CHECK), secs(10), confirmed);

        let (changes, notices) = read(&mut t, Failed, 10 + RETRY_GRACE.as_secs() - 1);
        assert_eq!(status(&t), Pending);
        assert!(!changes.any && notices.is_empty());
        assert_eq!(t.standing(), Standing::Undecided);

        read(&mut t, Failed, 10 + RETRY_GRACE.as_secs());
        assert_eq!(status(&t), Failed);
        assert_eq!(t.standing(), Standing::Failed);
    }
}

#[test]
fn from_16_1_a_failed_read_after_a_confirmed_retry_is_new() {
    let mut t = tracker(1, true);
    read(&mut t, Failed, 0);
    t.retried((0, CHECK), secs(10), true);
    read(&mut t, Failed, 20);
    assert_eq!(status(&t), Failed);
    assert_eq!(t.standing(), Standing::Failed);
}

#[test]
fn a_retried_check_read_as_anything_else_ends_the_grace() {
    let mut t = tracker(2, false);
    read(&mut t, Failed, 0);
    t.retried((0, CHECK), secs(10), true);
    // GitLab (or the service) shows the retry took: the next `failed` is its answer.
    read(&mut t, Pending, 20);
    read(&mut t, Failed, 30);
    assert_eq!(status(&t), Failed);
    assert_eq!(t.standing(), Standing::Retry(vec![(0, CHECK)]));

    let mut t = tracker(1, false);
    read(&mut t, Failed, 0);
    t.retried((0, CHECK), secs(10), true);
    read(&mut t, Passed, 20);
    assert_eq!(t.standing(), Standing::Passed);
}

#[test]
fn a_decided_check_back_to_pending_is_the_signature_of_a_push() {
    for from in [Passed, Failed] {
        let mut t = tracker(0, true);
        read(&mut t, from, 0);
        let (changes, notices) = read(&mut t, Pending, 1);
        assert!(changes.back_to_pending);
        assert!(matches!(
            &notices[..],
            [Notice::Changed { to: Pending, .. }]
        ));
    }
    let mut t = tracker(0, true);
    read(&mut t, Pending, 0);
    let (changes, _) = read(&mut t, Passed, 1);
    assert!(!changes.back_to_pending);
}

#[test]
fn an_unchanged_read_changes_nothing() {
    let mut t = tracker(0, true);
    read(&mut t, Passed, 0);
    let (changes, notices) = read(&mut t, Passed, 1);
    assert!(!changes.any && notices.is_empty());
    assert_eq!(t.checks[&(0, CHECK)].since, secs(0));
}

#[test]
fn a_refused_retry_counts_as_one_and_a_404_is_for_ever() {
    // 422: one of the retries asked for.
    let mut t = tracker(2, true);
    read(&mut t, Failed, 0);
    t.retry_refused((0, CHECK), false);
    assert_eq!(t.checks[&(0, CHECK)].retries, 1);
    assert_eq!(t.standing(), Standing::Retry(vec![(0, CHECK)]));
    t.retry_refused((0, CHECK), false);
    assert_eq!(t.checks[&(0, CHECK)].retries, 2);
    assert_eq!(t.standing(), Standing::Failed);

    // 404: counts only once read again, and never again retried, whatever follows.
    let mut t = tracker(5, true);
    read(&mut t, Failed, 0);
    t.retry_refused((0, CHECK), true);
    assert_eq!(t.standing(), Standing::Undecided);
    t.retry_refused((0, CHECK), false);
    let tracked = &t.checks[&(0, CHECK)];
    assert!(tracked.unretryable && tracked.reread);
    read(&mut t, Failed, 5);
    assert_eq!(t.standing(), Standing::Failed);
}

#[test]
fn safety_a_check_missing_from_one_read_is_still_waited_for() {
    let mut t = tracker(0, true);
    read(&mut t, Pending, 0);
    let (_, notices) = read_items(&mut t, vec![], 1);
    assert!(notices.is_empty(), "{notices:?}");
    assert!(t.checks[&(0, CHECK)].missing);
    assert_eq!(t.standing(), Standing::Undecided);
    // Back on the next read: it carries on.
    read(&mut t, Passed, 2);
    assert_eq!(t.standing(), Standing::Passed);
}

#[test]
fn safety_a_check_missing_from_one_read_of_several_blocks_a_pass() {
    let lint = |status| Item {
        id: 8,
        name: "lint".into(),
        status,
    };
    let mut t = tracker(0, true);
    read_items(&mut t, vec![item(Pending), lint(Passed)], 0);
    read_items(&mut t, vec![lint(Passed)], 1);
    assert_eq!(t.standing(), Standing::Undecided);
    // Missing from a second read in a row: let go.
    let (changes, notices) = read_items(&mut t, vec![lint(Passed)], 2);
    assert!(changes.any && matches!(notices[..], [Notice::Removed { mr: 0, .. }]));
    assert_eq!(t.standing(), Standing::Passed);
}

#[test]
fn nothing_listed_is_empty_only_on_the_second_read_in_a_row() {
    let mut t = tracker(0, true);
    read_items(&mut t, vec![], 0);
    assert_eq!(t.standing(), Standing::Undecided);
    read_items(&mut t, vec![], 1);
    assert_eq!(t.standing(), Standing::Empty);

    // A check read, then two empty reads: gone, and nothing left.
    let mut t = tracker(0, true);
    read(&mut t, Pending, 0);
    read_items(&mut t, vec![], 1);
    assert_eq!(t.standing(), Standing::Undecided);
    read_items(&mut t, vec![], 2);
    assert_eq!(t.standing(), Standing::Empty);
}

#[test]
fn safety_retries_never_exceed_retry_failed_when_a_check_goes_and_comes_back() {
    let mut t = tracker(1, true);
    read(&mut t, Failed, 0);
    t.retried((0, CHECK), secs(1), true);
    read_items(&mut t, vec![], 2);
    read_items(&mut t, vec![], 3);
    assert!(t.checks.is_empty());
    read(&mut t, Failed, 4);
    assert_eq!(t.checks[&(0, CHECK)].retries, 1);
    assert_eq!(t.standing(), Standing::Failed);
}

fn two_failed() -> Vec<Item> {
    let lint = Item {
        id: 8,
        name: "lint".into(),
        status: Failed,
    };
    vec![item(Failed), lint]
}

#[test]
fn fail_fast_fails_on_a_counted_failure_before_retrying_others() {
    let fast = Selection {
        fail_fast: true,
        ..selection(1, true)
    };
    let mut t = Tracker::new(1, fast);
    let mut notices = Vec::new();
    t.apply(0, two_failed(), secs(0), true, &mut notices);
    assert_eq!(t.standing(), Standing::Retry(vec![(0, CHECK), (0, 8)]));
    t.retry_refused((0, 8), true);
    t.apply(0, two_failed(), secs(1), false, &mut notices);
    assert_eq!(t.standing(), Standing::Failed);

    let mut t = tracker(1, true);
    t.apply(0, two_failed(), secs(0), true, &mut notices);
    t.retry_refused((0, 8), true);
    t.apply(0, two_failed(), secs(1), false, &mut notices);
    assert_eq!(
        t.standing(),
        Standing::Retry(vec![(0, CHECK)]),
        "without fail-fast"
    );
}

#[test]
fn names_and_ignores_select_and_a_missing_name_keeps_it_undecided() {
    let named = Selection {
        names: vec!["security".into(), "sbom".into()],
        ..Selection::default()
    };
    let mut t = Tracker::new(1, named);
    assert!(t.selected("security") && !t.selected("lint"));
    read(&mut t, Passed, 0);
    assert_eq!(t.missing_names(), vec!["sbom".to_string()]);
    assert_eq!(t.standing(), Standing::Undecided);

    let ignoring = Selection {
        ignore: vec!["lint".into()],
        ..Selection::default()
    };
    let t = Tracker::new(1, ignoring);
    assert!(t.selected("security") && !t.selected("lint"));
}

#[test]
fn safety_a_named_check_that_goes_is_waited_for_not_empty() {
    let named = Selection {
        names: vec!["security".into()],
        ..Selection::default()
    };
    let mut t = Tracker::new(1, named);
    read(&mut t, Pending, 0);
    read_items(&mut t, vec![], 1);
    read_items(&mut t, vec![], 2);
    assert!(t.checks.is_empty());
    assert_eq!(t.standing(), Standing::Undecided);
}

#[test]
fn a_closed_mr_is_forgotten() {
    let mut t = tracker(0, true);
    read(&mut t, Passed, 0);
    t.drop_mr(0);
    assert!(t.checks.is_empty() && t.listed[0].is_empty());
}

/// One round over two MRs, each with what it lists; `None`: its read failed, and the
/// round ends there, incomplete.
fn round(t: &mut Tracker, lists: [Option<Vec<Item>>; 2], at: u64) {
    let mut notices = Vec::new();
    t.read_begins();
    for (mr, list) in lists.into_iter().enumerate() {
        let Some(items) = list else { return };
        t.apply(mr, items, secs(at), false, &mut notices);
    }
    t.read_complete();
}

#[test]
fn safety_only_complete_rounds_that_list_nothing_in_a_row_count_as_empty() {
    // A round cut short after MR 0 listed a check counts for nothing, either way.
    let mut t = Tracker::new(2, Selection::default());
    round(&mut t, [Some(vec![item(Pending)]), None], 0);
    round(&mut t, [Some(vec![]), Some(vec![])], 1);
    assert_eq!(
        t.standing(),
        Standing::Undecided,
        "the check is missing once"
    );
    round(&mut t, [Some(vec![]), Some(vec![])], 2);
    assert_eq!(
        t.standing(),
        Standing::Empty,
        "two complete empty rounds in a row"
    );

    // A round that listed a check, then the MR that listed it closed: the next empty
    // round is the first of two.
    let mut t = Tracker::new(2, Selection::default());
    round(&mut t, [Some(vec![]), Some(vec![item(Pending)])], 0);
    t.drop_mr(1);
    round(&mut t, [Some(vec![]), Some(vec![])], 1);
    assert_eq!(t.standing(), Standing::Undecided);
    round(&mut t, [Some(vec![]), Some(vec![])], 2);
    assert_eq!(t.standing(), Standing::Empty);
}

#[test]
fn only_a_decided_check_pending_again_is_the_signature_of_a_push() {
    let mut t = tracker(0, true);
    read(&mut t, Failed, 0);
    let (changes, _) = read(&mut t, Passed, 1);
    assert!(changes.any && !changes.back_to_pending, "failed → passed");
    let (changes, _) = read(&mut t, Pending, 2);
    assert!(changes.back_to_pending, "passed → pending");
    let (changes, _) = read(&mut t, Failed, 3);
    assert!(changes.any && !changes.back_to_pending, "pending → failed");
}
