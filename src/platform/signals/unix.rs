//! Unix: SIGINT, SIGTERM and SIGHUP: what GitLab Runner sends when a job is cancelled
//! or times out (SIGTERM), and what a terminal sends (SIGINT, SIGHUP).
//!
//! Two uses:
//! - `exit_on_termination` (`wait`): nothing to clean up, so the handler
//!   prints one line and exits at once with 128 + signal.
//! - `catch` (`run`): the signals are caught and handed, one at a time, to a
//!   callback on a thread of its own. `run` passes each on to its command's
//!   process group (`process::forward`) and reports the check failed. The command runs
//!   in a group of its own so that a signal reaches its children too, which
//!   takes it out of the terminal's foreground group: status-check must
//!   forward even Ctrl-C itself.
//!
//! How `catch` works: the handler writes the signal number to a pipe (write
//! is async-signal-safe). One thread, the only one that leaves these signals
//! unblocked, reads the pipe and calls the callback; it may take locks and
//! allocate, which a handler may not. The thread that calls `catch` blocks
//! the signals, and every thread it starts afterwards (heartbeat, HTTP, DNS)
//! inherits that mask, so no HTTP read with a timeout is ever cut short with
//! EINTR. A child inherits the mask too: `unblock_in_child` undoes it.
//!
//! Every handler does only async-signal-safe work.

use std::io;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

const MODE_NONE: i32 = 0;
const MODE_EXIT: i32 = 1;
const MODE_CATCH: i32 = 2;

static MODE: AtomicI32 = AtomicI32::new(MODE_NONE);
/// The write end of `catch`'s pipe.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static CAUGHT: OnceLock<()> = OnceLock::new();

pub(super) const HANDLED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// On a termination signal: print one line and exit with 128 + signal.
pub(crate) fn exit_on_termination() {
    MODE.store(MODE_EXIT, Ordering::SeqCst);
    install();
}

/// Catches `HANDLED` for the rest of the process's life and calls `notify`
/// with each signal number, from a thread of its own. Blocks the signals in
/// the calling thread (and so in every thread it starts later). Only the
/// first call installs anything.
pub(crate) fn catch(notify: impl Fn(i32) + Send + 'static) -> io::Result<()> {
    if CAUGHT.set(()).is_err() {
        return Err(io::Error::other("signals are already caught"));
    }
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    let (read_fd, write_fd) = (fds[0], fds[1]);
    for fd in fds {
        // SAFETY: fcntl(2) on descriptors this function owns. Close-on-exec
        // keeps the pipe out of the command.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    // SAFETY: as above.
    let flags = check(unsafe { libc::fcntl(write_fd, libc::F_GETFL) })?;
    // SAFETY: as above. Non-blocking: with a full pipe the handler drops the
    // signal rather than block.
    check(unsafe { libc::fcntl(write_fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    PIPE_WRITE.store(write_fd, Ordering::SeqCst);
    MODE.store(MODE_CATCH, Ordering::SeqCst);
    install();
    let set = handled_set()?;
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
                    for &sig in &buf[..n.unsigned_abs()] {
                        notify(i32::from(sig));
                    }
                } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted
                {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Has `command` start with `HANDLED` unblocked: a child inherits the
/// spawning thread's signal mask (std does not reset it), and a command that
/// cannot receive SIGTERM cannot be cancelled. exec resets the handlers.
pub(crate) fn unblock_in_child(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only
    // calls sigemptyset, sigaddset and pthread_sigmask, which are
    // async-signal-safe and allocate nothing.
    unsafe {
        command.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in HANDLED {
                libc::sigaddset(&mut set, sig);
            }
            match libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) {
                0 => Ok(()),
                rc => Err(io::Error::from_raw_os_error(rc)),
            }
        });
    }
}

pub(crate) fn name(sig: i32) -> &'static str {
    match sig {
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
        _ => "a signal",
    }
}

fn install() {
    for sig in HANDLED {
        // SAFETY: installs a handler that only touches atomics and calls
        // async-signal-safe functions (write, _exit).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn handler(sig: libc::c_int) {
    match MODE.load(Ordering::SeqCst) {
        MODE_EXIT => {
            let message: &[u8] = match sig {
                libc::SIGINT => b"status-check: interrupted (SIGINT): stopping\n",
                libc::SIGHUP => b"status-check: hung up (SIGHUP): stopping\n",
                _ => b"status-check: terminated (SIGTERM, job cancelled or timed out): stopping\n",
            };
            // SAFETY: write(2) and _exit(2) are async-signal-safe.
            unsafe {
                libc::write(2, message.as_ptr().cast(), message.len());
                libc::_exit(128 + sig);
            }
        }
        MODE_CATCH => {
            let fd = PIPE_WRITE.load(Ordering::SeqCst);
            let byte = u8::try_from(sig).unwrap_or(0);
            // SAFETY: write(2) is async-signal-safe; the buffer is one live byte.
            unsafe {
                libc::write(fd, (&byte as *const u8).cast(), 1);
            }
        }
        _ => {}
    }
}

fn handled_set() -> io::Result<libc::sigset_t> {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        check(libc::sigemptyset(&mut set))?;
        for sig in HANDLED {
            check(libc::sigaddset(&mut set, sig))?;
        }
        Ok(set)
    }
}

fn set_mask(how: libc::c_int, set: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: `set` is an initialised sigset; the old mask is not wanted.
    match unsafe { libc::pthread_sigmask(how, set, std::ptr::null_mut()) } {
        0 => Ok(()),
        rc => Err(io::Error::from_raw_os_error(rc)),
    }
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
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
        assert_eq!(super::super::describe(libc::SIGKILL), "SIGKILL");
        assert_eq!(super::super::describe(200), "signal 200");
    }
}
