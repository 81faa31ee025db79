//! `status-check control pass|fail --control-id ID`: set a compliance framework's
//! external control on the pipeline's project, with a request signed with the control's
//! secret (no access token). The protocol is `crate::control`'s.

use crate::cli::ControlArgs;
use crate::config::Config;
use crate::control;
use crate::error::Error;
use crate::exit::Code;
use crate::log::Log;
use crate::output::Outcome;

pub(super) fn run(cfg: &Config, log: &Log, args: &ControlArgs) -> Result<Outcome, Error> {
    let control = cfg.require_control(&args.control)?;
    let client = control::client(cfg, log)?;
    let retries = (cfg.retries, cfg.retry_delay);
    let set = control::set(&client, log, &control, args.status, retries)?;
    Ok(Outcome::new(
        Code::Ok,
        control::describe(&control, &set),
        control::json(&control, &set),
    ))
}
