//! Authentication and authorization through real clients (kube-rs and kubectl): who gets in
//! with which credential, and what RBAC and the Node authorizer let each identity do.

use std::collections::HashMap;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use ultrak8s_apiserver::auth::UserInfo;
use ultrak8s_apiserver::auth::authn::{AuthnConfig, bootstrap_token_secret};
use ultrak8s_conformance::cluster::TestCluster;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn code(result: &Result<impl Sized, kube::Error>) -> Option<u16> {
    match result {
        Ok(_) => None,
        Err(kube::Error::Api(status)) => Some(status.code),
        Err(_) => Some(0),
    }
}

fn message(result: &Result<impl Sized, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => status.message.clone(),
        Err(other) => other.to_string(),
        Ok(_) => String::new(),
    }
}

async fn raw(client: &kube::Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("response");
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn namespace(cluster: &TestCluster, name: &str) -> TestResult {
    let api: Api<Namespace> = Api::all(cluster.client().await?);
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    api.create(&PostParams::default(), &ns).await?;
    Ok(())
}

async fn bind_role(
    cluster: &TestCluster,
    ns: &str,
    user: &str,
    rules: Vec<PolicyRule>,
) -> TestResult {
    let admin = cluster.client().await?;
    let roles: Api<Role> = Api::namespaced(admin.clone(), ns);
    let role = Role {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("{user}-role")),
            ..Default::default()
        },
        rules: Some(rules),
    };
    roles.create(&PostParams::default(), &role).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(admin, ns);
    let binding = RoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("{user}-binding")),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: format!("{user}-role"),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: user.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    bindings.create(&PostParams::default(), &binding).await?;
    Ok(())
}

