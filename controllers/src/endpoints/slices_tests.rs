use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::common::LABEL_HEADLESS;
use super::super::slice_parts::DEFAULT_MAX_ENDPOINTS_PER_SLICE as MAX;
use super::super::testing::*;
use super::*;

fn ip(i: usize) -> String {
    format!("10.1.{}.{}", i / 256, i % 256)
}

fn web_pods(n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| web_pod(&format!("p{i:04}"), &ip(i), "n1"))
        .collect()
}

fn nodes() -> Vec<Node> {
    vec![node("n1", Some("zone-a")), node("n2", Some("zone-b"))]
}

/// Plays the API server: names the created slices, bumps resource versions, applies the
/// plan to `slices`.
fn apply_plan(slices: &mut Vec<EndpointSlice>, plan: &SlicePlan, next: &mut usize) {
    let name = |s: &EndpointSlice| s.metadata.name.clone();
    slices.retain(|s| !plan.delete.iter().any(|d| name(d) == name(s)));
    for update in &plan.update {
        let mut update = update.clone();
        *next += 1;
        update.metadata.resource_version = Some(next.to_string());
        match slices.iter_mut().find(|s| name(s) == name(&update)) {
            Some(slot) => *slot = update,
            None => panic!("update of an unknown slice {:?}", name(&update)),
        }
    }
    for create in &plan.create {
        let mut create = create.clone();
        *next += 1;
        create.metadata.name = Some(format!("web-{next}"));
        create.metadata.resource_version = Some(next.to_string());
        slices.push(create);
    }
}

fn sync(svc: &Service, pods: &[Pod], slices: &[EndpointSlice]) -> SlicePlan {
    reconcile_slices(svc, pods, &nodes(), slices, MAX, None)
}

/// Syncs once, applies the plan, and checks that a second sync has nothing to do.
fn converge(svc: &Service, pods: &[Pod], slices: &mut Vec<EndpointSlice>) -> SlicePlan {
    let mut next = 100 + slices.len() * 10;
    let plan = sync(svc, pods, slices);
    apply_plan(slices, &plan, &mut next);
    let again = sync(svc, pods, slices);
    assert!(again.is_empty(), "not stable: {again:?}");
    plan
}

fn endpoint_count(slices: &[EndpointSlice]) -> usize {
    slices.iter().map(|s| s.endpoints.len()).sum()
}

#[test]
fn many_pods_fill_slices_of_at_most_100() {
    let svc = web_service();
    let mut slices = Vec::new();
    let plan = converge(&svc, &web_pods(250), &mut slices);
    let mut sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![50, 100, 100]);
    assert!(plan.update.is_empty() && plan.delete.is_empty());

    let slice = &plan.create[0];
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(slice.metadata.namespace.as_deref(), Some("default"));
    let labels = slice.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get(LABEL_SERVICE_NAME).map(String::as_str),
        Some("web")
    );
    assert_eq!(
        labels.get(LABEL_MANAGED_BY).map(String::as_str),
        Some(CONTROLLER_NAME)
    );
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert!(!labels.contains_key(LABEL_HEADLESS));
    let owner = &slice.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", SERVICE_UID)
    );
    assert_eq!(owner.controller, Some(true));
    let ports = slice.ports.as_ref().expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (
            ports[0].name.as_deref(),
            ports[0].port,
            ports[0].protocol.as_deref()
        ),
        (Some("http"), Some(8080), Some("TCP"))
    );
}

