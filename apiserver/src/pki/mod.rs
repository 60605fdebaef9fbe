//! The cluster PKI: the cluster CA, the API server's serving certificate, client certificates
//! and the admin kubeconfig, kept as files under the data directory.
//!
//! Layout (kubeadm's names, so its habits and tools carry over):
//! - `<data>/pki/ca.crt`, `ca.key`: the cluster CA (CN `kubernetes`, ECDSA P-256, 10 years).
//!   A CA the user puts there is used as is; its key must be PKCS#8 (`BEGIN PRIVATE KEY`),
//!   the only encoding `ring` signs with.
//! - `<data>/pki/apiserver.crt`, `apiserver.key`: the serving certificate (1 year).
//! - `<data>/pki/admin.crt`, `admin.key`: `kubernetes-admin` in `system:masters` (1 year).
//! - `<data>/admin.kubeconfig`: that identity with every certificate embedded.
//! - `<data>/pki/front-proxy-ca.crt`, `front-proxy-ca.key`, `front-proxy-client.crt`,
//!   `front-proxy-client.key`: the CA of authenticating proxies (aggregated API servers trust
//!   it) and the client certificate the API server presents to them.
//! - `<data>/pki/sa.key`, `sa.pub`: the ServiceAccount token signing key
//!   (`service_account.rs`).
//!
//! Files that exist are reused, so a restart keeps every kubeconfig valid. A certificate is
//! re-issued, for its existing key and from the same CA, when it expires within 30 days or
//! (serving certificate) lacks a requested SAN. A key is written before its certificate and
//! every write is atomic, so a crash leaves at most a key without its certificate, which the
//! next start completes. Files that contradict each other (a key that does not match its
//! certificate, a certificate the CA did not issue) are an error naming the file; they are
//! never replaced silently.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SigningKey,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::AttributeTypeAndValue;

mod service_account;
pub use service_account::{Algorithm, ServiceAccountKey};

/// The cluster, user and group of the admin kubeconfig; its context is `<user>@<cluster>`.
pub const CLUSTER_NAME: &str = "ultrak8s";
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

const CA_COMMON_NAME: &str = "kubernetes";
const FRONT_PROXY_CA_COMMON_NAME: &str = "front-proxy-ca";
const CA_VALIDITY: Duration = Duration::days(3650);
const LEAF_VALIDITY: Duration = Duration::days(365);
/// A server restarted at least monthly never serves an expired certificate.
const RENEW_BEFORE: Duration = Duration::days(30);
/// Certificates start a little in the past so that clients whose clock lags accept them.
const BACKDATE: Duration = Duration::minutes(5);
const KEY_MODE: u32 = 0o600;
const CERT_MODE: u32 = 0o644;
/// Always in the serving certificate. `10.96.0.1` is the first address of the default service
/// CIDR `10.96.0.0/12`: the ClusterIP of the `kubernetes` Service, which pods dial.
const DEFAULT_SANS: [&str; 8] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.96.0.1",
];

const SERVING: LeafSpec = LeafSpec {
    stem: "apiserver",
    common_name: "kube-apiserver",
    organizations: &[],
    usage: ExtendedKeyUsagePurpose::ServerAuth,
};
const FRONT_PROXY_CLIENT: LeafSpec = LeafSpec {
    stem: "front-proxy-client",
    common_name: "front-proxy-client",
    organizations: &[],
    usage: ExtendedKeyUsagePurpose::ClientAuth,
};
const ADMIN: LeafSpec = LeafSpec {
    stem: "admin",
    common_name: ADMIN_USER,
    organizations: &[ADMIN_GROUP],
    usage: ExtendedKeyUsagePurpose::ClientAuth,
};

