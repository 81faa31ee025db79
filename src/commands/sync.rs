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

use std::collections::HashMap;

use serde_json::{Value, json};

use super::sync_file::{self, CheckSpec, SETTING, SyncFile, redact_url};
use crate::checks::{self, Ctx};
use crate::cli::SyncArgs;
use crate::config::{Config, ProjectRef};
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::models::{MAINTAINER, Project, ProjectCheck, ProtectedBranch, role_name};
use crate::gitlab::paths;
use crate::gitlab::{ApiError, ServerVersion};
use crate::log::Log;
use crate::output::{Outcome, plural};
use crate::secret;

/// Looks up a shared secret by variable name (`ci::shared_secret` outside tests).
pub type SecretLookup<'a> = &'a dyn Fn(&str) -> Option<secret::Secret<String>>;

pub fn run(
    cfg: &Config,
    log: &Log,
    args: &SyncArgs,
    lookup: SecretLookup,
) -> Result<Outcome, Error> {
    // The file and the secret variables are checked before anything else.
    let file = sync_file::load(&args.file)?;
    let secrets = secrets(&file, args.dry_run, lookup, log)?;
    let ctx = Ctx::connect(cfg, log)?;
    let project = ctx.project()?;
    let file_name = args.file.display().to_string();
    refuse_what_the_version_ignores(&ctx, &file, &file_name)?;
    let existing = list_checks(&ctx, project)?;
    refuse_secrets_without_hmac(&file, &existing, &file_name)?;
    let branches = protected_branches(&ctx, project, &file)?;
    let setting = match file.only_allow_merge {
        Some(want) => Some((current_setting(&ctx, project)?, want)),
        None => None,
    };
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
    if args.dry_run {
        return Ok(render(&plan, &project.raw, &file_name, Mode::DryRun));
    }
    apply(&ctx, project, &mut plan, &file, &secrets)?;
    Ok(render(&plan, &project.raw, &file_name, Mode::Applied))
}

// ---------------------------------------------------------------- secrets

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

// ---------------------------------------------------------------- version gates

/// GitLab refuses a longer shared secret (`validates :shared_secret, length: { maximum: 255 }`).
const MAX_SECRET_CHARS: usize = 255;
/// Shared secrets (`shared_secret`, the `hmac` key) exist from this version.
const HMAC_SINCE: ServerVersion = ServerVersion::new(17, 3);

/// What the file asks for that this GitLab would accept and silently not do: shared
/// secrets before 17.3 (the parameter is dropped, and the next run finds the same drift),
/// protected branch wildcards where scopes match by exact name (the check gates
/// nothing). The version is asked only when the file uses either.
fn refuse_what_the_version_ignores(ctx: &Ctx, file: &SyncFile, name: &str) -> Result<(), Error> {
    let secrets = file.checks.iter().find(|c| c.shared_secret_env.is_some());
    let wildcard = file.checks.iter().find_map(|c| {
        c.protected_branches
            .iter()
            .find(|b| b.contains('*'))
            .map(|b| (c, b))
    });
    if secrets.is_none() && wildcard.is_none() {
        return Ok(());
    }
    let version = ctx.server_version()?;
    if let Some(spec) = secrets.filter(|_| version < HMAC_SINCE) {
        return Err(secrets_unsupported(
            spec,
            name,
            &format!("GitLab {version}"),
        ));
    }
    if let Some((spec, branch)) = wildcard.filter(|_| !version.matches_wildcard_scopes()) {
        return Err(Error::usage(format!(
            "{name}: {} limits the check to `{branch}`, but GitLab {version} matches a check's protected branches to the merge request's target branch by exact name: a check limited to `{branch}` applies to no merge request, so it would gate nothing",
            spec.label()
        ))
        .hint("name each branch (protect it first: Settings → Repository → Protected branches), or leave protected_branches out to apply the check to every target branch"));
    }
    Ok(())
}

