//! Discovery documents: `/api`, `/apis`, `/apis/{group}`, the resource lists of each group
//! version, and aggregated discovery (`apidiscovery.k8s.io/v2`), all built once at start.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::resources::{Resource, Resources, Subresource};

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of a resource (reviews are only created).
fn verbs(resource: &Resource) -> &'static [&'static str] {
    if resource.create_only {
        &["create"]
    } else {
        VERBS
    }
}

pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn subresource_verbs(sub: Subresource) -> &'static [&'static str] {
    match sub {
        Subresource::Status | Subresource::Scale => &["get", "patch", "update"],
        Subresource::Finalize => &["update"],
        Subresource::Approval => &["get", "patch", "update"],
        Subresource::Binding | Subresource::Eviction | Subresource::Token => &["create"],
    }
}

/// The group, version and kind a subresource answers with.
fn subresource_kind(
    resource: &Resource,
    sub: Subresource,
) -> (&'static str, &'static str, &'static str) {
    match sub {
        Subresource::Status | Subresource::Finalize | Subresource::Approval => {
            (resource.group, resource.version, resource.kind)
        }
        Subresource::Scale => ("autoscaling", "v1", "Scale"),
        Subresource::Binding => ("", "v1", "Binding"),
        Subresource::Eviction => ("policy", "v1", "Eviction"),
        Subresource::Token => ("authentication.k8s.io", "v1", "TokenRequest"),
    }
}

pub struct Discovery {
    pub api_versions: Bytes,
    pub group_list: Bytes,
    pub aggregated_legacy: Bytes,
    pub aggregated_groups: Bytes,
    groups: Vec<(String, Bytes)>,
    resource_lists: Vec<(String, Bytes)>,
}

impl Discovery {
    pub fn new(resources: &Resources) -> Discovery {
        let api_versions = json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [],
        });
        let mut group_docs = Vec::new();
        let mut groups = Vec::new();
        for group in resources.groups() {
            let versions: Vec<Value> = resources
                .versions(group)
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            let doc = json!({
                "kind": "APIGroup",
                "apiVersion": "v1",
                "name": group,
                "versions": versions,
                "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
            });
            groups.push((group.to_owned(), Bytes::from(doc.to_string())));
            group_docs.push(doc);
        }
        let group_list = json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": group_docs});
        let mut resource_lists = Vec::new();
        let mut gvs = vec![(String::new(), "v1")];
        for group in resources.groups() {
            for version in resources.versions(group) {
                gvs.push((group.to_owned(), version));
            }
        }
        for (group, version) in &gvs {
            let list = resource_list(resources, group, version);
            let path = match group.as_str() {
                "" => format!("api/{version}"),
                g => format!("apis/{g}/{version}"),
            };
            resource_lists.push((path, Bytes::from(list.to_string())));
        }
        let aggregated_legacy = aggregated(resources, &[""]);
        let aggregated_groups = aggregated(resources, &resources.groups());
        Discovery {
            api_versions: Bytes::from(api_versions.to_string()),
            group_list: Bytes::from(group_list.to_string()),
            aggregated_legacy: Bytes::from(aggregated_legacy.to_string()),
            aggregated_groups: Bytes::from(aggregated_groups.to_string()),
            groups,
            resource_lists,
        }
    }

    pub fn group(&self, name: &str) -> Option<&Bytes> {
        self.groups.iter().find(|(g, _)| g == name).map(|(_, b)| b)
    }

    /// `path` is `api/v1` or `apis/{group}/{version}`.
    pub fn resource_list(&self, path: &str) -> Option<&Bytes> {
        self.resource_lists
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b)
    }
}

fn resource_list(resources: &Resources, group: &str, version: &str) -> Value {
    let mut list = Vec::new();
    for r in resources.in_version(group, version) {
        list.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs(r),
            "shortNames": r.short_names,
            "categories": r.categories,
        }));
        for &sub in r.subresources {
            let (g, v, kind) = subresource_kind(r, sub);
            let mut entry = json!({
                "name": format!("{}/{}", r.plural, sub.name()),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": subresource_verbs(sub),
            });
            if g != r.group || v != r.version {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            list.push(entry);
        }
    }
    let group_version = match group {
        "" => version.to_owned(),
        g => format!("{g}/{version}"),
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": list,
    })
}

fn aggregated(resources: &Resources, groups: &[&str]) -> Value {
    let items: Vec<Value> = groups
        .iter()
        .map(|group| {
            let versions: Vec<&str> = if group.is_empty() {
                vec!["v1"]
            } else {
                resources.versions(group)
            };
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let list: Vec<Value> = resources
                        .in_version(group, version)
                        .map(aggregated_resource)
                        .collect();
                    json!({"version": version, "resources": list, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

fn aggregated_resource(r: &std::sync::Arc<Resource>) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|&sub| {
            let (g, v, kind) = subresource_kind(r, sub);
            json!({
                "subresource": sub.name(),
                "responseKind": {"group": g, "version": v, "kind": kind},
                "verbs": subresource_verbs(sub),
            })
        })
        .collect();
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": verbs(r),
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        entry["subresources"] = Value::Array(subresources);
    }
    entry
}
