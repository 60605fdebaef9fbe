//! IPAddress and ServiceCIDR (networking.k8s.io/v1, upstream
//! `pkg/apis/networking/validation` `ValidateIPAddress*`/`ValidateServiceCIDR*` and
//! `pkg/registry/networking/{ipaddress,servicecidr}/strategy.go`).
//!
//! An IPAddress is named by the address it holds (canonical form) and points at what holds
//! it; a ServiceCIDR lists one CIDR, or one per family. The API server's Service allocator
//! writes and reads both (`crate::service_alloc`).

use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};

use crate::error::FieldError;
use crate::strategy::{NameRule, Strategy, checks, validation};

pub struct IpAddressStrategy;

impl Strategy for IpAddressStrategy {
    type Object = IPAddress;

    fn name_rule(&self) -> NameRule {
        NameRule::IpAddress
    }

    /// `ValidateIPAddress`: the parent reference.
    fn validate(&self, obj: &IPAddress) -> Vec<FieldError> {
        let mut out = Vec::new();
        let field = "spec.parentRef";
        // k8s-openapi reads a missing `parentRef` as an empty one: its resource and name are
        // then reported missing.
        let Some(parent) = obj.spec.as_ref().map(|s| &s.parent_ref) else {
            out.push(FieldError::required(field, ""));
            return out;
        };
        // The core group of Services is "", so an empty group cannot be refused.
        if let Some(group) = parent.group.as_deref().filter(|g| !g.is_empty()) {
            for e in validation::dns1123_subdomain(group) {
                out.push(FieldError::invalid(
                    format!("{field}.group"),
                    checks::quote(group),
                    e,
                ));
            }
        }
        let segment = |value: &str, name: &str, required: bool, out: &mut Vec<FieldError>| {
            if value.is_empty() {
                if required {
                    out.push(FieldError::required(format!("{field}.{name}"), ""));
                }
                return;
            }
            for e in validation::path_segment_name(value) {
                out.push(FieldError::invalid(
                    format!("{field}.{name}"),
                    checks::quote(value),
                    e,
                ));
            }
        };
        segment(&parent.resource, "resource", true, &mut out);
        segment(&parent.name, "name", true, &mut out);
        segment(
            parent.namespace.as_deref().unwrap_or_default(),
            "namespace",
            false,
            &mut out,
        );
        out
    }

    /// `ValidateIPAddressUpdate`: the parent reference never changes.
    fn validate_update(&self, new: &IPAddress, old: &IPAddress) -> Vec<FieldError> {
        let mut out = Vec::new();
        let parent = |o: &IPAddress| o.spec.as_ref().map(|s| s.parent_ref.clone());
        checks::immutable(&parent(new), &parent(old), "spec.parentRef", &mut out);
        out
    }
}

pub struct ServiceCidrStrategy;

impl Strategy for ServiceCidrStrategy {
    type Object = ServiceCIDR;

    /// Status is the controllers' to write (through the status subresource; the registry
    /// keeps it out of updates of the main resource).
    fn prepare_for_create(&self, obj: &mut ServiceCIDR) {
        obj.status = None;
    }

    /// `ValidateServiceCIDR`.
    fn validate(&self, obj: &ServiceCIDR) -> Vec<FieldError> {
        validate_cidrs(&cidrs_of(obj))
    }

    /// `ValidateServiceCIDRUpdate`: the CIDRs never change, except that a single-stack
    /// ServiceCIDR may gain a CIDR of the other family (upstream issue 131261).
    fn validate_update(&self, new: &ServiceCIDR, old: &ServiceCIDR) -> Vec<FieldError> {
        let (new_cidrs, old_cidrs) = (cidrs_of(new), cidrs_of(old));
        let field = "spec.cidrs";
        let mut out = Vec::new();
        let immutable = |out: &mut Vec<FieldError>, field: String| {
            out.push(FieldError::invalid(
                field,
                checks::json(&new_cidrs),
                checks::IMMUTABLE,
            ));
        };
        match (old_cidrs.len(), new_cidrs.len()) {
            (o, n) if o == n => {
                for (i, (a, b)) in old_cidrs.iter().zip(&new_cidrs).enumerate() {
                    if a != b {
                        immutable(&mut out, format!("{field}[{i}]"));
                    }
                }
            }
            (1, 2) => {
                if old_cidrs[0] != new_cidrs[0] {
                    immutable(&mut out, format!("{field}[0]"));
                }
                out.extend(validate_cidrs(&new_cidrs));
            }
            _ => immutable(&mut out, field.to_owned()),
        }
        out
    }
}

fn cidrs_of(obj: &ServiceCIDR) -> Vec<String> {
    obj.spec
        .as_ref()
        .and_then(|s| s.cidrs.clone())
        .unwrap_or_default()
}

/// The rules of `spec.cidrs`: one or two valid CIDRs, two of different families.
fn validate_cidrs(cidrs: &[String]) -> Vec<FieldError> {
    let field = "spec.cidrs";
    let mut out = Vec::new();
    let spec = || format!("{{CIDRs:{}}}", checks::json(cidrs));
    match cidrs {
        [] => {
            out.push(FieldError::required(field, "at least one CIDR required"));
            return out;
        }
        [_, _, _, ..] => {
            out.push(FieldError::invalid(
                field,
                spec(),
                "may only hold up to 2 values",
            ));
            return out;
        }
        [a, b] => {
            let dual = matches!(
                (checks::ip_family(a), checks::ip_family(b)),
                (Some(x), Some(y)) if x != y
            ) && a.contains('/')
                && b.contains('/');
            if !dual {
                out.push(FieldError::invalid(
                    field,
                    spec(),
                    "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 \
                     and 2001:db8::/64",
                ));
                return out;
            }
        }
        [_] => {}
    }
    for (i, cidr) in cidrs.iter().enumerate() {
        checks::cidr(cidr, &format!("{field}[{i}]"), &mut out);
    }
    out
}

#[cfg(test)]
#[path = "networking_tests.rs"]
mod tests;
