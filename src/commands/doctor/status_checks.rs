//! The lines of the checks themselves: the licence, the MR's checks, branch scopes,
//! `--name`, and whether the project blocks merges on them.

use super::lines::{LineId, Verdict};
use super::{Doctor, Found};
use crate::checks::{self, Ctx, Scope};
use crate::config::ProjectRef;
use crate::error::Error;
use crate::gitlab::models::{DEVELOPER, MAINTAINER, ProjectCheck};
use crate::gitlab::paths;
use crate::gitlab::version::{WebhookRule, WildcardScopes};
use crate::gitlab::{MergeRequest, MrCheck};
use crate::names::{did_you_mean, quote, quote_all};
use crate::output::plural;

const WILDCARD_FIX: &str = "limit each to named protected branches, or to none (every target branch); `status-check sync` refuses wildcards on GitLab 18.9 and older";
const WEBHOOK_FIX: &str = "the external service is called for those merge requests and its answers gate nothing: have it ignore target branches outside the check's, or rename the protected branch so that no other target branch is part of its name";

impl<'a> Doctor<'a> {
    pub(super) fn licence_and_checks(&mut self, ctx: &Ctx, found: &mut Found) {
        let Some(project) = self.cfg.project.as_ref() else {
            self.skip(LineId::Licence, "not checked: no project");
            self.skip(LineId::Checks, "not checked: no project");
            return;
        };
        let Some(mr) = found.mr.clone() else {
            self.skip(LineId::Checks, "not checked: no merge request");
            self.licence_without_mr(ctx, found, project);
            return;
        };
        let mr_project = found.mr_project.as_ref().unwrap_or(&project.value);
        let path = paths::mr_checks(&mr_project.encoded, mr.iid);
        match ctx.client.get_all::<MrCheck>(&path) {
            Ok(listing) => {
                self.ok(
                    LineId::Licence,
                    format!(
                        "external status checks are available: !{}'s check list answered",
                        mr.iid
                    ),
                );
                self.checks_line(&mr, &listing.items);
                found.mr_checks = Some(listing.items);
            }
            Err(e) if e.status() == Some(401) => {
                self.no_licence(&format!("!{}'s status-check list", mr.iid));
                self.skip(
                    LineId::Checks,
                    "not checked: the status-check endpoints answer 401",
                );
            }
            Err(e) if e.missing_permission().is_some() => {
                // A fine-grained token is refused before the licence is looked at.
                self.skip(
                    LineId::Licence,
                    "not checked: the fine-grained token was refused first",
                );
                let message = format!(
                    "!{}'s status checks cannot be read: the fine-grained token lacks `read_external_status_check`{}",
                    mr.iid,
                    merge_status(&mr)
                );
                self.fail(
                    LineId::Checks,
                    message,
                    "add `read_external_status_check` to the token's permissions",
                );
            }
            Err(e) if e.status() == Some(403) => {
                // GitLab checks the licence before the role: a 403 means licensed.
                self.ok(
                    LineId::Licence,
                    "external status checks are available (GitLab refused the role, which it checks after the licence)",
                );
                let message = format!(
                    "!{}'s status checks cannot be read with this role (403){}",
                    mr.iid,
                    merge_status(&mr)
                );
                if self.verdict(LineId::Role) == Some(Verdict::Fail) {
                    self.skip(LineId::Checks, format!("{message}: see the role line"));
                } else {
                    self.fail(
                        LineId::Checks,
                        message,
                        "give the token's user the Developer role",
                    );
                }
            }
            Err(e) => {
                self.skip(
                    LineId::Licence,
                    "not checked: the MR's status-check list failed",
                );
                let e = Error::from(e).context(format!("listing the status checks of !{}", mr.iid));
                self.fail_with(LineId::Checks, &e);
            }
        }
    }

    pub(super) fn licence_without_mr(
        &mut self,
        ctx: &Ctx,
        found: &mut Found,
        project: &crate::config::Sourced<crate::config::ProjectRef>,
    ) {
        match found.level {
            Some(level) if level >= MAINTAINER => {
                match checks::project_checks(ctx, &project.value) {
                    Ok(checks) => {
                        self.ok(
                            LineId::Licence,
                            "external status checks are available: the project's check list answered",
                        );
                        found.project_checks = Some(checks);
                    }
                    Err(e) if e.status() == Some(401) => self.no_licence("the project's check list"),
                    Err(e) => {
                        let e = Error::from(e).context("listing the project's external status checks");
                        self.fail_with(LineId::Licence, &e);
                    }
                }
            }
            Some(level) if level >= DEVELOPER => self.warn(
                LineId::Licence,
                "can't be known without a merge request: the project's check list needs Maintainer, and a 401 there would not tell the licence from the role",
                "run doctor in a merge request pipeline, or with --mr IID",
            ),
            _ => self.skip(LineId::Licence, "not checked: the role is too low or unknown"),
        }
    }

