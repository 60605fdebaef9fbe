//! Admission through real clients: what each plugin adds to or refuses of a write, with the
//! messages upstream gives.

use k8s_openapi::api::core::v1::{LimitRange, Namespace, Node, Pod};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use ultrak8s_conformance::cluster::TestCluster;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn refusal(result: Result<impl Sized, kube::Error>) -> (u16, String) {
    match result {
        Ok(_) => (0, String::new()),
        Err(kube::Error::Api(status)) => (status.code, status.message),
        Err(other) => (1, other.to_string()),
    }
}

async fn namespace(cluster: &TestCluster, name: &str, labels: Value) -> TestResult {
    let api: Api<Namespace> = Api::all(cluster.client().await?);
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))?;
    api.create(&PostParams::default(), &ns).await?;
    Ok(())
}

fn pod(name: &str, spec: Value) -> Result<Pod, serde_json::Error> {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_their_service_account_token_priority_and_tolerations() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "apps", json!({})).await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client().await?, "apps");
    let created = pods
        .create(
            &PostParams::default(),
            &pod(
                "web",
                json!({"containers": [{"name": "c", "image": "nginx"}]}),
            )?,
        )
        .await?;
    let spec = created.spec.expect("spec");
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with("kube-api-access-"))
        .expect("the token volume");
    let mount = spec.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume.name)
        .expect("mounted");
    assert_eq!(
        mount.mount_path,
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    assert_eq!(spec.priority, Some(0));
    let tolerated: Vec<_> = spec
        .tolerations
        .iter()
        .flatten()
        .filter_map(|t| t.key.clone())
        .collect();
    assert_eq!(
        tolerated,
        [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable"
        ]
    );

    let critical = pods
        .create(
            &PostParams::default(),
            &pod(
                "agent",
                json!({"priorityClassName": "system-node-critical",
                       "automountServiceAccountToken": false,
                       "containers": [{"name": "c", "image": "agent"}]}),
            )?,
        )
        .await?;
    let spec = critical.spec.expect("spec");
    assert_eq!(spec.priority, Some(2_000_001_000));
    assert!(
        spec.volumes.is_none_or(|v| v.is_empty()),
        "opted out of the token"
    );

    let (code, message) = refusal(
        pods.create(
            &PostParams::default(),
            &pod(
                "lost",
                json!({"priorityClassName": "gold", "containers": [{"name": "c", "image": "x"}]}),
            )?,
        )
        .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "pods \"lost\" is forbidden: no PriorityClass with name gold was found"
    );
    let (code, message) = refusal(
        pods.create(
            &PostParams::default(),
            &pod(
                "ghost",
                json!({"serviceAccountName": "nobody", "containers": [{"name": "c", "image": "x"}]}),
            )?,
        )
        .await,
    );
    assert_eq!(code, 403);
    assert!(
        message.contains("serviceaccount \"nobody\" not found"),
        "{message}"
    );

    // Only one PriorityClass may be the default.
    let classes: Api<PriorityClass> = Api::all(cluster.client().await?);
    for (name, result) in [("first", true), ("second", false)] {
        let class: PriorityClass = serde_json::from_value(
            json!({"metadata": {"name": name}, "value": 1000, "globalDefault": true}),
        )?;
        let created = classes.create(&PostParams::default(), &class).await;
        assert_eq!(created.is_ok(), result, "{name}: {:?}", created.err());
    }
    let defaulted = pods
        .create(
            &PostParams::default(),
            &pod(
                "batch",
                json!({"containers": [{"name": "c", "image": "x"}]}),
            )?,
        )
        .await?;
    let spec = defaulted.spec.expect("spec");
    assert_eq!(
        (spec.priority, spec.priority_class_name.as_deref()),
        (Some(1000), Some("first"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_security_levels_refuse_with_upstreams_message() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(
        &cluster,
        "locked",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client().await?, "locked");
    let (code, message) = refusal(
        pods.create(
            &PostParams::default(),
            &pod(
                "pause",
                json!({"containers": [{"name": "pause", "image": "pause"}]}),
            )?,
        )
        .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "pods \"pause\" is forbidden: violates PodSecurity \"restricted:latest\": \
         allowPrivilegeEscalation != false (container \"pause\" must set \
         securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \
         \"pause\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true \
         (pod or container \"pause\" must set securityContext.runAsNonRoot=true), \
         seccompProfile (pod or container \"pause\" must set securityContext.seccompProfile.type \
         to \"RuntimeDefault\" or \"Localhost\")"
    );
    let compliant = pod(
        "ok",
        json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "x", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
        }),
    )?;
    pods.create(&PostParams::default(), &compliant).await?;

    // Tightening a namespace warns about the pods that would not be admitted now.
    namespace(&cluster, "open", json!({})).await?;
    let open: Api<Pod> = Api::namespaced(cluster.client().await?, "open");
    open.create(
        &PostParams::default(),
        &pod(
            "root",
            json!({"containers": [{"name": "c", "image": "x",
                                             "securityContext": {"privileged": true}}]}),
        )?,
    )
    .await?;
    let out = cluster
        .kubectl(
            &[
                "label",
                "namespace",
                "open",
                "pod-security.kubernetes.io/enforce=baseline",
            ],
            None,
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("existing pods in namespace \"open\" violate the new PodSecurity enforce level \"baseline:latest\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("root: privileged"), "{}", out.stderr);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_ranges_default_and_bound_containers() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "limited", json!({})).await?;
    let client = cluster.client().await?;
    let ranges: Api<LimitRange> = Api::namespaced(client.clone(), "limited");
    let range: LimitRange = serde_json::from_value(json!({
        "metadata": {"name": "limits"},
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "max": {"cpu": "1", "memory": "1Gi"},
            "min": {"cpu": "50m"},
        }]}
    }))?;
    ranges.create(&PostParams::default(), &range).await?;
    let pods: Api<Pod> = Api::namespaced(client, "limited");
    let created = pods
        .create(
            &PostParams::default(),
            &pod(
                "plain",
                json!({"containers": [{"name": "app", "image": "x"}]}),
            )?,
        )
        .await?;
    let resources = created.spec.expect("spec").containers[0]
        .resources
        .clone()
        .expect("resources");
    assert_eq!(resources.requests.expect("requests")["cpu"].0, "100m");
    assert_eq!(resources.limits.expect("limits")["memory"].0, "256Mi");
    let annotations = created.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("kubernetes.io/limit-ranger")
            .map(String::as_str),
        Some(
            "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app"
        )
    );
    let (code, message) = refusal(
        pods.create(
            &PostParams::default(),
            &pod(
                "greedy",
                json!({"containers": [{"name": "app", "image": "x",
                                       "resources": {"limits": {"cpu": "2", "memory": "2Gi"}}}]}),
            )?,
        )
        .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "pods \"greedy\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, \
         maximum memory usage per Container is 1Gi, but limit is 2Gi]"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_grant_only_what_their_writer_holds() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "team", json!({})).await?;
    let admin = cluster.client().await?;
    // dana may manage roles and bindings in "team" (but not `escalate` or `bind`, which `*`
    // would include), and read pods there.
    let rules = vec![
        PolicyRule {
            api_groups: Some(vec!["rbac.authorization.k8s.io".into()]),
            resources: Some(vec!["roles".into(), "rolebindings".into()]),
            verbs: ["create", "get", "list", "update", "patch", "delete"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        },
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            verbs: vec!["get".into(), "list".into()],
            ..Default::default()
        },
    ];
    let role = Role {
        metadata: kube::api::ObjectMeta {
            name: Some("manager".into()),
            ..Default::default()
        },
        rules: Some(rules),
    };
    Api::<Role>::namespaced(admin.clone(), "team")
        .create(&PostParams::default(), &role)
        .await?;
    let binding = RoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some("dana-manages".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "manager".into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: "dana".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin, "team")
        .create(&PostParams::default(), &binding)
        .await?;
    let dana = cluster.client_as("dana", &[]).await?;
    let roles: Api<Role> = Api::namespaced(dana, "team");
    let reader: Role = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }))?;
    let mut created = roles.create(&PostParams::default(), &reader).await;
    for _ in 0..50 {
        if created.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        created = roles.create(&PostParams::default(), &reader).await;
    }
    created?;
    let secrets: Role = serde_json::from_value(json!({
        "metadata": {"name": "secrets"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }))?;
    let (code, message) = refusal(roles.create(&PostParams::default(), &secrets).await);
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "roles.rbac.authorization.k8s.io \"secrets\" is forbidden: user \"dana\" \
         (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not \
         currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_writes_only_itself() -> TestResult {
    let cluster = TestCluster::start().await?;
    let node1 = cluster
        .client_as("system:node:node-1", &["system:nodes"])
        .await?;
    let nodes: Api<Node> = Api::all(node1.clone());
    let own: Node = serde_json::from_value(json!({"metadata": {"name": "node-1",
        "labels": {"kubernetes.io/hostname": "node-1"}}}))?;
    nodes.create(&PostParams::default(), &own).await?;
    let other: Node = serde_json::from_value(json!({"metadata": {"name": "node-2"}}))?;
    let (code, message) = refusal(nodes.create(&PostParams::default(), &other).await);
    assert_eq!(code, 403);
    assert!(
        message.contains("is not allowed to modify node \"node-2\""),
        "{message}"
    );
    let role_label = json!({"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}});
    let (code, message) = refusal(
        nodes
            .patch(
                "node-1",
                &PatchParams::default(),
                &Patch::Merge(&role_label),
            )
            .await,
    );
    assert_eq!(code, 403);
    assert!(
        message.contains("is not allowed to modify labels: node-role.kubernetes.io/control-plane"),
        "{message}"
    );
    let taint = json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
    let (code, _) = refusal(
        nodes
            .patch("node-1", &PatchParams::default(), &Patch::Merge(&taint))
            .await,
    );
    assert_eq!(code, 403);
    let pods: Api<Pod> = Api::namespaced(node1, "default");
    let (code, message) = refusal(
        pods.create(
            &PostParams::default(),
            &pod(
                "sneaky",
                json!({"nodeName": "node-1",
                                  "containers": [{"name": "c", "image": "x"}]}),
            )?,
        )
        .await,
    );
    assert_eq!(code, 403);
    assert!(message.contains("can only create mirror pods"), "{message}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_hold_under_concurrent_creates() -> TestResult {
    use k8s_openapi::api::core::v1::ResourceQuota;
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "quoted", json!({})).await?;
    let client = cluster.client().await?;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "quoted");
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "small"},
        "spec": {"hard": {"pods": "5", "requests.cpu": "2"}},
    }))?;
    quotas.create(&PostParams::default(), &quota).await?;
    // The keeper fills in the status; until then creates are refused as upstream refuses them.
    let mut ready = false;
    for _ in 0..100 {
        let current = quotas.get("small").await?;
        if current
            .status
            .and_then(|s| s.used)
            .is_some_and(|u| u.contains_key("pods"))
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready, "the quota's status was never computed");

    let pods: Api<Pod> = Api::namespaced(client, "quoted");
    let attempts = (0..20).map(|i| {
        let pods = pods.clone();
        async move {
            let spec = json!({"containers": [{"name": "c", "image": "x",
                              "resources": {"requests": {"cpu": "100m"}}}]});
            let pod = pod(&format!("p{i}"), spec).expect("pod");
            pods.create(&PostParams::default(), &pod).await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 5, "exactly the quota, never more");
    let refused: Vec<(u16, String)> = results
        .into_iter()
        .filter(|r| r.is_err())
        .map(refusal)
        .collect();
    assert!(refused.iter().all(|(code, _)| *code == 403), "{refused:?}");
    assert!(
        refused[0].1.ends_with(
            "is forbidden: exceeded quota: small, requested: pods=1, used: pods=5, limited: pods=5"
        ),
        "{}",
        refused[0].1
    );
    let used = quotas
        .get("small")
        .await?
        .status
        .and_then(|s| s.used)
        .unwrap_or_default();
    assert_eq!(used["pods"].0, "5");
    assert_eq!(used["requests.cpu"].0, "500m");

    // A deleted pod gives its share back.
    pods.delete("p0", &Default::default()).await.ok();
    let deleted = pods.list(&Default::default()).await?.items.len();
    assert_eq!(deleted, 4);
    let mut admitted_late = false;
    for _ in 0..100 {
        let spec = json!({"containers": [{"name": "c", "image": "x",
                          "resources": {"requests": {"cpu": "100m"}}}]});
        if pods
            .create(&PostParams::default(), &pod("late", spec)?)
            .await
            .is_ok()
        {
            admitted_late = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        admitted_late,
        "the deleted pod's share was never given back"
    );
    Ok(())
}
