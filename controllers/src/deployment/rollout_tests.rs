//! Whole rollouts: a small simulated cluster applies each plan, lets a ReplicaSet controller
//! stand-in create and delete pods, marks new pods ready, and asks [`decide`] again.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, ReplicaSet, ReplicaSetStatus,
    RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::status::{AVAILABLE, PROGRESSING, get_condition};
use super::util::{max_surge, max_unavailable, rs_replicas};
use super::*;

pub(super) fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).expect("valid test time")
}

pub(super) fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

pub(super) fn deployment(replicas: i32, strategy: DeploymentStrategy) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("d-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                ..Default::default()
            },
            template: template("web:1"),
            strategy: Some(strategy),
            progress_deadline_seconds: Some(600),
            revision_history_limit: Some(10),
            ..Default::default()
        }),
        status: None,
    }
}

pub(super) fn rolling(surge: IntOrString, unavailable: IntOrString) -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
        }),
    }
}

pub(super) fn recreate() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    }
}

/// A Deployment, its ReplicaSets, and how many pods of each ReplicaSet are ready.
pub(super) struct Cluster {
    pub(super) d: Deployment,
    pub(super) rss: Vec<ReplicaSet>,
    pub(super) ready: BTreeMap<String, i32>,
    pub(super) now: i64,
    next_uid: u32,
}

impl Cluster {
    pub(super) fn new(d: Deployment) -> Self {
        Self {
            d,
            rss: Vec::new(),
            ready: BTreeMap::new(),
            now: 1_000,
            next_uid: 0,
        }
    }

    /// One Deployment sync: decide, then apply the plan as the API would.
    pub(super) fn sync(&mut self, old_pods_running: bool) -> DeploymentPlan {
        self.now += 1;
        let plan = decide(&self.d, &self.rss, old_pods_running, ts(self.now));
        if let Some(mut rs) = plan.create.clone() {
            self.next_uid += 1;
            rs.metadata.uid = Some(format!("rs-uid-{}", self.next_uid));
            rs.metadata.creation_timestamp = Some(Time(ts(self.now)));
            rs.metadata.generation = Some(1);
            self.rss.push(rs);
        }
        for rs in &plan.update {
            let slot = self
                .rss
                .iter_mut()
                .find(|r| r.metadata.name == rs.metadata.name)
                .expect("updated RS exists");
            let generation = slot.metadata.generation.unwrap_or(1) + 1;
            *slot = rs.clone();
            slot.metadata.generation = Some(generation);
        }
        self.rss.retain(|rs| {
            !plan
                .delete
                .contains(rs.metadata.name.as_ref().expect("name"))
        });
        if let Some(revision) = &plan.revision {
            self.d
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION_ANNOTATION.into(), revision.clone());
        }
        if plan.status_changed {
            self.d.status = Some(plan.status.clone());
        }
        plan
    }

    /// The ReplicaSet controller's part: pods follow `spec.replicas` at once (not-ready pods
    /// are deleted first, as its ranking does), and status reports them.
    pub(super) fn run_replica_sets(&mut self) {
        for rs in &mut self.rss {
            let name = rs.metadata.name.clone().expect("name");
            let want = rs_replicas(rs);
            let ready = self.ready.entry(name).or_default();
            *ready = (*ready).min(want);
            rs.status = Some(ReplicaSetStatus {
                replicas: want,
                ready_replicas: Some(*ready),
                available_replicas: Some(*ready),
                fully_labeled_replicas: Some(want),
                observed_generation: rs.metadata.generation,
                terminating_replicas: Some(0),
                conditions: None,
            });
        }
    }

    /// Every pod of the ReplicaSet `name` becomes ready.
    pub(super) fn mark_ready(&mut self, name: &str) {
        let want = self
            .rss
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .map_or(0, rs_replicas);
        self.ready.insert(name.into(), want);
        self.run_replica_sets();
    }

    pub(super) fn new_rs_name(&self) -> String {
        let hash = compute_hash(&self.d.spec.as_ref().expect("spec").template, None);
        format!("web-{hash}")
    }

    pub(super) fn total_pods(&self) -> i32 {
        self.rss
            .iter()
            .map(|rs| rs.status.as_ref().map_or(0, |s| s.replicas))
            .sum()
    }

    pub(super) fn available_pods(&self) -> i32 {
        self.rss
            .iter()
            .map(|rs| {
                rs.status
                    .as_ref()
                    .and_then(|s| s.available_replicas)
                    .unwrap_or(0)
            })
            .sum()
    }

    pub(super) fn replicas_of(&self, name: &str) -> Option<i32> {
        self.rss
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .map(rs_replicas)
    }

    /// Brings up the Deployment's current template from nothing, fully ready.
    pub(super) fn settle(&mut self) {
        for _ in 0..20 {
            let plan = self.sync(false);
            self.run_replica_sets();
            let name = self.new_rs_name();
            self.mark_ready(&name);
            if plan.create.is_none() && plan.update.is_empty() && !plan.status_changed {
                return;
            }
        }
        panic!("did not settle");
    }

    pub(super) fn set_image(&mut self, image: &str) {
        let spec = self.d.spec.as_mut().expect("spec");
        spec.template = template(image);
        self.d.metadata.generation = Some(self.d.metadata.generation.unwrap_or(1) + 1);
    }
}

