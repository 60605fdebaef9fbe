use k8s_openapi::ByteString;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::super::conditions::LEGACY_UNKNOWN_SIGNER;
use super::super::testing::*;
use super::*;

const KUBELET: &str = KUBE_APISERVER_CLIENT_KUBELET_SIGNER;
const CLIENT: &str = KUBE_APISERVER_CLIENT_SIGNER;
const SERVING: &str = KUBELET_SERVING_SIGNER;
const CLIENT_USAGES: &[&str] = &["digital signature", "key encipherment", "client auth"];
const SERVING_USAGES: &[&str] = &["digital signature", "key encipherment", "server auth"];
const YEAR: i64 = 24 * 365;

/// Signs an approved CSR built from the arguments.
fn sign_approved(
    ca: &TestCa,
    signer: &str,
    usages: &[&str],
    ask: Ask<'_>,
) -> (Result<SignOutcome, SignError>, String) {
    let pem = request_pem(ask);
    let csr = approved(csr(signer, "someone", usages, &pem));
    let req = parse(pem.as_bytes()).expect("test fixture");
    (
        sign(&csr, &req, &ca.ca, SignerConfig::default(), now()),
        pem,
    )
}

fn issued_der(outcome: Result<SignOutcome, SignError>) -> Vec<u8> {
    match outcome {
        Ok(SignOutcome::Issued { certificate_pem }) => {
            let (_, pem) =
                x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).expect("test fixture");
            assert_eq!(pem.label, "CERTIFICATE");
            pem.contents
        }
        other => panic!("expected a certificate, got {other:?}"),
    }
}

fn ca_cert(ca: &TestCa) -> X509Certificate<'_> {
    X509Certificate::from_der(ca.ca.certificate_der())
        .expect("test fixture")
        .1
}

fn strings<'a>(
    it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Vec<&'a str> {
    it.map(|a| a.as_str().expect("test fixture")).collect()
}

#[test]
fn issues_a_kubelet_client_certificate() {
    let ca = long_ca();
    let (outcome, request) =
        sign_approved(&ca, KUBELET, CLIENT_USAGES, node_client("system:node:a"));
    let der = issued_der(outcome);
    let (rest, cert) = X509Certificate::from_der(&der).expect("test fixture");
    assert!(rest.is_empty());
    let ca_cert = ca_cert(&ca);

    // Chains to the CA: issued by its subject, signed by its key, pointing at its key id.
    assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("test fixture");
    let ca_key_id = ca_cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0),
            _ => None,
        });
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        });
    assert!(ca_key_id.is_some());
    assert_eq!(aki, ca_key_id);

    // The request's subject and key.
    let req = parse(request.as_bytes()).expect("test fixture");
    assert_eq!(cert.subject().as_raw(), req.raw_subject.as_slice());
    assert_eq!(
        strings(cert.subject().iter_common_name()),
        ["system:node:a"]
    );
    assert_eq!(
        strings(cert.subject().iter_organization()),
        ["system:nodes"]
    );
    assert_eq!(cert.public_key().raw, req.raw_public_key.as_slice());

    // Usages, a leaf, no SANs, no key identifier of its own.
    let ku = cert
        .key_usage()
        .expect("test fixture")
        .expect("test fixture");
    assert!(ku.critical);
    assert!(ku.value.digital_signature() && ku.value.key_encipherment());
    assert!(!ku.value.key_cert_sign());
    let eku = cert
        .extended_key_usage()
        .expect("test fixture")
        .expect("test fixture")
        .value;
    assert!(eku.client_auth && !eku.server_auth && !eku.any && eku.other.is_empty());
    let bc = cert
        .basic_constraints()
        .expect("test fixture")
        .expect("test fixture");
    assert!(bc.critical && !bc.value.ca);
    assert!(
        cert.subject_alternative_name()
            .expect("test fixture")
            .is_none()
    );
    assert!(!cert.extensions().iter().any(|e| matches!(
        e.parsed_extension(),
        ParsedExtension::SubjectKeyIdentifier(_)
    )));

    // Backdated by five minutes; a year long.
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    assert_eq!(not_before, NOW - 300);
    assert_eq!(not_after, NOW - 300 + YEAR * 3600);

    // A random positive serial of 128 bits.
    assert!(cert.raw_serial().len() <= 17 && cert.raw_serial().len() >= 8);
}

