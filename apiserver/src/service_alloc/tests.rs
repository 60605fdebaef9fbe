use serde_json::json;

use super::*;

fn svc(ns: &str, name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
    }))
    .expect("a Service")
}

#[test]
fn ranges_parse_as_the_flags_do() {
    let r = ServiceRanges::default();
    assert_eq!(r.cluster_ip_ranges.len(), 1);
    assert_eq!(
        r.kubernetes_service_ip(),
        Some("10.96.0.1".parse().expect("ip"))
    );
    assert_eq!(r.node_ports.to_string(), "30000-32767");
    let dual = ServiceRanges::parse("10.0.0.0/16,fd00::/108", "30000-30100").expect("dual");
    assert_eq!(dual.families(), vec![Family::V4, Family::V6]);
    for (cidrs, ports) in [
        ("10.0.0.0/16,10.1.0.0/16", "30000-32767"),
        ("10.0.0.0/8", "30000-32767"),
        ("fd00::/48", "30000-32767"),
        ("10.0.0.0/16", "30000-"),
        ("nope", "30000-32767"),
    ] {
        assert!(
            ServiceRanges::parse(cidrs, ports).is_err(),
            "{cidrs} {ports}"
        );
    }
}

#[tokio::test]
async fn rebuild_takes_what_stored_services_hold_and_warns_of_the_rest() {
    let services = vec![
        svc(
            "default",
            "kubernetes",
            json!({"type": "ClusterIP", "clusterIPs": ["10.96.0.1"]}),
        ),
        svc(
            "a",
            "web",
            json!({"type": "NodePort", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                      {"port": 53, "nodePort": 30053, "protocol": "UDP"}]}),
        ),
        svc(
            "a",
            "lb",
            json!({"type": "LoadBalancer", "clusterIPs": ["10.96.0.11"],
            "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000,
            "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
        ),
        svc(
            "b",
            "twin",
            json!({"type": "NodePort", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}),
        ),
        svc(
            "b",
            "outside",
            json!({"type": "NodePort", "clusterIPs": ["192.168.0.1"],
            "ports": [{"port": 80, "nodePort": 80, "protocol": "TCP"}]}),
        ),
        svc("b", "headless", json!({"clusterIPs": ["None"]})),
        svc(
            "b",
            "ext",
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
        ),
    ];
    let (alloc, warnings) =
        ServiceAllocator::rebuild(ServiceRanges::default(), &services).expect("rebuild");
    let ips: Vec<String> = alloc
        .allocated_ips()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ips, ["10.96.0.1", "10.96.0.10", "10.96.0.11"]);
    assert_eq!(alloc.allocated_ports(), [30053, 30080, 30443, 31000]);
    assert_eq!(
        warnings,
        [
            "the cluster IP [IPv4]:10.96.0.10 for service b/twin was assigned to other \
             services a/web; please recreate",
            "the ClusterIP [IPv4]: 192.168.0.1 for Service b/outside is not within any service \
             CIDR; please recreate",
            "the node port 30080 for service b/twin was assigned to multiple services; please \
             recreate",
            "the port 80 for service b/outside is not within the port range 30000-32767; please \
             recreate",
        ]
    );
}

/// A Service through the hooks, as the registry drives them.
fn resource() -> crate::resources::Resource {
    crate::resources::builtin()
        .into_iter()
        .find(|r| r.group.is_empty() && r.plural == "services")
        .expect("services")
}

async fn create(
    alloc: &ServiceAllocator,
    spec: serde_json::Value,
) -> Result<(Service, Finish), ApiError> {
    let mut obj: Box<dyn KubeObject> = Box::new(svc("a", "s", spec));
    let finish = alloc.begin_create(&resource(), obj.as_mut(), false).await?;
    let svc = obj
        .as_any()
        .downcast_ref::<Service>()
        .cloned()
        .expect("a Service");
    Ok((svc, finish))
}

fn spec_of(svc: &Service) -> serde_json::Value {
    serde_json::to_value(svc.spec.as_ref().expect("spec")).expect("json")
}

fn empty(ranges: &str) -> ServiceAllocator {
    let ranges = ServiceRanges::parse(ranges, "30000-30010").expect("ranges");
    ServiceAllocator::rebuild(ranges, &[]).expect("rebuild").0
}

#[tokio::test]
async fn create_allocates_and_a_failed_write_gives_everything_back() {
    let alloc = empty("10.96.0.0/24");
    let (svc, finish) = create(
        &alloc,
        json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}),
    )
    .await
    .expect("create");
    let spec = spec_of(&svc);
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["clusterIP"], spec["clusterIPs"][0]);
    let port = spec["ports"][0]["nodePort"].as_i64().expect("a node port");
    assert!((30000..=30010).contains(&port));
    assert_eq!(alloc.allocated_ips().len(), 1);
    drop(finish); // the store write failed
    assert!(alloc.allocated_ips().is_empty());
    assert!(alloc.allocated_ports().is_empty());
}

