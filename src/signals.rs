//! SIGTERM, SIGINT and SIGHUP, caught so that `run` can pass them on to its
//! command and still report the check.
//!
//! GitLab Runner sends SIGTERM when a job is cancelled or times out; a
//! terminal sends SIGINT. `run` starts its command in a process group of its
//! own, so that a signal reaches the command's children too; that takes the
//! command out of the terminal's foreground group, so status-check forwards
//! these signals itself (`forward`).
//!
//! How they are caught: a handler writes the signal number to a pipe (the
//! only thing it does, and `write` is async-signal-safe). One thread, the
//! only one that leaves these signals unblocked, reads the pipe and hands
//! each number to a callback. The thread that calls `install` blocks them,
//! and every thread it starts afterwards (heartbeat, HTTP, DNS) inherits
//! that mask, so no HTTP read is ever cut short with EINTR. The command is
//! started with them unblocked again (`unblock_in_child`); exec resets the
//! handler to the default action.
//!
//! Every `unsafe` block of status-check lives in this module.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

use libc::c_int;

/// The signals that mean "stop": caught and forwarded to the command.
pub const FORWARDED: [c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The write end of the self-pipe, for the handler.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static INSTALLED: OnceLock<()> = OnceLock::new();

extern "C" fn on_signal(signo: c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signo as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one live byte.
        // The write end is non-blocking: with a full pipe the signal is
        // dropped rather than the handler blocking.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Catches `FORWARDED` for the rest of the process's life and calls
/// `notify` with each signal number, from a thread of its own. Blocks the
/// signals in the calling thread (and so in every thread it starts later).
/// Only the first call installs anything.
pub fn install(notify: impl Fn(c_int) + Send + 'static) -> io::Result<()> {
    if INSTALLED.set(()).is_err() {
        return Err(io::Error::other("signal forwarding is already installed"));
    }
    let mut fds = [-1 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    let (read_fd, write_fd) = (fds[0], fds[1]);
    for fd in fds {
        // SAFETY: plain fcntl(2) calls on descriptors this function owns.
        // Close-on-exec keeps the pipe out of the command.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    // SAFETY: as above.
    let flags = check(unsafe { libc::fcntl(write_fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(write_fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    PIPE_WRITE.store(write_fd, Ordering::Relaxed);

    let set = signal_set()?;
    for signo in FORWARDED {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // is an `extern "C" fn(c_int)` that only calls write(2). SA_RESTART
        // resumes system calls the handler interrupts.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            action.sa_mask = set;
            check(libc::sigaction(signo, &action, std::ptr::null_mut()))?;
        }
    }
    set_mask(libc::SIG_BLOCK, &set)?;

    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            // The one thread the signals are delivered to.
            let _ = set_mask(libc::SIG_UNBLOCK, &set);
            let mut buf = [0u8; 16];
            loop {
                // SAFETY: reads at most `buf.len()` bytes into `buf`.
                let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    for &signo in &buf[..n as usize] {
                        notify(c_int::from(signo));
                    }
                } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted
                {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Starts `command` with `FORWARDED` unblocked: a child inherits the
/// spawning thread's signal mask (std does not reset it), and a command that
/// cannot receive SIGTERM cannot be cancelled.
pub fn unblock_in_child(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only
    // calls sigemptyset, sigaddset and pthread_sigmask, which are
    // async-signal-safe and allocate nothing.
    unsafe {
        command.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signo in FORWARDED {
                libc::sigaddset(&mut set, signo);
            }
            match libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) {
                0 => Ok(()),
                rc => Err(io::Error::from_raw_os_error(rc)),
            }
        });
    }
}

/// Sends `signo` to every process of the process group `pgid`.
pub fn forward(pgid: u32, signo: c_int) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid).map_err(io::Error::other)?;
    // SAFETY: kill(2) with a negative pid signals that process group; no
    // memory is involved.
    check(unsafe { libc::kill(-pgid, signo) }).map(|_| ())
}

/// `SIGTERM` for 15, and so on; `signal 42` for the rest.
pub fn name(signo: c_int) -> String {
    let known = match signo {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {signo}"),
    };
    known.to_owned()
}

fn signal_set() -> io::Result<libc::sigset_t> {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        check(libc::sigemptyset(&mut set))?;
        for signo in FORWARDED {
            check(libc::sigaddset(&mut set, signo))?;
        }
        Ok(set)
    }
}

fn set_mask(how: c_int, set: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: `set` is an initialised sigset; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(how, set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

fn check(rc: c_int) -> io::Result<c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_common_signals() {
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
        assert_eq!(name(libc::SIGKILL), "SIGKILL");
        assert_eq!(name(200), "signal 200");
    }
}
