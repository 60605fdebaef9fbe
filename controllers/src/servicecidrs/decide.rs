//! The "decide" half of the ServiceCIDR controller (kube-controller-manager's
//! "service-cidr-controller"): from one ServiceCIDR, all ServiceCIDRs and the IPAddresses, the
//! finalizer to add or remove and the `Ready` condition to write. It mirrors `sync` and
//! `canDeleteCIDR` of upstream's `pkg/controller/servicecidrs/servicecidrs_controller.go`, and
//! its event-to-key helpers `overlappingServiceCIDRs` and `containingServiceCIDRs`.
//!
//! A live ServiceCIDR carries [`SERVICE_CIDR_FINALIZER`] and `Ready=True`. One being deleted
//! keeps the finalizer while an IPAddress allocated by the apiserver would be orphaned — it
//! lies inside this range and inside no other ServiceCIDR — and says so with `Ready=False`,
//! reason [`REASON_TERMINATING`]. Once nothing would be orphaned the finalizer goes, but only
//! [`DELETION_GRACE_PERIOD`] after the deletion began, so that every apiserver's allocator has
//! seen the deletion and stopped handing out addresses from the range.
//!
//! # What the I/O half (`controller.rs`) does
//!
//! 1. Informers on `networking.k8s.io/v1` ServiceCIDRs and IPAddresses (both cluster-scoped);
//!    work starts once both have synced. Keys are ServiceCIDR names.
//! 2. Events to keys, as upstream's handlers:
//!    - ServiceCIDR added: its name and
//!      [`overlapping_service_cidrs`](super::keys::overlapping_service_cidrs) of it (a new
//!      range may become the parent that unblocks a terminating one);
//!    - ServiceCIDR updated or deleted: its name only (upstream does not requeue the
//!      overlapping ones on delete);
//!    - IPAddress added or deleted (tombstones included; updates are ignored):
//!      [`service_cidrs_for_ip_address`](super::keys::service_cidrs_for_ip_address) of it.
//! 3. Sync of a key: absent from the cache, nothing to do. Otherwise
//!    `decide(&cidr, cidrs_cache, ip_addresses_cache, now)` and then, in this order:
//!    - `add_finalizer`: a strategic-merge patch `{"metadata":{"finalizers":[F]}}` (finalizers
//!      merge by value; a JSON merge patch would replace the list); NotFound is success. On
//!      error stop and retry — no status write.
//!    - `remove_finalizer`: a strategic-merge patch
//!      `{"metadata":{"$deleteFromPrimitiveList/finalizers":[F]}}`; NotFound is success.
//!    - `ready_condition`: written to the `status` subresource holding only that condition
//!      (upstream: server-side apply, field manager [`CONTROLLER_NAME`], force; `conditions` is
//!      a list-map keyed by `type`, so other conditions stay). When writing `Ready=True`
//!      fails, record a Warning event on the ServiceCIDR, reason `KubernetesServiceCIDRError`,
//!      message "The ServiceCIDR Status can not be set to Ready=True", and retry.
//!    - `requeue_after`: add the key again after that delay.
//! 4. Failed syncs are retried rate-limited (5 ms doubling), dropped after 15 retries.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::prefix::{Addr, Prefix};

/// The controller's name: event source and field manager (upstream `controllerName`).
pub const CONTROLLER_NAME: &str = "service-cidr-controller";

/// Held by every live ServiceCIDR so its deletion waits for this controller
/// (upstream `ServiceCIDRProtectionFinalizer`).
pub const SERVICE_CIDR_FINALIZER: &str = "networking.k8s.io/service-cidr-finalizer";

/// How long after the deletion began the finalizer is kept even with nothing left inside, so
/// the deletion reaches every apiserver's allocator first (upstream `deletionGracePeriod`).
pub const DELETION_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Upstream `networking/v1.ServiceCIDRConditionReady`.
pub const CONDITION_READY: &str = "Ready";

/// Upstream `networking/v1.ServiceCIDRReasonTerminating`.
pub const REASON_TERMINATING: &str = "Terminating";

