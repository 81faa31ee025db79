//! The promises of docs/reliability.md, judged from the world's truth and the requests
//! it served, never from the gate's state or rules: the oracle states each promise, and
//! its constants, itself. A misreading of GitLab that the gate and the oracle shared
//! could not show; here one shows as a disagreement.
//!
//! After every request: the sleep before it (bounds), `Retry-After`, the `Poll-Interval`
//! and the retries asked for (politeness). After every step: that a verdict due is not
//! overdue (liveness). At the end: that the verdict is one the truth allows (safety),
//! in `verdicts.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::liveness::Due;
use super::network::{Endpoint, Served};
use super::scenario::{Scenario, Start};
use super::world::{IIDS, MrTruth, gate_sha};

pub(super) const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// GitLab's own pending timeout (16.6+): the oracle gives a retried check this long
/// for its service's new answer before its old `failed` stands.
pub(super) const RETRY_ANSWER: Duration = Duration::from_secs(120);
/// No wait the gate chooses itself is longer; a `Retry-After` may be.
const LONGEST_CHOSEN: Duration = Duration::from_secs(300);
/// The spread the gate may add to a wait it was asked for.
const SPREAD: f64 = 0.1;
/// Heads are read at least this often, or every 30 polls.
pub(super) const HEAD_CADENCE: Duration = Duration::from_secs(300);
pub(super) const HEAD_CADENCE_POLLS: u32 = 30;

#[derive(Debug)]
pub(super) struct Violation {
    pub(super) invariant: &'static str,
    pub(super) detail: String,
}

/// One MR as a look-up lists it: its iid, its state, its head when said.
#[derive(Clone, Debug)]
pub(super) struct Found {
    pub(super) iid: u64,
    pub(super) state: String,
    pub(super) sha: Option<String>,
    pub(super) merge_commit: Option<String>,
}

/// The MRs of the truth as a look-up would list them.
pub(super) fn found(holding: &[MrTruth]) -> Vec<Found> {
    holding
        .iter()
        .map(|m| Found {
            iid: m.iid,
            state: m.state.clone(),
            sha: Some(m.sha.clone()),
            merge_commit: m.merge_commit.clone(),
        })
        .collect()
}

pub(super) fn violation<T>(invariant: &'static str, detail: String) -> Result<T, Violation> {
    Err(Violation { invariant, detail })
}

/// How often each promise was put to the test, over the seeds run.
#[derive(Clone, Debug, Default)]
pub(super) struct Stats {
    pub(super) seeds: u64,
    /// Seeds on which a verdict (or retry) fell due before the timeout, so that liveness
    /// could have failed.
    pub(super) liveness: u64,
    pub(super) liveness_with_faults: u64,
    pub(super) told_poll_interval: u64,
    pub(super) retry_after: u64,
    pub(super) retries: u64,
    pub(super) lies: u64,
    pub(super) ends: BTreeMap<String, u64>,
}

pub(super) struct Oracle {
    pub(super) sc: Scenario,
    pub(super) sha: &'static str,
    pub(super) served: Vec<Served>,
    /// The `Poll-Interval` the gate was told last.
    pub(super) told: Option<i64>,
    /// When the last poll began, and the pace the gate knew then.
    pub(super) poll_began: Option<(Duration, Option<Duration>)>,
    /// The longest wait a budget of this poll's list answers allows.
    pub(super) carried: Duration,
    /// Complete polls, and whether the first was read again at once.
    pub(super) polls_complete: u32,
    pub(super) confirmed: bool,
    /// The list request before this one (for polls: a new poll starts at a page 1 of an
    /// MR no later than the last one read).
    pub(super) last_list: Option<u64>,
    /// What is due, since when, how much the answers since then may add to it, and the
    /// longest steady sleep the gate was allowed meanwhile.
    pub(super) due: Option<(Due, Duration, Duration, Duration)>,
    /// Polls since the last head read, when it was, and what the answers since then
    /// asked to wait on top.
    pub(super) since_head: (u32, Duration, Duration),
    pub(super) armed: bool,
    pub(super) faults_while_due: bool,
}

