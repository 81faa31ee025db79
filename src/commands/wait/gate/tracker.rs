//! The selected checks as the gate last read them, and what they add up to.
//!
//! Two rules keep a single odd answer from deciding anything:
//! - **Absence is read twice.** A check missing from one complete read stays tracked
//!   (undecided) and is let go only when the next complete read misses it too; nothing
//!   on the lists counts as nothing only on the second complete read in a row. A proxy's
//!   cached `[]`, or a page that shifted because a check was deleted between two page
//!   reads, cannot pass the gate or end it empty.
//! - **A retried check's `failed` is the retry's answer only when it must be.** After a
//!   retry that GitLab 16.1+ confirmed (202; it sets the check to `pending` before it
//!   answers), any `failed` is new. Otherwise (an older GitLab, an unknown version, a retry
//!   whose answer was lost) the list may still show the old `failed`: it counts once the
//!   check was read `pending` or `passed` since the retry, or 2 minutes after it.

use crate::config::Selection;
use std::collections::BTreeMap;
use std::time::Duration;

use super::Notice;
use crate::gitlab::CheckStatus;

/// How long a retried check may read its old `failed` before it counts: the pending
/// timeout of GitLab 16.6+ (a retried check no service answers reads `failed` again
/// after it), which older versions lack (row `retry-pending-16-1`).
pub(crate) const RETRY_GRACE: Duration = Duration::from_secs(120);

/// One check of a list as GitLab returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) status: CheckStatus,
}

/// One selected check on one MR, as the gate tracks it.
#[derive(Clone, Debug)]
pub(crate) struct Tracked {
    pub(crate) mr: usize,
    pub(crate) id: u64,
    pub(crate) name: String,
    /// As last read; `pending` from a retry until GitLab decides again.
    pub(crate) status: CheckStatus,
    /// When it reached its status, from the start of the wait.
    pub(crate) since: Duration,
    /// Retries asked for that GitLab may have acted on (a refused one counts).
    pub(crate) retries: u32,
    /// GitLab will not retry it (404, 403): it counts as failed.
    pub(crate) unretryable: bool,
    /// Since this retry the list may still show the old `failed` (see the module).
    pub(crate) awaiting: Option<Duration>,
    /// GitLab refused a retry with 404 or 403 since the last read: the check may be
    /// gone (a 404 says so too), so it counts only once read again.
    pub(crate) reread: bool,
    /// The last complete read did not list it: one more such read lets it go.
    pub(crate) missing: bool,
}

impl Tracked {
    pub(crate) fn decided(&self) -> bool {
        matches!(self.status, CheckStatus::Passed | CheckStatus::Failed)
            && !self.reread
            && !self.missing
    }
}

/// What one complete read of the lists changed.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Changes {
    pub(crate) any: bool,
    /// A decided check is pending again: the signature of a push.
    pub(crate) back_to_pending: bool,
}

/// Where the tracked checks stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// These failed checks may be retried.
    Retry(Vec<(usize, u64)>),
    Passed,
    Failed,
    /// Nothing selected on any list, two complete reads in a row.
    Empty,
    Undecided,
}

pub(crate) struct Tracker {
    rules: Selection,
    /// Keyed by (MR index, check id).
    pub(crate) checks: BTreeMap<(usize, u64), Tracked>,
    /// Every name on each MR's last list, selected or not.
    pub(crate) listed: Vec<Vec<String>>,
    /// Checks let go, kept for their retries: one that comes back carries on.
    gone: BTreeMap<(usize, u64), Tracked>,
    /// Complete reads in a row (every gated MR's list) that listed no selected check.
    empty_reads: u32,
    /// Whether the read now being taken (MR by MR) listed a selected check.
    read_any: bool,
}

impl Tracker {
    pub(crate) fn new(mrs: usize, rules: Selection) -> Tracker {
        Tracker {
            rules,
            checks: BTreeMap::new(),
            listed: vec![Vec::new(); mrs],
            gone: BTreeMap::new(),
            empty_reads: 0,
            read_any: false,
        }
    }

    /// The MRs are known (after the commit's look-up): this many.
    pub(crate) fn set_mrs(&mut self, mrs: usize) {
        self.listed = vec![Vec::new(); mrs];
    }

    pub(crate) fn selected(&self, name: &str) -> bool {
        let names = &self.rules.names;
        let named = names.is_empty() || names.iter().any(|n| n == name);
        named && !self.rules.ignore.iter().any(|n| n == name)
    }

    /// `--name`s on no MR's last list.
    pub(crate) fn missing_names(&self) -> Vec<String> {
        self.rules
            .names
            .iter()
            .filter(|n| !self.listed.iter().flatten().any(|l| l == *n))
            .cloned()
            .collect()
    }

