use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service};
use serde_json::{Value, json};

use super::*;

fn resources() -> Vec<ServedResource> {
    vec![
        ServedResource {
            group: "",
            version: "v1",
            kind: "Pod",
            plural: "pods",
            namespaced: true,
            subresources: vec!["status", "binding", "eviction"],
            schema: |g| g.subschema_for::<Pod>(),
            definition: "io.k8s.api.core.v1.Pod".into(),
        },
        ServedResource {
            group: "",
            version: "v1",
            kind: "Service",
            plural: "services",
            namespaced: true,
            subresources: vec!["status"],
            schema: |g| g.subschema_for::<Service>(),
            definition: "io.k8s.api.core.v1.Service".into(),
        },
        ServedResource {
            group: "",
            version: "v1",
            kind: "ConfigMap",
            plural: "configmaps",
            namespaced: true,
            subresources: vec![],
            schema: |g| g.subschema_for::<ConfigMap>(),
            definition: "io.k8s.api.core.v1.ConfigMap".into(),
        },
        ServedResource {
            group: "",
            version: "v1",
            kind: "Namespace",
            plural: "namespaces",
            namespaced: false,
            subresources: vec!["status"],
            schema: |g| g.subschema_for::<Namespace>(),
            definition: "io.k8s.api.core.v1.Namespace".into(),
        },
        ServedResource {
            group: "",
            version: "v1",
            kind: "Node",
            plural: "nodes",
            namespaced: false,
            subresources: vec!["status"],
            schema: |g| g.subschema_for::<Node>(),
            definition: "io.k8s.api.core.v1.Node".into(),
        },
        ServedResource {
            group: "apps",
            version: "v1",
            kind: "Deployment",
            plural: "deployments",
            namespaced: true,
            subresources: vec!["status", "scale"],
            schema: |g| g.subschema_for::<Deployment>(),
            definition: "io.k8s.api.apps.v1.Deployment".into(),
        },
    ]
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("documents are JSON")
}

/// Every `$ref` in `doc` names an entry of `doc[section]`.
fn assert_refs_resolve(doc: &Value, prefix: &str, section: &Value) {
    let mut refs = Vec::new();
    schema::collect_refs(doc, "#/", &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = format!("#/{reference}");
        let name = name
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("foreign ref {name}"));
        assert!(section.get(name).is_some(), "unresolved ref {name}");
    }
}

