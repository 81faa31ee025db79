//! `status-check control pass|fail --control-id ID`: set a compliance framework's
//! external control on the pipeline's project, with a request signed with the control's
//! secret (no access token). The protocol is `crate::control`'s.

use crate::config::{Config, ControlTask};
use crate::control;
use crate::error::Error;
use crate::exit::Code;
use crate::log::Log;
use crate::output::Outcome;

pub(super) fn run(cfg: &Config, log: &Log, task: &ControlTask) -> Result<Outcome, Error> {
    let control = &task.control;
    let client = control::client(cfg, log)?;
    let retries = (cfg.retries, cfg.retry_delay);
    let set = control::set(&client, log, control, task.status, retries)?;
    Ok(Outcome::new(
        Code::Ok,
        control::describe(control, &set),
        control::json(control, &set),
    ))
}
