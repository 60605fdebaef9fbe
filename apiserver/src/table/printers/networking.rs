//! networking.k8s.io and discovery.k8s.io: Ingress, IngressClass, NetworkPolicy, IPAddress,
//! ServiceCIDR and EndpointSlice.

use serde_json::Value;

use super::core::load_balancer_addresses;
use super::fields::{
    at, format_label_selector, items, list_with_more, name, opt_int, opt_text, text,
};
use super::{AGE, NAME, Table, col};
use crate::table::age;

pub(super) static INGRESS: Table = Table {
    columns: &[
        NAME,
        col(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional \
             configuration",
        ),
        col(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule",
        ),
        col(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer",
        ),
        col("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ],
    cells: |obj, now| {
        let ingress = items(obj, "/status/loadBalancer/ingress");
        let address: Vec<&str> = load_balancer_addresses(ingress).into_iter().collect();
        let ports = if items(obj, "/spec/tls").is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name(obj),
            opt_text(obj, "/spec/ingressClassName")
                .unwrap_or("<none>")
                .into(),
            hosts(items(obj, "/spec/rules")).into(),
            address.join(",").into(),
            ports.into(),
            age(obj, now),
        ]
    },
};

/// Upstream `formatHosts`: the first three hosts named; once three are listed, any further
/// rule (named or not) counts as one more.
fn hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let (mut listed, mut more) = (Vec::new(), false);
    for rule in rules {
        more |= listed.len() == MAX;
        let host = text(rule, "/host");
        if !more && !host.is_empty() {
            listed.push(host);
        }
    }
    match (listed.is_empty(), more) {
        (true, _) => "*".to_owned(),
        (false, true) => format!("{} + {} more...", listed.join(","), rules.len() - MAX),
        (false, false) => listed.join(","),
    }
}

pub(super) static INGRESS_CLASS: Table = Table {
    columns: &[
        NAME,
        col(
            "Controller",
            "string",
            "Controller that is responsible for handling this class",
        ),
        col(
            "Parameters",
            "string",
            "A reference to a resource with additional parameters",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let parameters = match at(obj, "/spec/parameters") {
            None => "<none>".to_owned(),
            Some(p) => {
                let group = opt_text(p, "/apiGroup").map(|g| format!(".{g}"));
                let kind = text(p, "/kind");
                format!("{kind}{}/{}", group.unwrap_or_default(), text(p, "/name"))
            }
        };
        let controller = text(obj, "/spec/controller").into();
        vec![name(obj), controller, parameters.into(), age(obj, now)]
    },
};

pub(super) static NETWORK_POLICY: Table = Table {
    columns: &[
        NAME,
        col(
            "Pod-Selector",
            "string",
            "Selects the pods to which this NetworkPolicy applies.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        // Upstream formats `&spec.podSelector`, never nil: absent reads as `{}`.
        let empty = Value::Object(Default::default());
        let selector = at(obj, "/spec/podSelector").unwrap_or(&empty);
        let selector = format_label_selector(Some(selector));
        vec![name(obj), selector.into(), age(obj, now)]
    },
};

/// Upstream declares no Age column for IPAddress, yet appends an age cell that kubectl then
/// ignores; the row here stops at the declared columns.
pub(super) static IP_ADDRESS: Table = Table {
    columns: &[
        NAME,
        col(
            "ParentRef",
            "string",
            "The resource that an IPAddress is attached to.",
        ),
    ],
    cells: |obj, _now| {
        let parent = match at(obj, "/spec/parentRef") {
            None => "<none>".to_owned(),
            Some(p) => {
                // `schema.GroupResource.String()`, lower-cased.
                let (group, resource) = (text(p, "/group"), text(p, "/resource"));
                let mut parent = match group {
                    "" => resource.to_lowercase(),
                    group => format!("{resource}.{group}").to_lowercase(),
                };
                let namespace = text(p, "/namespace");
                if !namespace.is_empty() {
                    parent = format!("{parent}/{namespace}");
                }
                format!("{parent}/{}", text(p, "/name"))
            }
        };
        vec![name(obj), parent.into()]
    },
};

pub(super) static SERVICE_CIDR: Table = Table {
    columns: &[
        NAME,
        col(
            "CIDRs",
            "string",
            "CIDRs defines the IP blocks in CIDR notation.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let cidrs: Vec<&str> = items(obj, "/spec/cidrs")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        vec![name(obj), cidrs.join(",").into(), age(obj, now)]
    },
};

pub(super) static ENDPOINT_SLICE: Table = Table {
    columns: &[
        NAME,
        col(
            "AddressType",
            "string",
            "addressType: the type of address in this EndpointSlice.",
        ),
        col(
            "Ports",
            "string",
            "ports exposed by each endpoint in this slice.",
        ),
        col(
            "Endpoints",
            "string",
            "endpoints is a list of unique endpoints in this slice.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        // Upstream `formatDiscoveryPorts`: the number, else the name, else `*`.
        let ports = items(obj, "/ports")
            .iter()
            .map(|p| match opt_int(p, "/port") {
                Some(port) => port.to_string(),
                None => opt_text(p, "/name").unwrap_or("*").to_owned(),
            });
        let addresses = items(obj, "/endpoints")
            .iter()
            .flat_map(|e| items(e, "/addresses"))
            .map(|a| a.as_str().unwrap_or("").to_owned());
        vec![
            name(obj),
            text(obj, "/addressType").into(),
            list_with_more(ports, 3).into(),
            list_with_more(addresses, 3).into(),
            age(obj, now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Printer;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    #[test]
    fn ingress_lists_hosts_addresses_and_ports() {
        let ingress = json!({
            "spec": {
                "ingressClassName": "nginx",
                "rules": [{"host": "a.example"}, {}, {"host": "c.example"}, {"host": "d"}, {}, {}],
                "tls": [{"hosts": ["a.example"]}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
        });
        let cells = INGRESS.cells(&ingress, now());
        assert_eq!(
            cells[1..5],
            [
                json!("nginx"),
                json!("a.example,c.example,d + 3 more..."),
                json!("203.0.113.9"),
                json!("80, 443"),
            ]
        );
        let bare = INGRESS.cells(&json!({}), now());
        assert_eq!(
            bare[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
    }

    #[test]
    fn endpoint_slice_and_ip_address() {
        let slice = json!({
            "addressType": "IPv4",
            "ports": [{"port": 80}, {"name": "metrics"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1", "10.0.0.2"]}, {"addresses": ["10.0.0.3"]},
                          {"addresses": ["10.0.0.4"]}],
        });
        let cells = ENDPOINT_SLICE.cells(&slice, now());
        assert_eq!(
            cells[2..4],
            [
                json!("80,metrics,*"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")
            ]
        );
        let ip = json!({"spec": {"parentRef": {"resource": "services", "namespace": "default",
                                               "name": "kubernetes"}}});
        assert_eq!(
            IP_ADDRESS.cells(&ip, now())[1],
            json!("services/default/kubernetes")
        );
    }
}
