//! Parsing of `spec.request`: the PEM-encoded PKCS #10 request, reduced to what the approver's
//! and signers' checks and the issuing need. Mirrors upstream's `ParseCSR`
//! (`pkg/apis/certificates/helpers.go`) over Go's `x509.ParseCertificateRequest`, plus the
//! `CheckSignature` that upstream's `CertificateAuthority.Sign` and the API server's CSR
//! validation perform: a request whose signature does not verify is an error here.
//!
//! Differences from Go, on purpose: subject attribute values are read when they are
//! Printable, UTF8, IA5 or Numeric strings (Go also reads T61 and BMP strings); URI SANs are
//! kept as text without Go's URL and host checks; keys and signatures are limited to what
//! `ring` verifies (RSA, ECDSA P-256/P-384, Ed25519; not P-521 nor DSA).

use std::net::IpAddr;

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// The PEM label `ParseCSR` requires.
const PEM_LABEL: &str = "CERTIFICATE REQUEST";

/// Why `spec.request` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No PEM block, or one with another label (upstream's message, word for word).
    #[error("PEM block type must be CERTIFICATE REQUEST")]
    NotCertificateRequestPem,
    /// The DER inside is not a PKCS #10 request.
    #[error("malformed certificate request: {0}")]
    Malformed(String),
    /// A subject alternative name Go's parser would reject.
    #[error("malformed subject alternative name: {0}")]
    MalformedSan(String),
    /// The request is not signed by the key it carries, or with an algorithm we cannot check.
    #[error("unable to verify certificate request signature: {0}")]
    Signature(String),
}

/// What the checks and the issuing read from a certificate request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedRequest {
    /// The subject's common name; with several, the last one, as Go's `pkix.Name` keeps.
    pub common_name: String,
    /// The subject's organization values, in order (Kubernetes reads them as groups).
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub email_addresses: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    /// The subject `Name` as DER, copied into the issued certificate.
    pub raw_subject: Vec<u8>,
    /// Whether the subject has no attributes (the SAN extension is then critical).
    pub subject_is_empty: bool,
    /// The `SubjectPublicKeyInfo` as DER, copied into the issued certificate.
    pub raw_public_key: Vec<u8>,
}

impl ParsedRequest {
    /// Whether the request names any subject alternative name.
    pub fn has_sans(&self) -> bool {
        !(self.dns_names.is_empty()
            && self.email_addresses.is_empty()
            && self.ip_addresses.is_empty()
            && self.uris.is_empty())
    }
}

/// Parses and verifies `spec.request` (upstream `ParseCSR` followed by `CheckSignature`).
/// Only the first PEM block is read, as Go's `pem.Decode`.
pub fn parse(pem_bytes: &[u8]) -> Result<ParsedRequest, RequestError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_bytes)
        .map_err(|_| RequestError::NotCertificateRequestPem)?;
    if pem.label != PEM_LABEL {
        return Err(RequestError::NotCertificateRequestPem);
    }
    parse_der(&pem.contents)
}

/// Parses and verifies a DER-encoded PKCS #10 request.
pub fn parse_der(der: &[u8]) -> Result<ParsedRequest, RequestError> {
    let (rest, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| RequestError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(RequestError::Malformed("trailing data".into()));
    }
    csr.verify_signature()
        .map_err(|e| RequestError::Signature(e.to_string()))?;

    let info = &csr.certification_request_info;
    let subject = &info.subject;
    let mut parsed = ParsedRequest {
        common_name: last_string(subject.iter_common_name()).unwrap_or_default(),
        organizations: subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .map(str::to_string)
            .collect(),
        raw_subject: subject.as_raw().to_vec(),
        subject_is_empty: is_empty_name(subject),
        raw_public_key: info.subject_pki.raw.to_vec(),
        ..ParsedRequest::default()
    };
    if let Some(extensions) = csr.requested_extensions() {
        for extension in extensions {
            match extension {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        add_san(&mut parsed, name)?;
                    }
                }
                ParsedExtension::ParseError { error } => {
                    return Err(RequestError::Malformed(error.to_string()));
                }
                _ => {}
            }
        }
    }
    Ok(parsed)
}

fn last_string<'a, 'b: 'a>(
    values: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'b>>,
) -> Option<String> {
    values
        .filter_map(|a| a.as_str().ok())
        .last()
        .map(str::to_string)
}

fn is_empty_name(name: &X509Name<'_>) -> bool {
    name.iter().all(|rdn| rdn.iter().next().is_none())
}

/// Adds one general name as Go's `parseSANExtension` does: DNS names and emails must be
/// IA5 (ASCII), IP addresses 4 or 16 bytes; other name forms are ignored.
fn add_san(parsed: &mut ParsedRequest, name: &GeneralName<'_>) -> Result<(), RequestError> {
    let ia5 = |kind: &str, value: &str| {
        if value.is_ascii() {
            Ok(value.to_string())
        } else {
            Err(RequestError::MalformedSan(format!(
                "{kind} {value:?} is not IA5"
            )))
        }
    };
    match name {
        GeneralName::DNSName(v) => parsed.dns_names.push(ia5("dNSName", v)?),
        GeneralName::RFC822Name(v) => parsed.email_addresses.push(ia5("rfc822Name", v)?),
        GeneralName::URI(v) => parsed.uris.push(ia5("uniformResourceIdentifier", v)?),
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes).map(IpAddr::from).ok(),
                16 => <[u8; 16]>::try_from(*bytes).map(IpAddr::from).ok(),
                _ => None,
            };
            let ip = ip.ok_or_else(|| {
                RequestError::MalformedSan(format!("IP address of length {}", bytes.len()))
            })?;
            parsed.ip_addresses.push(ip);
        }
        GeneralName::Invalid(tag, _) => {
            return Err(RequestError::MalformedSan(format!(
                "invalid name with tag {tag}"
            )));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
