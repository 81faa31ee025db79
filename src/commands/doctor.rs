//! `status-check doctor`: why status checks do or do not work here.
//!
//! A checklist of lines, each `ok`, `warn`, `fail` or `skip` (not checked
//! because something it depends on failed), with the fix. Nothing here
//! returns an error: a missing token or an unreachable server is a line.
//! Exit 1 when a line fails, else 0.
//!
//! Requests are few (5 in a merge request pipeline with a Developer token)
//! and carry only the access token: the job token is never sent. The
//! project's check list (Maintainer only) is read only when the role is known
//! to allow it and the answer is needed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::checks::{self, Ctx, Scope};
use crate::ci::PipelineKind;
use crate::cli::DoctorArgs;
use crate::config::{Config, Input, MrRef, ProjectRef};
use crate::error::Error;
use crate::exit::Code;
use crate::gitlab::error::{ApiErrorKind, Transport};
use crate::gitlab::models::{
    AccessLevel, DEVELOPER, MAINTAINER, Project, ProjectCheck, TokenInfo, User, role_name,
};
use crate::gitlab::paths;
use crate::gitlab::{ApiError, Client, MergeRequest, MrCheck, ServerVersion};
use crate::log::Log;
use crate::output::{Outcome, plural};
use crate::sha::short;

const WILDCARD_FIX: &str = "limit each to named protected branches, or to none (every target branch); `status-check sync` refuses wildcards before GitLab 19.4";

/// Doctor's lines, in the order they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LineId {
    Config,
    Pipeline,
    Project,
    Sha,
    ApiUrl,
    Connection,
    Token,
    Version,
    Role,
    Mr,
    Licence,
    Checks,
    Scopes,
    Name,
    MergeGate,
}

impl LineId {
    /// The line's id in the output (text and JSON).
    fn as_str(self) -> &'static str {
        match self {
            LineId::Config => "config",
            LineId::Pipeline => "pipeline",
            LineId::Project => "project",
            LineId::Sha => "sha",
            LineId::ApiUrl => "api-url",
            LineId::Connection => "connection",
            LineId::Token => "token",
            LineId::Version => "version",
            LineId::Role => "role",
            LineId::Mr => "mr",
            LineId::Licence => "licence",
            LineId::Checks => "checks",
            LineId::Scopes => "scopes",
            LineId::Name => "name",
            LineId::MergeGate => "merge-gate",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Ok,
    Skip,
    Warn,
    Fail,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Fail => "FAIL",
            other => other.word(),
        }
    }
}

#[derive(Debug)]
struct Line {
    id: LineId,
    verdict: Verdict,
    message: String,
    fix: Option<String>,
}

pub fn run<'a>(cfg: &'a Config, log: &'a Log, args: &DoctorArgs) -> Outcome {
    let name = args
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let mut doctor = Doctor {
        cfg,
        lines: Vec::new(),
    };
    doctor.examine(log, name);
    doctor.outcome()
}

struct Doctor<'a> {
    cfg: &'a Config,
    lines: Vec<Line>,
}

/// What the remote lines learned, for the lines after them.
#[derive(Default)]
struct Found {
    user: Option<User>,
    project: Option<Project>,
    level: Option<u32>,
    version: Option<ServerVersion>,
    mr: Option<MergeRequest>,
    /// The project holding `mr`: the pipeline's own, or the one CI_OPEN_MERGE_REQUESTS
    /// names (a fork's upstream).
    mr_project: Option<ProjectRef>,
    mr_checks: Option<Vec<MrCheck>>,
    project_checks: Option<Vec<ProjectCheck>>,
}

impl<'a> Doctor<'a> {
    fn set(&mut self, id: LineId, verdict: Verdict, message: String, fix: Option<String>) {
        self.lines.retain(|l| l.id != id);
        self.lines.push(Line {
            id,
            verdict,
            message,
            fix,
        });
    }

    fn ok(&mut self, id: LineId, message: impl Into<String>) {
        self.set(id, Verdict::Ok, message.into(), None);
    }

    fn warn(&mut self, id: LineId, message: impl Into<String>, fix: impl Into<String>) {
        self.set(id, Verdict::Warn, message.into(), Some(fix.into()));
    }

    fn fail(&mut self, id: LineId, message: impl Into<String>, fix: impl Into<String>) {
        self.set(id, Verdict::Fail, message.into(), Some(fix.into()));
    }

    fn skip(&mut self, id: LineId, message: impl Into<String>) {
        self.set(id, Verdict::Skip, message.into(), None);
    }