/// Why the PKI could not be loaded, created or used. Every file problem names the file.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file holds something unusable: no PEM, a corrupt key, a key that does not match its
    /// certificate, a certificate the CA did not issue.
    #[error("{}: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    /// A requested subject alternative name or common name is not acceptable.
    #[error("invalid {what}: {value:?}")]
    InvalidName { what: &'static str, value: String },
    /// Generating a key or signing a certificate failed.
    #[error("cannot issue a certificate for {subject:?}: {source}")]
    Issue {
        subject: String,
        #[source]
        source: rcgen::Error,
    },
    /// The TLS configuration could not be built from the certificates.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// A peer certificate could not be read.
    #[error("client certificate: {0}")]
    ClientCertificate(String),
}

/// What `ultrak8s server` asks of the PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// The URL the admin kubeconfig dials, e.g. `https://127.0.0.1:6443`.
    pub server_url: String,
    /// More subject alternative names for the serving certificate, each an IP address when it
    /// parses as one, else a DNS name. Always included: `localhost`, `127.0.0.1`, `::1`,
    /// `kubernetes`, `kubernetes.default[.svc[.cluster.local]]`, `10.96.0.1` and the
    /// machine's hostname.
    pub extra_sans: Vec<String>,
}

impl PkiOptions {
    /// Options that add no subject alternative name to the defaults.
    pub fn new(server_url: impl Into<String>) -> Self {
        let server_url = server_url.into();
        Self {
            server_url,
            extra_sans: Vec::new(),
        }
    }
}

/// The identity a verified client certificate carries, as upstream reads it: the user is the
/// subject's common name, the groups are its organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateUser {
    /// The common name (CN).
    pub name: String,
    /// The organizations (O), in certificate order.
    pub groups: Vec<String>,
}

/// The loaded PKI: the CA that signs, and the serving certificate with its key.
pub struct Pki {
    dir: PathBuf,
    ca: Ca,
    service_account_key: Arc<ServiceAccountKey>,
    serving_chain: Vec<CertificateDer<'static>>,
    serving_key: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI under `dir` (the data directory), creating or renewing what is missing.
    pub fn load_or_create(dir: &Path, options: &PkiOptions) -> Result<Pki, PkiError> {
        Self::load_or_create_at(dir, options, OffsetDateTime::now_utc())
    }

    /// [`Pki::load_or_create`] with the current time as a parameter; renewal depends on it.
    pub fn load_or_create_at(
        dir: &Path,
        options: &PkiOptions,
        now: OffsetDateTime,
    ) -> Result<Pki, PkiError> {
        let sans = requested_sans(options)?;
        let pki_dir = dir.join("pki");
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut builder = DirBuilder::new();
        builder
            .recursive(true)
            .mode(0o700)
            .create(&pki_dir)
            .map_err(io_error(&pki_dir))?;

        let ca = Ca::load_or_create(&pki_dir, "ca", CA_COMMON_NAME, now)?;
        let serving = ensure_leaf(&pki_dir, &ca, &SERVING, Some(&sans), now)?;
        let admin = ensure_leaf(&pki_dir, &ca, &ADMIN, None, now)?;
        let front_proxy_ca =
            Ca::load_or_create(&pki_dir, "front-proxy-ca", FRONT_PROXY_CA_COMMON_NAME, now)?;
        ensure_leaf(&pki_dir, &front_proxy_ca, &FRONT_PROXY_CLIENT, None, now)?;
        let service_account_key = Arc::new(ServiceAccountKey::load_or_create(&pki_dir)?);
        let kubeconfig = admin_kubeconfig(&options.server_url, &ca.pem, &admin);
        write_if_changed(
            &dir.join("admin.kubeconfig"),
            kubeconfig.as_bytes(),
            KEY_MODE,
        )?;

        let serving_chain = parse_certs(&pki_dir.join("apiserver.crt"), &serving.cert_pem)?;
        let serving_key = PrivatePkcs8KeyDer::from(serving.key.serialize_der());
        Ok(Pki {
            dir: dir.to_owned(),
            ca,
            service_account_key,
            serving_chain,
            serving_key,
        })
    }

