//! `status-check sync --file checks.yml [--dry-run] [--prune] [--rotate-secrets]`:
//! make the project's external status checks match a file.
//!
//! Checks are matched by name. A check in the file and not in GitLab is
//! created; one whose URL, protected branches or secret presence differs is
//! updated; one in GitLab and not in the file is kept, or deleted with
//! `--prune`. The shared secret cannot be read back (GitLab only says
//! `hmac: true/false`), so it is sent when a check is created, when `hmac`
//! differs from the file, or for every check with `--rotate-secrets`.
//!
//! Everything is read and checked before the first change: the file, the
//! secret variables, the protected branch names, URL clashes with checks
//! that stay. Changes then run as deletes, updates, creates, and the
//! project setting, so a URL freed by one step is free for the next.

mod apply;
mod file;
mod plan;
mod preflight;
mod render;

use std::collections::HashMap;

use crate::checks::Ctx;
use crate::config::{Config, SyncTask};
use crate::error::Error;
use crate::gitlab::version::WebhookRule;
use crate::log::Log;
use crate::output::Outcome;
use crate::secret;
use file::SyncFile;
use plan::{Options, SettingChange, plan};
use render::{Mode, render};

/// Looks up a shared secret by variable name (`ci::shared_secret` outside tests).
pub(super) type SecretLookup<'a> = &'a dyn Fn(&str) -> Option<secret::Secret<String>>;

pub(super) fn run(
    cfg: &Config,
    log: &Log,
    args: &SyncTask,
    lookup: SecretLookup,
) -> Result<Outcome, Error> {
    // The file and the secret variables are checked before anything else.
    let file = file::load(&args.file)?;
    let secrets = secrets(&file, args.dry_run, lookup, log)?;
    let ctx = Ctx::connect(cfg, log)?;
    let project = ctx.project()?;
    let file_name = args.file.display().to_string();
    let doubts = preflight::refuse_what_the_version_ignores(&ctx, &file, &file_name)?;
    let existing = preflight::list_checks(&ctx, project)?;
    preflight::refuse_secrets_without_hmac(&file, &existing, &file_name)?;
    let branches = preflight::protected_branches(&ctx, project, &file)?;
    let setting = match file.only_allow_merge {
        Some(want) => Some((preflight::current_setting(&ctx, project)?, want)),
        None => None,
    };
    let warnings: Vec<String> = doubts
        .into_iter()
        .chain(plan::near_misses(&file, &existing))
        .chain(webhook_warnings(&ctx, &file, &branches))
        .collect();
    for warning in &warnings {
        log.warn(warning);
    }
    let has_secret: Vec<bool> = secrets.iter().map(Secret::is_some).collect();
    let mut plan = plan(
        &file,
        &existing,
        &branches,
        &has_secret,
        Options {
            prune: args.prune,
            rotate_secrets: args.rotate_secrets,
        },
    )?;
    plan.setting = setting.map(|(old, new)| SettingChange { old, new });
    plan.warnings = warnings;
    if args.dry_run {
        return Ok(render(&plan, &project.raw, &file_name, Mode::DryRun));
    }
    apply::apply(&ctx, project, &mut plan, &file, &secrets)?;
    Ok(render(&plan, &project.raw, &file_name, Mode::Applied))
}

/// Where the file's scopes have GitLab send a webhook it does not gate. The version is
/// asked only when a warning depends on it (from the wildcard fix, seen in 19.4, there is
/// none); when it cannot be read, the rule before that fix is assumed.
fn webhook_warnings(ctx: &Ctx, file: &SyncFile, branches: &HashMap<String, u64>) -> Vec<String> {
    let targets: Vec<String> = branches.keys().cloned().collect();
    let unknown = "GitLab before 19.4";
    if plan::webhook_warnings(file, &targets, WebhookRule::ByName, unknown).is_empty() {
        return Vec::new();
    }
    match ctx.server_version() {
        Ok(v) => plan::webhook_warnings(file, &targets, v.webhook_rule(), &v.scope_rule_label()),
        Err(_) => plan::webhook_warnings(file, &targets, WebhookRule::ByName, unknown),
    }
}

/// GitLab refuses a longer shared secret (`validates :shared_secret, length: { maximum: 255 }`).
const MAX_SECRET_CHARS: usize = 255;

/// A check's shared secret, from the variable the file names.
enum Secret {
    None,
    Given(secret::Secret<String>),
    /// The variable is unset: allowed in a dry run only (a protected variable
    /// is missing in pipelines of unprotected branches, e.g. an MR's drift check).
    Unset,
}

impl Secret {
    fn is_some(&self) -> bool {
        !matches!(self, Secret::None)
    }
}

fn secrets(
    file: &SyncFile,
    dry_run: bool,
    lookup: SecretLookup,
    log: &Log,
) -> Result<Vec<Secret>, Error> {
    let mut out = Vec::new();
    for spec in &file.checks {
        let Some(var) = &spec.shared_secret_env else {
            out.push(Secret::None);
            continue;
        };
        match lookup(var) {
            Some(secret) if secret.chars() > MAX_SECRET_CHARS => {
                return Err(Error::usage(format!(
                    "{}: the shared secret in {var} is {} characters long; GitLab accepts at most {MAX_SECRET_CHARS}",
                    spec.label(),
                    secret.chars()
                ))
                .hint(format!("use a shorter secret in {var} (e.g. `openssl rand -hex 32`: 64 characters) and set the same one in the external service")));
            }
            Some(secret) => out.push(Secret::Given(secret)),
            None if dry_run => {
                log.warn(format!(
                    "{}: {var} is not set; the dry run assumes the check has a shared secret",
                    spec.label()
                ));
                out.push(Secret::Unset);
            }
            None => {
                return Err(Error::usage(format!(
                    "{}: shared_secret_env names {var}, which is not set (or empty)",
                    spec.label()
                ))
                .hint(format!(
                    "define {var} as a masked CI/CD variable (a protected one exists only in pipelines of protected branches), or remove shared_secret_env"
                )));
            }
        }
    }
    Ok(out)
}
