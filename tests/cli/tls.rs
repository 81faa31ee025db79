//! HTTPS: a fake GitLab with a certificate from a CA made here; the CA from
//! --ca-file, CI_SERVER_TLS_CA_FILE or SSL_CERT_FILE; and HTTPS_PROXY /
//! NO_PROXY through a small CONNECT proxy.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::support::*;

/// A CA, and a server certificate it signed for `names` (IPs or DNS names).
struct Pki {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "status-check test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = CertificateParams::new(names).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        chain_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn local() -> Pki {
    pki(&["127.0.0.1", "localhost"])
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn list() -> Test {
    Test::new().checks(&["scan"]).args(&["list"])
}

#[test]
fn without_the_ca_the_handshake_fails_with_exit_5_and_a_hint() {
    let pki = local();
    let run = list()
        .args(&["--retries", "1", "--retry-delay", "10ms"])
        .run_tls(&pki.chain_pem, &pki.key_pem);
    run.code(5)
        .stderr_has("GET /projects/42/merge_requests/7/status_checks failed: TLS failed")
        .stderr_has("--ca-file")
        .stderr_has("CI_SERVER_TLS_CA_FILE")
        .no_token_in_output();
    assert!(run.requests().is_empty(), "no request passed the handshake");
    assert_eq!(
        run.stderr.matches("status-check: error:").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn the_system_store_is_loaded_when_present() {
    // In the image the system bundle exists: then an unknown CA is a TLS
    // failure, not "no CA certificates".
    if !Path::new("/etc/ssl/certs/ca-certificates.crt").is_file() {
        return;
    }
    let pki = local();
    list()
        .run_tls(&pki.chain_pem, &pki.key_pem)
        .code(5)
        .stderr_has("TLS failed")
        .stderr_lacks("no CA certificates");
}

#[test]
fn the_ca_from_each_source_is_trusted() {
    let pki = local();
    for how in [
        "--ca-file",
        "STATUS_CHECK_CA_FILE",
        "CI_SERVER_TLS_CA_FILE",
        "SSL_CERT_FILE",
    ] {
        let mut test = list();
        let ca = write(&test.tempdir(), "ca.pem", &pki.ca_pem);
        let ca = ca.to_str().unwrap();
        test = match how {
            "--ca-file" => test.args(&["--ca-file", ca]),
            var => test.env(var, ca),
        };
        let run = test.run_tls(&pki.chain_pem, &pki.key_pem);
        run.code(0).stdout_has("scan").no_token_in_output();
        assert!(
            run.requests()[0]
                .header("host")
                .is_some_and(|h| h.starts_with("127.0.0.1:")),
            "{how}"
        );
    }
}

#[test]
fn every_command_works_over_tls() {
    let pki = local();
    let mut test = Test::new()
        .checks(&["scan"])
        .world(|w| w.set_status(42, 7, "scan", "passed"));
    let ca = write(&test.tempdir(), "ca.pem", &pki.ca_pem);
    test = test.env("CI_SERVER_TLS_CA_FILE", ca.to_str().unwrap());
    test.args(&["wait", "--interval", "50ms"])
        .run_tls(&pki.chain_pem, &pki.key_pem)
        .code(0)
        .stdout_has("all 1 checks passed");
    let mut test = Test::new().checks(&["scan"]);
    let ca = write(&test.tempdir(), "ca.pem", &pki.ca_pem);
    let run = test
        .env("CI_SERVER_TLS_CA_FILE", ca.to_str().unwrap())
        .args(&["run", "--name", "scan", "--", "true"])
        .run_tls(&pki.chain_pem, &pki.key_pem);
    run.code(0);
    assert_eq!(run.status_of("scan"), "passed");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let pki = pki(&["gitlab.example.com"]);
    let mut test = list();
    let ca = write(&test.tempdir(), "ca.pem", &pki.ca_pem);
    test.args(&["--ca-file", ca.to_str().unwrap()])
        .run_tls(&pki.chain_pem, &pki.key_pem)
        .code(5)
        .stderr_has("TLS failed");
}

#[test]
fn a_ca_file_without_a_certificate_is_exit_2() {
    let pki = local();
    for (name, text) in [
        ("empty.pem", String::new()),
        ("key-only.pem", pki.key_pem.clone()),
        (
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64\n".to_owned(),
        ),
    ] {
        let mut test = list();
        let ca = write(&test.tempdir(), name, &text);
        let run = test
            .env("CI_SERVER_TLS_CA_FILE", ca.to_str().unwrap())
            .run_tls(&pki.chain_pem, &pki.key_pem);
        run.code(2)
            .stderr_has("from CI_SERVER_TLS_CA_FILE holds no PEM certificate")
            .stderr_has("hint:");
        assert!(run.requests().is_empty(), "{name}");
    }
}

// ------------------------------------------------------------------ proxy

/// A CONNECT proxy on 127.0.0.1: records each CONNECT target and every byte
/// the client sent, and tunnels to the target.
struct Proxy {
    port: u16,
    connects: Arc<Mutex<Vec<String>>>,
    from_client: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let from_client = Arc::new(Mutex::new(Vec::new()));
        let (c, b) = (connects.clone(), from_client.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (c, b) = (c.clone(), b.clone());
                thread::spawn(move || tunnel(stream, &c, &b));
            }
        });
        Proxy {
            port,
            connects,
            from_client,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }

    fn saw(&self, needle: &str) -> bool {
        let bytes = self.from_client.lock().unwrap();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

fn tunnel(mut client: TcpStream, connects: &Mutex<Vec<String>>, seen: &Arc<Mutex<Vec<u8>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    seen.lock().unwrap().extend_from_slice(&head);
    let head = String::from_utf8_lossy(&head).into_owned();
    let first = head.lines().next().unwrap_or("").to_owned();
    connects.lock().unwrap().push(first.clone());
    let mut parts = first.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let seen = seen.clone();
    let up = thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = c_read.read(&mut buf) {
            if n == 0 || u_write.write_all(&buf[..n]).is_err() {
                break;
            }
            seen.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn with_ca(test: &mut Test, pki: &Pki) -> String {
    write(&test.tempdir(), "ca.pem", &pki.ca_pem)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn https_proxy_is_used_and_sees_only_ciphertext() {
    let pki = local();
    let proxy = Proxy::start();
    let mut test = Test::new().checks(&["scan"]);
    let ca = with_ca(&mut test, &pki);
    let run = test
        .env("CI_SERVER_TLS_CA_FILE", &ca)
        .env("HTTPS_PROXY", &proxy.url())
        .args(&["report", "passed", "--name", "scan"])
        .run_tls(&pki.chain_pem, &pki.key_pem);
    run.code(0);
    assert_eq!(run.status_of("scan"), "passed");
    let port = run.server.port();
    let connects = proxy.connects();
    assert!(!connects.is_empty(), "the proxy saw no request");
    assert!(
        connects
            .iter()
            .all(|c| c.starts_with(&format!("CONNECT 127.0.0.1:{port} "))),
        "{connects:?}"
    );
    for token in ALL_TOKENS {
        assert!(!proxy.saw(token), "the token crossed the proxy in clear");
    }
    assert!(
        !proxy.saw("PRIVATE-TOKEN"),
        "headers crossed the proxy in clear"
    );
}

#[test]
fn no_proxy_goes_direct() {
    let pki = local();
    for no_proxy in ["127.0.0.1", "localhost,127.0.0.1", "*"] {
        let proxy = Proxy::start();
        let mut test = list();
        let ca = with_ca(&mut test, &pki);
        test.env("CI_SERVER_TLS_CA_FILE", &ca)
            .env("HTTPS_PROXY", &proxy.url())
            .env("NO_PROXY", no_proxy)
            .run_tls(&pki.chain_pem, &pki.key_pem)
            .code(0);
        assert!(
            proxy.connects().is_empty(),
            "NO_PROXY={no_proxy}: {:?}",
            proxy.connects()
        );
    }
}

#[test]
fn a_proxy_that_is_down_is_exit_5_naming_the_proxy_variables() {
    let pki = local();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut test = list().args(&["--retries", "1", "--retry-delay", "10ms"]);
    let ca = with_ca(&mut test, &pki);
    let run = test
        .env("CI_SERVER_TLS_CA_FILE", &ca)
        .env("HTTPS_PROXY", &format!("http://127.0.0.1:{port}"))
        .run_tls(&pki.chain_pem, &pki.key_pem);
    run.code(5)
        .stderr_has("GET /projects/42/merge_requests/7/status_checks failed: could not connect")
        .stderr_has(&format!("through the proxy 127.0.0.1:{port}"))
        .stderr_has("HTTPS_PROXY");
    assert!(run.requests().is_empty());
}

#[test]
fn a_proxy_that_cannot_reach_gitlab_is_named_without_its_credentials() {
    let proxy = Proxy::start();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let run = list()
        .args(&["--retries", "1", "--retry-delay", "10ms"])
        .env("CI_API_V4_URL", &format!("https://127.0.0.1:{port}/api/v4"))
        .env(
            "HTTPS_PROXY",
            &format!("http://ci-user:pr0xy-s3cret@127.0.0.1:{}", proxy.port),
        )
        .run();
    run.code(5)
        .stderr_has("could not connect")
        .stderr_has(&format!("through the proxy 127.0.0.1:{}", proxy.port))
        .stderr_lacks("pr0xy-s3cret")
        .no_token_in_output();
    assert_eq!(proxy.connects().len(), 2, "tried, then retried once");
}
