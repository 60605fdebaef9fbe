//! The signing CA and the issuing of one certificate. Mirrors upstream's
//! `pkg/controller/certificates/authority/authority.go` (`CertificateAuthority.Sign`: a random
//! 128-bit serial, the request's subject, SANs and key, signed by the CA) and the template
//! parts of `PermissiveSigningPolicy.apply` in `policies.go` (usages, no extensions from the
//! request, basic constraints valid with CA false). The validity period is decided by the
//! caller (`sign.rs`).
//!
//! rcgen writes the certificate; then the issuer, subject and public key are replaced by the
//! CA's and the request's own DER and the certificate is signed again. This keeps every
//! subject attribute (rcgen holds one value per type; groups are repeated `O` values) and any
//! key type the request was verified with. Go instead re-encodes the subject from its parsed
//! fields, dropping attribute types `pkix.Name` does not know and putting the known ones in
//! its fixed order; the CN and O values Kubernetes reads are the same either way.
//!
//! The CA key must be PKCS #8 (`PRIVATE KEY`), PKCS #1 RSA (`RSA PRIVATE KEY`) or SEC 1
//! (`EC PRIVATE KEY`, P-256 or P-384) PEM; the last two are rewrapped as PKCS #8 for `ring`.

use k8s_openapi::jiff::Timestamp;
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
    SigningKey,
};
use ring::rand::{SecureRandom, SystemRandom};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der;
use super::request::ParsedRequest;

/// `rsaEncryption` with its NULL parameters, as a PKCS #8 algorithm identifier.
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// The `id-ecPublicKey` OID, encoded.
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `basicConstraints` (2.5.29.19).
const BASIC_CONSTRAINTS_OID: &[u64] = &[2, 5, 29, 19];
/// Basic constraints with `cA` false: an empty SEQUENCE, as Go writes for a leaf.
const NOT_A_CA: &[u8] = &[0x30, 0x00];

/// Why the CA cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    #[error("CA certificate is not a PEM CERTIFICATE")]
    CertificatePem,
    #[error("CA certificate: {0}")]
    Certificate(String),
    #[error("CA key is not a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY")]
    KeyPem,
    #[error("CA key: {0}")]
    Key(String),
    #[error("CA key does not match the CA certificate")]
    KeyMismatch,
}

/// Why issuing failed (upstream returns these as errors, and the CSR is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("unable to generate a serial number")]
    Random,
    #[error("failed to sign certificate: {0}")]
    Sign(String),
    #[error("subject alternative name {0:?} cannot be encoded")]
    San(String),
}

/// A CA certificate and its private key, loaded once.
pub struct CaKeyPair {
    key: KeyPair,
    cert_der: Vec<u8>,
    raw_subject: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
    not_after: Timestamp,
}

impl std::fmt::Debug for CaKeyPair {
    /// Leaves the key out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaKeyPair")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CaKeyPair {
    /// Loads the CA from PEM, checking that the key belongs to the certificate (as Go's
    /// `tls.X509KeyPair` does for upstream's `caProvider`).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, CaError> {
        let (_, cert_pem) =
            x509_parser::pem::parse_x509_pem(cert_pem).map_err(|_| CaError::CertificatePem)?;
        if cert_pem.label != "CERTIFICATE" {
            return Err(CaError::CertificatePem);
        }
        let cert_der = cert_pem.contents;
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        let key = load_key(key_pem)?;
        if cert.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
            return Err(CaError::KeyMismatch);
        }
        let subject_key_id = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(id.0.to_vec())
                }
                _ => None,
            });
        let not_after = Timestamp::from_second(cert.validity().not_after.timestamp())
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        let raw_subject = cert.subject().as_raw().to_vec();
        Ok(Self {
            key,
            raw_subject,
            subject_key_id,
            not_after,
            cert_der,
        })
    }

    /// The CA certificate's `NotAfter`; no certificate it issues outlives it.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// The CA certificate as DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Issues a certificate for `request`; returns it as PEM.
    pub(crate) fn issue(&self, template: &Template<'_>) -> Result<String, IssueError> {
        let mut serial = [0u8; 16];
        SystemRandom::new()
            .fill(&mut serial)
            .map_err(|_| IssueError::Random)?;

        let mut params = CertificateParams::default();
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.not_before = offset_date_time(template.not_before);
        params.not_after = offset_date_time(template.not_after);
        // The subject is replaced below; only its emptiness matters to rcgen, which marks the
        // SAN extension critical for an empty subject, as Go does.
        params.distinguished_name = placeholder_name(!template.request.subject_is_empty);
        params.subject_alt_names = subject_alt_names(template.request)?;
        params.key_usages = template.key_usages.clone();
        params.extended_key_usages = template.extended_key_usages.clone();
        params.is_ca = IsCa::NoCa;
        let mut basic_constraints =
            CustomExtension::from_oid_content(BASIC_CONSTRAINTS_OID, NOT_A_CA.to_vec());
        basic_constraints.set_criticality(true);
        params.custom_extensions = vec![basic_constraints];
        // Go copies the parent's subject key identifier into the authority key identifier.
        params.use_authority_key_identifier_extension = self.subject_key_id.is_some();

        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = placeholder_name(true);
        issuer_params.key_identifier_method =
            KeyIdMethod::PreSpecified(self.subject_key_id.clone().unwrap_or_default());
        let issuer = Issuer::new(issuer_params, &self.key);

        let drafted = params
            .signed_by(&self.key, &issuer)
            .map_err(|e| IssueError::Sign(e.to_string()))?;
        let der = self
            .resign(drafted.der(), template.request)
            .map_err(|e| IssueError::Sign(e.to_string()))?;
        let pem = pem::Pem::new("CERTIFICATE", der);
        Ok(pem::encode_config(
            &pem,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ))
    }

    /// Puts the CA's subject as issuer, and the request's subject and key, into the drafted
    /// certificate and signs the result.
    fn resign(&self, drafted: &[u8], request: &ParsedRequest) -> Result<Vec<u8>, IssueFailure> {
        let cert = der::read_only(drafted, der::SEQUENCE)?;
        let [tbs, algorithm, _signature] = der::elements(cert.content)?[..] else {
            return Err(IssueFailure::Shape);
        };
        let mut fields: Vec<&[u8]> = der::elements(tbs.content)?
            .iter()
            .map(|t| t.whole)
            .collect();
        // version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
        if fields.len() < 7 {
            return Err(IssueFailure::Shape);
        }
        fields[3] = &self.raw_subject;
        fields[5] = &request.raw_subject;
        fields[6] = &request.raw_public_key;
        let tbs = der::encode_parts(der::SEQUENCE, &fields);
        let signature = self
            .key
            .sign(&tbs)
            .map_err(|e| IssueFailure::Sign(e.to_string()))?;
        let signature = der::encode_parts(der::BIT_STRING, &[&[0], &signature]);
        Ok(der::encode_parts(
            der::SEQUENCE,
            &[&tbs, algorithm.whole, &signature],
        ))
    }
}