    /// The CA certificate (the whole `ca.crt`) in PEM, for clients to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca.pem
    }

    /// `<data>/pki/ca.crt` and `ca.key`: what the CSR signer signs with (as
    /// kube-controller-manager's `--cluster-signing-cert-file` and `--cluster-signing-key-file`).
    pub fn ca_files(&self) -> (PathBuf, PathBuf) {
        let pki = self.dir.join("pki");
        (pki.join("ca.crt"), pki.join("ca.key"))
    }

    /// The CA certificate in DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca.der
    }

    /// The key that signs ServiceAccount tokens.
    pub fn service_account_key(&self) -> &Arc<ServiceAccountKey> {
        &self.service_account_key
    }

    /// `<data>/admin.kubeconfig`.
    pub fn admin_kubeconfig_path(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// The TLS configuration of the API server: the serving certificate, ALPN `h2` then
    /// `http/1.1`, and client certificates verified against the cluster CA. A client without a
    /// certificate is let through: whether anonymous requests are allowed is decided later.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, PkiError> {
        self.tls_config(false, &[b"h2", b"http/1.1"])
    }

    /// The TLS configuration of the etcd API beyond loopback: the serving certificate, ALPN
    /// `h2` (gRPC), and a client certificate of the cluster CA required (etcd's
    /// `--client-cert-auth`).
    pub fn etcd_server_config(&self) -> Result<rustls::ServerConfig, PkiError> {
        self.tls_config(true, &[b"h2"])
    }

    fn tls_config(
        &self,
        require_client_cert: bool,
        alpn: &[&[u8]],
    ) -> Result<rustls::ServerConfig, PkiError> {
        let tls =
            |what: &'static str| move |e: rustls::Error| PkiError::Tls(format!("{what}: {e}"));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der.clone()).map_err(tls("CA"))?;
        let mut verifier =
            WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone());
        if !require_client_cert {
            verifier = verifier.allow_unauthenticated();
        }
        let verifier = verifier
            .build()
            .map_err(|e| PkiError::Tls(format!("client verifier: {e}")))?;
        let key = PrivateKeyDer::Pkcs8(self.serving_key.clone_key());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls("protocol versions"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.serving_chain.clone(), key)
            .map_err(tls("serving certificate"))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// Issues a client certificate (1 year) for user `cn` in groups `orgs`, from the cluster
    /// CA. Returns the certificate and its new key, both PEM; nothing is written.
    pub fn issue_client_cert(&self, cn: &str, orgs: &[&str]) -> Result<(String, String), PkiError> {
        if cn.is_empty() {
            let value = cn.to_owned();
            return Err(PkiError::InvalidName {
                what: "common name",
                value,
            });
        }
        let spec = LeafSpec {
            stem: "",
            common_name: cn,
            organizations: orgs,
            ..ADMIN
        };
        let key = generate_key(cn)?;
        let cert = sign_leaf(&spec, None, &key, &self.ca, OffsetDateTime::now_utc())?;
        Ok((cert, key.serialize_pem()))
    }
}

/// The user a connection's peer certificates (as rustls verified them) authenticate: `None`
/// without a certificate or with an empty common name, as upstream's
/// `CommonNameUserConversion` (k8s.io/apiserver/pkg/authentication/request/x509/x509.go).
pub fn peer_user(certs: &[CertificateDer<'_>]) -> Result<Option<CertificateUser>, PkiError> {
    let Some(leaf) = certs.first() else {
        return Ok(None);
    };
    let invalid = |e: &dyn fmt::Display| PkiError::ClientCertificate(e.to_string());
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| invalid(&e))?;
    let text = |attr: &AttributeTypeAndValue<'_>| attr.as_str().map(str::to_owned);
    // Go's pkix.Name keeps the last common name when there are several.
    let name = match cert.subject().iter_common_name().last().map(text) {
        Some(name) => name.map_err(|e| invalid(&e))?,
        None => return Ok(None),
    };
    let groups = cert
        .subject()
        .iter_organization()
        .map(text)
        .collect::<Result<_, _>>();
    let groups = groups.map_err(|e| invalid(&e))?;
    Ok((!name.is_empty()).then_some(CertificateUser { name, groups }))
}