#[tokio::test]
async fn taken_values_are_refused_with_upstreams_messages() {
    let alloc = empty("10.96.0.0/24");
    let spec = json!({"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                      "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30005}]});
    let (_, finish) = create(&alloc, spec.clone()).await.expect("create");
    finish.commit().await;
    let ip_taken = create(&alloc, spec).await.expect_err("IP taken");
    assert_eq!(ip_taken.code, 422);
    assert_eq!(
        ip_taken.message,
        "Service \"s\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: \
         failed to allocate IP 10.96.0.10: provided IP is already allocated"
    );
    let port_taken = create(
        &alloc,
        json!({"type": "NodePort",
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30005}]}),
    )
    .await
    .expect_err("port taken");
    assert_eq!(
        port_taken.message,
        "Service \"s\" is invalid: spec.ports[0].nodePort: Invalid value: 30005: provided port \
         is already allocated"
    );
    // The refused create took its ClusterIP first and gave it back.
    assert_eq!(alloc.allocated_ips().len(), 1);
    let outside = create(
        &alloc,
        json!({"type": "NodePort",
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 80}]}),
    )
    .await
    .expect_err("port outside");
    assert!(outside.message.ends_with(
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. \
         The range of valid ports is 30000-30010"
    ));
}

#[tokio::test]
async fn headless_external_name_and_dual_stack() {
    let alloc = empty("10.96.0.0/24,fd00::/112");
    let (svc, _keep) = create(
        &alloc,
        json!({"clusterIP": "None", "clusterIPs": ["None"], "selector": {"a": "b"}}),
    )
    .await
    .expect("headless");
    assert_eq!(spec_of(&svc)["clusterIPs"], json!(["None"]));
    let (svc, _keep2) = create(
        &alloc,
        json!({"type": "ExternalName", "externalName": "x.example"}),
    )
    .await
    .expect("external name");
    assert_eq!(spec_of(&svc).get("clusterIPs"), None);
    assert!(alloc.allocated_ips().is_empty());
    let (svc, finish) = create(
        &alloc,
        json!({"ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80, "protocol": "TCP"}]}),
    )
    .await
    .expect("dual");
    let spec = spec_of(&svc);
    assert_eq!(spec["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert_eq!(spec["clusterIPs"].as_array().map(Vec::len), Some(2));
    finish.commit().await;
    // A taken IPv6 address refuses the whole Service: its IPv4 address is given back.
    let v6 = spec["clusterIPs"][1].as_str().expect("v6").to_owned();
    let err = create(
        &alloc,
        json!({"ipFamilyPolicy": "RequireDualStack",
        "clusterIP": "10.96.0.77", "clusterIPs": ["10.96.0.77", v6],
        "ports": [{"port": 80, "protocol": "TCP"}]}),
    )
    .await
    .expect_err("v6 taken");
    assert_eq!(err.code, 422);
    assert_eq!(alloc.allocated_ips().len(), 2);
    let single = empty("10.96.0.0/24");
    let err = create(
        &single,
        json!({"ipFamilyPolicy": "RequireDualStack",
        "ports": [{"port": 80, "protocol": "TCP"}]}),
    )
    .await
    .expect_err("not dual-stack");
    assert!(
        err.message
            .contains("this cluster is not configured for dual-stack services")
    );
}

#[tokio::test]
async fn updates_take_and_release_what_changed() {
    let alloc = empty("10.96.0.0/24");
    let (old, finish) = create(
        &alloc,
        json!({"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}]}),
    )
    .await
    .expect("create");
    finish.commit().await;
    let update = |old: &Service, change: &dyn Fn(&mut Service)| {
        let mut new = old.clone();
        change(&mut new);
        let mut obj: Box<dyn KubeObject> = Box::new(new);
        let finish =
            futures::executor::block_on(alloc.begin_update(&resource(), obj.as_mut(), old, false))
                .expect("update");
        (
            obj.as_any()
                .downcast_ref::<Service>()
                .cloned()
                .expect("svc"),
            finish,
        )
    };
    // ClusterIP -> NodePort takes a port; a failed write gives it back.
    let to_node_port = |s: &mut Service| {
        s.spec.as_mut().expect("spec").type_ = Some("NodePort".into());
    };
    let (_, finish) = update(&old, &to_node_port);
    assert_eq!(alloc.allocated_ports().len(), 1);
    drop(finish);
    assert!(alloc.allocated_ports().is_empty());
    let (node_port, finish) = update(&old, &to_node_port);
    finish.commit().await;
    assert_eq!(alloc.allocated_ports().len(), 1);
    // NodePort -> ClusterIP releases the port, but only once the write is committed.
    let back = |s: &mut Service| {
        let spec = s.spec.as_mut().expect("spec");
        spec.type_ = Some("ClusterIP".into());
        spec.ports
            .iter_mut()
            .flatten()
            .for_each(|p| p.node_port = None);
    };
    let (_, finish) = update(&node_port, &back);
    assert_eq!(alloc.allocated_ports().len(), 1);
    finish.commit().await;
    assert!(alloc.allocated_ports().is_empty());
    // Deleting releases what is held.
    let (cluster, finish) = update(&node_port, &back);
    finish.commit().await;
    alloc.after_delete(&cluster).await;
    assert!(alloc.allocated_ips().is_empty());
}
