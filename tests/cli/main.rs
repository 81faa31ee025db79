//! Integration tests: the real status-check binary against the fake GitLab.

mod support;

mod architecture;

mod config;
mod doctor;
mod eras;
mod faults;
mod fuzz;
mod input;
mod list;
mod report;
mod retry;
mod run;
mod secrets;
mod sync;
mod tls;
mod transport;
mod wait;
