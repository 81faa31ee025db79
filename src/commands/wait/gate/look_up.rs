//! The commit's look-up (a branch pipeline without `CI_OPEN_MERGE_REQUESTS`): sent by the
//! gate as patiently as its polls; an empty one believed on its second reading.

use std::time::Duration;

use super::answer::{self, Answer, Reading};
use super::{End, Gate, Moved, Mr, Notice, Phase, Verdict};
use crate::checks::sort_commit_mrs;
use crate::gitlab::MergeRequest;
use crate::gitlab::client::MAX_PAGES;

impl Gate {
    pub(super) fn on_look_up(&mut self, now: Duration, page: u32, answer: Answer) {
        let (found, headers) = match answer::read::<Vec<MergeRequest>>(answer) {
            Reading::Good(found, headers) => (found, headers),
            other => return self.failed(now, other),
        };
        self.bad_bodies = 0;
        self.found.extend(found);
        match headers.next_page {
            Some(next) if next > page && next <= MAX_PAGES => {
                self.phase = Phase::LookingUp { page: next };
            }
            _ => self.looked_up(now),
        }
    }

    /// Every page of the look-up read: the MRs to gate, or why there are none.
    pub(super) fn looked_up(&mut self, now: Duration) {
        let sorted = sort_commit_mrs(&self.sha, &self.found);
        if sorted.is_empty() {
            // A merged MR whose head GitLab did not say may be the commit's: not an empty
            // reading, but none to go by either.
            self.empty_look_ups = if sorted.unsure {
                0
            } else {
                self.empty_look_ups + 1
            };
            if self.empty_look_ups < 2 {
                // Maybe GitLab has not yet linked a just-pushed commit to its MR.
                self.sleep_after(now, None);
                return;
            }
        }
        self.notices.push(Notice::Found(sorted.clone()));
        let (count, merged) = if !sorted.open.is_empty() {
            (sorted.open.len(), false)
        } else if !sorted.moved.is_empty() {
            self.moved = Some(Moved::BeforeStart);
            self.phase = Phase::Done(End::Verdict(Verdict::Stale));
            return;
        } else {
            (usize::from(sorted.merged.is_some()), true)
        };
        self.mrs = Some(vec![Mr { open: true, merged }; count]);
        self.tracker.set_mrs(count);
        self.pages = vec![Vec::new(); count];
        self.totals = vec![None; count];
        self.read_once = vec![false; count];
        self.phase = match count {
            0 => Phase::Done(End::Verdict(Verdict::Empty)),
            _ => {
                self.pacer.polling(now);
                Phase::Listing { mr: 0, page: 1 }
            }
        };
    }
}
