use super::*;

/// (topology key, value, count) triples, sorted.
type Counts = Vec<(String, String, i64)>;

/// The three counting maps as (key, value, count) triples, sorted, for comparison.
fn flat(map: &TopologyMap) -> Vec<(String, String, i64)> {
    let mut out: Vec<_> = map
        .0
        .iter()
        .flat_map(|(k, values)| values.iter().map(move |(v, n)| (k.clone(), v.clone(), *n)))
        .collect();
    out.sort();
    out
}

fn triples(list: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    let mut out: Vec<_> = list
        .iter()
        .map(|(k, v, n)| ((*k).to_owned(), (*v).to_owned(), *n))
        .collect();
    out.sort();
    out
}

fn counts_of(state: &CycleState) -> [Vec<(String, String, i64)>; 3] {
    let s = state
        .read::<PreFilterState>(PRE_FILTER_KEY)
        .expect("prefilter state");
    [
        flat(&s.existing_anti_affinity_counts),
        flat(&s.affinity_counts),
        flat(&s.anti_affinity_counts),
    ]
}

#[test]
fn pre_filter_state_add_remove_pod() {
    let label1: &[(&str, &str)] = &[("region", "r1"), ("zone", "z11")];
    let label2: &[(&str, &str)] = &[("region", "r1"), ("zone", "z12")];
    let label3: &[(&str, &str)] = &[("region", "r2"), ("zone", "z21")];
    let nodes = vec![
        node("nodeA", label1),
        node("nodeB", label2),
        node("nodeC", label3),
    ];
    let selector1: &[(&str, &str)] = &[("foo", "bar")];
    let anti_foo_bar = |p: MakePod| p.anti_affinity_term(term_in("foo", "region", &["bar"]));
    let anti_complex = |p: MakePod| {
        p.anti_affinity_term(term_in("foo", "region", &["bar", "buzz"]))
            .anti_affinity_term(term_not_in("service", "zone", &["bar", "security", "test"]))
    };
    let affinity_complex = |p: MakePod| {
        p.affinity_term(term_in("foo", "region", &["bar", "buzz"]))
            .affinity_term(term_not_in("service", "zone", &["bar", "security", "test"]))
    };
    struct Case {
        name: &'static str,
        pending: Pod,
        added: Pod,
        existing: Vec<Pod>,
        want_anti: Vec<(String, String, i64)>,
        want_affinity: Vec<(String, String, i64)>,
    }
    let cases = vec![
        Case {
            name: "anti-affinity counts updated after adding and removing a pod",
            pending: anti_foo_bar(make_pod().name("pending").labels(selector1)).obj(),
            existing: vec![
                make_pod().name("p1").labels(selector1).node("nodeA").obj(),
                anti_foo_bar(make_pod().name("p2").node("nodeC")).obj(),
            ],
            added: anti_foo_bar(make_pod().name("addedPod").labels(selector1).node("nodeB")).obj(),
            want_anti: triples(&[("region", "r1", 2)]),
            want_affinity: vec![],
        },
        Case {
            name: "complex anti-affinity counts updated after adding and removing a pod",
            pending: anti_complex(make_pod().name("pending").labels(selector1)).obj(),
            existing: vec![
                make_pod().name("p1").labels(selector1).node("nodeA").obj(),
                anti_foo_bar(make_pod().name("p2").node("nodeC")).obj(),
            ],
            added: anti_complex(make_pod().name("addedPod").labels(selector1).node("nodeA")).obj(),
            want_anti: triples(&[("region", "r1", 2), ("zone", "z11", 2), ("zone", "z21", 1)]),
            want_affinity: vec![],
        },
        Case {
            name: "affinity and anti-affinity counts updated after adding and removing a pod",
            pending: affinity_complex(make_pod().name("pending").labels(selector1)).obj(),
            existing: vec![
                make_pod().name("p1").labels(selector1).node("nodeA").obj(),
                affinity_complex(anti_foo_bar(make_pod().name("p2").node("nodeC"))).obj(),
            ],
            added: anti_complex(make_pod().name("addedPod").labels(selector1).node("nodeA")).obj(),
            want_anti: vec![],
            want_affinity: triples(&[("region", "r1", 2), ("zone", "z11", 2)]),
        },
    ];
    let p = plugin();
    for case in cases {
        let pending = info(&case.pending);
        let prefilter = |pods: &[Pod]| {
            let snap = snapshot(pods, &nodes);
            let mut state = CycleState::default();
            let (_, status) = p.pre_filter(&mut state, &pending, &snap);
            assert!(status.is_success(), "{}: {status:?}", case.name);
            (state, snap)
        };
        let mut all = case.existing.clone();
        all.push(case.added.clone());
        let (all_state, _) = prefilter(&all);
        let (mut state, snap) = prefilter(&case.existing);
        let original = counts_of(&state);

        let added = Arc::new(info(&case.added));
        let node_name = case
            .added
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let node = snap.get(&node_name).expect("node").clone();
        assert!(p.add_pod(&mut state, &pending, &added, &node).is_success());
        let after_add = counts_of(&state);
        assert_eq!(
            after_add[2], case.want_anti,
            "{}: anti-affinity counts",
            case.name
        );
        assert_eq!(
            after_add[1], case.want_affinity,
            "{}: affinity counts",
            case.name
        );
        assert_eq!(
            after_add,
            counts_of(&all_state),
            "{}: same as PreFilter with the pod",
            case.name
        );

        assert!(
            p.remove_pod(&mut state, &pending, &added, &node)
                .is_success()
        );
        assert_eq!(
            counts_of(&state),
            original,
            "{}: back to the original",
            case.name
        );
    }
}

