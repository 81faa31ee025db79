//! The system's trusted CA certificates, for https to GitLab.
//!
//! - Unix: a PEM bundle at the usual place of Debian and Alpine, macOS and the BSDs
//!   (`/etc/ssl/cert.pem`, the system's roots; certificates added to a macOS keychain
//!   are not in it), or Red Hat.
//! - Windows: the certificates of the local machine's and the user's `ROOT` stores.

#[cfg(unix)]
use std::path::PathBuf;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::system;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::system;

/// Where the system keeps its trusted certificates.
pub(crate) enum Store {
    /// A PEM file.
    #[cfg(unix)]
    Bundle(PathBuf),
    /// The certificates themselves, DER-encoded.
    #[cfg(windows)]
    Der(Vec<Vec<u8>>),
}