#[test]
fn serials_differ() {
    let ca = long_ca();
    let serial = |_| {
        let der =
            issued_der(sign_approved(&ca, KUBELET, CLIENT_USAGES, node_client("system:node:a")).0);
        X509Certificate::from_der(&der)
            .expect("test fixture")
            .1
            .raw_serial()
            .to_vec()
    };
    assert_ne!(serial(0), serial(1));
}

#[test]
fn issues_a_kubelet_serving_certificate_with_its_sans() {
    let ca = long_ca();
    let ask = Ask {
        dns: &["a.example", "a"],
        ips: &["10.0.0.7", "fd00::7"],
        ..node_client("system:node:a")
    };
    let der = issued_der(sign_approved(&ca, SERVING, &["digital signature", "server auth"], ask).0);
    let cert = X509Certificate::from_der(&der).expect("test fixture").1;
    let san = cert
        .subject_alternative_name()
        .expect("test fixture")
        .expect("test fixture");
    assert!(!san.critical);
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(b) => format!("ip{}", b.len()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["a.example", "a", "ip4", "ip16"]);
    let eku = cert
        .extended_key_usage()
        .expect("test fixture")
        .expect("test fixture")
        .value;
    assert!(eku.server_auth && !eku.client_auth);
    let ku = cert
        .key_usage()
        .expect("test fixture")
        .expect("test fixture")
        .value;
    assert!(ku.digital_signature() && !ku.key_encipherment());
}

#[test]
fn client_certificates_keep_every_group_and_san() {
    let ca = long_ca();
    let ask = Ask {
        cn: Some("jane"),
        orgs: &["dev", "ops"],
        emails: &["jane@example.com"],
        uris: &["spiffe://cluster/jane"],
        ..Ask::default()
    };
    let der = issued_der(sign_approved(&ca, CLIENT, &["client auth"], ask).0);
    let cert = X509Certificate::from_der(&der).expect("test fixture").1;
    assert_eq!(strings(cert.subject().iter_organization()), ["dev", "ops"]);
    assert_eq!(strings(cert.subject().iter_common_name()), ["jane"]);
    let san = cert
        .subject_alternative_name()
        .expect("test fixture")
        .expect("test fixture");
    assert_eq!(san.value.general_names.len(), 2);
    // Only client auth was asked: no key usage extension at all, as Go with no key usages.
    assert!(cert.key_usage().expect("test fixture").is_none());
}

#[test]
fn an_empty_subject_makes_the_san_critical() {
    let ca = long_ca();
    let ask = Ask {
        uris: &["spiffe://cluster/workload"],
        ..Ask::default()
    };
    let der = issued_der(sign_approved(&ca, CLIENT, &["client auth"], ask).0);
    let cert = X509Certificate::from_der(&der).expect("test fixture").1;
    assert!(cert.subject().iter().next().is_none());
    assert!(
        cert.subject_alternative_name()
            .expect("test fixture")
            .expect("test fixture")
            .critical
    );
}

/// The checks themselves are tabled in `validation_tests.rs`; here, how a refusal comes out.
#[test]
fn requests_that_do_not_fit_their_signer_fail() {
    let ca = long_ca();
    let cases: Vec<(&str, &[&str], Ask, &str)> = vec![
        (
            KUBELET,
            SERVING_USAGES,
            node_client("system:node:a"),
            "usages did not match [client auth digital signature key encipherment]",
        ),
        (
            SERVING,
            SERVING_USAGES,
            node_client("system:node:a"),
            "DNS or IP subjectAltName is required",
        ),
        (
            CLIENT,
            &["client auth", "server auth"],
            node_client("system:node:a"),
            "invalid usage for client certificate: server auth",
        ),
    ];
    for (signer, usages, ask, message) in cases {
        assert_eq!(
            sign_approved(&ca, signer, usages, ask).0,
            Ok(SignOutcome::Failed {
                reason: "SignerValidationFailure".into(),
                message: message.into()
            }),
            "{signer}"
        );
    }
}

