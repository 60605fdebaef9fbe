use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::testing::*;
use super::*;

/// The IPs of ready and not-ready addresses, over all subsets.
fn ips(subsets: &[EndpointSubset]) -> (Vec<String>, Vec<String>) {
    let collect = |pick: fn(&EndpointSubset) -> &Option<Vec<EndpointAddress>>| {
        let mut ips: Vec<String> = subsets
            .iter()
            .flat_map(|s| pick(s).iter().flatten().map(|a| a.ip.clone()))
            .collect();
        ips.sort();
        ips
    };
    (
        collect(|s| &s.addresses),
        collect(|s| &s.not_ready_addresses),
    )
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn written(write: Option<EndpointsWrite>) -> Endpoints {
    match write {
        Some(EndpointsWrite::Create(e) | EndpointsWrite::Update(e)) => e,
        None => panic!("expected a write"),
    }
}

/// What the API server would hand back after storing `e`.
fn stored(mut e: Endpoints) -> Endpoints {
    e.metadata.resource_version = Some("7".into());
    e
}

/// (what, publishNotReadyAddresses, pod, ready IPs, not-ready IPs)
type Case = (
    &'static str,
    bool,
    Pod,
    &'static [&'static str],
    &'static [&'static str],
);

#[test]
fn which_pods_and_how() {
    let cases: Vec<Case> = vec![
        (
            "ready",
            false,
            web_pod("a", "10.1.0.1", "n1"),
            &["10.1.0.1"],
            &[],
        ),
        (
            "not ready",
            false,
            unready_pod("a", "10.1.0.1", "n1"),
            &[],
            &["10.1.0.1"],
        ),
        (
            "terminating",
            false,
            deleting(web_pod("a", "10.1.0.1", "n1")),
            &[],
            &[],
        ),
        (
            "terminal",
            false,
            phase(web_pod("a", "10.1.0.1", "n1"), "Succeeded"),
            &[],
            &[],
        ),
        (
            "no IP",
            false,
            on_node(ready(pod("a", &[("app", "web")]), 1), "n1"),
            &[],
            &[],
        ),
        (
            "other labels",
            false,
            with_ips(pod("a", &[("app", "db")]), &["10.1.0.1"]),
            &[],
            &[],
        ),
        (
            "publish: not ready",
            true,
            unready_pod("a", "10.1.0.1", "n1"),
            &["10.1.0.1"],
            &[],
        ),
        (
            "publish: terminating",
            true,
            deleting(unready_pod("a", "10.1.0.1", "n1")),
            &["10.1.0.1"],
            &[],
        ),
    ];
    for (what, publish, p, want_ready, want_not_ready) in cases {
        let mut svc = web_service();
        if publish {
            svc = publish_not_ready(svc);
        }
        let subsets = desired_subsets(&svc, &[p]);
        assert_eq!(
            ips(&subsets),
            (strings(want_ready), strings(want_not_ready)),
            "{what}"
        );
    }

    let mut elsewhere = web_pod("a", "10.1.0.1", "n1");
    elsewhere.metadata.namespace = Some("other".into());
    assert!(
        desired_subsets(&web_service(), &[elsewhere]).is_empty(),
        "other namespace"
    );
}

#[test]
fn address_fields() {
    let mut p = web_pod("a", "10.1.0.1", "n1");
    let spec = p.spec.get_or_insert_with(Default::default);
    spec.hostname = Some("a-host".into());
    spec.subdomain = Some("web".into());
    let subsets = desired_subsets(&web_service(), &[p.clone()]);
    let address = &subsets[0].addresses.as_ref().expect("ready")[0];
    assert_eq!(address.hostname.as_deref(), Some("a-host"));
    assert_eq!(address.node_name.as_deref(), Some("n1"));
    assert_eq!(
        address.target_ref,
        Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("default".into()),
            name: Some("a".into()),
            uid: Some("uid-a".into()),
            ..Default::default()
        })
    );
    let port = &subsets[0].ports.as_ref().expect("ports")[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));

    // Another subdomain: no hostname.
    p.spec.get_or_insert_with(Default::default).subdomain = Some("other".into());
    let subsets = desired_subsets(&web_service(), &[p]);
    assert_eq!(
        subsets[0].addresses.as_ref().expect("ready")[0].hostname,
        None
    );
}

#[test]
fn named_ports_resolve_per_pod() {
    let svc = service(vec![
        port("http", 80, named("http")),
        port("metrics", 9000, IntOrString::Int(9100)),
    ]);
    let a = web_pod("a", "10.1.0.1", "n1");
    let b = web_pod("b", "10.1.0.2", "n1");
    // c serves `http` on another number; d has no `http` port at all.
    let c = with_container_port(
        with_ips(
            ready(on_node(pod("c", &[("app", "web")]), "n2"), 1),
            &["10.1.0.3"],
        ),
        "http",
        9090,
    );
    let d = with_ips(
        ready(on_node(pod("d", &[("app", "web")]), "n2"), 1),
        &["10.1.0.4"],
    );
    let subsets = desired_subsets(&svc, &[c, a, d, b]);
    let summary: Vec<(Vec<i32>, Vec<String>)> = subsets
        .iter()
        .map(|s| {
            let mut ports: Vec<i32> = s.ports.iter().flatten().map(|p| p.port).collect();
            ports.sort();
            (ports, ips(std::slice::from_ref(s)).0)
        })
        .collect();
    let mut summary = summary;
    summary.sort();
    assert_eq!(
        summary,
        vec![
            (vec![8080], strings(&["10.1.0.1", "10.1.0.2"])),
            (vec![9090], strings(&["10.1.0.3"])),
            (
                vec![9100],
                strings(&["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"])
            ),
        ]
    );
}

