//! One simulated timeline, from a seed: what the gate is asked, the GitLab it meets
//! (its version, its checks and merge requests, what happens to them, the services that
//! answer a retry, the token's budget) and what the network does to each request. And
//! the shrinking of a timeline that breaks a promise to the smallest that still does.

use std::time::Duration;

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The versions a simulated GitLab runs: each era of `docs/gitlab-api.md` that changes
/// what the gate sees (14.x approves, no retry before 15.7, no `Poll-Interval` before
/// 15.10, a retry reads pending from 16.1, a pending times out from 16.6).
pub(super) const VERSIONS: [&str; 11] = [
    "14.5.2-ee",
    "15.0.0-ee",
    "15.6.0-ee",
    "15.8.0-ee",
    "15.10.0-ee",
    "16.0.0-ee",
    "16.1.0-ee",
    "16.5.0-ee",
    "16.6.0-ee",
    "17.5.0-ee",
    "18.9.0-ee",
];

/// Branches the MRs target; a check may be limited to one of them.
pub(super) const BRANCHES: [&str; 2] = ["main", "release"];
pub(super) const NAMES: [&str; 6] = ["scan", "lint", "Scan", "review", "deploy", "perf"];

/// How the gate learns its merge requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// `CI_MERGE_REQUEST_IID` (one MR).
    Iid,
    /// `CI_OPEN_MERGE_REQUESTS`.
    OpenList,
    /// A branch pipeline without it: the commit's look-up.
    LookUp,
    /// A pipeline of the merge commit after the merge: the look-up finds the merged MR.
    AfterMerge,
}

#[derive(Clone, Debug)]
pub(super) struct GateOptions {
    pub(super) timeout: Duration,
    pub(super) interval: Duration,
    pub(super) max_interval: Duration,
    pub(super) fail_fast: bool,
    pub(super) retry_failed: u32,
    pub(super) names: Vec<String>,
    pub(super) ignore: Vec<String>,
}

/// Something that happens to GitLab at a time.
#[derive(Clone, Debug)]
pub(super) enum Change {
    /// A service answers for check number `check` (in creation order) on MR `mr`.
    Status {
        mr: usize,
        check: usize,
        status: &'static str,
    },
    Add {
        name: &'static str,
        scope: Option<&'static str>,
    },
    Remove {
        check: usize,
    },
    Rename {
        check: usize,
        name: &'static str,
    },
    Push {
        mr: usize,
    },
    Merge {
        mr: usize,
    },
    Close {
        mr: usize,
    },
    PollInterval(i64),
}

/// A `Retry-After` as a server or a proxy writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    Secs(u64),
    /// An HTTP date this many seconds ahead of the server's clock.
    Date(u64),
}

/// What the network (a proxy, a load balancer, GitLab's own front) does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    // Before GitLab acts: the request never reached it.
    /// A proxy's 429: no `Retry-After`, no `RateLimit-*`.
    Bare429,
    /// A 429 with `Retry-After`, and `RateLimit-*` whose reset is this far from the
    /// server's clock (negative: past) when given.
    Throttled(Option<After>, Option<i64>),
    Unavailable503(Option<After>),
    Html502,
    Refused,
    /// No answer within the request's timeout.
    Timeout,
    // After GitLab acted: its answer is lost.
    Html502After,
    Json500After,
    Gateway504After,
    ResetAfter,
    TimeoutAfter,
    /// A 200 whose body is not JSON (a proxy's page, a cut answer).
    GarbageAfter,
    // GitLab answered; the body is valid JSON, but odd.
    /// A list or look-up read as `[]`.
    EmptyList,
    /// One check missing from a list page.
    DropOne,
    /// One check listed twice.
    Duplicate,
    /// A status word GitLab never sent.
    OddWord,
    /// `"sha": null` (GitLab's `diff_head_sha` while it prepares the diff).
    NullSha,
    /// No `sha` key at all.
    MissingSha,
    /// A state word GitLab never sent.
    OddState,
    /// A slow answer (ms), within the request's timeout or not.
    Slow(u64),
    /// The token was revoked: 401 from then on.
    Revoked,
}

