//! DefaultTolerationSeconds (upstream `plugin/pkg/admission/defaulttolerationseconds`): a new
//! pod tolerates a not-ready or unreachable node for 300 s unless it says otherwise, so that
//! the node lifecycle controller evicts it after five minutes rather than at once.

use k8s_openapi::api::core::v1::{Pod, Toleration};

use super::{Attributes, Operation};
use crate::object::KubeObject;

pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
const DEFAULT_SECONDS: i64 = 300;

pub fn mutate(attrs: &Attributes<'_>, obj: &mut dyn KubeObject) {
    if attrs.operation != Operation::Create || !attrs.is("", "pods") || attrs.subresource.is_some()
    {
        return;
    }
    let Some(pod) = obj.as_any_mut().downcast_mut::<Pod>() else {
        return;
    };
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    // A toleration with an empty key or effect matches every taint or effect.
    let tolerates = |tolerations: &[Toleration], key: &str| {
        tolerations.iter().any(|t| {
            t.key.as_deref().is_none_or(|k| k.is_empty() || k == key)
                && t.effect
                    .as_deref()
                    .is_none_or(|e| e.is_empty() || e == "NoExecute")
        })
    };
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        if !tolerates(tolerations, key) {
            tolerations.push(Toleration {
                key: Some(key.to_owned()),
                operator: Some("Exists".to_owned()),
                effect: Some("NoExecute".to_owned()),
                toleration_seconds: Some(DEFAULT_SECONDS),
                ..Toleration::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::testing::{attrs, pod};

    #[test]
    fn new_pods_tolerate_lost_nodes_for_five_minutes_unless_they_say_otherwise() {
        let resource = crate::admission::testing::resource("", "pods");
        let mut plain = pod(serde_json::json!({"containers": [{"name": "c", "image": "i"}]}));
        mutate(&attrs(&resource, Operation::Create), &mut plain);
        let tolerations = plain.spec.and_then(|s| s.tolerations).unwrap_or_default();
        assert_eq!(tolerations.len(), 2);
        assert!(
            tolerations
                .iter()
                .all(|t| t.toleration_seconds == Some(300))
        );

        let mut own = pod(serde_json::json!({
            "containers": [{"name": "c", "image": "i"}],
            "tolerations": [{"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 10}]
        }));
        mutate(&attrs(&resource, Operation::Create), &mut own);
        let tolerations = own.spec.and_then(|s| s.tolerations).unwrap_or_default();
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0].toleration_seconds, Some(10));

        let mut everything = pod(serde_json::json!({
            "containers": [{"name": "c", "image": "i"}],
            "tolerations": [{"operator": "Exists"}]
        }));
        mutate(&attrs(&resource, Operation::Create), &mut everything);
        assert_eq!(
            everything.spec.and_then(|s| s.tolerations).map(|t| t.len()),
            Some(1)
        );

        let mut updated = pod(serde_json::json!({"containers": [{"name": "c", "image": "i"}]}));
        mutate(&attrs(&resource, Operation::Update), &mut updated);
        assert!(
            updated
                .spec
                .and_then(|s| s.tolerations)
                .is_none_or(|t| t.is_empty())
        );
    }
}
