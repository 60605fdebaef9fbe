use super::super::der;
use super::super::testing::*;
use super::*;

/// Rewrites ring's PKCS #8 P-256 key as SEC 1 with its named curve, as openssl writes it.
fn sec1_pem(pkcs8_pem: &str) -> String {
    let pkcs8 = pem::parse(pkcs8_pem).expect("test fixture");
    let info = der::read_only(pkcs8.contents(), der::SEQUENCE).expect("test fixture");
    let inner = der::elements(info.content).expect("test fixture")[2];
    let ec = der::read_only(inner.content, der::SEQUENCE).expect("test fixture");
    let parts = der::elements(ec.content).expect("test fixture");
    let p256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let params = der::encode(der::CONTEXT_0, p256);
    let public = parts
        .iter()
        .find(|t| t.tag == 0xa1)
        .expect("test fixture")
        .whole;
    let sec1 = der::encode_parts(
        der::SEQUENCE,
        &[parts[0].whole, parts[1].whole, &params, public],
    );
    pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1))
}

#[test]
fn loads_pkcs8_and_sec1_keys() {
    let ca = long_ca();
    let sec1 = sec1_pem(&ca.key_pem);
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let loaded =
        CaKeyPair::from_pem(ca.cert_pem.as_bytes(), sec1.as_bytes()).expect("test fixture");
    assert_eq!(loaded.not_after(), ca.ca.not_after());
    assert_eq!(loaded.certificate_der(), ca.ca.certificate_der());
}

/// (name, certificate PEM, key PEM, expected error).
type LoadCase<'a> = (&'a str, &'a [u8], &'a [u8], fn(&CaError) -> bool);

#[test]
fn rejects_bad_ca_material() {
    let ca = long_ca();
    let other = long_ca();
    let cases: Vec<LoadCase> = vec![
        (
            "key of another CA",
            ca.cert_pem.as_bytes(),
            other.key_pem.as_bytes(),
            |e| *e == CaError::KeyMismatch,
        ),
        ("no certificate", b"", ca.key_pem.as_bytes(), |e| {
            *e == CaError::CertificatePem
        }),
        (
            "key where the certificate goes",
            ca.key_pem.as_bytes(),
            ca.key_pem.as_bytes(),
            |e| *e == CaError::CertificatePem,
        ),
        ("no key", ca.cert_pem.as_bytes(), b"", |e| {
            *e == CaError::KeyPem
        }),
        (
            "certificate where the key goes",
            ca.cert_pem.as_bytes(),
            ca.cert_pem.as_bytes(),
            |e| *e == CaError::KeyPem,
        ),
        (
            "garbage key",
            ca.cert_pem.as_bytes(),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            |e| matches!(e, CaError::Key(_)),
        ),
        (
            "garbage SEC 1 key",
            ca.cert_pem.as_bytes(),
            b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            |e| matches!(e, CaError::Key(_)),
        ),
        (
            "garbage RSA key",
            ca.cert_pem.as_bytes(),
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            |e| matches!(e, CaError::Key(_)),
        ),
    ];
    for (name, cert, key, check) in cases {
        let err = CaKeyPair::from_pem(cert, key).expect_err("should fail");
        assert!(check(&err), "{name}: {err:?}");
    }
}

#[test]
fn der_round_trip_and_bad_input() {
    for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
        let content = vec![7u8; len];
        let encoded = der::encode(der::OCTET_STRING, &content);
        let (tlv, rest) = der::read(&encoded).expect("test fixture");
        assert!(rest.is_empty());
        assert_eq!(tlv.content.len(), len);
        assert_eq!(tlv.whole, encoded.as_slice());
    }
    for bad in [
        &[][..],
        &[0x30],
        &[0x30, 0x05, 0x00],
        &[0x1f, 0x00],
        &[0x30, 0x80],
        &[0x30, 0x85, 1, 1, 1, 1, 1],
    ] {
        assert!(der::read(bad).is_err(), "{bad:?}");
    }
    assert!(der::read_only(&[0x04, 0x00, 0x00], der::OCTET_STRING).is_err());
    assert!(der::read_only(&[0x04, 0x00], der::SEQUENCE).is_err());
}

/// A 2048-bit RSA key in PKCS #1 form (`RSA PRIVATE KEY`, as kubeadm writes CA keys), made
/// with `openssl genrsa -traditional` for these tests only.
const RSA_PKCS1: &str = include_str!("testdata_rsa_key.pem");

#[test]
fn an_rsa_ca_with_a_pkcs1_key_signs_an_rsa_request() {
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::super::request::parse;
    use super::super::sign::{SignOutcome, SignerConfig, sign};

    let block = pem::parse(RSA_PKCS1).expect("test fixture");
    let key = KeyPair::try_from(pkcs8(RSA_ALGORITHM, block.contents())).expect("test fixture");
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_before = to_time(now() - hours(1));
    params.not_after = to_time(now() + hours(24 * 365));
    let cert_pem = params.self_signed(&key).expect("test fixture").pem();
    let ca = CaKeyPair::from_pem(cert_pem.as_bytes(), RSA_PKCS1.as_bytes()).expect("loads");

    let request = request_pem_with(node_client("system:node:r"), &key);
    let req = parse(request.as_bytes()).expect("an RSA request verifies");
    let csr = approved(csr(
        "kubernetes.io/kube-apiserver-client-kubelet",
        "system:node:r",
        &["digital signature", "key encipherment", "client auth"],
        &request,
    ));
    let Ok(SignOutcome::Issued { certificate_pem }) =
        sign(&csr, &req, &ca, SignerConfig::default(), now())
    else {
        panic!("expected a certificate");
    };
    let der = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes())
        .expect("PEM")
        .1
        .contents;
    let cert = X509Certificate::from_der(&der).expect("certificate").1;
    let ca_cert = X509Certificate::from_der(ca.certificate_der())
        .expect("CA")
        .1;
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signed by the CA");
    assert_eq!(cert.public_key().raw, req.raw_public_key.as_slice());
    assert_eq!(
        cert.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11"
    );
}
