//! The ServiceCIDR controller (kube-controller-manager's "service-cidr-controller", upstream
//! `pkg/controller/servicecidrs/servicecidrs_controller.go`): it puts a protection finalizer
//! and `Ready=True` on every ServiceCIDR, and lets a deleted one go only when no IPAddress
//! allocated from it would be orphaned and a ten-second grace period has passed.
//! `decide.rs` holds the sync's decision ([`decide`] turns a ServiceCIDR, the ServiceCIDRs and
//! the IPAddresses into a [`ServiceCidrPlan`]) and lists what the I/O half must do; `keys.rs`
//! which ServiceCIDRs an added ServiceCIDR or an added or deleted IPAddress concerns;
//! `prefix.rs` the IP prefix arithmetic (parse, contains, overlaps, network and broadcast
//! addresses). `controller.rs` is the I/O half: informers, events to keys, the plan performed
//! through the API.

mod controller;
mod decide;
mod keys;
mod prefix;
#[cfg(test)]
mod testing;

pub use controller::ServiceCidrController;
pub use decide::{
    CONDITION_READY, CONTROLLER_NAME, DELETION_GRACE_PERIOD, IPALLOCATOR_MANAGER, LABEL_IP_FAMILY,
    LABEL_MANAGED_BY, MESSAGE_READY, MESSAGE_TERMINATING, Phase, REASON_TERMINATING,
    SERVICE_CIDR_FINALIZER, ServiceCidrPlan, can_delete, decide, is_managed_by_ipallocator,
};
pub use keys::{overlapping_service_cidrs, service_cidrs_containing, service_cidrs_for_ip_address};
