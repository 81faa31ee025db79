//! The fake GitLab's own tests, in one binary: its endpoints against
//! docs/gitlab-api.md (`api`), its faults, rate limiter and timeline (`faults`), HTTPS
//! (`tls`), and the standalone `fake-gitlab` binary (`binary`).

mod common;

mod api;
mod binary;
mod faults;
mod tls;