impl Oracle {
    pub(super) fn new(sc: &Scenario) -> Oracle {
        Oracle {
            sha: gate_sha(sc),
            sc: sc.clone(),
            served: Vec::new(),
            told: None,
            poll_began: None,
            carried: Duration::ZERO,
            polls_complete: 0,
            confirmed: false,
            last_list: None,
            due: None,
            since_head: (0, Duration::ZERO, Duration::ZERO),
            armed: false,
            faults_while_due: false,
        }
    }

    pub(super) fn selected(&self, name: &str) -> bool {
        let g = &self.sc.gate;
        (g.names.is_empty() || g.names.iter().any(|n| n == name))
            && !g.ignore.iter().any(|n| n == name)
    }

    /// The pace the gate may not poll faster than, once told a `Poll-Interval`.
    fn pace(&self) -> Option<Duration> {
        match self.told {
            Some(ms) if ms > 0 => {
                Some(MS(ms as u64).min(LONGEST_CHOSEN).max(self.sc.gate.interval))
            }
            _ => None,
        }
    }

    /// The longest sleep after a successful answer: `--max-interval`, or the pace when
    /// longer (`--max-interval` when polling is turned off).
    pub(super) fn steady(&self) -> Duration {
        self.sc
            .gate
            .max_interval
            .max(self.pace().unwrap_or_default())
    }

    /// The longest sleep `served` allows before the next request.
    pub(super) fn allowed(&self, served: &Served) -> Duration {
        let mut allowed = self.steady();
        if let Some(asked) = served.retry_after {
            allowed = allowed.max(asked + asked.min(LONGEST_CHOSEN).mul_f64(SPREAD));
        }
        if let Some(reset) = served.reset_in {
            allowed = allowed.max(reset.min(LONGEST_CHOSEN).mul_f64(1.0 + SPREAD));
        }
        allowed
    }

    /// Before a request at `now`.
    pub(super) fn before(&mut self, now: Duration, endpoint: Endpoint) -> Result<(), Violation> {
        let start_spread = SECS(1).min(self.sc.gate.interval);
        let (last_at, allowed) = match self.served.last() {
            Some(last) => (last.answered, self.allowed(last)),
            None => (Duration::ZERO, start_spread),
        };
        // A list answer's budget may set the wait after the rest of its poll (a head
        // read, a retry), which carry no budget the gate reads.
        let allowed = allowed.max(self.carried);
        let gap = now.saturating_sub(last_at);
        if gap > allowed + MS(1) {
            return violation(
                "bounds: no sleep longer than --max-interval unless asked",
                format!("slept {gap:?} at {now:?}, allowed {allowed:?}"),
            );
        }
        for s in self.served.iter().rev().take(8) {
            if let Some(asked) = s.retry_after
                && now + MS(1) < s.answered + asked
            {
                return violation(
                    "politeness: no request before a Retry-After has passed",
                    format!("at {now:?}, asked {asked:?} at {:?}", s.answered),
                );
            }
        }
        match endpoint {
            Endpoint::List { iid, page: 1 } => {
                self.poll_begins(now, iid)?;
                self.carried = Duration::ZERO;
            }
            Endpoint::List { iid, .. } => self.last_list = Some(iid),
            Endpoint::Retry { iid, check } => self.retry_asked(iid, check)?,
            // The duty is to ask: a head read that meets a fault is asked again next poll.
            Endpoint::Head { .. } => self.since_head = (0, now, Duration::ZERO),
            Endpoint::LookUp { .. } => {}
        }
        Ok(())
    }