    /// A failed line from an error: its message, and its hints as the fix.
    fn fail_with(&mut self, id: LineId, error: &Error) {
        let fix = if error.hints.is_empty() {
            "see the message".to_owned()
        } else {
            error.hints.join("; ")
        };
        self.fail(id, error.message.clone(), fix);
    }

    fn verdict(&self, id: LineId) -> Option<Verdict> {
        self.lines.iter().find(|l| l.id == id).map(|l| l.verdict)
    }

    fn examine(&mut self, log: &'a Log, name: Option<&str>) {
        self.config_line();
        self.pipeline_line();
        self.project_line();
        self.sha_line();
        let token_usable = self.token_local();
        let mut found = Found::default();
        let Some(client) = self.client(log, token_usable) else {
            for id in [
                LineId::Version,
                LineId::Role,
                LineId::Mr,
                LineId::Licence,
                LineId::Checks,
                LineId::Scopes,
                LineId::MergeGate,
            ] {
                self.skip_unless_set(id, "not checked: GitLab cannot be reached");
            }
            if name.is_some() {
                self.skip(LineId::Name, "not checked: GitLab cannot be reached");
            }
            if self.verdict(LineId::Token).is_none() {
                self.skip(LineId::Token, "not checked: GitLab cannot be reached");
            }
            // A version from the CI variables needs no request.
            if let Some(v) = self.cfg.server_version {
                self.version_line(v, self.version_source());
            }
            return;
        };
        let ctx = Ctx::with_client(self.cfg, log, client);
        found.user = self.connection_and_token(&ctx, token_usable);
        self.version(&ctx, &mut found);
        if found.user.is_none() {
            for id in [
                LineId::Role,
                LineId::Mr,
                LineId::Licence,
                LineId::Checks,
                LineId::Scopes,
                LineId::MergeGate,
            ] {
                self.skip_unless_set(id, "not checked: needs a working access token");
            }
            if name.is_some() {
                self.skip(LineId::Name, "not checked: needs a working access token");
            }
            return;
        }
        self.role(&ctx, &mut found);
        self.mr(&ctx, &mut found);
        self.licence_and_checks(&ctx, &mut found);
        self.scopes(&ctx, &mut found);
        if let Some(name) = name {
            self.name(&ctx, &mut found, name);
        }
        self.merge_gate(&found);
    }

    fn skip_unless_set(&mut self, id: LineId, message: &str) {
        if self.verdict(id).is_none() {
            self.skip(id, message);
        }
    }

    // ------------------------------------------------------------ local lines

    fn config_line(&mut self) {
        let bad: Vec<&Error> = self
            .cfg
            .problems
            .iter()
            .filter(|p| {
                matches!(
                    p.input,
                    Input::RequestTimeout | Input::Retries | Input::RetryDelay
                )
            })
            .map(|p| &p.error)
            .collect();
        if bad.is_empty() {
            return;
        }
        let message = bad
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let fix = bad
            .iter()
            .flat_map(|e| e.hints.iter().map(String::as_str))
            .collect::<Vec<_>>();
        let fix = if fix.is_empty() {
            "correct the flag or STATUS_CHECK_* variable named in the message".to_owned()
        } else {
            fix.join("; ")
        };
        self.fail(LineId::Config, message, fix);
    }

    fn pipeline_line(&mut self) {
        let ci = &self.cfg.ci;
        let kind = ci.pipeline_kind();
        let mut message = match kind {
            PipelineKind::MergeRequest => {
                "merge request pipeline: CI_MERGE_REQUEST_IID names the MR".to_owned()
            }
            PipelineKind::MergedResults => "merged results pipeline: CI_COMMIT_SHA is a temporary merge commit, so the MR's source head (CI_MERGE_REQUEST_SOURCE_BRANCH_SHA) is reported".to_owned(),
            PipelineKind::MergeTrain => "merge train pipeline: CI_COMMIT_SHA is a temporary merge commit, so the MR's source head (CI_MERGE_REQUEST_SOURCE_BRANCH_SHA) is reported".to_owned(),
            PipelineKind::Branch => format!(
                "branch pipeline{}: no MR variables, so the open merge requests whose head is the SHA are looked up",
                ci.commit_ref_name
                    .as_deref()
                    .map(|r| format!(" for {r}"))
                    .unwrap_or_default()
            ),
            PipelineKind::Local => {
                "outside CI (CI is not true): project, MR and SHA come from flags or STATUS_CHECK_* variables".to_owned()
            }
        };
        if ci.is_fork_mr() {
            message.push_str(&format!(
                "; a fork merge request: the pipeline runs in the fork (CI_PROJECT_ID {}), the MR and its checks live in project {} (CI_MERGE_REQUEST_PROJECT_ID)",
                ci.project_id.as_deref().unwrap_or("?"),
                ci.mr_project_id.as_deref().unwrap_or("?"),
            ));
        }
        self.ok(LineId::Pipeline, message);
    }