/// RBAC follows the watch cache; a client polls briefly for a new binding, as upstream's
/// e2e tests do.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_users_read_only_the_public_endpoints() -> TestResult {
    let cluster = TestCluster::start().await?;
    let anonymous = cluster.anonymous_client().await?;
    let (status, version) = raw(&anonymous, "GET", "/version", None).await;
    assert_eq!((status, version["major"].as_str()), (200, Some("1")));
    assert_eq!(raw(&anonymous, "GET", "/healthz", None).await.0, 200);
    let (status, body) = raw(&anonymous, "GET", "/api/v1/namespaces", None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" \
         in API group \"\" at the cluster scope"
    );
    let (status, body) = raw(&anonymous, "GET", "/apis", None).await;
    assert_eq!(status, 403, "discovery is for authenticated users: {body}");

    let closed = TestCluster::start_with(AuthnConfig {
        anonymous: false,
        ..AuthnConfig::default()
    })
    .await?;
    let anonymous = closed.anonymous_client().await?;
    let (status, body) = raw(&anonymous, "GET", "/version", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("Unauthorized"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_is_refused_without_a_binding_and_allowed_with_one() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "shop").await?;
    let alice = cluster.client_as("alice", &["developers"]).await?;
    // Every namespaced resource the server serves, with every verb its discovery lists.
    let (_, groups) = raw(&cluster.client().await?, "GET", "/apis", None).await;
    let mut versions = vec!["/api/v1".to_owned()];
    for group in groups["groups"].as_array().into_iter().flatten() {
        for v in group["versions"].as_array().into_iter().flatten() {
            versions.push(format!(
                "/apis/{}",
                v["groupVersion"].as_str().unwrap_or_default()
            ));
        }
    }
    let mut checked = 0;
    let mut probes = Vec::new();
    for prefix in &versions {
        let (_, list) = raw(&cluster.client().await?, "GET", prefix, None).await;
        for r in list["resources"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or_default();
            if name.contains('/') || r["namespaced"] != true {
                continue;
            }
            let collection = format!("{prefix}/namespaces/shop/{name}");
            for verb in r["verbs"].as_array().into_iter().flatten() {
                let (method, path) = match verb.as_str().unwrap_or_default() {
                    "list" => ("GET", collection.clone()),
                    "get" => ("GET", format!("{collection}/x")),
                    "create" => ("POST", collection.clone()),
                    "update" => ("PUT", format!("{collection}/x")),
                    "patch" => ("PATCH", format!("{collection}/x")),
                    "delete" => ("DELETE", format!("{collection}/x")),
                    "deletecollection" => ("DELETE", collection.clone()),
                    "watch" => ("GET", format!("{collection}?watch=true&timeoutSeconds=1")),
                    _ => continue,
                };
                probes.push((method, path));
            }
        }
    }
    for (method, path) in &probes {
        let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
        let (status, answer) = raw(&alice, method, path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(answer["reason"], "Forbidden", "{method} {path}");
        checked += 1;
    }
    assert!(checked > 150, "only {checked} probes");

    let all = PolicyRule {
        api_groups: Some(vec!["*".into()]),
        resources: Some(vec!["*".into()]),
        verbs: vec!["*".into()],
        ..Default::default()
    };
    bind_role(&cluster, "shop", "alice", vec![all]).await?;
    let probe = probes.first().cloned().expect("probes");
    assert!(eventually(|| async { raw(&alice, probe.0, &probe.1, None).await.0 != 403 }).await);
    for (method, path) in &probes {
        // Deleting every role binding in "shop" would take alice's own away.
        if *method == "DELETE" && path.contains("/rbac.authorization.k8s.io/") {
            continue;
        }
        let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
        let (status, answer) = raw(&alice, method, path, body).await;
        assert_ne!(status, 403, "{method} {path}: {answer}");
    }
    // The binding is in "shop" only.
    let elsewhere: Api<ConfigMap> = Api::namespaced(alice.clone(), "default");
    assert_eq!(
        code(&elsewhere.list(&ListParams::default()).await),
        Some(403)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_authenticate_until_they_are_tampered_expired_or_revoked() -> TestResult {
    let mut tokens = HashMap::new();
    tokens.insert(
        "static-token-1".to_owned(),
        UserInfo {
            name: "carol".into(),
            uid: "42".into(),
            groups: vec!["auditors".into()],
            ..UserInfo::default()
        },
    );
    let cluster = TestCluster::start_with(AuthnConfig {
        static_tokens: tokens,
        ..AuthnConfig::default()
    })
    .await?;
    let whoami = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let path = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

    let carol = cluster.client_with_token("static-token-1").await?;
    let (status, review) = raw(&carol, "POST", path, Some(whoami.clone())).await;
    assert_eq!(status, 201, "{review}");
    assert_eq!(review["status"]["userInfo"]["username"], "carol");
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        json!(["auditors", "system:authenticated"])
    );
    let wrong = cluster.client_with_token("static-token-2").await?;
    let (status, body) = raw(&wrong, "POST", path, Some(whoami.clone())).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("Unauthorized"))
    );

    // A bound ServiceAccount token, from the TokenRequest API.
    namespace(&cluster, "jobs").await?;
    let admin = cluster.client().await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "jobs");
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "trainer"}}))?;
    accounts.create(&PostParams::default(), &sa).await?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let issued = accounts
        .create_token_request("trainer", &PostParams::default(), &request)
        .await?;
    let token = issued.status.map(|s| s.token).unwrap_or_default();
    let trainer = cluster.client_with_token(&token).await?;
    let (status, review) = raw(&trainer, "POST", path, Some(whoami.clone())).await;
    assert_eq!(status, 201, "{review}");
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:serviceaccount:jobs:trainer"
    );
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:jobs",
            "system:authenticated"
        ])
    );
    // A ServiceAccount may read the issuer's discovery documents.
    let (status, jwks) = raw(&trainer, "GET", "/openid/v1/jwks", None).await;
    assert_eq!(status, 200, "{jwks}");
    assert_eq!(jwks["keys"][0]["alg"], "ES256");

    // Too short a lifetime is refused as upstream refuses it.
    let short = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(60),
            ..Default::default()
        },
        ..Default::default()
    };
    let refused = accounts
        .create_token_request("trainer", &PostParams::default(), &short)
        .await;
    assert_eq!(code(&refused), Some(422), "{}", message(&refused));

    // Tampered: another payload under the same signature.
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1])?)?;
        claims["kubernetes.io"]["serviceaccount"]["name"] = json!("default");
        engine.encode(claims.to_string())
    };
    parts[1] = &forged;
    let tampered = cluster.client_with_token(&parts.join(".")).await?;
    assert_eq!(
        raw(&tampered, "POST", path, Some(whoami.clone())).await.0,
        401
    );

    // Expired: a token this cluster signed whose lifetime is over.
    let expired = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        let mut claims: Value = {
            use base64::Engine;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            serde_json::from_slice(&engine.decode(token.split('.').nth(1).unwrap_or_default())?)?
        };
        claims["iat"] = json!(now - 7200);
        claims["nbf"] = json!(now - 7200);
        claims["exp"] = json!(now - 3600);
        ultrak8s_apiserver::auth::jwt::sign(cluster.pki.service_account_key(), &claims)?
    };
    let late_client = cluster.client_with_token(&expired).await?;
    assert_eq!(
        raw(&late_client, "POST", path, Some(whoami.clone()))
            .await
            .0,
        401
    );

    // Revoked: the ServiceAccount is gone.
    accounts.delete("trainer", &Default::default()).await?;
    assert_eq!(
        raw(&trainer, "POST", path, Some(whoami.clone())).await.0,
        401
    );

    // A bootstrap token authenticates as system:bootstrap:<id> until it expires.
    let secrets: Api<Secret> = Api::namespaced(admin, "kube-system");
    let groups = vec!["system:bootstrappers:ultrak8s:default-node-token".to_owned()];
    let secret = bootstrap_token_secret("abcdef.0123456789abcdef", None, &groups, "")?;
    secrets
        .create(&PostParams::default(), &serde_json::from_value(secret)?)
        .await?;
    let joining = cluster.client_with_token("abcdef.0123456789abcdef").await?;
    let (status, review) = raw(&joining, "POST", path, Some(whoami.clone())).await;
    assert_eq!(status, 201, "{review}");
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:bootstrap:abcdef"
    );
    let expired = bootstrap_token_secret(
        "zyxwvu.0123456789abcdef",
        Some("2020-01-01T00:00:00Z"),
        &groups,
        "",
    )?;
    secrets
        .create(&PostParams::default(), &serde_json::from_value(expired)?)
        .await?;
    let late = cluster.client_with_token("zyxwvu.0123456789abcdef").await?;
    assert_eq!(raw(&late, "POST", path, Some(whoami.clone())).await.0, 401);
    let wrong_secret = cluster.client_with_token("abcdef.0123456789abcdee").await?;
    assert_eq!(raw(&wrong_secret, "POST", path, Some(whoami)).await.0, 401);
    // Garbage of every shape is a clean 401.
    for garbage in ["x", "a.b.c", "....", "abcdef.", &"z".repeat(8000)] {
        let client = cluster.client_with_token(garbage).await?;
        assert_eq!(
            raw(&client, "GET", "/api/v1/namespaces", None).await.0,
            401,
            "{garbage}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reads_only_what_its_pods_need() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "work").await?;
    let admin = cluster.client().await?;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "work");
    for name in ["mine", "theirs"] {
        let secret: Secret =
            serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"k": "v"}}))?;
        secrets.create(&PostParams::default(), &secret).await?;
    }
    let pods: Api<Pod> = Api::namespaced(admin, "work");
    for (pod, node, secret) in [("a", "node-1", "mine"), ("b", "node-2", "theirs")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": pod},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "s", "secret": {"secretName": secret}}],
            }
        }))?;
        pods.create(&PostParams::default(), &pod).await?;
    }
    let node1 = cluster
        .client_as("system:node:node-1", &["system:nodes"])
        .await?;
    let node_secrets: Api<Secret> = Api::namespaced(node1.clone(), "work");
    assert!(eventually(|| async { node_secrets.get("mine").await.is_ok() }).await);
    let theirs = node_secrets.get("theirs").await;
    assert_eq!(code(&theirs), Some(403));
    assert!(
        message(&theirs).contains("no relationship found between node 'node-1' and this object"),
        "{}",
        message(&theirs)
    );
    assert_eq!(
        code(&node_secrets.list(&ListParams::default()).await),
        Some(403)
    );
    let node_pods: Api<Pod> = Api::all(node1.clone());
    let own = node_pods
        .list(&ListParams::default().fields("spec.nodeName=node-1"))
        .await?;
    assert_eq!(own.items.len(), 1);
    let others = node_pods
        .list(&ListParams::default().fields("spec.nodeName=node-2"))
        .await;
    assert_eq!(code(&others), Some(403));
    // Its own lease only.
    let (status, body) = raw(
        &node1,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        Some(json!({"metadata": {"name": "node-2"}, "spec": {"holderIdentity": "node-2"}})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = raw(
        &node1,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        Some(json!({"metadata": {"name": "node-1"}, "spec": {"holderIdentity": "node-1"}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_and_impersonation_answer_from_rbac() -> TestResult {
    let cluster = TestCluster::start().await?;
    namespace(&cluster, "shop").await?;
    let read = PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["pods".into()]),
        verbs: vec!["get".into(), "list".into()],
        ..Default::default()
    };
    bind_role(&cluster, "shop", "bob", vec![read]).await?;
    let can_i = |args: Vec<&'static str>| {
        let cluster = &cluster;
        async move {
            let mut full = vec!["auth", "can-i"];
            full.extend(args);
            cluster.kubectl(&full, None).await.stdout.trim().to_owned()
        }
    };
    assert!(
        eventually(|| async {
            can_i(vec!["list", "pods", "-n", "shop", "--as", "bob"]).await == "yes"
        })
        .await
    );
    assert_eq!(
        can_i(vec!["delete", "pods", "-n", "shop", "--as", "bob"]).await,
        "no"
    );
    assert_eq!(
        can_i(vec!["list", "pods", "-n", "default", "--as", "bob"]).await,
        "no"
    );
    assert_eq!(can_i(vec!["create", "deployments"]).await, "yes");

    // The admin may impersonate; bob sees what bob may see.
    let out = cluster
        .kubectl(&["get", "pods", "-n", "default", "--as", "bob"], None)
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("User \"bob\" cannot list resource \"pods\""),
        "{}",
        out.stderr
    );
    // bob may not impersonate anyone.
    let bob = cluster.client_as("bob", &[]).await?;
    let request = http::Request::builder()
        .method("GET")
        .uri("/api/v1/namespaces/shop/pods")
        .header("Impersonate-User", "alice")
        .body(Vec::new())?;
    let response = bob.send(request.map(kube::client::Body::from)).await?;
    assert_eq!(response.status().as_u16(), 403);

    let whoami = cluster
        .kubectl(&["auth", "whoami", "-o", "json"], None)
        .await;
    let whoami: Value = serde_json::from_str(&whoami.expect_ok("whoami"))?;
    assert_eq!(whoami["status"]["userInfo"]["username"], "kubernetes-admin");
    let rules = cluster
        .kubectl(
            &["auth", "can-i", "--list", "-n", "shop", "--as", "bob"],
            None,
        )
        .await
        .expect_ok("can-i --list");
    assert!(
        rules
            .lines()
            .any(|l| l.starts_with("pods ") && l.contains("[get list]")),
        "{rules}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_clients_are_authorized_as_their_own_users() -> TestResult {
    use ultrak8s_apiserver::http::local::{LocalService, SCHEDULER_USER};
    let cluster = TestCluster::start().await?;
    let admin = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(admin, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "waiting"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))?;
    pods.create(&PostParams::default(), &pod).await?;

    let scheduler = kube::Client::new(LocalService::new(&cluster.api, SCHEDULER_USER), "default");
    let binding = json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "waiting"}, "target": {"kind": "Node", "name": "node-1"}});
    let (status, body) = raw(
        &scheduler,
        "POST",
        "/api/v1/namespaces/default/pods/waiting/binding",
        Some(binding),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let bound = pods.get("waiting").await?;
    assert_eq!(
        bound.spec.and_then(|s| s.node_name).as_deref(),
        Some("node-1")
    );
    let secrets: Api<Secret> = Api::namespaced(scheduler, "default");
    let refused = secrets.list(&ListParams::default()).await;
    assert_eq!(code(&refused), Some(403));
    assert!(
        message(&refused)
            .contains("User \"system:kube-scheduler\" cannot list resource \"secrets\""),
        "{}",
        message(&refused)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused_and_the_server_carries_on() -> TestResult {
    let cluster = TestCluster::start().await?;
    let huge = cluster.client_with_token(&"z".repeat(2_000_000)).await?;
    let request = http::Request::builder()
        .uri("/version")
        .body(Vec::new())?
        .map(kube::client::Body::from);
    // Either a 4xx or a connection the server closed; never a success or a crash.
    if let Ok(response) = huge.send(request).await {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let admin = cluster.client().await?;
    let (status, _) = raw(&admin, "GET", "/version", None).await;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_cluster_roles_pick_up_labelled_roles() -> TestResult {
    use k8s_openapi::api::rbac::v1::ClusterRole;
    let cluster = TestCluster::start().await?;
    let roles: Api<ClusterRole> = Api::all(cluster.client().await?);
    let widget_viewer: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "widget-viewer",
                     "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
    }))?;
    roles.create(&PostParams::default(), &widget_viewer).await?;
    let has_widgets = |role: &ClusterRole| {
        role.rules.iter().flatten().any(|r| {
            r.resources
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|x| x == "widgets")
        })
    };
    assert!(eventually(|| async { roles.get("view").await.is_ok_and(|r| has_widgets(&r)) }).await);
    // edit and admin aggregate view's sources too.
    assert!(eventually(|| async { roles.get("admin").await.is_ok_and(|r| has_widgets(&r)) }).await);
    roles.delete("widget-viewer", &Default::default()).await?;
    assert!(eventually(|| async { roles.get("view").await.is_ok_and(|r| !has_widgets(&r)) }).await);
    Ok(())
}
