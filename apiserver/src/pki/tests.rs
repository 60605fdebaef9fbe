use std::error::Error;
use std::os::unix::fs::PermissionsExt;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;

type TestResult = Result<(), Box<dyn Error + Send + Sync>>;

const FILES: [&str; 13] = [
    "pki/ca.crt",
    "pki/ca.key",
    "pki/apiserver.crt",
    "pki/apiserver.key",
    "pki/admin.crt",
    "pki/admin.key",
    "pki/front-proxy-ca.crt",
    "pki/front-proxy-ca.key",
    "pki/front-proxy-client.crt",
    "pki/front-proxy-client.key",
    "pki/sa.key",
    "pki/sa.pub",
    "admin.kubeconfig",
];

fn options() -> PkiOptions {
    PkiOptions::new("https://127.0.0.1:6443")
}

fn snapshot(dir: &Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap_or_default())
        .collect()
}

/// The files that differ between two snapshots.
fn changed(before: &[Vec<u8>], after: &[Vec<u8>]) -> Vec<&'static str> {
    let pairs = FILES.iter().zip(before.iter().zip(after));
    pairs
        .filter(|(_, (b, a))| b != a)
        .map(|(file, _)| *file)
        .collect()
}

fn cert_of(path: &Path) -> Vec<u8> {
    let pem = fs::read_to_string(path).expect("readable certificate");
    parse_certs(path, &pem)
        .expect("a certificate")
        .swap_remove(0)
        .to_vec()
}

fn x509(der: &[u8]) -> X509Certificate<'_> {
    x509_parser::parse_x509_certificate(der)
        .expect("valid certificate")
        .1
}

#[test]
fn first_start_creates_every_file_keys_private() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pki = Pki::load_or_create(dir.path(), &options())?;
    for file in FILES {
        let mode = fs::metadata(dir.path().join(file))?.permissions().mode() & 0o777;
        let private = file.ends_with(".key") || file.ends_with(".kubeconfig");
        assert_eq!(mode, if private { 0o600 } else { 0o644 }, "{file}");
    }
    let leftovers = fs::read_dir(dir.path().join("pki"))?.filter_map(|e| e.ok());
    assert!(
        leftovers
            .map(|e| e.file_name())
            .all(|n| !n.to_string_lossy().ends_with(".tmp"))
    );
    assert_eq!(
        pki.admin_kubeconfig_path(),
        dir.path().join("admin.kubeconfig")
    );

    let ca_der = cert_of(&dir.path().join("pki/ca.crt"));
    let ca = x509(&ca_der);
    assert!(ca.is_ca());
    assert_eq!(ca.subject().to_string(), "CN=kubernetes");
    let lifetime = ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp();
    assert!(lifetime > 3649 * 86_400);
    assert_eq!(pki.ca_der().as_ref(), &ca_der[..]);

    let serving_der = cert_of(&dir.path().join("pki/apiserver.crt"));
    let serving = x509(&serving_der);
    let eku = serving.extended_key_usage()?.expect("EKU").value;
    assert!(eku.server_auth && !eku.client_auth);
    let sans = sans_of(&serving);
    for name in DEFAULT_SANS
        .iter()
        .map(|n| n.to_string())
        .chain(machine_hostname())
    {
        assert!(sans.contains(&name), "{name} missing from {sans:?}");
    }
    serving.verify_signature(Some(ca.public_key()))?;

    let admin_der = cert_of(&dir.path().join("pki/admin.crt"));
    let admin = x509(&admin_der);
    assert!(admin.extended_key_usage()?.expect("EKU").value.client_auth);
    let user = peer_user(&[CertificateDer::from(admin_der.clone())])?;
    let expected = CertificateUser {
        name: ADMIN_USER.into(),
        groups: vec![ADMIN_GROUP.into()],
    };
    assert_eq!(user, Some(expected));

    let proxy_ca_der = cert_of(&dir.path().join("pki/front-proxy-ca.crt"));
    let proxy_ca = x509(&proxy_ca_der);
    assert_eq!(proxy_ca.subject().to_string(), "CN=front-proxy-ca");
    let proxy_der = cert_of(&dir.path().join("pki/front-proxy-client.crt"));
    let proxy = x509(&proxy_der);
    assert_eq!(proxy.subject().to_string(), "CN=front-proxy-client");
    proxy.verify_signature(Some(proxy_ca.public_key()))?;
    assert!(proxy.verify_signature(Some(ca.public_key())).is_err());
    Ok(())
}

