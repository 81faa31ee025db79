//! Integration tests: the real status-check binary against the fake GitLab.

mod support;

mod config;
mod doctor;
mod list;
mod report;
mod retry;
mod sync;
mod transport;
