//! Who reports what, and where: the check on each merge request, what the server can
//! store, and the outcome once CMD has ended.

use std::time::Duration;

use serde_json::{Value, json};

use super::supervisor::{Ended, exit_status};
use super::{say, warn};
use crate::checks::{self, Ctx, Reported, Target, status_word};
use crate::cli::{ControlStatus, OutputFormat, ReportStatus};
use crate::config::{CheckRef, Control};
use crate::control::{self, Set};
use crate::duration::human;
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::Client;
use crate::gitlab::MrCheck;
use crate::names::quote;
use crate::output::{self, Outcome};
use crate::platform::signals;
use crate::sha::Sha;

/// The check as one merge request lists it.
#[derive(Clone)]
pub(super) struct OnMr {
    pub(super) mr: Target,
    pub(super) check: MrCheck,
}

/// What the server can store, decided once from its version.
pub(super) struct Plan {
    pub(super) pending: bool,
    /// Only on 16.6+, and only when a pending is posted.
    pub(super) heartbeat: Option<Duration>,
    /// Send `status` with `passed` (not on 14.0–14.8).
    pub(super) passed_param: bool,
    /// Why `failed` cannot be stored (before 14.9), if so.
    pub(super) no_failed: Option<Error>,
}

impl Plan {
    /// Without a check: nothing is posted before or while CMD runs.
    pub(super) fn nothing_posted() -> Plan {
        Plan {
            pending: false,
            heartbeat: None,
            passed_param: true,
            no_failed: None,
        }
    }
}

/// Who reports what, and where: settled before CMD starts.
pub(super) struct Reporter<'a> {
    /// The check named (`None`: only a control is set).
    pub(super) check: Option<CheckRef>,
    /// The commit reported on (`None` only without a check, outside a pipeline).
    pub(super) sha: Option<Sha>,
    /// The check on each merge request: empty without a check.
    pub(super) targets: Vec<OnMr>,
    pub(super) plan: Plan,
    /// The compliance control set with the outcome, and its own client (no token).
    pub(super) control: Option<(Control, Client<'a>)>,
    /// MRs already warned about a check that gates nothing there (warn once each).
    pub(super) warned: std::cell::RefCell<Vec<Target>>,
}

/// The result of reporting one status on every target.
pub(super) struct Report {
    pub(super) status: ReportStatus,
    pub(super) reported: Vec<Reported>,
    /// The control's status, when one was set.
    pub(super) control: Option<Set>,
    pub(super) errors: Vec<Error>,
}

impl Reporter<'_> {
    /// Posts `status` on every target, then sets the control (passed: pass, failed:
    /// fail); errors are collected, not returned.
    pub(super) fn report_all(&self, ctx: &Ctx, status: ReportStatus) -> Report {
        let mut report = Report {
            status,
            reported: Vec::new(),
            control: None,
            errors: Vec::new(),
        };
        self.post_checks(ctx, &mut report);
        self.set_control(ctx, &mut report);
        report
    }

    fn post_checks(&self, ctx: &Ctx, report: &mut Report) {
        let (Some(check), Some(sha)) = (&self.check, &self.sha) else {
            return;
        };
        let status = report.status;
        if status == ReportStatus::Failed
            && let Some(why) = &self.plan.no_failed
        {
            if !self.targets.is_empty() {
                say(ctx.log, format!("{}: the check stays pending", why.message));
            }
            return;
        }
        let include_status = status != ReportStatus::Passed || self.plan.passed_param;
        for target in &self.targets {
            match checks::post_status(
                ctx,
                check,
                &target.check,
                &target.mr,
                sha,
                status,
                include_status,
            ) {
                Ok(done) => {
                    self.warn_if_gates_nothing(ctx, &done);
                    report.reported.push(done);
                }
                Err(e) => report.errors.push(e),
            }
        }
    }

    fn set_control(&self, ctx: &Ctx, report: &mut Report) {
        let Some((control, client)) = &self.control else {
            return;
        };
        let status = match report.status {
            ReportStatus::Passed => ControlStatus::Pass,
            ReportStatus::Failed => ControlStatus::Fail,
            ReportStatus::Pending => return,
        };
        let retries = (ctx.cfg.retries, ctx.cfg.retry_delay);
        match control::set(client, ctx.log, control, status, retries) {
            Ok(set) => report.control = Some(set),
            Err(e) => report.errors.push(e),
        }
    }

    /// Warns (once per MR) that GitLab stored the response for a check that is limited
    /// to other target branches.
    pub(super) fn warn_if_gates_nothing(&self, ctx: &Ctx, done: &Reported) {
        let Some(warning) = &done.gates_nothing else {
            return;
        };
        let mut warned = self.warned.borrow_mut();
        if !warned.contains(&done.mr) {
            warned.push(done.mr.clone());
            warn(ctx.log, warning);
        }
    }

    /// The check's name for output: as named, else as the first MR lists it.
    pub(super) fn label(&self) -> Option<String> {
        Some(match (self.check.as_ref()?, self.targets.first()) {
            (CheckRef::Name(name), _) => name.clone(),
            (CheckRef::Id(_), Some(target)) => target.check.name.clone(),
            (CheckRef::Id(id), None) => format!("#{id}"),
        })
    }
}

