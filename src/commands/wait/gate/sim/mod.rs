//! The gate's simulator: the core driven against a GitLab of its own on a virtual clock,
//! on random timelines, with the promises of docs/reliability.md checked after every
//! step by an oracle that imports nothing from the gate.
//!
//! - `scenario.rs`: a timeline from a seed (the gate's options, GitLab's version, checks
//!   and MRs, what happens to them, the services, the budget, the network's faults), and
//!   shrinking.
//! - `world.rs`: the simulated GitLab, the fake GitLab's model answering in-process.
//! - `network.rs`: what happens on the way: faults before and after GitLab acted, odd
//!   bodies; the record of every request for the oracle.
//! - `oracle.rs`, `verdicts.rs`: the promises.
//!
//! This file is the simulator's driver, as thin as the binary's: it maps the core's
//! requests to GitLab's routes and hands back what was served.
//!
//! `cargo test` runs `SIM_SEEDS` seeds (2,000 by default); `SIM_SEED=N` replays one,
//! `SIM_FROM` starts elsewhere. A failing seed is shrunk and printed.

mod faults;
mod liveness;
mod network;
mod oracle;
#[cfg(test)]
mod regressions;
mod scenario;
mod verdicts;
mod world;

use std::time::Duration;

use super::{Answer, End, Gate, Mrs, Next, Notice, Request, Rules, Verdict};
use crate::config::Selection;
use crate::gitlab::ServerVersion;
use crate::sha::Sha;
use network::{Endpoint, Network};
use oracle::{Oracle, Stats, Violation};
use scenario::{Scenario, Start, generate, simpler};
use world::{IIDS, PROJECT, SimGitlab, gate_sha};

/// What an attempt may take (the client's `--request-timeout` in the simulation).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// How a run went: its end, and what the oracle saw.
struct Run {
    end: End,
    at: Duration,
    armed: bool,
    faults_while_due: bool,
    retry_after: bool,
    told: bool,
    /// Retries the gate sent.
    retries: usize,
    lies: bool,
}

fn rules(sc: &Scenario) -> Rules {
    let told = sc
        .told_version
        .then(|| ServerVersion::parse(sc.version))
        .flatten();
    let g = &sc.gate;
    Rules {
        timeout: g.timeout,
        interval: g.interval,
        max_interval: g.max_interval,
        checks: Selection {
            names: g.names.clone(),
            ignore: g.ignore.clone(),
            retry_limit: g.retry_failed,
            fail_fast: g.fail_fast,
            retry_resets_pending: told.is_some_and(|v| v.retry_resets_pending()),
        },
    }
}

/// Runs `sc` to its end, checking every promise; the log of its steps either way.
fn run(sc: &Scenario) -> (Result<Run, Violation>, Vec<String>) {
    let mut log = Vec::new();
    let result = drive(sc, &mut log);
    (result, log)
}

fn drive(sc: &Scenario, log: &mut Vec<String>) -> Result<Run, Violation> {
    let mut gitlab = SimGitlab::new(sc);
    let mut network = Network::new(sc);
    let mut oracle = Oracle::new(sc);
    let sha = Sha::parse(gate_sha(sc)).expect("a SHA");
    let mrs = match sc.start {
        Start::Iid | Start::OpenList => Mrs::Known(sc.targets.len()),
        Start::LookUp | Start::AfterMerge => Mrs::LookUp,
    };
    let mut iids: Vec<u64> = match mrs {
        Mrs::Known(n) => IIDS[..n].to_vec(),
        Mrs::LookUp => Vec::new(),
    };
    let mut gate = Gate::new(rules(sc), sha, mrs, sc.seed);
    let mut now = Duration::ZERO;
    for _ in 0..200_000 {
        gitlab.advance(now);
        oracle.step(now, &gitlab)?;
        let next = gate.next(now);
        for notice in gate.notices() {
            if let Notice::Found(found) = &notice {
                iids = if found.open.is_empty() {
                    found.merged.into_iter().collect()
                } else {
                    found.open.clone()
                };
            }
            log.push(format!("{notice:?}"));
        }
        log.push(format!("{now:?} {next:?}"));
        match next {
            Next::Send(request) => {
                let (endpoint, target) = route(sc, &iids, gitlab.sha, &request);
                oracle.before(now, endpoint)?;
                let limit = REQUEST_TIMEOUT
                    .min(sc.gate.timeout.saturating_sub(now))
                    .max(Duration::from_millis(100));
                let (answer, served) = network.serve(&mut gitlab, now, endpoint, &target, limit);
                log.push(format!(
                    "  {:?} served {:?}{}",
                    served.answered,
                    served.status,
                    served.lie.map(|l| format!(" ({l:?})")).unwrap_or_default()
                ));
                now = served.answered;
                oracle.answered(served);
                gate.handle(now, answer);
            }
            Next::Sleep { until } => {
                if until <= now && until < sc.gate.timeout {
                    return oracle::violation(
                        "progress: a sleep ends in the future",
                        format!("until {until:?} at {now:?}"),
                    );
                }
                now = until.max(now);
            }
            Next::Done(end) => {
                oracle.check_end(now, &end, &gitlab)?;
                let served = &oracle.served;
                return Ok(Run {
                    end,
                    at: now,
                    armed: oracle.armed,
                    faults_while_due: oracle.faults_while_due(),
                    retry_after: served.iter().any(|s| s.retry_after.is_some()),
                    told: served
                        .iter()
                        .any(|s| s.poll_interval.is_some_and(|p| p > 0)),
                    retries: served
                        .iter()
                        .filter(|s| matches!(s.endpoint, Endpoint::Retry { .. }))
                        .count(),
                    lies: served.iter().any(|s| s.lie.is_some()),
                });
            }
        }
    }
    oracle::violation("progress: the gate ends", "200,000 steps".into())
}

