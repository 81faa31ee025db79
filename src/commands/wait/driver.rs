//! The gate's I/O loop: asks the gate (`gate/`) what to do, does it with the client and
//! the real clock, and hands the gate whatever came back. Every decision is the gate's,
//! what an answer means included; here are only requests, sleeps and the log.

use std::thread;
use std::time::{Duration, Instant};

use super::gate::{Answer, End, Gate, Moved, Mrs, Next, Notice, Request};
use super::progress::Progress;
use crate::checks::{Ctx, Target, Targets, Want};
use crate::config::WaitTask;
use crate::duration::human;
use crate::error::Error;
use crate::gitlab::client::{Method, page_path};
use crate::gitlab::paths;
use crate::sha::Sha;

pub(super) use super::gate::{Tracked, Verdict};

pub(super) struct Driver<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) settings: WaitTask,
    pub(super) sha: Sha,
    /// The gated MRs, in the gate's order (empty until a look-up found them).
    pub(super) mrs: Vec<Target>,
    /// How they were found; after a look-up, what it found.
    targets: Option<Targets>,
    /// The gate is on a merged MR (a deploy after the merge): its head cannot move.
    pub(super) merged: bool,
    pub(super) started: Instant,
    pub(super) gate: Gate,
    /// The request sent last: an error that ends the wait says what it was doing.
    sent: Option<Request>,
    header_shown: bool,
    pub(super) progress: Progress,
}

impl<'c, 'a> Driver<'c, 'a> {
    /// A gate on `given`'s MRs (or the commit's, looked up) for `sha`, from `started`.
    pub(super) fn new(
        ctx: &'c Ctx<'a>,
        settings: WaitTask,
        sha: Sha,
        given: Option<Targets>,
        started: Instant,
    ) -> Driver<'c, 'a> {
        let mrs = given
            .as_ref()
            .map_or(Mrs::LookUp, |t| Mrs::Known(t.mrs.len()));
        let gate = Gate::new(settings.rules.clone(), sha.clone(), mrs, fastrand::u64(..));
        Driver {
            ctx,
            progress: Progress::new(settings.progress_every),
            settings,
            sha,
            mrs: given.as_ref().map(|t| t.mrs.clone()).unwrap_or_default(),
            targets: given,
            merged: false,
            started,
            gate,
            sent: None,
            header_shown: false,
        }
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) fn polls(&self) -> u32 {
        self.gate.rounds
    }

    pub(super) fn checks(&self) -> impl Iterator<Item = &Tracked> {
        self.gate.tracker.checks.values()
    }

    pub(super) fn label(&self, check: &Tracked) -> String {
        self.named(check.mr, &check.name)
    }

    pub(super) fn several(&self) -> bool {
        self.mrs.len() > 1
    }

    /// The transient failure of the latest request, when no round completed since.
    pub(super) fn last_error(&self) -> Option<String> {
        self.gate.last_error.as_ref().map(ToString::to_string)
    }

    /// How the look-up found the MRs, when it found none.
    pub(super) fn none_found(&self) -> Option<&Targets> {
        self.targets.as_ref().filter(|t| t.mrs.is_empty())
    }

    pub(super) fn poll_until_verdict(&mut self) -> Result<Verdict, Error> {
        loop {
            let next = self.gate.next(self.elapsed());
            self.log_notices();
            if self.polls() > 0 && !self.header_shown && !matches!(next, Next::Done(_)) {
                self.header_shown = true;
                self.warn_unmatched_ignores();
                self.header();
            }
            match next {
                Next::Send(request) => {
                    let answer = self.send(&request);
                    self.sent = Some(request);
                    self.gate.handle(self.elapsed(), answer);
                }
                Next::Sleep { until } => {
                    self.report_progress();
                    thread::sleep(until.saturating_sub(self.elapsed()));
                }
                Next::Done(end) => return self.end(end),
            }
        }
    }

    /// One attempt at `request`: whatever comes back is the gate's to read.
    fn send(&self, request: &Request) -> Answer {
        let project = &self.ctx.project().expect("a gate has a project").encoded;
        let (method, path) = match *request {
            Request::FindMrs { page } => {
                let path = paths::commit_mrs(project, &self.sha);
                (Method::Get, page_path(&path, page))
            }
            Request::ReadList { mr, page } => {
                let target = &self.mrs[mr];
                let path = paths::mr_checks(&target.project.encoded, target.iid);
                (Method::Get, page_path(&path, page))
            }
            Request::ReadHead { mr } => (Method::Get, self.ctx.mr_path(&self.mrs[mr])),
            Request::Retry { mr, check } => {
                let target = &self.mrs[mr];
                let path = paths::mr_check_retry(&target.project.encoded, target.iid, check);
                (Method::Post, path)
            }
        };
        self.ctx.client.exchange(method, &path, None)
    }

