//! The simulated GitLab: the fake GitLab's model (`crates/fake-gitlab`, built era by era
//! from GitLab's source, never from the gate) answering in-process on a virtual clock,
//! with what happens around it: the scenario's timeline, the external services that
//! answer a retry, and the other users of the token who spend its budget. It knows the
//! truth the oracle judges by.

use std::collections::BTreeMap;
use std::time::Duration;

use fake_gitlab::{
    Call, DEV_TOKEN, Era, Exchange, MERGE_SHA, RateLimitHeaders, SHA_A, StatusResponse, Throttle,
    TokenRateLimit, World,
};

use super::scenario::{Change, Scenario, ServiceAnswer, Start};

/// The project of every simulated gate.
pub(super) const PROJECT: u64 = 42;
/// The MRs' iids, by the scenario's MR number.
pub(super) const IIDS: [u64; 3] = [7, 8, 9];
/// The server's Unix clock when a timeline begins.
pub(super) const EPOCH: u64 = 1_750_000_000;

/// The commit the gate was started for.
pub(super) fn gate_sha(sc: &Scenario) -> &'static str {
    match sc.start {
        Start::AfterMerge => MERGE_SHA,
        _ => SHA_A,
    }
}

/// One check as the truth has it on one MR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CheckTruth {
    pub(super) id: u64,
    pub(super) name: String,
    /// As the MR's list would show it now.
    pub(super) status: String,
    /// When the response behind that status was recorded (`None`: no response yet).
    pub(super) since: Option<Duration>,
}

/// One MR as the truth has it.
#[derive(Clone, Debug)]
pub(super) struct MrTruth {
    pub(super) iid: u64,
    pub(super) sha: String,
    pub(super) state: String,
    pub(super) merge_commit: Option<String>,
    /// The checks that apply to it (its list), by id.
    pub(super) checks: Vec<CheckTruth>,
}

pub(super) struct SimGitlab {
    pub(super) world: World,
    /// The commit the gate waits for.
    pub(super) sha: &'static str,
    throttle: Throttle,
    mrs: usize,
    timeline: Vec<(Duration, Change)>,
    next_change: usize,
    /// Every check ever made, in creation order (a `Change` names one by its number).
    check_ids: Vec<u64>,
    services: Vec<ServiceAnswer>,
    next_service: usize,
    /// Answers the services owe a retry: when, on which MR, for which check, what.
    owed: Vec<(Duration, u64, u64, &'static str)>,
    /// The other users of the token: a minute's requests, and what they spent so far of
    /// the current window (window number, count).
    others: Option<(u32, (u64, u32))>,
    pushes: u32,
    now: Duration,
    /// The retries GitLab acted on, per (iid, check id).
    pub(super) retried: BTreeMap<(u64, u64), Vec<Duration>>,
}

impl SimGitlab {
    pub(super) fn new(sc: &Scenario) -> SimGitlab {
        let mut world = World::new(sc.version);
        world.poll_interval_ms = sc.poll_interval;
        world.project_mut(PROJECT).merge_requests.clear();
        for (i, target) in sc.targets.iter().enumerate() {
            let source = format!("feature-{i}");
            world.add_mr(PROJECT, IIDS[i], &source, target, SHA_A, "opened");
        }
        if sc.start == Start::AfterMerge {
            world.merge_mr(PROJECT, IIDS[0], Some(MERGE_SHA), None);
        }
        let check_ids = sc
            .checks
            .iter()
            .enumerate()
            .map(|(i, (name, scope))| {
                let url = format!("https://svc{i}.example.com/hook");
                let scope: Vec<&str> = scope.iter().copied().collect();
                world.add_scoped_check(PROJECT, name, &url, &scope)
            })
            .collect();
        world.token_rate_limit = sc.budget.map(|(per_window, _)| TokenRateLimit {
            per_window,
            window_secs: 60,
            headers: if sc.budget_headers {
                RateLimitHeaders::Always
            } else {
                RateLimitHeaders::On429
            },
        });
        SimGitlab {
            world,
            sha: gate_sha(sc),
            throttle: Throttle::new(),
            mrs: sc.targets.len(),
            timeline: sc.timeline.clone(),
            next_change: 0,
            check_ids,
            services: sc.services.clone(),
            next_service: 0,
            owed: Vec::new(),
            others: sc.budget.map(|(_, others)| (others, (0, 0))),
            pushes: 0,
            now: Duration::ZERO,
            retried: BTreeMap::new(),
        }
    }

