use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, Volume, VolumeNodeAffinity,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;
use crate::testing::{node, node_info, pod, pod_info};

fn claim(name: &str, volume: Option<&str>, class: &str) -> Arc<PersistentVolumeClaim> {
    Arc::new(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            volume_name: volume.map(str::to_owned),
            storage_class_name: Some(class.into()),
            ..Default::default()
        }),
        status: None,
    })
}

fn local_volume(name: &str, host: &str) -> Arc<PersistentVolume> {
    Arc::new(PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![host.into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            ..Default::default()
        }),
        status: None,
    })
}

fn plugin() -> VolumeBinding {
    let claims = BTreeMap::from([
        ("data".to_owned(), claim("data", Some("pv-1"), "local")),
        ("unbound".to_owned(), claim("unbound", None, "standard")),
        ("delayed".to_owned(), claim("delayed", None, "wffc")),
    ]);
    VolumeBinding::new(VolumeListers {
        claim: Arc::new(move |_, name| claims.get(name).cloned()),
        volume: Arc::new(|name| (name == "pv-1").then(|| local_volume("pv-1", "n1"))),
        class: Arc::new(|name| {
            (name == "wffc").then(|| {
                Arc::new(StorageClass {
                    volume_binding_mode: Some("WaitForFirstConsumer".into()),
                    ..Default::default()
                })
            })
        }),
    })
}

fn with_claim(claim: &str) -> Arc<PodInfo> {
    let mut p = pod("p", &[]);
    p.spec.as_mut().expect("test fixture").volumes = Some(vec![Volume {
        name: "v".into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: None,
        }),
        ..Default::default()
    }]);
    pod_info(p)
}

fn labelled(name: &str) -> NodeInfo {
    let mut n = node(name, &[("cpu", "1")]);
    n.metadata.labels = Some(BTreeMap::from([(
        "kubernetes.io/hostname".into(),
        name.into(),
    )]));
    node_info(n, vec![])
}

#[test]
fn bound_local_volume_pins_the_node() {
    let plugin = plugin();
    let mut state = CycleState::default();
    let pod = with_claim("data");
    let (_, status) = plugin.pre_filter(&mut state, &pod, &Snapshot::default());
    assert!(status.is_success());
    assert!(plugin.filter(&state, &pod, &labelled("n1")).is_success());
    let status = plugin.filter(&state, &pod, &labelled("n2"));
    assert_eq!(
        (status.code, status.message().as_str()),
        (Code::UnschedulableAndUnresolvable, ERR_REASON_NODE_CONFLICT)
    );
}

#[test]
fn claims_that_cannot_be_used_say_why() {
    let plugin = plugin();
    for (claim, message) in [
        ("missing", "persistentvolumeclaim \"missing\" not found"),
        ("unbound", ERR_REASON_UNBOUND_IMMEDIATE),
        (
            "delayed",
            "not supported: binding persistentvolumeclaim \"delayed\" at scheduling time (storage class \"wffc\" uses WaitForFirstConsumer)",
        ),
    ] {
        let (_, status) = plugin.pre_filter(
            &mut CycleState::default(),
            &with_claim(claim),
            &Snapshot::default(),
        );
        assert_eq!(
            (status.code, status.message()),
            (Code::UnschedulableAndUnresolvable, message.to_owned()),
            "{claim}"
        );
    }
    let (_, status) = plugin.pre_filter(
        &mut CycleState::default(),
        &pod_info(pod("none", &[])),
        &Snapshot::default(),
    );
    assert!(status.is_skip());
}