#[test]
fn one_subset_for_pods_serving_the_same_ports() {
    let svc = service(vec![
        port("http", 80, named("http")),
        port("admin", 81, IntOrString::Int(9000)),
    ]);
    let pods = [
        web_pod("a", "10.1.0.1", "n1"),
        unready_pod("b", "10.1.0.2", "n1"),
    ];
    let subsets = desired_subsets(&svc, &pods);
    assert_eq!(subsets.len(), 1);
    assert_eq!(subsets[0].ports.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        ips(&subsets),
        (strings(&["10.1.0.1"]), strings(&["10.1.0.2"]))
    );
}

#[test]
fn headless_services() {
    let svc = headless(service(Vec::new()));
    let pods = [
        web_pod("a", "10.1.0.1", "n1"),
        web_pod("b", "10.1.0.2", "n1"),
    ];
    let e = written(desired_endpoints(&svc, &pods, None, None));
    let subsets = e.subsets.clone().expect("subsets");
    assert_eq!(subsets.len(), 1, "port-less addresses are packed together");
    assert_eq!(subsets[0].ports, None);
    let labels = e.metadata.labels.expect("labels");
    assert_eq!(labels.get(LABEL_HEADLESS).map(String::as_str), Some(""));
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));

    // A Service with a cluster IP and no ports lists nothing, and carries no headless label.
    let svc = service(Vec::new());
    let e = written(desired_endpoints(&svc, &pods, None, None));
    assert_eq!(e.subsets, None);
    assert!(
        !e.metadata
            .labels
            .expect("labels")
            .contains_key(LABEL_HEADLESS)
    );
}

#[test]
fn unchanged_endpoints_are_not_rewritten() {
    let svc = service(vec![
        port("http", 80, named("http")),
        port("admin", 81, IntOrString::Int(9000)),
    ]);
    let pods = vec![
        web_pod("a", "10.1.0.1", "n1"),
        unready_pod("b", "10.1.0.2", "n1"),
        web_pod("c", "10.1.0.3", "n2"),
    ];
    let created = match desired_endpoints(&svc, &pods, None, Some(ts(10))) {
        Some(EndpointsWrite::Create(e)) => e,
        other => panic!("expected a create, got {other:?}"),
    };
    assert_eq!(created.metadata.name.as_deref(), Some("web"));
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    let current = stored(created);

    let mut reversed = pods.clone();
    reversed.reverse();
    assert_eq!(
        desired_endpoints(&svc, &reversed, Some(&current), None),
        None,
        "pod order"
    );

    // A pod's unrelated update (its resourceVersion shows in stored target references).
    let mut with_rv = current.clone();
    for subset in with_rv.subsets.iter_mut().flatten() {
        for address in subset.addresses.iter_mut().flatten() {
            if let Some(r) = &mut address.target_ref {
                r.resource_version = Some("99".into());
            }
        }
    }
    assert_eq!(
        desired_endpoints(&svc, &pods, Some(&with_rv), None),
        None,
        "pod resourceVersion"
    );

    // Stored in another order (e.g. by upstream's controller).
    let mut shuffled = current.clone();
    if let Some(subsets) = &mut shuffled.subsets {
        subsets.reverse();
        for s in subsets.iter_mut() {
            s.ports.iter_mut().for_each(|p| p.reverse());
        }
    }
    assert_eq!(
        desired_endpoints(&svc, &pods, Some(&shuffled), None),
        None,
        "order"
    );

    // b turns ready: an update of the same object.
    let mut now_ready = pods.clone();
    now_ready[1] = web_pod("b", "10.1.0.2", "n1");
    let updated = match desired_endpoints(&svc, &now_ready, Some(&current), None) {
        Some(EndpointsWrite::Update(e)) => e,
        other => panic!("expected an update, got {other:?}"),
    };
    assert_eq!(updated.metadata.resource_version.as_deref(), Some("7"));
    assert_eq!(
        ips(updated.subsets.as_deref().unwrap_or_default()).1,
        Vec::<String>::new()
    );
    assert_eq!(
        updated
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)),
        None,
        "no trigger time: the annotation goes"
    );

    // The Service's labels changed.
    let mut relabelled = svc.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("team".into(), "b".into())]));
    let e = written(desired_endpoints(&relabelled, &pods, Some(&current), None));
    assert_eq!(
        e.metadata
            .labels
            .and_then(|l| l.get("team").cloned())
            .as_deref(),
        Some("b")
    );
}

