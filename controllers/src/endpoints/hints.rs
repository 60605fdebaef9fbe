//! Topology hints on slice endpoints, driven by `spec.trafficDistribution`, after upstream's
//! `staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go` and
//! `topologycache.RemoveHintsFromSlices`.
//!
//! `PreferClose`/`PreferSameZone` hint each ready endpoint to its own zone, `PreferSameNode`
//! also to its node (the `PreferSameTrafficDistribution` gate is on by default in v1.35).
//! Without a valid distribution every hint is removed. The older
//! `service.kubernetes.io/topology-mode: Auto` annotation (proportional zone hints from node
//! CPU, upstream's `TopologyCache`) is not implemented: a Service carrying it gets no hints.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointHints, EndpointSlice, ForNode, ForZone};

/// How hints are to look on every slice of a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HintMode {
    /// No endpoint carries hints.
    Remove,
    /// Ready endpoints are hinted to their zone, and to their node when `node_hints`.
    PreferClose { node_hints: bool },
}

/// The hint mode of a Service: a close distribution is honoured unless the topology
/// annotation asks for the (unimplemented) automatic hints, which take precedence upstream.
pub(super) fn hint_mode(service: &Service) -> HintMode {
    let distribution = service
        .spec
        .as_ref()
        .and_then(|s| s.traffic_distribution.as_deref());
    match distribution {
        Some(d @ ("PreferClose" | "PreferSameZone" | "PreferSameNode"))
            if !topology_annotation_enabled(service) =>
        {
            HintMode::PreferClose {
                node_hints: d == "PreferSameNode",
            }
        }
        _ => HintMode::Remove,
    }
}

/// `hintsEnabled`: the deprecated `topology-aware-hints` annotation wins over `topology-mode`;
/// either enables automatic hints with `Auto` or `auto`.
fn topology_annotation_enabled(service: &Service) -> bool {
    let Some(annotations) = &service.metadata.annotations else {
        return false;
    };
    let value = annotations
        .get("service.kubernetes.io/topology-aware-hints")
        .or_else(|| annotations.get("service.kubernetes.io/topology-mode"));
    matches!(value.map(String::as_str), Some("Auto" | "auto"))
}

fn is_ready(endpoint: &Endpoint) -> bool {
    endpoint
        .conditions
        .as_ref()
        .and_then(|c| c.ready)
        .unwrap_or(false)
}

/// The hints an endpoint should carry; `None` for an endpoint whose hints are left as they are
/// (not-ready endpoints under `PreferClose`).
fn wanted(mode: HintMode, endpoint: &Endpoint) -> Option<Option<EndpointHints>> {
    match mode {
        HintMode::Remove => Some(None),
        HintMode::PreferClose { node_hints } => {
            if !is_ready(endpoint) {
                return None;
            }
            let for_zones = endpoint.zone.clone().map(|name| vec![ForZone { name }]);
            let for_nodes = endpoint
                .node_name
                .clone()
                .filter(|_| node_hints)
                .map(|name| vec![ForNode { name }]);
            if for_zones.is_none() && for_nodes.is_none() {
                Some(None)
            } else {
                Some(Some(EndpointHints {
                    for_zones,
                    for_nodes,
                }))
            }
        }
    }
}

/// Whether an unchanged slice must be rewritten for its hints (`needsUpdate`).
pub(super) fn needs_update(mode: HintMode, slice: &EndpointSlice) -> bool {
    slice.endpoints.iter().any(|endpoint| match mode {
        HintMode::Remove => endpoint.hints.is_some(),
        HintMode::PreferClose { .. } => {
            // Compared field by field, as upstream does: an absent list and an empty one are
            // the same "no hint".
            let Some(want) = wanted(mode, endpoint) else {
                return false;
            };
            let list = |h: &Option<EndpointHints>, zones: bool| -> Vec<String> {
                let Some(h) = h else {
                    return Vec::new();
                };
                if zones {
                    h.for_zones
                        .iter()
                        .flatten()
                        .map(|z| z.name.clone())
                        .collect()
                } else {
                    h.for_nodes
                        .iter()
                        .flatten()
                        .map(|n| n.name.clone())
                        .collect()
                }
            };
            list(&want, true) != list(&endpoint.hints, true)
                || list(&want, false) != list(&endpoint.hints, false)
        }
    })
}

/// Sets the hints of every endpoint of a slice that is being written (`update`).
pub(super) fn apply(mode: HintMode, slice: &mut EndpointSlice) {
    for endpoint in &mut slice.endpoints {
        if let Some(hints) = wanted(mode, endpoint) {
            endpoint.hints = hints;
        }
    }
}