#[test]
fn scale_down_reuses_slices() {
    let svc = web_service();
    let mut slices = Vec::new();
    converge(&svc, &web_pods(250), &mut slices);
    let names: Vec<Option<String>> = slices.iter().map(|s| s.metadata.name.clone()).collect();

    let plan = converge(&svc, &web_pods(120), &mut slices);
    assert!(
        plan.create.is_empty(),
        "no new slices when shrinking: {plan:?}"
    );
    assert_eq!(endpoint_count(&slices), 120);
    assert!(slices.iter().all(|s| s.endpoints.len() <= MAX));
    assert!(slices.iter().all(|s| names.contains(&s.metadata.name)));

    // A few more pods go into the unchanged slice they fill best, not into a new one.
    let plan = converge(&svc, &web_pods(130), &mut slices);
    assert!(plan.create.is_empty() && plan.delete.is_empty(), "{plan:?}");
    assert_eq!(plan.update.len(), 1);
    assert_eq!(endpoint_count(&slices), 130);

    // More than fit in any one slice: a new slice, as upstream (it does not spread them).
    let plan = converge(&svc, &web_pods(250), &mut slices);
    assert_eq!(plan.create.len(), 1, "{plan:?}");
    assert!(slices.iter().all(|s| s.endpoints.len() <= MAX));
}

#[test]
fn placeholder_for_no_endpoints() {
    let svc = web_service();
    let mut slices = Vec::new();
    let plan = converge(&svc, &[], &mut slices);
    assert_eq!(plan.create.len(), 1);
    let placeholder = &slices[0];
    assert!(placeholder.endpoints.is_empty());
    assert_eq!(placeholder.ports.as_deref(), Some(&[][..]));
    let placeholder_name = placeholder.metadata.name.clone();

    // Pods arrive: the placeholder becomes their slice instead of being replaced.
    let plan = converge(&svc, &web_pods(3), &mut slices);
    assert!(plan.create.is_empty() && plan.delete.is_empty(), "{plan:?}");
    assert_eq!(plan.update.len(), 1);
    assert_eq!(plan.update[0].metadata.name, placeholder_name);
    assert_eq!(endpoint_count(&slices), 3);

    // And back to a placeholder when they go.
    converge(&svc, &[], &mut slices);
    assert_eq!(slices.len(), 1);
    assert_eq!(endpoint_count(&slices), 0);
}

/// (what, publishNotReadyAddresses, pod, ready, serving, terminating)
type ConditionCase = (&'static str, bool, Pod, bool, bool, bool);

#[test]
fn endpoint_conditions() {
    let cases: Vec<ConditionCase> = vec![
        (
            "ready",
            false,
            web_pod("a", "10.1.0.1", "n1"),
            true,
            true,
            false,
        ),
        (
            "not ready",
            false,
            unready_pod("a", "10.1.0.1", "n1"),
            false,
            false,
            false,
        ),
        (
            "terminating",
            false,
            deleting(web_pod("a", "10.1.0.1", "n1")),
            false,
            true,
            true,
        ),
        (
            "publish: not ready",
            true,
            unready_pod("a", "10.1.0.1", "n1"),
            true,
            false,
            false,
        ),
        (
            "publish: terminating",
            true,
            deleting(unready_pod("a", "10.1.0.1", "n1")),
            true,
            false,
            true,
        ),
    ];
    for (what, publish, p, ready, serving, terminating) in cases {
        let mut svc = web_service();
        if publish {
            svc = publish_not_ready(svc);
        }
        let plan = sync(&svc, &[p], &[]);
        let endpoint = &plan.create[0].endpoints[0];
        let c = endpoint.conditions.clone().unwrap_or_default();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(ready), Some(serving), Some(terminating)),
            "{what}"
        );
    }
    let gone = phase(web_pod("a", "10.1.0.1", "n1"), "Failed");
    let plan = sync(&web_service(), &[gone], &[]);
    assert!(
        plan.create[0].endpoints.is_empty(),
        "terminal pods are left out"
    );
}

#[test]
fn condition_change_updates_in_place() {
    let svc = web_service();
    let mut slices = Vec::new();
    converge(&svc, &web_pods(5), &mut slices);
    let mut pods = web_pods(5);
    pods[2] = unready_pod("p0002", &ip(2), "n1");
    let plan = converge(&svc, &pods, &mut slices);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert_eq!(plan.update.len(), 1);
    assert_eq!(endpoint_count(&slices), 5);
}