/// The message of `Ready=True`; upstream writes this condition with an empty reason.
pub const MESSAGE_READY: &str = "Kubernetes Service CIDR is ready";

/// The message of `Ready=False` while IPAddresses would be orphaned.
pub const MESSAGE_TERMINATING: &str = "There are still IPAddresses referencing the ServiceCIDR, \
     please remove them or create a new ServiceCIDR";

/// IPAddress label naming who manages it (upstream `networking/v1.LabelManagedBy`).
pub const LABEL_MANAGED_BY: &str = "ipaddress.kubernetes.io/managed-by";

/// IPAddress label naming its family (upstream `networking/v1.LabelIPAddressFamily`).
pub const LABEL_IP_FAMILY: &str = "ipaddress.kubernetes.io/ip-family";

/// The `managed-by` value of the addresses the apiserver's ClusterIP allocator creates
/// (upstream `ipallocator.ControllerName`); only those block a deletion.
pub const IPALLOCATOR_MANAGER: &str = "ipallocator.k8s.io";

/// Where the ServiceCIDR stands; for logs and traces, the fields of the plan say what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Not being deleted.
    #[default]
    Live,
    /// Being deleted, but some IPAddress would be orphaned.
    DeletionBlocked,
    /// Being deleted, nothing would be orphaned, the grace period still runs.
    GracePeriod,
    /// Being deleted and free to go.
    Releasable,
}

/// What one sync of a ServiceCIDR should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceCidrPlan {
    pub phase: Phase,
    /// Add [`SERVICE_CIDR_FINALIZER`]: the ServiceCIDR is live and lacks it.
    pub add_finalizer: bool,
    /// Remove [`SERVICE_CIDR_FINALIZER`]: the deletion may complete and it is still there.
    pub remove_finalizer: bool,
    /// The `Ready` condition to write; `None` when the current one already has the same
    /// status, reason and message.
    pub ready_condition: Option<Condition>,
    /// Sync again after this long: the deletion grace period has not yet passed.
    pub requeue_after: Option<Duration>,
}

/// Decides one sync of `cidr`. `all` are the ServiceCIDRs of the cache (with or without
/// `cidr` itself: `cidr` stands for its namesake there) and `ip_addresses` the IPAddresses.
pub fn decide<'a, 'b>(
    cidr: &ServiceCIDR,
    all: impl IntoIterator<Item = &'a ServiceCIDR>,
    ip_addresses: impl IntoIterator<Item = &'b IPAddress>,
    now: Timestamp,
) -> ServiceCidrPlan {
    let has_finalizer = cidr
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == SERVICE_CIDR_FINALIZER);

    let Some(Time(deleted_at)) = cidr.metadata.deletion_timestamp else {
        return ServiceCidrPlan {
            phase: Phase::Live,
            add_finalizer: !has_finalizer,
            ready_condition: ready_condition(cidr, "True", "", MESSAGE_READY, now),
            ..Default::default()
        };
    };

    if !can_delete(cidr, all, ip_addresses) {
        // Upstream writes only the condition here; a later ServiceCIDR or IPAddress event
        // brings the key back.
        return ServiceCidrPlan {
            phase: Phase::DeletionBlocked,
            ready_condition: ready_condition(
                cidr,
                "False",
                REASON_TERMINATING,
                MESSAGE_TERMINATING,
                now,
            ),
            ..Default::default()
        };
    }

    let elapsed = now.duration_since(deleted_at);
    let grace = SignedDuration::try_from(DELETION_GRACE_PERIOD).unwrap_or(SignedDuration::MAX);
    let remaining = grace.saturating_sub(elapsed);
    if remaining.is_positive() {
        return ServiceCidrPlan {
            phase: Phase::GracePeriod,
            requeue_after: Duration::try_from(remaining).ok(),
            ..Default::default()
        };
    }
    ServiceCidrPlan {
        phase: Phase::Releasable,
        remove_finalizer: has_finalizer,
        ..Default::default()
    }
}

