//! kubectl (v1.32, on the machine) against an in-process API server, as a user drives it.

use ultrak8s_conformance::cluster::TestCluster;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox:1.36
"#;

async fn cluster() -> TestCluster {
    TestCluster::start().await.expect("cluster starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_discovery_and_system_namespaces() {
    let c = cluster().await;
    let version = c
        .kubectl(&["version", "-o", "json"], None)
        .await
        .expect_ok("version");
    let version: serde_json::Value = serde_json::from_str(&version).expect("json");
    assert_eq!(version["serverVersion"]["major"], "1");
    assert_eq!(version["serverVersion"]["minor"], "35");

    let namespaces = c
        .kubectl(&["get", "namespaces"], None)
        .await
        .expect_ok("get ns");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(ns), "{ns} missing:\n{namespaces}");
    }
    assert!(namespaces.contains("Active"), "{namespaces}");

    let resources = c
        .kubectl(&["api-resources"], None)
        .await
        .expect_ok("api-resources");
    for line in ["deployments", "deploy", "apps/v1", "true", "Deployment"] {
        assert!(resources.contains(line), "{line} missing:\n{resources}");
    }
    assert!(resources.contains("leases") && resources.contains("coordination.k8s.io/v1"));
    let versions = c
        .kubectl(&["api-versions"], None)
        .await
        .expect_ok("api-versions");
    for gv in [
        "v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v2",
        "rbac.authorization.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing:\n{versions}"
        );
    }
    let svc = c
        .kubectl(
            &[
                "get",
                "service",
                "kubernetes",
                "-o",
                "jsonpath={.spec.clusterIP}",
            ],
            None,
        )
        .await
        .expect_ok("get kubernetes service");
    assert_eq!(svc, "10.96.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_label_patch_scale_delete() {
    let c = cluster().await;
    // kubectl sends these bodies as protobuf.
    c.kubectl(&["create", "namespace", "shop"], None)
        .await
        .expect_ok("create ns");
    c.kubectl(
        &[
            "-n",
            "shop",
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=b",
        ],
        None,
    )
    .await
    .expect_ok("create configmap");
    let data = c
        .kubectl(
            &[
                "-n",
                "shop",
                "get",
                "configmap",
                "cfg",
                "-o",
                "jsonpath={.data.a}",
            ],
            None,
        )
        .await
        .expect_ok("get configmap");
    assert_eq!(data, "b");
    c.kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT))
        .await
        .expect_ok("apply");
    let yaml = c
        .kubectl(
            &["-n", "shop", "get", "deployment", "web", "-o", "yaml"],
            None,
        )
        .await
        .expect_ok("get -o yaml");
    assert!(
        yaml.contains("name: web") && yaml.contains("uid:") && yaml.contains("resourceVersion:")
    );
    assert!(
        yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );

    let table = c
        .kubectl(&["-n", "shop", "get", "deploy"], None)
        .await
        .expect_ok("get");
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("web"), "{table}");

    c.kubectl(
        &["-n", "shop", "label", "deploy", "web", "tier=front"],
        None,
    )
    .await
    .expect_ok("label");
    c.kubectl(
        &["-n", "shop", "annotate", "deploy", "web", "owner=team-a"],
        None,
    )
    .await
    .expect_ok("annotate");
    let selected = c
        .kubectl(
            &[
                "-n",
                "shop",
                "get",
                "deploy",
                "-l",
                "tier=front",
                "-o",
                "name",
            ],
            None,
        )
        .await
        .expect_ok("get -l");
    assert_eq!(selected.trim(), "deployment.apps/web");
    let none = c
        .kubectl(
            &[
                "-n",
                "shop",
                "get",
                "deploy",
                "-l",
                "tier=back",
                "-o",
                "name",
            ],
            None,
        )
        .await
        .expect_ok("get -l none");
    assert_eq!(none.trim(), "");

    // Strategic merge patch: the container named sidecar is merged by name, nginx kept.
    c.kubectl(
        &[
            "-n", "shop", "patch", "deploy", "web", "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.37"}]}}}}"#,
        ],
        None,
    )
    .await
    .expect_ok("strategic patch");
    let images = c
        .kubectl(
            &[
                "-n",
                "shop",
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}",
            ],
            None,
        )
        .await
        .expect_ok("get images");
    assert_eq!(images.trim(), "nginx=nginx:1.27 sidecar=busybox:1.37");

    c.kubectl(
        &[
            "-n",
            "shop",
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"metadata":{"labels":{"tier":null}}}"#,
        ],
        None,
    )
    .await
    .expect_ok("merge patch");
    c.kubectl(
        &["-n", "shop", "patch", "deploy", "web", "--type=json", "-p",
          r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.28"}]"#],
        None,
    )
    .await
    .expect_ok("json patch");
    let after = c
        .kubectl(&["-n", "shop", "get", "deploy", "web", "-o", "json"], None)
        .await
        .expect_ok("get json");
    let after: serde_json::Value = serde_json::from_str(&after).expect("json");
    assert!(after["metadata"]["labels"].get("tier").is_none());
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(
        after["metadata"]["generation"], 3,
        "the spec changed twice after create, labels do not count"
    );

    c.kubectl(
        &["-n", "shop", "scale", "deploy", "web", "--replicas=5"],
        None,
    )
    .await
    .expect_ok("scale");
    let replicas = c
        .kubectl(
            &[
                "-n",
                "shop",
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            None,
        )
        .await
        .expect_ok("replicas");
    assert_eq!(replicas, "5");

    // -o wide adds the columns upstream marks priority 1.
    let wide = c
        .kubectl(&["-n", "shop", "get", "deploy", "web", "-o", "wide"], None)
        .await
        .expect_ok("get -o wide");
    let mut lines = wide.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{wide}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row[0], "web", "{wide}");
    assert_eq!(
        &row[5..],
        ["nginx,sidecar", "nginx:1.28,busybox:1.37", "app=web"],
        "{wide}"
    );

    c.kubectl(&["-n", "shop", "delete", "deploy", "web"], None)
        .await
        .expect_ok("delete");
    let gone = c
        .kubectl(&["-n", "shop", "get", "deploy", "web"], None)
        .await;
    assert!(!gone.ok);
    assert!(
        gone.stderr.contains("NotFound") && gone.stderr.contains("\"web\" not found"),
        "{}",
        gone.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let c = cluster().await;
    let bad_name = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid","namespace":"default"}}"#;
    let out = c.kubectl(&["create", "-f", "-"], Some(bad_name)).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("is invalid") && out.stderr.contains("metadata.name"),
        "{}",
        out.stderr
    );

    let missing_ns =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"nowhere"}}"#;
    let out = c.kubectl(&["create", "-f", "-"], Some(missing_ns)).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("namespaces \"nowhere\" not found"),
        "{}",
        out.stderr
    );

    let unknown = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"y","namespace":"default"},"bogus":1}"#;
    let out = c.kubectl(&["create", "-f", "-"], Some(unknown)).await;
    assert!(!out.ok, "strict validation refuses unknown fields");
    assert!(
        out.stderr.contains("unknown field \"bogus\""),
        "{}",
        out.stderr
    );

    let pod_without_image = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c"}]}}"#;
    let out = c
        .kubectl(&["create", "-f", "-"], Some(pod_without_image))
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("spec.containers[0].image: Required value"),
        "{}",
        out.stderr
    );

    let list = c
        .kubectl(
            &["get", "configmaps,pods", "-n", "default", "-o", "name"],
            None,
        )
        .await
        .expect_ok("list");
    // Only what every namespace holds from the start.
    assert_eq!(
        list.trim(),
        "configmap/kube-root-ca.crt",
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_edit_wait_describe_and_delete_namespace() {
    let c = cluster().await;
    let explain = c
        .kubectl(&["explain", "pods.spec.containers.ports"], None)
        .await
        .expect_ok("explain");
    assert!(explain.contains("containerPort"), "{explain}");

    c.kubectl(
        &["apply", "-f", "-"],
        Some("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}"),
    )
    .await
    .expect_ok("create ns");
    c.kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT))
        .await
        .expect_ok("apply");

    // `kubectl edit` runs $KUBE_EDITOR on a temporary file and sends the difference.
    let editor = c.data_dir().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/replicas: 2/replicas: 4/' \"$1\"\n",
    )
    .expect("editor");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let editor = editor.display().to_string();
    c.kubectl_env(
        &["-n", "shop", "edit", "deployment", "web"],
        None,
        &[("KUBE_EDITOR", &editor)],
    )
    .await
    .expect_ok("edit");
    let replicas = c
        .kubectl(
            &[
                "-n",
                "shop",
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            None,
        )
        .await
        .expect_ok("replicas");
    assert_eq!(replicas, "4");

    let described = c
        .kubectl(&["-n", "shop", "describe", "deployment", "web"], None)
        .await
        .expect_ok("describe");
    assert!(
        described.contains("Name:")
            && described.contains("web")
            && described.contains("nginx:1.27"),
        "{described}"
    );

    // `kubectl wait` watches until a condition holds: here, until the object is gone.
    let waiter = {
        let kubeconfig = c.kubeconfig.clone();
        let home = c.data_dir().to_path_buf();
        tokio::spawn(async move {
            tokio::process::Command::new("kubectl")
                .arg(format!("--kubeconfig={}", kubeconfig.display()))
                .args([
                    "-n",
                    "shop",
                    "wait",
                    "--for=delete",
                    "deployment/web",
                    "--timeout=20s",
                ])
                .env("HOME", home)
                .output()
                .await
                .expect("kubectl wait")
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    c.kubectl(&["-n", "shop", "delete", "deployment", "web"], None)
        .await
        .expect_ok("delete");
    let waited = waiter.await.expect("join");
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );

    c.kubectl(&["-n", "shop", "apply", "-f", "-"], Some("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"},\"data\":{\"a\":\"1\"}}"))
        .await
        .expect_ok("configmap");
    c.kubectl(&["delete", "namespace", "shop", "--timeout=20s"], None)
        .await
        .expect_ok("delete namespace");
    let gone = c.kubectl(&["get", "namespace", "shop"], None).await;
    assert!(!gone.ok && gone.stderr.contains("not found"), "{gone:?}");
    let leftovers = c
        .kubectl(&["get", "configmaps", "-A", "-o", "name"], None)
        .await
        .expect_ok("list");
    assert!(
        !leftovers.contains("cfg"),
        "the namespace's content went with it: {leftovers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_changes_as_they_happen() {
    let c = cluster().await;
    let kubeconfig = c.kubeconfig.clone();
    let home = c.data_dir().to_path_buf();
    let watcher = tokio::spawn(async move {
        tokio::process::Command::new("timeout")
            .args(["6", "kubectl"])
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args([
                "get",
                "configmaps",
                "-n",
                "default",
                "-w",
                "--output-watch-events",
            ])
            .env("HOME", home)
            .output()
            .await
            .expect("kubectl get -w")
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for name in ["first", "second"] {
        let body = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"{name}\",\"namespace\":\"default\"}}}}"
        );
        c.kubectl(&["apply", "-f", "-"], Some(&body))
            .await
            .expect_ok("create");
    }
    c.kubectl(&["-n", "default", "delete", "configmap", "first"], None)
        .await
        .expect_ok("delete");
    let out = watcher.await.expect("join");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("ADDED") && printed.contains("first") && printed.contains("second"),
        "{printed}"
    );
    assert!(printed.contains("DELETED"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_that_share_storage_convert() {
    let c = cluster().await;
    let hpa = r#"{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler",
        "metadata":{"name":"web","namespace":"default"},
        "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},
                "minReplicas":1,"maxReplicas":5,"targetCPUUtilizationPercentage":70}}"#;
    c.kubectl(&["apply", "-f", "-"], Some(hpa))
        .await
        .expect_ok("create v1 hpa");
    let v2 = c
        .kubectl(
            &[
                "get",
                "horizontalpodautoscalers.v2.autoscaling",
                "web",
                "-o",
                "jsonpath={.apiVersion} {.spec.metrics[0].resource.target.averageUtilization}",
            ],
            None,
        )
        .await
        .expect_ok("get as v2");
    assert_eq!(v2, "autoscaling/v2 70");
    let v1 = c
        .kubectl(
            &[
                "get",
                "--raw",
                "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
            ],
            None,
        )
        .await
        .expect_ok("get as v1");
    let v1: serde_json::Value = serde_json::from_str(&v1).expect("json");
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);

    let event = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1","namespace":"default"},
        "involvedObject":{"kind":"Pod","name":"p","namespace":"default"},
        "reason":"Started","message":"container started","type":"Normal"}"#;
    c.kubectl(&["create", "-f", "-"], Some(event))
        .await
        .expect_ok("core event");
    let note = c
        .kubectl(
            &[
                "get",
                "events.events.k8s.io",
                "e1",
                "-o",
                "jsonpath={.note} {.regarding.name}",
            ],
            None,
        )
        .await
        .expect_ok("get as events.k8s.io");
    assert_eq!(note, "container started p");
}
