//! Which certificates status-check trusts when it talks to GitLab over https: the
//! system store (`SSL_CERT_FILE`, else `platform::roots`) plus the CA file the
//! user or the job names (`--ca-file`, `CI_SERVER_TLS_CA_FILE`).
//!
//! No built-in Mozilla list: it would add ~250 KiB to every job's image, and a job's
//! image has a system store or a CA file.

use std::path::Path;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::Error;
use crate::platform::roots::{self, Store};
use crate::user_file;

/// The certificates to trust. `ca_file` (a path and where it came from) is read
/// even for an http URL, since a broken one is a mistake; the system store only
/// for https.
pub(crate) fn roots(
    https: bool,
    ca_file: Option<(&Path, &str)>,
    ssl_cert_file: Option<&str>,
) -> Result<Vec<Certificate<'static>>, Error> {
    let mut certs = Vec::new();
    if let Some((path, source)) = ca_file {
        certs = load_pem_certs(path, source)?;
    }
    if !https {
        return Ok(certs);
    }
    if let Some(path) = ssl_cert_file {
        // Named explicitly: a broken bundle is an error, not a fallback.
        certs.append(&mut load_pem_certs(Path::new(path), "SSL_CERT_FILE")?);
    } else {
        certs.append(&mut system_certs());
    }
    if certs.is_empty() {
        return Err(Error::usage(
            "no CA certificates to verify the GitLab server: no system bundle was found and no CA file was given",
        )
        .hint("install the ca-certificates package, point SSL_CERT_FILE at a PEM bundle, or pass --ca-file (CI_SERVER_TLS_CA_FILE is used automatically in jobs)"));
    }
    Ok(certs)
}

/// The agent's TLS settings: trust exactly `certs` (empty, and unused, for http).
pub(crate) fn config(certs: Vec<Certificate<'static>>) -> TlsConfig {
    TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(certs)))
        .build()
}

/// The system's certificates (`platform::roots`); none when it has no readable store.
fn system_certs() -> Vec<Certificate<'static>> {
    match roots::system() {
        #[cfg(unix)]
        Some(Store::Bundle(path)) => load_pem_certs(&path, "the system store").unwrap_or_default(),
        #[cfg(windows)]
        Some(Store::Der(list)) => list
            .iter()
            .map(|der| Certificate::from_der(der).to_owned())
            .collect(),
        None => Vec::new(),
    }
}

/// Reads every certificate of a PEM file; an unreadable file or one with no
/// certificate is a configuration error naming `source`.
pub(crate) fn load_pem_certs(
    path: &Path,
    source: &str,
) -> Result<Vec<Certificate<'static>>, Error> {
    let bytes = user_file::read(
        path,
        "the CA file",
        &format!("from {source}"),
        "give a readable PEM bundle with --ca-file, or unset it",
        |path| std::fs::read(path),
    )?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&bytes)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "the CA file {} from {source} holds no PEM certificate",
            path.display()
        ))
        .hint("the file must contain one or more -----BEGIN CERTIFICATE----- blocks"));
    }
    Ok(certs)
}