/// Whether deleting `cidr` orphans no IPAddress (upstream `canDeleteCIDR`). It may when every
/// one of its ranges lies inside another ServiceCIDR's, or else when no address the
/// apiserver allocated, of one of its families, lies inside it and inside no other
/// ServiceCIDR. Other ServiceCIDRs count whether or not they are being deleted themselves, as
/// upstream's `ContainsPrefix`/`ContainsAddress` do.
///
/// ServiceCIDRs are told apart by name, where upstream counts matching list entries ("only
/// one, and it is this one"); the two differ only for a spec with two ranges of one family,
/// which validation refuses.
pub fn can_delete<'a, 'b>(
    cidr: &ServiceCIDR,
    all: impl IntoIterator<Item = &'a ServiceCIDR>,
    ip_addresses: impl IntoIterator<Item = &'b IPAddress>,
) -> bool {
    let own = Ranges::of(cidr);
    let others: Vec<Ranges<'a>> = all
        .into_iter()
        .map(Ranges::of)
        .filter(|r| r.name != own.name)
        .collect();

    let has_parent = own.prefixes.iter().all(|p| {
        others
            .iter()
            .any(|o| o.prefixes.iter().any(|q| q.covers(*p)))
    });
    if has_parent {
        return true;
    }

    let families: BTreeSet<&str> = own.prefixes.iter().map(|p| p.family().label()).collect();
    let orphan = ip_addresses
        .into_iter()
        .filter(|ip| is_managed_by_ipallocator(ip))
        .filter(|ip| label(ip, LABEL_IP_FAMILY).is_some_and(|f| families.contains(f)))
        .filter_map(|ip| ip.metadata.name.as_deref().and_then(Addr::parse))
        .any(|addr| own.contains(addr) && !others.iter().any(|o| o.contains(addr)));
    !orphan
}

/// Whether the apiserver's ClusterIP allocator made `ip`; the controller ignores the rest.
pub fn is_managed_by_ipallocator(ip: &IPAddress) -> bool {
    label(ip, LABEL_MANAGED_BY) == Some(IPALLOCATOR_MANAGER)
}

/// The `Ready` condition to write, or `None` when the current one matches in status, reason
/// and message (upstream `updateConditionIfNeeded`). Unlike upstream, which stamps `now` on
/// every write, the transition time is kept when only the reason or message changes, as
/// `meta.SetStatusCondition` does elsewhere.
fn ready_condition(
    cidr: &ServiceCIDR,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Option<Condition> {
    let current = cidr
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == CONDITION_READY));
    if let Some(c) = current
        && c.status == status
        && c.reason == reason
        && c.message == message
    {
        return None;
    }
    let last_transition_time = match current {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(now),
    };
    Some(Condition {
        type_: CONDITION_READY.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time,
        observed_generation: None,
    })
}

/// A ServiceCIDR's name and the ranges of its spec that parse; a malformed range covers
/// nothing (upstream skips what `netip.ParsePrefix` rejects).
pub(super) struct Ranges<'a> {
    pub(super) name: &'a str,
    prefixes: Vec<Prefix>,
}

impl<'a> Ranges<'a> {
    pub(super) fn of(cidr: &'a ServiceCIDR) -> Self {
        let prefixes = cidr
            .spec
            .as_ref()
            .and_then(|s| s.cidrs.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|c| Prefix::parse(c))
            .collect();
        Ranges {
            name: cidr.metadata.name.as_deref().unwrap_or_default(),
            prefixes,
        }
    }

    /// Upstream `PrefixContainsIP` over all ranges.
    pub(super) fn contains(&self, addr: Addr) -> bool {
        self.prefixes.iter().any(|p| p.contains_allocatable(addr))
    }

    /// Whether some range of `self` overlaps some range of `other`.
    pub(super) fn overlaps(&self, other: &Ranges<'_>) -> bool {
        self.prefixes
            .iter()
            .any(|q| other.prefixes.iter().any(|p| q.overlaps(*p)))
    }
}

/// The value of label `key` on `ip`, if any.
fn label<'o>(ip: &'o IPAddress, key: &str) -> Option<&'o str> {
    ip.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