    pub(super) fn era(&self) -> Era {
        self.world.era()
    }

    /// The server's Unix time now, in seconds.
    pub(super) fn unix(&self) -> u64 {
        EPOCH + self.now.as_secs()
    }

    /// Lets time pass to `to`: the timeline's changes, the services' answers and the other
    /// users' requests, in order.
    pub(super) fn advance(&mut self, to: Duration) {
        loop {
            let change_at = self.timeline.get(self.next_change).map(|c| c.0);
            let owed_at = self.owed.iter().map(|o| o.0).min();
            match [change_at, owed_at].into_iter().flatten().min() {
                Some(at) if at <= to && owed_at == Some(at) => self.answer_owed(at),
                Some(at) if at <= to => {
                    let (at, change) = self.timeline[self.next_change].clone();
                    self.next_change += 1;
                    self.set_now(at);
                    self.apply(change);
                }
                _ => break,
            }
        }
        self.set_now(to);
    }

    fn set_now(&mut self, now: Duration) {
        self.now = self.now.max(now);
        self.world.set_now_ms(self.now.as_millis() as u64);
        self.others_spend();
    }

    /// The other users of the token spend its budget evenly over each minute.
    fn others_spend(&mut self) {
        let (Some((per_min, spent)), Some(limit)) = (&mut self.others, self.world.token_rate_limit)
        else {
            return;
        };
        let unix = EPOCH + self.now.as_secs();
        let window = unix / 60;
        if spent.0 != window {
            *spent = (window, 0);
        }
        let into = (EPOCH * 1000 + self.now.as_millis() as u64) % 60_000;
        let due = (u64::from(*per_min) * into / 60_000) as u32;
        if due > spent.1 {
            self.throttle.spend(&limit, DEV_TOKEN, due - spent.1, unix);
            spent.1 = due;
        }
    }

    fn answer_owed(&mut self, at: Duration) {
        let i = self
            .owed
            .iter()
            .position(|o| o.0 == at)
            .expect("a due answer");
        let (at, iid, check, status) = self.owed.remove(i);
        self.set_now(at);
        self.respond(iid, check, status);
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Status { mr, check, status } => {
                if let (true, Some(&id)) = (mr < self.mrs, self.check_ids.get(check)) {
                    self.respond(IIDS[mr], id, status);
                }
            }
            Change::Add { name, scope } => {
                let taken = self.project().checks.iter().any(|c| c.name == name);
                if !taken {
                    let url = format!("https://svc{}.example.com/hook", self.check_ids.len());
                    let scope: Vec<&str> = scope.iter().copied().collect();
                    let id = self.world.add_scoped_check(PROJECT, name, &url, &scope);
                    self.check_ids.push(id);
                }
            }
            Change::Remove { check } => {
                if let Some(&id) = self.check_ids.get(check) {
                    self.world
                        .project_mut(PROJECT)
                        .checks
                        .retain(|c| c.id != id);
                }
            }
            Change::Rename { check, name } => {
                let taken = self.project().checks.iter().any(|c| c.name == name);
                let id = self.check_ids.get(check).copied();
                let project = self.world.project_mut(PROJECT);
                if let (false, Some(c)) =
                    (taken, project.checks.iter_mut().find(|c| Some(c.id) == id))
                {
                    c.name = name.to_owned();
                }
            }
            Change::Push { mr } if self.is_open(mr) => {
                self.pushes += 1;
                let sha = format!("{:040x}", 0xc0ffee_u64 + u64::from(self.pushes));
                self.world.push_head(PROJECT, IIDS[mr], &sha);
            }
            Change::Merge { mr } if self.is_open(mr) => {
                let sha = format!("{:040x}", 0xbeef_u64 + mr as u64);
                self.world.merge_mr(PROJECT, IIDS[mr], Some(&sha), None);
            }
            Change::Close { mr } if self.is_open(mr) => {
                self.world.mr_mut(PROJECT, IIDS[mr]).state = "closed".into();
            }
            Change::PollInterval(ms) => self.world.poll_interval_ms = ms,
            Change::Push { .. } | Change::Merge { .. } | Change::Close { .. } => {}
        }
    }