    fn project_line(&mut self) {
        if let Some(e) = self.cfg.problem(Input::Project) {
            self.fail_with(LineId::Project, e);
            return;
        }
        match &self.cfg.project {
            Some(_) => {
                let message = self.project_message(None);
                self.ok(LineId::Project, message);
            }
            None => self.fail(
                LineId::Project,
                "no project",
                "set --project or STATUS_CHECK_PROJECT to the project id or path (GitLab jobs set CI_PROJECT_ID)",
            ),
        }
    }

    /// `42 = acme/app (from CI_PROJECT_ID)`, and why it is not the fork.
    fn project_message(&self, path: Option<&str>) -> String {
        let Some(p) = &self.cfg.project else {
            return String::new();
        };
        let mut message = match path.filter(|path| !path.is_empty() && *path != p.value.raw) {
            Some(path) => format!("{} = {path} (from {})", p.value.raw, p.source),
            None => format!("{} (from {})", p.value.raw, p.source),
        };
        if self.cfg.ci.is_fork_mr() && p.source == "CI_MERGE_REQUEST_PROJECT_ID" {
            message.push_str(": the MR's project, not the fork the pipeline runs in");
        }
        message
    }

    fn sha_line(&mut self) {
        if let Some(e) = self.cfg.problem(Input::Sha) {
            self.fail_with(LineId::Sha, e);
            return;
        }
        let kind = self.cfg.ci.pipeline_kind();
        let merge_commit = matches!(kind, PipelineKind::MergedResults | PipelineKind::MergeTrain);
        match &self.cfg.sha {
            Some(sha) if merge_commit && sha.source == "CI_COMMIT_SHA" => self.fail(
                LineId::Sha,
                format!(
                    "{} from CI_COMMIT_SHA is the temporary merge commit of a {}: GitLab refuses a report for it (409)",
                    short(&sha.value),
                    kind.describe()
                ),
                "GitLab sets CI_MERGE_REQUEST_SOURCE_BRANCH_SHA in these pipelines; if it is missing, pass --sha with the MR's source head",
            ),
            Some(sha) => {
                let why = match sha.source {
                    "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA" => ": the MR's source branch head",
                    "CI_COMMIT_SHA" => ": the commit this pipeline built",
                    _ => "",
                };
                self.ok(LineId::Sha, format!("{} (from {}{why})", sha.value, sha.source));
            }
            None if self.cfg.mr.is_some() => self.warn(
                LineId::Sha,
                "no commit SHA: list, wait and retry work with the MR IID, but report and run need one",
                "set --sha or STATUS_CHECK_SHA (GitLab jobs set CI_COMMIT_SHA)",
            ),
            None => self.fail(
                LineId::Sha,
                "no commit SHA and no MR IID: nothing identifies the merge request",
                "set --sha (or STATUS_CHECK_SHA) and/or --mr (or STATUS_CHECK_MR); GitLab jobs set CI_COMMIT_SHA",
            ),
        }
    }

    /// The token line as far as it can be told without a request; true when
    /// there is a token worth sending.
    fn token_local(&mut self) -> bool {
        if let Some(e) = self.cfg.problem(Input::Token) {
            self.fail_with(LineId::Token, e);
            return false;
        }
        let fork_note = if self.cfg.ci.is_fork_mr() {
            "; in a fork's pipeline the parent project's CI/CD variables are not available: a member of the parent project can run the pipeline in the parent project from the MR's Pipelines tab"
        } else {
            ""
        };
        let Some(token) = &self.cfg.token else {
            if self.cfg.ci.has_job_token {
                self.fail(
                    LineId::Token,
                    "only CI_JOB_TOKEN is available: it is a job token, and GitLab refuses job tokens on every external status check endpoint",
                    format!("create a project, group or personal access token with the `api` scope and the Developer role (Maintainer for sync), store it as a masked CI/CD variable and pass it as STATUS_CHECK_TOKEN{fork_note}"),
                );
            } else {
                self.fail(
                    LineId::Token,
                    "no access token",
                    format!("set STATUS_CHECK_TOKEN (or GITLAB_TOKEN, or --token-file PATH) to an access token with the `api` scope and the Developer role{fork_note}"),
                );
            }
            return false;
        };
        if self.cfg.ci.is_job_token(&token.value) {
            self.fail(
                LineId::Token,
                format!(
                    "the token from {} is the CI job token: GitLab refuses job tokens on every external status check endpoint",
                    token.source
                ),
                "use a project, group or personal access token with the `api` scope and the Developer role, stored as a masked CI/CD variable",
            );
            return false;
        }
        true
    }

