//! Safety: each way the gate may end, and what the truth and the answers it was served
//! must show for it. A read the network made odd never counts as a truth: a pass needs
//! every selected check passed as GitLab had it when the page was served, none left out.

use std::time::Duration;

use serde_json::Value;

use super::network::{Endpoint, Served};
use super::oracle::{Oracle, Violation, found, violation};
use super::world::{MrTruth, SimGitlab};
use super::{End, Verdict};

/// One check as a page listed it.
struct Listed {
    id: u64,
    name: String,
    status: String,
    /// The page's record: its time and the truth then.
    page: usize,
}

fn passed(status: &str) -> bool {
    matches!(status, "passed" | "approved")
}

impl Oracle {
    /// Every complete read of MR `iid`'s list (every page a 2xx list, adding up to the
    /// `X-Total` they all said), in order: the indices of its pages in `served`.
    pub(super) fn reads(&self, iid: u64) -> Vec<Vec<usize>> {
        let mut reads = Vec::new();
        let mut current: Option<Vec<usize>> = None;
        for (i, s) in self.served.iter().enumerate() {
            let Endpoint::List { iid: of, page } = s.endpoint else {
                continue;
            };
            if of != iid {
                continue;
            }
            if page == 1 {
                current = Some(Vec::new());
            }
            let Some(pages) = current.as_mut().filter(|_| s.good()) else {
                current = None;
                continue;
            };
            pages.push(i);
            if s.next_page.is_none_or(|next| next <= page) {
                let read = current.take().expect("a read under way");
                if self.adds_up(&read) {
                    reads.push(read);
                }
            }
        }
        reads
    }

    /// GitLab's pages each say how long the whole list is: a read whose pages disagree,
    /// or list another number of checks, is no list of the MR's checks.
    fn adds_up(&self, read: &[usize]) -> bool {
        let total = self.served[read[0]].total;
        let listed = read
            .iter()
            .filter_map(|&i| self.served[i].json.as_ref()?.as_array().map(Vec::len))
            .sum::<usize>() as u64;
        read.iter().all(|&i| self.served[i].total == total) && total.is_none_or(|t| t == listed)
    }

    fn listed(&self, read: &[usize]) -> Vec<Listed> {
        let mut out = Vec::new();
        for &page in read {
            let items = self.served[page].json.as_ref().and_then(Value::as_array);
            for item in items.into_iter().flatten() {
                out.push(Listed {
                    id: item["id"].as_u64().unwrap_or_default(),
                    name: item["name"].as_str().unwrap_or_default().to_owned(),
                    status: item["status"].as_str().unwrap_or_default().to_owned(),
                    page,
                });
            }
        }
        out
    }

