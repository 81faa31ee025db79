//! SIGINT, SIGTERM and SIGHUP: what GitLab sends when a job is cancelled or
//! times out.
//!
//! The handler does only async-signal-safe work: it records the signal and
//! then either exits at once (`wait`: nothing to clean up) or forwards the
//! signal to a child's process group (`run`: the child decides, and the
//! check is then reported failed).

use std::sync::atomic::{AtomicI32, Ordering};

const MODE_NONE: i32 = 0;
const MODE_EXIT: i32 = 1;
const MODE_FORWARD: i32 = 2;

static MODE: AtomicI32 = AtomicI32::new(MODE_NONE);
static TARGET_GROUP: AtomicI32 = AtomicI32::new(0);
static RECEIVED: AtomicI32 = AtomicI32::new(0);

pub const HANDLED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// On a termination signal: print one line and exit with 128 + signal.
pub fn exit_on_termination() {
    MODE.store(MODE_EXIT, Ordering::SeqCst);
    install();
}

/// On a termination signal: send it on to process group `pgid`.
pub fn forward_to_group(pgid: i32) {
    TARGET_GROUP.store(pgid, Ordering::SeqCst);
    MODE.store(MODE_FORWARD, Ordering::SeqCst);
    install();
}

/// The last termination signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

pub fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGKILL => "SIGKILL",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGPIPE => "SIGPIPE",
        _ => "a signal",
    }
}

fn install() {
    for sig in HANDLED {
        // SAFETY: installs a handler that only touches atomics and calls
        // async-signal-safe functions (write, kill, _exit).
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
    RECEIVED.store(sig, Ordering::SeqCst);
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
        MODE_FORWARD => {
            let group = TARGET_GROUP.load(Ordering::SeqCst);
            if group > 0 {
                // SAFETY: kill(2) is async-signal-safe.
                unsafe {
                    libc::kill(-group, sig);
                }
            }
        }
        _ => {}
    }
}
