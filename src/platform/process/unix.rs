//! Unix: CMD in a process group of its own, so that a forwarded signal reaches its
//! children too.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

use super::Exit;
use crate::platform::signals;

/// Starts `program` with `args` in a process group of its own; stdin, stdout, stderr
/// and the environment are the job's.
pub(crate) fn spawn(program: &OsString, args: &[OsString]) -> io::Result<Child> {
    let mut command = Command::new(program);
    command.args(args).process_group(0);
    signals::unblock_in_child(&mut command);
    command.spawn()
}

/// Sends `sig` to every process of CMD's group (its id is the child's); a group
/// already gone is no error.
pub(crate) fn forward(child: u32, sig: i32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(child).map_err(io::Error::other)?;
    // SAFETY: kill(2) with a negative pid signals that process group; no
    // memory is involved.
    if unsafe { libc::kill(-pgid, sig) } == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// Who a forwarded signal reaches.
pub(crate) fn recipients(child: u32) -> String {
    format!("process group {child}")
}

pub(crate) fn exit_of(status: ExitStatus) -> Exit {
    match status.signal() {
        Some(signo) => Exit::Signal(signo),
        None => Exit::Code(status.code().unwrap_or(1)),
    }
}
