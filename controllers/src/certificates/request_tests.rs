use std::net::IpAddr;

use super::super::testing::*;
use super::*;

#[test]
fn reads_subject_and_sans() {
    let pem = request_pem(Ask {
        cn: Some("system:node:n1"),
        orgs: &["system:nodes", "other"],
        dns: &["n1.example", "n1"],
        ips: &["10.0.0.1", "fd00::1"],
        emails: &["ops@example.com"],
        uris: &["spiffe://cluster/n1"],
    });
    let req = parse(pem.as_bytes()).expect("test fixture");
    assert_eq!(req.common_name, "system:node:n1");
    assert_eq!(req.organizations, ["system:nodes", "other"]);
    assert_eq!(req.dns_names, ["n1.example", "n1"]);
    let ips: Vec<IpAddr> = vec![
        "10.0.0.1".parse().expect("test fixture"),
        "fd00::1".parse().expect("test fixture"),
    ];
    assert_eq!(req.ip_addresses, ips);
    assert_eq!(req.email_addresses, ["ops@example.com"]);
    assert_eq!(req.uris, ["spiffe://cluster/n1"]);
    assert!(req.has_sans());
    assert!(!req.subject_is_empty);
    // The raw parts are whole DER elements (SEQUENCEs).
    assert_eq!(req.raw_subject[0], 0x30);
    assert_eq!(req.raw_public_key[0], 0x30);
}

#[test]
fn no_subject_and_no_sans() {
    let req = parse(request_pem(Ask::default()).as_bytes()).expect("test fixture");
    assert_eq!(req.common_name, "");
    assert!(req.organizations.is_empty());
    assert!(!req.has_sans());
    assert!(req.subject_is_empty);
}

#[test]
fn leading_text_before_the_pem_block_is_skipped() {
    let pem = format!(
        "some comment\n{}",
        request_pem(node_client("system:node:a"))
    );
    assert_eq!(
        parse(pem.as_bytes()).expect("test fixture").common_name,
        "system:node:a"
    );
}

/// (name, input, expected error).
type BadInput = (&'static str, Vec<u8>, fn(&RequestError) -> bool);

#[test]
fn rejects_what_is_not_a_signed_request() {
    let ca = long_ca();
    let good = request_pem(node_client("system:node:a"));
    let mut tampered = x509_parser::pem::parse_x509_pem(good.as_bytes())
        .expect("test fixture")
        .1
        .contents;
    // Change a byte of the subject: the signature no longer covers the content.
    let at = tampered
        .windows(b"system:node:a".len())
        .position(|w| w == b"system:node:a")
        .expect("test fixture");
    tampered[at + 12] = b'b';
    let cases: Vec<BadInput> = vec![
        ("empty", Vec::new(), |e| {
            *e == RequestError::NotCertificateRequestPem
        }),
        ("not pem", b"hello".to_vec(), |e| {
            *e == RequestError::NotCertificateRequestPem
        }),
        ("a certificate", ca.cert_pem.clone().into_bytes(), |e| {
            *e == RequestError::NotCertificateRequestPem
        }),
        (
            "garbage inside",
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                .to_vec(),
            |e| matches!(e, RequestError::Malformed(_)),
        ),
        (
            "bad signature",
            pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", tampered)).into_bytes(),
            |e| matches!(e, RequestError::Signature(_)),
        ),
    ];
    for (name, input, check) in cases {
        let err = parse(&input).expect_err("should fail");
        assert!(check(&err), "{name}: {err:?}");
    }
}

#[test]
fn der_with_trailing_bytes_is_malformed() {
    let pem = request_pem(node_client("system:node:a"));
    let mut der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .expect("test fixture")
        .1
        .contents;
    der.push(0);
    assert!(matches!(parse_der(&der), Err(RequestError::Malformed(_))));
}