/// The outcome: CMD's exit code, unless CMD succeeded and reporting failed.
/// Report errors are printed here (on stderr), since the outcome is printed
/// in any case.
pub(super) fn finish(
    r: &Reporter<'_>,
    program: &str,
    ended: &Ended,
    mut report: Report,
    deferred: Option<Error>,
    elapsed: Duration,
) -> Outcome {
    let nothing_to_report = r.check.is_some() && r.targets.is_empty() && deferred.is_none();
    report.errors.extend(deferred);
    for error in &report.errors {
        output::emit_error(error, OutputFormat::Text);
    }
    let codes: Vec<Code> = report.errors.iter().map(|e| e.code).collect();
    let status = exit_status(ended.status, &codes);
    let code = status.as_u8();
    let word = status_word(report.status);
    let mut text = if ended.started {
        format!("{program} {} after {}", ended.how, human(elapsed))
    } else {
        format!("{program} {}", ended.how)
    };
    if code != ended.status.as_u8() || ended.signal.is_some() {
        text.push_str(&format!(" (exit code {code})"));
    }
    for done in &report.reported {
        text.push_str(&format!(
            "\nreported {word} for {} on {} at {}",
            quote(&done.check.name),
            done.mr.label,
            r.sha.as_ref().map_or("", Sha::short)
        ));
    }
    if let (Some((control, _)), Some(set)) = (&r.control, &report.control) {
        text.push_str(&format!("\n{}", control::describe(control, set)));
    }
    if nothing_to_report {
        text.push_str("\nnothing reported: no merge request to report on");
    }
    let reported: Vec<Value> = report
        .reported
        .iter()
        .map(|done| {
            json!({
                "merge_request_iid": done.mr.iid,
                "check_id": done.check.id,
                "check_name": done.check.name,
                "response_id": done.response_id,
            })
        })
        .collect();
    let errors: Vec<&str> = report.errors.iter().map(|e| e.message.as_str()).collect();
    Outcome::new(
        status,
        text,
        json!({
            "check": r.label(),
            "check_id": r.targets.first().map(|t| t.check.id),
            "status": word,
            "exit_code": code,
            "command": program.trim_matches('`'),
            "command_exit_code": ended.command_code,
            "signal": ended.signal.map(signals::describe),
            "duration_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "sha": r.sha.as_ref().map(Sha::as_str),
            "reported": reported,
            "control": report.control.as_ref().zip(r.control.as_ref()).map(|(set, (control, _))| control::json(control, set)),
            "errors": errors,
        }),
    )
}
