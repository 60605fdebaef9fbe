//! Simulated nodes against a test cluster with the scheduler, node IPAM and the workload
//! controllers: the nodes join Ready and keep their Leases fresh, a Deployment's pods run
//! with addresses from their node's prefixes, a Job's pods succeed or fail as annotated, and
//! deleted pods go.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::{eventually, eventually_within};
use ultrak8s_conformance::simnodes::{SimConfig, Simulator};
use ultrak8s_controllers::nodeipam::recorded_prefixes;
use ultrak8s_netalloc::prefix::{FamilyConfig, PrefixConfig, SubnetConfig};

fn ipam() -> PrefixConfig {
    let subnets = [
        ("us-east-1a", "10.0.0.0/18"),
        ("us-east-1b", "10.0.64.0/18"),
    ]
    .iter()
    .map(|(zone, cidr)| SubnetConfig {
        zone: (*zone).to_owned(),
        cidr: cidr.parse().expect("cidr"),
    })
    .collect();
    PrefixConfig::new(FamilyConfig::new(
        vec!["10.0.0.0/16".parse().expect("vpc")],
        subnets,
    ))
}

fn pods_of(list: &[Pod], prefix: &str) -> Vec<Pod> {
    list.iter()
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(prefix))
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_nodes_run_deployments_and_jobs() {
    let c = TestCluster::start_with_only_and_ipam(
        "nodeipam,nodelifecycle,deployment,replicaset,job,garbagecollector",
        ipam(),
    )
    .await
    .expect("cluster starts");
    c.spawn_scheduler(None);
    let client = c.client().await.expect("client");
    let config = SimConfig {
        count: 40,
        zones: vec!["us-east-1a".to_owned(), "us-east-1b".to_owned()],
        // The test cluster's node lifecycle has a 2 s grace period.
        lease_period: Duration::from_millis(500),
        status_period: Duration::from_secs(1),
        progress: false,
        ..SimConfig::default()
    };
    let sim = Simulator::start(client.clone(), config)
        .await
        .expect("nodes join");
    assert_eq!(sim.report().nodes, 40);
    let nodes: Api<Node> = Api::all(client.clone());
    let listed = nodes.list(&ListParams::default()).await.expect("nodes");
    assert_eq!(listed.items.len(), 40);
    let trainium = listed
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .is_some_and(|a| a.contains_key("aws.amazon.com/neuron"))
        })
        .count();
    assert_eq!(trainium, 8, "every fifth node is a Trainium node");

    c.kubectl(
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=6",
        ],
        None,
    )
    .await
    .expect_ok("deployment");
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: train\nspec:\n  \
               completions: 3\n  parallelism: 3\n  backoffLimit: 0\n  template:\n    \
               metadata:\n      annotations:\n        simnodes.ultrak8s.io/duration: 1s\n    \
               spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        \
               image: trainer\n";
    c.kubectl(&["apply", "-f", "-"], Some(job))
        .await
        .expect_ok("job");
    let failing = job.replace("name: train", "name: broken").replace(
        "duration: 1s",
        "duration: 1s\n        simnodes.ultrak8s.io/exit-code: \"2\"",
    );
    c.kubectl(&["apply", "-f", "-"], Some(&failing))
        .await
        .expect_ok("failing job");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually_within("six web pods run", Duration::from_secs(30), || async {
        let list = pods.list(&ListParams::default()).await.expect("pods");
        let web = pods_of(&list.items, "web-");
        web.len() == 6
            && web
                .iter()
                .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;
    // Each pod's address lies in a prefix of its node.
    let list = pods.list(&ListParams::default()).await.expect("pods");
    for pod in pods_of(&list.items, "web-") {
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .expect("bound");
        let node = nodes.get(&node_name).await.expect("node");
        let ip: std::net::IpAddr = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .expect("a pod IP")
            .parse()
            .expect("an address");
        assert!(
            recorded_prefixes(&node).iter().any(|p| p.contains(ip)),
            "{ip} is in a prefix of {node_name}"
        );
    }
    eventually_within("the job completes", Duration::from_secs(30), || async {
        let got = c
            .kubectl(
                &["get", "job", "train", "-o", "jsonpath={.status.succeeded}"],
                None,
            )
            .await;
        got.stdout.trim() == "3"
    })
    .await;
    eventually_within("the failing job fails", Duration::from_secs(30), || async {
        let got = c
            .kubectl(
                &[
                    "get",
                    "job",
                    "broken",
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Failed\")].status}",
                ],
                None,
            )
            .await;
        got.stdout.trim() == "True"
    })
    .await;

    // Leases are renewed: a renewTime moves on.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let renewed = |l: &Lease| l.spec.as_ref().and_then(|s| s.renew_time.clone());
    let before = renewed(&leases.get("sim-000003").await.expect("lease"));
    eventually("the lease is renewed", || async {
        renewed(&leases.get("sim-000003").await.expect("lease")) != before
    })
    .await;
    // Every node stays Ready.
    let listed = nodes.list(&ListParams::default()).await.expect("nodes");
    assert!(listed.items.iter().all(|n| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }));

    // Deleting the Deployment deletes its pods through the simulated kubelets.
    c.kubectl(&["delete", "deployment", "web"], None)
        .await
        .expect_ok("delete");
    eventually_within("the web pods are gone", Duration::from_secs(30), || async {
        let list = pods.list(&ListParams::default()).await.expect("pods");
        pods_of(&list.items, "web-").is_empty()
    })
    .await;
    let report = sim.report();
    assert!(report.pods_started >= 12, "{report:?}");
    // The three of `train` and at least the first of `broken` (the others may be deleted
    // once the Job has failed).
    assert!(report.pods_finished >= 4, "{report:?}");
    assert!(report.pods_deleted >= 6, "{report:?}");
    assert!(
        report.lease_renewals > 0 && report.lease_renewal_errors == 0,
        "{report:?}"
    );
    sim.stop();
}