    fn poll_begins(&mut self, now: Duration, iid: u64) -> Result<(), Violation> {
        let new_poll = self.last_list.is_none_or(|last| iid <= last);
        self.last_list = Some(iid);
        if !new_poll {
            return Ok(());
        }
        // The first complete poll may read every list again at once: a second read
        // confirms what the first alone could not be trusted with.
        let confirming = self.polls_complete == 1
            && !self.confirmed
            && self
                .served
                .last()
                .is_some_and(|s| s.answered == now && s.good());
        if confirming {
            self.confirmed = true;
            return Ok(());
        }
        // The pace the gate was told last (at the poll before, or earlier).
        if let (Some((prev, _)), Some(pace)) = (self.poll_began, self.pace())
            && now + MS(1) < prev + pace
        {
            return violation(
                "politeness: polls no closer than the Poll-Interval",
                format!("polls at {prev:?} and {now:?}, pace {pace:?}"),
            );
        }
        self.poll_began = Some((now, self.pace()));
        // A merged MR's head cannot move: it is not read again.
        let moving = self.gated().is_some_and(|g| {
            g.iter()
                .any(|i| !self.shown_closed(*i) && !self.shown_merged(*i) && !self.found_merged(*i))
        });
        let merged_only = !moving;
        let (polls, at, asked) = self.since_head;
        let cadence = HEAD_CADENCE + self.steady() + asked + SECS(5);
        if !merged_only && (polls > HEAD_CADENCE_POLLS || now > at + cadence) {
            let heads_read = self
                .served
                .iter()
                .any(|s| matches!(s.endpoint, Endpoint::Head { .. }));
            // Before the first verdict a head read is not due; after the first, it is.
            if heads_read {
                return violation(
                    "liveness: the heads are read every 30 polls or 5 minutes",
                    format!("{polls} polls since the head read at {at:?}, now {now:?}"),
                );
            }
        }
        Ok(())
    }

    /// Retries of `check` GitLab acted on or may have: every one not answered with a
    /// word that it did not act (a 429, a 503, a refused connection).
    pub(super) fn asked(&self, iid: u64, check: u64) -> usize {
        self.retries_of(iid, check)
            .filter(|s| !s.said_not_acted)
            .count()
    }

    /// Whether GitLab refused to retry `check` (403, 404): never asked again.
    pub(super) fn refused(&self, iid: u64, check: u64) -> bool {
        self.retries_of(iid, check)
            .any(|s| matches!(s.status, Some(403 | 404)))
    }

    fn retries_of(&self, iid: u64, check: u64) -> impl Iterator<Item = &Served> {
        let retry = Endpoint::Retry { iid, check };
        self.served.iter().filter(move |s| s.endpoint == retry)
    }

    fn retry_asked(&mut self, iid: u64, check: u64) -> Result<(), Violation> {
        if self.refused(iid, check) {
            return violation(
                "politeness: a check GitLab refused to retry is not retried again",
                format!("check {check} on !{iid}"),
            );
        }
        let asked = self.asked(iid, check);
        if asked >= self.sc.gate.retry_failed as usize {
            return violation(
                "politeness: no more retries of a check than --retry-failed",
                format!("retry {} of check {check} on !{iid}", asked + 1),
            );
        }
        if let Some((Due::Retry(i, c), ..)) = &self.due
            && (*i, *c) == (iid, check)
        {
            self.due = None;
        }
        Ok(())
    }