    pub(super) fn no_licence(&mut self, what: &str) {
        self.fail(
            LineId::Licence,
            format!("{what} answered 401 while the token works elsewhere: no Ultimate licence, or the feature is unavailable"),
            "external status checks need GitLab Ultimate (or a trial) for the project: on GitLab.com the top-level group's plan, on self-managed the instance licence (Admin → Subscription)",
        );
    }

    pub(super) fn checks_line(&mut self, mr: &MergeRequest, checks: &[MrCheck]) {
        if checks.is_empty() {
            self.warn(
                LineId::Checks,
                format!(
                    "no external status checks apply to !{} (target branch {})",
                    mr.iid, mr.target_branch
                ),
                "add one in Settings → Merge requests → Status checks, or declare them with `status-check sync`; a check limited to protected branches applies only to MRs targeting them",
            );
            return;
        }
        let list: Vec<String> = checks
            .iter()
            .map(|c| format!("{} ({})", c.name, c.status))
            .collect();
        self.ok(
            LineId::Checks,
            format!(
                "{} on !{}: {}",
                plural(checks.len(), "check"),
                mr.iid,
                list.join(", ")
            ),
        );
    }

    // ------------------------------------------------------------ scopes

    /// Checks limited to a wildcard branch (`release/*`) gate nothing where GitLab
    /// matches scopes by exact name; and before the wildcard fix, a scoped check's
    /// webhook also goes to target branches that are part of its branches' names
    /// (`webhook-by-name`), where it gates nothing. Telling needs the project's check
    /// list and protected branches (Maintainer).
    pub(super) fn scopes(&mut self, ctx: &Ctx, found: &mut Found) {
        if found.level.is_none_or(|l| l < MAINTAINER) {
            self.skip(
                LineId::Scopes,
                "not checked: the project's check list (branch scopes) needs Maintainer",
            );
            return;
        }
        let Some(project) = self.cfg.project.as_ref() else {
            self.skip(LineId::Scopes, "not checked: no project");
            return;
        };
        if found.project_checks.is_none() {
            found.project_checks = checks::project_checks(ctx, &project.value).ok();
        }
        let Some(project_checks) = &found.project_checks else {
            self.skip(
                LineId::Scopes,
                "not checked: the project's check list could not be read",
            );
            return;
        };
        let wildcards = wildcard_scoped(project_checks);
        let (targets, capped) = known_targets(ctx, &project.value, found.mr.as_ref());
        self.scopes_of(project_checks, &targets, found.version, &wildcards);
        if capped {
            // Row `protected-branches-15-11`: GitLab lists at most 100.
            self.annotate(
                LineId::Scopes,
                "; GitLab lists at most 100 protected branches (the project's and its top-level group's): the webhook's targets were looked for among those",
            );
        }
    }

    fn scopes_of(
        &mut self,
        project_checks: &[ProjectCheck],
        targets: &[String],
        version: Option<crate::gitlab::ServerVersion>,
        wildcards: &[String],
    ) {
        let rule = version.map_or(WebhookRule::ByName, |v| v.webhook_rule());
        let sent = sent_elsewhere(project_checks, rule, targets);
        let server = version.map_or(
            "GitLab before 19.4 (the version is unknown)".to_owned(),
            |v| v.scope_rule_label(),
        );
        let also_sent = (!sent.is_empty()).then(|| {
            format!(
                "{server} also sends the webhook of {} for merge requests it does not gate (the target branch is part of the check's branch name)",
                sent.join(", ")
            )
        });
        if wildcards.is_empty() {
            match also_sent {
                None => self.ok(
                    LineId::Scopes,
                    format!(
                        "no check is limited to a wildcard branch, and no webhook goes to merge requests its check does not gate ({} in the project)",
                        plural(project_checks.len(), "check")
                    ),
                ),
                Some(also) => self.warn(LineId::Scopes, also, WEBHOOK_FIX),
            }
            return;
        }
        let wildcards = wildcards.join(", ");
        let with_also = |mut message: String| {
            if let Some(also) = &also_sent {
                message.push_str(&format!("; {also}"));
            }
            message
        };
        match version.map(|v| (v, v.wildcard_scopes())) {
            Some((_, WildcardScopes::Matched)) => {
                let message = with_also(format!(
                    "limited to wildcard branches: {wildcards}; {server} matches them against the target branch"
                ));
                match also_sent {
                    Some(_) => self.warn(LineId::Scopes, message, WEBHOOK_FIX),
                    None => self.ok(LineId::Scopes, message),
                }
            }
            Some((v, WildcardScopes::Literal)) => self.fail(
                LineId::Scopes,
                with_also(format!(
                    "limited to wildcard branches, so they gate nothing: {wildcards}; GitLab {v} matches a check's protected branches to the target branch by exact name, so `release/*` applies to no merge request"
                )),
                WILDCARD_FIX,
            ),
            Some((v, WildcardScopes::Unknown)) => self.warn(
                LineId::Scopes,
                with_also(format!(
                    "limited to wildcard branches: {wildcards}; GitLab matches them to the target branch by exact name up to 18.9 (they gate nothing) and as patterns in 19.4, and which GitLab {v} does is not known: `status-check list` in a merge request into a matching branch shows whether they apply"
                )),
                WILDCARD_FIX,
            ),
            None => self.warn(
                LineId::Scopes,
                with_also(format!(
                    "limited to wildcard branches: {wildcards}; up to GitLab 18.9 such a check applies to no merge request (scopes match the target branch by exact name), and the version is unknown"
                )),
                WILDCARD_FIX,
            ),
        }
    }

