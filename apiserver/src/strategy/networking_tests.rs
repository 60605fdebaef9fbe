use serde_json::{Value, json};

use super::*;
use crate::strategy::meta;

fn ip_address(name: &str, parent: Value) -> IPAddress {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"parentRef": parent}}))
        .expect("ipaddress")
}

fn service_cidr(cidrs: Value) -> ServiceCIDR {
    serde_json::from_value(json!({"metadata": {"name": "c"}, "spec": {"cidrs": cidrs}}))
        .expect("servicecidr")
}

fn strings(errors: Vec<FieldError>) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn ip_address_names_are_canonical_addresses() {
    let table: [(&str, &[&str]); 6] = [
        ("10.96.0.10", &[]),
        ("2001:db8::a", &[]),
        (
            "2001:db8:0::a",
            &["must be in canonical form (\"2001:db8::a\")"],
        ),
        ("010.96.0.10", &["must not have leading 0s"]),
        (
            "::ffff:10.0.0.1",
            &["must not be an IPv4-mapped IPv6 address"],
        ),
        (
            "my-ip",
            &["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
        ),
    ];
    for (name, want) in table {
        assert_eq!(
            meta::validate_name(name, NameRule::IpAddress),
            want,
            "{name}"
        );
    }
}

#[test]
fn ip_address_parent_ref_rules() {
    let table = [
        (
            json!({"resource": "services", "namespace": "default", "name": "web"}),
            vec![],
        ),
        (
            json!({"group": "gateway.networking.k8s.io", "resource": "gateways", "name": "gw"}),
            vec![],
        ),
        (
            json!({"namespace": "default"}),
            vec![
                "spec.parentRef.resource: Required value",
                "spec.parentRef.name: Required value",
            ],
        ),
        (
            json!({"group": "Not_A_Group", "resource": "a/b", "name": "..", "namespace": "%"}),
            vec![
                "spec.parentRef.group: Invalid value: \"Not_A_Group\": a lowercase RFC 1123 \
                 subdomain must consist of lower case alphanumeric characters, '-' or '.', and \
                 must start and end with an alphanumeric character (e.g. 'example.com', regex \
                 used for validation is \
                 '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.parentRef.resource: Invalid value: \"a/b\": may not contain '/'",
                "spec.parentRef.name: Invalid value: \"..\": may not be '..'",
                "spec.parentRef.namespace: Invalid value: \"%\": may not contain '%'",
            ],
        ),
    ];
    for (parent, want) in table {
        let got = strings(IpAddressStrategy.validate(&ip_address("10.0.0.1", parent.clone())));
        assert_eq!(got, want, "{parent}");
    }
    let missing: IPAddress =
        serde_json::from_value(json!({"metadata": {"name": "10.0.0.1"}})).expect("ipaddress");
    assert_eq!(
        strings(IpAddressStrategy.validate(&missing)),
        ["spec.parentRef: Required value"]
    );
}

#[test]
fn ip_address_parent_ref_is_immutable() {
    let old = ip_address("10.0.0.1", json!({"resource": "services", "name": "a"}));
    let same = old.clone();
    assert!(IpAddressStrategy.validate_update(&same, &old).is_empty());
    let moved = ip_address("10.0.0.1", json!({"resource": "services", "name": "b"}));
    let got = strings(IpAddressStrategy.validate_update(&moved, &old));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("spec.parentRef: Invalid value: ")
            && got[0].ends_with("field is immutable"),
        "{got:?}"
    );
}

#[test]
fn service_cidr_rules() {
    let table = [
        (json!(["10.96.0.0/12"]), vec![]),
        (json!(["10.96.0.0/12", "fd00:10:96::/108"]), vec![]),
        (
            json!([]),
            vec!["spec.cidrs: Required value: at least one CIDR required"],
        ),
        (
            json!(["10.0.0.0/24", "10.1.0.0/24"]),
            vec![
                "spec.cidrs: Invalid value: {CIDRs:[\"10.0.0.0/24\",\"10.1.0.0/24\"]}: may \
                 specify no more than one IP for each IP family, i.e 192.168.0.0/24 and \
                 2001:db8::/64",
            ],
        ),
        (
            json!(["10.0.0.0/24", "fd00::/64", "10.2.0.0/24"]),
            vec![
                "spec.cidrs: Invalid value: {CIDRs:[\"10.0.0.0/24\",\"fd00::/64\",\
                 \"10.2.0.0/24\"]}: may only hold up to 2 values",
            ],
        ),
        (
            json!(["10.96.0.1/12"]),
            vec![
                "spec.cidrs[0]: Invalid value: \"10.96.0.1/12\": must not have bits set beyond \
                 the prefix length",
            ],
        ),
    ];
    for (cidrs, want) in table {
        let got = strings(ServiceCidrStrategy.validate(&service_cidr(cidrs.clone())));
        assert_eq!(got, want, "{cidrs}");
    }
}

#[test]
fn service_cidr_may_only_gain_a_second_family() {
    let single = service_cidr(json!(["10.96.0.0/12"]));
    let dual = service_cidr(json!(["10.96.0.0/12", "fd00:10:96::/108"]));
    assert!(
        ServiceCidrStrategy
            .validate_update(&dual, &single)
            .is_empty()
    );
    let changed = service_cidr(json!(["10.97.0.0/16"]));
    assert_eq!(
        strings(ServiceCidrStrategy.validate_update(&changed, &single)),
        ["spec.cidrs[0]: Invalid value: [\"10.97.0.0/16\"]: field is immutable"]
    );
    assert_eq!(
        strings(ServiceCidrStrategy.validate_update(&single, &dual)),
        ["spec.cidrs: Invalid value: [\"10.96.0.0/12\"]: field is immutable"]
    );
    let same_family = service_cidr(json!(["10.96.0.0/12", "10.0.0.0/24"]));
    assert_eq!(
        ServiceCidrStrategy
            .validate_update(&same_family, &single)
            .len(),
        1
    );
}

#[test]
fn service_cidr_status_is_not_the_clients() {
    let mut obj: ServiceCIDR = serde_json::from_value(json!({
        "metadata": {"name": "c"},
        "spec": {"cidrs": ["10.0.0.0/24"]},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "x",
            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
    }))
    .expect("servicecidr");
    ServiceCidrStrategy.prepare_for_create(&mut obj);
    assert!(obj.status.is_none());
}
