//! Integration tests: the real status-check binary against the fake GitLab.

mod support;

mod config;
mod doctor;
mod list;
mod report;
mod retry;
mod run;
mod sync;
mod transport;
mod wait;
