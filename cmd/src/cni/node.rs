//! The node's prefixes: the `ipam` object's `prefixes`, plus, with `kubeconfig`, those its
//! Node object lists in `spec.podCIDRs` and in the [`PREFIXES_ANNOTATION`] annotation.
//!
//! The Node is read with one GET on a small single-threaded runtime (a plugin lives for one
//! call), bounded by [`API_TIMEOUT`]. An API server that cannot be reached, or a Node that is
//! not there yet, is error 11 (try again later): the runtime retries the pod's sandbox.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use ultrak8s_netalloc::cidr::Cidr;

use super::config::IpamConf;
use super::{CniError, Code, PREFIXES_ANNOTATION};

/// How long the Node read may take; a pod start waits on it.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

/// Every prefix of this node, configured ones first.
pub fn prefixes(conf: &IpamConf) -> Result<Vec<Cidr>, CniError> {
    let mut prefixes = conf.prefixes.clone();
    let Some(kubeconfig) = &conf.kubeconfig else {
        return Ok(prefixes);
    };
    let node_name = match &conf.node_name {
        Some(name) => name.clone(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .map_err(|e| {
                CniError::new(
                    Code::InvalidConfig,
                    "no nodeName, and no host name",
                    e.to_string(),
                )
            })?,
    };
    let node = fetch_node(kubeconfig, &node_name)?;
    for prefix in node_prefixes(&node).map_err(|e| {
        CniError::new(
            Code::InvalidConfig,
            format!("Node {node_name} lists a bad prefix"),
            e,
        )
    })? {
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    Ok(prefixes)
}

/// `spec.podCIDRs` (or the older `spec.podCIDR`), then the annotation's list.
pub fn node_prefixes(node: &Node) -> Result<Vec<Cidr>, String> {
    let spec = node.spec.as_ref();
    let mut texts: Vec<&str> = spec
        .and_then(|s| s.pod_cidrs.as_ref())
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if texts.is_empty()
        && let Some(cidr) = spec.and_then(|s| s.pod_cidr.as_deref())
    {
        texts.push(cidr);
    }
    if let Some(list) = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PREFIXES_ANNOTATION))
    {
        texts.extend(list.split(',').map(str::trim).filter(|t| !t.is_empty()));
    }
    let mut prefixes = Vec::with_capacity(texts.len());
    for text in texts {
        let prefix: Cidr = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    Ok(prefixes)
}

fn fetch_node(kubeconfig: &std::path::Path, name: &str) -> Result<Node, CniError> {
    let later = |msg: String, e: String| CniError::new(Code::TryAgainLater, msg, e);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CniError::new(Code::Io, "starting a runtime", e.to_string()))?;
    runtime.block_on(async {
        let config = crate::controllers::kube_config(kubeconfig)
            .await
            .map_err(|e| {
                CniError::new(
                    Code::InvalidConfig,
                    format!("kubeconfig {}", kubeconfig.display()),
                    format!("{e:#}"),
                )
            })?;
        let client = kube::Client::try_from(config)
            .map_err(|e| CniError::new(Code::InvalidConfig, "kube client", e.to_string()))?;
        let nodes: kube::Api<Node> = kube::Api::all(client);
        match tokio::time::timeout(API_TIMEOUT, nodes.get(name)).await {
            Ok(Ok(node)) => Ok(node),
            Ok(Err(e)) => Err(later(format!("reading Node {name}"), e.to_string())),
            Err(_) => Err(later(
                format!("reading Node {name}"),
                format!("no answer within {API_TIMEOUT:?}"),
            )),
        }
    })
}