    // ------------------------------------------------------------ --name

    pub(super) fn name(&mut self, ctx: &Ctx, found: &mut Found, name: &str) {
        if let Some(checks) = &found.mr_checks {
            if let Some(c) = checks.iter().find(|c| c.name == name) {
                let iid = found.mr.as_ref().map_or(0, |m| m.iid);
                self.ok(
                    LineId::Name,
                    format!(
                        "{} applies to !{iid} (check id {}, now {})",
                        quote(name),
                        c.id,
                        c.status
                    ),
                );
                return;
            }
        } else if found.mr.is_some() {
            self.skip(
                LineId::Name,
                "not checked: the MR's checks could not be read",
            );
            return;
        }
        let target = found
            .mr
            .as_ref()
            .map(|m| m.target_branch.clone())
            .or_else(|| self.cfg.ci.mr_target_branch.clone());
        let mr_names = || found.mr_checks.iter().flatten().map(|c| c.name.as_str());
        let on_mr = found.mr.as_ref().map(|m| {
            let names = if mr_names().next().is_none() {
                "it has none".to_owned()
            } else {
                format!("its checks are {}", quote_all(mr_names()))
            };
            format!("no check named {} on !{}; {names}", quote(name), m.iid)
        });
        // A name off only in case or spaces: never taken for the check, but named.
        if let (Some(message), Some(hint)) = (&on_mr, did_you_mean(name, mr_names())) {
            self.fail(LineId::Name, message.clone(), hint);
            return;
        }
        let maintainer = found.level.is_some_and(|l| l >= MAINTAINER);
        if maintainer
            && found.project_checks.is_none()
            && let Some(project) = self.cfg.project.as_ref()
        {
            found.project_checks = checks::project_checks(ctx, &project.value).ok();
        }
        let Some(project_checks) = &found.project_checks else {
            let why = if maintainer {
                "the project's check list could not be read"
            } else {
                "reading the project's check list needs Maintainer"
            };
            match on_mr {
                Some(message) => self.fail(
                    LineId::Name,
                    format!("{message}; whether {} exists but is limited to other target branches can't be known: {why}", quote(name)),
                    "check the name (case-sensitive) and its protected branches in Settings → Merge requests → Status checks",
                ),
                None => self.warn(
                    LineId::Name,
                    format!("{} can't be checked without a merge request: {why}", quote(name)),
                    "run doctor in a merge request pipeline, or with --mr IID",
                ),
            }
            return;
        };
        let existing = || project_checks.iter().map(|c| c.name.as_str());
        let scope = checks::scope_of(project_checks, name, target.as_deref().unwrap_or(""));
        match (scope, &on_mr, &target) {
            (Scope::Missing, _, _) => self.fail(
                LineId::Name,
                format!(
                    "no check named {} in the project; {}",
                    quote(name),
                    if existing().next().is_none() {
                        "it has none".to_owned()
                    } else {
                        format!("its checks are {}", quote_all(existing()))
                    }
                ),
                did_you_mean(name, existing()).unwrap_or_else(|| "create it in Settings → Merge requests → Status checks or with `status-check sync`, or fix the name (case-sensitive)".to_owned()),
            ),
            (Scope::OtherBranches(branches), _, Some(target)) => self.fail(
                LineId::Name,
                format!(
                    "{} exists but applies only to merge requests targeting {}; {} targets {target}",
                    quote(name),
                    checks::join_branches(&branches),
                    found.mr.as_ref().map_or("this pipeline's MR".to_owned(), |m| format!("!{}", m.iid))
                ),
                format!("add {target} to the check's protected branches (it must be a protected branch), or do not report this check for MRs into {target}"),
            ),
            (Scope::OtherBranches(branches), _, None) => self.ok(
                LineId::Name,
                format!(
                    "{} exists in the project, limited to merge requests targeting {}",
                    quote(name),
                    checks::join_branches(&branches)
                ),
            ),
            (_, Some(message), _) => self.fail(
                LineId::Name,
                format!("{message}, although the project's check list says it applies to every branch or to this one"),
                "the MR may have been created before the check was; push a commit or retry",
            ),
            (Scope::AllBranches, None, _) => self.ok(
                LineId::Name,
                format!("{} exists in the project and applies to merge requests into any branch", quote(name)),
            ),
            (Scope::Applies(branches), None, _) => self.ok(
                LineId::Name,
                format!(
                    "{} exists in the project, limited to merge requests targeting {}",
                    quote(name),
                    checks::join_branches(&branches)
                ),
            ),
        }
    }

