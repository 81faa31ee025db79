//! Integration tests: the real status-check binary against the fake GitLab.

// A test binary has no API: `pub` in its modules means "for the other test modules".
#![allow(unreachable_pub)]

mod support;

mod architecture;

mod config;
mod control;
mod doctor;
mod eras;
mod faults;
mod fuzz;
mod gate_cases;
mod gate_timelines;
mod input;
mod list;
mod names;
mod pacing;
mod report;
mod retry;
mod run;
mod secrets;
mod sync;
mod tls;
mod transport;
mod variables;
mod wait;