/// The rollout from web:1 to web:2, checked after every step: total pods never above
/// replicas + maxSurge, available pods never below replicas − maxUnavailable.
#[test]
fn rolling_update_respects_surge_and_unavailability() {
    use IntOrString::{Int, String as Pct};
    let cases = [
        (10, Pct("25%".into()), Pct("25%".into())),
        (10, Int(3), Int(2)),
        (3, Int(1), Int(0)),
        (5, Int(0), Int(1)),
        (4, Pct("50%".into()), Pct("0%".into())),
        // Both round to 0: maxUnavailable becomes 1.
        (1, Pct("0%".into()), Pct("1%".into())),
    ];
    for (replicas, surge, unavailable) in cases {
        let what = format!("{replicas} replicas, surge {surge:?}, unavailable {unavailable:?}");
        let mut c = Cluster::new(deployment(replicas, rolling(surge, unavailable)));
        c.settle();
        let old = c.new_rs_name();
        assert_eq!(c.available_pods(), replicas, "{what}: v1 up");
        let (max_total, min_available) =
            (replicas + max_surge(&c.d), replicas - max_unavailable(&c.d));

        c.set_image("web:2");
        let new = c.new_rs_name();
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100, "{what}: rollout did not finish");
            let plan = c.sync(false);
            c.run_replica_sets();
            let check = |c: &Cluster, when: &str| {
                assert!(
                    c.total_pods() <= max_total,
                    "{what}: {} pods > {max_total} {when}",
                    c.total_pods()
                );
                assert!(
                    c.available_pods() >= min_available,
                    "{what}: {} available < {min_available} {when}",
                    c.available_pods()
                );
            };
            check(&c, "after scaling");
            c.mark_ready(&new);
            check(&c, "after pods became ready");
            let done = c.replicas_of(&new) == Some(replicas) && c.replicas_of(&old) == Some(0);
            if done && plan.create.is_none() && plan.update.is_empty() && !plan.status_changed {
                break;
            }
        }
        let status = c.d.status.clone().expect("status");
        assert_eq!(
            (status.updated_replicas, status.available_replicas),
            (Some(replicas), Some(replicas)),
            "{what}"
        );
        let progressing = get_condition(&status, PROGRESSING).expect("progressing");
        assert_eq!(
            progressing.reason.as_deref(),
            Some("NewReplicaSetAvailable"),
            "{what}"
        );
        assert_eq!(
            get_condition(&status, AVAILABLE).map(|c| c.status.as_str()),
            Some("True")
        );
        let revision = |name: &str| {
            c.rss
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .and_then(|r| {
                    r.metadata
                        .annotations
                        .as_ref()?
                        .get(REVISION_ANNOTATION)
                        .cloned()
                })
        };
        assert_eq!(
            (revision(&old).as_deref(), revision(&new).as_deref()),
            (Some("1"), Some("2")),
            "{what}"
        );
        assert_eq!(
            c.d.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .map(String::as_str),
            Some("2")
        );
    }
}