/// The route a request takes, and its target on the wire (check lists in pages of
/// `page_size`, which stands for GitLab's 100).
fn route(sc: &Scenario, iids: &[u64], sha: &str, request: &Request) -> (Endpoint, String) {
    let mr = |i: usize| iids[i];
    let base = format!("/api/v4/projects/{PROJECT}");
    let pages = |page: u32| format!("page={page}&per_page={}", sc.page_size);
    match *request {
        // A commit's MRs are a few: one page of GitLab's 100. (An MR missing from a
        // look-up that found others is not a fault the gate can see.)
        Request::FindMrs { page } => (
            Endpoint::LookUp { page },
            format!("{base}/repository/commits/{sha}/merge_requests?page={page}&per_page=100"),
        ),
        Request::ReadList { mr: i, page } => (
            Endpoint::List { iid: mr(i), page },
            format!(
                "{base}/merge_requests/{}/status_checks?{}",
                mr(i),
                pages(page)
            ),
        ),
        Request::ReadHead { mr: i } => (
            Endpoint::Head { iid: mr(i) },
            format!("{base}/merge_requests/{}", mr(i)),
        ),
        Request::Retry { mr: i, check } => (
            Endpoint::Retry { iid: mr(i), check },
            format!(
                "{base}/merge_requests/{}/status_checks/{check}/retry",
                mr(i)
            ),
        ),
    }
}

/// The smallest scenario that still breaks the same invariant.
fn shrink(mut sc: Scenario, invariant: &str) -> Scenario {
    let breaks = |tried: &Scenario| run(tried).0.is_err_and(|v| v.invariant == invariant);
    loop {
        let mut smaller = false;
        for tried in simpler(&sc) {
            if breaks(&tried) {
                sc = tried;
                smaller = true;
            }
        }
        if !smaller {
            return sc;
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs seeds `from..from + count`, on every core; the first broken one panics with its
/// smallest scenario and how to replay it.
fn run_seeds(from: u64, count: u64) -> Stats {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let stats: Vec<Stats> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || run_share(from, count, t, threads)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    stats.into_iter().fold(Stats::default(), |mut all, s| {
        all.seeds += s.seeds;
        all.liveness += s.liveness;
        all.liveness_with_faults += s.liveness_with_faults;
        all.told_poll_interval += s.told_poll_interval;
        all.retry_after += s.retry_after;
        all.retries += s.retries;
        all.lies += s.lies;
        for (end, n) in s.ends {
            *all.ends.entry(end).or_default() += n;
        }
        all
    })
}

fn run_share(from: u64, count: u64, share: u64, shares: u64) -> Stats {
    let mut stats = Stats::default();
    for seed in (from..from + count).filter(|s| s % shares == share) {
        let sc = generate(seed);
        match run(&sc) {
            (Ok(run), _) => {
                stats.seeds += 1;
                stats.liveness += u64::from(run.armed);
                stats.liveness_with_faults += u64::from(run.armed && run.faults_while_due);
                stats.told_poll_interval += u64::from(run.told);
                stats.retry_after += u64::from(run.retry_after);
                stats.retries += u64::from(run.retries > 0);
                stats.lies += u64::from(run.lies);
                let end = match &run.end {
                    End::Verdict(v) => format!("{v:?}"),
                    End::UnknownNames(_) => "UnknownNames".into(),
                    End::Error(_) => "Error".into(),
                };
                let _ = run.at;
                *stats.ends.entry(end).or_default() += 1;
            }
            (Err(v), _) => {
                let small = shrink(sc, v.invariant);
                let (result, log) = run(&small);
                let v = result.err().unwrap_or(v);
                let keep = if std::env::var_os("SIM_LOG_ALL").is_some() {
                    usize::MAX
                } else {
                    40
                };
                let tail: Vec<&String> = log.iter().rev().take(keep).collect();
                panic!(
                    "seed {seed} broke {}: {}\nreplay: SIM_SEED={seed} cargo test --lib the_gate_keeps_its_promises\nsmallest failing scenario: {small:#?}\nlast steps (newest first): {tail:#?}",
                    v.invariant, v.detail
                );
            }
        }
    }
    stats
}

#[test]
fn the_gate_keeps_its_promises_on_random_timelines() {
    let (from, count) = match env_u64("SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("SIM_FROM").unwrap_or(0),
            env_u64("SIM_SEEDS").unwrap_or(2_000),
        ),
    };
    let stats = run_seeds(from, count);
    eprintln!("{count} seeds from {from}: {stats:?}");
    if count >= 1000 {
        // Most timelines test liveness, many of them with faults after a verdict fell due.
        assert!(stats.liveness * 2 > stats.seeds, "{stats:?}");
        assert!(stats.liveness_with_faults * 7 > stats.seeds, "{stats:?}");
    }
}
