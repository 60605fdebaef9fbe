//! Test helpers: a CA, PKCS #10 requests and CSR objects, all built with rcgen.

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec,
    CertificateSigningRequestStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

use super::authority::CaKeyPair;

/// A fixed "now": 2025-06-15T15:06:40Z.
pub(crate) const NOW: i64 = 1_750_000_000;

pub(crate) fn now() -> Timestamp {
    Timestamp::from_second(NOW).expect("test fixture")
}

pub(crate) fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// A CA made for the test, with the PEM it was loaded from.
pub(crate) struct TestCa {
    pub ca: CaKeyPair,
    pub cert_pem: String,
    pub key_pem: String,
    pub key: KeyPair,
}

/// A P-256 CA with a subject key identifier, valid from a day ago until `not_after`.
pub(crate) fn test_ca(not_after: Timestamp) -> TestCa {
    let key = KeyPair::generate().expect("test fixture");
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "ultrak8s");
    name.push(DnType::CommonName, "test-ca");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = to_time(now() - hours(24));
    params.not_after = to_time(not_after);
    let cert_pem = params.self_signed(&key).expect("test fixture").pem();
    let key_pem = key.serialize_pem();
    let ca = CaKeyPair::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).expect("test fixture");
    TestCa {
        ca,
        cert_pem,
        key_pem,
        key,
    }
}

/// A CA valid for ten years from [`NOW`].
pub(crate) fn long_ca() -> TestCa {
    test_ca(now() + hours(24 * 3650))
}

pub(crate) fn to_time(t: Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.as_second()).expect("test fixture")
}

/// What a test request asks for.
#[derive(Default, Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub cn: Option<&'a str>,
    /// At most two: rcgen keeps one value per attribute type, so the second is written under
    /// a custom type with the same OID.
    pub orgs: &'a [&'a str],
    pub dns: &'a [&'a str],
    pub ips: &'a [&'a str],
    pub emails: &'a [&'a str],
    pub uris: &'a [&'a str],
}

/// The subject of a kubelet client certificate for `node`.
pub(crate) fn node_client(node: &'static str) -> Ask<'static> {
    Ask {
        cn: Some(node),
        orgs: &["system:nodes"],
        ..Ask::default()
    }
}

/// A PEM request for `ask`, signed with a fresh P-256 key.
pub(crate) fn request_pem(ask: Ask<'_>) -> String {
    let key = KeyPair::generate().expect("test fixture");
    request_pem_with(ask, &key)
}

pub(crate) fn request_pem_with(ask: Ask<'_>, key: &KeyPair) -> String {
    let mut name = DistinguishedName::new();
    assert!(ask.orgs.len() <= 2, "rcgen writes at most two O values");
    if let Some(first) = ask.orgs.first() {
        name.push(DnType::OrganizationName, *first);
    }
    if let Some(second) = ask.orgs.get(1) {
        name.push(DnType::CustomDnType(vec![2, 5, 4, 10]), *second);
    }
    if let Some(cn) = ask.cn {
        name.push(DnType::CommonName, cn);
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    for d in ask.dns {
        params
            .subject_alt_names
            .push(SanType::DnsName((*d).try_into().expect("test fixture")));
    }
    for e in ask.emails {
        params
            .subject_alt_names
            .push(SanType::Rfc822Name((*e).try_into().expect("test fixture")));
    }
    for ip in ask.ips {
        params
            .subject_alt_names
            .push(SanType::IpAddress(ip.parse().expect("test fixture")));
    }
    for u in ask.uris {
        params
            .subject_alt_names
            .push(SanType::URI((*u).try_into().expect("test fixture")));
    }
    params
        .serialize_request(key)
        .expect("test fixture")
        .pem()
        .expect("test fixture")
}

/// A CSR object without status.
pub(crate) fn csr(
    signer: &str,
    username: &str,
    usages: &[&str],
    request: &str,
) -> CertificateSigningRequest {
    CertificateSigningRequest {
        metadata: ObjectMeta {
            name: Some("csr-1".into()),
            creation_timestamp: Some(Time(now() - hours(1))),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            signer_name: signer.into(),
            username: Some(username.into()),
            uid: Some("uid-1".into()),
            groups: Some(vec!["system:authenticated".into()]),
            usages: Some(usages.iter().map(|u| u.to_string()).collect()),
            request: ByteString(request.as_bytes().to_vec()),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    }
}

/// `csr` with one more condition.
pub(crate) fn with_condition(
    mut csr: CertificateSigningRequest,
    type_: &str,
    status: &str,
    updated: Option<Timestamp>,
) -> CertificateSigningRequest {
    let status_ = csr
        .status
        .get_or_insert_with(CertificateSigningRequestStatus::default);
    status_
        .conditions
        .get_or_insert_with(Vec::new)
        .push(CertificateSigningRequestCondition {
            type_: type_.into(),
            status: status.into(),
            last_update_time: updated.map(Time),
            ..CertificateSigningRequestCondition::default()
        });
    csr
}

/// `csr` approved (at `now`).
pub(crate) fn approved(csr: CertificateSigningRequest) -> CertificateSigningRequest {
    with_condition(csr, "Approved", "True", Some(now()))
}

/// `csr` with `status.certificate` set.
pub(crate) fn with_certificate(
    mut csr: CertificateSigningRequest,
    pem: &str,
) -> CertificateSigningRequest {
    csr.status
        .get_or_insert_with(CertificateSigningRequestStatus::default)
        .certificate = Some(ByteString(pem.as_bytes().to_vec()));
    csr
}
