//! Asking GitLab to run a check again (15.7+).

use serde_json::json;

use super::context::Ctx;
use super::targets::Target;
use crate::error::Error;
use crate::gitlab::{CheckStatus, MrCheck, paths};
use crate::names::quote;

/// Asks GitLab to retry `check` on `mr`. A refusal (422: only a failed check can
/// be retried) is `check_failed`, naming the check's status, read again when it was
/// not known.
pub(crate) fn retry_one(ctx: &Ctx, mr: &Target, check: &MrCheck) -> Result<(), Error> {
    let path = paths::mr_check_retry(&mr.project.encoded, mr.iid, check.id);
    match ctx.client.post::<serde_json::Value>(&path, &json!({})) {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(422) => {
            let current = match &check.status {
                CheckStatus::Other(_) => ctx
                    .mr_checks(mr)
                    .ok()
                    .and_then(|l| l.items.into_iter().find(|c| c.id == check.id))
                    .map_or_else(|| "unknown".to_owned(), |c| c.status.to_string()),
                known => known.to_string(),
            };
            Err(Error::check_failed(format!(
                "GitLab refused to retry {} on {}: {} (its status is {current})",
                quote(&check.name),
                mr.label,
                e.message()
            ))
            .hint("only a failed check can be retried"))
        }
        Err(e) if e.status() == Some(404) => Err(Error::from(e)
            .context(format!("retrying {} on {}", quote(&check.name), mr.label))
            .hint("the retry endpoint needs GitLab 15.7+; an unknown check id also answers 404, and so do GitLab 15.7 to 16.0 to a user below Developer (the MR's author or assignee)")),
        Err(e) => {
            Err(Error::from(e).context(format!("retrying {} on {}", quote(&check.name), mr.label)))
        }
    }
}