    fn is_open(&self, mr: usize) -> bool {
        mr < self.mrs
            && self
                .world
                .mr(PROJECT, IIDS[mr])
                .is_some_and(|m| m.state == "opened")
    }

    fn project(&self) -> &fake_gitlab::Project {
        self.world.project(PROJECT).expect("the project")
    }

    /// A service posts `status` for `check` on MR `iid`'s head (as the API would take it:
    /// `pending` only from 16.5).
    fn respond(&mut self, iid: u64, check: u64, status: &'static str) {
        if status == "pending" && !self.era().accepts_pending() {
            return;
        }
        let exists = self.project().checks.iter().any(|c| c.id == check);
        let at_ms = self.world.now_ms();
        self.world.next_id += 1;
        let id = self.world.next_id;
        let mr = self.world.mr_mut(PROJECT, iid);
        if exists {
            let sha = mr.sha.clone();
            mr.responses.push(StatusResponse {
                id,
                check_id: check,
                sha,
                status: status.to_owned(),
                at_ms,
            });
        }
    }

    /// Answers one request now.
    pub(super) fn exchange(&mut self, method: &str, target: &str) -> Exchange {
        let call = Call {
            method,
            target,
            token: DEV_TOKEN,
            body: "{}",
        };
        let now_ms = self.now.as_millis() as u64;
        let unix = self.unix();
        self.world.exchange(&mut self.throttle, &call, now_ms, unix)
    }

    /// GitLab acted on a retry of `check` on MR `iid` now: it sends the MR to the check's
    /// service again, which answers in its turn.
    pub(super) fn retried_now(&mut self, iid: u64, check: u64) {
        self.retried.entry((iid, check)).or_default().push(self.now);
        if self.services.is_empty() {
            return;
        }
        let (after, status) = self.services[self.next_service % self.services.len()];
        self.next_service += 1;
        if let Some(status) = status {
            self.owed.push((self.now + after, iid, check, status));
        }
    }

    /// Every MR of the scenario as the truth has it now.
    pub(super) fn truth(&self) -> Vec<MrTruth> {
        let project = self.project();
        IIDS[..self.mrs]
            .iter()
            .filter_map(|&iid| {
                let mr = self.world.mr(PROJECT, iid)?;
                let checks = project
                    .checks
                    .iter()
                    .filter(|c| self.world.lists(PROJECT, iid, c.id))
                    .map(|c| CheckTruth {
                        id: c.id,
                        name: c.name.clone(),
                        status: self
                            .world
                            .status_by_id(PROJECT, iid, c.id)
                            .unwrap_or_default(),
                        since: mr
                            .responses
                            .iter()
                            .rev()
                            .find(|r| r.check_id == c.id && r.sha == mr.sha)
                            .map(|r| Duration::from_millis(r.at_ms)),
                    })
                    .collect();
                Some(MrTruth {
                    iid,
                    sha: mr.sha.clone(),
                    state: mr.state.clone(),
                    merge_commit: mr.merge_commit_sha.clone(),
                    checks,
                })
            })
            .collect()
    }

    /// The MRs a commit look-up for the gate's commit finds now (the truth behind an
    /// answer): open ones holding it, merged ones that landed as it.
    pub(super) fn holding(&self) -> Vec<MrTruth> {
        let sha = self.sha;
        let project = self.project();
        self.truth()
            .into_iter()
            .filter(|t| {
                project.merge_requests.iter().any(|m| {
                    m.iid == t.iid
                        && (m.commits.iter().any(|c| c == sha)
                            || m.merge_commit_sha.as_deref() == Some(sha))
                })
            })
            .collect()
    }
}
