//! The kinds one replica controller serves: ReplicaSets and ReplicationControllers. Upstream
//! runs the ReplicaSet controller for ReplicationControllers too, through adapters that
//! convert each RC into a ReplicaSet and each status back (`pkg/controller/replication/
//! conversion.go`); [`ReplicaOwner`] is that seam here: `decide` always sees a ReplicaSet,
//! and the owner reference and status write use the owner's own kind.

use std::borrow::Cow;
use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{
    ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus,
};
use k8s_openapi::api::core::v1::{
    ReplicationController, ReplicationControllerCondition, ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub trait ReplicaOwner:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + k8s_openapi::Resource
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The controller's name in metrics and logs.
    const CONTROLLER: &'static str;

    /// The object as the ReplicaSet `decide` reads.
    fn as_replicaset(&self) -> Cow<'_, ReplicaSet>;

    /// The object with `status` (a ReplicaSet status) as its own status.
    fn with_status(&self, status: ReplicaSetStatus) -> Self;
}

/// The controller reference an owner puts on its pods.
pub fn owner_ref<K: ReplicaOwner>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: <K as k8s_openapi::Resource>::API_VERSION.into(),
        kind: <K as k8s_openapi::Resource>::KIND.into(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether an owner reference names an object of kind `K` (any version of its group).
pub fn refers_to<K: ReplicaOwner>(reference: &OwnerReference) -> bool {
    let group = reference
        .api_version
        .split_once('/')
        .map_or("", |(group, _)| group);
    reference.kind == <K as k8s_openapi::Resource>::KIND
        && group == <K as k8s_openapi::Resource>::GROUP
}

impl ReplicaOwner for ReplicaSet {
    const CONTROLLER: &'static str = "replicaset";

    fn as_replicaset(&self) -> Cow<'_, ReplicaSet> {
        Cow::Borrowed(self)
    }

    fn with_status(&self, status: ReplicaSetStatus) -> Self {
        let mut updated = self.clone();
        updated.status = Some(status);
        updated
    }
}

impl ReplicaOwner for ReplicationController {
    const CONTROLLER: &'static str = "replicationcontroller";

    /// `conversion.go`'s `convertRCtoRS`: the map selector becomes `matchLabels` (the API
    /// server defaults an absent one to the template's labels); an absent selector selects
    /// nothing, as an RS with an invalid selector.
    fn as_replicaset(&self) -> Cow<'_, ReplicaSet> {
        let spec = self.spec.clone().unwrap_or_default();
        let selector = match spec.selector {
            Some(labels) if !labels.is_empty() => LabelSelector {
                match_labels: Some(labels),
                match_expressions: None,
            },
            // An expression no label can satisfy: `Selector::parse` refuses `In` without
            // values, so the ReplicaSet decisions skip it.
            _ => LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                        key: "selector".into(),
                        operator: "In".into(),
                        values: None,
                    },
                ]),
            },
        };
        let status = self.status.clone().map(|s| ReplicaSetStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas,
            ready_replicas: s.ready_replicas,
            available_replicas: s.available_replicas,
            observed_generation: s.observed_generation,
            terminating_replicas: None,
            conditions: s.conditions.map(|c| {
                c.into_iter()
                    .map(|c| ReplicaSetCondition {
                        type_: c.type_,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                        last_transition_time: c.last_transition_time,
                    })
                    .collect()
            }),
        });
        Cow::Owned(ReplicaSet {
            metadata: self.metadata.clone(),
            spec: Some(ReplicaSetSpec {
                replicas: spec.replicas,
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: spec.template,
            }),
            status,
        })
    }

    /// `convertRStoRC` of the status (RCs have no `terminatingReplicas`).
    fn with_status(&self, status: ReplicaSetStatus) -> Self {
        let mut updated = self.clone();
        updated.status = Some(ReplicationControllerStatus {
            replicas: status.replicas,
            fully_labeled_replicas: status.fully_labeled_replicas,
            ready_replicas: status.ready_replicas,
            available_replicas: status.available_replicas,
            observed_generation: status.observed_generation,
            conditions: status.conditions.map(|c| {
                c.into_iter()
                    .map(|c| ReplicationControllerCondition {
                        type_: c.type_,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                        last_transition_time: c.last_transition_time,
                    })
                    .collect()
            }),
        });
        updated
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::ReplicationControllerSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::replicaset::selector::Selector;

    fn rc(selector: Option<BTreeMap<String, String>>) -> ReplicationController {
        ReplicationController {
            metadata: ObjectMeta {
                name: Some("rc".into()),
                uid: Some("u".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicationControllerSpec {
                replicas: Some(3),
                selector,
                ..ReplicationControllerSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn rc_selector_becomes_match_labels() {
        let labels = BTreeMap::from([("app".to_owned(), "a".to_owned())]);
        let rs = rc(Some(labels.clone())).as_replicaset().into_owned();
        let spec = rs.spec.expect("spec");
        assert_eq!(spec.replicas, Some(3));
        let selector = Selector::parse(&spec.selector).expect("valid");
        assert!(selector.matches(Some(&labels)));
        assert!(!selector.matches(None));
    }

    #[test]
    fn rc_without_selector_selects_nothing() {
        let rs = rc(None).as_replicaset().into_owned();
        assert!(Selector::parse(&rs.spec.expect("spec").selector).is_none());
    }

    #[test]
    fn references_name_the_owner_kind() {
        let reference = owner_ref(&rc(None));
        assert_eq!(
            (reference.api_version.as_str(), reference.kind.as_str()),
            ("v1", "ReplicationController")
        );
        assert!(refers_to::<ReplicationController>(&reference));
        assert!(!refers_to::<ReplicaSet>(&reference));
        let status = ReplicaSetStatus {
            replicas: 2,
            ready_replicas: Some(1),
            ..ReplicaSetStatus::default()
        };
        let back = rc(None).with_status(status);
        assert_eq!(back.status.map(|s| (s.replicas, s.ready_replicas)), Some((2, Some(1))));
    }
}