    /// An answer came.
    pub(super) fn answered(&mut self, served: Served) {
        let first_of_poll = matches!(served.endpoint, Endpoint::List { page: 1, .. })
            && self.poll_began.is_some_and(|(t, _)| t == served.sent);
        // A header counts with a body the gate takes (a bad body's headers are not read).
        if first_of_poll
            && served.good()
            && let Some(pi) = served.poll_interval.filter(|p| *p != 0)
        {
            self.told = Some(pi);
        }
        // A due verdict may wait for what an answer costs: its time, and the sleep it
        // allows when it was a setback, an odd body, or asked for a wait.
        if matches!(served.endpoint, Endpoint::List { .. }) && served.good() {
            self.carried = self.carried.max(self.allowed(&served));
        }
        let setback = !served.good() || served.lie.is_some();
        let asked = served.reset_in.is_some() || served.retry_after.is_some();
        let cost = served.answered - served.sent;
        let cost = cost
            + if setback || asked {
                self.allowed(&served)
            } else {
                Duration::ZERO
            };
        self.since_head.2 += cost;
        let steady = self.steady();
        if let Some((_, _, extra, longest)) = &mut self.due {
            *extra += cost;
            *longest = (*longest).max(steady);
            self.faults_while_due |= setback;
        }
        self.served.push(served);
        let last = self.served.last().expect("just served").clone();
        self.count_polls(&last);
    }

    /// Complete polls since the last head read: a poll is complete with a complete read
    /// of the last gated MR not shown closed (each poll reads the MRs in order).
    fn count_polls(&mut self, served: &Served) {
        let Endpoint::List { iid, page } = served.endpoint else {
            return;
        };
        if !served.good() || served.next_page.is_some_and(|n| n > page) {
            return;
        }
        let last = self
            .gated()
            .and_then(|g| g.into_iter().rev().find(|i| !self.shown_closed(*i)));
        let read_ends_here = self.reads(iid).last().and_then(|r| r.last()).copied();
        if last == Some(iid) && read_ends_here == Some(self.served.len() - 1) {
            self.since_head.0 += 1;
            self.polls_complete += 1;
        }
    }

    /// The MRs the gate should gate: the scenario's, or those the commit's last look-up
    /// listed (open with the SHA, or a head it did not say); `None` before one answered.
    pub(super) fn gated(&self) -> Option<Vec<u64>> {
        let n = self.sc.targets.len();
        if matches!(self.sc.start, Start::Iid | Start::OpenList) {
            return Some(IIDS[..n].to_vec());
        }
        Some(self.of_commit(&self.last_look_up()?.1).0)
    }

    /// The last look-up GitLab answered with a list: its record, and what it listed.
    pub(super) fn last_look_up(&self) -> Option<(&Served, Vec<Found>)> {
        let s = self
            .served
            .iter()
            .rev()
            .find(|s| matches!(s.endpoint, Endpoint::LookUp { .. }) && s.good())?;
        let items = s.json.as_ref().and_then(|j| j.as_array());
        let found = items
            .into_iter()
            .flatten()
            .map(|m| Found {
                iid: m["iid"].as_u64().unwrap_or_default(),
                state: m["state"].as_str().unwrap_or_default().to_owned(),
                sha: m["sha"].as_str().map(str::to_owned),
                merge_commit: m["merge_commit_sha"].as_str().map(str::to_owned),
            })
            .collect();
        Some((s, found))
    }

    /// What a look-up's list is to the gate: the MRs it gates, and whether every open one
    /// moved on. An open MR whose head is not said may still be at the SHA.
    pub(super) fn of_commit(&self, found: &[Found]) -> (Vec<u64>, bool) {
        let open: Vec<&Found> = found.iter().filter(|m| m.state == "opened").collect();
        let at_sha: Vec<u64> = open
            .iter()
            .filter(|m| m.sha.as_deref().is_none_or(|h| h == self.sha))
            .map(|m| m.iid)
            .collect();
        if !open.is_empty() {
            return (at_sha.clone(), at_sha.is_empty());
        }
        // A merged MR the commit landed as: its merge commit, or its head (fast-forward).
        let landed = |m: &&Found| {
            m.state == "merged"
                && (m.merge_commit.as_deref() == Some(self.sha)
                    || m.sha.as_deref() == Some(self.sha))
        };
        let merged = found.iter().find(landed).map(|m| m.iid);
        (merged.into_iter().collect(), false)
    }

    pub(super) fn faults_while_due(&self) -> bool {
        self.faults_while_due
    }
}
