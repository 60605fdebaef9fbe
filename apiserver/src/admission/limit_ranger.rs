//! LimitRanger (upstream `plugin/pkg/admission/limitranger`): the LimitRanges of a namespace
//! give new pods' containers their default requests and limits, and bound what containers,
//! pods and PersistentVolumeClaims may ask for (min, max, maxLimitRequestRatio).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, LimitRange, LimitRangeItem, PersistentVolumeClaim, Pod,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use super::{Attributes, Operation, forbidden};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;
use crate::strategy::quantity::Quantity;

type ResourceList = BTreeMap<String, ApiQuantity>;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Which writes LimitRanger looks at: pod creates (containers cannot change later) and
/// PersistentVolumeClaim creates and updates, never subresources.
fn applies(attrs: &Attributes<'_>) -> bool {
    attrs.subresource.is_none()
        && match attrs.operation {
            Operation::Create => attrs.is("", "pods") || attrs.is("", "persistentvolumeclaims"),
            Operation::Update => attrs.is("", "persistentvolumeclaims"),
            Operation::Delete => false,
        }
}

/// The namespace's limit items, defaulted as upstream's `SetDefaults_LimitRangeItem`: a
/// container's default limit falls back to the max, its default request to the default limit
/// and then to the min.
async fn items(server: &ApiServer, namespace: &str) -> Result<Vec<LimitRangeItem>, ApiError> {
    let ranges: Vec<LimitRange> = server
        .cached_objects("", "v1", "limitranges", Some(namespace))
        .await?;
    let mut items: Vec<LimitRangeItem> = ranges
        .into_iter()
        .flat_map(|r| r.spec.map(|s| s.limits).unwrap_or_default())
        .collect();
    for item in items.iter_mut().filter(|i| i.type_ == "Container") {
        let default = item.default.get_or_insert_with(Default::default);
        for (k, v) in item.max.iter().flatten() {
            default.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let request = item.default_request.get_or_insert_with(Default::default);
        for (k, v) in item
            .default
            .iter()
            .flatten()
            .chain(item.min.iter().flatten())
        {
            request.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(items)
}

pub async fn mutate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: &mut dyn KubeObject,
) -> Result<(), ApiError> {
    if !applies(attrs) || !attrs.is("", "pods") {
        return Ok(());
    }
    let Some(pod) = obj.as_any_mut().downcast_mut::<Pod>() else {
        return Ok(());
    };
    let items = items(server, attrs.namespace).await?;
    let Some(item) = items.iter().find(|i| i.type_ == "Container") else {
        return Ok(());
    };
    let Some(spec) = pod.spec.as_mut() else {
        return Ok(());
    };
    let mut notes = Vec::new();
    let containers = spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut());
    for container in containers {
        if let Some(note) = apply_defaults(container, item) {
            notes.push(note);
        }
    }
    if !notes.is_empty() {
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                ANNOTATION.to_owned(),
                format!("LimitRanger plugin set: {}", notes.join("; ")),
            );
    }
    Ok(())
}

