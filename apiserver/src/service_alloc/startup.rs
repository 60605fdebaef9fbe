//! Start-up: the `kubernetes` ServiceCIDR from the flags (upstream's `defaultservicecidr`
//! controller), the ServiceCIDRs followed, NodePorts rebuilt from the stored Services and
//! ClusterIPs from the stored IPAddress objects (a first repair run, which also writes the
//! IPAddress objects a store from before them lacks), then the allocators installed as the
//! write hooks of `services` and the periodic repair started.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::ServiceCIDR;
use parking_lot::Mutex;
use serde_json::json;
use ultrak8s_netalloc::service::CidrSet;

use super::ipaddresses::IpAddressObjects;
use super::ops::State;
use super::{ServiceAllocator, ServiceRanges, cidrs, claims, rebuild_ports, repair};
use crate::error::ApiError;
use crate::registry::WriteOptions;
use crate::resources::Subresource;
use crate::server::{ApiServer, ignore_exists};

/// The name of the ServiceCIDR that reflects `--service-cluster-ip-range`.
pub const DEFAULT_SERVICE_CIDR: &str = "kubernetes";

/// The message of the `kubernetes` ServiceCIDR's Ready condition (upstream's words).
const DEFAULT_READY_MESSAGE: &str = "Kubernetes default Service CIDR is ready";

impl ApiServer {
    /// Builds the Service allocators from the store and installs them. Runs before the
    /// server takes requests (the `kubernetes` Service is the first Service it allocates for).
    pub(crate) async fn start_service_allocation(
        self: &Arc<Self>,
        ranges: &ServiceRanges,
    ) -> Result<Arc<ServiceAllocator>, ApiError> {
        self.ensure_default_service_cidr(ranges).await?;
        let services: Vec<Service> = self.cached_objects("", "v1", "services", None).await?;
        let port_claims: Vec<_> = services.iter().map(|s| claims(s).1).collect();
        let (ports, warnings) = rebuild_ports(ranges.node_ports, &port_claims);
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let state = Arc::new(Mutex::new(State {
            ips: CidrSet::new(0),
            ports,
        }));
        cidrs::follow(self, &state).await?;
        let objects = IpAddressObjects::new(Arc::downgrade(self));
        let report = repair::run_once(self, &state, &objects).await?;
        repair::log(&report);
        let allocator = Arc::new(ServiceAllocator {
            ranges: ranges.clone(),
            families: ranges.families(),
            state: Arc::clone(&state),
            objects: Some(objects.clone()),
        });
        tracing::info!(
            services = services.len(),
            cluster_ips = allocator.allocated_ips().len(),
            node_ports = allocator.allocated_ports().len(),
            "service allocators rebuilt from the store"
        );
        let resource = self
            .resources
            .get("", "v1", "services")
            .ok_or_else(|| ApiError::internal("no services resource"))?;
        self.registry
            .set_hooks(resource.storage, Arc::clone(&allocator) as _);
        repair::spawn_periodic(Arc::downgrade(self), state, objects);
        Ok(allocator)
    }

    /// Creates the `kubernetes` ServiceCIDR where missing and sets it Ready. A stored one
    /// with other CIDRs is left alone and reported, as upstream does: Services are then
    /// allocated from what the ServiceCIDRs say.
    async fn ensure_default_service_cidr(&self, ranges: &ServiceRanges) -> Result<(), ApiError> {
        let cidrs: Vec<String> = ranges
            .cluster_ip_ranges
            .iter()
            .map(ToString::to_string)
            .collect();
        let resource = self
            .resources
            .get("networking.k8s.io", "v1", "servicecidrs")
            .ok_or_else(|| ApiError::internal("no servicecidrs resource"))?;
        let lookup = || {
            self.lookup_in::<ServiceCIDR>(
                "networking.k8s.io",
                "v1",
                "servicecidrs",
                None,
                DEFAULT_SERVICE_CIDR,
            )
        };
        let existing = match lookup().await? {
            Some(existing) => existing,
            None => {
                let body = json!({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "ServiceCIDR",
                    "metadata": {"name": DEFAULT_SERVICE_CIDR},
                    "spec": {"cidrs": cidrs},
                });
                let opts = WriteOptions::default();
                ignore_exists(self.registry.create(resource, None, body, &opts).await)?;
                lookup()
                    .await?
                    .ok_or_else(|| ApiError::internal("the kubernetes ServiceCIDR vanished"))?
            }
        };
        let stored = existing
            .spec
            .as_ref()
            .and_then(|s| s.cidrs.clone())
            .unwrap_or_default();
        if stored != cidrs {
            tracing::warn!(
                ?stored,
                flags = ?cidrs,
                "the kubernetes ServiceCIDR differs from --service-cluster-ip-range; \
                 Services are allocated from the stored ServiceCIDRs"
            );
            return Ok(());
        }
        let ready = existing
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        if ready.is_some_and(|c| c.status == "True") {
            return Ok(());
        }
        let mut value = serde_json::to_value(&existing).map_err(ApiError::internal)?;
        value["status"] = json!({"conditions": [{
            "type": "Ready",
            "status": "True",
            "reason": "",
            "message": DEFAULT_READY_MESSAGE,
            "lastTransitionTime": jiff::Timestamp::now().to_string(),
        }]});
        self.registry
            .update(
                resource,
                None,
                DEFAULT_SERVICE_CIDR,
                Some(Subresource::Status),
                value,
                &WriteOptions::default(),
            )
            .await?;
        Ok(())
    }
}