#[test]
fn zones_and_nodes() {
    let svc = web_service();
    let mut p = web_pod("b", "10.1.0.2", "n2");
    let spec = p.spec.get_or_insert_with(Default::default);
    spec.hostname = Some("b".into());
    spec.subdomain = Some("web".into());
    let pods = vec![
        web_pod("a", "10.1.0.1", "n1"),
        p,
        web_pod("c", "10.1.0.3", "gone"),
    ];
    let plan = sync(&svc, &pods, &[]);
    let endpoints = &plan.create[0].endpoints;
    type Summary<'a> = (
        Vec<String>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let summary: Vec<Summary> = endpoints
        .iter()
        .map(|e| {
            (
                e.addresses.clone(),
                e.node_name.as_deref(),
                e.zone.as_deref(),
                e.hostname.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                vec!["10.1.0.1".to_string()],
                Some("n1"),
                Some("zone-a"),
                None
            ),
            (
                vec!["10.1.0.2".to_string()],
                Some("n2"),
                Some("zone-b"),
                Some("b")
            ),
        ]
    );
    assert_eq!(plan.pods_missing_node, vec!["c".to_string()]);
    let target = endpoints[0].target_ref.as_ref().expect("target");
    assert_eq!(
        (
            target.kind.as_deref(),
            target.name.as_deref(),
            target.uid.as_deref()
        ),
        (Some("Pod"), Some("a"), Some("uid-a"))
    );

    // Publishing not-ready addresses keeps the pod of an unknown node (without a zone).
    let plan = sync(&publish_not_ready(svc), &pods, &[]);
    assert_eq!(plan.create[0].endpoints.len(), 3);
    assert!(plan.pods_missing_node.is_empty());
}

#[test]
fn dual_stack_families() {
    let svc = families(web_service(), &["IPv4", "IPv6"]);
    let dual = |name: &str, v4: &str, v6: &str| {
        let p = on_node(ready(pod(name, &[("app", "web")]), 1), "n1");
        with_container_port(with_ips(p, &[v4, v6]), "http", 8080)
    };
    let pods = vec![
        dual("a", "10.1.0.1", "fd00::1"),
        dual("b", "10.1.0.2", "fd00:0:0::2"),
        web_pod("c", "10.1.0.3", "n1"),
    ];
    let mut slices = Vec::new();
    converge(&svc, &pods, &mut slices);
    let addresses = |t: &str| -> Vec<String> {
        slices
            .iter()
            .filter(|s| s.address_type == t)
            .flat_map(|s| s.endpoints.iter().flat_map(|e| e.addresses.clone()))
            .collect()
    };
    assert_eq!(addresses("IPv4"), vec!["10.1.0.1", "10.1.0.2", "10.1.0.3"]);
    assert_eq!(
        addresses("IPv6"),
        vec!["fd00::1", "fd00::2"],
        "canonical form"
    );

    // Back to single stack: the IPv6 slice goes.
    let plan = converge(&families(svc, &["IPv4"]), &pods, &mut slices);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.delete[0].address_type, "IPv6");
    assert!(slices.iter().all(|s| s.address_type == "IPv4"));
}

#[test]
fn ports_split_pods_into_slices() {
    let svc = web_service();
    let other = with_container_port(
        with_ips(
            ready(on_node(pod("z", &[("app", "web")]), "n1"), 1),
            &["10.2.0.1"],
        ),
        "http",
        9090,
    );
    let mut pods = web_pods(2);
    pods.push(other);
    let mut slices = Vec::new();
    converge(&svc, &pods, &mut slices);
    let mut by_port: Vec<(Option<i32>, usize)> = slices
        .iter()
        .map(|s| (s.ports.as_ref().and_then(|p| p[0].port), s.endpoints.len()))
        .collect();
    by_port.sort();
    assert_eq!(by_port, vec![(Some(8080), 2), (Some(9090), 1)]);

    // A Service whose numeric target port does not depend on the pod has one slice.
    let numeric = service(vec![port("http", 80, IntOrString::Int(8080))]);
    let plan = sync(&numeric, &pods, &[]);
    assert_eq!(plan.create.len(), 1);
}

