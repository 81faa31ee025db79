//! `status-check doctor`: why status checks do or do not work here.
//!
//! A checklist of lines, each `ok`, `warn`, `fail` or `skip` (not checked
//! because something it depends on failed), with the fix. Nothing here
//! returns an error: a missing token or an unreachable server is a line.
//! Exit 1 when a line fails, else 0.
//!
//! Requests are few (5 in a merge request pipeline with a Developer token)
//! and carry only the access token: the job token is never sent. The
//! project's check list (Maintainer only) is read only when the role is known
//! to allow it and the answer is needed.
//!
//! `examine` runs the lines in order: `local` (no request), `connection` (URL,
//! TLS, token, version), `project` (role, merge request), `permissions` (a fine-grained
//! token's, asked without changing anything), `status_checks`
//! (licence, checks, scopes, --name, merge gate), `control` (with `--control-id`: a
//! compliance external control, asked without setting it); `render` prints them,
//! sorted by their `lines::LineId`.

mod connection;
mod control;
mod lines;
mod local;
mod permissions;
mod project;
mod render;
mod status_checks;

use crate::checks::Ctx;
use crate::config::{Config, DoctorTask, ProjectRef};
use crate::error::Error;
use crate::gitlab::models::{Project, ProjectCheck, User};
use crate::gitlab::{MergeRequest, MrCheck, ServerVersion};
use crate::log::Log;
use crate::output::Outcome;
use lines::{Line, LineId, Verdict};

pub(super) fn run<'a>(cfg: &'a Config, log: &'a Log, args: &DoctorTask) -> Outcome {
    let mut doctor = Doctor {
        cfg,
        lines: Vec::new(),
    };
    doctor.examine(log, args);
    doctor.outcome()
}

/// The checklist so far.
struct Doctor<'a> {
    cfg: &'a Config,
    lines: Vec<Line>,
}

/// What the remote lines learned, for the lines after them.
#[derive(Default)]
struct Found {
    user: Option<User>,
    project: Option<Project>,
    level: Option<u32>,
    version: Option<ServerVersion>,
    mr: Option<MergeRequest>,
    /// The project holding `mr`: the pipeline's own, or the one CI_OPEN_MERGE_REQUESTS
    /// names (a fork's upstream).
    mr_project: Option<ProjectRef>,
    mr_checks: Option<Vec<MrCheck>>,
    project_checks: Option<Vec<ProjectCheck>>,
    /// The token is a fine-grained personal access token (row `fine-grained-tokens`).
    fine_grained: bool,
}

impl<'a> Doctor<'a> {
    fn set(&mut self, id: LineId, verdict: Verdict, message: String, fix: Option<String>) {
        self.lines.retain(|l| l.id != id);
        self.lines.push(Line {
            id,
            verdict,
            message,
            fix,
        });
    }

    fn ok(&mut self, id: LineId, message: impl Into<String>) {
        self.set(id, Verdict::Ok, message.into(), None);
    }

    fn warn(&mut self, id: LineId, message: impl Into<String>, fix: impl Into<String>) {
        self.set(id, Verdict::Warn, message.into(), Some(fix.into()));
    }

    fn fail(&mut self, id: LineId, message: impl Into<String>, fix: impl Into<String>) {
        self.set(id, Verdict::Fail, message.into(), Some(fix.into()));
    }

    fn skip(&mut self, id: LineId, message: impl Into<String>) {
        self.set(id, Verdict::Skip, message.into(), None);
    }

    /// A failed line from an error: its message, and its hints as the fix.
    fn fail_with(&mut self, id: LineId, error: &Error) {
        let fix = if error.hints.is_empty() {
            "see the message".to_owned()
        } else {
            error.hints.join("; ")
        };
        self.fail(id, error.message.clone(), fix);
    }

    /// Adds `note` to line `id`'s message.
    fn annotate(&mut self, id: LineId, note: &str) {
        if let Some(line) = self.lines.iter_mut().find(|l| l.id == id) {
            line.message.push_str(note);
        }
    }

    fn verdict(&self, id: LineId) -> Option<Verdict> {
        self.lines.iter().find(|l| l.id == id).map(|l| l.verdict)
    }

    fn examine(&mut self, log: &'a Log, args: &DoctorTask) {
        let name = args.name.as_deref();
        self.config_line();
        self.pipeline_line();
        self.project_line();
        self.sha_line();
        let token_usable = self.token_local();
        let mut found = Found::default();
        let Some(client) = self.client(log, token_usable) else {
            self.not_checked(name, "not checked: GitLab cannot be reached");
            if self.verdict(LineId::Token).is_none() {
                self.skip(LineId::Token, "not checked: GitLab cannot be reached");
            }
            // A version from the CI variables needs no request.
            if let Some(v) = self.cfg.server_version {
                self.version_line(v, self.version_source());
            }
            if args.control.is_some() {
                self.skip(LineId::Control, "not checked: GitLab cannot be reached");
            }
            return;
        };
        let ctx = Ctx::with_client(self.cfg, log, client);
        (found.user, found.fine_grained) = self.connection_and_token(&ctx, token_usable);
        self.version(&ctx, &mut found);
        // A control's requests are signed, not authenticated: no token needed.
        if let Some(control) = &args.control {
            self.control(log, control);
        }
        if found.user.is_none() {
            // The version line is set by now: only the lines after it are skipped.
            self.not_checked(name, "not checked: needs a working access token");
            return;
        }
        self.role(&ctx, &mut found);
        self.mr(&ctx, &mut found);
        self.permissions(&ctx, &found);
        self.licence_and_checks(&ctx, &mut found);
        self.scopes(&ctx, &mut found);
        if let Some(name) = name {
            self.name(&ctx, &mut found, name);
        }
        self.merge_gate(&found);
    }

    /// The lines that need GitLab (and `--name`'s, when asked), not already decided,
    /// as not checked, saying `why`.
    fn not_checked(&mut self, name: Option<&str>, why: &str) {
        let remote = [
            LineId::Version,
            LineId::Role,
            LineId::Mr,
            LineId::Licence,
            LineId::Checks,
            LineId::Scopes,
            LineId::MergeGate,
        ];
        for id in remote {
            self.skip_unless_set(id, why);
        }
        if name.is_some() {
            self.skip(LineId::Name, why);
        }
    }

    fn skip_unless_set(&mut self, id: LineId, message: &str) {
        if self.verdict(id).is_none() {
            self.skip(id, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Code;
    use clap::Parser;

    #[test]
    fn lines_print_in_the_order_of_their_ids_and_a_later_verdict_replaces_one() {
        let cli = crate::cli::Cli::try_parse_from(["status-check", "doctor"]).unwrap();
        let cfg = Config::build_lenient(&cli.global, crate::ci::CiContext::default());
        let mut doctor = Doctor {
            cfg: &cfg,
            lines: Vec::new(),
        };
        doctor.ok(LineId::MergeGate, "last");
        doctor.fail(LineId::Token, "not yet", "wait");
        doctor.warn(LineId::Config, "first", "fix it");
        doctor.ok(LineId::Token, "valid");
        let outcome = doctor.outcome();
        let ids: Vec<&str> = outcome.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| line["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["config", "token", "merge-gate"]);
        assert_eq!(
            outcome.status,
            Code::Ok.into(),
            "the failed line was replaced"
        );
        let lines = [
            "warn  config      first",
            "                  fix: fix it",
            "ok    token       valid",
            "ok    merge-gate  last",
            "",
            "2 ok, 1 warning, 0 failed: status checks should work here",
        ];
        assert_eq!(outcome.text.lines().collect::<Vec<_>>(), lines);
    }
}
