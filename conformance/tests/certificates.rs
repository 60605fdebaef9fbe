//! The certificate controllers through real clients: a node's bootstrap identity asks for a
//! kubelet client certificate and gets it approved and signed without a human, the issued
//! certificate authenticates as the node; a request for another signer waits for
//! `kubectl certificate approve`.

use std::time::Duration;

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, PostParams};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A CSR (PEM) for `cn` in `org`, and its private key (PEM).
fn request(cn: &str, org: &str) -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    name.push(DnType::OrganizationName, org);
    params.distinguished_name = name;
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

fn csr(name: &str, signer: &str, pem: &str, usages: &[&str]) -> Result<CertificateSigningRequest, serde_json::Error> {
    use base64::Engine;
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "request": base64::engine::general_purpose::STANDARD.encode(pem),
            "signerName": signer,
            "usages": usages,
        },
    }))
}

/// Waits up to 20 s for the request's certificate.
async fn issued(api: &Api<CertificateSigningRequest>, name: &str) -> Option<CertificateSigningRequest> {
    for _ in 0..200 {
        if let Ok(csr) = api.get(name).await
            && csr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_some()
        {
            return Some(csr);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrapping_node_gets_its_client_certificate_without_a_human() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    // What `ultrak8s token create` (kubeadm) binds for joining nodes.
    let bindings = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kubelet-bootstrap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-bootstrapper"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: node-autoapprove-bootstrap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(bindings))
        .await
        .expect_ok("bindings");
    let bootstrap = cluster
        .client_as("system:bootstrap:abcdef", &["system:bootstrappers"])
        .await?;
    let (pem, key) = request("system:node:worker-1", "system:nodes")?;
    let usages = ["digital signature", "client auth"];
    let body = csr("node-csr-1", "kubernetes.io/kube-apiserver-client-kubelet", &pem, &usages)?;
    Api::<CertificateSigningRequest>::all(bootstrap)
        .create(&PostParams::default(), &body)
        .await?;
    let admin: Api<CertificateSigningRequest> = Api::all(cluster.client().await?);
    let done = issued(&admin, "node-csr-1").await.ok_or("never issued")?;
    let approved = done
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Approved"))
        .ok_or("no Approved condition")?;
    assert_eq!(approved.reason.as_deref(), Some("AutoApproved"));
    let certificate = done
        .status
        .and_then(|s| s.certificate)
        .map(|c| String::from_utf8_lossy(&c.0).into_owned())
        .ok_or("no certificate")?;
    // The certificate authenticates as the node.
    let node = cluster.client_with_cert(&certificate, &key).await?;
    let who: serde_json::Value = node
        .request(
            http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&json!({
                    "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"
                }))?)?,
        )
        .await?;
    assert_eq!(
        who.pointer("/status/userInfo/username").and_then(|u| u.as_str()),
        Some("system:node:worker-1")
    );
    let groups = who.pointer("/status/userInfo/groups").cloned().unwrap_or_default();
    assert!(groups.as_array().is_some_and(|g| g.iter().any(|g| g == "system:nodes")), "{groups}");

    // A requester who may create requests but not have node client ones approved: pending.
    cluster
        .kubectl(
            &["create", "clusterrolebinding", "mallory-csr", "--clusterrole=system:node-bootstrapper", "--user=mallory"],
            None,
        )
        .await
        .expect_ok("mallory may create requests");
    let stranger = cluster.client_as("mallory", &[]).await?;
    let (pem, _) = request("system:node:worker-2", "system:nodes")?;
    let body = csr("node-csr-2", "kubernetes.io/kube-apiserver-client-kubelet", &pem, &usages)?;
    Api::<CertificateSigningRequest>::all(stranger)
        .create(&PostParams::default(), &body)
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pending = admin.get("node-csr-2").await?;
    let decided = pending
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(decided.is_empty(), "approved a request nobody may approve: {decided:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_request_waits_for_kubectl_certificate_approve() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let admin: Api<CertificateSigningRequest> = Api::all(cluster.client().await?);
    let (pem, key) = request("jane", "developers")?;
    let body = csr("jane", "kubernetes.io/kube-apiserver-client", &pem, &["client auth"])?;
    admin.create(&PostParams::default(), &body).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting = admin.get("jane").await?;
    assert!(waiting.status.and_then(|s| s.certificate).is_none());
    // Someone who may update approvals but may not approve for this signer is refused
    // (CertificateApproval).
    let grant = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-approval-only}
rules:
- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [get]}
- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-approval-only}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: csr-approval-only}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(grant))
        .await
        .expect_ok("grant");
    let bob: Api<CertificateSigningRequest> = Api::all(cluster.client_as("bob", &[]).await?);
    let mut approving = admin.get("jane").await?;
    approving.status.get_or_insert_with(Default::default).conditions = Some(vec![
        serde_json::from_value(json!({"type": "Approved", "status": "True", "reason": "ByBob"}))?,
    ]);
    let refused = bob
        .replace_subresource("approval", "jane", &PostParams::default(), &approving)
        .await;
    match refused {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403);
            assert!(status.message.contains("user not permitted to approve requests with signerName"), "{}", status.message);
        }
        other => panic!("bob approved: {other:?}"),
    }
    cluster
        .kubectl(&["certificate", "approve", "jane"], None)
        .await
        .expect_ok("approve");
    let done = issued(&admin, "jane").await.ok_or("never issued")?;
    let certificate = done
        .status
        .and_then(|s| s.certificate)
        .map(|c| String::from_utf8_lossy(&c.0).into_owned())
        .ok_or("no certificate")?;
    let jane = cluster.client_with_cert(&certificate, &key).await?;
    let version = jane.apiserver_version().await?;
    assert!(!version.git_version.is_empty());
    let listed = cluster.kubectl(&["get", "csr", "jane"], None).await.expect_ok("get csr");
    assert!(listed.contains("Approved,Issued"), "{listed}");
    Ok(())
}
