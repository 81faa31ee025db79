//! A stateful fake of GitLab's external status check API (REST v4), for status-check's
//! integration tests (in-process, port 0) and its demo (the `fake-gitlab` binary).
//!
//! It follows `gitlab-facts.md`: status codes, error bodies, JSON shapes, the order of
//! checks (authentication, project, licence, role, parameters), pagination headers,
//! version-dependent status values. Tests set up a [`World`], start a [`FakeGitlab`],
//! inject [`Fault`]s and timeline [`Event`]s, and inspect the request log.

mod api;
mod http;
mod script;
mod server;
mod world;

pub use http::http_date;
pub use script::{Action, Auth, Event, Fault, FaultKind, LoggedRequest, Trigger, demo_events};
pub use server::FakeGitlab;
pub use world::{
    BASE_SHA, Check, DEV_TOKEN, EXPIRED_TOKEN, GUEST_TOKEN, JOB_TOKEN, MAINTAINER_TOKEN, MERGE_SHA,
    MergeRequest, PROJECT_TOKEN, Project, ProtectedBranch, REPORTER_TOKEN, Role, SHA_A, SHA_B,
    SHA_C, StatusResponse, Token, TokenKind, World,
};
