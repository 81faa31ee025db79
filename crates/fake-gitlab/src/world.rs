//! The state of the fake GitLab: projects, checks, merge requests, responses, tokens.
//!
//! Everything here is plain data (serde-able, so the standalone binary can load a world
//! from JSON) plus a few builder helpers the tests use to set up a scenario.

use serde::{Deserialize, Serialize};
use std::time::Instant;

use crate::era::Era;

/// Personal access token of a Developer on every project.
pub const DEV_TOKEN: &str = "glpat-dev-0000000000000000001";
/// Personal access token of a Maintainer on every project.
pub const MAINTAINER_TOKEN: &str = "glpat-maint-000000000000000002";
/// Personal access token of a Reporter on every project.
pub const REPORTER_TOKEN: &str = "glpat-rep-0000000000000000003";
/// The user id of [`REPORTER_TOKEN`]'s user (to make them an MR's author).
pub const REPORTER_USER: u64 = 3;
/// Personal access token of a Guest on every project.
pub const GUEST_TOKEN: &str = "glpat-guest-000000000000000004";
/// Project access token (bot user), Developer.
pub const PROJECT_TOKEN: &str = "glpat-proj-0000000000000000005";
/// CI job token (sent as `JOB-TOKEN`).
pub const JOB_TOKEN: &str = "glcbt-job-00000000000000000006";
/// An expired personal access token.
pub const EXPIRED_TOKEN: &str = "glpat-expired-0000000000000007";
/// A fine-grained personal access token of a Developer, with every permission
/// status-check uses ([`FINE_GRAINED_PERMISSIONS`]); a test takes some away.
pub const FINE_GRAINED_TOKEN: &str = "glpat-fine-000000000000000008";
/// The fine-grained permissions of the routes status-check calls (row `fine-grained-tokens`).
pub const FINE_GRAINED_PERMISSIONS: [&str; 15] = [
    "read_external_status_check",
    "update_external_status_check",
    "retry_external_status_check",
    "read_external_status_check_service",
    "create_external_status_check_service",
    "update_external_status_check_service",
    "delete_external_status_check_service",
    "read_merge_request",
    "read_commit_merge_request",
    "read_project",
    "update_project",
    "read_protected_branch",
    "read_member",
    "read_metadata",
    "read_user",
];

/// Source HEAD of MR !7 in [`World::new`].
pub const SHA_A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
/// A second commit (known to the repository, in no MR until pushed).
pub const SHA_B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
/// A third commit (known to the repository, in no MR until pushed).
pub const SHA_C: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";
/// A merged-results merge commit: known to the repository, never a source HEAD.
pub const MERGE_SHA: &str = "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5";
/// The target branch commit used as `diff_refs.base_sha`.
pub const BASE_SHA: &str = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4";

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Guest,
    Reporter,
    Developer,
    Maintainer,
    Owner,
}

