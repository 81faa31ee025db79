//! Which merge request(s) a command acts on.
//!
//! In a merge request pipeline the IID is given (`CI_MERGE_REQUEST_IID`) and
//! costs no request. In a branch pipeline GitLab names the open MRs of the
//! branch in `CI_OPEN_MERGE_REQUESTS` (also the upstream MR of a fork's
//! branch), which costs no request either. Without it the open MRs of the SHA
//! are found with `commits/:sha/merge_requests`; an MR whose head has moved on
//! is set aside, since GitLab would refuse a response for an old SHA. A gate
//! (`wait`) may also act on the merged MR whose merge or squash commit the SHA
//! is: a deploy job after the merge.

use super::context::Ctx;
use crate::config::{MrRef, ProjectRef};
use crate::error::Error;
use crate::gitlab::MergeRequest;
use crate::gitlab::paths;
use crate::sha::{Sha, short};

/// A merge request a command acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub project: ProjectRef,
    pub iid: u64,
    /// `!7`, or `upstream/app!7` for an MR of another project (a fork's upstream).
    pub label: String,
}

/// Which merge requests a command may act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// Open ones only: responses and retries.
    Open,
    /// Open ones, else the merged MR whose merge or squash commit the SHA is: the gate.
    OpenOrMerged,
}

#[derive(Debug)]
pub(crate) struct Targets {
    pub mrs: Vec<Target>,
    /// How they were found, for messages.
    pub how: String,
    /// Open MRs that contain the SHA but whose head is another commit.
    pub moved: Vec<(Target, String)>,
    /// The merged MR whose merge, squash or (fast-forward) head commit the SHA is. With
    /// `Want::OpenOrMerged` and no open MR, it is also the one target in `mrs`.
    pub merged: Option<Target>,
    /// The commit whose merge requests were looked up (a commit look-up only).
    pub sha: Option<Sha>,
}

pub(crate) fn find(ctx: &Ctx, sha: Option<&Sha>, want: Want) -> Result<Targets, Error> {
    if let Some(given) = given(ctx)? {
        return Ok(given);
    }
    let project = ctx.project()?;
    let sha = match sha {
        Some(sha) => sha,
        None => ctx.cfg.require_sha()?,
    };
    let path = paths::commit_mrs(&project.encoded, sha);
    let found = ctx.client.get_all::<MergeRequest>(&path).map_err(|e| {
        Error::from(e).context(format!(
            "finding the merge requests of {} (no MR IID: CI_MERGE_REQUEST_IID is unset)",
            sha.short()
        ))
    })?;
    let sorted = sort_commit_mrs(sha, &found.items);
    Ok(Targets::of_commit(ctx, project, sha, sorted, want))
}

/// The merge requests named without a request (an IID, `CI_OPEN_MERGE_REQUESTS`);
/// `None`: only the commit's look-up can tell.
pub(crate) fn given(ctx: &Ctx) -> Result<Option<Targets>, Error> {
    let project = ctx.project()?;
    if let Some(mr) = &ctx.cfg.mr {
        return Ok(Some(Targets {
            mrs: vec![target(project.clone(), mr.value)],
            how: format!("!{} (from {})", mr.value, mr.source),
            moved: Vec::new(),
            merged: None,
            sha: None,
        }));
    }
    let Some(open) = &ctx.cfg.open_mrs else {
        return Ok(None);
    };
    let mrs: Vec<Target> = open.iter().map(|m| from_ref(ctx, m)).collect();
    let labels: Vec<&str> = mrs.iter().map(|t| t.label.as_str()).collect();
    ctx.log.detail(format!(
        "merge requests from CI_OPEN_MERGE_REQUESTS: {}",
        labels.join(", ")
    ));
    Ok(Some(Targets {
        how: format!("{} (from CI_OPEN_MERGE_REQUESTS)", labels.join(", ")),
        mrs,
        moved: Vec::new(),
        merged: None,
        sha: None,
    }))
}

/// The merge requests a commit look-up found, by what they are to the SHA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommitMrs {
    /// Open, with the SHA as their head (or a head GitLab does not say).
    pub open: Vec<u64>,
    /// Open, with another head.
    pub moved: Vec<(u64, String)>,
    /// The merged MR whose merge, squash or (fast-forward) head commit the SHA is.
    pub merged: Option<u64>,
    /// A merged MR that may be that one: GitLab did not say its head.
    pub unsure: bool,
}

