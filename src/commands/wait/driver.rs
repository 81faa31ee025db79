//! The gate's I/O loop: asks the core (`core/`) what to do, does it with the client
//! and the real clock, and tells the core what came back. Every decision is the
//! core's; here are only requests, sleeps, the log, and the errors that end the
//! wait at once (a 401, a 404 on the list, a redirect: nothing to try again).

use std::thread;
use std::time::{Duration, Instant};

use super::core::pacer::Setback;
use super::core::{self, End, Failure, Head, Item, MrState, Next, Page, RetryAnswer, Rules};
use super::progress::Progress;
use super::settings::Settings;
use crate::checks::{self, Ctx, Target, Targets};
use crate::duration::human;
use crate::error::Error;
use crate::gitlab::error::ApiErrorKind;
use crate::gitlab::{ApiError, MergeRequest, MrCheck, paths};
use crate::sha::Sha;

pub(super) use super::core::{Tracked, Verdict};

pub(super) struct Driver<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) settings: Settings,
    pub(super) sha: Sha,
    pub(super) mrs: Vec<Target>,
    /// The gate is on a merged MR (a deploy after the merge): its head cannot move.
    pub(super) merged: bool,
    pub(super) started: Instant,
    pub(super) core: core::Gate,
    /// The transient error of the latest request, when it failed (cleared by a
    /// complete round): a timeout says why nothing was seen.
    pub(super) last_error: Option<String>,
    /// The last undecodable answer, for `End::Undecodable`.
    last_decode_error: Option<ApiError>,
    pub(super) empty_reason: String,
    header_shown: bool,
    pub(super) progress: Progress,
}

impl<'c, 'a> Driver<'c, 'a> {
    /// A gate on `found`'s MRs for `sha`, started at `started`.
    pub(super) fn new(
        ctx: &'c Ctx<'a>,
        settings: Settings,
        sha: Sha,
        found: &Targets,
        started: Instant,
    ) -> Driver<'c, 'a> {
        let rules = Rules {
            timeout: settings.timeout,
            interval: settings.interval,
            max_interval: settings.max_interval,
            fail_fast: settings.fail_fast,
            retry_failed: settings.retry_failed,
            names: settings.names.clone(),
            ignore: settings.ignore.clone(),
            retry_resets_pending: retry_resets_pending(ctx, settings.retry_failed),
        };
        let merged = found.is_merged();
        let core = core::Gate::new(
            rules,
            sha.as_str().to_owned(),
            found.mrs.len(),
            merged,
            fastrand::u64(..),
        );
        let progress = Progress::new(settings.progress_every);
        Driver {
            ctx,
            settings,
            sha,
            mrs: found.mrs.clone(),
            merged,
            started,
            core,
            last_error: None,
            last_decode_error: None,
            empty_reason: String::new(),
            header_shown: false,
            progress,
        }
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) fn polls(&self) -> u32 {
        self.core.rounds
    }

    pub(super) fn checks(&self) -> impl Iterator<Item = &Tracked> {
        self.core.tracker.checks.values()
    }

    pub(super) fn label(&self, check: &Tracked) -> String {
        label(self.several(), &self.mrs[check.mr].label, &check.name)
    }

    pub(super) fn several(&self) -> bool {
        self.mrs.len() > 1
    }

    pub(super) fn poll_until_verdict(&mut self) -> Result<Verdict, Error> {
        loop {
            let action = self.core.next(self.elapsed());
            self.log_events();
            if self.polls() > 0 && !self.header_shown && !matches!(action, Next::Done(_)) {
                self.header_shown = true;
                self.warn_unmatched_ignores();
                self.header();
            }
            match action {
                Next::ReadList { mr, page } => {
                    let answer = self.read_list(mr, page)?;
                    self.core.on_list(self.elapsed(), answer);
                }
                Next::ReadHead { mr } => {
                    let answer = self.read_head(mr)?;
                    self.core.on_head(self.elapsed(), answer);
                }
                Next::Retry { mr, check } => {
                    let answer = self.retry(mr, check)?;
                    self.core.on_retry(self.elapsed(), answer);
                }
                Next::Sleep { until } => {
                    self.report_progress();
                    thread::sleep(until.saturating_sub(self.elapsed()));
                }
                Next::Done(end) => return self.end(end),
            }
        }
    }

    fn end(&mut self, end: End) -> Result<Verdict, Error> {
        match end {
            End::Verdict(verdict) => {
                if verdict == Verdict::Empty {
                    self.empty_reason = self.empty_reason();
                }
                Ok(verdict)
            }
            End::UnknownNames(missing) => Err(self.unknown_names(&missing)),
            End::Undecodable => {
                let e = self
                    .last_decode_error
                    .take()
                    .expect("a decode error ends it");
                Err(Error::from(e).context("reading the gate's merge requests"))
            }
        }
    }

    fn read_list(&mut self, mr: usize, page: u32) -> Result<Result<Page, Failure>, Error> {
        let target = &self.mrs[mr];
        let path = paths::mr_checks(&target.project.encoded, target.iid);
        let label = target.label.clone();
        match self.ctx.client.get_page_once::<MrCheck>(&path, page) {
            Ok((listing, next_page)) => {
                if self.core.is_open(mr) {
                    self.last_error = None;
                }
                Ok(Ok(Page {
                    items: listing
                        .items
                        .into_iter()
                        .map(|c| Item {
                            id: c.id,
                            name: c.name,
                            status: c.status,
                        })
                        .collect(),
                    next_page,
                    poll_interval_ms: listing.poll_interval_ms,
                    budget: listing.budget,
                }))
            }
            Err(e) => self
                .failure(e)
                .map(Err)
                .map_err(|e| e.context(format!("listing the status checks of {label}"))),
        }
    }