/// A project check list without the `hmac` key comes from a GitLab that ignores shared
/// secrets, whatever the CI variables say about the version.
fn refuse_secrets_without_hmac(
    file: &SyncFile,
    existing: &[ProjectCheck],
    name: &str,
) -> Result<(), Error> {
    let spec = file.checks.iter().find(|c| c.shared_secret_env.is_some());
    match (spec, existing.iter().find(|c| c.hmac.is_none())) {
        (Some(spec), Some(_)) => Err(secrets_unsupported(
            spec,
            name,
            "this GitLab (its check list has no `hmac` key)",
        )),
        _ => Ok(()),
    }
}

fn secrets_unsupported(spec: &CheckSpec, file: &str, server: &str) -> Error {
    Error::usage(format!(
        "{file}: {} sets shared_secret_env, but {server} ignores shared secrets (GitLab 17.3+ stores them): GitLab would answer success, store nothing, and every later sync would find the same change again",
        spec.label()
    ))
    .hint(format!(
        "remove shared_secret_env from {file} for this server (the checks sync without secrets), or upgrade GitLab to 17.3 or later"
    ))
}

// ---------------------------------------------------------------- reading GitLab

/// The project's checks; a 401 or 403 is told apart (role or licence) with
/// one more request.
fn list_checks(ctx: &Ctx, project: &ProjectRef) -> Result<Vec<ProjectCheck>, Error> {
    match checks::project_checks(ctx, project) {
        Ok(checks) => Ok(checks),
        Err(e) if matches!(e.status(), Some(401 | 403)) => Err(explain_refusal(ctx, project, e)),
        Err(e) => Err(Error::from(e).context("listing the project's external status checks")),
    }
}

fn explain_refusal(ctx: &Ctx, project: &ProjectRef, e: ApiError) -> Error {
    let status = e.status().unwrap_or(401);
    let Ok(p) = ctx.client.get::<Project>(&paths::project(&project.encoded)) else {
        return Error::from(e).context("listing the project's external status checks");
    };
    let name = if p.path_with_namespace.is_empty() {
        project.raw.clone()
    } else {
        p.path_with_namespace.clone()
    };
    match p.access_level() {
        Some(level) if level < MAINTAINER => Error::api(format!(
            "sync needs the Maintainer role on {name}; the token's user is {} (GitLab answered {status} to the project's check list)",
            role_name(level)
        ))
        .hint("use a token of a Maintainer: e.g. a project access token with the Maintainer role and the `api` scope, stored as a masked, protected CI/CD variable"),
        _ => Error::api(format!(
            "GitLab answered {status} to {name}'s check list although the token works and is Maintainer: no Ultimate licence, or the feature is unavailable"
        ))
        .hint("external status checks need GitLab Ultimate (or a trial) for the project; `status-check doctor` shows what else is missing"),
    }
}

/// Name → id of the project's protected branches, read only when the file
/// names some.
fn protected_branches(
    ctx: &Ctx,
    project: &ProjectRef,
    file: &SyncFile,
) -> Result<HashMap<String, u64>, Error> {
    if file.checks.iter().all(|c| c.protected_branches.is_empty()) {
        return Ok(HashMap::new());
    }
    let path = paths::protected_branches(&project.encoded);
    let listing = ctx.client.get_all::<ProtectedBranch>(&path).map_err(|e| {
        let hint_403 = e.status() == Some(403);
        let err = Error::from(e).context("listing the project's protected branches");
        if hint_403 {
            err.hint("sync needs the Maintainer role on the project")
        } else {
            err
        }
    })?;
    let map: HashMap<String, u64> = listing.items.into_iter().map(|b| (b.name, b.id)).collect();
    for spec in &file.checks {
        for name in &spec.protected_branches {
            if !map.contains_key(name) {
                let mut known: Vec<&str> = map.keys().map(String::as_str).collect();
                known.sort_unstable();
                let known = if known.is_empty() {
                    "it has none".to_owned()
                } else {
                    format!("its protected branches are {}", known.join(", "))
                };
                return Err(Error::usage(format!(
                    "{}: `{name}` is not a protected branch of {} ({known})",
                    spec.label(),
                    project.raw
                ))
                .hint("a status check can only be limited to protected branches: protect the branch first (Settings → Repository → Protected branches), or fix the name"));
            }
        }
    }
    Ok(map)
}