#[test]
fn second_start_reuses_every_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let first = Pki::load_or_create(dir.path(), &options())?;
    let before = snapshot(dir.path());
    let second = Pki::load_or_create(dir.path(), &options())?;
    assert_eq!(snapshot(dir.path()), before);
    assert_eq!(first.ca_pem(), second.ca_pem());
    Ok(())
}

#[test]
fn user_provided_ca_issues_the_other_certificates() -> TestResult {
    let dir = tempfile::tempdir()?;
    fs::create_dir_all(dir.path().join("pki"))?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "corporate root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_pem = params.self_signed(&key)?.pem();
    fs::write(dir.path().join("pki/ca.crt"), &ca_pem)?;
    fs::write(dir.path().join("pki/ca.key"), key.serialize_pem())?;

    let pki = Pki::load_or_create(dir.path(), &options())?;
    assert_eq!(pki.ca_pem(), ca_pem);
    assert_eq!(fs::read_to_string(dir.path().join("pki/ca.crt"))?, ca_pem);
    let ca = x509(pki.ca_der());
    for leaf in ["apiserver", "admin"] {
        let der = cert_of(&dir.path().join(format!("pki/{leaf}.crt")));
        let cert = x509(&der);
        assert_eq!(cert.issuer().to_string(), "CN=corporate root");
        cert.verify_signature(Some(ca.public_key()))?;
    }
    Ok(())
}

#[test]
fn unreadable_or_mismatched_files_are_errors_naming_them() -> TestResult {
    let admin_key = |dir: &Path| fs::read(dir.join("pki/admin.key")).unwrap_or_default();
    type Contents = fn(&Path) -> Vec<u8>;
    let cases: [(&str, Contents); 7] = [
        ("pki/ca.key", |_| {
            b"-----BEGIN PRIVATE KEY-----\nnot base64\n".to_vec()
        }),
        ("pki/ca.crt", |_| b"garbage".to_vec()),
        ("pki/apiserver.key", |_| b"\x00\xff not text".to_vec()),
        ("pki/apiserver.key", admin_key),
        ("pki/admin.crt", |dir| {
            fs::read(dir.join("pki/apiserver.crt")).unwrap_or_default()
        }),
        ("pki/admin.key", |_| {
            let rsa = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
            rsa.as_bytes().to_vec()
        }),
        ("pki/ca.crt", |dir| {
            fs::read(dir.join("pki/admin.crt")).unwrap_or_default()
        }),
    ];
    for (file, contents) in cases {
        let dir = tempfile::tempdir()?;
        Pki::load_or_create(dir.path(), &options())?;
        let path = dir.path().join(file);
        fs::write(&path, contents(dir.path()))?;
        let error = Pki::load_or_create(dir.path(), &options()).expect_err(file);
        let message = error.to_string();
        assert!(message.contains(file), "{file}: {message}");
    }
    Ok(())
}

#[test]
fn ca_certificate_without_its_key_is_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    Pki::load_or_create(dir.path(), &options())?;
    fs::remove_file(dir.path().join("pki/ca.key"))?;
    let error = Pki::load_or_create(dir.path(), &options()).expect_err("no CA key");
    assert!(error.to_string().contains("ca.key: missing"), "{error}");
    Ok(())
}

#[test]
fn a_crash_between_key_and_certificate_is_completed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let first = Pki::load_or_create(dir.path(), &options())?;
    let admin_crt = fs::read(dir.path().join("pki/admin.crt"))?;
    let ca_key = fs::read(dir.path().join("pki/ca.key"))?;
    fs::remove_file(dir.path().join("pki/ca.crt"))?;
    fs::remove_file(dir.path().join("pki/apiserver.crt"))?;

    let second = Pki::load_or_create(dir.path(), &options())?;
    // Same CA key and name: certificates issued before still verify.
    assert_eq!(fs::read(dir.path().join("pki/ca.key"))?, ca_key);
    assert_eq!(fs::read(dir.path().join("pki/admin.crt"))?, admin_crt);
    assert_ne!(first.ca_pem(), second.ca_pem());
    assert!(dir.path().join("pki/apiserver.crt").exists());
    Ok(())
}