#[test]
fn service_labels_and_headless() {
    let svc = web_service();
    let mut slices = Vec::new();
    converge(&svc, &web_pods(3), &mut slices);
    let mut relabelled = svc.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("team".into(), "b".into())]));
    let plan = converge(&relabelled, &web_pods(3), &mut slices);
    assert_eq!(plan.update.len(), 1);
    let labels = slices[0].metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("b"));

    let plan = sync(&headless(web_service()), &web_pods(1), &[]);
    let labels = plan.create[0].metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(LABEL_HEADLESS).map(String::as_str), Some(""));
}

#[test]
fn foreign_and_unowned_slices() {
    let svc = web_service();
    let mut slices = Vec::new();
    converge(&svc, &web_pods(3), &mut slices);

    // A slice left by an older Service of the same name: deleted, never reused.
    let mut stale = slices[0].clone();
    stale.metadata.name = Some("web-old".into());
    if let Some(owners) = &mut stale.metadata.owner_references {
        owners[0].uid = "old-uid".into();
    }
    // A slice someone else manages: never touched.
    let mut foreign = slices[0].clone();
    foreign.metadata.name = Some("web-mirror".into());
    foreign
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(
            LABEL_MANAGED_BY.into(),
            "endpointslicemirroring-controller.k8s.io".into(),
        );
    let mut all = slices.clone();
    all.push(stale);
    all.push(foreign);
    let plan = sync(&svc, &web_pods(3), &all);
    let deleted: Vec<Option<&str>> = plan
        .delete
        .iter()
        .map(|s| s.metadata.name.as_deref())
        .collect();
    assert_eq!(deleted, vec![Some("web-old")]);
    assert!(plan.create.is_empty() && plan.update.is_empty());
}

#[test]
fn deleting_service_creates_nothing() {
    let mut svc = web_service();
    svc.metadata.deletion_timestamp = Some(Time(ts(99)));
    assert!(sync(&svc, &web_pods(3), &[]).is_empty());
}

#[test]
fn trigger_time_on_written_slices() {
    let plan = reconcile_slices(
        &web_service(),
        &web_pods(1),
        &nodes(),
        &[],
        MAX,
        Some(ts(60)),
    );
    let annotations = plan.create[0]
        .metadata
        .annotations
        .clone()
        .unwrap_or_default();
    assert_eq!(
        annotations
            .get(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)
            .map(String::as_str),
        Some("1970-01-01T00:01:00Z")
    );
}

#[test]
fn traffic_distribution_hints() {
    let mut svc = web_service();
    svc.spec
        .get_or_insert_with(Default::default)
        .traffic_distribution = Some("PreferClose".into());
    let mut pods = web_pods(2);
    pods.push(unready_pod("u", "10.9.0.1", "n2"));
    let mut slices = Vec::new();
    converge(&svc, &pods, &mut slices);
    let zones = |slices: &[EndpointSlice]| -> Vec<Option<Vec<String>>> {
        slices[0]
            .endpoints
            .iter()
            .map(|e| {
                e.hints.as_ref().map(|h| {
                    h.for_zones
                        .iter()
                        .flatten()
                        .map(|z| z.name.clone())
                        .collect()
                })
            })
            .collect()
    };
    assert_eq!(
        zones(&slices),
        vec![
            Some(vec!["zone-a".into()]),
            Some(vec!["zone-a".into()]),
            None
        ],
        "ready endpoints only"
    );

    // Turned off: the unchanged slice is rewritten without hints.
    let plan = converge(&web_service(), &pods, &mut slices);
    assert_eq!(plan.update.len(), 1);
    assert_eq!(zones(&slices), vec![None, None, None]);
}

#[test]
fn services_left_alone() {
    let mut no_selector = web_service();
    no_selector
        .spec
        .get_or_insert_with(Default::default)
        .selector = None;
    assert!(sync(&no_selector, &web_pods(2), &[]).is_empty());
}