/// A CA (the cluster CA, the front-proxy CA): `<stem>.crt` as read, its first certificate,
/// and the signer made of it.
struct Ca {
    stem: &'static str,
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn load_or_create(
        pki_dir: &Path,
        stem: &'static str,
        common_name: &str,
        now: OffsetDateTime,
    ) -> Result<Ca, PkiError> {
        let key_path = pki_dir.join(format!("{stem}.key"));
        let cert_path = pki_dir.join(format!("{stem}.crt"));
        let cert_pem = read_optional(&cert_path)?;
        let key = match (read_optional(&key_path)?, &cert_pem) {
            (Some(pem), _) => parse_key(&key_path, &pem)?,
            (None, Some(_)) => {
                let reason = format!(
                    "missing, but {stem}.crt exists: a CA cannot sign without its key \
                     (add the key, or remove {stem}.crt to create a new CA)"
                );
                return Err(invalid(&key_path, reason));
            }
            (None, None) => {
                let key = generate_key(common_name)?;
                write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
                key
            }
        };
        // A key without a certificate is a new CA, or a crash between the two writes.
        let pem = match cert_pem {
            Some(pem) => pem,
            None => {
                let mut params = CertificateParams::default();
                let subject = &mut params.distinguished_name;
                subject.push(DnType::CommonName, common_name);
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                (params.not_before, params.not_after) = (now - BACKDATE, now + CA_VALIDITY);
                let cert = params.self_signed(&key);
                let cert = cert.map_err(issue_error(common_name))?;
                write_atomic(&cert_path, cert.pem().as_bytes(), CERT_MODE)?;
                cert.pem()
            }
        };
        let der = parse_certs(&cert_path, &pem)?.swap_remove(0);
        let cert = parse_x509(&cert_path, &der)?;
        if !cert.is_ca() {
            let reason = "not a CA certificate (basicConstraints cA is not set)";
            return Err(invalid(&cert_path, reason));
        }
        check_key_matches(&key_path, &key, &cert, &cert_path)?;
        let issuer = Issuer::from_ca_cert_der(&der, key);
        let issuer = issuer.map_err(|e| invalid(&cert_path, e.to_string()))?;
        Ok(Ca {
            stem,
            pem,
            der,
            issuer,
        })
    }
}

/// One kind of leaf certificate.
struct LeafSpec<'a> {
    /// File stem under `pki/` of a certificate the server keeps; empty for those it hands out.
    stem: &'a str,
    common_name: &'a str,
    organizations: &'a [&'a str],
    usage: ExtendedKeyUsagePurpose,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    key: KeyPair,
}

/// Loads `<stem>.crt` and `<stem>.key`, issuing what is missing or due: expiring within
/// [`RENEW_BEFORE`], or lacking one of `sans`.
fn ensure_leaf(
    pki_dir: &Path,
    ca: &Ca,
    spec: &LeafSpec<'_>,
    sans: Option<&BTreeSet<String>>,
    now: OffsetDateTime,
) -> Result<Leaf, PkiError> {
    let key_path = pki_dir.join(format!("{}.key", spec.stem));
    let cert_path = pki_dir.join(format!("{}.crt", spec.stem));
    let (key, key_pem) = match read_optional(&key_path)? {
        Some(pem) => (parse_key(&key_path, &pem)?, pem),
        // Without its key a certificate is useless: issue both.
        None => {
            let key = generate_key(spec.common_name)?;
            let pem = key.serialize_pem();
            write_atomic(&key_path, pem.as_bytes(), KEY_MODE)?;
            (key, pem)
        }
    };
    let current = match read_optional(&cert_path)? {
        Some(pem) => {
            let chain = parse_certs(&cert_path, &pem)?;
            let cert = parse_x509(&cert_path, &chain[0])?;
            check_key_matches(&key_path, &key, &cert, &cert_path)?;
            let ca_cert = parse_x509(&pki_dir.join(format!("{}.crt", ca.stem)), &ca.der)?;
            if cert.verify_signature(Some(ca_cert.public_key())).is_err() {
                let reason = format!(
                    "not issued by {}.crt (remove it and its key to have both re-issued)",
                    ca.stem
                );
                return Err(invalid(&cert_path, reason));
            }
            let renew_at = (now + RENEW_BEFORE).unix_timestamp();
            let expiring = cert.validity().not_after.timestamp() <= renew_at;
            let lacks_san = sans.is_some_and(|wanted| !wanted.is_subset(&sans_of(&cert)));
            (!expiring && !lacks_san).then_some(pem)
        }
        None => None,
    };
    let cert_pem = match current {
        Some(pem) => pem,
        // Renewal keeps the key, so there is no moment at which key and certificate disagree.
        None => {
            let pem = sign_leaf(spec, sans, &key, ca, now)?;
            write_atomic(&cert_path, pem.as_bytes(), CERT_MODE)?;
            pem
        }
    };
    Ok(Leaf {
        cert_pem,
        key_pem,
        key,
    })
}