    fn read_head(&mut self, mr: usize) -> Result<Result<Head, Failure>, Error> {
        let path = self.ctx.mr_path(&self.mrs[mr]);
        match self.ctx.client.get_once::<MergeRequest>(&path) {
            Ok(read) => Ok(Ok(Head {
                state: match read.state.as_str() {
                    "closed" => MrState::Closed,
                    "merged" => MrState::Merged,
                    _ => MrState::Open,
                },
                sha: read.sha,
            })),
            Err(e) => {
                let label = self.mrs[mr].label.clone();
                self.failure(e)
                    .map(Err)
                    .map_err(|e| e.context(format!("reading the head of {label}")))
            }
        }
    }

    fn retry(&mut self, mr: usize, check: u64) -> Result<RetryAnswer, Error> {
        let target = &self.mrs[mr];
        match checks::retry_once(self.ctx, target, check) {
            Ok(()) => Ok(RetryAnswer::Accepted),
            Err(e) if e.status() == Some(422) => Ok(RetryAnswer::NotFailed),
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                self.ctx.log.warn(format!(
                    "{}: retry not possible: {}",
                    self.label_of(mr, check),
                    e.message()
                ));
                Ok(RetryAnswer::Refused)
            }
            Err(e) => {
                let context = format!("retrying {}", self.label_of(mr, check));
                self.failure(e)
                    .map(RetryAnswer::Failed)
                    .map_err(|e| e.context(context))
            }
        }
    }

    fn label_of(&self, mr: usize, check: u64) -> String {
        self.core
            .tracker
            .checks
            .get(&(mr, check))
            .map_or_else(|| format!("check {check}"), |c| self.label(c))
    }

    /// A failed request: what the core makes of it, or the error that ends the wait.
    fn failure(&mut self, e: ApiError) -> Result<Failure, Error> {
        let failure = match &e.kind {
            ApiErrorKind::Decode { .. } => Failure::Undecodable,
            _ if e.status() == Some(429) => Failure::Setback(Setback::Throttled {
                retry_after: e.retry_after(),
                budget: e.budget(),
            }),
            _ if e.is_transient() => Failure::Setback(Setback::Unavailable {
                retry_after: e.retry_after(),
            }),
            _ => return Err(Error::from(e)),
        };
        self.ctx.log.once(
            &format!("wait-{}", e.fault_class()),
            format!("{e}: transient, polling again (not a check failure)"),
        );
        self.last_error = Some(e.to_string());
        if failure == Failure::Undecodable {
            self.last_decode_error = Some(e);
        }
        Ok(failure)
    }

    fn log_events(&mut self) {
        let now = human(self.elapsed());
        for event in self.core.notices() {
            let line = match event {
                core::Notice::Polled { round } => {
                    self.ctx.log.detail(format!("poll {round} after {now}"));
                    continue;
                }
                core::Notice::NextPoll { delay } => {
                    self.ctx
                        .log
                        .detail(format!("next poll in {:.1}s", delay.as_secs_f64()));
                    continue;
                }
                core::Notice::Changed { mr, name, from, to } => {
                    format!("{}: {from} → {to} ({now})", self.named(mr, &name))
                }
                core::Notice::Appeared { mr, name, status } => format!(
                    "{name}: appeared on {} as {status} ({now})",
                    self.mrs[mr].label
                ),
                core::Notice::Removed { mr, name } => format!(
                    "{name}: no longer on {}, not waited for ({now})",
                    self.mrs[mr].label
                ),
                core::Notice::Retrying { mr, name, n, limit } => format!(
                    "{}: failed → retrying ({n}/{limit}) ({now})",
                    self.named(mr, &name)
                ),
                core::Notice::RetryRefused { mr, name, never } => {
                    let why = if never {
                        "GitLab will not retry it"
                    } else {
                        "GitLab says it is not failed (422); reading it again"
                    };
                    format!("{}: retry refused: {why} ({now})", self.named(mr, &name))
                }
                core::Notice::Closed { mr } => format!(
                    "{} was closed: its checks no longer gate ({now})",
                    self.mrs[mr].label
                ),
            };
            self.ctx.log.info(line);
        }
    }

    fn named(&self, mr: usize, name: &str) -> String {
        label(self.several(), &self.mrs[mr].label, name)
    }
}

/// Whether GitLab sets a retried check to `pending` itself; only asked for (it may
/// cost a `GET /version`) when the gate retries. Unknown: assume it does.
fn retry_resets_pending(ctx: &Ctx, retry_failed: u32) -> bool {
    retry_failed == 0
        || ctx
            .server_version()
            .map_or(true, |v| v.retry_resets_pending())
}

/// How a check is named in the log: with its MR when the gate covers several.
fn label(several_mrs: bool, mr: &str, name: &str) -> String {
    if several_mrs {
        format!("{mr} {name}")
    } else {
        name.to_owned()
    }
}