/// An external service's answer to a retry: after this long, this status (`None`: it
/// never answers).
pub(super) type ServiceAnswer = (Duration, Option<&'static str>);

#[derive(Clone, Debug)]
pub(super) struct Scenario {
    pub(super) seed: u64,
    pub(super) version: &'static str,
    /// The gate is told the version (`CI_SERVER_VERSION_*`): a job's usual case.
    pub(super) told_version: bool,
    pub(super) gate: GateOptions,
    pub(super) start: Start,
    /// The target branch of each MR (iids 7, 8, 9).
    pub(super) targets: Vec<&'static str>,
    /// The project's checks: name, and the branch it is limited to.
    pub(super) checks: Vec<(&'static str, Option<&'static str>)>,
    /// Checks a page: stands for GitLab's 100, so that lists of a few checks paginate.
    pub(super) page_size: usize,
    pub(super) poll_interval: i64,
    /// The token's budget a minute, and what the other gates of the token spend of it.
    pub(super) budget: Option<(u32, u32)>,
    /// `RateLimit-*` on every answer (else on the 429s only).
    pub(super) budget_headers: bool,
    pub(super) timeline: Vec<(Duration, Change)>,
    /// How the services answer each retry GitLab acts on, in turn.
    pub(super) services: Vec<ServiceAnswer>,
    /// The n-th request meets this fault.
    pub(super) faults: Vec<(usize, Fault)>,
    pub(super) latency: Duration,
    /// The runner's clock, ahead (+) or behind (-) the server's, in seconds.
    pub(super) skew: i64,
}

/// A scenario from a seed.
pub(super) fn generate(seed: u64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = match rng.u8(..10) {
        0..=4 => Start::Iid,
        5..=6 => Start::OpenList,
        7..=8 => Start::LookUp,
        _ => Start::AfterMerge,
    };
    let mrs = match start {
        Start::Iid | Start::AfterMerge => 1,
        _ if rng.u8(..3) == 0 => rng.usize(2..=3),
        _ => 1,
    };
    let targets = (0..mrs)
        .map(|_| BRANCHES[usize::from(rng.u8(..5) == 0)])
        .collect();
    let count = if rng.u8(..10) == 0 {
        0
    } else {
        rng.usize(1..=4)
    };
    let checks = (0..count)
        .map(|i| {
            (
                NAMES[i],
                (rng.u8(..5) == 0).then(|| BRANCHES[rng.usize(..2)]),
            )
        })
        .collect::<Vec<_>>();
    let gate = options(&mut rng);
    let poll_interval = match rng.u8(..6) {
        0 => 0,
        1 => -1,
        2 => rng.i64(1..=3_600_000),
        _ => rng.i64(500..=15_000),
    };
    let mut timeline = Vec::new();
    let limit = gate.timeout.as_millis() as u64;
    for _ in 0..rng.usize(0..=12) {
        let at = MS(rng.u64(0..=limit));
        timeline.push((at, change(&mut rng, mrs, checks.len())));
    }
    // A check fails early where retries are asked for: the services answer the retries.
    if gate.retry_failed > 0 && !checks.is_empty() {
        let at = MS(rng.u64(0..=limit / 3));
        let (mr, check) = (rng.usize(..mrs), rng.usize(..checks.len()));
        timeline.push((
            at,
            Change::Status {
                mr,
                check,
                status: "failed",
            },
        ));
    }
    // Most timelines end with every check passing, in time for the gate to see it.
    if rng.u8(..4) != 0 {
        let at = MS(rng.u64(0..=limit / 2));
        for mr in 0..mrs {
            for check in 0..checks.len() + 2 {
                let status = "passed";
                timeline.push((at, Change::Status { mr, check, status }));
            }
        }
    }
    timeline.sort_by_key(|(at, _)| *at);
    let services = (0..4)
        .map(|_| {
            let status = match rng.u8(..4) {
                0 => None,
                1 => Some("failed"),
                _ => Some("passed"),
            };
            (MS(rng.u64(0..=200_000)), status)
        })
        .collect();
    let budget = (rng.u8(..4) == 0).then(|| {
        let limit = rng.u32(30..=2000);
        (limit, rng.u32(0..=limit + limit / 5))
    });
    Scenario {
        seed,
        version: VERSIONS[rng.usize(..VERSIONS.len())],
        told_version: rng.u8(..5) != 0,
        gate,
        start,
        targets,
        checks,
        page_size: rng.usize(1..=3),
        poll_interval,
        budget,
        budget_headers: rng.bool(),
        timeline,
        services,
        faults: faults(&mut rng),
        latency: MS(rng.u64(0..=300)),
        skew: [0, 0, 600, -600, 37][rng.usize(..5)],
    }
}

fn options(rng: &mut fastrand::Rng) -> GateOptions {
    let interval = MS(rng.u64(100..=5000));
    let name = |rng: &mut fastrand::Rng, of: usize| NAMES[rng.usize(..of)].to_owned();
    GateOptions {
        timeout: SECS(rng.u64(5..=600)),
        interval,
        max_interval: interval + MS(rng.u64(0..=25_000)),
        fail_fast: rng.u8(..4) != 0,
        retry_failed: if rng.u8(..3) == 0 { rng.u32(1..=2) } else { 0 },
        names: (rng.u8(..6) == 0)
            .then(|| name(rng, 3))
            .into_iter()
            .collect(),
        ignore: (rng.u8(..5) == 0)
            .then(|| name(rng, 5))
            .into_iter()
            .collect(),
    }
}

fn change(rng: &mut fastrand::Rng, mrs: usize, checks: usize) -> Change {
    let mr = rng.usize(..mrs);
    let check = rng.usize(..checks + 2);
    match rng.u8(..20) {
        0..=9 => Change::Status {
            mr,
            check,
            status: ["failed", "pending", "passed", "passed", "passed"][rng.usize(..5)],
        },
        10 => Change::Add {
            name: NAMES[rng.usize(..NAMES.len())],
            scope: (rng.u8(..4) == 0).then(|| BRANCHES[rng.usize(..2)]),
        },
        11 => Change::Remove { check },
        12 => Change::Rename {
            check,
            name: NAMES[rng.usize(..NAMES.len())],
        },
        13 => Change::Push { mr },
        14 => Change::Merge { mr },
        15 => Change::Close { mr },
        16 => Change::PollInterval(match rng.u8(..4) {
            0 => 0,
            1 => -1,
            2 => rng.i64(1..=3_600_000),
            _ => rng.i64(500..=20_000),
        }),
        _ => Change::Status {
            mr,
            check,
            status: "passed",
        },
    }
}

fn after(rng: &mut fastrand::Rng) -> After {
    let secs = match rng.u8(..6) {
        0 => 0,
        1 => rng.u64(600..=86_400),
        _ => rng.u64(1..=40),
    };
    if rng.bool() {
        After::Secs(secs)
    } else {
        After::Date(secs)
    }
}

fn faults(rng: &mut fastrand::Rng) -> Vec<(usize, Fault)> {
    let rate = [0, 3, 10, 20, 30][rng.usize(..5)];
    let mut faults = Vec::new();
    for i in 0..600 {
        if rng.u8(..100) >= rate {
            continue;
        }
        let fault = match rng.u8(..26) {
            0 => Fault::Bare429,
            1 | 2 => {
                let reset = match rng.u8(..4) {
                    0 => None,
                    1 => Some(-rng.i64(1..=120)),
                    2 => Some(rng.i64(3_000..=86_400)),
                    _ => Some(rng.i64(0..=60)),
                };
                Fault::Throttled(rng.bool().then(|| after(rng)), reset)
            }
            3 => Fault::Unavailable503(rng.bool().then(|| after(rng))),
            4 => Fault::Html502,
            5 => Fault::Refused,
            6 => Fault::Timeout,
            7 => Fault::Html502After,
            8 => Fault::Json500After,
            9 => Fault::Gateway504After,
            10 => Fault::ResetAfter,
            11 => Fault::TimeoutAfter,
            12 | 13 => Fault::GarbageAfter,
            14 | 15 => Fault::EmptyList,
            16 | 17 => Fault::DropOne,
            18 => Fault::Duplicate,
            19 => Fault::OddWord,
            20 | 21 => Fault::NullSha,
            22 => Fault::MissingSha,
            23 => Fault::OddState,
            24 => Fault::Slow(rng.u64(0..=6000)),
            _ if rng.u8(..20) == 0 => Fault::Revoked,
            _ => Fault::Slow(rng.u64(0..=1000)),
        };
        faults.push((i, fault));
    }
    faults
}

/// Each scenario one step simpler than `sc`.
pub(super) fn simpler(sc: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut with = |change: &dyn Fn(&mut Scenario)| {
        let mut tried = sc.clone();
        change(&mut tried);
        out.push(tried);
    };
    for i in (0..sc.timeline.len()).rev() {
        with(&|t| _ = t.timeline.remove(i));
    }
    for i in (0..sc.faults.len()).rev() {
        with(&|t| _ = t.faults.remove(i));
    }
    for i in (0..sc.checks.len()).rev() {
        with(&|t| _ = t.checks.remove(i));
    }
    if sc.page_size < 100 {
        with(&|t| t.page_size = 100);
    }
    if sc.budget.is_some() {
        with(&|t| t.budget = None);
    }
    if sc.gate.retry_failed > 0 {
        with(&|t| t.gate.retry_failed = 0);
    }
    if !sc.gate.names.is_empty() || !sc.gate.ignore.is_empty() {
        with(&|t| {
            t.gate.names.clear();
            t.gate.ignore.clear();
        });
    }
    if sc.skew != 0 {
        with(&|t| t.skew = 0);
    }
    out
}
