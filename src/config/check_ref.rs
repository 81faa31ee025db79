//! Which check a command is about: `--name` or `--check-id`, validated once, and how
//! it matches a check GitLab lists.

use crate::cli::CheckSelector;
use crate::error::Error;
use crate::gitlab::MrCheck;
use crate::names::quote;

/// Which check a command is about.
#[derive(Clone, Debug)]
pub(crate) enum CheckRef {
    Id(u64),
    Name(String),
}

impl CheckRef {
    pub(crate) fn from_args(args: &CheckSelector) -> Result<CheckRef, Error> {
        CheckRef::from_flags(args.name.as_deref(), args.check_id.as_deref())
    }

    /// `--name` and `--check-id` as given (`run` has them outside a `CheckSelector`).
    pub(crate) fn from_flags(
        name: Option<&str>,
        check_id: Option<&str>,
    ) -> Result<CheckRef, Error> {
        if let Some(raw) = check_id.filter(|s| !s.trim().is_empty()) {
            return match raw.trim().parse::<u64>() {
                Ok(id) if id > 0 => Ok(CheckRef::Id(id)),
                _ => Err(Error::usage(format!(
                    "--check-id/STATUS_CHECK_ID `{raw}` is not a positive number"
                ))
                .hint("`status-check list` shows each check's id; or name the check with --name")),
            };
        }
        // Exactly as given: GitLab stores names as typed, spaces included.
        match name.filter(|s| !s.trim().is_empty()) {
            Some(name) => Ok(CheckRef::Name(name.to_owned())),
            None => Err(Error::usage("which check? none was named")
                .hint("give --name NAME (or STATUS_CHECK_NAME), as the check is named in Settings → Merge requests → Status checks, or --check-id ID")),
        }
    }

    pub(crate) fn matches(&self, check: &MrCheck) -> bool {
        match self {
            CheckRef::Id(id) => check.id == *id,
            CheckRef::Name(name) => check.name == *name,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            CheckRef::Id(id) => format!("check #{id}"),
            CheckRef::Name(name) => format!("check {}", quote(name)),
        }
    }
}
