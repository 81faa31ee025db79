//! How the gate ends: its log header and summary table, the reports, and the
//! outcome (exit code, text and JSON) for each verdict.

use std::time::Duration;

use serde_json::json;

use super::driver::{Driver, Verdict};
use super::gate::Moved;
use super::reports::{CheckResult, GateReport, write_reports};
use crate::duration::human;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::CheckStatus;
use crate::names::quote_all;
use crate::output::{Outcome, plural, table};

impl Driver<'_, '_> {
    /// `!7`, `!7, !9`, or `merged !7` for a gate after the merge.
    pub(super) fn mr_list(&self) -> String {
        let list = self
            .mrs
            .iter()
            .map(|m| m.label.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if self.merged {
            format!("merged {list}")
        } else {
            list
        }
    }

    pub(super) fn header(&self) {
        let names: Vec<String> = self
            .checks()
            .map(|c| format!("{} ({})", self.label(c), c.status))
            .collect();
        let mut line = format!(
            "waiting for {} on {} at {} (timeout {}): {}",
            plural(self.checks().count(), "check"),
            self.mr_list(),
            self.sha.short(),
            human(self.settings.rules.timeout),
            names.join(", ")
        );
        if !self.settings.rules.checks.ignore.is_empty() {
            line.push_str(&format!(
                "; ignoring {}",
                quote_all(self.settings.rules.checks.ignore.iter().map(String::as_str))
            ));
        }
        self.ctx
            .log
            .section_start("status_check_wait", &line, self.ctx.log.is_verbose());
    }

    pub(super) fn finish(mut self, verdict: Verdict) -> Result<Outcome, Error> {
        self.ctx.log.section_end("status_check_wait");
        let waited = self.elapsed();
        let results: Vec<CheckResult> = self
            .checks()
            .map(|c| CheckResult {
                iid: self.mrs[c.mr].iid,
                name: c.name.clone(),
                status: c.status.to_string(),
                seconds: c.since.as_secs_f64(),
            })
            .collect();
        let word = verdict.word(self.settings.allow_empty);
        let report = GateReport {
            result: word,
            sha: self.sha.as_str(),
            waited_seconds: waited.as_secs_f64(),
            checks: &results,
        };
        write_reports(&mut self.settings, &report)?;
        if !results.is_empty() {
            self.summary_table(&results);
        }
        let (code, text) = self.verdict_text(verdict, waited)?;
        let json = json!({
            "result": word,
            "sha": self.sha.as_str(),
            "merge_requests": self.mrs.iter().map(|m| m.iid).collect::<Vec<_>>(),
            "merged": self.merged,
            "waited_seconds": (waited.as_secs_f64() * 10.0).round() / 10.0,
            "requests": self.ctx.client.request_count(),
            "checks": self.checks().map(|c| json!({
                "merge_request_iid": self.mrs[c.mr].iid,
                "id": c.id,
                "name": c.name,
                "status": c.status.as_str(),
                "seconds": (c.since.as_secs_f64() * 10.0).round() / 10.0,
                "retries": c.retries,
            })).collect::<Vec<_>>(),
            "reason": (verdict == Verdict::Empty).then(|| self.empty_reason()),
            "last_error": self.last_error(),
        });
        Ok(Outcome::new(code, text, json))
    }

    fn names_with(&self, pred: impl Fn(&CheckStatus) -> bool) -> String {
        self.checks()
            .filter(|c| pred(&c.status))
            .map(|c| self.label(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn verdict_text(&self, verdict: Verdict, waited: Duration) -> Result<(Code, String), Error> {
        let mrs = self.mr_list();
        Ok(match verdict {
            Verdict::Passed => (
                Code::Ok,
                format!(
                    "all {} checks passed on {mrs} after {}",
                    self.checks().count(),
                    human(waited)
                ),
            ),
            Verdict::Failed => (
                Code::CheckFailed,
                format!(
                    "status checks failed on {mrs}: {}",
                    self.names_with(|s| *s == CheckStatus::Failed)
                ),
            ),
            Verdict::Timeout if self.polls() == 0 => (
                Code::Timeout,
                format!(
                    "timed out after {} on {mrs} without one successful poll: {}",
                    human(waited),
                    self.last_error()
                        .as_deref()
                        .unwrap_or("no answer from GitLab in time")
                ),
            ),
            Verdict::Timeout => {
                let mut text = format!(
                    "timed out after {} on {mrs}; still pending: {}",
                    human(waited),
                    self.names_with(|s| !matches!(s, CheckStatus::Passed | CheckStatus::Failed))
                );
                if let Some(error) = self.last_error() {
                    text.push_str(&format!("; the last poll failed: {error}"));
                }
                (Code::Timeout, text)
            }
            Verdict::Stale => {
                let (mr, head) = match &self.gate.moved {
                    Some(Moved::During { mr, head }) => (self.mrs[*mr].label.clone(), head.clone()),
                    _ => Default::default(),
                };
                (
                    Code::Stale,
                    format!(
                        "stale: {mr} moved from {} to {head} during the wait; this pipeline no longer gates it",
                        self.sha
                    ),
                )
            }
            Verdict::Empty if self.settings.allow_empty => (
                Code::Ok,
                format!(
                    "{}: nothing to wait for (--allow-empty)",
                    self.empty_reason()
                ),
            ),
            Verdict::Empty => {
                return Err(Error::check_failed(format!("{}: nothing to gate on", self.empty_reason())).hint(
                    "add external status checks to the project (Settings → Merge requests), or pass --allow-empty to let the gate pass without any",
                ));
            }
        })
    }

    fn summary_table(&self, results: &[CheckResult]) {
        let multiple = self.several();
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.name.clone(),
                    r.status.clone(),
                    human(Duration::from_secs_f64(r.seconds)),
                ];
                if multiple {
                    row.insert(0, format!("!{}", r.iid));
                }
                row
            })
            .collect();
        let headers: &[&str] = if multiple {
            &["MR", "CHECK", "STATUS", "AT"]
        } else {
            &["CHECK", "STATUS", "AT"]
        };
        self.ctx.log.info(table(headers, &rows));
    }
}