    // ------------------------------------------------------------ connection

    fn api_url(&mut self) -> Option<String> {
        if let Some(e) = self.cfg.problem(Input::ApiUrl) {
            self.fail_with(LineId::ApiUrl, e);
            return None;
        }
        let Some(url) = &self.cfg.api_url else {
            self.fail(
                LineId::ApiUrl,
                "no GitLab API URL",
                "set --api-url or STATUS_CHECK_API_URL, e.g. https://gitlab.example.com/api/v4 (GitLab jobs set CI_API_V4_URL)",
            );
            return None;
        };
        if url.value.ends_with("/api/v4") {
            self.ok(
                LineId::ApiUrl,
                format!("{} (from {})", url.value, url.source),
            );
        } else {
            self.warn(
                LineId::ApiUrl,
                format!(
                    "{} (from {}) does not end in /api/v4",
                    url.value, url.source
                ),
                "give the API base, e.g. https://gitlab.example.com/api/v4, not the instance URL",
            );
        }
        Some(url.value.clone())
    }

    fn client(&mut self, log: &'a Log, token_usable: bool) -> Option<Client<'a>> {
        let url = self.api_url()?;
        let token = if token_usable {
            self.cfg.token.as_ref().map(|t| t.value.clone())
        } else {
            None
        };
        match checks::client(self.cfg, log, &url, token) {
            Ok(client) => Some(client),
            Err(e) => {
                self.fail_with(LineId::Connection, &e);
                None
            }
        }
    }

    /// `GET /user` with the token, or an anonymous `GET /version` without
    /// one: any answer from GitLab proves the URL and TLS.
    fn connection_and_token(&mut self, ctx: &Ctx, token_usable: bool) -> Option<User> {
        if !token_usable {
            match ctx.client.get::<Value>("/version") {
                Ok(_) => self.connected(),
                Err(e) if matches!(e.status(), Some(401 | 403)) => self.connected(),
                Err(e) => self.unreachable(e),
            }
            return None;
        }
        let source = self.cfg.token.as_ref().map_or("", |t| t.source);
        match ctx.client.get::<User>("/user") {
            Ok(user) => {
                self.connected();
                self.token_valid(ctx, &user, source);
                Some(user)
            }
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                self.connected();
                let expired =
                    e.message().contains("invalid_token") || e.message().contains("xpired");
                let scope = e.message().contains("insufficient_scope");
                let (message, fix) = if expired {
                    (
                        format!(
                            "the token from {source} has expired or was revoked (GET /user answered {})",
                            e.status().unwrap_or(401)
                        ),
                        "create a new access token and update the CI/CD variable",
                    )
                } else if scope {
                    (
                        format!(
                            "the token from {source} lacks a scope GET /user needs (`api` or `read_api`)"
                        ),
                        "create an access token with the `api` scope",
                    )
                } else {
                    (
                        format!(
                            "GitLab does not accept the token from {source} (GET /user answered {}: {})",
                            e.status().unwrap_or(401),
                            e.message()
                        ),
                        "check the token's value (copied whole, not revoked); it must be a personal, project or group access token, not a job, deploy or trigger token",
                    )
                };
                self.fail(LineId::Token, message, fix);
                None
            }
            Err(e) => {
                self.unreachable(e);
                self.skip(LineId::Token, "not checked: GitLab did not answer");
                None
            }
        }
    }

    fn connected(&mut self) {
        let Some(url) = self.cfg.api_url.as_ref().map(|u| u.value.clone()) else {
            return;
        };
        let host = host_of(&url);
        if url.starts_with("https://") {
            let ca = match &self.cfg.ca_file {
                Some(ca) => format!(
                    " (trusting the CA file {} from {})",
                    ca.value.display(),
                    ca.source
                ),
                None => String::new(),
            };
            self.ok(
                LineId::Connection,
                format!("GitLab answered at {host}; TLS certificate verified{ca}"),
            );
        } else if is_loopback(host) {
            self.ok(
                LineId::Connection,
                format!("GitLab answered at {host} (plain http, on this machine)"),
            );
        } else {
            self.warn(
                LineId::Connection,
                format!("GitLab answered at {host}, over plain http: the token crosses the network unencrypted"),
                "use the https:// API URL",
            );
        }
    }

