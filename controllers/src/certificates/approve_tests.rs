use std::collections::BTreeMap;

use k8s_openapi::ByteString;

use super::super::conditions::{KUBE_APISERVER_CLIENT_SIGNER, KUBELET_SERVING_SIGNER};
use super::super::request::parse;
use super::super::testing::*;
use super::*;

const KUBELET: &str = KUBE_APISERVER_CLIENT_KUBELET_SIGNER;
const RSA_USAGES: &[&str] = &["digital signature", "key encipherment", "client auth"];
const EC_USAGES: &[&str] = &["digital signature", "client auth"];

fn subresources(approval: &Approval) -> Vec<&'static str> {
    match approval {
        Approval::Skip => Vec::new(),
        Approval::NeedsSubjectAccessReview { reviews } => {
            reviews.iter().map(|r| r.recognizer.subresource()).collect()
        }
    }
}

/// (name, signer, username, usages, request, recognizers that accept, in order).
type RecognizerCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Ask<'static>,
    &'static [&'static str],
);

/// Each recognizer's accept and reject cases.
#[test]
fn recognizers() {
    let node = || node_client("system:node:a");
    let cases: Vec<RecognizerCase> = vec![
        (
            "self renewal",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            node(),
            &["selfnodeclient", "nodeclient"],
        ),
        (
            "self renewal without key encipherment",
            KUBELET,
            "system:node:a",
            EC_USAGES,
            node(),
            &["selfnodeclient", "nodeclient"],
        ),
        (
            "usages in another order, repeated",
            KUBELET,
            "system:node:a",
            &["client auth", "digital signature", "client auth"],
            node(),
            &["selfnodeclient", "nodeclient"],
        ),
        (
            "bootstrap: requester is not the node",
            KUBELET,
            "system:bootstrap:abcdef",
            RSA_USAGES,
            node(),
            &["nodeclient"],
        ),
        (
            "another node asking",
            KUBELET,
            "system:node:b",
            RSA_USAGES,
            node(),
            &["nodeclient"],
        ),
        (
            "wrong signer",
            KUBE_APISERVER_CLIENT_SIGNER,
            "system:node:a",
            RSA_USAGES,
            node(),
            &[],
        ),
        (
            "serving signer",
            KUBELET_SERVING_SIGNER,
            "system:node:a",
            RSA_USAGES,
            node(),
            &[],
        ),
        (
            "server auth usage",
            KUBELET,
            "system:node:a",
            &["digital signature", "key encipherment", "server auth"],
            node(),
            &[],
        ),
        (
            "extra usage",
            KUBELET,
            "system:node:a",
            &[
                "digital signature",
                "key encipherment",
                "client auth",
                "server auth",
            ],
            node(),
            &[],
        ),
        (
            "missing client auth",
            KUBELET,
            "system:node:a",
            &["digital signature", "key encipherment"],
            node(),
            &[],
        ),
        (
            "missing digital signature",
            KUBELET,
            "system:node:a",
            &["key encipherment", "client auth"],
            node(),
            &[],
        ),
        ("no usages", KUBELET, "system:node:a", &[], node(), &[]),
        (
            "DNS SAN",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                dns: &["a.example"],
                ..node()
            },
            &[],
        ),
        (
            "IP SAN",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                ips: &["10.0.0.1"],
                ..node()
            },
            &[],
        ),
        (
            "email SAN",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                emails: &["a@example.com"],
                ..node()
            },
            &[],
        ),
        (
            "URI SAN",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                uris: &["spiffe://a"],
                ..node()
            },
            &[],
        ),
        (
            "CN without system:node: prefix",
            KUBELET,
            "node:a",
            RSA_USAGES,
            Ask {
                cn: Some("node:a"),
                ..node()
            },
            &[],
        ),
        (
            "no CN",
            KUBELET,
            "",
            RSA_USAGES,
            Ask { cn: None, ..node() },
            &[],
        ),
        (
            "no O",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                orgs: &[],
                ..node()
            },
            &[],
        ),
        (
            "O is another group",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                orgs: &["system:masters"],
                ..node()
            },
            &[],
        ),
        (
            "O has one group too many",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                orgs: &["system:nodes", "system:masters"],
                ..node()
            },
            &[],
        ),
        (
            "O repeats system:nodes",
            KUBELET,
            "system:node:a",
            RSA_USAGES,
            Ask {
                orgs: &["system:nodes", "system:nodes"],
                ..node()
            },
            &[],
        ),
    ];
    for (name, signer, user, usages, ask, want) in cases {
        let pem = request_pem(ask);
        let csr = csr(signer, user, usages, &pem);
        let req = parse(pem.as_bytes()).expect("test fixture");
        assert_eq!(subresources(&approval(&csr, &req)), want, "{name}");
        for r in Recognizer::ALL {
            assert_eq!(
                r.recognizes(&csr, &req),
                want.contains(&r.subresource()),
                "{name}: {r:?}"
            );
        }
        assert_eq!(
            subresources(&decide_approval(&csr).expect("test fixture")),
            want,
            "{name} (decide_approval)"
        );
    }
}