#[test]
fn incoming_affinity_anti_affinity_counts() {
    let normal = |labels: &[&str]| {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (*l, "")).collect();
        make_pod().name("normal").node("nodeA").labels(&pairs).obj()
    };
    let node_a = vec![node("nodeA", &[("hostname", "nodeA")])];
    let one = triples(&[("hostname", "nodeA", 1)]);
    let two = triples(&[("hostname", "nodeA", 2)]);
    // (name, existing pods, incoming pod, want affinity counts, want anti-affinity counts)
    let cases: Vec<(&str, Vec<Pod>, Pod, Counts, Counts)> = vec![
        (
            "nil test",
            vec![],
            make_pod().name("aaa-normal").obj(),
            vec![],
            vec![],
        ),
        (
            "incoming pod without affinity/anti-affinity is a no-op",
            vec![normal(&["aaa"])],
            make_pod().name("aaa-normal").obj(),
            vec![],
            vec![],
        ),
        (
            "no pod has a label that matches the incoming pod's affinity or anti-affinity",
            vec![normal(&["bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .obj(),
            vec![],
            vec![],
        ),
        (
            "existing pod matches affinity and anti-affinity, single term",
            vec![normal(&["aaa"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .obj(),
            one.clone(),
            one.clone(),
        ),
        (
            "existing pod matches affinity and anti-affinity, multiple terms (one count per term)",
            vec![normal(&["aaa", "bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("bbb", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .obj(),
            two,
            one.clone(),
        ),
        (
            "existing pod doesn't match all affinity terms but matches anti-affinity",
            vec![normal(&["aaa"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("bbb", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("bbb", "hostname"))
                .obj(),
            vec![],
            one.clone(),
        ),
        (
            "anti-affinity with more than one term, existing pod violates part, case 1",
            vec![normal(&["aaa", "bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("ccc", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("ccc", "hostname"))
                .obj(),
            vec![],
            one.clone(),
        ),
        (
            "anti-affinity with more than one term, existing pod violates part, case 2",
            vec![normal(&["bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("bbb", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("bbb", "hostname"))
                .obj(),
            vec![],
            one,
        ),
    ];
    for (name, pods, pod, want_affinity, want_anti) in cases {
        let snap = snapshot(&pods, &node_a);
        let pod = info(&pod);
        let (affinity, anti) = incoming_counts(
            &pod.required_affinity,
            &pod.required_anti_affinity,
            snap.nodes(),
        );
        assert_eq!(flat(&affinity), want_affinity, "{name}: affinity");
        assert_eq!(flat(&anti), want_anti, "{name}: anti-affinity");
    }
}

#[test]
fn filter_without_pre_filter_state_is_an_error() {
    let node = NodeInfo::new(Arc::new(node("n", &[])));
    let status = plugin().filter(&CycleState::default(), &info(&Pod::default()), &node);
    assert_eq!(status.code, Code::Error);
    assert_eq!(
        status.message(),
        "error reading \"PreFilterInterPodAffinity\" from cycleState: not found"
    );
    let mut state = CycleState::default();
    let added = Arc::new(info(&Pod::default()));
    assert_eq!(
        plugin()
            .add_pod(&mut state, &info(&Pod::default()), &added, &node)
            .code,
        Code::Error
    );
}

/// Preemption: removing the victim whose anti-affinity blocks the node makes it fit, and
/// removing the only pod a required affinity matched makes the pod unschedulable there.
#[test]
fn add_remove_pod_changes_filter_outcome() {
    let nodes = vec![node("n1", &[("zone", "z1")]), node("n2", &[("zone", "z2")])];
    let blocker = make_pod()
        .name("blocker")
        .node("n1")
        .anti_affinity_term(term_in("app", "zone", &["web"]))
        .obj();
    let snap = snapshot(std::slice::from_ref(&blocker), &nodes);
    let p = plugin();
    let pod = info(&make_pod().labels(&[("app", "web")]).obj());
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &pod, &snap).1.is_success());
    let n1 = snap.get("n1").expect("n1").clone();
    let n2 = snap.get("n2").expect("n2").clone();
    assert_eq!(p.filter(&state, &pod, &n1), existing_fail());
    assert_eq!(p.filter(&state, &pod, &n2), ok());
    let victim = Arc::new(info(&blocker));
    let mut simulated = state.clone();
    assert!(
        p.remove_pod(&mut simulated, &pod, &victim, &n1)
            .is_success()
    );
    assert_eq!(p.filter(&simulated, &pod, &n1), ok());
    // The original state is untouched by the simulation.
    assert_eq!(p.filter(&state, &pod, &n1), existing_fail());
    // Adding it to n2 instead moves the block there.
    assert!(p.add_pod(&mut simulated, &pod, &victim, &n2).is_success());
    assert_eq!(p.filter(&simulated, &pod, &n2), existing_fail());

    // Required affinity: the only matching pod removed; the pod doesn't select itself.
    let db = make_pod()
        .name("db")
        .node("n1")
        .labels(&[("app", "db")])
        .obj();
    let snap = snapshot(std::slice::from_ref(&db), &nodes);
    let pod = info(
        &make_pod()
            .affinity_term(term_in("app", "zone", &["db"]))
            .obj(),
    );
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &pod, &snap).1.is_success());
    let n1 = snap.get("n1").expect("n1").clone();
    assert_eq!(p.filter(&state, &pod, &n1), ok());
    assert!(
        p.remove_pod(&mut state, &pod, &Arc::new(info(&db)), &n1)
            .is_success()
    );
    assert_eq!(p.filter(&state, &pod, &n1), affinity_fail());
}
