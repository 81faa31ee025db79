//! Progress lines on stderr. Results go to stdout through `output.rs`.
//!
//! Nothing that reaches this module ever holds the token: callers pass
//! paths, statuses and names only.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) struct Log {
    verbose: bool,
    /// In a GitLab job (`GITLAB_CI=true`): collapsible log sections.
    sections: bool,
    /// Kinds of transient fault already reported, so each is logged once.
    seen: RefCell<HashSet<String>>,
}

impl Log {
    pub(crate) fn new(verbose: bool, sections: bool) -> Log {
        Log {
            verbose,
            sections,
            seen: RefCell::new(HashSet::new()),
        }
    }

    pub(crate) fn is_verbose(&self) -> bool {
        self.verbose
    }

    pub(crate) fn info(&self, line: impl AsRef<str>) {
        write_line(line.as_ref());
    }

    pub(crate) fn warn(&self, line: impl AsRef<str>) {
        write_line(&format!("warning: {}", line.as_ref()));
    }

    /// Only with `--verbose`.
    pub(crate) fn detail(&self, line: impl AsRef<str>) {
        if self.verbose {
            write_line(line.as_ref());
        }
    }

    /// Logs `line` the first time `key` is seen (always with `--verbose`).
    pub(crate) fn once(&self, key: &str, line: impl AsRef<str>) {
        if self.seen.borrow_mut().insert(key.to_owned()) || self.verbose {
            write_line(line.as_ref());
        }
    }

    /// Opens a collapsible section in the GitLab job log (a plain header anywhere
    /// else, other CIs included: only GitLab reads the markers).
    pub(crate) fn section_start(&self, id: &str, header: &str, collapsed: bool) {
        if self.sections {
            write_line(&format!(
                "\x1b[0Ksection_start:{}:{id}[collapsed={collapsed}]\r\x1b[0K{header}",
                unix_now()
            ));
        } else {
            write_line(header);
        }
    }

    pub(crate) fn section_end(&self, id: &str) {
        if self.sections {
            write_line(&format!("\x1b[0Ksection_end:{}:{id}\r\x1b[0K", unix_now()));
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn write_line(line: &str) {
    // A closed stderr must not turn into a panic.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
