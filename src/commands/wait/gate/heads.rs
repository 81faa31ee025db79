//! After a complete round: the retries asked for, and the head reads that a verdict needs
//! (and that show a push or a closing every 30 rounds or 5 minutes).

use std::time::Duration;

use super::answer::{self, Answer, Head, Reading, Retried};
use super::{End, Gate, HeadsRead, Moved, Notice, Phase, Verdict};
use crate::gitlab::MergeRequest;

impl Gate {
    pub(super) fn first_head_to_read(&self, from: usize) -> Option<usize> {
        let mrs = self.mrs.as_deref().unwrap_or_default();
        (from..mrs.len()).find(|&i| mrs[i].open && !mrs[i].merged)
    }

    pub(super) fn on_retry(&mut self, now: Duration, mut queue: Vec<(usize, u64)>, answer: Answer) {
        if queue.is_empty() {
            return;
        }
        let key = queue.remove(0);
        let (mr, limit) = (key.0, self.rules.checks.retry_limit);
        let name = |gate: &Gate| gate.tracker.checks.get(&key).map(|t| t.name.clone());
        match answer::retry(answer) {
            Retried::Accepted => {
                self.bad_bodies = 0;
                if let Some(t) = self.tracker.retried(key, now, true) {
                    let (name, n) = (t.name.clone(), t.retries);
                    self.notices.push(Notice::Retrying { mr, name, n, limit });
                }
            }
            Retried::Unknown {
                setback,
                error,
                bad_body,
            } => {
                self.tracker.retried(key, now, false);
                if let Some(name) = name(self) {
                    self.notices.push(Notice::RetryUnanswered { mr, name });
                }
                return if bad_body {
                    self.bad_body(now, error)
                } else {
                    self.setback(now, setback, error)
                };
            }
            Retried::NotActed(setback, error) => return self.setback(now, setback, error),
            Retried::NotFailed => self.refused(key, None),
            Retried::Refused(message) => self.refused(key, Some(message)),
            Retried::Fatal(error) => return self.finish(End::Error(error)),
        }
        self.phase = Phase::Retrying { queue };
    }

    /// GitLab refused a retry: 422 (`None`), or 403/404 with its message (never again).
    pub(super) fn refused(&mut self, key: (usize, u64), never: Option<String>) {
        self.bad_bodies = 0;
        self.tracker.retry_refused(key, never.is_some());
        if let Some(t) = self.tracker.checks.get(&key) {
            self.notices.push(Notice::RetryRefused {
                mr: key.0,
                name: t.name.clone(),
                never,
            });
        }
    }

    pub(super) fn on_head(&mut self, now: Duration, mr: usize, answer: Answer) {
        let read = match answer::read::<MergeRequest>(answer) {
            Reading::Good(read, _) => read,
            // No verdict without the head: the next round reads everything again.
            other => return self.failed(now, other),
        };
        self.bad_bodies = 0;
        let (head, merged) = match Head::of(&read) {
            Head::Closed => {
                self.mrs.as_mut().expect("gated MRs")[mr].open = false;
                self.tracker.drop_mr(mr);
                self.notices.push(Notice::Closed { mr });
                (None, false)
            }
            Head::Merged(sha) => (Some(sha), true),
            Head::Open(sha) => (Some(sha), false),
        };
        match head {
            Some(Some(sha)) if !self.sha.is(&sha) => {
                self.moved = Some(Moved::During { mr, head: sha });
                return self.finish(End::Verdict(Verdict::Stale));
            }
            // Merged at the SHA: its head cannot move, it is not read again.
            Some(Some(_)) if merged => self.mrs.as_mut().expect("gated MRs")[mr].merged = true,
            Some(None) => {
                self.notices.push(Notice::HeadUnknown { mr });
                self.head_unknown = true;
            }
            _ => {}
        }
        if let Some(next) = self.first_head_to_read(mr + 1) {
            self.phase = Phase::Heads { mr: next };
            return;
        }
        self.heads_read(now);
    }

    /// Every head of the round read: the retries of the round, then a verdict unless a
    /// head was not said.
    pub(super) fn heads_read(&mut self, now: Duration) {
        self.rounds_since_head = 0;
        self.last_head_read = now;
        // A head GitLab did not say is read again at the next round.
        self.head_due = self.head_unknown;
        self.heads_this_round = if self.head_unknown {
            HeadsRead::Unsaid
        } else {
            HeadsRead::Said
        };
        if !self.mrs.iter().flatten().any(|m| m.open) {
            return self.finish(End::Verdict(Verdict::Empty));
        }
        let queue = std::mem::take(&mut self.retry_queue);
        if !queue.is_empty() {
            self.phase = Phase::Retrying { queue };
            return;
        }
        // A closed MR took its checks along: what is left decides.
        self.decide(now);
    }
}
