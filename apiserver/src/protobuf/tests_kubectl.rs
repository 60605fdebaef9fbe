//! What a real client sends: kubectl against a tiny HTTP server that records request bodies.
//! Skipped, with a note, where kubectl is not installed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::{TypeMeta, decode};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

/// Serves just enough discovery for kubectl and answers every POST with the object it
/// decoded from the body (201), recording the requests.
fn start_server() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let log: Log = Arc::default();
    let server_log = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&server_log);
            std::thread::spawn(move || serve_connection(stream, &log));
        }
    });
    (format!("http://{addr}"), log)
}

fn serve_connection(stream: TcpStream, log: &Log) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        let (status, body) = respond(&request);
        log.lock().expect("log lock").push(request);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut chunked, mut content_type) = (0, false, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "content-type" => content_type = value.trim().to_owned(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Recorded {
        method,
        path,
        content_type,
        body,
    })
}

fn respond(request: &Recorded) -> (&'static str, Vec<u8>) {
    let resource = |name: &str, kind: &str, namespaced: bool| {
        json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
               "verbs": ["create", "get", "list"]})
    };
    let path = request.path.split('?').next().unwrap_or_default();
    let body = match (request.method.as_str(), path) {
        ("GET", "/api") => json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "x"}]}),
        ("GET", "/apis") => json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
            "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]}),
        ("GET", "/api/v1") => json!({"kind": "APIResourceList", "groupVersion": "v1",
            "resources": [resource("namespaces", "Namespace", false),
                          resource("configmaps", "ConfigMap", true),
                          resource("secrets", "Secret", true)]}),
        ("GET", "/apis/apps/v1") => json!({"kind": "APIResourceList", "groupVersion": "apps/v1",
            "resources": [resource("deployments", "Deployment", true)]}),
        ("GET", "/version") => json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0"}),
        ("POST", _) => match decode(&request.body) {
            Ok((_, object)) => return ("201 Created", object.to_string().into_bytes()),
            Err(e) => return ("400 Bad Request", status(&e.to_string())),
        },
        _ => return ("404 Not Found", status("not found")),
    };
    ("200 OK", body.to_string().into_bytes())
}

fn status(message: &str) -> Vec<u8> {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message})
        .to_string()
        .into_bytes()
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs kubectl against the server and returns the body of the one POST it sent.
fn posted_body(args: &[&str]) -> Option<Recorded> {
    let (server, log) = start_server();
    let home = std::env::temp_dir().join(format!("pb-kubectl-{}-{}", std::process::id(), args[1]));
    std::fs::create_dir_all(&home).expect("a scratch home");
    let output = Command::new("kubectl")
        .env("HOME", &home)
        .env("KUBECONFIG", home.join("absent-kubeconfig"))
        .args([
            "--server",
            &server,
            "--cache-dir",
            &home.join("cache").to_string_lossy(),
        ])
        .args(["--request-timeout", "30s"])
        .args(args)
        .output()
        .expect("run kubectl");
    let _ = std::fs::remove_dir_all(&home);
    let requests = log.lock().expect("log lock").clone();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}\nrequests: {:?}",
        String::from_utf8_lossy(&output.stderr),
        requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    requests.into_iter().find(|r| r.method == "POST")
}

/// kubectl's typed `create` commands send protobuf; each body must decode to exactly the JSON
/// kubectl sends for the same command when it speaks JSON (`--dry-run=client -o json`).
#[test]
fn kubectl_create_bodies_decode_to_upstream_json() {
    if !kubectl_available() {
        eprintln!("note: kubectl not found; skipping the kubectl cross-check");
        return;
    }
    let cases = [
        (
            &["create", "namespace", "demo"][..],
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "demo", "creationTimestamp": null},
                   "spec": {}, "status": {}}),
        ),
        (
            &[
                "create",
                "configmap",
                "cm",
                "--from-literal=a=b",
                "-n",
                "default",
            ][..],
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cm", "namespace": "default", "creationTimestamp": null},
                   "data": {"a": "b"}}),
        ),
        (
            &[
                "create",
                "secret",
                "generic",
                "s",
                "--from-literal=k=s3cr3t żółw",
                "-n",
                "default",
            ][..],
            "/api/v1/namespaces/default/secrets",
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "s", "namespace": "default", "creationTimestamp": null},
                   "data": {"k": "czNjcjN0IMW8w7PFgnc="}}),
        ),
        (
            &[
                "create",
                "deployment",
                "web",
                "--image=nginx",
                "--replicas=0",
                "-n",
                "default",
            ][..],
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null,
                                "labels": {"app": "web"}},
                   "spec": {"replicas": 0,
                            "selector": {"matchLabels": {"app": "web"}},
                            "template": {
                                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                                         "resources": {}}]}},
                            "strategy": {}},
                   "status": {}}),
        ),
    ];
    for (args, path, expected) in cases {
        let post = posted_body(args).expect("kubectl POSTed");
        assert_eq!(post.path.split('?').next(), Some(path), "{args:?}");
        assert_eq!(post.content_type, PROTOBUF, "{args:?}");
        let (type_meta, object) = decode(&post.body).expect("kubectl's body decodes");
        assert_eq!(
            type_meta,
            TypeMeta::of(&expected).expect("typed"),
            "{args:?}"
        );
        assert_eq!(object, expected, "{args:?}");
        assert_eq!(object, client_side_json(args), "{args:?}");
        assert_round_trips(&object);
    }
}

/// What kubectl makes of the command itself, as JSON (`--dry-run=client -o json`).
fn client_side_json(args: &[&str]) -> serde_json::Value {
    let output = Command::new("kubectl")
        .env(
            "KUBECONFIG",
            std::env::temp_dir().join("pb-kubectl-absent-kubeconfig"),
        )
        .args([
            "--server",
            "http://127.0.0.1:1",
            "--dry-run=client",
            "-o",
            "json",
        ])
        .args(args)
        .output()
        .expect("run kubectl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("kubectl prints JSON")
}

/// What we write for the object reads back the same, but for nulls, which are not written.
/// (It is not byte for byte kubectl's body: Go also writes every empty non-pointer field,
/// `generateName: ""` and the like, which a Go reader takes as the zero value when absent.)
fn assert_round_trips(object: &serde_json::Value) {
    let bytes = super::encode(object).expect("encodes");
    let decoded = decode(&bytes).map(|(_, o)| o).expect("decodes");
    assert_eq!(decoded, super::tests::without_nulls(object.clone()));
}