fn current_setting(ctx: &Ctx, project: &ProjectRef) -> Result<bool, Error> {
    if let Some(v) = ctx
        .known_version()
        .filter(|v| *v < ServerVersion::new(15, 9))
    {
        return Err(Error::usage(format!(
            "the file sets {SETTING}, but GitLab {v} has no such setting (15.9+)"
        ))
        .hint(format!("remove {SETTING} from the file")));
    }
    let p: Project = ctx
        .client
        .get(&paths::project(&project.encoded))
        .map_err(|e| Error::from(e).context(format!("reading project {}", project.raw)))?;
    p.only_allow_merge_if_all_status_checks_passed.ok_or_else(|| {
        Error::usage(format!(
            "the file sets {SETTING}, but GitLab does not show that setting for {} (it needs Ultimate and GitLab 15.9+)",
            project.raw
        ))
        .hint(format!("remove {SETTING} from the file"))
    })
}

// ---------------------------------------------------------------- the plan

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
    /// In GitLab, not in the file, and no `--prune`: kept.
    Unmanaged,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Unchanged => "unchanged",
            Action::Unmanaged => "unmanaged",
        }
    }

    fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Unchanged => "=",
            Action::Unmanaged => "?",
        }
    }

    fn is_change(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Delete)
    }
}

