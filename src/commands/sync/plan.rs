//! The plan: the steps that make the project's checks match the file, in the order
//! they can be applied. Pure: it reads what GitLab said and the file, and sends nothing.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::file::{CheckSpec, SyncFile, redact_url};
use crate::checks;
use crate::error::Error;
use crate::gitlab::models::ProjectCheck;
use crate::gitlab::version::WebhookRule;
use crate::names::{did_you_mean, quote};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Create,
    Update,
    Delete,
    Unchanged,
    /// In GitLab, not in the file, and no `--prune`: kept.
    Unmanaged,
}

impl Change {
    pub(super) fn word(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Delete => "delete",
            Change::Unchanged => "unchanged",
            Change::Unmanaged => "unmanaged",
        }
    }

    pub(super) fn sign(self) -> &'static str {
        match self {
            Change::Create => "+",
            Change::Update => "~",
            Change::Delete => "-",
            Change::Unchanged => "=",
            Change::Unmanaged => "?",
        }
    }

    fn is_change(self) -> bool {
        matches!(self, Change::Create | Change::Update | Change::Delete)
    }
}

/// One field's change, as shown (never a secret's value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Field {
    pub name: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) struct Step {
    pub action: Change,
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
    pub(super) old_url: Option<String>,
    pub(super) new_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SecretOp {
    Keep,
    Send,
    Clear,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SettingChange {
    pub old: bool,
    pub new: bool,
}

#[derive(Debug, Default)]
pub(super) struct Plan {
    pub steps: Vec<Step>,
    pub setting: Option<SettingChange>,
    /// Changes made so far (after `apply`).
    pub applied: usize,
    /// What the file asks for that may not do what it says (also on stderr).
    pub warnings: Vec<String>,
}

impl Plan {
    pub(super) fn changes(&self) -> usize {
        self.steps.iter().filter(|s| s.action.is_change()).count()
            + usize::from(self.setting.is_some_and(|s| s.old != s.new))
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Options {
    pub prune: bool,
    pub rotate_secrets: bool,
}

/// The steps that make `existing` match `file`. `branches` maps every
/// protected branch name the file uses to its id; `has_secret[i]` tells
/// whether `file.checks[i]` has a shared secret.
pub(super) fn plan(
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
            Change::Delete
        } else {
            Change::Unmanaged
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
        warnings: Vec::new(),
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
        action: Change::Create,
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
            Change::Unchanged
        } else {
            Change::Update
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

/// A warning for each check of the file that GitLab does not have by that exact
/// name but has under a name that differs only in case or surrounding spaces:
/// names match exactly, so sync would create a second check (and `--prune`
/// delete the first); the file's name may be the typo.
pub(super) fn near_misses(file: &SyncFile, existing: &[ProjectCheck]) -> Vec<String> {
    file.checks
        .iter()
        .filter_map(|spec| {
            let hint = did_you_mean(&spec.name, existing.iter().map(|c| c.name.as_str()))?;
            Some(format!(
                "{}: GitLab has no check named exactly so ({hint}): sync treats it as a new check",
                spec.label()
            ))
        })
        .collect()
}

/// A warning for each check of the file whose webhook GitLab also sends for merge
/// requests into other protected branches (`targets`), which the check does not gate
/// (row `webhook-by-name`: before the wildcard fix, a target branch that is part of a
/// check's branch name gets its webhook).
pub(super) fn webhook_warnings(
    file: &SyncFile,
    targets: &[String],
    rule: WebhookRule,
    server: &str,
) -> Vec<String> {
    file.checks
        .iter()
        .filter_map(|spec| {
            let sent = checks::sent_but_not_gated(rule, &spec.protected_branches, targets);
            (!sent.is_empty()).then(|| {
                format!(
                    "{}: limited to {}, but {server} also sends its webhook for merge requests into {}, which it does not gate (the target branch is part of the check's branch name): the service is called there and its answers gate nothing",
                    spec.label(),
                    checks::join_branches(&spec.protected_branches),
                    sent.join(", ")
                )
            })
        })
        .collect()
}

/// GitLab requires unique URLs in a project: a file check may not take the
/// URL of a check that stays and is not in the file.
fn check_url_clashes(file: &SyncFile, steps: &[Step]) -> Result<(), Error> {
    for kept in steps.iter().filter(|s| s.action == Change::Unmanaged) {
        let Some(url) = &kept.old_url else { continue };
        if let Some(spec) = file.checks.iter().find(|c| &c.external_url == url) {
            return Err(Error::usage(format!(
                "{}: external_url {} is already used by the check {} (id {}), which is not in the file",
                spec.label(),
                redact_url(url),
                quote(&kept.name),
                kept.id.unwrap_or(0)
            ))
            .hint(format!(
                "GitLab requires each check's URL to be unique in a project: add {} to the file (with its own URL), delete it, or run with --prune to delete the checks the file does not list",
                quote(&kept.name)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::exit::Code;
    use crate::gitlab::models::BranchRef;

    pub(in super::super) fn file(yaml: &str) -> SyncFile {
        super::super::file::parse(yaml, "checks.yml").unwrap()
    }

    pub(in super::super) fn existing(
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

    pub(in super::super) fn branches() -> HashMap<String, u64> {
        [("main".to_owned(), 1), ("release".to_owned(), 2)].into()
    }

    fn actions(plan: &Plan) -> Vec<(&str, Change)> {
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
                ("new", Change::Create),
                ("moved", Change::Update),
                ("same", Change::Unchanged),
                ("legacy", Change::Unmanaged)
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
        assert_eq!(actions(&plan), [("legacy", Change::Delete)]);
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
        assert_eq!(p.steps[0].action, Change::Unchanged);
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
            Change::Unchanged,
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
        // With --prune the old check is deleted and the new one created.
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
        assert_eq!(
            actions(&p),
            [("renamed", Change::Create), ("old-name", Change::Delete)]
        );
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
