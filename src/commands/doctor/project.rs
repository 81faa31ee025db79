//! The lines of the project and the merge request: the token's role, and which MR
//! this pipeline acts on (as report and wait would find it).

use super::lines::LineId;
use super::{Doctor, Found};
use crate::checks::Ctx;
use crate::config::{Input, MrRef};
use crate::error::Error;
use crate::gitlab::MergeRequest;
use crate::gitlab::models::{AccessLevel, DEVELOPER, MAINTAINER, Project, REPORTER, role_name};
use crate::gitlab::paths;
use crate::sha::{Sha, short};

impl<'a> Doctor<'a> {
    pub(super) fn role(&mut self, ctx: &Ctx, found: &mut Found) {
        let Some(project) = self.cfg.project.as_ref() else {
            self.skip(LineId::Role, "not checked: no project");
            return;
        };
        let user = found.user.clone().expect("role is checked with a user");
        let path = paths::project(&project.value.encoded);
        let fetched = match ctx.client.get::<Project>(&path) {
            Ok(p) => p,
            Err(e) if e.status() == Some(404) => {
                let mut fix = format!(
                    "check {} (the project id or path), and give @{} at least the Developer role on it",
                    project.source, user.username
                );
                if self.cfg.ci.is_fork_mr() {
                    fix.push_str(
                        "; for a fork MR the token needs the role on the MR's (target) project",
                    );
                }
                self.fail(
                    LineId::Role,
                    format!(
                        "project {} does not exist, or @{} cannot see it (404)",
                        project.value.raw, user.username
                    ),
                    fix,
                );
                return;
            }
            Err(e) => {
                let e = Error::from(e).context(format!("reading project {}", project.value.raw));
                self.fail_with(LineId::Role, &e);
                return;
            }
        };
        let message = self.project_message(Some(&fetched.path_with_namespace));
        self.ok(LineId::Project, message);
        let level = fetched.access_level().or_else(|| {
            let path = paths::member(&project.value.encoded, user.id);
            ctx.client
                .get::<AccessLevel>(&path)
                .ok()
                .map(|m| m.access_level)
        });
        let name = display_project(&fetched, &project.value.raw);
        found.project = Some(fetched);
        found.level = level;
        let Some(level) = level else {
            self.warn(
                LineId::Role,
                format!("the role of @{} on {name} could not be read", user.username),
                "make sure the token's user is a member with at least the Developer role",
            );
            return;
        };
        let role = role_name(level);
        if level >= MAINTAINER {
            self.ok(
                LineId::Role,
                format!(
                    "@{} is {role} on {name}: enough for every command, sync included",
                    user.username
                ),
            );
        } else if level >= DEVELOPER {
            self.ok(
                LineId::Role,
                format!(
                    "@{} is {role} on {name}: enough for report, run, wait, list and retry; sync needs Maintainer",
                    user.username
                ),
            );
        } else if level >= REPORTER && found.version.is_none_or(|v| v.reporter_reads_checks()) {
            let reads = match found.version {
                Some(v) => format!("GitLab {v} lets a Reporter read the checks"),
                None => "GitLab 17.4+ lets a Reporter read the checks (the version is unknown)"
                    .to_owned(),
            };
            self.warn(
                LineId::Role,
                format!(
                    "@{} is {role} on {name}: enough for list and wait ({reads}); report, run and retry need Developer",
                    user.username
                ),
                "give the token's user the Developer role if this job reports or retries checks (Maintainer for sync)",
            );
        } else {
            self.fail(
                LineId::Role,
                format!(
                    "@{} is {role} on {name}: reading and reporting status checks need Developer",
                    user.username
                ),
                "give the token's user the Developer role (Maintainer for sync), or use a project access token with that role",
            );
        }
    }

    // ------------------------------------------------------------ merge request

