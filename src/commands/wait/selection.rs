//! Which checks the gate waits for (the gate's `Tracker` selects): every check of
//! the MR, or only the `--name` ones, minus the `--ignore` ones and the job's own
//! (`--self`). Names match exactly, as GitLab stores them; after the first poll, a
//! `--name` that is on no MR is a usage error, and a name off only in case or spaces
//! is pointed out (`did you mean "Security scan"?`), never taken for the check.

use super::driver::Driver;
use crate::error::Error;
use crate::names::{did_you_mean, quote, quote_all};

impl Driver<'_, '_> {
    fn listed(&self) -> impl Iterator<Item = &str> + Clone {
        self.gate
            .tracker
            .listed
            .iter()
            .flatten()
            .map(String::as_str)
    }

    /// `--name`s on no MR's list after the first poll: a usage error, with hints.
    pub(super) fn unknown_names(&self, missing: &[String]) -> Error {
        let mut err = Error::usage(format!(
            "--name {}: no such check on {}",
            quote_all(missing.iter().map(String::as_str)),
            self.mr_list()
        ));
        for name in missing {
            if let Some(hint) = did_you_mean(name, self.listed()) {
                err = err.hint(format!("{}: {hint}", quote(name)));
            }
        }
        err.hint("`status-check list` shows the checks that apply to this merge request; a check limited to protected branches only applies to MRs targeting them")
    }

    /// After the first poll: an ignored name that matches nothing is a warning.
    pub(super) fn warn_unmatched_ignores(&self) {
        for name in &self.settings.rules.checks.ignore {
            if let Some(hint) = did_you_mean(name, self.listed()) {
                self.ctx.log.warn(format!(
                    "ignoring {}: no check of that name on {}; {hint}",
                    quote(name),
                    self.mr_list()
                ));
            }
        }
    }

    /// Why nothing is left to wait for.
    pub(super) fn empty_reason(&self) -> String {
        if let Some(targets) = self.none_found() {
            format!("no open merge request: {}", targets.how)
        } else if (0..self.mrs.len()).all(|mr| !self.gate.is_open(mr)) {
            format!("{} closed during the wait", self.mr_list())
        } else if self.settings.rules.checks.ignore.is_empty()
            && self.settings.rules.checks.names.is_empty()
        {
            format!("no external status checks apply to {}", self.mr_list())
        } else {
            format!(
                "every check on {} is ignored ({})",
                self.mr_list(),
                quote_all(self.settings.rules.checks.ignore.iter().map(String::as_str))
            )
        }
    }
}