#[test]
fn only_approved_undecided_requests_for_our_signers() {
    let ca = long_ca();
    let pem = request_pem(node_client("system:node:a"));
    let req = parse(pem.as_bytes()).expect("test fixture");
    let base = || csr(KUBELET, "system:node:a", CLIENT_USAGES, &pem);
    let cases = [
        ("pending", base(), false),
        ("approved", approved(base()), true),
        (
            "approved and denied",
            with_condition(approved(base()), "Denied", "True", None),
            false,
        ),
        (
            "approved and failed",
            with_condition(approved(base()), "Failed", "True", None),
            false,
        ),
        (
            "failed with empty status",
            with_condition(approved(base()), "Failed", "", None),
            false,
        ),
        (
            "failed condition False",
            with_condition(approved(base()), "Failed", "False", None),
            true,
        ),
        (
            "already issued",
            with_certificate(approved(base()), "cert"),
            false,
        ),
        (
            "legacy-unknown",
            approved(csr(LEGACY_UNKNOWN_SIGNER, "u", CLIENT_USAGES, &pem)),
            false,
        ),
        (
            "another signer",
            approved(csr("example.com/signer", "u", CLIENT_USAGES, &pem)),
            false,
        ),
    ];
    for (name, csr, signs) in cases {
        assert_eq!(is_candidate(&csr), signs, "{name}");
        let outcome =
            sign(&csr, &req, &ca.ca, SignerConfig::default(), now()).expect("test fixture");
        assert_eq!(
            matches!(outcome, SignOutcome::Issued { .. }),
            signs,
            "{name}"
        );
        if !signs {
            assert_eq!(outcome, SignOutcome::Skip, "{name}");
        }
    }
}

#[test]
fn decide_signing_parses_only_what_it_would_sign() {
    let ca = long_ca();
    let mut garbage = csr(KUBELET, "u", CLIENT_USAGES, "");
    garbage.spec.request = ByteString(b"junk".to_vec());
    let cfg = SignerConfig::default();
    assert_eq!(
        decide_signing(&garbage, &ca.ca, cfg, now()),
        Ok(SignOutcome::Skip)
    );
    assert_eq!(
        decide_signing(&approved(garbage), &ca.ca, cfg, now()),
        Err(SignError::Request(RequestError::NotCertificateRequestPem))
    );
    let pem = request_pem(node_client("system:node:a"));
    let good = approved(csr(KUBELET, "u", CLIENT_USAGES, &pem));
    assert!(matches!(
        decide_signing(&good, &ca.ca, cfg, now()),
        Ok(SignOutcome::Issued { .. })
    ));
}

#[test]
fn short_certificates_and_the_ca_end() {
    let ca = test_ca(now() + hours(2));
    let pem = request_pem(node_client("system:node:a"));
    let mut c = approved(csr(KUBELET, "u", CLIENT_USAGES, &pem));
    c.spec.expiration_seconds = Some(900);
    let der = issued_der(decide_signing(&c, &ca.ca, SignerConfig::default(), now()));
    let cert = X509Certificate::from_der(&der).expect("test fixture").1;
    assert_eq!(cert.validity().not_after.timestamp(), NOW + 900);
    c.spec.expiration_seconds = None;
    let der = issued_der(decide_signing(&c, &ca.ca, SignerConfig::default(), now()));
    let cert = X509Certificate::from_der(&der).expect("test fixture").1;
    assert_eq!(
        cert.validity().not_after.timestamp(),
        ca.ca.not_after().as_second()
    );

    let expired = test_ca(now() - hours(1));
    assert_eq!(
        decide_signing(&c, &expired.ca, SignerConfig::default(), now()),
        Err(SignError::SignerExpired(expired.ca.not_after()))
    );
}
