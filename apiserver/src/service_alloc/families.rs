//! `ipFamilyPolicy` and `ipFamilies` of a Service, as the cluster's service ranges allow:
//! upstream's `initIPFamilyFields` (`pkg/registry/core/service/storage/alloc.go`), which runs
//! before any address is taken, on create and on update.
//!
//! The policy defaults to the old object's on update and to `SingleStack` on create (a
//! headless Service without selector defaults to `RequireDualStack`); the families are
//! inferred from requested `clusterIPs`, else the primary range's family, and a non-single
//! policy on a dual-stack cluster gets the other family too.

use k8s_openapi::api::core::v1::ServiceSpec;
use ultrak8s_netalloc::cidr::Family;

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::service_defaults::{cluster_ips, kind};
use crate::strategy::service_validation::{cluster_ip_fields, headless};

const SINGLE: &str = "SingleStack";
const PREFER: &str = "PreferDualStack";
const REQUIRE: &str = "RequireDualStack";

/// The API name of a family (`IPv4`, `IPv6`).
pub(super) fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// The family an API name stands for.
pub(super) fn family_of_name(name: &str) -> Option<Family> {
    match name {
        "IPv4" => Some(Family::V4),
        "IPv6" => Some(Family::V6),
        _ => None,
    }
}

fn other(family: &str) -> &'static str {
    if family == "IPv4" { "IPv6" } else { "IPv4" }
}

fn policy(spec: &ServiceSpec) -> &str {
    spec.ip_family_policy.as_deref().unwrap_or_default()
}

fn families(spec: &ServiceSpec) -> &[String] {
    spec.ip_families.as_deref().unwrap_or_default()
}

fn selectorless(spec: &ServiceSpec) -> bool {
    spec.selector.as_ref().is_none_or(|s| s.is_empty())
}

/// Upstream's `isMatchingPreferDualStackClusterIPFields`: an unchanged `PreferDualStack`
/// Service is never upgraded or downgraded because the cluster changed.
pub(super) fn matching_prefer_dual_stack(spec: &ServiceSpec, old: Option<&ServiceSpec>) -> bool {
    let Some(old) = old else { return false };
    spec.ip_family_policy.is_some()
        && kind(old) == kind(spec)
        && matches!(kind(spec), "ClusterIP" | "NodePort" | "LoadBalancer")
        && policy(spec) == PREFER
        && old.ip_family_policy.as_deref().is_none_or(|p| p == PREFER)
        && cluster_ips(old) == cluster_ips(spec)
        && families(old) == families(spec)
}

/// Fills `ipFamilyPolicy` and `ipFamilies`; `configured` lists the families of the
/// `--service-cluster-ip-range` entries, primary first.
pub(super) fn init_ip_family_fields(
    spec: &mut ServiceSpec,
    old: Option<&ServiceSpec>,
    configured: &[Family],
) -> Result<(), Vec<FieldError>> {
    if kind(spec) == "ExternalName" || matching_prefer_dual_stack(spec, old) {
        return Ok(());
    }
    if spec.ip_family_policy.is_none() {
        let inherited = old.and_then(|o| o.ip_family_policy.clone());
        spec.ip_family_policy = Some(match inherited {
            Some(p) => p,
            None if headless(spec) && selectorless(spec) => REQUIRE.to_owned(),
            None => SINGLE.to_owned(),
        });
    }
    // Loose pre-validation, so that what follows sees well-formed addresses.
    let mut errors = Vec::new();
    cluster_ip_fields(spec, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let policy_value = quote(policy(spec));
    let invalid_policy = |why: &str| FieldError::invalid("spec.ipFamilyPolicy", &policy_value, why);
    if let Some(old) = old {
        if policy(spec) == SINGLE {
            // Single-stack with unchanged fields is the clear intent to drop the secondary.
            let same_ips = cluster_ips(old) == cluster_ips(spec);
            if same_ips && let Some(ips) = spec.cluster_ips.as_mut() {
                ips.truncate(1);
            }
            let same_families = families(old) == families(spec);
            if same_families && let Some(f) = spec.ip_families.as_mut() {
                f.truncate(1);
            }
        } else {
            let reduced = |new: usize, old: usize| new != 0 && new < old;
            if reduced(cluster_ips(spec).len(), cluster_ips(old).len()) {
                errors.push(invalid_policy(
                    "must be 'SingleStack' to release the secondary cluster IP",
                ));
            }
            if reduced(families(spec).len(), families(old).len()) {
                errors.push(invalid_policy(
                    "must be 'SingleStack' to release the secondary IP family",
                ));
            }
        }
    }
    if policy(spec) == SINGLE {
        if cluster_ips(spec).len() == 2 {
            errors.push(invalid_policy(
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are \
                 specified",
            ));
        }
        if families(spec).len() == 2 {
            errors.push(invalid_policy(
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are \
                 specified",
            ));
        }
    }
    // Infer the families of requested addresses.
    let ips = cluster_ips(spec).to_vec();
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        let Some(family) = checks::ip_family(ip) else {
            continue;
        };
        if i >= families(spec).len() {
            if configured.iter().any(|f| family_name(*f) == family) {
                spec.ip_families
                    .get_or_insert_with(Vec::new)
                    .push(family.to_owned());
            } else {
                errors.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    super::go_strings(&ips),
                    format!("{family} is not configured on this cluster"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let default = configured.first().map_or("IPv4", |f| family_name(*f));
    // Headless and selectorless: any family combination is allowed, even on a single-stack
    // cluster.
    if headless(spec) && selectorless(spec) {
        let single = policy(spec) == SINGLE;
        let families = spec.ip_families.get_or_insert_with(Vec::new);
        if families.is_empty() {
            families.push(default.to_owned());
        }
        if families.len() < 2 && !single {
            let alt = other(&families[0]);
            families.push(alt.to_owned());
        }
        return Ok(());
    }
    if policy(spec) == REQUIRE && configured.len() < 2 {
        errors.push(invalid_policy(
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, family) in families(spec).iter().enumerate() {
        if !configured.iter().any(|f| family_name(*f) == family) {
            errors.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                quote(family),
                "not configured on this cluster",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let single = policy(spec) == SINGLE;
    let families = spec.ip_families.get_or_insert_with(Vec::new);
    if families.is_empty() {
        families.push(default.to_owned());
    }
    if !single && families.len() == 1 && configured.len() == 2 {
        let alt = other(&families[0]);
        families.push(alt.to_owned());
    }
    Ok(())
}
