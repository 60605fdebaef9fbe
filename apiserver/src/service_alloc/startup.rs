//! Start-up: rebuild the allocators from the stored Services, install them as the write hooks
//! of `services`, and show the ranges as the `kubernetes` ServiceCIDR (upstream's
//! `defaultservicecidr` controller creates it from the flags).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::ServiceCIDR;
use serde_json::json;

use super::{ServiceAllocator, ServiceRanges};
use crate::error::ApiError;
use crate::registry::WriteOptions;
use crate::server::{ApiServer, ignore_exists};

/// The name of the ServiceCIDR that reflects `--service-cluster-ip-range`.
pub const DEFAULT_SERVICE_CIDR: &str = "kubernetes";

impl ApiServer {
    /// Rebuilds the Service allocators from the store and installs them. Runs before the
    /// server takes requests (the `kubernetes` Service is the first Service it allocates for).
    pub(crate) async fn start_service_allocation(
        &self,
        ranges: &ServiceRanges,
    ) -> Result<Arc<ServiceAllocator>, ApiError> {
        let services: Vec<Service> = self.cached_objects("", "v1", "services", None).await?;
        let (allocator, warnings) = ServiceAllocator::rebuild(ranges.clone(), &services)
            .map_err(|e| ApiError::internal(format!("service ranges: {e}")))?;
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        tracing::info!(
            services = services.len(),
            cluster_ips = allocator.allocated_ips().len(),
            node_ports = allocator.allocated_ports().len(),
            "service allocators rebuilt from the store"
        );
        let allocator = Arc::new(allocator);
        let resource = self
            .resources
            .get("", "v1", "services")
            .ok_or_else(|| ApiError::internal("no services resource"))?;
        self.registry
            .set_hooks(resource.storage, Arc::clone(&allocator) as _);
        self.ensure_default_service_cidr(ranges).await?;
        Ok(allocator)
    }

    /// Creates the `kubernetes` ServiceCIDR where missing; a stored one with other CIDRs is
    /// left alone and reported (allocation follows the flags either way).
    async fn ensure_default_service_cidr(&self, ranges: &ServiceRanges) -> Result<(), ApiError> {
        let cidrs: Vec<String> = ranges
            .cluster_ip_ranges
            .iter()
            .map(ToString::to_string)
            .collect();
        let existing: Option<ServiceCIDR> = self
            .lookup_in(
                "networking.k8s.io",
                "v1",
                "servicecidrs",
                None,
                DEFAULT_SERVICE_CIDR,
            )
            .await?;
        if let Some(existing) = existing {
            let stored = existing.spec.and_then(|s| s.cidrs).unwrap_or_default();
            if stored != cidrs {
                tracing::warn!(
                    ?stored,
                    flags = ?cidrs,
                    "the kubernetes ServiceCIDR differs from --service-cluster-ip-range; \
                     Services are allocated from the flag's ranges"
                );
            }
            return Ok(());
        }
        let resource = self
            .resources
            .get("networking.k8s.io", "v1", "servicecidrs")
            .ok_or_else(|| ApiError::internal("no servicecidrs resource"))?;
        let body = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "ServiceCIDR",
            "metadata": {"name": DEFAULT_SERVICE_CIDR},
            "spec": {"cidrs": cidrs},
        });
        let opts = WriteOptions::default();
        ignore_exists(self.registry.create(resource, None, body, &opts).await)
    }
}