impl Role {
    /// GitLab's numeric access level.
    pub fn access_level(self) -> u32 {
        match self {
            Role::Guest => 10,
            Role::Reporter => 20,
            Role::Developer => 30,
            Role::Maintainer => 40,
            Role::Owner => 50,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Personal,
    Project,
    Group,
    Job,
    Expired,
    /// A fine-grained personal access token: its `permissions`, route by route.
    FineGrained,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    pub kind: TokenKind,
    pub user_id: u64,
    pub username: String,
    pub default_role: Role,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// A fine-grained token's permissions (row `fine-grained-tokens`).
    #[serde(default)]
    pub permissions: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["api".to_string()]
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProtectedBranch {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Check {
    pub id: u64,
    pub name: String,
    pub external_url: String,
    pub shared_secret: Option<String>,
    /// Empty = applies to every target branch.
    pub protected_branch_ids: Vec<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusResponse {
    pub id: u64,
    pub check_id: u64,
    pub sha: String,
    pub status: String,
    /// Milliseconds since server start (0 when set before the server started).
    #[serde(default)]
    pub at_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub source_branch: String,
    pub target_branch: String,
    /// Source branch HEAD.
    pub sha: String,
    /// opened | closed | merged | locked
    pub state: String,
    pub source_project_id: u64,
    /// The commits of the MR's latest diff, the head included: a push adds to them, a
    /// force-push that rewrote the branch replaces them (`commits-latest-diff`).
    pub commits: Vec<String>,
    /// Set when the MR is merged with a merge commit (`merged-mr-by-merge-commit`).
    pub merge_commit_sha: Option<String>,
    /// Set when the MR is merged with squash.
    pub squash_commit_sha: Option<String>,
    pub responses: Vec<StatusResponse>,
    /// The users (ids) who authored the MR or are assigned to it: members below
    /// Developer among them may approve it (`approve_merge_request`), which lets them
    /// read its check list on every version and reach the response's permission check
    /// (`response-404-permission`).
    pub authors_and_assignees: Vec<u64>,
}

impl Default for MergeRequest {
    fn default() -> Self {
        MergeRequest {
            id: 0,
            iid: 0,
            title: String::new(),
            source_branch: "feature".into(),
            target_branch: "main".into(),
            sha: SHA_A.into(),
            state: "opened".into(),
            source_project_id: 0,
            commits: Vec::new(),
            merge_commit_sha: None,
            squash_commit_sha: None,
            responses: Vec::new(),
            authors_and_assignees: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Project {
    pub id: u64,
    /// "group/name"
    pub path: String,
    pub ultimate: bool,
    /// Premium or more: `custom_compliance_frameworks` (external controls).
    pub premium: bool,
    pub only_allow_merge_if_all_status_checks_passed: bool,
    pub protected_branches: Vec<ProtectedBranch>,
    /// The protected branches of the project's top-level group (row `group-branches-18-0`).
    pub group_protected_branches: Vec<ProtectedBranch>,
    pub checks: Vec<Check>,
    pub merge_requests: Vec<MergeRequest>,
    /// Commits of the repository that are in no MR (MR commits are known anyway).
    pub commits: Vec<String>,
    /// Per-user role overrides (addition to the brief): `(user_id, Some(role))` replaces the
    /// token's `default_role` on this project, `(user_id, None)` makes the project
    /// invisible to that user (404 Project Not Found).
    pub role_overrides: Vec<(u64, Option<Role>)>,
}

impl Default for Project {
    fn default() -> Self {
        Project {
            id: 0,
            path: String::new(),
            ultimate: true,
            premium: true,
            only_allow_merge_if_all_status_checks_passed: false,
            protected_branches: Vec::new(),
            group_protected_branches: Vec::new(),
            checks: Vec::new(),
            merge_requests: Vec::new(),
            commits: Vec::new(),
            role_overrides: Vec::new(),
        }
    }
}

/// A per-token limit of authenticated API requests (docs/gitlab-api.md, "Rate limit
/// headers").
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRateLimit {
    /// Requests a token may make in one window.
    pub per_window: u32,
    /// The window: 60 s on GitLab (`RateLimit-Limit` is per minute); shorter in tests.
    #[serde(default = "one_minute")]
    pub window_secs: u64,
    /// Which answers carry `RateLimit-*`: every one a throttle counted (GitLab 18.6+,
    /// CHANGELOG 18.6.0 !209485), or only the 429s (before 18.6; the default, so that
    /// each test says which it means).
    #[serde(default)]
    pub headers: RateLimitHeaders,
}

fn one_minute() -> u64 {
    60
}

impl TokenRateLimit {
    /// GitLab's throttle: `per_window` requests a minute, headers on 429s only.
    pub fn per_minute(per_window: u32) -> TokenRateLimit {
        TokenRateLimit {
            per_window,
            window_secs: one_minute(),
            headers: RateLimitHeaders::On429,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum RateLimitHeaders {
    #[default]
    On429,
    Always,
}

/// The world's clock: `at_ms` values are milliseconds since the server started (0
/// before that), or a time a simulator sets (`World::set_now_ms`).
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    #[default]
    Stopped,
    Started(Instant),
    Set(u64),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct World {
    /// e.g. "17.5.0-ee"; major.minor drive behaviour.
    pub version: String,
    /// 16.6+: a stored `pending` response at least this old reads as `failed`.
    pub pending_timeout_ms: Option<u64>,
    /// `Poll-Interval` header on the MR status_checks list; -1 = polling disabled.
    pub poll_interval_ms: i64,
    /// 14.0's feature flag `ff_external_status_checks` (row `ff-14-0`), off by default.
    pub ff_external_status_checks: bool,
    /// Sliding 60 s window over all requests; beyond it -> 429.
    pub rate_limit_per_minute: Option<u32>,
    /// GitLab's authenticated API throttle: per token, fixed 60 s windows aligned to the
    /// Unix clock (as Rack::Attack counts them), with the `RateLimit-*` headers.
    pub token_rate_limit: Option<TokenRateLimit>,
    /// Added latency: every request is handled (and answered) this many ms after it
    /// arrived, as over a slow network or a busy server. 0 = none (the default).
    pub latency_ms: u64,
    /// `X-Total`/`X-Total-Pages` are omitted when the total is above this.
    pub total_headers_limit: u64,
    pub projects: Vec<Project>,
    pub tokens: Vec<Token>,
    /// Id allocator for checks, responses, MRs, branches.
    pub next_id: u64,
    /// Compliance frameworks' external controls (`compliance.rs`).
    pub compliance: crate::compliance::Compliance,
    /// The server's clock minus the machine's, in seconds: its `Date` headers and the
    /// external controls' time window go by it (a runner whose clock is 10 minutes
    /// behind is a server 600 s ahead).
    pub clock_offset_secs: i64,
    #[serde(skip)]
    pub(crate) clock: Clock,
}

impl Default for World {
    fn default() -> Self {
        World::new("17.5.0-ee")
    }
}

/// Parses "17.5.0-ee" into (17, 5); unparseable versions count as very new.
pub(crate) fn parse_version(v: &str) -> (u32, u32) {
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|s| s.parse().ok());
    let minor = it.next().and_then(|s| s.parse().ok());
    match (major, minor) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, 0),
        _ => (999, 0),
    }
}

fn token(value: &str, kind: TokenKind, user_id: u64, username: &str, role: Role) -> Token {
    Token {
        value: value.to_string(),
        kind,
        user_id,
        username: username.to_string(),
        default_role: role,
        scopes: default_scopes(),
        permissions: Vec::new(),
    }
}

impl World {
    /// The seven tokens, project 42 "acme/app" (Ultimate, protected branches main = 1 and
    /// release = 2), MR !7 feature -> main at [`SHA_A`], opened; no checks.
    pub fn new(version: &str) -> World {
        let pending_timeout_ms = Era::of(version).pending_times_out().then_some(120_000);
        let mut w = World {
            version: version.to_string(),
            pending_timeout_ms,
            poll_interval_ms: 10_000,
            ff_external_status_checks: false,
            rate_limit_per_minute: None,
            token_rate_limit: None,
            latency_ms: 0,
            total_headers_limit: 10_000,
            projects: Vec::new(),
            tokens: vec![
                token(DEV_TOKEN, TokenKind::Personal, 1, "dev", Role::Developer),
                token(
                    MAINTAINER_TOKEN,
                    TokenKind::Personal,
                    2,
                    "maintainer",
                    Role::Maintainer,
                ),
                token(
                    REPORTER_TOKEN,
                    TokenKind::Personal,
                    REPORTER_USER,
                    "reporter",
                    Role::Reporter,
                ),
                token(GUEST_TOKEN, TokenKind::Personal, 4, "guest", Role::Guest),
                token(
                    PROJECT_TOKEN,
                    TokenKind::Project,
                    5,
                    "project_42_bot_5f3a9c",
                    Role::Developer,
                ),
                // The job runs as the user who started the pipeline (dev).
                token(JOB_TOKEN, TokenKind::Job, 1, "dev", Role::Reporter),
                token(
                    EXPIRED_TOKEN,
                    TokenKind::Expired,
                    7,
                    "expired",
                    Role::Developer,
                ),
                Token {
                    permissions: FINE_GRAINED_PERMISSIONS.map(str::to_owned).to_vec(),
                    ..token(
                        FINE_GRAINED_TOKEN,
                        TokenKind::FineGrained,
                        8,
                        "fine",
                        Role::Developer,
                    )
                },
            ],
            next_id: 100,
            compliance: Default::default(),
            clock_offset_secs: 0,
            clock: Clock::Stopped,
        };
        w.projects.push(Project {
            id: 42,
            path: "acme/app".into(),
            protected_branches: vec![
                ProtectedBranch {
                    id: 1,
                    name: "main".into(),
                },
                ProtectedBranch {
                    id: 2,
                    name: "release".into(),
                },
            ],
            commits: vec![
                BASE_SHA.into(),
                MERGE_SHA.into(),
                SHA_B.into(),
                SHA_C.into(),
            ],
            ..Project::default()
        });
        w.add_mr(42, 7, "feature", "main", SHA_A, "opened");
        w
    }

    /// The demo world: 17.5.0-ee, project 42 acme/app, MR !7, three checks whose URLs
    /// carry a query string (cut at `?` for Developers), and a `Poll-Interval` of 1 s
    /// (an admin's multiplier of 0.1) so that a gate shown against it takes seconds.
    pub fn demo() -> World {
        let mut w = World::new("17.5.0-ee");
        w.poll_interval_ms = 1000;
        for name in ["security-scan", "license-check", "deploy-approval"] {
            w.add_check(
                42,
                name,
                &format!("https://checks.example.com/{name}?token=abc"),
            );
        }
        w
    }

    /// Milliseconds since the server started (0 before it started).
    pub fn now_ms(&self) -> u64 {
        match self.clock {
            Clock::Stopped => 0,
            Clock::Started(at) => at.elapsed().as_millis() as u64,
            Clock::Set(ms) => ms,
        }
    }

    /// The server's clock, in Unix seconds: the machine's, moved by `clock_offset_secs`
    /// (a runner's clock minutes off is this with the opposite sign).
    pub fn unix_now(&self) -> i64 {
        crate::http::unix_now() as i64 + self.clock_offset_secs
    }

    pub(crate) fn start_clock(&mut self, at: Instant) {
        self.clock = Clock::Started(at);
    }

    /// Stops the world's clock at `ms`: a simulator's virtual time (see `exchange`).
    pub fn set_now_ms(&mut self, ms: u64) {
        self.clock = Clock::Set(ms);
    }

    /// Status of check `check_id` as MR `iid`'s status_checks list shows it now (`None`:
    /// no such MR).
    pub fn status_by_id(&self, project_id: u64, iid: u64, check_id: u64) -> Option<String> {
        Some(self.read_status(self.mr(project_id, iid)?, check_id))
    }

    /// Is check `check_id` on MR `iid`'s status_checks list (it applies to its target)?
    pub fn lists(&self, project_id: u64, iid: u64, check_id: u64) -> bool {
        let (Some(p), Some(mr)) = (self.project(project_id), self.mr(project_id, iid)) else {
            return false;
        };
        p.checks
            .iter()
            .any(|c| c.id == check_id && self.check_applies(p, c, &mr.target_branch))
    }

    /// (major, minor) of `version`.
    pub fn version_mm(&self) -> (u32, u32) {
        parse_version(&self.version)
    }

    /// What this version does differently (see `era.rs`).
    pub fn era(&self) -> Era {
        Era::of(&self.version)
    }

    pub(crate) fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn add_project(&mut self, id: u64, path: &str) -> &mut Project {
        self.projects.retain(|p| p.id != id);
        let branch_id = self.alloc_id();
        self.projects.push(Project {
            id,
            path: path.to_string(),
            protected_branches: vec![ProtectedBranch {
                id: branch_id,
                name: "main".into(),
            }],
            ..Project::default()
        });
        self.projects.last_mut().expect("just pushed")
    }

    pub fn project(&self, id: u64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// Panics when the project does not exist.
    pub fn project_mut(&mut self, id: u64) -> &mut Project {
        self.projects
            .iter_mut()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("fake-gitlab: no project {id}"))
    }

    /// Panics when the MR does not exist.
    pub fn mr_mut(&mut self, project_id: u64, iid: u64) -> &mut MergeRequest {
        self.project_mut(project_id)
            .merge_requests
            .iter_mut()
            .find(|m| m.iid == iid)
            .unwrap_or_else(|| panic!("fake-gitlab: no MR !{iid} in project {project_id}"))
    }

    pub fn mr(&self, project_id: u64, iid: u64) -> Option<&MergeRequest> {
        self.project(project_id)?
            .merge_requests
            .iter()
            .find(|m| m.iid == iid)
    }

    /// Protects branch `name` of the project (if it is not yet). Returns its id.
    pub fn protect_branch(&mut self, project_id: u64, name: &str) -> u64 {
        if let Some(b) = self
            .project_mut(project_id)
            .protected_branches
            .iter()
            .find(|b| b.name == name)
        {
            return b.id;
        }
        let id = self.alloc_id();
        self.project_mut(project_id)
            .protected_branches
            .push(ProtectedBranch {
                id,
                name: name.to_string(),
            });
        id
    }

    /// A protected branch of the project's top-level group. Returns its id.
    pub fn protect_group_branch(&mut self, project_id: u64, name: &str) -> u64 {
        let id = self.alloc_id();
        let name = name.to_string();
        self.project_mut(project_id)
            .group_protected_branches
            .push(ProtectedBranch { id, name });
        id
    }

    /// The protected branches a check may be limited to: the project's, and from 18.0
    /// its top-level group's (row `group-branches-18-0`).
    pub(crate) fn scope_branches<'p>(
        &self,
        p: &'p Project,
    ) -> impl Iterator<Item = (&'p ProtectedBranch, bool)> {
        let group = self.era().group_branch_scopes();
        let own = p.protected_branches.iter().map(|b| (b, false));
        let inherited = p.group_protected_branches.iter().filter(move |_| group);
        own.chain(inherited.map(|b| (b, true)))
    }

    /// A check that applies to every branch. Returns its id.
    pub fn add_check(&mut self, project_id: u64, name: &str, external_url: &str) -> u64 {
        self.add_scoped_check(project_id, name, external_url, &[])
    }

    /// A check limited to the named protected branches (created when missing).
    pub fn add_scoped_check(
        &mut self,
        project_id: u64,
        name: &str,
        external_url: &str,
        branches: &[&str],
    ) -> u64 {
        let ids = branches
            .iter()
            .map(|b| self.protect_branch(project_id, b))
            .collect();
        let id = self.alloc_id();
        self.project_mut(project_id).checks.push(Check {
            id,
            name: name.to_string(),
            external_url: external_url.to_string(),
            shared_secret: None,
            protected_branch_ids: ids,
        });
        id
    }

    /// Adds (or replaces) MR `iid` with one commit, `sha`.
    pub fn add_mr(
        &mut self,
        project_id: u64,
        iid: u64,
        source: &str,
        target: &str,
        sha: &str,
        state: &str,
    ) -> &mut MergeRequest {
        let id = self.alloc_id();
        let p = self.project_mut(project_id);
        p.merge_requests.retain(|m| m.iid != iid);
        p.merge_requests.push(MergeRequest {
            id,
            iid,
            title: format!("Merge {source} into {target}"),
            source_branch: source.to_string(),
            target_branch: target.to_string(),
            sha: sha.to_string(),
            state: state.to_string(),
            source_project_id: project_id,
            commits: vec![sha.to_string()],
            merge_commit_sha: None,
            squash_commit_sha: None,
            responses: Vec::new(),
            authors_and_assignees: Vec::new(),
        });
        p.merge_requests.last_mut().expect("just pushed")
    }

    /// Records a response for the MR's current head (as if POSTed now). Panics when the
    /// MR or check does not exist.
    pub fn set_status(&mut self, project_id: u64, iid: u64, check_name: &str, status: &str) {
        if let Err(e) = self.try_set_status(project_id, iid, check_name, status) {
            panic!("fake-gitlab: set_status: {e}");
        }
    }

    pub(crate) fn try_set_status(
        &mut self,
        project_id: u64,
        iid: u64,
        check_name: &str,
        status: &str,
    ) -> Result<(), String> {
        let now = self.now_ms();
        let id = self.alloc_id();
        let p = self
            .projects
            .iter_mut()
            .find(|p| p.id == project_id)
            .ok_or(format!("no project {project_id}"))?;
        let check_id = p
            .checks
            .iter()
            .find(|c| c.name == check_name)
            .map(|c| c.id)
            .ok_or(format!("no check {check_name:?} in project {project_id}"))?;
        let mr = p
            .merge_requests
            .iter_mut()
            .find(|m| m.iid == iid)
            .ok_or(format!("no MR !{iid} in project {project_id}"))?;
        mr.responses.push(StatusResponse {
            id,
            check_id,
            sha: mr.sha.clone(),
            status: status.to_string(),
            at_ms: now,
        });
        Ok(())
    }

    /// A new source HEAD on top of the old one: every check reads pending again, and the
    /// older commits stay in the MR's diff.
    pub fn push_head(&mut self, project_id: u64, iid: u64, sha: &str) {
        let mr = self.mr_mut(project_id, iid);
        mr.sha = sha.to_string();
        if !mr.commits.iter().any(|c| c == sha) {
            mr.commits.push(sha.to_string());
        }
    }

    /// A force-push that rewrote the source branch: the latest diff holds only `sha`, so
    /// `commits/:old/merge_requests` no longer finds this MR (`commits-latest-diff`). The
    /// old commits stay known to the repository.
    pub fn force_push(&mut self, project_id: u64, iid: u64, sha: &str) {
        let mr = self.mr_mut(project_id, iid);
        let old = std::mem::replace(&mut mr.commits, vec![sha.to_string()]);
        mr.sha = sha.to_string();
        let p = self.project_mut(project_id);
        for c in old {
            if !p.commits.contains(&c) {
                p.commits.push(c);
            }
        }
    }

    /// Merges MR `iid` into its target branch: with a merge commit (`merge_sha`), a squash
    /// commit, or neither (a fast-forward merge: the head itself lands on the target).
    pub fn merge_mr(
        &mut self,
        project_id: u64,
        iid: u64,
        merge_sha: Option<&str>,
        squash_sha: Option<&str>,
    ) {
        let mr = self.mr_mut(project_id, iid);
        mr.state = "merged".into();
        mr.merge_commit_sha = merge_sha.map(str::to_string);
        mr.squash_commit_sha = squash_sha.map(str::to_string);
        let p = self.project_mut(project_id);
        for c in [merge_sha, squash_sha].into_iter().flatten() {
            if !p.commits.iter().any(|k| k == c) {
                p.commits.push(c.to_string());
            }
        }
    }

    /// Status of a check as the MR's status_checks list shows it now. Panics when the MR or
    /// check does not exist.
    pub fn status_of(&self, project_id: u64, iid: u64, check_name: &str) -> String {
        let p = self
            .project(project_id)
            .unwrap_or_else(|| panic!("fake-gitlab: no project {project_id}"));
        let check = p
            .checks
            .iter()
            .find(|c| c.name == check_name)
            .unwrap_or_else(|| panic!("fake-gitlab: no check {check_name:?}"));
        let mr = self
            .mr(project_id, iid)
            .unwrap_or_else(|| panic!("fake-gitlab: no MR !{iid}"));
        self.read_status(mr, check.id)
    }

    /// Latest response for the head SHA, mapped for the version and the pending timeout.
    pub(crate) fn read_status(&self, mr: &MergeRequest, check_id: u64) -> String {
        let latest = mr
            .responses
            .iter()
            .rev()
            .find(|r| r.check_id == check_id && r.sha == mr.sha);
        let Some(r) = latest else {
            return "pending".to_string();
        };
        let era = self.era();
        // `status-param-14-9`: with the feature flag off (the default) the list shows any
        // stored response as approved, a `failed` one included.
        if era.says_approved() {
            return "approved".to_string();
        }
        let mut s = r.status.clone();
        if s == "pending"
            && let Some(t) = self.pending_timeout_ms
            && self.now_ms().saturating_sub(r.at_ms) >= t
        {
            s = "failed".to_string();
        }
        if s == "approved" || s == "pass" {
            s = "passed".to_string();
        }
        s
    }

    /// Does `check` apply to an MR targeting `target_branch`? By exact branch name
    /// (`wildcard-literal`; read up to 18.9, and the fake keeps it up to 19.3), or with `*` as a
    /// wildcard from 19.4 (`wildcard-19-4`: seen in 19.4.1, first version not known).
    pub(crate) fn check_applies(&self, p: &Project, check: &Check, target_branch: &str) -> bool {
        let glob = self.era().matches_wildcard_scopes();
        check.protected_branch_ids.is_empty()
            || check.protected_branch_ids.iter().any(|id| {
                self.scope_branches(p).any(|(pb, _)| {
                    pb.id == *id
                        && (pb.name == target_branch
                            || glob && wildcard_match(&pb.name, target_branch))
                })
            })
    }

    /// The role `token` has on `project`; None = cannot see it.
    pub(crate) fn role_in(p: &Project, token: &Token) -> Option<Role> {
        if token.kind == TokenKind::Job {
            return Some(Role::Reporter);
        }
        match p.role_overrides.iter().find(|(u, _)| *u == token.user_id) {
            Some((_, r)) => *r,
            None => Some(token.default_role),
        }
    }

    /// `approve_merge_request`: a Developer, or a Reporter who authored or is assigned to
    /// the MR (`can?(:update_merge_request) && is_project_member?`).
    pub(crate) fn may_approve(role: Role, token: &Token, mr: &MergeRequest) -> bool {
        role >= Role::Developer
            || (role >= Role::Reporter && mr.authors_and_assignees.contains(&token.user_id))
    }

    /// Takes `permission` away from the fine-grained token.
    pub fn revoke_permission(&mut self, permission: &str) {
        for t in self
            .tokens
            .iter_mut()
            .filter(|t| t.kind == TokenKind::FineGrained)
        {
            t.permissions.retain(|p| p != permission);
        }
    }

    /// Sets (Some) or removes access (None) of a user on a project (addition to the brief).
    pub fn set_role(&mut self, project_id: u64, user_id: u64, role: Option<Role>) {
        let p = self.project_mut(project_id);
        p.role_overrides.retain(|(u, _)| *u != user_id);
        p.role_overrides.push((user_id, role));
    }

    /// Does `commits/:sha/merge_requests` list this MR? A commit of its latest diff, or its
    /// merge or squash commit (`commits-latest-diff`, `merged-mr-by-merge-commit`).
    pub(crate) fn mr_has_commit(mr: &MergeRequest, sha: &str) -> bool {
        mr.commits.iter().any(|c| c == sha)
            || mr.merge_commit_sha.as_deref() == Some(sha)
            || mr.squash_commit_sha.as_deref() == Some(sha)
    }

    /// All commits the repository of `project` knows.
    pub(crate) fn commit_known(p: &Project, sha: &str) -> bool {
        p.commits.iter().any(|c| c == sha)
            || p.merge_requests
                .iter()
                .any(|m| World::mr_has_commit(m, sha))
    }
}

/// `release/*` matches `release/1.0` (and `release/a/b`): `*` stands for any text, as in
/// GitLab's `RefMatcher`.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("release/*", "release/1.0"));
        assert!(wildcard_match("release/*", "release/a/b"));
        assert!(!wildcard_match("release/*", "main"));
        assert!(wildcard_match("*-stable", "16-stable"));
        assert!(!wildcard_match("*-stable", "16-stable-x"));
        assert!(wildcard_match("a*b*c", "a-b-c"));
        assert!(!wildcard_match("main", "main2"));
        assert!(wildcard_match("main", "main"));
    }
}