#[test]
fn new_replica_set_is_named_and_labelled_by_the_hash() {
    let mut c = Cluster::new(deployment(
        3,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    let plan = c.sync(false);
    let rs = plan.create.expect("new ReplicaSet");
    let hash = compute_hash(&template("web:1"), None);
    assert_eq!(rs.metadata.name, Some(format!("web-{hash}")));
    let label = |m: Option<&BTreeMap<String, String>>| {
        m.and_then(|l| l.get(POD_TEMPLATE_HASH_LABEL)).cloned()
    };
    let spec = rs.spec.as_ref().expect("spec");
    assert_eq!(label(rs.metadata.labels.as_ref()), Some(hash.clone()));
    assert_eq!(
        label(spec.selector.match_labels.as_ref()),
        Some(hash.clone())
    );
    assert_eq!(
        label(
            spec.template
                .as_ref()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref())
        ),
        Some(hash)
    );
    assert_eq!(spec.replicas, Some(3));
    let owner = &rs.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Deployment", "d-uid", Some(true))
    );
    let annotations = rs.metadata.annotations.clone().expect("annotations");
    assert_eq!(
        annotations.get(REVISION_ANNOTATION).map(String::as_str),
        Some("1")
    );
    assert_eq!(
        annotations
            .get(DESIRED_REPLICAS_ANNOTATION)
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        annotations.get(MAX_REPLICAS_ANNOTATION).map(String::as_str),
        Some("4")
    );
    assert_eq!(plan.revision.as_deref(), Some("1"));
    let progressing = get_condition(&plan.status, PROGRESSING).expect("progressing");
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetCreated"));
}

#[test]
fn hash_collision_bumps_the_collision_count() {
    let mut c = Cluster::new(deployment(
        2,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    // An RS of ours already has the name the template hashes to, with another template.
    let mut squatter = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(c.new_rs_name()),
            uid: Some("squatter".into()),
            owner_references: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: "web".into(),
                    uid: "d-uid".into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                },
            ]),
            ..Default::default()
        },
        spec: Some(Default::default()),
        status: None,
    };
    if let Some(spec) = squatter.spec.as_mut() {
        spec.template = Some(template("other:9"));
        spec.replicas = Some(0);
    }
    c.rss.push(squatter.clone());
    let plan = c.sync(false);
    assert!(plan.create.is_none());
    assert_eq!(plan.status.collision_count, Some(1));
    assert_eq!(plan.requeue_after, Some(std::time::Duration::ZERO));
    // The next sync hashes with the count and creates a differently named ReplicaSet.
    let plan = c.sync(false);
    let created = plan.create.expect("created after the bump");
    assert_eq!(
        created.metadata.name,
        Some(format!("web-{}", compute_hash(&template("web:1"), Some(1))))
    );
    // The runtime's view of an AlreadyExists answer agrees.
    assert!(
        matches!(create_conflict(&c.d, &squatter), CreateConflict::Collision(s) if s.collision_count == Some(2))
    );
}

#[test]
fn recreate_scales_down_waits_then_scales_up() {
    let mut c = Cluster::new(deployment(3, recreate()));
    c.settle();
    let old = c.new_rs_name();
    c.set_image("web:2");
    let new = c.new_rs_name();

    let plan = c.sync(false);
    assert!(
        plan.create.is_none(),
        "nothing new before the old pods are gone"
    );
    assert_eq!(c.replicas_of(&old), Some(0));
    // Old pods still report running (status not yet updated): wait.
    let plan = c.sync(false);
    assert!(plan.create.is_none() && plan.update.is_empty());
    c.run_replica_sets();
    // The ReplicaSet says 0, but the caller still sees an old pod running: wait.
    let plan = c.sync(true);
    assert!(plan.create.is_none());
    let plan = c.sync(false);
    let created = plan.create.expect("new ReplicaSet once old pods are gone");
    assert_eq!(created.metadata.name.as_deref(), Some(new.as_str()));
    assert_eq!(c.replicas_of(&new), Some(3));
    c.run_replica_sets();
    c.mark_ready(&new);
    c.sync(false);
    let status = c.d.status.clone().expect("status");
    assert_eq!(
        (status.replicas, status.available_replicas),
        (Some(3), Some(3))
    );
}