/// Fills a container's missing requests and limits; what it set, as upstream annotates it.
fn apply_defaults(container: &mut Container, item: &LimitRangeItem) -> Option<String> {
    let resources = container.resources.get_or_insert_with(Default::default);
    let set = |target: &mut Option<ResourceList>, defaults: Option<&ResourceList>| {
        let mut names = Vec::new();
        for (k, v) in defaults.into_iter().flatten() {
            let target = target.get_or_insert_with(Default::default);
            if !target.contains_key(k) {
                target.insert(k.clone(), v.clone());
                names.push(k.clone());
            }
        }
        names
    };
    let limits = set(&mut resources.limits, item.default.as_ref());
    let requests = set(&mut resources.requests, item.default_request.as_ref());
    let mut parts = Vec::new();
    if !requests.is_empty() {
        parts.push(format!(
            "{} request for container {}",
            requests.join(", "),
            container.name
        ));
    }
    if !limits.is_empty() {
        parts.push(format!(
            "{} limit for container {}",
            limits.join(", "),
            container.name
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn quantity(list: Option<&ResourceList>, name: &str) -> Option<Quantity> {
    list.and_then(|l| l.get(name))
        .and_then(|q| Quantity::parse(&q.0).ok())
}

fn parse(q: &ApiQuantity) -> Option<Quantity> {
    Quantity::parse(&q.0).ok()
}

/// Checks a request and limit list against one item's bounds for `kind` (`Container`,
/// `Pod`); upstream's `minConstraint`, `maxConstraint` and `limitRequestRatioConstraint`.
fn check_bounds(
    item: &LimitRangeItem,
    kind: &str,
    requests: Option<&ResourceList>,
    limits: Option<&ResourceList>,
    errors: &mut Vec<String>,
) {
    for (name, min) in item.min.iter().flatten() {
        let Some(enforced) = parse(min) else { continue };
        let shown = enforced.canonical();
        match quantity(requests, name) {
            None => errors.push(format!(
                "minimum {name} usage per {kind} is {shown}.  No request is specified"
            )),
            Some(request) if request < enforced => errors.push(format!(
                "minimum {name} usage per {kind} is {shown}, but request is {}",
                request.canonical()
            )),
            Some(_) => match quantity(limits, name) {
                Some(limit) if limit < enforced => errors.push(format!(
                    "minimum {name} usage per {kind} is {shown}, but limit is {}",
                    limit.canonical()
                )),
                _ => {}
            },
        }
    }
    for (name, max) in item.max.iter().flatten() {
        let Some(enforced) = parse(max) else { continue };
        let shown = enforced.canonical();
        match quantity(limits, name) {
            None => errors.push(format!(
                "maximum {name} usage per {kind} is {shown}.  No limit is specified"
            )),
            Some(limit) if limit > enforced => errors.push(format!(
                "maximum {name} usage per {kind} is {shown}, but limit is {}",
                limit.canonical()
            )),
            Some(_) => match quantity(requests, name) {
                Some(request) if request > enforced => errors.push(format!(
                    "maximum {name} usage per {kind} is {shown}, but request is {}",
                    request.canonical()
                )),
                _ => {}
            },
        }
    }
    for (name, ratio) in item.max_limit_request_ratio.iter().flatten() {
        let Some(enforced) = parse(ratio) else {
            continue;
        };
        let shown = enforced.canonical();
        let milli = |q: Option<Quantity>| q.and_then(|q| q.milli_value()).filter(|v| *v != 0);
        let Some(request) = milli(quantity(requests, name)) else {
            errors.push(format!(
                "{name} max limit to request ratio per {kind} is {shown}, but no request is \
                 specified or request is 0"
            ));
            continue;
        };
        let Some(limit) = milli(quantity(limits, name)) else {
            errors.push(format!(
                "{name} max limit to request ratio per {kind} is {shown}, but no limit is \
                 specified or limit is 0"
            ));
            continue;
        };
        let observed = limit as f64 / request as f64;
        let allowed = enforced.milli_value().unwrap_or(i128::MAX) as f64 / 1000.0;
        if observed > allowed {
            errors.push(format!(
                "{name} max limit to request ratio per {kind} is {shown}, but provided ratio is \
                 {observed:.6}"
            ));
        }
    }
}

/// The sum of `lists`, by resource name.
fn sum<'a>(lists: impl Iterator<Item = Option<&'a ResourceList>>) -> BTreeMap<String, Quantity> {
    let mut total: BTreeMap<String, Quantity> = BTreeMap::new();
    for (name, value) in lists.flatten().flatten() {
        let Some(value) = parse(value) else { continue };
        let entry = total.entry(name.clone()).or_insert_with(Quantity::zero);
        *entry = entry.add(&value);
    }
    total
}

/// A pod's effective requests or limits (upstream `podRequests`/`podLimits`): the sum over
/// its containers or the largest init container, whichever is more, plus its overhead.
fn pod_total(pod: &Pod, limits: bool) -> ResourceList {
    let Some(spec) = &pod.spec else {
        return ResourceList::new();
    };
    fn pick(c: &Container, limits: bool) -> Option<&ResourceList> {
        let r = c.resources.as_ref()?;
        if limits {
            r.limits.as_ref()
        } else {
            r.requests.as_ref()
        }
    }
    let mut total = sum(spec.containers.iter().map(|c| pick(c, limits)));
    for init in spec.init_containers.iter().flatten() {
        for (name, value) in sum(std::iter::once(pick(init, limits))) {
            let entry = total.entry(name).or_insert_with(Quantity::zero);
            if value > *entry {
                *entry = value;
            }
        }
    }
    for (name, value) in sum(std::iter::once(spec.overhead.as_ref())) {
        let entry = total.entry(name).or_insert_with(Quantity::zero);
        *entry = entry.add(&value);
    }
    total
        .into_iter()
        .map(|(k, v)| (k, ApiQuantity(v.canonical())))
        .collect()
}

pub async fn validate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    if !applies(attrs) {
        return Ok(());
    }
    let Some(obj) = obj else { return Ok(()) };
    let items = items(server, attrs.namespace).await?;
    if items.is_empty() {
        return Ok(());
    }
    let mut errors = Vec::new();
    if let Some(pod) = obj.as_any().downcast_ref::<Pod>() {
        for item in &items {
            match item.type_.as_str() {
                "Container" => {
                    let spec = pod.spec.iter();
                    let containers = spec.flat_map(|s| {
                        s.containers
                            .iter()
                            .chain(s.init_containers.iter().flatten())
                    });
                    for c in containers {
                        let resources = c.resources.as_ref();
                        let requests = resources.and_then(|r| r.requests.as_ref());
                        let limits = resources.and_then(|r| r.limits.as_ref());
                        check_bounds(item, "Container", requests, limits, &mut errors);
                    }
                }
                "Pod" => {
                    let (requests, limits) = (pod_total(pod, false), pod_total(pod, true));
                    check_bounds(item, "Pod", Some(&requests), Some(&limits), &mut errors);
                }
                _ => {}
            }
        }
    } else if let Some(claim) = obj.as_any().downcast_ref::<PersistentVolumeClaim>() {
        let requests = claim
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref());
        for item in items.iter().filter(|i| i.type_ == "PersistentVolumeClaim") {
            // A claim's limits are not user input: only its requests are bounded.
            let bounds = LimitRangeItem {
                min: item.min.clone(),
                type_: item.type_.clone(),
                ..LimitRangeItem::default()
            };
            check_bounds(
                &bounds,
                "PersistentVolumeClaim",
                requests,
                None,
                &mut errors,
            );
            for (name, max) in item.max.iter().flatten() {
                let Some(enforced) = parse(max) else { continue };
                if let Some(request) = quantity(requests, name)
                    && request > enforced
                {
                    errors.push(format!(
                        "maximum {name} usage per PersistentVolumeClaim is {}, but request is {}",
                        enforced.canonical(),
                        request.canonical()
                    ));
                }
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(forbidden(attrs, &errors[0])),
        _ => Err(forbidden(attrs, format!("[{}]", errors.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: serde_json::Value) -> LimitRangeItem {
        serde_json::from_value(json).expect("item")
    }

    fn list(json: serde_json::Value) -> ResourceList {
        serde_json::from_value(json).expect("list")
    }

    #[test]
    fn bounds_are_reported_as_upstream_words_them() {
        let bounds = item(serde_json::json!({
            "type": "Container",
            "min": {"cpu": "100m"},
            "max": {"memory": "1Gi"},
            "maxLimitRequestRatio": {"cpu": "2"},
        }));
        let mut errors = Vec::new();
        let requests = list(serde_json::json!({"cpu": "50m"}));
        let limits = list(serde_json::json!({"cpu": "200m", "memory": "2Gi"}));
        check_bounds(
            &bounds,
            "Container",
            Some(&requests),
            Some(&limits),
            &mut errors,
        );
        assert_eq!(
            errors,
            [
                "minimum cpu usage per Container is 100m, but request is 50m",
                "maximum memory usage per Container is 1Gi, but limit is 2Gi",
                "cpu max limit to request ratio per Container is 2, but provided ratio is \
                 4.000000",
            ]
        );
        let mut errors = Vec::new();
        check_bounds(&bounds, "Container", None, None, &mut errors);
        assert_eq!(errors.len(), 3);
        assert!(errors[0].ends_with("No request is specified"), "{errors:?}");
        assert!(errors[1].ends_with("No limit is specified"), "{errors:?}");
    }

    #[test]
    fn defaults_fill_only_what_a_container_left_out() {
        let defaults = item(serde_json::json!({
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m"},
        }));
        let mut container: Container = serde_json::from_value(serde_json::json!({
            "name": "app", "resources": {"limits": {"memory": "1Gi"}}
        }))
        .expect("container");
        let note = apply_defaults(&mut container, &defaults);
        assert_eq!(
            note.as_deref(),
            Some("cpu request for container app; cpu limit for container app")
        );
        let resources = container.resources.expect("resources");
        assert_eq!(resources.limits.expect("limits")["memory"].0, "1Gi");
        assert_eq!(resources.requests.expect("requests")["cpu"].0, "100m");
    }
}
