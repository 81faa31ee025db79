//! `FakeGitlab::start_tls`: the same fake over HTTPS, with a CA made here.

use fake_gitlab::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::sync::Arc;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// A CA certificate (PEM) and a server chain and key for 127.0.0.1 and localhost.
fn test_ca() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "fake-gitlab test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn agent(ca_pem: Option<&str>) -> ureq::Agent {
    let roots = match ca_pem {
        Some(pem) => {
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem.as_bytes())
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            RootCerts::Specific(Arc::new(certs))
        }
        None => RootCerts::WebPki,
    };
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into()
}

const LIST: &str = "/projects/42/merge_requests/7/status_checks";

#[test]
fn serves_https_to_a_client_that_trusts_the_ca() {
    let (ca, chain, key) = test_ca();
    let fg = FakeGitlab::start_tls(World::demo(), &chain, &key);
    assert_eq!(fg.base_url(), format!("https://127.0.0.1:{}", fg.port()));
    let a = agent(Some(&ca));
    for _ in 0..2 {
        let mut r = a
            .get(format!("{}{LIST}", fg.api_url()))
            .header("PRIVATE-TOKEN", DEV_TOKEN)
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body = r.body_mut().read_to_string().unwrap();
        assert!(body.starts_with('['), "{body}");
    }
    let log = fg.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].auth(), Auth::PrivateToken(DEV_TOKEN.into()));
}

#[test]
fn by_name_too() {
    let (ca, chain, key) = test_ca();
    let fg = FakeGitlab::start_tls(World::demo(), &chain, &key);
    let url = format!("https://localhost:{}/api/v4/version", fg.port());
    let r = agent(Some(&ca))
        .get(&url)
        .header("PRIVATE-TOKEN", DEV_TOKEN)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn an_untrusting_client_fails_the_handshake_and_nothing_is_logged() {
    let (_ca, chain, key) = test_ca();
    let fg = FakeGitlab::start_tls(World::demo(), &chain, &key);
    let err = agent(None)
        .get(format!("{}{LIST}", fg.api_url()))
        .header("PRIVATE-TOKEN", DEV_TOKEN)
        .call()
        .unwrap_err();
    assert!(
        format!("{err}").to_lowercase().contains("certificate")
            || format!("{err:?}").contains("UnknownIssuer"),
        "{err:?}"
    );
    assert!(fg.requests().is_empty());
}

#[test]
fn faults_work_over_tls() {
    let (ca, chain, key) = test_ca();
    let fg = FakeGitlab::start_tls(World::demo(), &chain, &key);
    fg.fault(Fault::new(FaultKind::HtmlError(502)));
    fg.fault(Fault::new(FaultKind::ResetMidBody));
    let a = agent(Some(&ca));
    let url = format!("{}{LIST}", fg.api_url());
    let r = a
        .get(&url)
        .header("PRIVATE-TOKEN", DEV_TOKEN)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    let mut r = a
        .get(&url)
        .header("PRIVATE-TOKEN", DEV_TOKEN)
        .call()
        .unwrap();
    assert!(r.body_mut().read_to_string().is_err(), "body cut short");
    assert_eq!(fg.requests().len(), 2);
}

#[test]
fn bad_certificate_or_key_is_an_error() {
    let (_ca, chain, key) = test_ca();
    assert!(FakeGitlab::start_tls_on(World::demo(), "127.0.0.1:0", "no pem", &key).is_err());
    assert!(FakeGitlab::start_tls_on(World::demo(), "127.0.0.1:0", &chain, "no pem").is_err());
}
