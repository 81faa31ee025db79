//! Windows: CMD shares status-check's console, so Ctrl-C and Ctrl-Break (GitLab
//! Runner's cancellation among them) reach it from the console itself, and `taskkill
//! /T` reaches the whole tree. There is nothing to pass on.

use std::ffi::OsString;
use std::io;
use std::process::{Child, Command, ExitStatus};

use super::Exit;
use crate::platform::signals::SIGINT;

/// Starts `program` with `args` (quoted for the C runtime's rules by std); stdin,
/// stdout, stderr and the environment are the job's.
pub(crate) fn spawn(program: &OsString, args: &[OsString]) -> io::Result<Child> {
    Command::new(program).args(args).spawn()
}

/// The console already delivered the event to CMD.
pub(crate) fn forward(_child: u32, _sig: i32) -> io::Result<()> {
    Ok(())
}

/// Who a console event reaches.
pub(crate) fn recipients(_child: u32) -> String {
    "which shares the console".to_owned()
}

/// What a process ended by Ctrl-C or Ctrl-Break exits with (`STATUS_CONTROL_C_EXIT`).
const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

/// Ended by Ctrl-C reads as SIGINT does on Unix (exit 130). Any other Windows exit
/// code is 32 bits: one outside 0..=255 reads as 1 in status-check's own exit code;
/// its output shows the code as it is (signed).
pub(crate) fn exit_of(status: ExitStatus) -> Exit {
    match status.code() {
        Some(code) if code as u32 == STATUS_CONTROL_C_EXIT => Exit::Signal(SIGINT),
        code => Exit::Code(code.unwrap_or(1)),
    }
}