/// One field's change, as shown (never a secret's value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    pub name: String,
    /// The check's id: existing, or given by GitLab on create.
    pub id: Option<u64>,
    /// Index of the spec in the file (create and update).
    pub spec: Option<usize>,
    pub fields: Vec<Field>,
    /// The request body, without the secret.
    pub body: Value,
    /// What to do with the secret: send the file's, clear it, or leave it.
    pub secret: SecretOp,
    /// The URL the check has before and after (for ordering updates).
    old_url: Option<String>,
    new_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretOp {
    Keep,
    Send,
    Clear,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingChange {
    pub old: bool,
    pub new: bool,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub setting: Option<SettingChange>,
    /// Changes made so far (after `apply`).
    pub applied: usize,
}

impl Plan {
    pub fn changes(&self) -> usize {
        self.steps.iter().filter(|s| s.action.is_change()).count()
            + usize::from(self.setting.is_some_and(|s| s.old != s.new))
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub prune: bool,
    pub rotate_secrets: bool,
}

/// The steps that make `existing` match `file`. `branches` maps every
/// protected branch name the file uses to its id; `has_secret[i]` tells
/// whether `file.checks[i]` has a shared secret.
pub fn plan(
    file: &SyncFile,
    existing: &[ProjectCheck],
    branches: &HashMap<String, u64>,
    has_secret: &[bool],
    options: Options,
) -> Result<Plan, Error> {
    let mut steps = Vec::new();
    for spec in &file.checks {
        let secret = has_secret.get(spec.index).copied().unwrap_or(false);
        let ids: Vec<u64> = spec
            .protected_branches
            .iter()
            .filter_map(|n| branches.get(n).copied())
            .collect();
        let step = match existing.iter().find(|c| c.name == spec.name) {
            None => create_step(spec, &ids, secret),
            Some(current) => update_step(spec, current, &ids, secret, options.rotate_secrets),
        };
        steps.push(step);
    }
    for current in existing {
        if file.checks.iter().any(|c| c.name == current.name) {
            continue;
        }
        let action = if options.prune {
            Action::Delete
        } else {
            Action::Unmanaged
        };
        steps.push(Step {
            action,
            name: current.name.clone(),
            id: Some(current.id),
            spec: None,
            fields: Vec::new(),
            body: Value::Null,
            secret: SecretOp::Keep,
            old_url: Some(current.external_url.clone()),
            new_url: None,
        });
    }
    check_url_clashes(file, &steps)?;
    Ok(Plan {
        steps,
        setting: None,
        applied: 0,
    })
}

fn branch_list(names: &[String]) -> String {
    if names.is_empty() {
        "all branches".to_owned()
    } else {
        names.join(", ")
    }
}

fn secret_from(spec: &CheckSpec) -> String {
    match &spec.shared_secret_env {
        Some(var) => format!("set (from ${var})"),
        None => "set".to_owned(),
    }
}

fn create_step(spec: &CheckSpec, ids: &[u64], secret: bool) -> Step {
    let mut fields = vec![Field {
        name: "external_url",
        old: None,
        new: Some(redact_url(&spec.external_url)),
    }];
    let mut body = json!({ "name": spec.name, "external_url": spec.external_url });
    if !ids.is_empty() {
        fields.push(Field {
            name: "protected_branches",
            old: None,
            new: Some(branch_list(&spec.protected_branches)),
        });
        body["protected_branch_ids"] = json!(ids);
    }
    if secret {
        fields.push(Field {
            name: "shared_secret",
            old: None,
            new: Some(secret_from(spec)),
        });
    }
    Step {
        action: Action::Create,
        name: spec.name.clone(),
        id: None,
        spec: Some(spec.index),
        fields,
        body,
        secret: if secret {
            SecretOp::Send
        } else {
            SecretOp::Keep
        },
        old_url: None,
        new_url: Some(spec.external_url.clone()),
    }
}

fn update_step(
    spec: &CheckSpec,
    current: &ProjectCheck,
    ids: &[u64],
    secret: bool,
    rotate: bool,
) -> Step {
    let mut fields = Vec::new();
    let mut body = json!({});
    if current.external_url != spec.external_url {
        let (old, new) = (
            redact_url(&current.external_url),
            redact_url(&spec.external_url),
        );
        let (old, new) = if old == new {
            (format!("{old} (query string)"), format!("{new} (changed)"))
        } else {
            (old, new)
        };
        fields.push(Field {
            name: "external_url",
            old: Some(old),
            new: Some(new),
        });
        body["external_url"] = json!(spec.external_url);
    }
    let mut current_ids: Vec<u64> = current.protected_branches.iter().map(|b| b.id).collect();
    let mut wanted_ids = ids.to_vec();
    current_ids.sort_unstable();
    wanted_ids.sort_unstable();
    if current_ids != wanted_ids {
        fields.push(Field {
            name: "protected_branches",
            old: Some(branch_list(&current.branch_names())),
            new: Some(branch_list(&spec.protected_branches)),
        });
        body["protected_branch_ids"] = json!(ids);
    }
    let has_hmac = current.hmac.unwrap_or(false);
    let op = match (secret, has_hmac) {
        (true, false) => SecretOp::Send,
        (false, true) => SecretOp::Clear,
        (true, true) if rotate => SecretOp::Send,
        _ => SecretOp::Keep,
    };
    match op {
        SecretOp::Send => fields.push(Field {
            name: "shared_secret",
            old: Some(if has_hmac { "set" } else { "none" }.to_owned()),
            new: Some(if has_hmac {
                format!("{} again (--rotate-secrets)", secret_from(spec))
            } else {
                secret_from(spec)
            }),
        }),
        SecretOp::Clear => fields.push(Field {
            name: "shared_secret",
            old: Some("set".to_owned()),
            new: Some("none".to_owned()),
        }),
        SecretOp::Keep => {}
    }
    Step {
        action: if fields.is_empty() {
            Action::Unchanged
        } else {
            Action::Update
        },
        name: spec.name.clone(),
        id: Some(current.id),
        spec: Some(spec.index),
        fields,
        body,
        secret: op,
        old_url: Some(current.external_url.clone()),
        new_url: Some(spec.external_url.clone()),
    }
}

/// GitLab requires unique URLs in a project: a file check may not take the
/// URL of a check that stays and is not in the file.
fn check_url_clashes(file: &SyncFile, steps: &[Step]) -> Result<(), Error> {
    for kept in steps.iter().filter(|s| s.action == Action::Unmanaged) {
        let Some(url) = &kept.old_url else { continue };
        if let Some(spec) = file.checks.iter().find(|c| &c.external_url == url) {
            return Err(Error::usage(format!(
                "{}: external_url {} is already used by the check \"{}\" (id {}), which is not in the file",
                spec.label(),
                redact_url(url),
                kept.name,
                kept.id.unwrap_or(0)
            ))
            .hint(format!(
                "GitLab requires each check's URL to be unique in a project: add \"{}\" to the file (with its own URL), delete it, or run with --prune to delete the checks the file does not list",
                kept.name
            )));
        }
    }
    Ok(())
}

/// Deletes, then updates (a check that frees a URL before the one taking
/// it), then creates.
fn apply_order(steps: &[Step]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].action == Action::Delete)
        .collect();
    let mut urls: HashMap<u64, String> = steps
        .iter()
        .filter(|s| s.action != Action::Delete)
        .filter_map(|s| Some((s.id?, s.old_url.clone()?)))
        .collect();
    let mut updates: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].action == Action::Update)
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
    order.extend((0..steps.len()).filter(|&i| steps[i].action == Action::Create));
    order
}