#[test]
fn old_pods_running_helper() {
    use k8s_openapi::api::core::v1::{Pod, PodStatus};
    let mut c = Cluster::new(deployment(1, recreate()));
    c.settle();
    let old_uid = c.rss[0].metadata.uid.clone().expect("uid");
    c.set_image("web:2");
    let pod = |phase: &str, owner: &str| Pod {
        metadata: ObjectMeta {
            owner_references: Some(vec![crate::replicaset::controller_ref(&ReplicaSet {
                metadata: ObjectMeta {
                    uid: Some(owner.into()),
                    ..Default::default()
                },
                ..Default::default()
            })]),
            ..Default::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    };
    for (phase, want) in [
        ("Running", true),
        ("Pending", true),
        ("Unknown", true),
        ("Succeeded", false),
        ("Failed", false),
    ] {
        assert_eq!(
            old_pods_running(&c.d, &c.rss, &[pod(phase, &old_uid)]),
            want,
            "{phase}"
        );
    }
    assert!(!old_pods_running(
        &c.d,
        &c.rss,
        &[pod("Running", "stranger")]
    ));
}

#[test]
fn paused_deployment_scales_but_does_not_roll_out() {
    let mut c = Cluster::new(deployment(
        4,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    c.settle();
    let old = c.new_rs_name();
    if let Some(spec) = c.d.spec.as_mut() {
        spec.paused = Some(true);
        spec.replicas = Some(6);
    }
    c.set_image("web:2");
    let plan = c.sync(false);
    assert!(plan.create.is_none(), "no new ReplicaSet while paused");
    assert_eq!(c.replicas_of(&old), Some(6), "but scaling goes on");
    let progressing = get_condition(&plan.status, PROGRESSING).expect("progressing");
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_deref()),
        ("Unknown", Some("DeploymentPaused"))
    );
    // The status catches up while still paused.
    c.run_replica_sets();
    c.mark_ready(&old);
    let plan = c.sync(false);
    assert!(plan.create.is_none() && plan.update.is_empty());
    assert_eq!(plan.status.available_replicas, Some(6));
    // Resumed: the rollout starts and the condition says so.
    if let Some(spec) = c.d.spec.as_mut() {
        spec.paused = Some(false);
    }
    let plan = c.sync(false);
    assert!(plan.create.is_some());
    let progressing = get_condition(&plan.status, PROGRESSING).expect("progressing");
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetCreated"));
}

#[test]
fn progress_deadline_exceeded() {
    let mut d = deployment(2, rolling(IntOrString::Int(1), IntOrString::Int(0)));
    if let Some(spec) = d.spec.as_mut() {
        spec.progress_deadline_seconds = Some(30);
    }
    let mut c = Cluster::new(d);
    c.settle();
    c.set_image("web:2");
    // The new pods never become ready: after the surge pod, nothing moves.
    for _ in 0..3 {
        c.sync(false);
        c.run_replica_sets();
    }
    let reason = |c: &Cluster| {
        get_condition(c.d.status.as_ref().expect("status"), PROGRESSING)
            .and_then(|p| p.reason.clone())
    };
    assert_eq!(reason(&c).as_deref(), Some("ReplicaSetUpdated"));
    let last_update = get_condition(c.d.status.as_ref().expect("status"), PROGRESSING)
        .and_then(|p| p.last_update_time.clone())
        .expect("update time")
        .0;
    // Stuck but within the deadline: no status change, a requeue for when it would expire.
    c.now = last_update.as_second() + 10;
    let plan = c.sync(false);
    assert!(!plan.status_changed);
    assert_eq!(plan.requeue_after, Some(std::time::Duration::from_secs(20)));
    // Past the deadline: Progressing turns False with ProgressDeadlineExceeded.
    c.now = last_update.as_second() + 31;
    let plan = c.sync(false);
    let progressing = get_condition(&plan.status, PROGRESSING).expect("progressing");
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_deref()),
        ("False", Some("ProgressDeadlineExceeded"))
    );
    assert_eq!(plan.requeue_after, None);
}

#[test]
fn revision_history_limit_deletes_oldest_scaled_down_sets() {
    let mut d = deployment(1, rolling(IntOrString::Int(1), IntOrString::Int(0)));
    if let Some(spec) = d.spec.as_mut() {
        spec.revision_history_limit = Some(1);
    }
    let mut c = Cluster::new(d);
    c.settle();
    let mut names = vec![c.new_rs_name()];
    for image in ["web:2", "web:3", "web:4"] {
        c.set_image(image);
        names.push(c.new_rs_name());
        // Roll out fully, so that the older sets are at 0 and observed.
        for _ in 0..10 {
            c.sync(false);
            c.run_replica_sets();
            c.mark_ready(names.last().expect("name"));
        }
    }
    let left: Vec<&str> = c
        .rss
        .iter()
        .filter_map(|r| r.metadata.name.as_deref())
        .collect();
    // web:4 is current; one old set (web:3, the highest old revision) is kept.
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&names[3].as_str()) && left.contains(&names[2].as_str()),
        "{left:?}"
    );
}

#[test]
fn empty_selector_is_refused() {
    let mut d = deployment(1, rolling(IntOrString::Int(1), IntOrString::Int(0)));
    if let Some(spec) = d.spec.as_mut() {
        spec.selector = LabelSelector::default();
    }
    let plan = decide(&d, &[], false, ts(5));
    assert!(plan.create.is_none());
    assert_eq!(plan.events.first().map(|e| e.reason), Some("SelectingAll"));
    assert_eq!(plan.status.observed_generation, Some(1));
}