#[test]
fn serving_certificate_is_reissued_for_a_new_san_or_near_expiry() -> TestResult {
    let dir = tempfile::tempdir()?;
    let now = OffsetDateTime::now_utc();
    Pki::load_or_create_at(dir.path(), &options(), now)?;
    let before = snapshot(dir.path());

    let mut wider = options();
    wider.extra_sans = vec![
        "API.example.com".into(),
        "192.0.2.10".into(),
        "2001:db8::1".into(),
    ];
    Pki::load_or_create_at(dir.path(), &wider, now)?;
    let after = snapshot(dir.path());
    let serving = cert_of(&dir.path().join("pki/apiserver.crt"));
    let sans = sans_of(&x509(&serving));
    for name in ["api.example.com", "192.0.2.10", "2001:db8::1", "localhost"] {
        assert!(sans.contains(name), "{name} missing from {sans:?}");
    }
    // Only the serving certificate changed: same CA, same keys, same admin identity.
    assert_eq!(changed(&before, &after), ["pki/apiserver.crt"]);
    // The narrower request is satisfied by the wider certificate.
    Pki::load_or_create_at(dir.path(), &options(), now)?;
    assert_eq!(snapshot(dir.path()), after);

    // 340 days on, every leaf expires within 30 days: renewed, keys and CAs kept.
    let later = now + Duration::days(340);
    Pki::load_or_create_at(dir.path(), &wider, later)?;
    let renewed = snapshot(dir.path());
    let expected = [
        "pki/apiserver.crt",
        "pki/admin.crt",
        "pki/front-proxy-client.crt",
        "admin.kubeconfig",
    ];
    assert_eq!(changed(&after, &renewed), expected);
    let serving = cert_of(&dir.path().join("pki/apiserver.crt"));
    let not_after = x509(&serving).validity().not_after.timestamp();
    assert!(not_after > (later + Duration::days(300)).unix_timestamp());
    Ok(())
}

#[test]
fn invalid_names_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut bad = options();
    bad.extra_sans = vec!["not a name".into()];
    let error = Pki::load_or_create(dir.path(), &bad).expect_err("bad SAN");
    assert!(matches!(error, PkiError::InvalidName { .. }), "{error}");
    let pki = Pki::load_or_create(dir.path(), &options())?;
    assert!(pki.issue_client_cert("", &[]).is_err());
    assert_eq!(peer_user(&[])?, None);
    Ok(())
}

#[test]
fn kubeconfig_quotes_the_server_url() {
    assert_eq!(
        yaml_quoted(r#"https://h:1/a"b\c"#),
        r#""https://h:1/a\"b\\c""#
    );
}

fn client_config(ca_pem: &str, identity: Option<(&str, &str)>) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<_, _>>();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("client key");
            builder
                .with_client_auth_cert(chain.expect("client PEM"), key)
                .expect("auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// Runs both halves of a TLS handshake in-process; the server's result is the user.
async fn handshake(
    server: rustls::ServerConfig,
    client: ClientConfig,
) -> (
    io::Result<Option<Vec<u8>>>,
    io::Result<Option<CertificateUser>>,
) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let connector = TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from("localhost").expect("a DNS name");
    let (client, server) = tokio::join!(
        connector.connect(name, client_io),
        acceptor.accept(server_io)
    );
    let alpn = client.map(|stream| stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec));
    let user = server.and_then(|stream| {
        let certs = stream.get_ref().1.peer_certificates().unwrap_or_default();
        peer_user(certs).map_err(io::Error::other)
    });
    (alpn, user)
}

#[tokio::test]
async fn admin_certificate_authenticates_over_tls() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pki = Pki::load_or_create(dir.path(), &options())?;
    let cert = fs::read_to_string(dir.path().join("pki/admin.crt"))?;
    let key = fs::read_to_string(dir.path().join("pki/admin.key"))?;
    let client = client_config(pki.ca_pem(), Some((&cert, &key)));
    let (alpn, user) = handshake(pki.server_config()?, client).await;
    assert_eq!(alpn?.as_deref(), Some(&b"h2"[..]));
    let expected = CertificateUser {
        name: ADMIN_USER.into(),
        groups: vec![ADMIN_GROUP.into()],
    };
    assert_eq!(user?, Some(expected));
    Ok(())
}

#[tokio::test]
async fn issued_client_certificate_carries_every_group() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pki = Pki::load_or_create(dir.path(), &options())?;
    let groups = ["team-a", "team-b", "system:authenticated-extra"];
    for orgs in [&groups[..], &groups[..1], &[]] {
        let (cert, key) = pki.issue_client_cert("alice", orgs)?;
        let client = client_config(pki.ca_pem(), Some((&cert, &key)));
        let (alpn, user) = handshake(pki.server_config()?, client).await;
        alpn?;
        let groups = orgs.iter().map(|g| g.to_string()).collect();
        assert_eq!(
            user?,
            Some(CertificateUser {
                name: "alice".into(),
                groups
            })
        );
    }
    Ok(())
}

