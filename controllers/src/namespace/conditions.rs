//! The status conditions a terminating namespace carries while its content is deleted
//! (upstream `pkg/controller/namespace/deletion/status_condition_utils.go`): five condition
//! types, each either the failure or remaining-content variant (`True`) or its successful
//! variant (`False`), so `kubectl describe namespace` says why a namespace is stuck.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NamespaceCondition, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
pub const GROUP_VERSION_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// Each maintained type with the reason and message of its successful variant.
const MAINTAINED: [(&str, &str, &str); 5] = [
    (
        DISCOVERY_FAILURE,
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        GROUP_VERSION_PARSING_FAILURE,
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        CONTENT_FAILURE,
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        CONTENT_REMAINING,
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        FINALIZERS_REMAINING,
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// What one pass over a namespace's content found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Discovery failed (or failed for some groups): the message.
    pub discovery_error: Option<String>,
    /// Deletes or lists that failed, one message each.
    pub content_errors: Vec<String>,
    /// Objects left, by `resource.group` (`pods.`, `deployments.apps`).
    pub remaining: BTreeMap<String, usize>,
    /// Objects left, by finalizer they wait on.
    pub finalizers: BTreeMap<String, usize>,
}

fn failure(type_: &str, reason: &str, message: String, now: Timestamp) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    }
}

/// The conditions `findings` call for (only the failing ones; the rest are successful).
fn failing(findings: &Findings, now: Timestamp) -> Vec<NamespaceCondition> {
    let mut conditions = Vec::new();
    if let Some(message) = &findings.discovery_error {
        conditions.push(failure(
            DISCOVERY_FAILURE,
            "DiscoveryFailed",
            message.clone(),
            now,
        ));
    }
    if !findings.content_errors.is_empty() {
        let mut messages = findings.content_errors.clone();
        messages.sort();
        conditions.push(failure(
            CONTENT_FAILURE,
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                messages.len(),
                messages.join(", ")
            ),
            now,
        ));
    }
    let remaining: Vec<String> = findings
        .remaining
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(resource, n)| format!("{resource} has {n} resource instances"))
        .collect();
    if !remaining.is_empty() {
        conditions.push(failure(
            CONTENT_REMAINING,
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", remaining.join(", ")),
            now,
        ));
    }
    let finalizers: Vec<String> = findings
        .finalizers
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(finalizer, n)| format!("{finalizer} in {n} resource instances"))
        .collect();
    if !finalizers.is_empty() {
        conditions.push(failure(
            FINALIZERS_REMAINING,
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                finalizers.join(", ")
            ),
            now,
        ));
    }
    conditions
}

/// Updates `status` with what `findings` say; whether anything changed (upstream's
/// `updateConditions`: a changed status moves `lastTransitionTime`, a changed reason or
/// message alone does not; other condition types are kept).
pub fn update(status: &mut NamespaceStatus, findings: &Findings, now: Timestamp) -> bool {
    let failing = failing(findings, now);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for (type_, reason, message) in MAINTAINED {
        let new = failing
            .iter()
            .find(|c| c.type_ == type_)
            .cloned()
            .unwrap_or_else(|| NamespaceCondition {
                type_: type_.to_owned(),
                status: "False".to_owned(),
                reason: Some(reason.to_owned()),
                message: Some(message.to_owned()),
                last_transition_time: Some(Time(now)),
            });
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => {
                conditions.push(new);
                changed = true;
            }
            Some(old)
                if old.status != new.status
                    || old.reason != new.reason
                    || old.message != new.message =>
            {
                if old.status != new.status {
                    old.last_transition_time = Some(Time(now));
                }
                old.status = new.status;
                old.reason = new.reason;
                old.message = new.message;
                changed = true;
            }
            Some(_) => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid")
    }

    fn find<'a>(status: &'a NamespaceStatus, type_: &str) -> &'a NamespaceCondition {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_)
            .expect("condition present")
    }

    #[test]
    fn a_clean_pass_sets_every_successful_variant_once() {
        let mut status = NamespaceStatus::default();
        assert!(update(&mut status, &Findings::default(), at(10)));
        assert_eq!(status.conditions.as_ref().map(Vec::len), Some(5));
        assert!(
            status
                .conditions
                .iter()
                .flatten()
                .all(|c| c.status == "False")
        );
        assert_eq!(
            find(&status, CONTENT_REMAINING).reason.as_deref(),
            Some("ContentRemoved")
        );
        assert!(!update(&mut status, &Findings::default(), at(20)));
    }

    #[test]
    fn remaining_content_is_counted_and_sorted_as_upstream_words_it() {
        let mut status = NamespaceStatus::default();
        let findings = Findings {
            remaining: BTreeMap::from([("pods.".into(), 2), ("deployments.apps".into(), 1)]),
            finalizers: BTreeMap::from([("example.com/hold".into(), 1)]),
            content_errors: vec!["b failed".into(), "a failed".into()],
            ..Findings::default()
        };
        update(&mut status, &findings, at(10));
        let remaining = find(&status, CONTENT_REMAINING);
        assert_eq!(remaining.status, "True");
        assert_eq!(
            remaining.message.as_deref(),
            Some(
                "Some resources are remaining: deployments.apps has 1 resource instances, \
                 pods. has 2 resource instances"
            )
        );
        assert_eq!(
            find(&status, FINALIZERS_REMAINING).message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
        assert_eq!(
            find(&status, CONTENT_FAILURE).message.as_deref(),
            Some("Failed to delete all resource types, 2 remaining: a failed, b failed")
        );
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut status = NamespaceStatus::default();
        let one = Findings {
            remaining: BTreeMap::from([("pods.".into(), 2)]),
            ..Findings::default()
        };
        update(&mut status, &one, at(10));
        let two = Findings {
            remaining: BTreeMap::from([("pods.".into(), 1)]),
            ..Findings::default()
        };
        assert!(update(&mut status, &two, at(20)));
        assert_eq!(
            find(&status, CONTENT_REMAINING).last_transition_time,
            Some(Time(at(10)))
        );
        assert!(update(&mut status, &Findings::default(), at(30)));
        let done = find(&status, CONTENT_REMAINING);
        assert_eq!(
            (done.status.as_str(), done.last_transition_time.clone()),
            ("False", Some(Time(at(30))))
        );
    }
}
