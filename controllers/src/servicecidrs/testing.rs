//! Builders shared by the ServiceCIDR controller's tests.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPAddress, ServiceCIDR, ServiceCIDRSpec, ServiceCIDRStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::decide::{
    CONDITION_READY, IPALLOCATOR_MANAGER, LABEL_IP_FAMILY, LABEL_MANAGED_BY, MESSAGE_TERMINATING,
    REASON_TERMINATING, SERVICE_CIDR_FINALIZER,
};

pub(super) const NOW: i64 = 100_000;

pub(super) fn at(second: i64) -> Timestamp {
    match Timestamp::from_second(second) {
        Ok(t) => t,
        Err(e) => panic!("bad test time {second}: {e}"),
    }
}

pub(super) fn now() -> Timestamp {
    at(NOW)
}

pub(super) fn cidr(name: &str, cidrs: &[&str]) -> ServiceCIDR {
    ServiceCIDR {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(ServiceCIDRSpec {
            cidrs: Some(cidrs.iter().map(|c| c.to_string()).collect()),
        }),
        status: None,
    }
}

/// An address allocated by the apiserver, labelled as upstream's `makeIPAddress`.
pub(super) fn ip(address: &str) -> IPAddress {
    let family = if address.contains(':') {
        "IPv6"
    } else {
        "IPv4"
    };
    ip_labelled(
        address,
        &[
            (LABEL_IP_FAMILY, family),
            (LABEL_MANAGED_BY, IPALLOCATOR_MANAGER),
        ],
    )
}

pub(super) fn ip_labelled(address: &str, labels: &[(&str, &str)]) -> IPAddress {
    IPAddress {
        metadata: ObjectMeta {
            name: Some(address.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        },
        spec: None,
    }
}

/// Upstream's dual-stack test range.
pub(super) fn dual(name: &str) -> ServiceCIDR {
    cidr(name, &["192.168.0.0/24", "2001:db2::/64"])
}

pub(super) fn with_finalizer(mut c: ServiceCIDR) -> ServiceCIDR {
    c.metadata.finalizers = Some(vec![
        "example.com/other".into(),
        SERVICE_CIDR_FINALIZER.into(),
    ]);
    c
}

/// Being deleted since `second`, still held by our finalizer.
pub(super) fn deleting(c: ServiceCIDR, second: i64) -> ServiceCIDR {
    let mut c = with_finalizer(c);
    c.metadata.deletion_timestamp = Some(Time(at(second)));
    c
}

/// Deleted longer ago than the grace period (upstream's `deletedServiceCIDR`).
pub(super) fn deleted(c: ServiceCIDR) -> ServiceCIDR {
    deleting(c, NOW - 11)
}

pub(super) fn with_ready(
    mut c: ServiceCIDR,
    status: &str,
    reason: &str,
    message: &str,
) -> ServiceCIDR {
    c.status = Some(ServiceCIDRStatus {
        conditions: Some(vec![
            Condition {
                type_: "Other".into(),
                status: "True".into(),
                reason: "R".into(),
                message: "m".into(),
                last_transition_time: Time(at(1)),
                observed_generation: None,
            },
            Condition {
                type_: CONDITION_READY.into(),
                status: status.into(),
                reason: reason.into(),
                message: message.into(),
                last_transition_time: Time(at(50)),
                observed_generation: None,
            },
        ]),
    });
    c
}

pub(super) fn ready(status: &str, reason: &str, message: &str, since: i64) -> Option<Condition> {
    Some(Condition {
        type_: CONDITION_READY.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: Time(at(since)),
        observed_generation: None,
    })
}

pub(super) fn terminating(since: i64) -> Option<Condition> {
    ready("False", REASON_TERMINATING, MESSAGE_TERMINATING, since)
}