#[test]
fn v2_has_patch_metadata_gvks_and_resolving_refs() {
    let api = OpenApi::new(&resources());
    let v2 = parse(&api.v2_json());
    let definitions = &v2["definitions"];
    let containers = &definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    let volumes = &definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let selector = &definitions["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"];
    assert_eq!(selector["x-kubernetes-map-type"], "atomic");

    let pod = &definitions["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    // Upstream's required fields, not k8s-openapi's (which requires `metadata`).
    assert!(pod.get("required").is_none(), "{}", pod["required"]);
    let selector = &definitions["io.k8s.api.core.v1.ConfigMapKeySelector"];
    assert_eq!(selector["required"], json!(["key"]));
    let list = &definitions["io.k8s.api.apps.v1.DeploymentList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "DeploymentList"
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.Deployment"
    );

    let quantity = &definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"];
    assert_eq!(quantity["type"], "string");
    assert!(quantity.get("x-kubernetes-int-or-string").is_none());
    let int_or_string = &definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["format"], "int-or-string");

    let patch = &v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Pod");
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["body", "dryRun", "fieldManager", "fieldValidation", "force"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let scale = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["put"]["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
    let list_all = &v2["paths"]["/api/v1/pods"]["get"];
    assert_eq!(list_all["operationId"], "listCoreV1PodForAllNamespaces");
    assert!(
        v2["paths"]
            .get("/api/v1/namespaces/{namespace}/nodes")
            .is_none()
    );
    assert_refs_resolve(&v2, "#/definitions/", definitions);
}

#[test]
fn v3_documents_per_group_version() {
    let api = OpenApi::new(&resources());
    let index = parse(&api.v3_index());
    let paths: Vec<&String> = index["paths"]
        .as_object()
        .expect("index paths")
        .keys()
        .collect();
    assert_eq!(paths, ["api/v1", "apis/apps/v1"]);
    for path in api.v3_paths() {
        let url = index["paths"][path]["serverRelativeURL"]
            .as_str()
            .expect("url");
        let hash = api.v3_hash(path).expect("hash");
        assert_eq!(url, format!("/openapi/v3/{path}?hash={hash}"));
        let doc = parse(&api.v3_document(path).expect("document"));
        assert_eq!(doc["openapi"], "3.0.0");
        assert_refs_resolve(&doc, "#/components/schemas/", &doc["components"]["schemas"]);
    }
    assert!(api.v3_document("apis/batch/v1").is_none());

    let apps = parse(&api.v3_document("apis/apps/v1").expect("apps"));
    let schemas = &apps["components"]["schemas"];
    assert!(
        schemas.get("io.k8s.api.core.v1.Pod").is_none(),
        "only reachable definitions"
    );
    let template = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["template"];
    assert_eq!(
        template["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"
    );
    assert!(template.get("$ref").is_none());
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    let quantity = &schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"];
    assert_eq!(
        quantity["oneOf"],
        json!([{"type": "string"}, {"type": "number"}])
    );
    let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(
        int_or_string["oneOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );

    let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert!(
        patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_some()
    );
    let field_validation = patch["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "fieldValidation");
    assert_eq!(
        field_validation.expect("fieldValidation")["schema"]["type"],
        "string"
    );
}

#[test]
fn documents_are_deterministic() {
    let (a, b) = (OpenApi::new(&resources()), OpenApi::new(&resources()));
    assert_eq!(a.v2_json(), b.v2_json());
    assert_eq!(a.v2_hash(), b.v2_hash());
    assert_eq!(a.v3_index_hash(), b.v3_index_hash());
    assert_eq!(a.v3_index(), b.v3_index());
    assert_ne!(a.v3_hash("api/v1"), a.v3_hash("apis/apps/v1"));
}

#[test]
fn extension_table_lookup() {
    let e = extensions::field("io.k8s.api.core.v1.PodSpec", "containers").expect("containers");
    assert_eq!(
        (e.patch_strategy, e.patch_merge_key),
        (Some("merge"), Some("name"))
    );
    assert!(extensions::field("io.k8s.api.core.v1.PodSpec", "nodeName").is_none());
    let sorted = |a: &extensions::FieldExtensions, b: &extensions::FieldExtensions| {
        (a.definition, a.field) < (b.definition, b.field)
    };
    assert!(
        extensions::FIELD_EXTENSIONS
            .windows(2)
            .all(|w| sorted(&w[0], &w[1]))
    );
    let ports = extensions::fields_of("io.k8s.api.core.v1.ServiceSpec");
    assert!(
        ports
            .iter()
            .any(|e| e.field == "ports" && e.list_map_keys == ["port", "protocol"])
    );
}

// ---- kubectl against a tiny HTTP server that serves the documents and minimal discovery ----

struct Recorded {
    /// `METHOD PATH?QUERY content-type` of every request, and the bodies of writes.
    requests: Vec<String>,
    bodies: Vec<String>,
}

fn discovery(path: &str) -> Option<Value> {
    let resource = |name: &str, kind: &str, namespaced: bool| {
        json!({
            "name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced,
            "kind": kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        })
    };
    Some(match path {
        "/api" => {
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        }
        "/apis" => json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{
                "name": "apps",
                "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
            }],
        }),
        "/api/v1" => json!({
            "kind": "APIResourceList", "groupVersion": "v1",
            "resources": [
                resource("pods", "Pod", true), resource("services", "Service", true),
                resource("configmaps", "ConfigMap", true),
                resource("namespaces", "Namespace", false),
                resource("nodes", "Node", false),
            ],
        }),
        "/apis/apps/v1" => json!({
            "kind": "APIResourceList", "groupVersion": "apps/v1",
            "resources": [resource("deployments", "Deployment", true)],
        }),
        "/version" => json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0"}),
        _ => return None,
    })
}

/// The Deployment `apply` finds on the server: it was applied before with image nginx:1.
fn existing_deployment() -> Value {
    let applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "web", "image": "nginx:1"},
                {"name": "side", "image": "busybox"},
            ]},
        }},
    });
    let mut current = applied.clone();
    current["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()});
    current["metadata"]["resourceVersion"] = "5".into();
    current
}

fn respond(stream: &mut TcpStream, code: u16, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

fn serve_connection(
    mut stream: TcpStream,
    api: &OpenApi,
    log: &Mutex<Recorded>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("").to_owned(),
        );
        let (mut length, mut accept, mut content_type) = (0, String::new(), String::new());
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "accept" => accept = value.trim().to_owned(),
                "content-type" => content_type = value.trim().to_owned(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        {
            let mut log = log.lock().expect("lock");
            log.requests
                .push(format!("{method} {target} {content_type}"));
            if !body.is_empty() {
                log.bodies.push(String::from_utf8_lossy(&body).into_owned());
            }
        }
        let path = target.split('?').next().unwrap_or("");
        let not_found = json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
            "code": 404,
        });
        match (method, path) {
            ("GET", "/openapi/v2") if accept.contains("protobuf") => {
                respond(&mut stream, 406, b"{}")?
            }
            ("GET", "/openapi/v2") => respond(&mut stream, 200, &api.v2_json())?,
            ("GET", "/openapi/v3") => respond(&mut stream, 200, &api.v3_index())?,
            ("GET", p) if p.starts_with("/openapi/v3/") => {
                match api.v3_document(&p["/openapi/v3/".len()..]) {
                    Some(doc) => respond(&mut stream, 200, &doc)?,
                    None => respond(&mut stream, 404, not_found.to_string().as_bytes())?,
                }
            }
            ("GET", "/apis/apps/v1/namespaces/default/deployments/web") => respond(
                &mut stream,
                200,
                existing_deployment().to_string().as_bytes(),
            )?,
            ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web") => respond(
                &mut stream,
                200,
                existing_deployment().to_string().as_bytes(),
            )?,
            ("POST", _) => respond(&mut stream, 201, &body)?,
            ("GET", p) => match discovery(p) {
                Some(doc) => respond(&mut stream, 200, doc.to_string().as_bytes())?,
                None => respond(&mut stream, 404, not_found.to_string().as_bytes())?,
            },
            _ => respond(&mut stream, 405, b"{}")?,
        }
    }
}

