//! A round: every gated MR's list, page by page, each MR's read taken as soon as its pages
//! are in; then what the round leads to (retries, head reads, a verdict).

use std::time::Duration;

use super::answer::{self, Answer, Reading};
use super::tracker::Standing;
use super::{
    End, Gate, HEAD_EVERY, HEAD_EVERY_ROUNDS, HeadsRead, Next, Notice, Phase, Request, Verdict,
};
use crate::gitlab::ApiError;
use crate::gitlab::client::MAX_PAGES;
use crate::gitlab::error::ApiErrorKind;

impl Gate {
    pub(super) fn first_open(&self, from: usize) -> Option<usize> {
        let mrs = self.mrs.as_deref().unwrap_or_default();
        (from..mrs.len()).find(|&i| mrs[i].open)
    }

    pub(super) fn on_list(&mut self, now: Duration, mr: usize, number: u32, answer: Answer) {
        let (page, headers) = match answer::list_page(answer) {
            Reading::Good(page, headers) => (page, headers),
            other => return self.failed(now, other),
        };
        self.bad_bodies = 0;
        if number == 1 && Some(mr) == self.first_open(0) {
            self.pacer.observe_poll_interval(headers.poll_interval_ms);
        }
        self.pacer.observe_budget(headers.budget, now);
        if number == 1 {
            self.totals[mr] = headers.total;
        }
        self.pages[mr].extend(page.items);
        let last = !matches!(headers.next_page, Some(next) if next > number && next <= MAX_PAGES);
        if let Some(detail) = self.does_not_add_up(mr, headers.total, last) {
            // A check deleted between two pages, or a body a proxy changed: the read is
            // not a list of the MR's checks. Read it again at the next poll.
            let error = ApiError {
                method: "GET",
                path: page.path,
                kind: ApiErrorKind::Decode {
                    status: 200,
                    detail,
                },
            };
            self.notices.push(Notice::Setback(error.clone()));
            self.last_error = Some(error);
            self.sleep_after(now, None);
            return;
        }
        match headers.next_page {
            Some(next) if !last => {
                self.phase = Phase::Listing { mr, page: next };
            }
            _ => {
                self.mr_read(now, mr);
                match self.first_open(mr + 1) {
                    Some(next) => self.phase = Phase::Listing { mr: next, page: 1 },
                    None => self.round_complete(now),
                }
            }
        }
    }

    /// Why the read of MR `mr`'s list so far does not add up to the `X-Total` its pages
    /// said (`total` on this one; `last`: no page follows), if it does not.
    pub(super) fn does_not_add_up(
        &self,
        mr: usize,
        total: Option<u64>,
        last: bool,
    ) -> Option<String> {
        let said = self.totals[mr];
        if total != said {
            return Some(format!(
                "its pages said {} and {} checks in all",
                said.map_or("none".into(), |t| t.to_string()),
                total.map_or("none".into(), |t| t.to_string())
            ));
        }
        let listed = self.pages[mr].len() as u64;
        match said {
            Some(total) if last && listed != total => Some(format!(
                "it listed {listed} checks of the {total} it said (X-Total)"
            )),
            _ => None,
        }
    }

    /// Every page of MR `mr`'s list is in: the tracker takes it at once (a later MR's
    /// failed read does not throw it away: "two reads in a row" are its list's own).
    pub(super) fn mr_read(&mut self, now: Duration, mr: usize) {
        let items = std::mem::take(&mut self.pages[mr]);
        let first = !std::mem::replace(&mut self.read_once[mr], true);
        let changes = self.tracker.apply(mr, items, now, first, &mut self.notices);
        if changes.any {
            self.pacer.changed();
        }
        self.back_to_pending |= changes.back_to_pending;
    }

    pub(super) fn round_complete(&mut self, now: Duration) {
        self.rounds += 1;
        self.rounds_since_head += 1;
        self.last_error = None;
        self.notices.push(Notice::Polled { round: self.rounds });
        let back_to_pending = std::mem::take(&mut self.back_to_pending);
        self.tracker.read_complete();
        if self.rounds <= 2 {
            let unlisted = self.tracker.missing_names();
            if self.rounds == 1 {
                let tracked = |mr: usize| self.tracker.checks.keys().any(|k| k.0 == mr);
                let nothing = !unlisted.is_empty()
                    || (0..self.pages.len()).any(|mr| self.is_open(mr) && !tracked(mr));
                self.unlisted_names = unlisted;
                // Absence is read twice: on the first poll the second read comes at once,
                // so that one odd answer (an MR's list read empty) cannot pass the gate,
                // end it empty or make a name unknown.
                if nothing && let Some(mr) = self.first_open(0) {
                    self.pages.iter_mut().for_each(Vec::clear);
                    self.tracker.read_begins();
                    self.phase = Phase::Listing { mr, page: 1 };
                    return;
                }
            } else {
                let confirmed: Vec<String> = unlisted
                    .into_iter()
                    .filter(|n| self.unlisted_names.contains(n))
                    .collect();
                self.unlisted_names.clear();
                if !confirmed.is_empty() {
                    self.phase = Phase::Done(End::UnknownNames(confirmed));
                    return;
                }
            }
        }
        self.head_due = back_to_pending
            || self.rounds_since_head >= HEAD_EVERY_ROUNDS
            || now.saturating_sub(self.last_head_read) >= HEAD_EVERY;
        let queue = match self.tracker.standing() {
            Standing::Retry(queue) => queue,
            _ => Vec::new(),
        };
        self.heads_this_round = HeadsRead::No;
        match self.first_head_to_read(0).filter(|_| self.head_due) {
            // Due heads come first: retries that keep meeting faults must not starve them.
            Some(mr) => {
                self.retry_queue = queue;
                self.head_unknown = false;
                self.phase = Phase::Heads { mr };
            }
            None => self.phase = Phase::Retrying { queue },
        }
    }

    /// The verdict the checks stand at, if any: none while a `--name` missing from the
    /// first round is not yet confirmed missing (exit 2 comes first).
    pub(super) fn verdict(&self) -> Option<Verdict> {
        if !self.unlisted_names.is_empty() {
            return None;
        }
        match self.tracker.standing() {
            Standing::Passed => Some(Verdict::Passed),
            Standing::Failed => Some(Verdict::Failed),
            Standing::Empty => Some(Verdict::Empty),
            Standing::Retry(_) | Standing::Undecided => None,
        }
    }

    /// Every retry answered: a verdict (after a head read this round), or the next round.
    pub(super) fn after_retries(&mut self, now: Duration) -> Next {
        if self.verdict().is_some()
            && self.heads_this_round == HeadsRead::No
            && let Some(mr) = self.first_head_to_read(0)
        {
            self.head_unknown = false;
            self.phase = Phase::Heads { mr };
            return Next::Send(Request::ReadHead { mr });
        }
        self.decide(now)
    }

    /// The verdict, when the heads read this round showed the SHA (or none is read: a
    /// merged MR's); else the next round.
    pub(super) fn decide(&mut self, now: Duration) -> Next {
        let heads_shown = match self.heads_this_round {
            HeadsRead::Said => true,
            HeadsRead::Unsaid => false,
            HeadsRead::No => self.first_head_to_read(0).is_none(),
        };
        match self.verdict() {
            Some(v) if heads_shown => self.end(End::Verdict(v)),
            _ => self.sleep_after(now, None),
        }
    }
}
