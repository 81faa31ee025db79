//! `status-check wait`: the merge gate. Polls the MR's status checks until
//! every selected check has passed, one fails, the MR's head moves, or time
//! runs out.

mod driver;
pub(crate) mod gate;
mod progress;
mod render;
pub(crate) mod reports;
mod selection;

use std::time::Instant;

use crate::checks::{self, Ctx};
use crate::config::WaitTask;
use crate::error::Error;
use crate::output::Outcome;
use crate::platform::signals;
use driver::Driver;
use reports::write_error_reports;

pub(super) fn run(ctx: &Ctx, mut settings: WaitTask) -> Result<Outcome, Error> {
    signals::exit_on_termination();
    let sha = ctx.cfg.require_sha()?.clone();
    let started = Instant::now();
    ctx.client
        .set_deadline(Some(started + settings.rules.timeout));
    let given = match checks::given_targets(ctx) {
        Ok(given) => given,
        Err(e) => return Err(write_error_reports(&mut settings, &sha, e)),
    };
    let mut gate = Driver::new(ctx, settings, sha, given, started);
    match gate.poll_until_verdict() {
        Ok(verdict) => gate.finish(verdict),
        Err(e) => {
            let sha = gate.sha.clone();
            Err(write_error_reports(&mut gate.settings, &sha, e))
        }
    }
}