    fn unreachable(&mut self, e: ApiError) {
        let tls = matches!(
            e.kind,
            ApiErrorKind::Transport {
                kind: Transport::Tls,
                ..
            }
        );
        let not_found = e.status() == Some(404);
        let mut error = Error::from(e);
        if tls && let Some(ca) = &self.cfg.ca_file {
            error = error.hint(format!(
                "the CA file {} (from {}) does not include the issuer of the server's certificate",
                ca.value.display(),
                ca.source
            ));
        } else if tls {
            error = error.hint("in a job, GitLab sets CI_SERVER_TLS_CA_FILE when the instance has a custom CA; outside one, pass --ca-file (or STATUS_CHECK_CA_FILE, or SSL_CERT_FILE for the whole system bundle)");
        }
        if not_found {
            error = error.hint("the API URL must end in /api/v4");
        }
        self.fail_with(LineId::Connection, &error);
    }

    fn token_valid(&mut self, ctx: &Ctx, user: &User, source: &str) {
        let kind = if user.bot && user.username.starts_with("project_") {
            "project access token"
        } else if user.bot && user.username.starts_with("group_") {
            "group access token"
        } else if user.bot {
            "bot user's token"
        } else {
            "personal access token"
        };
        let mut message = format!("{kind} of @{} (from {source})", user.username);
        // GET /personal_access_tokens/self exists from 15.5.
        let knows_self = self
            .cfg
            .server_version
            .is_none_or(|v| v >= ServerVersion::new(15, 5));
        let info = if knows_self {
            ctx.client
                .get::<TokenInfo>("/personal_access_tokens/self")
                .ok()
        } else {
            None
        };
        let Some(info) = info else {
            message.push_str(": valid; its scopes could not be read (GitLab 15.5+ shows them)");
            self.ok(LineId::Token, message);
            return;
        };
        let scopes = if info.scopes.is_empty() {
            "none".to_owned()
        } else {
            info.scopes.join(", ")
        };
        if let Some(expires) = &info.expires_at {
            message.push_str(&format!(", expires {expires}"));
        }
        if info.scopes.iter().any(|s| s == "api") {
            message.push_str(&format!(": valid, scopes {scopes}"));
            self.ok(LineId::Token, message);
        } else {
            message.push_str(&format!(
                ": valid, but its scopes are {scopes}, without `api`"
            ));
            self.fail(
                LineId::Token,
                message,
                "reporting a status and managing checks need the `api` scope (`read_api` can only read): create a token with `api`",
            );
        }
    }

    // ------------------------------------------------------------ version

