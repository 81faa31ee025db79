//! The tracker's rules one at a time; the simulator checks them together.

use std::time::Duration;

use super::Notice;
use super::tracker::{Changes, Item, RETRY_GRACE, Standing, Tracker};
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

/// A tracker of every check on one MR, `retries` retries, no fail-fast.
fn tracker(retries: u32, retry_resets_pending: bool) -> Tracker {
    Tracker::new(1, vec![], vec![], retries, false, retry_resets_pending)
}

/// One complete read of the MR's list with a single check.
fn read(t: &mut Tracker, status: CheckStatus, at: u64) -> (Changes, Vec<Notice>) {
    let mut events = Vec::new();
    let changes = t.apply(0, vec![item(status)], secs(at), false, &mut events);
    (changes, events)
}

fn status(t: &Tracker) -> CheckStatus {
    t.checks[&(0, CHECK)].status.clone()
}

#[test]
fn the_first_read_announces_nothing_a_later_new_check_is_announced() {
    let mut t = tracker(0, true);
    let mut events = Vec::new();
    let changes = t.apply(0, vec![item(Pending)], secs(0), true, &mut events);
    assert!(events.is_empty() && !changes.any);

    let mut t = tracker(0, true);
    let (changes, events) = read(&mut t, Pending, 0);
    assert!(changes.any);
    assert!(matches!(events[..], [Notice::Appeared { mr: 0, .. }]));
}

#[test]
fn before_16_5_a_retried_check_read_failed_stays_pending_for_the_grace() {
    let mut t = tracker(1, false);
    read(&mut t, Failed, 0);
    assert_eq!(t.standing(), Standing::Retry(vec![(0, CHECK)]));
    t.retry_accepted((0, CHECK), secs(10));

    let (changes, events) = read(&mut t, Failed, 10 + RETRY_GRACE.as_secs() - 1);
    assert_eq!(status(&t), Pending);
    assert!(!changes.any && events.is_empty());
    assert_eq!(t.standing(), Standing::Undecided);

    // At the end of the grace the old `failed` counts.
    let (changes, _) = read(&mut t, Failed, 10 + RETRY_GRACE.as_secs());
    assert_eq!(status(&t), Failed);
    assert!(changes.any && !changes.back_to_pending);
    assert_eq!(t.standing(), Standing::Failed);
}

#[test]
fn from_16_5_a_retried_check_read_failed_has_failed_again() {
    let mut t = tracker(1, true);
    read(&mut t, Failed, 0);
    t.retry_accepted((0, CHECK), secs(10));
    read(&mut t, Failed, 11);
    assert_eq!(status(&t), Failed);
    assert_eq!(t.standing(), Standing::Failed);
}

#[test]
fn a_retried_check_that_passes_in_the_grace_has_passed() {
    let mut t = tracker(1, false);
    read(&mut t, Failed, 0);
    t.retry_accepted((0, CHECK), secs(10));
    read(&mut t, Passed, 20);
    assert_eq!(t.standing(), Standing::Passed);
    // The retry is over: a later `failed` is a new failure, with no grace.
    read(&mut t, Failed, 30);
    assert_eq!(status(&t), Failed);
    assert!(t.checks[&(0, CHECK)].retried_at.is_none());
}

#[test]
fn the_grace_is_only_for_a_retry_still_pending() {
    let mut t = tracker(2, false);
    read(&mut t, Passed, 0);
    let mut tracked = t.checks[&(0, CHECK)].clone();
    tracked.retried_at = Some(secs(1));
    t.checks.insert((0, CHECK), tracked);
    read(&mut t, Failed, 2);
    assert_eq!(status(&t), Failed, "a passed check that fails has no grace");
}

#[test]
fn a_decided_check_back_to_pending_is_the_signature_of_a_push() {
    for decided in [Passed, Failed] {
        let mut t = tracker(0, true);
        read(&mut t, decided, 0);
        let (changes, events) = read(&mut t, Pending, 5);
        assert!(changes.any && changes.back_to_pending);
        assert!(matches!(&events[..], [Notice::Changed { to: Pending, .. }]));
        assert_eq!(t.checks[&(0, CHECK)].since, secs(5));
    }
    let mut t = tracker(0, true);
    read(&mut t, CheckStatus::Other("running".into()), 0);
    let (changes, _) = read(&mut t, Pending, 5);
    assert!(changes.any && !changes.back_to_pending);
    let (changes, _) = read(&mut t, Passed, 6);
    assert!(changes.any && !changes.back_to_pending);
}

#[test]
fn an_unchanged_read_changes_nothing() {
    let mut t = tracker(0, true);
    read(&mut t, Pending, 0);
    let (changes, events) = read(&mut t, Pending, 5);
    assert!(!changes.any && events.is_empty());
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
fn safety_retries_never_exceed_retry_failed_when_a_read_misses_a_check() {
    let mut t = tracker(1, true);
    read(&mut t, Failed, 0);
    t.retry_accepted((0, CHECK), secs(1));
    let mut events = Vec::new();
    let changes = t.apply(0, vec![], secs(2), false, &mut events);
    assert!(changes.any && matches!(events[..], [Notice::Removed { mr: 0, .. }]));
    assert_eq!(t.standing(), Standing::Empty);
    read(&mut t, Failed, 3);
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
    let mut t = Tracker::new(1, vec![], vec![], 1, true, true);
    let mut events = Vec::new();
    t.apply(0, two_failed(), secs(0), true, &mut events);
    assert_eq!(t.standing(), Standing::Retry(vec![(0, CHECK), (0, 8)]));
    t.retry_refused((0, 8), true);
    t.apply(0, two_failed(), secs(1), false, &mut events);
    assert_eq!(t.standing(), Standing::Failed);

    let mut t = tracker(1, true);
    t.apply(0, two_failed(), secs(0), true, &mut events);
    t.retry_refused((0, 8), true);
    t.apply(0, two_failed(), secs(1), false, &mut events);
    assert_eq!(
        t.standing(),
        Standing::Retry(vec![(0, CHECK)]),
        "without fail-fast"
    );
}

#[test]
fn names_and_ignores_select_and_a_missing_name_keeps_it_undecided() {
    let mut t = Tracker::new(
        1,
        vec!["security".into(), "sbom".into()],
        vec![],
        0,
        false,
        true,
    );
    assert!(t.selected("security") && !t.selected("lint"));
    read(&mut t, Passed, 0);
    assert_eq!(t.missing_names(), vec!["sbom".to_string()]);
    assert_eq!(t.standing(), Standing::Undecided);

    let t = Tracker::new(1, vec![], vec!["lint".into()], 0, false, true);
    assert!(t.selected("security") && !t.selected("lint"));
}

#[test]
fn a_closed_mr_is_forgotten() {
    let mut t = tracker(0, true);
    read(&mut t, Passed, 0);
    t.drop_mr(0);
    assert!(t.checks.is_empty() && t.listed[0].is_empty());
    assert_eq!(t.standing(), Standing::Empty);
}
