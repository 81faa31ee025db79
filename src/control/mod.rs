//! Compliance external controls (docs/gitlab-api.md, "Compliance external controls"):
//! a control's status set with a request signed with the control's secret, and no user
//! token at all.
//!
//! `sign` makes the signature and the nonce, `setter` decides what each answer means
//! (no clock, no I/O), `refusal` explains GitLab's refusals, `probe` asks what can be
//! known without setting a status (for `doctor`); `set` is the loop that signs, sends
//! and sleeps, too thin to hide a decision.

pub(crate) mod probe;
mod refusal;
mod setter;
mod sign;

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use refusal::Inputs;
use setter::{Setter, Step, Why};
use sign::{nonce, signature};

use crate::backoff::{Backoff, Jitter};
use crate::cli::ControlStatus;
use crate::config::{Config, Control};
use crate::error::Error;
use crate::gitlab::client::Method;
use crate::gitlab::{Client, paths};
use crate::log::Log;

/// Longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// A status GitLab stored.
#[derive(Debug)]
pub(crate) struct Set {
    pub status: ControlStatus,
    /// Requests it took (1 on a healthy server with a runner's clock in time).
    pub attempts: u32,
    /// The server's clock minus the runner's, when an answer's `Date` told it.
    pub offset_secs: Option<i64>,
}

/// The client a control's status is set with: the API URL, the config's timeouts and
/// TLS roots, and no token (the request is signed; GitLab reads no user).
pub(crate) fn client<'a>(cfg: &Config, log: &'a Log) -> Result<Client<'a>, Error> {
    crate::checks::client(cfg, log, cfg.require_api_url()?, None)
}

/// Sets `control` to `status`: each attempt signed afresh (new nonce, timestamp), at most
/// `retries` more after transient answers, one more when the runner's clock is off.
pub(crate) fn set(
    client: &Client,
    log: &Log,
    control: &Control,
    status: ControlStatus,
    (retries, retry_delay): (usize, Duration),
) -> Result<Set, Error> {
    let path = paths::control_status(control.project_id.value, control.id.value);
    let body = serde_json::json!({ "status": status.word() }).to_string();
    let mut setter = Setter::new(status.word(), retries);
    let mut backoff = Backoff::new(retry_delay, MAX_WAIT, Jitter::Added);
    let mut attempts = 0;
    loop {
        let timestamp = setter.timestamp(runner_secs());
        let nonce = nonce().map_err(Error::api)?;
        let signature = signature(
            control.secret.expose(),
            timestamp,
            &nonce,
            control.project_id.value,
            control.id.value,
            status,
        );
        let timestamp = timestamp.to_string();
        let headers = [
            ("X-Gitlab-Timestamp", timestamp.as_str()),
            ("X-Gitlab-Nonce", nonce.as_str()),
            ("X-Gitlab-Hmac-Sha256", signature.as_str()),
        ];
        attempts += 1;
        let answer = client.exchange_with(Method::Patch, &path, Some(&body), &headers);
        match setter.on_answer(answer, runner_secs()) {
            Step::Set => {
                return Ok(Set {
                    status,
                    attempts,
                    offset_secs: setter.offset_secs(),
                });
            }
            Step::Again { after, why } => {
                let wait = after
                    .unwrap_or_else(|| backoff.next().unwrap_or(MAX_WAIT))
                    .min(MAX_WAIT);
                log.info(again_line(&why, wait));
                thread::sleep(wait);
            }
            Step::Refused(refusal) => {
                return Err(refusal.error(&inputs(client, control, &setter)));
            }
            Step::GaveUp(e) => {
                return Err(Error::from(e).context(format!(
                    "setting the status of control {}",
                    control.id.value
                )));
            }
        }
    }
}

/// `control 12 set to pass on project 42`, and the clock when it was off.
pub(crate) fn describe(control: &Control, set: &Set) -> String {
    let mut text = format!(
        "control {} set to {} on project {}",
        control.id.value,
        set.status.word(),
        control.project_id.value
    );
    if let Some(offset) = set.offset_secs.filter(|o| *o != 0) {
        text.push_str(&format!(
            " (this runner's clock is {offset} s off GitLab's: signed on GitLab's time)"
        ));
    }
    text
}

/// The same, for `--output json`.
pub(crate) fn json(control: &Control, set: &Set) -> serde_json::Value {
    serde_json::json!({
        "control_id": control.id.value,
        "project_id": control.project_id.value,
        "status": set.status.word(),
        "requests": set.attempts,
        "clock_offset_secs": set.offset_secs,
    })
}

fn inputs<'a>(client: &'a Client, control: &'a Control, setter: &Setter) -> Inputs<'a> {
    Inputs {
        control_id: control.id.value,
        control_source: control.id.source,
        project_id: control.project_id.value,
        project_source: control.project_id.source,
        secret_source: &control.secret_source,
        api_url: client.base_url(),
        offset_secs: setter.offset_secs(),
    }
}

fn again_line(why: &Why, wait: Duration) -> String {
    let after = if wait.is_zero() {
        String::new()
    } else {
        format!(" in {:.1}s", wait.as_secs_f64())
    };
    match why {
        Why::Clock { offset_secs } => format!(
            "this runner's clock is {} s off GitLab's: signing again on GitLab's time{after}",
            offset_secs
        ),
        Why::Replayed => format!(
            "GitLab saw this request twice (something in between repeated it): signing again{after}"
        ),
        Why::Transient(class) => {
            format!("setting the control answered {class}: trying again{after} (transient)")
        }
    }
}

/// The runner's clock, in Unix seconds.
fn runner_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