    /// MR `iid` as the truth had it when `served` was handled.
    fn truth_of<'a>(&self, served: &'a Served, iid: u64) -> Option<&'a MrTruth> {
        served.truth.iter().find(|m| m.iid == iid)
    }

    /// A head read of MR `iid` showed it closed.
    pub(super) fn shown_closed(&self, iid: u64) -> bool {
        self.heads(iid).any(|(_, head)| head["state"] == "closed")
    }

    /// The commit's look-up found MR `iid` merged (the gate is on it after the merge).
    pub(super) fn found_merged(&self, iid: u64) -> bool {
        self.last_look_up().is_some_and(|(_, listed)| {
            let (gated, _) = self.of_commit(&listed);
            gated.contains(&iid) && listed.iter().any(|m| m.iid == iid && m.state == "merged")
        })
    }

    /// A head read of MR `iid` showed it merged.
    pub(super) fn shown_merged(&self, iid: u64) -> bool {
        self.heads(iid).any(|(_, head)| head["state"] == "merged")
    }

    fn heads(&self, iid: u64) -> impl Iterator<Item = (&Served, &Value)> {
        self.served
            .iter()
            .filter_map(move |s| match (&s.endpoint, &s.json) {
                (Endpoint::Head { iid: of }, Some(json)) if *of == iid && s.good() => {
                    Some((s, json))
                }
                _ => None,
            })
    }

    /// After the gate ended with `end` at `now`.
    pub(super) fn check_end(
        &self,
        now: Duration,
        end: &End,
        gitlab: &SimGitlab,
    ) -> Result<(), Violation> {
        let timeout = self.sc.gate.timeout;
        if now > timeout + Duration::from_secs(1) {
            return violation(
                "bounds: ends by --timeout + 1 s",
                format!("ended at {now:?} with {end:?}"),
            );
        }
        match end {
            End::Verdict(Verdict::Passed) => self.check_pass(),
            End::Verdict(Verdict::Failed) => self.check_fail(gitlab),
            End::Verdict(Verdict::Stale) => self.check_stale(),
            End::Verdict(Verdict::Empty) => self.check_empty(),
            End::Verdict(Verdict::Timeout) if now < timeout => {
                violation("bounds: no timeout before --timeout", format!("at {now:?}"))
            }
            End::Verdict(Verdict::Timeout) => Ok(()),
            End::UnknownNames(names) => self.check_unknown(names),
            End::Error(e) => self.check_error(&e.to_string()),
        }
    }

    fn gated_or(&self, invariant: &'static str) -> Result<Vec<u64>, Violation> {
        self.gated().ok_or_else(|| Violation {
            invariant,
            detail: "before any look-up found an MR".into(),
        })
    }

    /// Exit 0: every gated MR not shown closed had a complete read, after which a head
    /// read showed the SHA; every selected check it listed was passed (as GitLab had it
    /// then); it left out no check that was there when it began; every `--name` listed.
    fn check_pass(&self) -> Result<(), Violation> {
        let gated = self.gated_or("safety: exit 0 needs the MRs found")?;
        let mut selected = 0;
        let mut names: Vec<&String> = self.sc.gate.names.iter().collect();
        for &iid in &gated {
            if self.shown_closed(iid) {
                continue;
            }
            let reads = self.reads(iid);
            let Some(read) = reads.last() else {
                return violation(
                    "safety: exit 0 needs every gated MR's list read",
                    format!("!{iid}"),
                );
            };
            let listed = self.listed(read);
            for item in listed.iter().filter(|l| self.selected(&l.name)) {
                selected += 1;
                names.retain(|n| **n != item.name);
                let truth = self.truth_of(&self.served[item.page], iid);
                let was = truth.and_then(|t| t.checks.iter().find(|c| c.id == item.id));
                if !passed(&item.status) || !was.is_some_and(|c| passed(&c.status)) {
                    return violation(
                        "safety: exit 0 only if every selected check passed",
                        format!(
                            "!{iid} {:?} listed {:?}, truth {was:?}",
                            item.name, item.status
                        ),
                    );
                }
            }
            self.nothing_left_out(iid, read, &listed)?;
            self.head_after(iid, read)?;
        }
        if let Some(name) = names.first() {
            return violation(
                "safety: exit 0 only with every --name listed",
                (*name).clone(),
            );
        }
        if selected == 0 {
            return violation(
                "safety: exit 0 needs a check (or --allow-empty)",
                String::new(),
            );
        }
        Ok(())
    }

    /// No selected check that was on the MR's list when the read began and still at its
    /// end is missing from what the read listed.
    fn nothing_left_out(
        &self,
        iid: u64,
        read: &[usize],
        listed: &[Listed],
    ) -> Result<(), Violation> {
        let (first, last) = (
            &self.served[read[0]],
            &self.served[*read.last().expect("a page")],
        );
        let (Some(before), Some(after)) = (self.truth_of(first, iid), self.truth_of(last, iid))
        else {
            return Ok(());
        };
        for c in after.checks.iter().filter(|c| self.selected(&c.name)) {
            let there = before.checks.iter().any(|b| b.id == c.id);
            if there && !listed.iter().any(|l| l.id == c.id) {
                return violation(
                    "safety: no verdict over a check a read left out",
                    format!("!{iid} check {} {:?} ({})", c.id, c.name, c.status),
                );
            }
        }
        Ok(())
    }

    /// A head read after the read showed the SHA (a merged MR's head cannot move: any
    /// read that showed it merged at the SHA; after the merge, none is needed).
    fn head_after(&self, iid: u64, read: &[usize]) -> Result<(), Violation> {
        if self.found_merged(iid) {
            return Ok(());
        }
        let end = self.served[*read.last().expect("a page")].answered;
        let at_sha = |json: &Value| json["sha"].as_str() == Some(self.sha);
        let shown = self.heads(iid).any(|(s, json)| {
            at_sha(json)
                && json["state"] != "closed"
                && (s.sent >= end || json["state"] == "merged")
                && self.truth_of(s, iid).is_some_and(|t| t.sha == self.sha)
        });
        if shown {
            Ok(())
        } else {
            violation(
                "safety: exit 0 only after a head read that showed the SHA",
                format!("!{iid}: list read by {end:?}"),
            )
        }
    }

    /// Exit 1: a selected check was listed `failed` on its MR's last read, as GitLab had
    /// it, after the retries asked for (or refused), and not merely the failure a retry
    /// was asked to replace.
    fn check_fail(&self, gitlab: &SimGitlab) -> Result<(), Violation> {
        let gated = self.gated_or("safety: exit 1 needs the MRs found")?;
        let limit = self.sc.gate.retry_failed as usize;
        for &iid in gated.iter().filter(|i| !self.shown_closed(**i)) {
            let Some(read) = self.reads(iid).pop() else {
                continue;
            };
            for item in self.listed(&read).iter().filter(|l| self.selected(&l.name)) {
                let page = &self.served[item.page];
                let truth = self
                    .truth_of(page, iid)
                    .and_then(|t| t.checks.iter().find(|c| c.id == item.id));
                let Some(truth) = truth.filter(|t| item.status == "failed" && t.status == "failed")
                else {
                    continue;
                };
                let spent = self.asked(iid, item.id) >= limit || self.refused(iid, item.id);
                // Fresh when the gate took the read: its last page's answer.
                let took = self.served[*read.last().expect("a page")].answered;
                if spent && self.fresh(gitlab, iid, truth, took) {
                    return Ok(());
                }
            }
        }
        violation(
            "safety: exit 1 only for a failed check after its retries",
            format!("gated {gated:?}"),
        )
    }

    /// Exit 4: a head read showed another SHA, or every open MR of the commit had moved
    /// on when the look-up was answered.
    fn check_stale(&self) -> Result<(), Violation> {
        let moved_head = self.served.iter().any(|s| {
            let (Endpoint::Head { iid }, Some(json)) = (&s.endpoint, &s.json) else {
                return false;
            };
            let sha = json["sha"].as_str();
            s.good()
                && json["state"] != "closed"
                && sha.is_some_and(|h| h != self.sha)
                && self
                    .truth_of(s, *iid)
                    .is_some_and(|t| Some(t.sha.as_str()) == sha)
        });
        let moved_before = self.last_look_up().is_some_and(|(s, listed)| {
            self.of_commit(&listed).1 && self.of_commit(&found(&s.holding)).1
        });
        if moved_head || moved_before {
            Ok(())
        } else {
            violation("safety: exit 4 only when a head moved", String::new())
        }
    }

    /// Nothing to wait for: every gated MR shown closed; or two look-ups in a row found no
    /// MR; or the last two complete reads of every open MR listed no selected check, and
    /// the truth had none at one of them.
    fn check_empty(&self) -> Result<(), Violation> {
        let look_ups: Vec<&Served> = self
            .served
            .iter()
            .filter(|s| matches!(s.endpoint, Endpoint::LookUp { .. }) && s.good())
            .collect();
        let found_none = |s: &&Served| {
            s.json
                .as_ref()
                .and_then(Value::as_array)
                .is_some_and(|a| a.is_empty())
        };
        let truth_none = |s: &Served| {
            let (gated, moved) = self.of_commit(&found(&s.holding));
            gated.is_empty() && !moved
        };
        if let [.., a, b] = look_ups[..]
            && found_none(&a)
            && found_none(&b)
            && truth_none(b)
        {
            return Ok(());
        }
        let gated = self.gated_or("safety: empty needs the MRs found")?;
        for &iid in gated.iter().filter(|i| !self.shown_closed(**i)) {
            let reads = self.reads(iid);
            let [.., a, b] = &reads[..] else {
                return violation(
                    "safety: empty only after two reads that listed nothing",
                    format!("!{iid}"),
                );
            };
            for read in [a, b] {
                let listed = self.listed(read);
                if listed.iter().any(|l| self.selected(&l.name)) {
                    return violation(
                        "safety: empty only after two reads that listed nothing",
                        format!("!{iid}"),
                    );
                }
            }
            // One of the two was the truth: nothing then. (A check made after the first,
            // or gone before the second, is a race, as after the last read of any gate.)
            let nothing = |read: &Vec<usize>| {
                let page = &self.served[*read.last().expect("a page")];
                let truth = self.truth_of(page, iid);
                truth.is_none_or(|t| !t.checks.iter().any(|c| self.selected(&c.name)))
            };
            if !nothing(a) && !nothing(b) {
                return violation(
                    "safety: empty only when the truth had nothing to wait for",
                    format!("!{iid}"),
                );
            }
        }
        Ok(())
    }

    /// Exit 2: each `--name` was on no gated MR's list in the truth at one of its last two
    /// reads, the two that confirmed it (a check made between them is a race).
    fn check_unknown(&self, names: &[String]) -> Result<(), Violation> {
        let gated = self.gated_or("usage: unknown names need the MRs found")?;
        for name in names {
            for &iid in &gated {
                let listed_at = |read: &Vec<usize>| {
                    let page = &self.served[*read.last().expect("a page")];
                    let truth = self.truth_of(page, iid);
                    truth.is_some_and(|t| t.checks.iter().any(|c| &c.name == name))
                };
                let reads = self.reads(iid);
                if !reads.is_empty() && reads.iter().rev().take(2).all(listed_at) {
                    return violation(
                        "usage: a --name is unknown only when GitLab listed no such check",
                        format!("{name:?} is on !{iid}"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Exit 5: the last answer was fatal, or the last three bodies were bad with no good
    /// answer between.
    fn check_error(&self, error: &str) -> Result<(), Violation> {
        let Some(last) = self.served.last() else {
            return violation("safety: exit 5 only after an answer", error.to_owned());
        };
        let fatal = last.status.is_some_and(|s| match last.endpoint {
            Endpoint::Retry { .. } => {
                (300..500).contains(&s) && !matches!(s, 403 | 404 | 422 | 429)
            }
            _ => (300..500).contains(&s) && s != 429,
        });
        let bad_run = self
            .served
            .iter()
            .rev()
            .take_while(|s| !s.good())
            .filter(|s| s.bad_body)
            .count();
        if fatal || bad_run >= 3 {
            Ok(())
        } else {
            violation(
                "safety: exit 5 only after a fatal answer or three bad bodies in a row",
                format!(
                    "{error}; last {:?}, {bad_run} bad bodies in a row",
                    last.status
                ),
            )
        }
    }
}