/// Signs a leaf certificate for `key`, returning it in PEM.
fn sign_leaf(
    spec: &LeafSpec<'_>,
    sans: Option<&BTreeSet<String>>,
    key: &KeyPair,
    ca: &Ca,
    now: OffsetDateTime,
) -> Result<String, PkiError> {
    let failed = issue_error(spec.common_name);
    // `new` reads each name as an IP address if it parses as one, else as a DNS name.
    let sans = sans.map(|sans| sans.iter().cloned().collect::<Vec<_>>());
    let mut params = CertificateParams::new(sans.unwrap_or_default()).map_err(&failed)?;
    let subject = &mut params.distinguished_name;
    subject.push(DnType::CommonName, spec.common_name);
    if let [org] = spec.organizations {
        subject.push(DnType::OrganizationName, *org);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![spec.usage.clone()];
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = (now - BACKDATE, now + LEAF_VALIDITY);
    let cert = params.signed_by(key, &ca.issuer).map_err(&failed)?;
    if spec.organizations.len() < 2 {
        return Ok(cert.pem());
    }
    let subject = client_subject(spec.common_name, spec.organizations);
    let der = with_subject(cert.der(), &subject, ca.issuer.key()).map_err(&failed)?;
    let base64 = BASE64.encode(der);
    let lines = base64.as_bytes().chunks(64).map(String::from_utf8_lossy);
    let body = lines.collect::<Vec<_>>().join("\n");
    Ok(format!(
        "-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    ))
}

/// The subject `CN=<cn>, O=<org>...` in DER, one attribute per RDN as Go's x509 writes it.
fn client_subject(common_name: &str, organizations: &[&str]) -> Vec<u8> {
    // The OIDs 2.5.4.3 (commonName) and 2.5.4.10 (organizationName), DER-encoded.
    const CN: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
    const O: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a];
    let attribute = |oid: &[u8], value: &str| {
        let utf8 = der_tlv(0x0c, value.as_bytes());
        der_tlv(0x31, &der_tlv(0x30, &[oid, &utf8].concat()))
    };
    let orgs = organizations.iter().flat_map(|org| attribute(O, org));
    der_tlv(
        0x30,
        &attribute(CN, common_name)
            .into_iter()
            .chain(orgs)
            .collect::<Vec<_>>(),
    )
}

/// Replaces the subject of `cert` and signs it again with `signer`, the key that signed it:
/// rcgen keeps one value per attribute type (rustls/rcgen#81), but Kubernetes reads a group
/// from each organization attribute.
fn with_subject(cert: &[u8], subject: &[u8], signer: &KeyPair) -> Result<Vec<u8>, rcgen::Error> {
    let parsed = || -> Option<(&[u8], &[u8], &[u8])> {
        let (tbs, rest) = der_element(der_contents(cert)?)?;
        let (algorithm, _) = der_element(rest)?;
        // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, ...
        let fields = der_contents(tbs)?;
        let mut after = fields;
        for _ in 0..5 {
            after = der_element(after)?.1;
        }
        let head = fields.get(..fields.len() - after.len())?;
        Some((head, der_element(after)?.1, algorithm))
    };
    let (head, tail, algorithm) = parsed().ok_or(rcgen::Error::CouldNotParseCertificate)?;
    let tbs = der_tlv(0x30, &[head, subject, tail].concat());
    let signature = der_tlv(0x03, &[&[0][..], &signer.sign(&tbs)?].concat());
    Ok(der_tlv(0x30, &[&tbs, algorithm, &signature].concat()))
}

/// A DER element: tag, definite length, contents.
fn der_tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len().to_be_bytes();
    let skip = len.iter().take_while(|b| **b == 0).count();
    let mut out = vec![tag];
    match contents.len() {
        short @ 0..0x80 => out.push(short as u8),
        _ => out.extend([&[0x80 | (len.len() - skip) as u8][..], &len[skip..]].concat()),
    }
    out.extend_from_slice(contents);
    out
}

/// The header length and contents length of the DER element at the start of `input`.
fn der_header(input: &[u8]) -> Option<(usize, usize)> {
    match *input.get(1)? {
        short @ 0..0x80 => Some((2, usize::from(short))),
        long => {
            let bytes = input.get(2..2 + usize::from(long & 0x7f))?;
            let len = bytes.iter().try_fold(0usize, |len, b| {
                len.checked_mul(256)?.checked_add(usize::from(*b))
            });
            Some((2 + bytes.len(), len?))
        }
    }
}

/// The first DER element of `input`, and the rest.
fn der_element(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (header, len) = der_header(input)?;
    input.split_at_checked(header.checked_add(len)?)
}

/// The contents of the DER element `input`.
fn der_contents(input: &[u8]) -> Option<&[u8]> {
    let (header, len) = der_header(input)?;
    input.get(header..header.checked_add(len)?)
}

/// The serving certificate's names: the defaults, the hostname and the extras, normalised
/// as [`sans_of`] reads a certificate (canonical IP addresses, DNS names in lower case).
fn requested_sans(options: &PkiOptions) -> Result<BTreeSet<String>, PkiError> {
    let defaults = DEFAULT_SANS.iter().map(|name| name.to_string());
    let names = defaults
        .chain(machine_hostname())
        .chain(options.extra_sans.iter().cloned());
    names
        .map(|name| match name.trim().parse::<IpAddr>() {
            Ok(ip) => Ok(ip.to_string()),
            Err(_) if is_dns_name(name.trim()) => Ok(name.trim().to_ascii_lowercase()),
            Err(_) => Err(PkiError::InvalidName {
                what: "subject alternative name",
                value: name,
            }),
        })
        .collect()
}

/// The DNS names and IP addresses a certificate is valid for; none when unreadable.
fn sans_of(cert: &X509Certificate<'_>) -> BTreeSet<String> {
    let Ok(Some(extension)) = cert.subject_alternative_name() else {
        return BTreeSet::new();
    };
    let names = extension.value.general_names.iter();
    let names = names.filter_map(|name| match name {
        GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
        GeneralName::IPAddress([a, b, c, d]) => Some(IpAddr::from([*a, *b, *c, *d]).to_string()),
        GeneralName::IPAddress(bytes) => {
            let v6 = <[u8; 16]>::try_from(*bytes).ok();
            v6.map(|ip| IpAddr::from(ip).to_string())
        }
        _ => None,
    });
    names.collect()
}

/// RFC 1123 labels (letters, digits, `-`; `_` tolerated as hostnames have it), optionally
/// under a leading `*.` wildcard.
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (1..=253).contains(&name.len()) && name.split('.').all(label_ok)
}