// ---------------------------------------------------------------- applying

fn apply(
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
            Action::Create => ctx
                .client
                .post::<ProjectCheck>(&base, &body)
                .map(|c| Some(c.id)),
            Action::Update => ctx
                .client
                .put::<ProjectCheck>(&format!("{base}/{}", step.id.unwrap_or(0)), &body)
                .map(|_| None),
            Action::Delete => ctx
                .client
                .delete(&format!("{base}/{}", step.id.unwrap_or(0)))
                .map(|()| None),
            Action::Unchanged | Action::Unmanaged => continue,
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
                    Action::Create => "created",
                    Action::Delete => "deleted",
                    _ => "updated",
                };
                ctx.log.info(format!(
                    "{done} \"{}\" (id {})",
                    step.name,
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
        "sync stopped at {} \"{}\", after {done} of {total} changes",
        step.action.word(),
        step.name
    );
    let again = "sync is idempotent: once fixed, run it again to finish";
    let label = spec.map_or_else(|| format!("\"{}\"", step.name), CheckSpec::label);
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

// ---------------------------------------------------------------- output

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    DryRun,
    Applied,
}

fn render(plan: &Plan, project: &str, file: &str, mode: Mode) -> Outcome {
    let width = plan
        .steps
        .iter()
        .map(|s| s.name.chars().count() + 2)
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for step in &plan.steps {
        let quoted = format!("\"{}\"", step.name);
        let detail = match step.action {
            Action::Unmanaged => "(not in the file: kept; --prune deletes it)".to_owned(),
            Action::Delete => format!("(id {})", step.id.unwrap_or(0)),
            Action::Unchanged => String::new(),
            Action::Create => format!(
                "({})",
                step.fields
                    .iter()
                    .map(|f| format!("{}: {}", f.name, f.new.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Action::Update => format!(
                "({})",
                step.fields
                    .iter()
                    .map(|f| format!(
                        "{}: {} → {}",
                        f.name,
                        f.old.as_deref().unwrap_or("none"),
                        f.new.as_deref().unwrap_or("none")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let line = format!(
            "{} {:<9}  {quoted:<width$}  {detail}",
            step.action.sign(),
            step.action.word()
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if let Some(s) = plan.setting {
        if s.old == s.new {
            text.push_str(&format!("= unchanged  project {SETTING}: {}\n", s.new));
        } else {
            text.push_str(&format!(
                "~ update     project {SETTING}: {} → {}\n",
                s.old, s.new
            ));
        }
    }
    let changes = plan.changes();
    let in_sync = changes == 0;
    let summary = match (mode, in_sync) {
        (_, true) => format!("project {project} matches {file}: nothing to change"),
        (Mode::DryRun, false) => format!(
            "dry run: {} pending for project {project}; nothing was changed (run without --dry-run to apply)",
            plural(changes, "change")
        ),
        (Mode::Applied, false) => {
            format!(
                "applied {} to project {project}",
                plural(plan.applied, "change")
            )
        }
    };
    text.push_str(&summary);
    let checks: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "action": s.action.word(),
                "name": s.name,
                "id": s.id,
                "changes": s.fields.iter().map(|f| json!({
                    "field": f.name,
                    "old": f.old,
                    "new": f.new,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let setting = plan.setting.map(|s| {
        json!({
            "name": SETTING,
            "action": if s.old == s.new { "unchanged" } else { "update" },
            "old": s.old,
            "new": s.new,
        })
    });
    let json = json!({
        "project": project,
        "file": file,
        "dry_run": mode == Mode::DryRun,
        "in_sync": in_sync,
        "changes": changes,
        "applied": plan.applied,
        "checks": checks,
        "project_setting": setting,
    });
    let code = if mode == Mode::DryRun && !in_sync {
        Code::CheckFailed
    } else {
        Code::Ok
    };
    Outcome::new(code, text, json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitlab::models::BranchRef;

    fn file(yaml: &str) -> SyncFile {
        sync_file::parse(yaml, "checks.yml").unwrap()
    }

    fn existing(
        id: u64,
        name: &str,
        url: &str,
        branches: &[(u64, &str)],
        hmac: bool,
    ) -> ProjectCheck {
        ProjectCheck {
            id,
            name: name.into(),
            external_url: url.into(),
            hmac: Some(hmac),
            protected_branches: branches
                .iter()
                .map(|(id, name)| BranchRef {
                    id: *id,
                    name: (*name).into(),
                })
                .collect(),
        }
    }

    fn branches() -> HashMap<String, u64> {
        [("main".to_owned(), 1), ("release".to_owned(), 2)].into()
    }

    fn actions(plan: &Plan) -> Vec<(&str, Action)> {
        plan.steps
            .iter()
            .map(|s| (s.name.as_str(), s.action))
            .collect()
    }

    #[test]
    fn create_update_unchanged_and_unmanaged() {
        let f = file(
            "checks:\n\
             \x20 - {name: new, external_url: https://new, protected_branches: [main]}\n\
             \x20 - {name: moved, external_url: https://moved/v2}\n\
             \x20 - {name: same, external_url: https://same, protected_branches: [release]}\n",
        );
        let gitlab = [
            existing(10, "moved", "https://moved/v1", &[], false),
            existing(11, "same", "https://same", &[(2, "release")], false),
            existing(12, "legacy", "https://legacy", &[], false),
        ];
        let plan = plan(
            &f,
            &gitlab,
            &branches(),
            &[false, false, false],
            Options::default(),
        )
        .unwrap();
        assert_eq!(
            actions(&plan),
            [
                ("new", Action::Create),
                ("moved", Action::Update),
                ("same", Action::Unchanged),
                ("legacy", Action::Unmanaged)
            ]
        );
        assert_eq!(plan.changes(), 2);
        assert_eq!(plan.steps[0].body["protected_branch_ids"], json!([1]));
        assert_eq!(
            plan.steps[1].fields,
            [Field {
                name: "external_url",
                old: Some("https://moved/v1".into()),
                new: Some("https://moved/v2".into())
            }]
        );
        assert_eq!(
            plan.steps[1].body,
            json!({"external_url": "https://moved/v2"})
        );
    }

    #[test]
    fn prune_deletes_what_the_file_does_not_list() {
        let f = file("checks: []");
        let gitlab = [existing(12, "legacy", "https://legacy", &[], false)];
        let plan = plan(
            &f,
            &gitlab,
            &branches(),
            &[],
            Options {
                prune: true,
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(actions(&plan), [("legacy", Action::Delete)]);
        assert_eq!(plan.changes(), 1);
    }

    #[test]
    fn branch_scope_is_compared_as_a_set() {
        let f = file(
            "checks: [{name: a, external_url: https://a, protected_branches: [release, main]}]",
        );
        let same = [existing(
            1,
            "a",
            "https://a",
            &[(1, "main"), (2, "release")],
            false,
        )];
        let p = plan(&f, &same, &branches(), &[false], Options::default()).unwrap();
        assert_eq!(p.steps[0].action, Action::Unchanged);
        let all = [existing(1, "a", "https://a", &[], false)];
        let p = plan(&f, &all, &branches(), &[false], Options::default()).unwrap();
        assert_eq!(p.steps[0].fields[0].old.as_deref(), Some("all branches"));
        assert_eq!(p.steps[0].fields[0].new.as_deref(), Some("release, main"));
        // Dropping the scope sends an empty list, which clears it.
        let f = file("checks: [{name: a, external_url: https://a}]");
        let p = plan(&f, &same, &branches(), &[false], Options::default()).unwrap();
        assert_eq!(p.steps[0].body["protected_branch_ids"], json!([]));
    }

    #[test]
    fn secrets_follow_hmac_and_rotate_on_request() {
        let f = file("checks: [{name: a, external_url: https://a, shared_secret_env: A_SECRET}]");
        let without = [existing(1, "a", "https://a", &[], false)];
        let with = [existing(1, "a", "https://a", &[], true)];
        let p = plan(&f, &without, &branches(), &[true], Options::default()).unwrap();
        assert_eq!(p.steps[0].secret, SecretOp::Send);
        assert_eq!(
            p.steps[0].fields[0].new.as_deref(),
            Some("set (from $A_SECRET)")
        );
        let p = plan(&f, &with, &branches(), &[true], Options::default()).unwrap();
        assert_eq!(
            p.steps[0].action,
            Action::Unchanged,
            "a secret cannot be compared"
        );
        let rotate = Options {
            rotate_secrets: true,
            ..Options::default()
        };
        let p = plan(&f, &with, &branches(), &[true], rotate).unwrap();
        assert_eq!(p.steps[0].secret, SecretOp::Send);
        let f = file("checks: [{name: a, external_url: https://a}]");
        let p = plan(&f, &with, &branches(), &[false], Options::default()).unwrap();
        assert_eq!(p.steps[0].secret, SecretOp::Clear);
        assert_eq!(p.steps[0].fields[0].new.as_deref(), Some("none"));
    }

    #[test]
    fn a_url_held_by_a_kept_check_is_refused_before_any_change() {
        let f = file("checks: [{name: renamed, external_url: https://x}]");
        let gitlab = [existing(5, "old-name", "https://x", &[], false)];
        let e = plan(&f, &gitlab, &branches(), &[false], Options::default()).unwrap_err();
        assert_eq!(e.code, Code::Usage);
        assert!(
            e.message
                .contains("already used by the check \"old-name\" (id 5)"),
            "{}",
            e.message
        );
        assert!(e.hints[0].contains("--prune"));
        // With --prune the old check goes first, then the new one is created.
        let p = plan(
            &f,
            &gitlab,
            &branches(),
            &[false],
            Options {
                prune: true,
                ..Options::default()
            },
        )
        .unwrap();
        let order: Vec<Action> = apply_order(&p.steps)
            .iter()
            .map(|&i| p.steps[i].action)
            .collect();
        assert_eq!(order, [Action::Delete, Action::Create]);
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

    #[test]
    fn query_strings_are_not_shown() {
        let f = file("checks: [{name: a, external_url: 'https://a/h?token=new'}]");
        let gitlab = [existing(1, "a", "https://a/h?token=old", &[], false)];
        let p = plan(&f, &gitlab, &branches(), &[false], Options::default()).unwrap();
        let shown = format!("{:?}", p.steps[0].fields);
        assert!(!shown.contains("token="), "{shown}");
        assert!(shown.contains("changed"), "{shown}");
    }
}
