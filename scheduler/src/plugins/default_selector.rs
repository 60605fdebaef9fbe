//! The selector of the workloads a pod belongs to (upstream `helper.DefaultSelector`): the
//! selectors of every Service and ReplicationController, and the label selectors of every
//! ReplicaSet and StatefulSet, in the pod's namespace, that select the pod, ANDed. Default
//! topology spreading counts the pods this selects, so the replicas of one workload spread
//! across zones and nodes without the user writing a constraint.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use ultrak8s_controllers::Selector;

/// The objects a default selector is made from, all in the pod's namespace.
pub struct Owners<'a> {
    pub services: &'a [Arc<Service>],
    pub replication_controllers: &'a [Arc<ReplicationController>],
    pub replica_sets: &'a [Arc<ReplicaSet>],
    pub stateful_sets: &'a [Arc<StatefulSet>],
}

fn map_matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn push_map(into: &mut Vec<LabelSelectorRequirement>, selector: &BTreeMap<String, String>) {
    for (key, value) in selector {
        into.push(LabelSelectorRequirement {
            key: key.clone(),
            operator: "In".to_owned(),
            values: Some(vec![value.clone()]),
        });
    }
}

/// `None` when nothing selects the pod (no default spreading for it).
pub fn default_selector(pod: &Pod, owners: &Owners<'_>) -> Option<Selector> {
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let mut requirements = Vec::new();
    for service in owners.services {
        if let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref())
            && !selector.is_empty()
            && map_matches(selector, labels)
        {
            push_map(&mut requirements, selector);
        }
    }
    for rc in owners.replication_controllers {
        if let Some(selector) = rc.spec.as_ref().and_then(|s| s.selector.as_ref())
            && !selector.is_empty()
            && map_matches(selector, labels)
        {
            push_map(&mut requirements, selector);
        }
    }
    let label_selectors = owners
        .replica_sets
        .iter()
        .filter_map(|rs| rs.spec.as_ref().map(|s| &s.selector))
        .chain(
            owners
                .stateful_sets
                .iter()
                .filter_map(|s| s.spec.as_ref().map(|s| &s.selector)),
        );
    for selector in label_selectors {
        let Some(parsed) = Selector::parse(selector) else {
            continue;
        };
        if parsed.is_everything() || !parsed.matches(Some(labels)) {
            continue;
        }
        push_map(
            &mut requirements,
            selector.match_labels.as_ref().unwrap_or(&empty),
        );
        requirements.extend(selector.match_expressions.iter().flatten().cloned());
    }
    if requirements.is_empty() {
        return None;
    }
    Selector::parse(&LabelSelector {
        match_labels: None,
        match_expressions: Some(requirements),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ServiceSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn labelled(pairs: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                labels: Some(
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).into(), (*v).into()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn service(pairs: &[(&str, &str)]) -> Arc<Service> {
        Arc::new(Service {
            spec: Some(ServiceSpec {
                selector: Some(
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).into(), (*v).into()))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn services_that_select_the_pod_make_the_selector() {
        let services = [
            service(&[("app", "web")]),
            service(&[("app", "db")]),
            service(&[]),
        ];
        let owners = Owners {
            services: &services,
            replication_controllers: &[],
            replica_sets: &[],
            stateful_sets: &[],
        };
        let pod = labelled(&[("app", "web"), ("tier", "front")]);
        let selector = default_selector(&pod, &owners).expect("a service selects the pod");
        assert!(selector.matches(pod.metadata.labels.as_ref()));
        assert!(!selector.matches(labelled(&[("app", "db")]).metadata.labels.as_ref()));
        assert!(default_selector(&labelled(&[("app", "cache")]), &owners).is_none());
    }
}