/// The kernel's hostname, which nodes and users on this machine dial (Linux only, like the
/// rest of the server); skipped when it is not a valid DNS name.
fn machine_hostname() -> Option<String> {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .ok()?;
    let name = raw.trim().to_ascii_lowercase();
    is_dns_name(&name).then_some(name)
}

/// The admin kubeconfig. Written by hand: the shape is fixed and every value but the server
/// URL is base64 or a constant name, so only the URL needs quoting.
fn admin_kubeconfig(server_url: &str, ca_pem: &str, admin: &Leaf) -> String {
    let ca = BASE64.encode(ca_pem);
    let cert = BASE64.encode(&admin.cert_pem);
    let key = BASE64.encode(&admin.key_pem);
    let server = yaml_quoted(server_url);
    let context = format!("{ADMIN_USER}@{CLUSTER_NAME}");
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CLUSTER_NAME}
  cluster:
    certificate-authority-data: {ca}
    server: {server}
contexts:
- name: {context}
  context:
    cluster: {CLUSTER_NAME}
    user: {ADMIN_USER}
current-context: {context}
preferences: {{}}
users:
- name: {ADMIN_USER}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"
    )
}

/// A YAML double-quoted scalar.
fn yaml_quoted(value: &str) -> String {
    let escaped = value.chars().map(|c| match c {
        '"' | '\\' => format!("\\{c}"),
        c if c.is_control() => format!("\\u{:04x}", u32::from(c)),
        c => c.to_string(),
    });
    format!("\"{}\"", escaped.collect::<String>())
}