#[test]
fn trigger_time_annotation() {
    let e = written(desired_endpoints(
        &web_service(),
        &[web_pod("a", "10.1.0.1", "n1")],
        None,
        Some(ts(1_700_000_000)),
    ));
    let annotations = e.metadata.annotations.expect("annotations");
    assert_eq!(
        annotations
            .get(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)
            .map(String::as_str),
        Some("2023-11-14T22:13:20Z")
    );
}

#[test]
fn services_left_alone() {
    let pods = [web_pod("a", "10.1.0.1", "n1")];
    let mut no_selector = web_service();
    no_selector
        .spec
        .get_or_insert_with(Default::default)
        .selector = None;
    let mut empty_selector = web_service();
    empty_selector
        .spec
        .get_or_insert_with(Default::default)
        .selector = Some(BTreeMap::new());
    let mut external = web_service();
    external.spec.get_or_insert_with(Default::default).type_ = Some("ExternalName".into());
    let mut kubernetes = web_service();
    kubernetes.metadata.name = Some("kubernetes".into());
    for (what, svc) in [
        ("no selector", no_selector),
        ("empty selector", empty_selector),
        ("ExternalName", external),
        ("default/kubernetes", kubernetes),
    ] {
        assert_eq!(desired_endpoints(&svc, &pods, None, None), None, "{what}");
    }
}

#[test]
fn address_family_follows_the_service() {
    let pod_of = |name: &str| {
        let p = on_node(ready(pod(name, &[("app", "web")]), 1), "n1");
        with_container_port(with_ips(p, &["10.1.0.1", "fd00::1"]), "http", 8080)
    };
    let v6_first = families(web_service(), &["IPv6", "IPv4"]);
    let subsets = desired_subsets(&v6_first, &[pod_of("a")]);
    assert_eq!(ips(&subsets).0, strings(&["fd00::1"]));
    let subsets = desired_subsets(&web_service(), &[pod_of("a")]);
    assert_eq!(ips(&subsets).0, strings(&["10.1.0.1"]));

    // A single-stack IPv4 pod behind an IPv6-first Service is left out.
    let v4_only = web_pod("b", "10.1.0.2", "n1");
    assert!(desired_subsets(&v6_first, &[v4_only]).is_empty());
}

#[test]
fn over_capacity_is_truncated() {
    let svc = web_service();
    let ip = |i: usize| format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256);
    let ready_pods: Vec<Pod> = (0..1_100)
        .map(|i| web_pod(&format!("p{i}"), &ip(i), "n1"))
        .collect();
    let e = written(desired_endpoints(&svc, &ready_pods, None, None));
    let (ready, not_ready) = ips(e.subsets.as_deref().unwrap_or_default());
    assert_eq!((ready.len(), not_ready.len()), (MAX_ENDPOINTS_CAPACITY, 0));
    let over = |e: &Endpoints| {
        e.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_OVER_CAPACITY).cloned())
    };
    assert_eq!(over(&e).as_deref(), Some("truncated"));
    // Nothing changed since: the truncated object is not written again.
    assert_eq!(
        desired_endpoints(&svc, &ready_pods, Some(&stored(e)), None),
        None
    );

    // 900 ready and 200 not ready: ready ones are all kept, not-ready ones fill up to 1000.
    let mixed: Vec<Pod> = (0..1_100)
        .map(|i| {
            let name = format!("p{i}");
            if i < 900 {
                web_pod(&name, &ip(i), "n1")
            } else {
                unready_pod(&name, &ip(i), "n1")
            }
        })
        .collect();
    let e = written(desired_endpoints(&svc, &mixed, None, None));
    let (ready, not_ready) = ips(e.subsets.as_deref().unwrap_or_default());
    assert_eq!((ready.len(), not_ready.len()), (900, 100));

    // Back under capacity: the annotation goes.
    let current = stored(e);
    let e = written(desired_endpoints(&svc, &mixed[..10], Some(&current), None));
    assert_eq!(over(&e), None);
}

#[test]
fn repack_merges_and_not_ready_wins() {
    let address = |ip: &str, uid: &str| EndpointAddress {
        ip: ip.into(),
        target_ref: Some(ObjectReference {
            uid: Some(uid.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let port = |n: i32| EndpointPort {
        port: n,
        protocol: Some("TCP".into()),
        ..Default::default()
    };
    let input = vec![
        EndpointSubset {
            addresses: Some(vec![address("10.0.0.2", "b"), address("10.0.0.1", "a")]),
            ports: Some(vec![port(80)]),
            ..Default::default()
        },
        EndpointSubset {
            addresses: Some(vec![address("10.0.0.1", "a")]),
            ports: Some(vec![port(80)]),
            ..Default::default()
        },
        EndpointSubset {
            not_ready_addresses: Some(vec![address("10.0.0.2", "b")]),
            ports: Some(vec![port(80)]),
            ..Default::default()
        },
    ];
    let packed = repack_subsets(&input);
    assert_eq!(packed.len(), 1);
    assert_eq!(
        ips(&packed),
        (strings(&["10.0.0.1"]), strings(&["10.0.0.2"]))
    );
    assert_eq!(repack_subsets(&packed), packed, "repacking is idempotent");
}
