//! Timelines that broke a promise, kept as tests named after it: the five of issue 28
//! (read on the release binary, each a real answer of GitLab or a proxy), then the ones
//! the simulated GitLab found. Each runs through the oracle, which checks every promise,
//! and pins how the gate ends.

use std::time::Duration;

use super::scenario::{Change, Fault, GateOptions, Scenario, Start};
use super::{End, Run, Verdict, run};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// One MR !7 into `main`, two checks pending, GitLab 17.5 (told), a `Poll-Interval` of
/// 2 s, 50 ms a request, no fault: each test changes what it is about.
fn base() -> Scenario {
    Scenario {
        seed: 1,
        version: "17.5.0-ee",
        told_version: true,
        gate: GateOptions {
            timeout: SECS(300),
            interval: SECS(1),
            max_interval: SECS(10),
            fail_fast: true,
            retry_failed: 0,
            names: Vec::new(),
            ignore: Vec::new(),
        },
        start: Start::Iid,
        targets: vec!["main"],
        checks: vec![("scan", None), ("lint", None)],
        page_size: 100,
        poll_interval: 2000,
        budget: None,
        budget_headers: false,
        timeline: Vec::new(),
        services: Vec::new(),
        faults: Vec::new(),
        latency: Duration::from_millis(50),
        skew: 0,
    }
}

/// The first MR's `check` turns `status` at `at` seconds.
fn status(at: u64, check: usize, status: &'static str) -> (Duration, Change) {
    status_on(0, at, check, status)
}

fn status_on(mr: usize, at: u64, check: usize, status: &'static str) -> (Duration, Change) {
    (SECS(at), Change::Status { mr, check, status })
}

/// Both checks pass at `at`.
fn all_pass(at: u64) -> Vec<(Duration, Change)> {
    vec![status(at, 0, "passed"), status(at, 1, "passed")]
}

#[track_caller]
fn ends(sc: &Scenario, verdict: Verdict) -> Run {
    match run(sc) {
        (Ok(run), _) if matches!(&run.end, End::Verdict(v) if *v == verdict) => run,
        (Ok(run), log) => panic!(
            "ended {:?} at {:?}, not {verdict:?}\n{log:#?}",
            run.end, run.at
        ),
        (Err(v), log) => panic!("{}: {}\n{log:#?}", v.invariant, v.detail),
    }
}

/// The faults of every request from `from` on (the requests the test's timeline makes).
fn every(from: usize, fault: Fault) -> Vec<(usize, Fault)> {
    (from..2000).map(|i| (i, fault)).collect()
}

#[test]
fn politeness_no_more_retries_than_retry_failed_when_a_retry_s_answer_is_lost() {
    // Case 1: GitLab carries out the retry, a proxy's 502 replaces its answer, the service
    // fails the check again; a second retry would pass. The gate retried again and passed.
    let mut sc = base();
    sc.gate.retry_failed = 1;
    sc.timeline = vec![status(0, 0, "failed"), status(0, 1, "passed")];
    sc.services = vec![(SECS(5), Some("failed")), (SECS(5), Some("passed"))];
    // Request 0: the first poll; 1: the retry.
    sc.faults = vec![(1, Fault::Html502After)];
    ends(&sc, Verdict::Failed);
}

#[test]
fn politeness_a_retry_answered_with_a_bad_body_counts_as_asked() {
    // Case 2: every retry is carried out but answered 200 with a body that is not JSON.
    // The gate retried once a poll (14 to 15 in 20 s), then timed out.
    let mut sc = base();
    sc.gate.retry_failed = 1;
    sc.gate.timeout = SECS(20);
    sc.timeline = vec![status(0, 0, "failed"), status(0, 1, "passed")];
    sc.services = vec![(SECS(1), Some("failed"))];
    // Request 1, the retry: GitLab may have acted (it did), so it counts, and the list's
    // `failed` may be the old one for 2 minutes (the gate cannot tell): one retry, then
    // the timeout.
    sc.faults = vec![(1, Fault::GarbageAfter)];
    let run = ends(&sc, Verdict::Timeout);
    assert_eq!(run.retries, 1);
}

#[test]
fn safety_exit_0_needs_a_head_read_that_shows_the_sha() {
    // Case 3: every check passed and the MR read answers `"sha": null` (GitLab's
    // `diff_head_sha` while it prepares the diff): the gate passed in 0.3 s.
    let mut sc = base();
    sc.timeline = all_pass(0);
    sc.gate.timeout = SECS(30);
    sc.faults = every(0, Fault::NullSha);
    ends(&sc, Verdict::Timeout);
    // Once GitLab says the head, the gate passes.
    sc.faults = vec![(1, Fault::NullSha), (3, Fault::MissingSha)];
    ends(&sc, Verdict::Passed);
}