    pub(super) fn mr(&mut self, ctx: &Ctx, found: &mut Found) {
        if let Some(e) = self.cfg.problem(Input::Mr) {
            self.fail_with(LineId::Mr, e);
            return;
        }
        let Some(project) = self.cfg.project.as_ref() else {
            self.skip(LineId::Mr, "not checked: no project");
            return;
        };
        let sha = self.cfg.sha.as_ref().map(|s| s.value.clone());
        if let Some(open) = self.cfg.open_mrs.as_ref().and_then(|o| o.first()) {
            self.open_mr(ctx, found, open, sha.as_ref());
            return;
        }
        if let Some(mr) = &self.cfg.mr {
            let path = paths::merge_request(&project.value.encoded, mr.value);
            match ctx.client.get::<MergeRequest>(&path) {
                Ok(found_mr) => {
                    self.mr_found(&found_mr, &format!("from {}", mr.source), sha.as_ref());
                    found.mr = Some(found_mr);
                    found.mr_project = Some(project.value.clone());
                }
                Err(e) if e.status() == Some(404) => self.fail(
                    LineId::Mr,
                    format!(
                        "no merge request !{} in project {} (404)",
                        mr.value, project.value.raw
                    ),
                    format!(
                        "check {} and the project (for a fork MR, the MR lives in the target project)",
                        mr.source
                    ),
                ),
                Err(e) => {
                    let e = Error::from(e).context(format!("reading !{}", mr.value));
                    self.fail_with(LineId::Mr, &e);
                }
            }
            return;
        }
        let Some(sha) = sha else {
            self.fail(
                LineId::Mr,
                "no MR IID and no SHA to find one by",
                "run in a merge request pipeline, or pass --mr IID or --sha SHA",
            );
            return;
        };
        let path = paths::commit_mrs(&project.value.encoded, &sha);
        let listing = match ctx.client.get_all::<MergeRequest>(&path) {
            Ok(listing) => listing.items,
            Err(e) if e.message().contains("Commit") => {
                self.fail(
                    LineId::Mr,
                    format!(
                        "commit {} is not in project {} (404)",
                        sha.short(),
                        project.value.raw
                    ),
                    "check --sha / CI_COMMIT_SHA and --project",
                );
                return;
            }
            Err(e) => {
                let e = Error::from(e)
                    .context(format!("finding the merge requests of {}", sha.short()));
                self.fail_with(LineId::Mr, &e);
                return;
            }
        };
        let open: Vec<MergeRequest> = listing.into_iter().filter(MergeRequest::is_open).collect();
        let (current, moved): (Vec<MergeRequest>, Vec<MergeRequest>) = open
            .into_iter()
            .partition(|m| m.sha.as_deref().is_none_or(|h| sha.is(h)));
        if let Some(first) = current.first() {
            let mut how = format!("the open MR whose head is {}, found by SHA", sha.short());
            if current.len() > 1 {
                let others: Vec<String> =
                    current[1..].iter().map(|m| format!("!{}", m.iid)).collect();
                how.push_str(&format!(
                    "; also {} (doctor looks at the first)",
                    others.join(", ")
                ));
            }
            self.mr_found(first, &how, Some(&sha));
            found.mr = Some(first.clone());
            found.mr_project = Some(project.value.clone());
        } else if let Some(m) = moved.first() {
            self.warn(
                LineId::Mr,
                format!(
                    "!{} contains {} but its head is now {}: reports for this SHA get 409 and exit 4 (stale)",
                    m.iid,
                    sha.short(),
                    m.sha.as_deref().map_or("?", short)
                ),
                "nothing to fix here: the pipeline of the new head reports for it",
            );
        } else {
            self.warn(
                LineId::Mr,
                format!(
                    "no open merge request has {} as its head: report and run do nothing and exit 0 (exit 2 with --require-mr); list, wait and retry need an MR",
                    sha.short()
                ),
                "open a merge request for the branch, or run the job in merge request pipelines (rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\")",
            );
        }
    }

    /// The first MR that `CI_OPEN_MERGE_REQUESTS` names (no commit look-up).
    pub(super) fn open_mr(
        &mut self,
        ctx: &Ctx,
        found: &mut Found,
        open: &MrRef,
        sha: Option<&Sha>,
    ) {
        let all = self.cfg.open_mrs.as_deref().unwrap_or_default();
        let names: Vec<String> = all
            .iter()
            .map(|m| format!("{}!{}", m.project.raw, m.iid))
            .collect();
        let mut how = format!("from CI_OPEN_MERGE_REQUESTS: {}", names.join(", "));
        if all.len() > 1 {
            how.push_str("; doctor looks at the first");
        }
        let path = paths::merge_request(&open.project.encoded, open.iid);
        match ctx.client.get::<MergeRequest>(&path) {
            Ok(mr) => {
                self.mr_found(&mr, &how, sha);
                found.mr = Some(mr);
                found.mr_project = Some(open.project.clone());
            }
            Err(e) => {
                let e = Error::from(e).context(format!(
                    "reading {}!{} (named by CI_OPEN_MERGE_REQUESTS)",
                    open.project.raw, open.iid
                ));
                self.fail_with(LineId::Mr, &e);
            }
        }
    }

    pub(super) fn mr_found(&mut self, mr: &MergeRequest, how: &str, sha: Option<&Sha>) {
        let head = mr.sha.as_deref().unwrap_or("");
        let summary = format!(
            "!{} ({how}): {} → {}, {}",
            mr.iid, mr.source_branch, mr.target_branch, mr.state
        );
        if !mr.is_open() {
            self.warn(
                LineId::Mr,
                format!("{summary}: its checks no longer gate a merge"),
                "run doctor for an open merge request",
            );
        } else if let Some(sha) = sha.filter(|s| !head.is_empty() && !s.is(head)) {
            self.warn(
                LineId::Mr,
                format!(
                    "{summary}, but its head is {} and the SHA is {}: reports for this SHA get 409 and exit 4 (stale)",
                    short(head),
                    sha.short()
                ),
                "nothing to fix if someone pushed since: the pipeline of the new head reports for it; otherwise check --sha",
            );
        } else {
            self.ok(
                LineId::Mr,
                format!(
                    "{summary}, head {}",
                    short(if head.is_empty() {
                        sha.map_or("", Sha::as_str)
                    } else {
                        head
                    })
                ),
            );
        }
    }
}

fn display_project(project: &Project, raw: &str) -> String {
    if project.path_with_namespace.is_empty() {
        raw.to_owned()
    } else {
        project.path_with_namespace.clone()
    }
}
