//! The fake GitLab's own tests, in one binary: its endpoints against
//! docs/gitlab-api.md (`api`), its faults, rate limiter and timeline (`faults`), HTTPS
//! (`tls`), compliance external controls (`controls`), and the standalone `fake-gitlab`
//! binary (`binary`).

mod common;

mod api;
mod binary;
mod controls;
mod faults;
mod tls;
