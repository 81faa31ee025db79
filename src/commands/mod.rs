//! One module per command. This file only dispatches: what the commands share
//! lives in `crate::checks`, and no command imports another.

mod control;
mod doctor;
mod list;
mod report;
mod retry;
mod run;
mod sync;
pub(crate) mod wait;

use crate::checks::Ctx;
use crate::cli::Command;
use crate::config::Config;
use crate::error::Error;
use crate::log::Log;
use crate::output::Outcome;

pub(crate) fn dispatch(command: &Command, cfg: &Config, log: &Log) -> Result<Outcome, Error> {
    match command {
        Command::Report(args) => report::run(&Ctx::connect(cfg, log)?, args),
        Command::List => list::run(&Ctx::connect(cfg, log)?),
        Command::Retry(args) => retry::run(&Ctx::connect(cfg, log)?, args),
        Command::Wait(args) => wait::run(&Ctx::connect(cfg, log)?, args),
        // With only a control, no token: `run` connects as it needs.
        Command::Run(args) => run::run(cfg, log, args),
        Command::Doctor(args) => Ok(doctor::run(cfg, log, args)),
        Command::Sync(args) => sync::run(cfg, log, args, &crate::ci::shared_secret),
        // Signed with the control's secret: no token, so no `Ctx`.
        Command::Control(args) => control::run(cfg, log, args),
    }
}
