//! Node IPAM through the API: Nodes registered in three zones each get distinct /28 prefixes
//! from their zone's subnet, recorded in `spec.podCIDRs` and the prefixes annotation; a
//! deleted Node's prefixes go back to the pool; a full zone is a Warning event on the Node.

use std::collections::{BTreeMap, HashSet};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually_within;
use ultrak8s_controllers::nodeipam::{PREFIXES_ANNOTATION, recorded_prefixes};
use ultrak8s_netalloc::cidr::Cidr;
use ultrak8s_netalloc::prefix::{FamilyConfig, PrefixConfig, SubnetConfig};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const ZONES: [(&str, &str); 3] = [
    ("us-east-1a", "10.0.0.0/18"),
    ("us-east-1b", "10.0.64.0/18"),
    // Room for exactly 4 prefixes: the fifth node of this zone finds it full.
    ("us-east-1c", "10.0.128.0/26"),
];

fn config() -> PrefixConfig {
    let subnets = ZONES
        .iter()
        .map(|(zone, cidr)| SubnetConfig {
            zone: (*zone).to_owned(),
            cidr: cidr.parse().expect("cidr"),
        })
        .collect();
    let mut config = PrefixConfig::new(FamilyConfig::new(
        vec!["10.0.0.0/16".parse().expect("vpc")],
        subnets,
    ));
    // One prefix per empty node: max pods 16 fills one /28, no warm spare.
    config.max_pods = 16;
    config.warm_prefix_target = 0;
    config
}

fn node(name: &str, zone: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
    }))
    .expect("node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_nodes_get_distinct_prefixes_from_their_zones() -> TestResult {
    let cluster = TestCluster::start_with_node_ipam(config()).await?;
    let client = cluster.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    // 998 nodes in the two large zones, 2 in the small one.
    let names: Vec<(String, &str)> = (0..1000)
        .map(|i| {
            let zone = if i < 2 { ZONES[2].0 } else { ZONES[i % 2].0 };
            (format!("node-{i:04}"), zone)
        })
        .collect();
    futures::stream::iter(names.iter())
        .for_each_concurrent(32, |(name, zone)| {
            let nodes = nodes.clone();
            async move {
                nodes
                    .create(&PostParams::default(), &node(name, zone))
                    .await
                    .expect("create node");
            }
        })
        .await;
    eventually_within(
        "every node records its prefix",
        std::time::Duration::from_secs(60),
        || async {
            nodes.list(&ListParams::default()).await.is_ok_and(|l| {
                l.items.len() == 1000 && l.items.iter().all(|n| !recorded_prefixes(n).is_empty())
            })
        },
    )
    .await;
    let list = nodes.list(&ListParams::default()).await?;
    let mut seen = HashSet::new();
    for n in &list.items {
        let prefixes = recorded_prefixes(n);
        assert_eq!(prefixes.len(), 1, "{:?}", n.metadata.name);
        let zone = n
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("topology.kubernetes.io/zone"))
            .ok_or("zone")?;
        let subnet: Cidr = ZONES
            .iter()
            .find(|(z, _)| z == zone)
            .ok_or("zone")?
            .1
            .parse()?;
        for p in &prefixes {
            assert!(subnet.contains_cidr(p), "{p} outside {subnet}");
            assert!(seen.insert(*p), "{p} handed out twice");
        }
        let spec = n.spec.as_ref().ok_or("spec")?;
        assert_eq!(
            spec.pod_cidrs.as_deref(),
            Some(&[prefixes[0].to_string()][..])
        );
        assert_eq!(
            spec.pod_cidr.as_deref(),
            Some(prefixes[0].to_string().as_str())
        );
    }
    // Three more nodes in the small zone: two fit (4 slots), the last finds it full.
    for name in ["small-a", "small-b", "small-c"] {
        nodes
            .create(&PostParams::default(), &node(name, ZONES[2].0))
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually_within(
        "the full zone shows as an event on the node",
        std::time::Duration::from_secs(20),
        || async {
            events
                .list(&ListParams::default().fields("involvedObject.name=small-c"))
                .await
                .is_ok_and(|l| {
                    l.items.iter().any(|e| {
                        e.reason.as_deref() == Some("CIDRNotAvailable")
                            && e.message
                                .as_deref()
                                .is_some_and(|m| m.contains("us-east-1c"))
                    })
                })
        },
    )
    .await;
    // Deleting a node of the small zone frees its prefix: the waiting node gets it.
    let freed = recorded_prefixes(&nodes.get("node-0000").await?);
    nodes.delete("node-0000", &DeleteParams::default()).await?;
    eventually_within(
        "the waiting node gets the freed prefix",
        std::time::Duration::from_secs(60),
        || async {
            nodes
                .get("small-c")
                .await
                .is_ok_and(|n| recorded_prefixes(&n) == freed)
        },
    )
    .await;
    let annotations: BTreeMap<String, String> = nodes
        .get("small-c")
        .await?
        .metadata
        .annotations
        .unwrap_or_default();
    assert!(annotations.contains_key(PREFIXES_ANNOTATION));
    Ok(())
}