    fn end(&mut self, end: End) -> Result<Verdict, Error> {
        match end {
            End::Verdict(Verdict::Stale) if self.gate.moved == Some(Moved::BeforeStart) => {
                let targets = self
                    .targets
                    .as_ref()
                    .expect("a look-up found the moved MRs");
                Err(targets.none_found().expect("an MR whose head moved"))
            }
            End::Verdict(verdict) => Ok(verdict),
            End::UnknownNames(missing) => Err(self.unknown_names(&missing)),
            End::Error(e) => {
                let doing = self
                    .sent
                    .as_ref()
                    .map(|r| self.doing(r))
                    .unwrap_or_default();
                Err(Error::from(e).context(doing))
            }
        }
    }

    /// What a request was for, for the error that ends the wait.
    fn doing(&self, request: &Request) -> String {
        match *request {
            Request::FindMrs { .. } => format!(
                "finding the merge requests of {} (no MR IID: CI_MERGE_REQUEST_IID is unset)",
                self.sha.short()
            ),
            Request::ReadList { mr, .. } => {
                format!("listing the status checks of {}", self.mrs[mr].label)
            }
            Request::ReadHead { mr } => format!("reading the head of {}", self.mrs[mr].label),
            Request::Retry { mr, check } => format!("retrying {}", self.check_label(mr, check)),
        }
    }

    fn check_label(&self, mr: usize, check: u64) -> String {
        self.gate
            .tracker
            .checks
            .get(&(mr, check))
            .map_or_else(|| format!("check {check}"), |c| self.label(c))
    }

    fn log_notices(&mut self) {
        let now = human(self.elapsed());
        let log = self.ctx.log;
        for notice in self.gate.notices() {
            let line = match notice {
                Notice::Found(sorted) => {
                    let project = self.ctx.project().expect("a gate has a project");
                    let targets = Targets::of_commit(
                        self.ctx,
                        project,
                        &self.sha,
                        sorted,
                        Want::OpenOrMerged,
                    );
                    self.merged = targets.is_merged();
                    self.mrs = targets.mrs.clone();
                    self.targets = Some(targets);
                    continue;
                }
                Notice::Polled { round } => {
                    log.detail(format!("poll {round} after {now}"));
                    continue;
                }
                Notice::NextPoll { delay } => {
                    log.detail(format!("next poll in {:.1}s", delay.as_secs_f64()));
                    continue;
                }
                Notice::Setback(e) => {
                    let line = format!("{e}: transient, polling again (not a check failure)");
                    log.once(&format!("wait-{}", e.fault_class()), line);
                    continue;
                }
                Notice::HeadUnknown { mr } => {
                    let line = format!(
                        "{}: GitLab does not say its head yet (sha null while it prepares the diff): no verdict until it does",
                        self.mrs[mr].label
                    );
                    log.once("wait-head-unknown", line);
                    continue;
                }
                Notice::Changed { mr, name, from, to } => {
                    format!("{}: {from} → {to} ({now})", self.named(mr, &name))
                }
                Notice::Appeared { mr, name, status } => format!(
                    "{name}: appeared on {} as {status} ({now})",
                    self.mrs[mr].label
                ),
                Notice::Removed { mr, name } => format!(
                    "{name}: no longer on {}, not waited for ({now})",
                    self.mrs[mr].label
                ),
                Notice::Retrying { mr, name, n, limit } => format!(
                    "{}: failed → retrying ({n}/{limit}) ({now})",
                    self.named(mr, &name)
                ),
                Notice::RetryUnanswered { mr, name } => format!(
                    "{}: the answer to the retry was lost; counted as a retry, GitLab may have acted ({now})",
                    self.named(mr, &name)
                ),
                Notice::RetryRefused { mr, name, never } => {
                    let why = match never {
                        Some(message) => {
                            log.warn(format!(
                                "{}: retry not possible: {message}",
                                self.named(mr, &name)
                            ));
                            "GitLab will not retry it".to_owned()
                        }
                        None => "GitLab says it is not failed (422); reading it again".to_owned(),
                    };
                    format!("{}: retry refused: {why} ({now})", self.named(mr, &name))
                }
                Notice::Closed { mr } => format!(
                    "{} was closed: its checks no longer gate ({now})",
                    self.mrs[mr].label
                ),
            };
            log.info(line);
        }
    }

    /// How a check is named in the log: with its MR when the gate covers several.
    fn named(&self, mr: usize, name: &str) -> String {
        if self.several() {
            format!("{} {name}", self.mrs[mr].label)
        } else {
            name.to_owned()
        }
    }
}
