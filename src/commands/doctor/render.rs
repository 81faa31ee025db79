//! The checklist as text and JSON, and its exit code.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Doctor;
use super::lines::Verdict;
use crate::exit::Code;
use crate::output::{Outcome, plural};

impl<'a> Doctor<'a> {
    pub(super) fn outcome(mut self) -> Outcome {
        self.lines.sort_by_key(|l| l.id);
        let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
        for line in &self.lines {
            *counts.entry(line.verdict).or_default() += 1;
        }
        let count = |v| counts.get(&v).copied().unwrap_or(0);
        let failed = count(Verdict::Fail) > 0;
        let id_width = self
            .lines
            .iter()
            .map(|l| l.id.as_str().len())
            .max()
            .unwrap_or(0);
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(&format!(
                "{:<5} {:<id_width$}  {}\n",
                line.verdict.label(),
                line.id.as_str(),
                line.message
            ));
            if let Some(fix) = &line.fix {
                text.push_str(&format!("{:<5} {:<id_width$}  fix: {fix}\n", "", ""));
            }
        }
        text.push_str(&format!(
            "\n{} ok, {}, {} failed{}: {}\n",
            count(Verdict::Ok),
            plural(count(Verdict::Warn), "warning"),
            count(Verdict::Fail),
            match count(Verdict::Skip) {
                0 => String::new(),
                n => format!(", {n} not checked"),
            },
            if failed {
                "status checks will not work here until the failed lines are fixed"
            } else {
                "status checks should work here"
            }
        ));
        let checks: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "id": l.id.as_str(),
                    "result": l.verdict.word(),
                    "message": l.message,
                    "fix": l.fix,
                })
            })
            .collect();
        let json = json!({
            "ok": !failed,
            "summary": {
                "ok": count(Verdict::Ok),
                "warn": count(Verdict::Warn),
                "fail": count(Verdict::Fail),
                "skip": count(Verdict::Skip),
            },
            "checks": checks,
        });
        let code = if failed { Code::CheckFailed } else { Code::Ok };
        Outcome::new(code, text, json)
    }
}