    fn version_source(&self) -> &'static str {
        let ci = &self.cfg.ci;
        if ci.server_version_major.is_some() && ci.server_version_minor.is_some() {
            "CI_SERVER_VERSION_MAJOR/_MINOR"
        } else {
            "CI_SERVER_VERSION"
        }
    }

    fn version(&mut self, ctx: &Ctx, found: &mut Found) {
        if let Some(v) = self.cfg.server_version {
            found.version = Some(v);
            self.version_line(v, self.version_source());
            return;
        }
        if self.cfg.token.is_none() || self.verdict(LineId::Token) != Some(Verdict::Ok) {
            self.warn(
                LineId::Version,
                "unknown: no CI_SERVER_VERSION_* variables, and GET /version needs a working access token",
                "give a working access token, or set CI_SERVER_VERSION_MAJOR and CI_SERVER_VERSION_MINOR (GitLab jobs set them)",
            );
            return;
        }
        match ctx.server_version() {
            Ok(v) => {
                found.version = Some(v);
                self.version_line(v, "GET /version");
            }
            Err(e) => self.warn(
                LineId::Version,
                format!("unknown: {}", e.message),
                "set CI_SERVER_VERSION_MAJOR and CI_SERVER_VERSION_MINOR (GitLab jobs set them)",
            ),
        }
    }

    fn version_line(&mut self, v: ServerVersion, source: &str) {
        if v < ServerVersion::new(14, 0) {
            self.fail(
                LineId::Version,
                format!("GitLab {v} (from {source}) has no external status checks (14.0+)"),
                "upgrade GitLab to 15.0 or later",
            );
            return;
        }
        let statuses = if v < ServerVersion::new(15, 0) {
            "the `approved` era: any response means approved (14.9 and 14.10 show `failed` only behind a feature flag that is off by default), so `report failed` and `report pending` are refused and a failing check just stays pending"
        } else if !v.accepts_pending() {
            "reports passed and failed; pending cannot be reported (16.5+), but a check without a response already shows pending, and nothing times out"
        } else if !v.times_out_pending() {
            "reports passed, failed and pending; a pending status does not time out (16.6+ turns one older than 2 minutes into failed)"
        } else {
            "reports passed, failed and pending; a pending response older than 2 minutes is turned into failed, so `run` re-posts pending while its command runs (--heartbeat)"
        };
        let mut message = format!("GitLab {v} (from {source}): {statuses}");
        if v == ServerVersion::new(14, 0) {
            message.push_str("; 14.0 also needs the feature flag ff_external_status_checks, off by default (without it every status-check endpoint answers 401)");
        }
        if !v.has_retry() {
            message.push_str("; no retry endpoint (15.7+)");
        }
        if v < ServerVersion::new(15, 9) {
            message.push_str("; no \"Status checks must succeed\" setting (15.9+)");
        }
        if v < ServerVersion::new(15, 0) {
            self.warn(
                LineId::Version,
                message,
                "upgrade to GitLab 15.0+ for passed/failed statuses (16.6+ for pending with a timeout)",
            );
        } else {
            self.ok(LineId::Version, message);
        }
    }

    // ------------------------------------------------------------ project and role

    fn role(&mut self, ctx: &Ctx, found: &mut Found) {
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

    fn mr(&mut self, ctx: &Ctx, found: &mut Found) {
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
            self.open_mr(ctx, found, open, sha.as_deref());
            return;
        }
        if let Some(mr) = &self.cfg.mr {
            let path = paths::merge_request(&project.value.encoded, mr.value);
            match ctx.client.get::<MergeRequest>(&path) {
                Ok(found_mr) => {
                    self.mr_found(&found_mr, &format!("from {}", mr.source), sha.as_deref());
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
                        short(&sha),
                        project.value.raw
                    ),
                    "check --sha / CI_COMMIT_SHA and --project",
                );
                return;
            }
            Err(e) => {
                let e = Error::from(e)
                    .context(format!("finding the merge requests of {}", short(&sha)));
                self.fail_with(LineId::Mr, &e);
                return;
            }
        };
        let open: Vec<MergeRequest> = listing.into_iter().filter(MergeRequest::is_open).collect();
        let (current, moved): (Vec<MergeRequest>, Vec<MergeRequest>) = open
            .into_iter()
            .partition(|m| m.sha.as_deref().is_none_or(|h| h == sha));
        if let Some(first) = current.first() {
            let mut how = format!("the open MR whose head is {}, found by SHA", short(&sha));
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
                    short(&sha),
                    m.sha.as_deref().map_or("?", short)
                ),
                "nothing to fix here: the pipeline of the new head reports for it",
            );
        } else {
            self.warn(
                LineId::Mr,
                format!(
                    "no open merge request has {} as its head: report and run do nothing and exit 0 (exit 2 with --require-mr); list, wait and retry need an MR",
                    short(&sha)
                ),
                "open a merge request for the branch, or run the job in merge request pipelines (rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\")",
            );
        }
    }

    /// The first MR that `CI_OPEN_MERGE_REQUESTS` names (no commit look-up).
    fn open_mr(&mut self, ctx: &Ctx, found: &mut Found, open: &MrRef, sha: Option<&str>) {
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

    fn mr_found(&mut self, mr: &MergeRequest, how: &str, sha: Option<&str>) {
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
        } else if let Some(sha) = sha.filter(|s| !head.is_empty() && *s != head) {
            self.warn(
                LineId::Mr,
                format!(
                    "{summary}, but its head is {} and the SHA is {}: reports for this SHA get 409 and exit 4 (stale)",
                    short(head),
                    short(sha)
                ),
                "nothing to fix if someone pushed since: the pipeline of the new head reports for it; otherwise check --sha",
            );
        } else {
            self.ok(
                LineId::Mr,
                format!(
                    "{summary}, head {}",
                    short(if head.is_empty() {
                        sha.unwrap_or("")
                    } else {
                        head
                    })
                ),
            );
        }
    }

    // ------------------------------------------------------------ licence and checks

    fn licence_and_checks(&mut self, ctx: &Ctx, found: &mut Found) {
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
            Err(e) if e.status() == Some(403) => {
                // GitLab checks the licence before the role: a 403 means licensed.
                self.ok(
                    LineId::Licence,
                    "external status checks are available (GitLab refused the role, which it checks after the licence)",
                );
                let message = format!(
                    "!{}'s status checks cannot be read with this role (403)",
                    mr.iid
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

    fn licence_without_mr(
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

    fn no_licence(&mut self, what: &str) {
        self.fail(
            LineId::Licence,
            format!("{what} answered 401 while the token works elsewhere: no Ultimate licence, or the feature is unavailable"),
            "external status checks need GitLab Ultimate (or a trial) for the project: on GitLab.com the top-level group's plan, on self-managed the instance licence (Admin → Subscription)",
        );
    }

    fn checks_line(&mut self, mr: &MergeRequest, checks: &[MrCheck]) {
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
    /// matches scopes by exact name. Telling needs the project's check list (Maintainer).
    fn scopes(&mut self, ctx: &Ctx, found: &mut Found) {
        if found.level.is_none_or(|l| l < MAINTAINER) {
            self.skip(
                LineId::Scopes,
                "not checked: the project's check list (branch scopes) needs Maintainer",
            );
            return;
        }
        if found.project_checks.is_none() {
            if let Some(project) = self.cfg.project.as_ref() {
                found.project_checks = checks::project_checks(ctx, &project.value).ok();
            }
        }
        let Some(checks) = &found.project_checks else {
            self.skip(
                LineId::Scopes,
                "not checked: the project's check list could not be read",
            );
            return;
        };
        let wildcards: Vec<String> = checks
            .iter()
            .filter_map(|c| {
                let branches: Vec<String> = c
                    .branch_names()
                    .into_iter()
                    .filter(|b| b.contains('*'))
                    .collect();
                (!branches.is_empty())
                    .then(|| format!("\"{}\" ({})", c.name, checks::join_branches(&branches)))
            })
            .collect();
        match found.version {
            _ if wildcards.is_empty() => self.ok(
                LineId::Scopes,
                format!(
                    "no check is limited to a wildcard branch ({} in the project)",
                    plural(checks.len(), "check")
                ),
            ),
            Some(v) if v.matches_wildcard_scopes() => self.ok(
                LineId::Scopes,
                format!(
                    "limited to wildcard branches: {}; GitLab {v} matches them against the target branch",
                    wildcards.join(", ")
                ),
            ),
            Some(v) => self.fail(
                LineId::Scopes,
                format!(
                    "limited to wildcard branches, so they gate nothing: {}; GitLab {v} matches a check's protected branches to the target branch by exact name, so `release/*` applies to no merge request",
                    wildcards.join(", ")
                ),
                WILDCARD_FIX,
            ),
            None => self.warn(
                LineId::Scopes,
                format!(
                    "limited to wildcard branches: {}; before GitLab 19.4 such a check applies to no merge request (scopes match the target branch by exact name), and the version is unknown",
                    wildcards.join(", ")
                ),
                WILDCARD_FIX,
            ),
        }
    }

    // ------------------------------------------------------------ --name

    fn name(&mut self, ctx: &Ctx, found: &mut Found, name: &str) {
        if let Some(checks) = &found.mr_checks {
            if let Some(c) = checks.iter().find(|c| c.name == name) {
                let iid = found.mr.as_ref().map_or(0, |m| m.iid);
                self.ok(
                    LineId::Name,
                    format!(
                        "\"{name}\" applies to !{iid} (check id {}, now {})",
                        c.id, c.status
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
        let on_mr = found.mr.as_ref().map(|m| {
            let names: Vec<String> = found
                .mr_checks
                .iter()
                .flatten()
                .map(|c| format!("\"{}\"", c.name))
                .collect();
            let names = if names.is_empty() {
                "it has none".to_owned()
            } else {
                format!("its checks are {}", names.join(", "))
            };
            format!("no check named \"{name}\" on !{}; {names}", m.iid)
        });
        let maintainer = found.level.is_some_and(|l| l >= MAINTAINER);
        if maintainer && found.project_checks.is_none() {
            if let Some(project) = self.cfg.project.as_ref() {
                found.project_checks = checks::project_checks(ctx, &project.value).ok();
            }
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
                    format!("{message}; whether \"{name}\" exists but is limited to other target branches can't be known: {why}"),
                    "check the name (case-sensitive) and its protected branches in Settings → Merge requests → Status checks",
                ),
                None => self.warn(
                    LineId::Name,
                    format!("\"{name}\" can't be checked without a merge request: {why}"),
                    "run doctor in a merge request pipeline, or with --mr IID",
                ),
            }
            return;
        };
        let existing: Vec<String> = project_checks
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let scope = checks::scope_of(project_checks, name, target.as_deref().unwrap_or(""));
        match (scope, &on_mr, &target) {
            (Scope::Missing, _, _) => self.fail(
                LineId::Name,
                format!(
                    "no check named \"{name}\" in the project; {}",
                    if existing.is_empty() {
                        "it has none".to_owned()
                    } else {
                        format!("its checks are {}", existing.join(", "))
                    }
                ),
                "create it in Settings → Merge requests → Status checks or with `status-check sync`, or fix the name (case-sensitive)",
            ),
            (Scope::OtherBranches(branches), _, Some(target)) => self.fail(
                LineId::Name,
                format!(
                    "\"{name}\" exists but applies only to merge requests targeting {}; {} targets {target}",
                    checks::join_branches(&branches),
                    found.mr.as_ref().map_or("this pipeline's MR".to_owned(), |m| format!("!{}", m.iid))
                ),
                format!("add {target} to the check's protected branches (it must be a protected branch), or do not report this check for MRs into {target}"),
            ),
            (Scope::OtherBranches(branches), _, None) => self.ok(
                LineId::Name,
                format!(
                    "\"{name}\" exists in the project, limited to merge requests targeting {}",
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
                format!("\"{name}\" exists in the project and applies to merge requests into any branch"),
            ),
            (Scope::Applies(branches), None, _) => self.ok(
                LineId::Name,
                format!(
                    "\"{name}\" exists in the project, limited to merge requests targeting {}",
                    checks::join_branches(&branches)
                ),
            ),
        }
    }

    // ------------------------------------------------------------ merge gate

    fn merge_gate(&mut self, found: &Found) {
        let Some(project) = &found.project else {
            self.skip(
                LineId::MergeGate,
                "not checked: the project could not be read",
            );
            return;
        };
        if let Some(v) = found.version.filter(|v| *v < ServerVersion::new(15, 9)) {
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

    // ------------------------------------------------------------ output

    fn outcome(mut self) -> Outcome {
        self.lines.sort_by_key(|l| l.id);
        let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
        for line in &self.lines {
            *counts.entry(line.verdict).or_default() += 1;
        }
        let count = |v| counts.get(&v).copied().unwrap_or(0);
        let failed = count(Verdict::Fail) > 0;
        let id_width = self
            .lines
            .iter()
            .map(|l| l.id.as_str().len())
            .max()
            .unwrap_or(0);
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(&format!(
                "{:<5} {:<id_width$}  {}\n",
                line.verdict.label(),
                line.id.as_str(),
                line.message
            ));
            if let Some(fix) = &line.fix {
                text.push_str(&format!("{:<5} {:<id_width$}  fix: {fix}\n", "", ""));
            }
        }
        text.push_str(&format!(
            "\n{} ok, {}, {} failed{}: {}\n",
            count(Verdict::Ok),
            plural(count(Verdict::Warn), "warning"),
            count(Verdict::Fail),
            match count(Verdict::Skip) {
                0 => String::new(),
                n => format!(", {n} not checked"),
            },
            if failed {
                "status checks will not work here until the failed lines are fixed"
            } else {
                "status checks should work here"
            }
        ));
        let checks: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "id": l.id.as_str(),
                    "result": l.verdict.word(),
                    "message": l.message,
                    "fix": l.fix,
                })
            })
            .collect();
        let json = json!({
            "ok": !failed,
            "summary": {
                "ok": count(Verdict::Ok),
                "warn": count(Verdict::Warn),
                "fail": count(Verdict::Fail),
                "skip": count(Verdict::Skip),
            },
            "checks": checks,
        });
        let code = if failed { Code::CheckFailed } else { Code::Ok };
        Outcome::new(code, text, json)
    }
}

fn display_project(project: &Project, raw: &str) -> String {
    if project.path_with_namespace.is_empty() {
        raw.to_owned()
    } else {
        project.path_with_namespace.clone()
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn hosts_and_loopback() {
        assert_eq!(
            host_of("https://gitlab.example.com/api/v4"),
            "gitlab.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/api/v4"), "127.0.0.1:8080");
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:3000"));
        assert!(!is_loopback("gitlab.example.com"));
        assert!(!is_loopback("127.example.com:80"));
    }

    #[test]
    fn lines_print_in_the_order_of_their_ids_and_a_later_verdict_replaces_one() {
        let cli = crate::cli::Cli::try_parse_from(["status-check", "doctor"]).unwrap();
        let cfg = Config::build_lenient(&cli.global, crate::ci::CiContext::default());
        let mut doctor = Doctor {
            cfg: &cfg,
            lines: Vec::new(),
        };
        doctor.ok(LineId::MergeGate, "last");
        doctor.fail(LineId::Token, "not yet", "wait");
        doctor.warn(LineId::Config, "first", "fix it");
        doctor.ok(LineId::Token, "valid");
        let outcome = doctor.outcome();
        let ids: Vec<&str> = outcome.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| line["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["config", "token", "merge-gate"]);
        assert_eq!(
            outcome.status,
            Code::Ok.into(),
            "the failed line was replaced"
        );
        let lines = [
            "warn  config      first",
            "                  fix: fix it",
            "ok    token       valid",
            "ok    merge-gate  last",
            "",
            "2 ok, 1 warning, 0 failed: status checks should work here",
        ];
        assert_eq!(outcome.text.lines().collect::<Vec<_>>(), lines);
    }
}
