//! The `control` line, with `--control-id`: does the compliance external control exist,
//! is it external, does the secret match, and is the runner's clock in step with
//! GitLab's, asked without setting its status (`crate::control::probe`). Needs no token.

use super::Doctor;
use super::lines::LineId;
use crate::config::DoctorControl;
use crate::control::{self, probe};
use crate::log::Log;

/// A clock this far off is worth saying: `control` still succeeds (one request more),
/// other signers would not.
const CLOCK_NOTE_SECS: i64 = 5;

impl Doctor<'_> {
    pub(super) fn control(&mut self, log: &Log, inputs: &DoctorControl) {
        let id = match &inputs.id {
            Ok(id) => id,
            Err(e) => return self.fail_with(LineId::Control, e),
        };
        let project = match &inputs.project {
            Ok(project) => project,
            Err(e) => return self.fail_with(LineId::Control, e),
        };
        let client = match control::client(self.cfg, log) {
            Ok(client) => client,
            Err(e) => return self.fail_with(LineId::Control, &e),
        };
        let (exists, offset) = probe::exists(&client, id, project);
        match exists {
            probe::Exists::External => {}
            probe::Exists::Refused(e) => return self.fail_with(LineId::Control, &e),
            probe::Exists::Unexpected(answer) => {
                return self.warn(
                    LineId::Control,
                    format!("control {}: GitLab answered {answer} to an unsigned request, not `401 Missing required headers`", id.value),
                    "check the API URL, and that nothing between the job and GitLab answers for it",
                );
            }
        }
        let clock = clock_note(offset);
        let unknowable = format!(
            "whether project {} has the framework holding it, and the licence, show only when a status is set; while the control's ping is on, GitLab sets it back to pending every 12 hours",
            project.value
        );
        let control = match &inputs.control {
            Ok(control) => control,
            Err(e) => {
                return self.warn(
                    LineId::Control,
                    format!(
                        "control {} exists and is external; the secret was not checked: {}{clock}",
                        id.value, e.message
                    ),
                    e.hints.join("; "),
                );
            }
        };
        match probe::secret(&client, control) {
            probe::Secret::Matches => self.ok(
                LineId::Control,
                format!(
                    "control {} exists, is external, and its secret ({}) matches{clock}; {unknowable}",
                    id.value, control.secret_source
                ),
            ),
            probe::Secret::Refused(e) => self.fail_with(LineId::Control, &e),
            probe::Secret::Unexpected(answer) => self.warn(
                LineId::Control,
                format!(
                    "control {} exists and is external; a request signed with an expired timestamp answered {answer}, not `Request has expired` or `Invalid signature`",
                    id.value
                ),
                "set a status with `status-check control` to see what GitLab says",
            ),
        }
    }
}

fn clock_note(offset: Option<i64>) -> String {
    match offset {
        Some(o) if o.abs() >= CLOCK_NOTE_SECS => format!(
            "; this runner's clock is {} s off GitLab's (control signs on GitLab's time: one request more)",
            o
        ),
        _ => String::new(),
    }
}