#[tokio::test]
async fn client_without_certificate_is_anonymous() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pki = Pki::load_or_create(dir.path(), &options())?;
    let (alpn, user) = handshake(pki.server_config()?, client_config(pki.ca_pem(), None)).await;
    alpn?;
    assert_eq!(user?, None);
    Ok(())
}

#[tokio::test]
async fn client_trusting_another_ca_fails() -> TestResult {
    let (ours, theirs) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let pki = Pki::load_or_create(ours.path(), &options())?;
    let other = Pki::load_or_create(theirs.path(), &options())?;
    let (alpn, _) = handshake(pki.server_config()?, client_config(other.ca_pem(), None)).await;
    assert!(alpn.is_err());
    Ok(())
}

#[tokio::test]
async fn client_certificate_of_another_ca_is_rejected() -> TestResult {
    let (ours, theirs) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let pki = Pki::load_or_create(ours.path(), &options())?;
    let other = Pki::load_or_create(theirs.path(), &options())?;
    let (cert, key) = other.issue_client_cert("mallory", &[ADMIN_GROUP])?;
    let client = client_config(pki.ca_pem(), Some((&cert, &key)));
    let (_, user) = handshake(pki.server_config()?, client).await;
    assert!(user.is_err());
    Ok(())
}

fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn kubectl_reads_the_admin_kubeconfig() -> TestResult {
    let Some(kubectl) = kubectl() else {
        eprintln!("kubectl is not on PATH: skipping");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let pki = Pki::load_or_create(dir.path(), &options())?;
    let output = tokio::process::Command::new(kubectl)
        .current_dir("/")
        .env("HOME", dir.path())
        .arg("--kubeconfig")
        .arg(pki.admin_kubeconfig_path())
        .args(["config", "view", "--raw", "-o"])
        .arg("jsonpath={.users[0].name} {.current-context} {.clusters[0].cluster.server}")
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let expected = "kubernetes-admin kubernetes-admin@ultrak8s https://127.0.0.1:6443";
    assert_eq!(String::from_utf8(output.stdout)?, expected);
    Ok(())
}

/// Answers every HTTP/1.1 request with a version document, one request per connection,
/// and reports who sent which request line.
async fn version_server(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    seen: tokio::sync::mpsc::Sender<(Option<CertificateUser>, String)>,
) -> TestResult {
    loop {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let user = peer_user(tls.get_ref().1.peer_certificates().unwrap_or_default())?;
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            let mut byte = [0; 1];
            if tls.read(&mut byte).await? == 0 {
                break;
            }
            request.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&request)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        seen.send((user, line)).await?;
        let body = r#"{"major":"1","minor":"35","gitVersion":"v1.35.0-pki-test"}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(response.as_bytes()).await?;
        tls.shutdown().await?;
    }
}

/// kubectl trusts the CA, accepts the serving certificate for 127.0.0.1 and presents the
/// admin certificate, which the server verifies.
#[tokio::test]
async fn kubectl_reaches_a_server_with_the_admin_kubeconfig() -> TestResult {
    let Some(kubectl) = kubectl() else {
        eprintln!("kubectl is not on PATH: skipping");
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let dir = tempfile::tempdir()?;
    let url = format!("https://{}", listener.local_addr()?);
    let pki = Pki::load_or_create(dir.path(), &PkiOptions::new(url))?;
    let mut config = pki.server_config()?;
    // The stub speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    // kubectl asks for /version first (to pick a matching binary), then does the request.
    let (seen, mut requests) = tokio::sync::mpsc::channel(8);
    let server = tokio::spawn(version_server(listener, acceptor, seen));
    let output = tokio::process::Command::new(kubectl)
        .current_dir("/")
        .env("HOME", dir.path())
        .arg("--kubeconfig")
        .arg(pki.admin_kubeconfig_path())
        .args(["--request-timeout=20s", "get", "--raw", "/version"])
        .output()
        .await?;
    server.abort();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8(output.stdout)?.contains("v1.35.0-pki-test"));
    let expected = CertificateUser {
        name: ADMIN_USER.into(),
        groups: vec![ADMIN_GROUP.into()],
    };
    let mut count = 0;
    while let Ok((user, line)) = requests.try_recv() {
        assert!(line.starts_with("GET /version"), "{line}");
        assert_eq!(user.as_ref(), Some(&expected));
        count += 1;
    }
    assert!(count >= 1);
    Ok(())
}
