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
use crate::config::{Config, Task};
use crate::error::Error;
use crate::log::Log;
use crate::output::Outcome;

pub(crate) fn dispatch(task: Task, cfg: &Config, log: &Log) -> Result<Outcome, Error> {
    match task {
        Task::Report(task) => report::run(&Ctx::connect(cfg, log)?, &task),
        Task::List => list::run(&Ctx::connect(cfg, log)?),
        Task::Retry(check) => retry::run(&Ctx::connect(cfg, log)?, &check),
        Task::Wait(task) => wait::run(&Ctx::connect(cfg, log)?, task),
        // With only a control, no token: `run` connects as it needs.
        Task::Run(task) => run::run(cfg, log, task),
        Task::Doctor(task) => Ok(doctor::run(cfg, log, &task)),
        Task::Sync(task) => sync::run(cfg, log, &task, &crate::ci::shared_secret),
        // Signed with the control's secret: no token, so no `Ctx`.
        Task::Control(task) => control::run(cfg, log, &task),
    }
}