    // ------------------------------------------------------------ merge gate

    pub(super) fn merge_gate(&mut self, found: &Found) {
        let Some(project) = &found.project else {
            self.skip(
                LineId::MergeGate,
                "not checked: the project could not be read",
            );
            return;
        };
        if let Some(v) = found.version.filter(|v| !v.has_must_succeed()) {
            self.warn(
                LineId::MergeGate,
                format!("GitLab {v} has no \"Status checks must succeed\" setting (15.9+): a failed check does not block the merge"),
                "upgrade to GitLab 15.9+, or gate merges and deploys with `status-check wait`",
            );
            return;
        }
        match project.only_allow_merge_if_all_status_checks_passed {
            Some(true) => {
                let mut message = "the project blocks merges until every status check has passed (\"Status checks must succeed\" is on)".to_owned();
                if let Some(mr) = &found.mr
                    && mr.detailed_merge_status.as_deref() == Some("status_checks_must_pass")
                {
                    message.push_str(&format!("; !{} is blocked by its checks right now", mr.iid));
                }
                self.ok(LineId::MergeGate, message);
            }
            Some(false) => self.warn(
                LineId::MergeGate,
                "the project does not block merges on status checks (\"Status checks must succeed\" is off): a failed check only shows on the MR",
                "turn on Settings → Merge requests → Status checks must succeed, or set `only_allow_merge_if_all_status_checks_passed: true` in the sync file",
            ),
            None => self.warn(
                LineId::MergeGate,
                "unknown: GitLab did not return only_allow_merge_if_all_status_checks_passed (it needs Ultimate and 15.9+)",
                "check Settings → Merge requests → Status checks must succeed",
            ),
        }
    }
}

/// `"release-gate" (release/*)` for each check limited to a wildcard branch.
fn wildcard_scoped(checks: &[ProjectCheck]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| {
            let branches: Vec<String> = c
                .branch_names()
                .into_iter()
                .filter(|b| b.contains('*'))
                .collect();
            (!branches.is_empty())
                .then(|| format!("{} ({})", quote(&c.name), checks::join_branches(&branches)))
        })
        .collect()
}

/// What the MR itself says of its checks, to a token that may not read them (row
/// `detailed-merge-status-15-6`): `status_checks_must_pass` means some check applying to
/// it has not passed, where "Status checks must succeed" is on; no other value says
/// anything of the checks (the setting may be off, an earlier check may mask it), so the
/// gate never goes by it.
fn merge_status(mr: &MergeRequest) -> &'static str {
    match mr.detailed_merge_status.as_deref() {
        Some("status_checks_must_pass") => {
            "; the MR itself says `status_checks_must_pass`: a check has not passed (GitLab tells that much to a Reporter)"
        }
        _ => "",
    }
}

/// The target branches that can be named: the project's protected branches (when they
/// can be read) and the merge request's target; and whether GitLab's list of them was
/// cut at its 100.
fn known_targets(
    ctx: &Ctx,
    project: &ProjectRef,
    mr: Option<&MergeRequest>,
) -> (Vec<String>, bool) {
    let mut targets: Vec<String> = checks::protected_branches(ctx, project)
        .map(|branches| branches.into_iter().map(|b| b.name).collect())
        .unwrap_or_default();
    let capped = targets.len() >= checks::PROTECTED_BRANCHES_CAP;
    targets.extend(mr.map(|m| m.target_branch.clone()));
    (targets, capped)
}

/// `"deploy" (main-old) → main` for each check whose webhook goes to known target
/// branches it does not gate.
fn sent_elsewhere(checks: &[ProjectCheck], rule: WebhookRule, targets: &[String]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| {
            let scope = c.branch_names();
            let sent = checks::sent_but_not_gated(rule, &scope, targets);
            (!sent.is_empty()).then(|| {
                format!(
                    "{} ({}) → {}",
                    quote(&c.name),
                    checks::join_branches(&scope),
                    sent.join(", ")
                )
            })
        })
        .collect()
}
