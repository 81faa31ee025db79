//! The lines doctor tells without a request: config, pipeline, project, SHA, and
//! whether there is a token worth sending.

use super::Doctor;
use super::lines::LineId;
use crate::ci::PipelineKind;
use crate::config::Input;
use crate::error::Error;

impl<'a> Doctor<'a> {
    pub(super) fn config_line(&mut self) {
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

    pub(super) fn pipeline_line(&mut self) {
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

    pub(super) fn project_line(&mut self) {
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
    pub(super) fn project_message(&self, path: Option<&str>) -> String {
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

    pub(super) fn sha_line(&mut self) {
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
                    sha.value.short(),
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
    pub(super) fn token_local(&mut self) -> bool {
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
}
