//! Which merge request(s) a command acts on.
//!
//! In a merge request pipeline the IID is given (`CI_MERGE_REQUEST_IID`) and
//! costs no request. In a branch pipeline the open MRs of the SHA are found
//! with `commits/:sha/merge_requests`; an MR whose head has moved on is
//! set aside, since GitLab would refuse a response for an old SHA.

use super::Ctx;
use crate::error::Error;
use crate::gitlab::MergeRequest;
use crate::gitlab::paths;

#[derive(Debug)]
pub struct Targets {
    pub iids: Vec<u64>,
    /// How they were found, for the log.
    pub how: String,
    /// Open MRs that contain the SHA but whose head is another commit.
    pub moved: Vec<(u64, String)>,
    /// Found by SHA (a branch pipeline) rather than given.
    pub discovered: bool,
}

pub fn find(ctx: &Ctx, sha: Option<&str>) -> Result<Targets, Error> {
    if let Some(mr) = &ctx.cfg.mr {
        return Ok(Targets {
            iids: vec![mr.value],
            how: format!("!{} (from {})", mr.value, mr.source),
            moved: Vec::new(),
            discovered: false,
        });
    }
    let sha = match sha {
        Some(sha) => sha,
        None => ctx.cfg.require_sha()?,
    };
    let project = ctx.project()?;
    let path = paths::commit_mrs(&project.encoded, sha);
    let found = ctx.client.get_all::<MergeRequest>(&path).map_err(|e| {
        Error::from(e).context(format!(
            "finding the merge requests of {} (no MR IID: CI_MERGE_REQUEST_IID is unset)",
            super::short(sha)
        ))
    })?;
    let mut iids = Vec::new();
    let mut moved = Vec::new();
    for mr in found.items.into_iter().filter(MergeRequest::is_open) {
        match mr.sha {
            Some(head) if head != sha => moved.push((mr.iid, head)),
            _ => iids.push(mr.iid),
        }
    }
    for (iid, head) in &moved {
        ctx.log.info(format!(
            "!{iid} contains {} but its head is now {}: skipped",
            super::short(sha),
            super::short(head)
        ));
    }
    Ok(Targets {
        how: format!(
            "open merge requests of {} in {}",
            super::short(sha),
            project.raw
        ),
        iids,
        moved,
        discovered: true,
    })
}

impl Targets {
    /// The error for "no MR to act on", or `None` when there is one.
    pub fn none_found(&self, sha: &str) -> Option<Error> {
        if !self.iids.is_empty() {
            return None;
        }
        if let Some((iid, head)) = self.moved.first() {
            return Some(Error::stale(format!(
                "{} is no longer the head of !{iid} (now {head})",
                sha
            ))
            .hint("a newer pipeline for the new head will report; this one no longer gates the merge request"));
        }
        None
    }
}