#[test]
fn liveness_the_look_up_is_as_patient_as_the_polls() {
    // Case 4: a branch pipeline; the commit's look-up meets 503s for about 20 s. The gate
    // exited 5, though it promises to poll through transient faults until --timeout.
    let mut sc = base();
    sc.start = Start::LookUp;
    sc.timeline = all_pass(0);
    sc.faults = (0..12).map(|i| (i, Fault::Unavailable503(None))).collect();
    let run = ends(&sc, Verdict::Passed);
    assert!(run.at > SECS(12), "{:?}", run.at);
}

#[test]
fn safety_one_empty_read_never_passes_a_named_gate() {
    // Case 5: `--name scan --allow-empty`, and one read of the list answers `[]` while
    // scan is pending: exit 0.
    let mut sc = base();
    sc.gate.names = vec!["scan".into()];
    sc.gate.timeout = SECS(40);
    sc.faults = vec![(3, Fault::EmptyList)];
    ends(&sc, Verdict::Timeout);
    sc.timeline = vec![status(30, 0, "passed")];
    ends(&sc, Verdict::Passed);
}

#[test]
fn safety_a_merged_head_that_does_not_say_its_sha_is_no_head_read() {
    // Found by the simulated GitLab (seed 1614): the MR merged, a head read answered
    // `merged` with `"sha": null`; the gate took it as merged at its SHA and never read
    // the head again, passing without one that showed it.
    let mut sc = base();
    sc.gate.timeout = SECS(60);
    sc.timeline = vec![(SECS(1), Change::Merge { mr: 0 })];
    sc.timeline.extend(all_pass(2));
    sc.faults = vec![(2, Fault::NullSha)];
    // Merged at the SHA: passed, once a head read showed it.
    ends(&sc, Verdict::Passed);
}

#[test]
fn safety_a_status_word_gitlab_never_sends_does_not_end_a_retry_s_grace() {
    // Found by the simulated GitLab (seed 4196): on 16.0 a retry leaves the old `failed`;
    // an odd status word read since was taken for the retry's answer, and the old
    // failure failed the gate before the service had answered.
    let mut sc = base();
    sc.version = "16.0.0-ee";
    sc.gate.retry_failed = 1;
    sc.gate.timeout = SECS(100);
    sc.timeline = vec![status(0, 0, "failed"), status(0, 1, "passed")];
    sc.services = vec![(SECS(60), Some("passed"))];
    sc.faults = vec![(5, Fault::OddWord)];
    ends(&sc, Verdict::Passed);
}

#[test]
fn safety_a_read_that_does_not_add_up_to_its_x_total_is_read_again() {
    // Found by the simulated GitLab (seeds 6726, 11852): a page missing a check the gate
    // had not seen (the first read, or a check added during the wait) passed the gate.
    // The pages' `X-Total` says how many there are.
    let mut sc = base();
    sc.page_size = 1;
    sc.timeline = vec![status(0, 1, "passed")];
    sc.timeline.push(status(30, 0, "passed"));
    // The first read's page 1 (scan, pending) comes back empty-handed.
    sc.faults = vec![(0, Fault::DropOne)];
    let run = ends(&sc, Verdict::Passed);
    assert!(run.at > SECS(30));
}

#[test]
fn safety_an_mr_read_empty_on_the_first_poll_is_read_again() {
    // Found by the simulated GitLab (seed 22747): three MRs, the first's list read `[]`
    // on the first poll while its check was pending, the others passed: exit 0.
    let mut sc = base();
    sc.start = Start::OpenList;
    sc.targets = vec!["main", "main"];
    sc.checks = vec![("scan", None)];
    sc.timeline = vec![status_on(1, 0, 0, "passed"), status(30, 0, "passed")];
    sc.faults = vec![(0, Fault::EmptyList)];
    let run = ends(&sc, Verdict::Passed);
    assert!(run.at > SECS(30));
}

#[test]
fn liveness_retries_that_meet_faults_never_starve_the_head_reads() {
    // Found by the simulated GitLab (seed 745697, the million-seed run): retries answered
    // 429 and 503 each poll ended the poll before its due head read, so no head was read
    // for 31 polls. Due heads now come before the retries.
    let sc = super::scenario::generate(745_697);
    if let (Err(v), log) = run(&sc) {
        panic!("{}: {}\n{log:#?}", v.invariant, v.detail);
    }
}
