//! The owner references `persistentVolumeClaimRetentionPolicy` asks for on a pod's claims
//! (GA since v1.32). Mirrors `isClaimOwnerUpToDate`, `updateClaimOwnerRefForSetAndPod`,
//! `hasUnexpectedController`, `hasNonControllerOwner`, `hasStaleOwnerRef` of
//! `stateful_set_utils.go` and `PodClaimIsStale` of `stateful_pod_control.go` (v1.35):
//!
//! | whenScaled | whenDeleted | in range        | scaled down     |
//! |------------|-------------|-----------------|-----------------|
//! | Retain     | Retain      | no refs         | no refs         |
//! | Retain     | Delete      | set             | set             |
//! | Delete     | Retain      | no refs         | pod             |
//! | Delete     | Delete      | set             | pod             |
//!
//! A claim whose reference to the set or pod carries another UID (a deleted namesake's) is
//! left alone, as is one another controller owns (beyond scrubbing our own references).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::identity::{SetCtx, claims_for, ordinal};

/// The owner a reference may point at: the set or one of its pods.
struct Owner<'a> {
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    uid: &'a str,
}

impl Owner<'_> {
    /// Same kind and name, whatever the UID (`matchesRef`).
    fn matches(&self, r: &OwnerReference) -> bool {
        r.api_version == self.api_version && r.kind == self.kind && r.name == self.name
    }

    fn controller_ref(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.into(),
            kind: self.kind.into(),
            name: self.name.into(),
            uid: self.uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

fn set_owner<'a>(ctx: &'a SetCtx<'_>) -> Owner<'a> {
    Owner {
        api_version: "apps/v1",
        kind: "StatefulSet",
        name: ctx.name,
        uid: ctx.uid,
    }
}

fn pod_owner(pod: &Pod) -> Owner<'_> {
    Owner {
        api_version: "v1",
        kind: "Pod",
        name: pod.metadata.name.as_deref().unwrap_or_default(),
        uid: pod.metadata.uid.as_deref().unwrap_or_default(),
    }
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
}

/// A reference by UID, controller or not (`hasOwnerRef`).
fn has_owner_ref(claim: &PersistentVolumeClaim, owner: &Owner<'_>) -> bool {
    refs(claim).iter().any(|r| r.uid == owner.uid)
}

/// The first reference naming the owner carries another UID (`hasStaleOwnerRef`).
fn has_stale_owner_ref(claim: &PersistentVolumeClaim, owner: &Owner<'_>) -> bool {
    refs(claim)
        .iter()
        .find(|r| owner.matches(r))
        .is_some_and(|r| r.uid != owner.uid)
}

/// Some other object controls the claim, or our reference is stale; only asked when the policy
/// is not Retain/Retain (`hasUnexpectedController`).
fn has_unexpected_controller(ctx: &SetCtx<'_>, claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    if !ctx.policy.delete_when_scaled && !ctx.policy.delete_when_deleted {
        return false;
    }
    let (set, pod) = (set_owner(ctx), pod_owner(pod));
    refs(claim).iter().any(|r| {
        if set.matches(r) {
            r.uid != set.uid
        } else if pod.matches(r) {
            r.uid != pod.uid
        } else {
            r.controller == Some(true)
        }
    })
}

/// The set or pod owns the claim without being its controller (`hasNonControllerOwner`).
fn has_non_controller_owner(ctx: &SetCtx<'_>, claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    let pod_uid = pod.metadata.uid.as_deref().unwrap_or_default();
    refs(claim)
        .iter()
        .any(|r| (r.uid == ctx.uid || r.uid == pod_uid) && r.controller != Some(true))
}

fn scaled_down(ctx: &SetCtx<'_>, pod: &Pod) -> bool {
    !ordinal(pod).is_some_and(|o| ctx.in_range(o))
}

/// Whether the claim's references already follow the policy (`isClaimOwnerUpToDate`).
pub(super) fn is_claim_owner_up_to_date(
    ctx: &SetCtx<'_>,
    claim: &PersistentVolumeClaim,
    pod: &Pod,
) -> bool {
    let (set, owner) = (set_owner(ctx), pod_owner(pod));
    if has_stale_owner_ref(claim, &set) || has_stale_owner_ref(claim, &owner) {
        return true;
    }
    let (has_set, has_pod) = (has_owner_ref(claim, &set), has_owner_ref(claim, &owner));
    if has_unexpected_controller(ctx, claim, pod) {
        return !(has_set || has_pod);
    }
    if has_non_controller_owner(ctx, claim, pod) {
        return false;
    }
    let down = scaled_down(ctx, pod);
    match (
        ctx.policy.delete_when_scaled,
        ctx.policy.delete_when_deleted,
    ) {
        (false, false) => !has_set && !has_pod,
        (false, true) => has_set && !has_pod,
        (true, false) => !has_set && down == has_pod,
        (true, true) => down != has_set && down == has_pod,
    }
}

/// The claim's references after scrubbing ours and adding what the policy asks for
/// (`updateClaimOwnerRefForSetAndPod`); with another controller present ours are only
/// scrubbed.
pub(super) fn updated_owner_refs(
    ctx: &SetCtx<'_>,
    claim: &PersistentVolumeClaim,
    pod: &Pod,
) -> Vec<OwnerReference> {
    let (set, owner) = (set_owner(ctx), pod_owner(pod));
    let unexpected = has_unexpected_controller(ctx, claim, pod);
    let mut out: Vec<OwnerReference> = refs(claim)
        .iter()
        .filter(|r| !set.matches(r) && !owner.matches(r))
        .cloned()
        .collect();
    if unexpected {
        return out;
    }
    let down = scaled_down(ctx, pod);
    let mut add = |o: &Owner<'_>| {
        if !out.iter().any(|r| r.uid == o.uid) {
            out.push(o.controller_ref());
        }
    };
    if ctx.policy.delete_when_scaled && down {
        add(&owner);
    }
    if ctx.policy.delete_when_deleted && !(ctx.policy.delete_when_scaled && down) {
        add(&set);
    }
    out
}

/// The claims of `pod` that exist and whose references must change, with the new references
/// (`ClaimsMatchRetentionPolicy` + `UpdatePodClaimForRetentionPolicy`); missing claims are
/// left for a later sync as upstream does.
pub(super) fn claims_to_update(
    ctx: &SetCtx<'_>,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    pod: &Pod,
) -> Vec<PersistentVolumeClaim> {
    let Some(ordinal) = ordinal(pod) else {
        return Vec::new();
    };
    claims_for(ctx, ordinal)
        .values()
        .filter_map(|wanted| claims.get(wanted.metadata.name.as_deref()?))
        .filter(|claim| !is_claim_owner_up_to_date(ctx, claim, pod))
        .map(|claim| {
            let mut claim = claim.clone();
            claim.metadata.owner_references = Some(updated_owner_refs(ctx, &claim, pod));
            claim
        })
        .collect()
}

/// A claim of a pod about to be made still points at an earlier pod of that name: with
/// `whenScaled: Delete` it may be garbage collected under the new pod, so creation waits
/// (`PodClaimIsStale`).
pub(super) fn claim_is_stale(
    ctx: &SetCtx<'_>,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    pod: &Pod,
) -> bool {
    if !ctx.policy.delete_when_scaled {
        return false;
    }
    let Some(ordinal) = ordinal(pod) else {
        return false;
    };
    let owner = pod_owner(pod);
    claims_for(ctx, ordinal)
        .values()
        .filter_map(|wanted| claims.get(wanted.metadata.name.as_deref()?))
        .any(|claim| has_stale_owner_ref(claim, &owner))
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