#[derive(Debug, thiserror::Error)]
enum IssueFailure {
    #[error(transparent)]
    Der(#[from] der::DerError),
    #[error("unexpected certificate layout")]
    Shape,
    #[error("{0}")]
    Sign(String),
}

/// What goes into one certificate besides the CA.
pub(crate) struct Template<'a> {
    pub request: &'a ParsedRequest,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub key_usages: Vec<KeyUsagePurpose>,
    pub extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
}

fn offset_date_time(t: Timestamp) -> time::OffsetDateTime {
    // Whole seconds, as X.509 times carry; jiff's range lies within time's.
    time::OffsetDateTime::from_unix_timestamp(t.as_second())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn placeholder_name(non_empty: bool) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if non_empty {
        name.push(DnType::CommonName, "placeholder");
    }
    name
}

/// The SANs in the order Go's `marshalSANs` writes them: DNS, email, IP, URI.
fn subject_alt_names(req: &ParsedRequest) -> Result<Vec<SanType>, IssueError> {
    let ia5 = |s: &String| s.clone().try_into().map_err(|_| IssueError::San(s.clone()));
    let mut sans = Vec::new();
    for name in &req.dns_names {
        sans.push(SanType::DnsName(ia5(name)?));
    }
    for email in &req.email_addresses {
        sans.push(SanType::Rfc822Name(ia5(email)?));
    }
    sans.extend(req.ip_addresses.iter().copied().map(SanType::IpAddress));
    for uri in &req.uris {
        sans.push(SanType::URI(ia5(uri)?));
    }
    Ok(sans)
}

/// Loads a private key, rewrapping PKCS #1 and SEC 1 keys as PKCS #8.
fn load_key(key_pem: &[u8]) -> Result<KeyPair, CaError> {
    let text = std::str::from_utf8(key_pem).map_err(|_| CaError::KeyPem)?;
    let block = pem::parse(text).map_err(|_| CaError::KeyPem)?;
    let pkcs8 = match block.tag() {
        "PRIVATE KEY" => block.contents().to_vec(),
        "RSA PRIVATE KEY" => pkcs8(RSA_ALGORITHM, block.contents()),
        "EC PRIVATE KEY" => {
            let curve = sec1_curve(block.contents()).map_err(|e| CaError::Key(e.to_string()))?;
            let algorithm = der::encode_parts(der::SEQUENCE, &[EC_PUBLIC_KEY_OID, curve]);
            pkcs8(&algorithm, block.contents())
        }
        _ => return Err(CaError::KeyPem),
    };
    KeyPair::try_from(pkcs8).map_err(|e| CaError::Key(e.to_string()))
}

/// `PrivateKeyInfo ::= SEQUENCE { version 0, algorithm, privateKey OCTET STRING }`.
fn pkcs8(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let version = der::encode(der::INTEGER, &[0]);
    let key = der::encode(der::OCTET_STRING, key);
    der::encode_parts(der::SEQUENCE, &[&version, algorithm, &key])
}

/// The named curve OID of a SEC 1 `ECPrivateKey` (its `[0] parameters`).
fn sec1_curve(key: &[u8]) -> Result<&[u8], der::DerError> {
    let key = der::read_only(key, der::SEQUENCE)?;
    der::elements(key.content)?
        .into_iter()
        .find(|t| t.tag == der::CONTEXT_0)
        .map(|t| der::read_only(t.content, der::OID).map(|oid| oid.whole))
        .unwrap_or(Err(der::DerError("EC key without named curve")))
}

#[cfg(test)]
#[path = "authority_tests.rs"]
mod tests;
