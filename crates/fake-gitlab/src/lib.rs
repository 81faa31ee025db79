//! A stateful fake of GitLab's external status check API (REST v4), for status-check's
//! integration tests (in-process, port 0) and its demo (the `fake-gitlab` binary).
//!
//! It follows `docs/gitlab-api.md`: status codes, error bodies, JSON shapes, the order of
//! checks (authentication, project, licence, parameters, MR, role), pagination headers,
//! and each version-dependent rule, which `era.rs` names after its row of that document. Tests set up a [`World`], start a [`FakeGitlab`],
//! inject [`Fault`]s and timeline [`Event`]s, and inspect the request log.
//!
//! Decisions worth knowing when writing tests against it:
//! - Per request, in order: wait the world's `latency_ms` (0 by default), log it, fire due `AfterMs` events, count an MR-list poll and
//!   fire due `AfterPolls` events, then the first matching fault (which skips the rate
//!   limiter), else the rate limiter, else the endpoint.
//! - The rate limiter's window holds the requests it admitted; `Retry-After` is the time
//!   until the oldest of them leaves the 60 s window.
//! - `Reset` and `ResetMidBody` log status 0. `ResetMidBody`, `SlowDrip` and `Delay` run the
//!   real endpoint, so a POST hit by them does change the world (`Delay` only after its
//!   sleep). `AfterActing(inner)` runs the endpoint on arrival and then fails as `inner`
//!   does: the "GitLab acted but the client cannot know" case (a reset, a proxy's 502,
//!   a late answer with `Delay`).
//! - [`FakeGitlab::start_tls`] serves the same API over HTTPS with a certificate the test
//!   makes; a client that does not trust it fails the handshake before any request is
//!   logged.
//! - Unknown routes (and the retry route before 15.7) answer 404 before authentication.
//! - A job token acts as Reporter and is accepted only by `GET merge_requests/:iid` and
//!   `GET repository/commits/:sha/merge_requests`.
//! - Statuses as read: before 15.0 every response shows as `approved` (on 14.9–14.10 a
//!   stored `failed` too: the feature flag is off); from 15.0 a stored `approved` shows
//!   as `passed`; a stored `pending` at least `pending_timeout_ms` old shows
//!   as `failed` (so `Some(0)` times out at once).
//! - `detailed_merge_status` is `not_open` for MRs that are not opened.
//! - Compliance external controls (`compliance.rs`) authenticate no user: a signed
//!   request, checked on the server's clock, which `World::clock_offset_secs` moves (every
//!   answer's `Date` goes by it too).
//! - [`SHA_B`], [`SHA_C`], [`MERGE_SHA`] and [`BASE_SHA`] are known commits of project 42
//!   (in no MR until pushed), so `commits/:sha/merge_requests` answers `[]` for them; any
//!   other unknown SHA gets 404 Commit Not Found.

mod api;
mod compliance;
mod era;
mod http;
mod inprocess;
mod script;
mod server;
mod throttle;
mod world;

pub use compliance::{Compliance, Control, ControlStatus};
pub use era::{Era, StatusParam};
pub use http::http_date;
pub use inprocess::{Call, Exchange};
pub use script::{Action, Auth, Event, Fault, FaultKind, LoggedRequest, Trigger, demo_events};
pub use server::FakeGitlab;
pub use throttle::Throttle;
pub use world::{
    BASE_SHA, Check, DEV_TOKEN, EXPIRED_TOKEN, FINE_GRAINED_PERMISSIONS, FINE_GRAINED_TOKEN,
    GUEST_TOKEN, JOB_TOKEN, MAINTAINER_TOKEN, MERGE_SHA, MergeRequest, PROJECT_TOKEN, Project,
    ProtectedBranch, REPORTER_TOKEN, REPORTER_USER, RateLimitHeaders, Role, SHA_A, SHA_B, SHA_C,
    StatusResponse, Token, TokenKind, TokenRateLimit, World,
};
