//! Applying the plan: deletes, updates, creates, then the project setting; the
//! first refusal stops it, saying how far it got.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Secret;
use super::file::{CheckSpec, SETTING, SyncFile};
use super::plan::{Change, Plan, SecretOp, Step};
use crate::checks::Ctx;
use crate::config::ProjectRef;
use crate::error::Error;
use crate::gitlab::models::ProjectCheck;
use crate::gitlab::{ApiError, paths};
use crate::names::quote;

pub(super) fn apply(
    ctx: &Ctx,
    project: &ProjectRef,
    plan: &mut Plan,
    file: &SyncFile,
    secrets: &[Secret],
) -> Result<(), Error> {
    let total = plan.changes();
    let base = paths::project_checks(&project.encoded);
    for i in apply_order(&plan.steps) {
        let step = &plan.steps[i];
        let mut body = step.body.clone();
        match step.secret {
            SecretOp::Send => {
                if let Some(Secret::Given(secret)) = step.spec.and_then(|s| secrets.get(s)) {
                    body["shared_secret"] = json!(secret.expose());
                }
            }
            SecretOp::Clear => body["shared_secret"] = json!(""),
            SecretOp::Keep => {}
        }
        let result = match step.action {
            Change::Create => ctx
                .client
                .post::<ProjectCheck>(&base, &body)
                .map(|c| Some(c.id)),
            Change::Update => ctx
                .client
                .put::<ProjectCheck>(&format!("{base}/{}", step.id.unwrap_or(0)), &body)
                .map(|_| None),
            Change::Delete => ctx
                .client
                .delete(&format!("{base}/{}", step.id.unwrap_or(0)))
                .map(|()| None),
            Change::Unchanged | Change::Unmanaged => continue,
        };
        let spec = step.spec.and_then(|s| file.checks.get(s));
        match result {
            Ok(created) => {
                let step = &mut plan.steps[i];
                if let Some(id) = created {
                    step.id = Some(id);
                }
                plan.applied += 1;
                let done = match step.action {
                    Change::Create => "created",
                    Change::Delete => "deleted",
                    _ => "updated",
                };
                ctx.log.info(format!(
                    "{done} {} (id {})",
                    quote(&step.name),
                    step.id.unwrap_or(0)
                ));
            }
            Err(e) => return Err(step_error(e, step, spec, plan.applied, total)),
        }
    }
    if let Some(change) = plan.setting.filter(|s| s.old != s.new) {
        let path = paths::project(&project.encoded);
        match ctx
            .client
            .put::<Value>(&path, &json!({ SETTING: change.new }))
        {
            Ok(_) => {
                plan.applied += 1;
                ctx.log.info(format!(
                    "set {SETTING} to {} on {}",
                    change.new, project.raw
                ));
            }
            Err(e) => {
                let forbidden = e.status() == Some(403);
                let mut err = Error::from(e).context(format!(
                    "sync stopped at the project setting {SETTING}, after {} of {total} changes",
                    plan.applied
                ));
                if forbidden {
                    err = err.hint("changing the project setting needs the Maintainer role");
                }
                return Err(err.hint("sync is idempotent: once fixed, run it again to finish"));
            }
        }
    }
    Ok(())
}

fn step_error(
    e: ApiError,
    step: &Step,
    spec: Option<&CheckSpec>,
    done: usize,
    total: usize,
) -> Error {
    let what = format!(
        "sync stopped at {} {}, after {done} of {total} changes",
        step.action.word(),
        quote(&step.name)
    );
    let again = "sync is idempotent: once fixed, run it again to finish";
    let label = spec.map_or_else(|| quote(&step.name), CheckSpec::label);
    match e.status() {
        Some(422) => {
            let message = e.message().to_owned();
            let mut err = Error::usage(format!("{what}: GitLab refused it (422): {message}"));
            if message.contains("Name") {
                err = err.hint(format!(
                    "check names are unique in a project: another check is already named like {label} (created since sync read the list?)"
                ));
            }
            if message.contains("External url") || message.contains("external_url") {
                err = err.hint(format!(
                    "external URLs are unique in a project: another check still has the URL of {label}; give each check its own URL"
                ));
            }
            err.hint(again)
        }
        Some(403) => Error::from(e)
            .context(&what)
            .hint(
                "sync needs the Maintainer role on the project to create, change and delete checks",
            )
            .hint(again),
        _ => Error::from(e).context(&what).hint(again),
    }
}

/// Deletes, then updates (a check that frees a URL before the one taking
/// it), then creates.
pub(super) fn apply_order(steps: &[Step]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].action == Change::Delete)
        .collect();
    let mut urls: HashMap<u64, String> = steps
        .iter()
        .filter(|s| s.action != Change::Delete)
        .filter_map(|s| Some((s.id?, s.old_url.clone()?)))
        .collect();
    let mut updates: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].action == Change::Update)
        .collect();
    while !updates.is_empty() {
        let free = |i: &usize| {
            let step = &steps[*i];
            step.new_url.as_ref().is_none_or(|u| {
                !urls
                    .iter()
                    .any(|(id, url)| Some(*id) != step.id && url == u)
            })
        };
        let pos = updates.iter().position(free).unwrap_or(0);
        let i = updates.remove(pos);
        if let (Some(id), Some(url)) = (steps[i].id, &steps[i].new_url) {
            urls.insert(id, url.clone());
        }
        order.push(i);
    }
    order.extend((0..steps.len()).filter(|&i| steps[i].action == Change::Create));
    order
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{branches, existing, file};
    use super::super::plan::{Options, plan};
    use super::*;

    #[test]
    fn a_check_freeing_a_url_is_deleted_before_the_one_taking_it() {
        let f = file("checks: [{name: renamed, external_url: https://x}]");
        let gitlab = [existing(5, "old-name", "https://x", &[], false)];
        let prune = Options {
            prune: true,
            ..Options::default()
        };
        let p = plan(&f, &gitlab, &branches(), &[false], prune).unwrap();
        let order: Vec<Change> = apply_order(&p.steps)
            .iter()
            .map(|&i| p.steps[i].action)
            .collect();
        assert_eq!(order, [Change::Delete, Change::Create]);
    }

    #[test]
    fn an_update_freeing_a_url_goes_first() {
        let f = file(
            "checks:\n\
             \x20 - {name: a, external_url: https://b}\n\
             \x20 - {name: b, external_url: https://c}\n",
        );
        let gitlab = [
            existing(1, "a", "https://a", &[], false),
            existing(2, "b", "https://b", &[], false),
        ];
        let p = plan(
            &f,
            &gitlab,
            &branches(),
            &[false, false],
            Options::default(),
        )
        .unwrap();
        let order: Vec<&str> = apply_order(&p.steps)
            .iter()
            .map(|&i| p.steps[i].name.as_str())
            .collect();
        assert_eq!(order, ["b", "a"]);
    }
}
