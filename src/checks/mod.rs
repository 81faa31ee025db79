//! The domain between the commands and the GitLab client: merge requests and their
//! external status checks. Commands orchestrate and print; what more than one of them
//! needs to know about GitLab's checks lives here, once.
//!
//! - `context`: `Ctx` (config, client, log, the server's version) and the one client builder
//! - `check`: the one `resolve` of a check a command is about (a `config::CheckRef`)
//! - `targets`: which merge requests (IID, `CI_OPEN_MERGE_REQUESTS`, commit look-up, merged MR)
//! - `scope`: whether a project's check applies to a target branch
//! - `respond`: posting a response, never twice, as each version accepts it
//! - `retry`: asking GitLab to run a check again

mod check;
mod context;
mod respond;
mod retry;
mod scope;
mod targets;

pub(crate) use check::{Resolved, applies, not_on_any, resolve};
pub(crate) use context::{Ctx, client};
pub(crate) use respond::{Reported, post_status, status_param_allowed, status_word};
pub(crate) use retry::retry_one;
pub(crate) use scope::{
    PROTECTED_BRANCHES_CAP, Scope, join as join_branches, project_checks, protected_branches,
    scope_of, sent_but_not_gated,
};
pub(crate) use targets::{
    CommitMrs, Target, Targets, Want, find as find_targets, given as given_targets, sort_commit_mrs,
};
