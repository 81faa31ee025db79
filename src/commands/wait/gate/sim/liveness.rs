//! Liveness: what the truth asks of the gate (a verdict, a retry), and the time it may
//! take: a few polls at the pace the gate was allowed, plus what the answers since cost
//! (their own time, and the sleeps a fault or an asked wait allows), plus the head
//! cadence when only a head read can show it (a push, a closing).

use std::time::Duration;

use super::oracle::{
    HEAD_CADENCE, HEAD_CADENCE_POLLS, MS, Oracle, RETRY_ANSWER, Violation, found, violation,
};
use super::scenario::Start;
use super::world::{CheckTruth, MrTruth, SimGitlab};

/// Where the truth stands, when it asks something of the gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// Every selected check passed: exit 0.
    Pass,
    /// A check failed after its retries: exit 1.
    Fail,
    /// A head moved (or every MR of the commit moved before the wait): exit 4.
    Stale,
    /// A gated MR was closed, and the rest decided: seen at the next head read.
    Closed,
    /// Nothing is selected: the wait ends empty.
    Nothing,
    /// A failed check has retries left: the gate retries it.
    Retry(u64, u64),
}

impl Oracle {
    /// After every step: what the truth asks of the gate, and whether it is overdue.
    pub(super) fn step(&mut self, now: Duration, gitlab: &SimGitlab) -> Result<(), Violation> {
        let due = self.due_now(now, gitlab);
        match (&due, &self.due) {
            (Some(d), Some((was, ..))) if d == was => {}
            (Some(d), _) => {
                // The gate may be in a sleep the last answer allowed.
                let steady = self.steady();
                let asleep = self
                    .served
                    .last()
                    .map_or(Duration::ZERO, |s| self.allowed(s));
                let asleep = asleep.max(self.carried).saturating_sub(steady);
                self.due = Some((d.clone(), now, asleep, steady));
            }
            (None, _) => self.due = None,
        }
        let Some((due, since, extra, steady)) = self.due.clone() else {
            return Ok(());
        };
        let bound = since + self.bound(&due, steady) + extra;
        if bound < self.sc.gate.timeout {
            self.armed = true;
        }
        if now > bound {
            return violation(
                "liveness: what is due is done within its bound",
                format!("{due:?} due since {since:?} (bound {bound:?}), still running at {now:?}"),
            );
        }
        Ok(())
    }

    /// How long a due verdict may take, before the time the answers add, the gate
    /// allowed `steady` between polls.
    fn bound(&self, due: &Due, steady: Duration) -> Duration {
        let poll = steady + (self.sc.latency + MS(1)) * 24;
        let polls = |n: u32| poll * n;
        match due {
            // A retried check's `failed` may be the old one, or its service's new answer:
            // the gate cannot always tell before `RETRY_ANSWER`.
            Due::Retry(iid, check) if self.asked(*iid, *check) > 0 => polls(2) + RETRY_ANSWER,
            Due::Retry(..) => polls(2),
            Due::Pass | Due::Nothing => polls(4),
            Due::Fail => polls(4) + RETRY_ANSWER,
            // Seen at the next head read: every 30 polls or 5 minutes.
            Due::Stale | Due::Closed => polls(3) + HEAD_CADENCE.min(poll * HEAD_CADENCE_POLLS),
        }
    }

    /// What the truth asks of the gate now, if anything.
    fn due_now(&self, now: Duration, gitlab: &SimGitlab) -> Option<Due> {
        let due = self.due_on_open(now, gitlab)?;
        // An MR closed under the gate is seen at its next head read, every 30 polls or 5
        // minutes: until then its checks still count.
        let gated = self.gated().unwrap_or_default();
        let unseen = gitlab
            .truth()
            .iter()
            .any(|m| gated.contains(&m.iid) && m.state == "closed" && !self.shown_closed(m.iid));
        Some(match due {
            Due::Pass | Due::Fail | Due::Nothing if unseen => Due::Closed,
            due => due,
        })
    }

    /// What the truth asks of the gate, counting only the MRs open now.
    fn due_on_open(&self, now: Duration, gitlab: &SimGitlab) -> Option<Due> {
        let truth = gitlab.truth();
        let gated = match self.sc.start {
            Start::Iid | Start::OpenList => self.gated()?,
            _ => {
                let (gated, moved) = self.of_commit(&found(&gitlab.holding()));
                if moved && self.gated().is_none() {
                    return Some(Due::Stale);
                }
                self.gated().unwrap_or(gated)
            }
        };
        let mrs: Vec<&MrTruth> = truth.iter().filter(|m| gated.contains(&m.iid)).collect();
        // A merged MR found by the look-up cannot move: its head is not read.
        let moved =
            |m: &&&MrTruth| m.state != "closed" && m.sha != self.sha && !self.found_merged(m.iid);
        if mrs.iter().any(|m| moved(&m)) {
            return Some(Due::Stale);
        }
        let open: Vec<&&MrTruth> = mrs.iter().filter(|m| m.state != "closed").collect();
        if open.is_empty() {
            return Some(Due::Closed);
        }
        let names = &self.sc.gate.names;
        if !names
            .iter()
            .all(|n| open.iter().any(|m| m.checks.iter().any(|c| &c.name == n)))
        {
            return None;
        }
        let selected: Vec<(u64, &CheckTruth)> = open
            .iter()
            .flat_map(|m| m.checks.iter().map(move |c| (m.iid, c)))
            .filter(|(_, c)| self.selected(&c.name))
            .collect();
        if selected.is_empty() {
            return Some(Due::Nothing);
        }
        let passed = |s: &str| matches!(s, "passed" | "approved");
        let spent = |iid, c: &CheckTruth| {
            self.asked(iid, c.id) >= self.sc.gate.retry_failed as usize || self.refused(iid, c.id)
        };
        let fresh = |iid, c: &CheckTruth| self.fresh(gitlab, iid, c, now);
        let failed_for_good =
            |&(iid, c): &(u64, &CheckTruth)| c.status == "failed" && spent(iid, c) && fresh(iid, c);
        if self.sc.gate.fail_fast && selected.iter().any(failed_for_good) {
            return Some(Due::Fail);
        }
        if let Some((iid, c)) = selected
            .iter()
            .find(|(iid, c)| c.status == "failed" && !spent(*iid, c) && fresh(*iid, c))
        {
            return Some(Due::Retry(*iid, c.id));
        }
        if selected.iter().all(|(_, c)| passed(&c.status)) {
            return Some(Due::Pass);
        }
        let decided = selected
            .iter()
            .all(|s| passed(&s.1.status) || failed_for_good(s));
        (!self.sc.gate.fail_fast && decided).then_some(Due::Fail)
    }

    /// Is check `c`'s `failed` the answer to its last retry GitLab acted on (or no retry
    /// was), or has the service had `RETRY_ANSWER` to answer it?
    pub(super) fn fresh(&self, gitlab: &SimGitlab, iid: u64, c: &CheckTruth, at: Duration) -> bool {
        let retried = gitlab.retried.get(&(iid, c.id));
        match retried.and_then(|r| r.iter().rev().find(|t| **t <= at)) {
            Some(&retried) => c.since.is_some_and(|s| s >= retried) || at >= retried + RETRY_ANSWER,
            None => true,
        }
    }
}