fn generate_key(subject: &str) -> Result<KeyPair, PkiError> {
    // ECDSA P-256: small, fast, and accepted by every Kubernetes client.
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(issue_error(subject))
}

fn parse_key(path: &Path, pem: &str) -> Result<KeyPair, PkiError> {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes());
    let der = der.map_err(|_| invalid(path, "no readable PEM private key"))?;
    let PrivateKeyDer::Pkcs8(pkcs8) = &der else {
        let reason = "only PKCS#8 keys (BEGIN PRIVATE KEY) are supported; \
                      convert with `openssl pkcs8 -topk8 -nocrypt`";
        return Err(invalid(path, reason));
    };
    KeyPair::try_from(pkcs8).map_err(|e| invalid(path, format!("unusable private key: {e}")))
}

/// The certificates of a PEM file; never empty.
fn parse_certs(path: &Path, pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>();
    let certs = certs.map_err(|_| invalid(path, "unreadable PEM"))?;
    if certs.is_empty() {
        return Err(invalid(
            path,
            "no certificate (BEGIN CERTIFICATE) in the file",
        ));
    }
    Ok(certs)
}

fn parse_x509<'a>(path: &Path, der: &'a [u8]) -> Result<X509Certificate<'a>, PkiError> {
    let parsed = x509_parser::parse_x509_certificate(der);
    parsed
        .map(|(_, cert)| cert)
        .map_err(|e| invalid(path, format!("unreadable certificate: {e}")))
}

fn check_key_matches(
    key_path: &Path,
    key: &KeyPair,
    cert: &X509Certificate<'_>,
    cert_path: &Path,
) -> Result<(), PkiError> {
    if key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref() {
        return Ok(());
    }
    let reason = format!("does not match the public key of {}", cert_path.display());
    Err(invalid(key_path, reason))
}

fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| invalid(path, "not text")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn write_if_changed(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    match fs::read(path) {
        Ok(existing) if existing == contents => Ok(()),
        _ => write_atomic(path, contents, mode),
    }
}

/// Writes `path` so that a crash leaves either the old file or the new one: a temporary file
/// in the same directory, created with `mode` (a key is never readable by others, not even
/// briefly), synced, renamed over `path`, and the directory synced to keep the rename.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    // A temporary file left by a crash may have another mode: start afresh.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(&tmp)(e)),
        _ => {}
    }
    let mut options = OpenOptions::new();
    let written = options
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(contents)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp)(e));
    }
    fs::rename(&tmp, path).map_err(io_error(path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

fn invalid(path: &Path, reason: impl Into<String>) -> PkiError {
    PkiError::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

fn issue_error(subject: &str) -> impl Fn(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Issue {
        subject: subject.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests;