    /// Takes a complete read of MR `mr`'s list (`first`: the gate's first read).
    pub(crate) fn apply(
        &mut self,
        mr: usize,
        items: Vec<Item>,
        now: Duration,
        first: bool,
        notices: &mut Vec<Notice>,
    ) -> Changes {
        self.listed[mr] = items.iter().map(|i| i.name.clone()).collect();
        let mut changes = Changes::default();
        let mut read = BTreeMap::new();
        let selected: Vec<Item> = items
            .into_iter()
            .filter(|i| self.selected(&i.name))
            .collect();
        for item in selected {
            let key = (mr, item.id);
            let tracked = match self.checks.remove(&key).or_else(|| self.gone.remove(&key)) {
                Some(old) => self.update(old, item, now, notices, &mut changes),
                None => self.appeared(mr, item, now, first, notices, &mut changes),
            };
            read.insert(key, tracked);
        }
        self.read_any |= !read.is_empty();
        let unread: Vec<(usize, u64)> = self.checks.keys().filter(|k| k.0 == mr).copied().collect();
        for key in unread {
            let mut old = self.checks.remove(&key).expect("a tracked key");
            if old.missing {
                changes.any = true;
                notices.push(Notice::Removed {
                    mr,
                    name: old.name.clone(),
                });
                self.gone.insert(key, old);
            } else {
                old.missing = true;
                read.insert(key, old);
            }
        }
        self.checks.extend(read);
        changes
    }

    /// A round of reads begins.
    pub(crate) fn read_begins(&mut self) {
        self.read_any = false;
    }

    /// Every gated MR's list of this round was applied.
    pub(crate) fn read_complete(&mut self) {
        self.empty_reads = if self.read_any {
            0
        } else {
            self.empty_reads + 1
        };
        self.read_any = false;
    }

    fn appeared(
        &self,
        mr: usize,
        item: Item,
        now: Duration,
        first: bool,
        notices: &mut Vec<Notice>,
        changes: &mut Changes,
    ) -> Tracked {
        if !first {
            changes.any = true;
            notices.push(Notice::Appeared {
                mr,
                name: item.name.clone(),
                status: item.status.clone(),
            });
        }
        Tracked {
            mr,
            id: item.id,
            name: item.name,
            status: item.status,
            since: now,
            retries: 0,
            unretryable: false,
            awaiting: None,
            reread: false,
            missing: false,
        }
    }

    fn update(
        &self,
        mut old: Tracked,
        item: Item,
        now: Duration,
        notices: &mut Vec<Notice>,
        changes: &mut Changes,
    ) -> Tracked {
        old.name = item.name;
        old.reread = false;
        old.missing = false;
        if item.status == CheckStatus::Failed
            && let Some(at) = old.awaiting
            && now.saturating_sub(at) < RETRY_GRACE
        {
            // Maybe the failure the retry was asked for: not an answer yet.
            return old;
        }
        // `pending` or `passed` show the retry took; a word GitLab never sends shows nothing.
        if !matches!(item.status, CheckStatus::Other(_)) {
            old.awaiting = None;
        }
        if old.status != item.status {
            changes.any = true;
            changes.back_to_pending |= old.decided() && item.status == CheckStatus::Pending;
            notices.push(Notice::Changed {
                mr: old.mr,
                name: old.name.clone(),
                from: old.status.clone(),
                to: item.status.clone(),
            });
            old.status = item.status;
            old.since = now;
        }
        old
    }

    /// Forgets the checks of a closed MR.
    pub(crate) fn drop_mr(&mut self, mr: usize) {
        self.checks.retain(|k, _| k.0 != mr);
        self.listed[mr].clear();
    }

    /// What the checks add up to: failed ones to retry first (unless one that counts
    /// already fails the gate fast), then passed, failed, empty or not yet.
    pub(crate) fn standing(&self) -> Standing {
        let (retry, counted): (Vec<&Tracked>, Vec<&Tracked>) = self
            .checks
            .values()
            .filter(|c| c.status == CheckStatus::Failed && c.decided())
            .partition(|c| !c.unretryable && c.retries < self.rules.retry_limit);
        if !counted.is_empty() && self.rules.fail_fast {
            return Standing::Failed;
        }
        if !retry.is_empty() {
            return Standing::Retry(retry.iter().map(|c| (c.mr, c.id)).collect());
        }
        if !self.missing_names().is_empty() {
            return Standing::Undecided;
        }
        if self.checks.is_empty() {
            return if self.empty_reads >= 2 {
                Standing::Empty
            } else {
                Standing::Undecided
            };
        }
        if self.checks.values().any(|c| !c.decided()) {
            return Standing::Undecided;
        }
        if counted.is_empty() {
            Standing::Passed
        } else {
            Standing::Failed
        }
    }

    /// A retry was asked at `now` and GitLab may have acted on it (`confirmed`: GitLab
    /// 16.5+ answered 202): the check is pending until GitLab decides again.
    pub(crate) fn retried(
        &mut self,
        key: (usize, u64),
        now: Duration,
        confirmed: bool,
    ) -> Option<&Tracked> {
        let resets = self.rules.retry_resets_pending;
        let tracked = self.checks.get_mut(&key)?;
        tracked.retries += 1;
        tracked.status = CheckStatus::Pending;
        tracked.since = now;
        tracked.awaiting = (!(confirmed && resets)).then_some(now);
        Some(tracked)
    }

    /// GitLab refused a retry: 422 (not failed any more, it says) counts as one; a
    /// 404 or 403 means no retry will ever be accepted.
    pub(crate) fn retry_refused(&mut self, key: (usize, u64), never: bool) {
        if let Some(tracked) = self.checks.get_mut(&key) {
            tracked.retries += 1;
            tracked.unretryable |= never;
            tracked.reread |= never;
        }
    }
}
