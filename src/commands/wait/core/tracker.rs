//! The selected checks as the gate last read them, and what they add up to.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Notice;
use crate::gitlab::CheckStatus;

/// On GitLab before 16.5 a retry leaves the check `failed` until the service answers
/// again (row `retry-pending-16-5`); the gate gives it this long, the pending timeout of
/// later versions, before the old `failed` counts.
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
    /// As last read; `pending` from an accepted retry until GitLab decides again.
    pub(crate) status: CheckStatus,
    /// When it reached its status, from the start of the wait.
    pub(crate) since: Duration,
    /// Retries asked for (a refused one counts).
    pub(crate) retries: u32,
    /// GitLab will not retry it (404, 403): it counts as failed.
    pub(crate) unretryable: bool,
    /// When the last accepted retry was.
    pub(crate) retried_at: Option<Duration>,
    /// GitLab refused a retry with 404 or 403 since the last read: the check may be
    /// gone (a 404 says so too), so it counts only once read again.
    pub(crate) reread: bool,
}

impl Tracked {
    pub(crate) fn decided(&self) -> bool {
        matches!(self.status, CheckStatus::Passed | CheckStatus::Failed) && !self.reread
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
    /// Nothing selected on any list.
    Empty,
    Undecided,
}

pub(crate) struct Tracker {
    names: Vec<String>,
    ignore: Vec<String>,
    retry_limit: u32,
    fail_fast: bool,
    /// GitLab sets a retried check to `pending` itself (16.5+).
    retry_resets_pending: bool,
    /// Keyed by (MR index, check id).
    pub(crate) checks: BTreeMap<(usize, u64), Tracked>,
    /// Every name on each MR's last list, selected or not.
    pub(crate) listed: Vec<Vec<String>>,
    /// Checks gone from their list, kept for their retries: a paginated read that
    /// missed one (a check removed meanwhile shifts the pages) must not reset them.
    gone: BTreeMap<(usize, u64), Tracked>,
}

impl Tracker {
    pub(crate) fn new(
        mrs: usize,
        names: Vec<String>,
        ignore: Vec<String>,
        retry_limit: u32,
        fail_fast: bool,
        retry_resets_pending: bool,
    ) -> Tracker {
        Tracker {
            names,
            ignore,
            retry_limit,
            fail_fast,
            retry_resets_pending,
            checks: BTreeMap::new(),
            listed: vec![Vec::new(); mrs],
            gone: BTreeMap::new(),
        }
    }

    pub(crate) fn selected(&self, name: &str) -> bool {
        let named = self.names.is_empty() || self.names.iter().any(|n| n == name);
        named && !self.ignore.iter().any(|n| n == name)
    }

    /// `--name`s on no MR's last list.
    pub(crate) fn missing_names(&self) -> Vec<String> {
        self.names
            .iter()
            .filter(|n| !self.listed.iter().flatten().any(|l| l == *n))
            .cloned()
            .collect()
    }

    /// Takes a complete read of MR `mr`'s list: its selected checks become the tracked
    /// ones of that MR (a check gone from the list is no longer waited for).
    pub(crate) fn apply(
        &mut self,
        mr: usize,
        items: Vec<Item>,
        now: Duration,
        first: bool,
        events: &mut Vec<Notice>,
    ) -> Changes {
        self.listed[mr] = items.iter().map(|i| i.name.clone()).collect();
        let mut changes = Changes::default();
        let mut kept = BTreeMap::new();
        let selected: Vec<Item> = items
            .into_iter()
            .filter(|i| self.selected(&i.name))
            .collect();
        for item in selected {
            let key = (mr, item.id);
            // A check back on the list after a read that missed it carries on as it was.
            let tracked = match self.checks.remove(&key).or_else(|| self.gone.remove(&key)) {
                Some(old) => self.update(old, item, now, events, &mut changes),
                None => {
                    if !first {
                        changes.any = true;
                        events.push(Notice::Appeared {
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
                        retried_at: None,
                        reread: false,
                    }
                }
            };
            kept.insert(key, tracked);
        }
        let gone: Vec<(usize, u64)> = self.checks.keys().filter(|k| k.0 == mr).copied().collect();
        for key in gone {
            let old = self.checks.remove(&key).expect("listed key");
            changes.any = true;
            events.push(Notice::Removed {
                mr,
                name: old.name.clone(),
            });
            self.gone.insert(key, old);
        }
        self.checks.extend(kept);
        changes
    }

    fn update(
        &self,
        mut old: Tracked,
        item: Item,
        now: Duration,
        events: &mut Vec<Notice>,
        changes: &mut Changes,
    ) -> Tracked {
        old.name = item.name;
        old.reread = false;
        // Before 16.5 a retried check reads `failed` until the service answers again.
        let in_grace = !self.retry_resets_pending
            && old
                .retried_at
                .is_some_and(|at| now.saturating_sub(at) < RETRY_GRACE);
        if in_grace && item.status == CheckStatus::Failed && old.status == CheckStatus::Pending {
            return old;
        }
        if old.status != item.status {
            changes.any = true;
            changes.back_to_pending |= old.decided() && item.status == CheckStatus::Pending;
            events.push(Notice::Changed {
                mr: old.mr,
                name: old.name.clone(),
                from: old.status.clone(),
                to: item.status.clone(),
            });
            // GitLab decided (or the status is new): the retry is over.
            old.retried_at = None;
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
            .filter(|c| c.status == CheckStatus::Failed && !c.reread)
            .partition(|c| !c.unretryable && c.retries < self.retry_limit);
        if !counted.is_empty() && self.fail_fast {
            return Standing::Failed;
        }
        if !retry.is_empty() {
            return Standing::Retry(retry.iter().map(|c| (c.mr, c.id)).collect());
        }
        if self.checks.is_empty() {
            return Standing::Empty;
        }
        if self.checks.values().any(|c| !c.decided()) || !self.missing_names().is_empty() {
            return Standing::Undecided;
        }
        if counted.is_empty() {
            Standing::Passed
        } else {
            Standing::Failed
        }
    }

    /// GitLab accepted a retry at `now`: the check is pending until it decides again.
    pub(crate) fn retry_accepted(&mut self, key: (usize, u64), now: Duration) -> Option<&Tracked> {
        let tracked = self.checks.get_mut(&key)?;
        tracked.retries += 1;
        tracked.status = CheckStatus::Pending;
        tracked.since = now;
        tracked.retried_at = Some(now);
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