impl CommitMrs {
    /// Nothing at all: no open MR has the commit, and it is no merged MR's.
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty() && self.moved.is_empty() && self.merged.is_none()
    }
}

/// Sorts the answer of `commits/:sha/merge_requests`: an MR whose head has moved on
/// is set apart (GitLab would refuse a response for an old SHA).
pub(crate) fn sort_commit_mrs(sha: &Sha, found: &[MergeRequest]) -> CommitMrs {
    let mut sorted = CommitMrs::default();
    for mr in found {
        if mr.is_open() {
            match &mr.sha {
                Some(head) if !sha.is(head) => sorted.moved.push((mr.iid, head.clone())),
                _ => sorted.open.push(mr.iid),
            }
        } else if mr.is_merged() && mr.landed_as(sha) && sorted.merged.is_none() {
            sorted.merged = Some(mr.iid);
        } else if mr.is_merged() && mr.sha.is_none() {
            sorted.unsure = true;
        }
    }
    sorted
}

impl Targets {
    /// The targets of a commit look-up, in the order of `sorted.open`; the MRs whose head
    /// moved on are logged as skipped.
    pub(crate) fn of_commit(
        ctx: &Ctx,
        project: &ProjectRef,
        sha: &Sha,
        sorted: CommitMrs,
        want: Want,
    ) -> Targets {
        let targets_of = |iid: u64| target(project.clone(), iid);
        let mut targets = Targets {
            mrs: sorted.open.iter().map(|iid| targets_of(*iid)).collect(),
            how: format!("open merge requests of {} in {}", sha.short(), project.raw),
            moved: sorted
                .moved
                .iter()
                .map(|(iid, head)| (targets_of(*iid), head.clone()))
                .collect(),
            merged: sorted.merged.map(targets_of),
            sha: Some(sha.clone()),
        };
        for (t, head) in &targets.moved {
            ctx.log.info(format!(
                "{} contains {} but its head is now {}: skipped",
                t.label,
                sha.short(),
                short(head)
            ));
        }
        if want == Want::OpenOrMerged
            && targets.mrs.is_empty()
            && targets.moved.is_empty()
            && let Some(merged) = &targets.merged
        {
            targets.how = format!("merged {}", merged.label);
            targets.mrs.push(merged.clone());
        }
        targets
    }
}

/// MR `iid` of the configured project.
fn target(project: ProjectRef, iid: u64) -> Target {
    Target {
        project,
        iid,
        label: format!("!{iid}"),
    }
}

/// An MR named with its project's path: labelled `!7` when that is the pipeline's own
/// project, else `path!7`.
fn from_ref(ctx: &Ctx, mr: &MrRef) -> Target {
    let own = [
        ctx.cfg.ci.project_path.as_deref(),
        ctx.cfg.project.as_ref().map(|p| p.value.raw.as_str()),
    ];
    let same = own
        .iter()
        .flatten()
        .any(|p| p.eq_ignore_ascii_case(&mr.project.raw));
    Target {
        label: if same {
            format!("!{}", mr.iid)
        } else {
            format!("{}!{}", mr.project.raw, mr.iid)
        },
        project: mr.project.clone(),
        iid: mr.iid,
    }
}

impl Targets {
    /// The error for "no MR to act on", or `None` when there is one.
    pub(crate) fn none_found(&self) -> Option<Error> {
        if !self.mrs.is_empty() {
            return None;
        }
        if let Some((t, head)) = self.moved.first() {
            return Some(Error::stale(format!(
                "{} is no longer the head of {} (now {head})",
                self.looked_up(),
                t.label
            ))
            .hint("a newer pipeline for the new head will report; this one no longer gates the merge request"));
        }
        None
    }

    /// The gate acts on a merged MR (a deploy after the merge).
    pub(crate) fn is_merged(&self) -> bool {
        self.mrs.len() == 1 && self.merged.is_some() && self.merged.as_ref() == self.mrs.first()
    }

    /// "no open merge request …" for report, run and list, naming the merged MR the SHA
    /// belongs to, if any.
    pub(crate) fn nothing_open(&self, project: &str) -> String {
        let sha = short(self.looked_up());
        match &self.merged {
            Some(m) => format!(
                "no open merge request has {sha} as its head in {project}; it belongs to merged {} (its merge, squash or head commit)",
                m.label
            ),
            None => format!("no open merge request has {sha} as its head in {project}"),
        }
    }

    /// The SHA of the commit look-up, the only way to find no merge request.
    fn looked_up(&self) -> &str {
        self.sha.as_ref().map_or("", Sha::as_str)
    }
}
