//! Service ClusterIPs and NodePorts through kubectl (v1.32), as a user meets them: the
//! server's ranges are the binary's defaults (10.96.0.0/12, 30000-32767).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ultrak8s_conformance::cluster::TestCluster;

async fn cluster() -> TestCluster {
    TestCluster::start().await.expect("cluster starts")
}

/// `kubectl get` of one jsonpath.
async fn get(c: &TestCluster, what: &str, path: &str) -> String {
    c.kubectl(&["get", what, "-o", &format!("jsonpath={path}")], None)
        .await
        .expect_ok(what)
}

fn in_service_range(ip: &str) -> bool {
    // 10.96.0.0/12: 10.96.0.0 - 10.111.255.255.
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|ip| ip.octets()[0] == 10 && (96..=111).contains(&ip.octets()[1]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_a_cluster_ip_and_node_port_from_the_ranges() {
    let c = cluster().await;
    c.kubectl(
        &["create", "service", "nodeport", "web", "--tcp=80:8080"],
        None,
    )
    .await
    .expect_ok("create nodeport service");
    let ip = get(&c, "service/web", "{.spec.clusterIP}").await;
    assert!(in_service_range(&ip), "clusterIP {ip:?}");
    assert_eq!(get(&c, "service/web", "{.spec.clusterIPs[0]}").await, ip);
    assert_eq!(
        get(&c, "service/web", "{.spec.ipFamilies[0]}").await,
        "IPv4"
    );
    assert_eq!(
        get(&c, "service/web", "{.spec.ipFamilyPolicy}").await,
        "SingleStack"
    );
    let port: i32 = get(&c, "service/web", "{.spec.ports[0].nodePort}")
        .await
        .parse()
        .expect("a node port");
    assert!((30000..=32767).contains(&port), "nodePort {port}");
    // The `kubernetes` Service holds the first address, and the ServiceCIDR shows the range.
    assert_eq!(
        get(&c, "service/kubernetes", "{.spec.clusterIP}").await,
        "10.96.0.1"
    );
    assert_eq!(
        get(&c, "servicecidr/kubernetes", "{.spec.cidrs[0]}").await,
        "10.96.0.0/12"
    );
    c.kubectl(
        &["create", "service", "clusterip", "db", "--clusterip=None"],
        None,
    )
    .await
    .expect_ok("create headless service");
    assert_eq!(get(&c, "service/db", "{.spec.clusterIP}").await, "None");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_ip_or_port_is_refused_until_its_service_is_deleted() {
    let c = cluster().await;
    let create_ip = |name: &'static str| {
        let c = &c;
        async move {
            c.kubectl(
                &[
                    "create",
                    "service",
                    "clusterip",
                    name,
                    "--tcp=80",
                    "--clusterip=10.96.0.50",
                ],
                None,
            )
            .await
        }
    };
    let create_port = |name: &'static str| {
        let c = &c;
        async move {
            c.kubectl(
                &[
                    "create",
                    "service",
                    "nodeport",
                    name,
                    "--tcp=80",
                    "--node-port=30080",
                ],
                None,
            )
            .await
        }
    };
    create_ip("first").await.expect_ok("first IP");
    create_port("np-first").await.expect_ok("first port");
    let refused = create_ip("second").await;
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains(
            "Service \"second\" is invalid: spec.clusterIPs: Invalid value: \
             []string{\"10.96.0.50\"}: failed to allocate IP 10.96.0.50: provided IP is already \
             allocated"
        ),
        "{}",
        refused.stderr
    );
    let refused = create_port("np-second").await;
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains(
            "Service \"np-second\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: \
             provided port is already allocated"
        ),
        "{}",
        refused.stderr
    );
    // A refused Service is not stored and holds nothing.
    let missing = c.kubectl(&["get", "service", "second"], None).await;
    assert!(!missing.ok);
    c.kubectl(&["delete", "service", "first", "np-first"], None)
        .await
        .expect_ok("delete");
    create_ip("second").await.expect_ok("the IP is free again");
    create_port("np-second")
        .await
        .expect_ok("the port is free again");
    assert_eq!(
        get(&c, "service/second", "{.spec.clusterIP}").await,
        "10.96.0.50"
    );
    assert_eq!(
        get(&c, "service/np-second", "{.spec.ports[0].nodePort}").await,
        "30080"
    );
    // A port outside the range is refused with the range in the message.
    let outside = c
        .kubectl(
            &[
                "create",
                "service",
                "nodeport",
                "low",
                "--tcp=80",
                "--node-port=80",
            ],
            None,
        )
        .await;
    assert!(
        outside.stderr.contains(
            "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid \
             range. The range of valid ports is 30000-32767"
        ),
        "{}",
        outside.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_services_get_distinct_addresses() {
    let c = cluster().await;
    // One manifest of 100 documents: one kubectl run.
    let manifest: String = (0..100)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  \
                 type: NodePort\n  ports:\n  - port: 80\n"
            )
        })
        .collect();
    c.kubectl(&["apply", "-f", "-"], Some(&manifest))
        .await
        .expect_ok("apply 100 services");
    let ips = get(&c, "services", "{.items[*].spec.clusterIP}").await;
    let ips: Vec<&str> = ips.split_whitespace().collect();
    assert_eq!(ips.len(), 101, "100 and the kubernetes Service");
    assert!(ips.iter().all(|ip| in_service_range(ip)), "{ips:?}");
    assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 101, "{ips:?}");
    let ports = get(&c, "services", "{.items[*].spec.ports[*].nodePort}").await;
    let ports: HashSet<&str> = ports.split_whitespace().collect();
    assert_eq!(ports.len(), 100, "{ports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ips_are_ipaddress_objects_and_service_cidrs_add_ranges() {
    use ultrak8s_conformance::poll::eventually;
    let c = cluster().await;
    assert_eq!(
        get(
            &c,
            "servicecidr/kubernetes",
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        )
        .await,
        "True"
    );
    c.kubectl(&["create", "service", "clusterip", "web", "--tcp=80"], None)
        .await
        .expect_ok("create service");
    let ip = get(&c, "service/web", "{.spec.clusterIP}").await;
    let object = format!("ipaddress/{ip}");
    assert_eq!(
        get(
            &c,
            &object,
            "{.spec.parentRef.resource}/{.spec.parentRef.namespace}/{.spec.parentRef.name} \
             {.metadata.labels.ipaddress\\.kubernetes\\.io/managed-by} \
             {.metadata.labels.ipaddress\\.kubernetes\\.io/ip-family}"
        )
        .await,
        "services/default/web ipallocator.k8s.io IPv4"
    );

    // An address outside every ServiceCIDR is refused; a new ServiceCIDR makes it valid.
    let create_extra = || {
        c.kubectl(
            &[
                "create",
                "service",
                "clusterip",
                "extra",
                "--tcp=80",
                "--clusterip=10.200.0.10",
            ],
            None,
        )
    };
    let refused = create_extra().await;
    assert!(
        refused.stderr.contains(
            "failed to allocate IP 10.200.0.10: the provided IP (10.200.0.10) is not in the \
             valid range"
        ),
        "{}",
        refused.stderr
    );
    let cidr = "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: extra\n\
                spec:\n  cidrs: [10.200.0.0/24]\n";
    c.kubectl(&["apply", "-f", "-"], Some(cidr))
        .await
        .expect_ok("add a ServiceCIDR");
    eventually("the new ServiceCIDR gives addresses", || async {
        create_extra().await.ok
    })
    .await;
    assert_eq!(
        get(&c, "ipaddress/10.200.0.10", "{.spec.parentRef.name}").await,
        "extra"
    );

    // An address whose IPAddress object exists (another API server's claim) is taken.
    let claimed = "apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata:\n  \
                   name: 10.96.0.77\nspec:\n  parentRef: {group: \"\", resource: services, \
                   namespace: other, name: elsewhere}\n";
    c.kubectl(&["apply", "-f", "-"], Some(claimed))
        .await
        .expect_ok("an IPAddress from elsewhere");
    let taken = c
        .kubectl(
            &[
                "create",
                "service",
                "clusterip",
                "twin",
                "--tcp=80",
                "--clusterip=10.96.0.77",
            ],
            None,
        )
        .await;
    assert!(
        taken
            .stderr
            .contains("failed to allocate IP 10.96.0.77: provided IP is already allocated"),
        "{}",
        taken.stderr
    );
    // Bad IPAddress objects are refused by validation.
    let bad = "apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata:\n  \
               name: 10.96.0.078\nspec:\n  parentRef: {resource: services, name: x}\n";
    let refused = c.kubectl(&["apply", "-f", "-"], Some(bad)).await;
    assert!(
        refused.stderr.contains("must not have leading 0s"),
        "{}",
        refused.stderr
    );

    // Deleting the Service deletes its IPAddress before the delete answers.
    c.kubectl(&["delete", "service", "web"], None)
        .await
        .expect_ok("delete");
    let gone = c.kubectl(&["get", &object], None).await;
    assert!(!gone.ok && gone.stderr.contains("NotFound"), "{}", gone.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_cidr_in_use_is_deleted_only_once_its_addresses_are_gone() {
    use ultrak8s_conformance::poll::{eventually, eventually_within};
    let c = TestCluster::start_with_only("service-cidr-controller")
        .await
        .expect("cluster starts");
    let cidr = "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: extra\n\
                spec:\n  cidrs: [10.200.0.0/24]\n";
    c.kubectl(&["apply", "-f", "-"], Some(cidr))
        .await
        .expect_ok("add a ServiceCIDR");
    let state = || async {
        c.kubectl(
            &[
                "get",
                "servicecidr/extra",
                "-o",
                "jsonpath={.metadata.finalizers[0]} \
                 {.status.conditions[?(@.type==\"Ready\")].status} \
                 {.status.conditions[?(@.type==\"Ready\")].reason}",
            ],
            None,
        )
        .await
    };
    eventually("the controller protects and readies the ServiceCIDR", || async {
        state().await.stdout.trim() == "networking.k8s.io/service-cidr-finalizer True"
    })
    .await;
    let create = |name: &'static str, ip: &'static str| {
        let c = &c;
        async move {
            let flag = format!("--clusterip={ip}");
            c.kubectl(
                &["create", "service", "clusterip", name, "--tcp=80", &flag],
                None,
            )
            .await
        }
    };
    eventually("the ServiceCIDR gives addresses", || async {
        create("inside", "10.200.0.10").await.ok
    })
    .await;
    // Deleting it while a Service holds an address from it only marks it.
    c.kubectl(&["delete", "servicecidr", "extra", "--wait=false"], None)
        .await
        .expect_ok("delete the ServiceCIDR");
    eventually("the deletion waits for the address", || async {
        state().await.stdout.trim()
            == "networking.k8s.io/service-cidr-finalizer False Terminating"
    })
    .await;
    let refused = create("late", "10.200.0.11").await;
    assert!(!refused.ok, "a terminating ServiceCIDR gives no address");
    c.kubectl(&["delete", "service", "inside"], None)
        .await
        .expect_ok("delete the Service");
    // Upstream's 10 s grace period, then the finalizer goes and the object with it.
    eventually_within(
        "the ServiceCIDR goes once nothing needs it",
        std::time::Duration::from_secs(40),
        || async {
            let got = state().await;
            !got.ok && got.stderr.contains("NotFound")
        },
    )
    .await;
}