#[test]
fn decided_or_issued_requests_are_skipped() {
    let pem = request_pem(node_client("system:node:a"));
    let base = csr(KUBELET, "system:node:a", RSA_USAGES, &pem);
    let req = parse(pem.as_bytes()).expect("test fixture");
    let cases = [
        (
            "approved",
            with_condition(base.clone(), "Approved", "True", None),
        ),
        // Upstream reads the condition types only, whatever their status.
        (
            "approved, status False",
            with_condition(base.clone(), "Approved", "False", None),
        ),
        (
            "denied",
            with_condition(base.clone(), "Denied", "True", None),
        ),
        ("issued", with_certificate(base.clone(), "cert")),
    ];
    for (name, csr) in cases {
        assert!(!is_undecided(&csr), "{name}");
        assert_eq!(approval(&csr, &req), Approval::Skip, "{name}");
        assert_eq!(decide_approval(&csr), Ok(Approval::Skip), "{name}");
    }
    // A Failed condition alone does not decide the approval.
    let failed = with_condition(base, "Failed", "True", None);
    assert_eq!(
        subresources(&approval(&failed, &req)),
        ["selfnodeclient", "nodeclient"]
    );
}

#[test]
fn the_review_asks_for_the_requester() {
    let pem = request_pem(node_client("system:node:a"));
    let mut csr = csr(KUBELET, "system:node:a", RSA_USAGES, &pem);
    csr.spec.extra = Some(BTreeMap::from([(
        "scopes".into(),
        vec!["a".into(), "b".into()],
    )]));
    let req = parse(pem.as_bytes()).expect("test fixture");
    let Approval::NeedsSubjectAccessReview { reviews } = approval(&csr, &req) else {
        panic!("expected reviews");
    };
    let spec = &reviews[1].spec;
    assert_eq!(spec.user.as_deref(), Some("system:node:a"));
    assert_eq!(spec.uid.as_deref(), Some("uid-1"));
    assert_eq!(spec.groups, Some(vec!["system:authenticated".to_string()]));
    assert_eq!(spec.extra, csr.spec.extra);
    assert_eq!(spec.non_resource_attributes, None);
    let attrs = spec.resource_attributes.as_ref().expect("test fixture");
    assert_eq!(attrs.group.as_deref(), Some("certificates.k8s.io"));
    assert_eq!(
        attrs.resource.as_deref(),
        Some("certificatesigningrequests")
    );
    assert_eq!(attrs.verb.as_deref(), Some("create"));
    assert_eq!(attrs.subresource.as_deref(), Some("nodeclient"));
    assert_eq!(attrs.name, None);
    assert_eq!(attrs.namespace, None);
    assert_eq!(
        reviews[0]
            .spec
            .resource_attributes
            .as_ref()
            .expect("test fixture")
            .subresource
            .as_deref(),
        Some("selfnodeclient")
    );
}

#[test]
fn approved_condition_per_recognizer() {
    let pem = request_pem(node_client("system:node:a"));
    let csr = csr(KUBELET, "system:node:a", RSA_USAGES, &pem);
    for (recognizer, message) in [
        (
            Recognizer::SelfNodeClient,
            "Auto approving self kubelet client certificate after SubjectAccessReview.",
        ),
        (
            Recognizer::NodeClient,
            "Auto approving kubelet client certificate after SubjectAccessReview.",
        ),
    ] {
        let review = Review {
            recognizer,
            spec: review_spec(&csr, recognizer),
        };
        let c = review.approved_condition(now());
        assert_eq!(c.type_, "Approved");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason.as_deref(), Some("AutoApproved"));
        assert_eq!(c.message.as_deref(), Some(message));
        assert_eq!(c.last_update_time.map(|t| t.0), Some(now()));
    }
}

#[test]
fn decide_approval_parses_only_kubelet_client_requests() {
    let garbage = |signer| {
        let mut c = csr(signer, "u", RSA_USAGES, "");
        c.spec.request = ByteString(b"not a request".to_vec());
        c
    };
    assert_eq!(
        decide_approval(&garbage(KUBELET_SERVING_SIGNER)),
        Ok(Approval::Skip)
    );
    assert_eq!(
        decide_approval(&garbage(KUBELET)),
        Err(RequestError::NotCertificateRequestPem)
    );
    let decided = with_condition(garbage(KUBELET), "Denied", "True", None);
    assert_eq!(decide_approval(&decided), Ok(Approval::Skip));
}

#[test]
fn message_when_no_review_allowed() {
    let pem = request_pem(node_client("system:node:a"));
    let csr = csr(KUBELET, "system:node:a", RSA_USAGES, &pem);
    let Approval::NeedsSubjectAccessReview { reviews } =
        approval(&csr, &parse(pem.as_bytes()).expect("test fixture"))
    else {
        panic!("expected reviews");
    };
    assert_eq!(
        not_approved_message("csr-1", &reviews),
        "recognized csr \"csr-1\" as [selfnodeclient nodeclient] but subject access review \
         was not approved"
    );
}