struct Kubectl {
    server: String,
    dir: std::path::PathBuf,
    log: Arc<Mutex<Recorded>>,
}

impl Kubectl {
    fn start() -> Option<Kubectl> {
        if Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_err()
        {
            eprintln!("kubectl not found: skipping the kubectl end-to-end test");
            return None;
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let server = format!("http://{}", listener.local_addr().expect("addr"));
        let api = Arc::new(OpenApi::new(&resources()));
        let log = Arc::new(Mutex::new(Recorded {
            requests: Vec::new(),
            bodies: Vec::new(),
        }));
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (api, log) = (api.clone(), shared.clone());
                std::thread::spawn(move || serve_connection(stream, &api, &log));
            }
        });
        let dir = std::env::temp_dir().join(format!("openapi-kubectl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("kubeconfig"), "apiVersion: v1\nkind: Config\n")
            .expect("kubeconfig");
        Some(Kubectl { server, dir, log })
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .args(["--server", &self.server, "--cache-dir"])
            .arg(self.dir.join("cache"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("kubectl runs");
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.unwrap_or("").as_bytes())
                .expect("stdin");
        }
        let out = child.wait_with_output().expect("kubectl finishes");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    }
}

#[test]
fn kubectl_explain_create_and_apply() {
    let Some(kubectl) = Kubectl::start() else {
        return;
    };

    let (ok, out, err) = kubectl.run(&["explain", "pods.spec.containers.ports"], None);
    assert!(ok, "explain failed: {err}\n{out}");
    assert!(
        out.contains("containerPort") && out.contains("FIELD: ports"),
        "{out}"
    );

    let (ok, out, err) = kubectl.run(&["explain", "deployments.spec.strategy"], None);
    assert!(ok, "explain failed: {err}\n{out}");
    assert!(
        out.contains("GROUP:      apps") && out.contains("rollingUpdate"),
        "{out}"
    );

    let (ok, out, err) = kubectl.run(&["explain", "deployment", "--recursive"], None);
    assert!(ok, "explain failed: {err}\n{out}");
    assert!(
        out.contains("maxSurge") && out.contains("containerPort"),
        "{out}"
    );

    let (ok, out, err) = kubectl.run(&["explain", "services.spec.ports.targetPort"], None);
    assert!(ok && out.contains("IntOrString"), "{err}\n{out}");

    // --validate=strict (the default): kubectl looks in the v3 document for fieldValidation
    // on the kind's PATCH operation and, finding it, leaves validation to the server.
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    })
    .to_string();
    let (ok, out, err) = kubectl.run(&["create", "-f", "-"], Some(&pod));
    assert!(ok, "create failed: {err}\n{out}");
    let log = kubectl.log.lock().expect("lock").requests.clone();
    assert!(
        log.iter()
            .any(|r| r.starts_with("POST /api/v1/namespaces/default/pods?")
                && r.contains("fieldValidation=Strict")),
        "{log:#?}"
    );

    // Client-side apply of a change: the strategic merge patch comes from the v3 schema
    // (merge key `name` on containers) without falling back.
    let changed = existing_deployment();
    let mut applied: Value = serde_json::from_str(
        changed["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .expect("annotation"),
    )
    .expect("json");
    applied["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2".into();
    let (ok, out, err) = kubectl.run(&["apply", "-v=5", "-f", "-"], Some(&applied.to_string()));
    assert!(ok, "apply failed: {err}\n{out}");
    assert!(!err.contains("warning"), "{err}");
    let recorded = kubectl.log.lock().expect("lock");
    let patch = recorded
        .requests
        .iter()
        .find(|r| r.starts_with("PATCH"))
        .expect("a PATCH");
    assert!(
        patch.contains("application/strategic-merge-patch+json"),
        "{patch}"
    );
    assert!(patch.contains("fieldValidation=Strict"), "{patch}");
    let body = recorded.bodies.last().expect("patch body");
    let body: Value = serde_json::from_str(body).expect("patch is JSON");
    let spec = &body["spec"]["template"]["spec"];
    assert_eq!(
        spec["containers"],
        json!([{"name": "web", "image": "nginx:2"}]),
        "{body}"
    );
    assert_eq!(
        spec["$setElementOrder/containers"],
        json!([{"name": "web"}, {"name": "side"}])
    );
    // Validation and patching used the v3 documents: the v2 one (protobuf for kubectl) was
    // never asked for.
    assert!(
        recorded
            .requests
            .iter()
            .any(|r| r.starts_with("GET /openapi/v3/apis/apps/v1?hash="))
    );
    assert!(
        !recorded
            .requests
            .iter()
            .any(|r| r.starts_with("GET /openapi/v2"))
    );
    drop(recorded);
    let _ = std::fs::remove_dir_all(&kubectl.dir);
}
