//! Which checks the gate waits for: every check of the MR, or only the `--name`
//! ones, minus the `--ignore` ones and the job's own (`--self`). Names match
//! exactly, as GitLab stores them; after the first poll, a `--name` that is on
//! no MR is a usage error, and a name off only in case or spaces is pointed out
//! (`did you mean "Security scan"?`), never taken for the check.

use super::gate::{Gate, Verdict};
use crate::error::Error;
use crate::names::{did_you_mean, quote, quote_all};

impl Gate<'_, '_> {
    pub(super) fn selected(&self, name: &str) -> bool {
        let named = self.settings.names.is_empty() || self.settings.names.iter().any(|n| n == name);
        named && !self.settings.ignore.iter().any(|n| n == name)
    }

    /// After the first poll: unknown names are a usage error, an ignored name
    /// that matches nothing is a warning, and an empty selection ends the wait.
    pub(super) fn first_poll_checks(&mut self) -> Result<Option<Verdict>, Error> {
        let listed = || self.first_listed.iter().map(String::as_str);
        let missing: Vec<&str> = self
            .settings
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| !listed().any(|l| l == *n))
            .collect();
        if !missing.is_empty() {
            let mut err = Error::usage(format!(
                "--name {}: no such check on {}",
                quote_all(missing.iter().copied()),
                self.mr_list()
            ));
            for name in &missing {
                if let Some(hint) = did_you_mean(name, listed()) {
                    err = err.hint(format!("{}: {hint}", quote(name)));
                }
            }
            return Err(err.hint("`status-check list` shows the checks that apply to this merge request; a check limited to protected branches only applies to MRs targeting them"));
        }
        for name in &self.settings.ignore {
            if let Some(hint) = did_you_mean(name, listed()) {
                self.ctx.log.warn(format!(
                    "ignoring {}: no check of that name on {}; {hint}",
                    quote(name),
                    self.mr_list()
                ));
            }
        }
        if self.checks.is_empty() {
            self.empty_reason = if self.settings.ignore.is_empty() && self.settings.names.is_empty()
            {
                format!("no external status checks apply to {}", self.mr_list())
            } else {
                format!(
                    "every check on {} is ignored ({})",
                    self.mr_list(),
                    quote_all(self.settings.ignore.iter().map(String::as_str))
                )
            };
            return Ok(Some(Verdict::Empty));
        }
        Ok(None)
    }
}
