//! The IPAddress objects (networking.k8s.io/v1) that record each ClusterIP in the store, as
//! upstream's `MultiCIDRServiceAllocator` writes them (`ipallocator/ipallocator.go`): one
//! object per address, named by the address, labelled with its family and the allocator,
//! pointing at its Service. Creating the object is the claim that makes the address this
//! Service's across every API server sharing the store: a create that finds the object
//! already there means another holder, whatever this server's bitmap said.

use std::net::IpAddr;
use std::sync::{Arc, Weak};

use k8s_openapi::api::networking::v1::IPAddress;
use serde_json::json;
use ultrak8s_netalloc::cidr::Family;
use ultrak8s_netalloc::service::ServiceRef;
use ultrak8s_netalloc::service::repairip::{CONTROLLER_NAME, LABEL_IP_FAMILY, LABEL_MANAGED_BY};

use crate::error::ApiError;
use crate::registry::{DeleteOptions, WriteOptions};
use crate::resources::Resource;
use crate::server::ApiServer;

/// Why a claim failed.
#[derive(Debug)]
pub(super) enum ClaimError {
    /// These addresses have IPAddress objects already: another holder has them.
    HeldElsewhere(Vec<IpAddr>),
    /// The store refused for another reason.
    Failed(ApiError),
}

/// The IPAddress objects of one API server's store.
#[derive(Clone)]
pub(super) struct IpAddressObjects {
    server: Weak<ApiServer>,
}

impl IpAddressObjects {
    pub fn new(server: Weak<ApiServer>) -> IpAddressObjects {
        IpAddressObjects { server }
    }

    fn server(&self) -> Result<(Arc<ApiServer>, Arc<Resource>), ApiError> {
        let server = self
            .server
            .upgrade()
            .ok_or_else(|| ApiError::unavailable("the API server is shutting down"))?;
        let resource = Arc::clone(
            server
                .resources
                .get("networking.k8s.io", "v1", "ipaddresses")
                .ok_or_else(|| ApiError::internal("no ipaddresses resource"))?,
        );
        Ok((server, resource))
    }

    /// Creates the IPAddress of every address in `ips` for `service`. All or nothing: on
    /// failure the objects this call created are deleted again before it returns.
    pub async fn claim(&self, ips: &[IpAddr], service: &ServiceRef) -> Result<(), ClaimError> {
        let (server, resource) = self.server().map_err(ClaimError::Failed)?;
        let mut created = Vec::new();
        let mut elsewhere = Vec::new();
        let mut failure = None;
        for &ip in ips {
            let body = object(ip, service);
            match server
                .registry
                .create(&resource, None, body, &WriteOptions::default())
                .await
            {
                Ok(_) => created.push(ip),
                Err(e) if e.code == 409 => elsewhere.push(ip),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() && elsewhere.is_empty() {
            return Ok(());
        }
        for ip in created {
            self.release(ip, service).await;
        }
        match failure {
            Some(e) => Err(ClaimError::Failed(e)),
            None => Err(ClaimError::HeldElsewhere(elsewhere)),
        }
    }

    /// Deletes the IPAddress of `ip` if it still points at `service` (another Service may
    /// hold the address by now). Failures are logged: the repair loop finds what is left.
    pub async fn release(&self, ip: IpAddr, service: &ServiceRef) {
        if let Err(error) = self.try_release(ip, service).await {
            tracing::warn!(%ip, service = %service, %error, "IPAddress not released");
        }
    }

    async fn try_release(&self, ip: IpAddr, service: &ServiceRef) -> Result<(), ApiError> {
        let (server, resource) = self.server()?;
        let name = ip.to_string();
        let Some(current): Option<IPAddress> = server
            .lookup_in("networking.k8s.io", "v1", "ipaddresses", None, &name)
            .await?
        else {
            return Ok(());
        };
        let parent = current.spec.as_ref().map(|s| &s.parent_ref);
        let ours = parent.is_some_and(|p| {
            p.group.as_deref().unwrap_or_default().is_empty()
                && p.resource == "services"
                && p.namespace.as_deref().unwrap_or_default() == service.namespace
                && p.name == service.name
        });
        if !ours {
            return Ok(());
        }
        let opts = DeleteOptions {
            precondition_uid: current.metadata.uid.clone(),
            ..DeleteOptions::default()
        };
        match server.registry.delete(&resource, None, &name, &opts).await {
            Ok(_) => Ok(()),
            // Gone or replaced meanwhile: not ours to delete any more.
            Err(e) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates the IPAddress of `ip` for `service` (a repair's `Create`), leaving an
    /// existing one alone.
    pub async fn ensure(&self, ip: IpAddr, service: &ServiceRef) -> Result<(), ApiError> {
        let (server, resource) = self.server()?;
        let body = object(ip, service);
        match server
            .registry
            .create(&resource, None, body, &WriteOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes the IPAddress `name` whatever it points at (a repair's `Delete`).
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let (server, resource) = self.server()?;
        match server
            .registry
            .delete(&resource, None, name, &DeleteOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every stored IPAddress (from the watch cache).
    pub async fn list(&self) -> Result<Vec<IPAddress>, ApiError> {
        let (server, _) = self.server()?;
        server
            .cached_objects("networking.k8s.io", "v1", "ipaddresses", None)
            .await
    }
}

/// The IPAddress the allocator writes for `ip` held by `service`.
fn object(ip: IpAddr, service: &ServiceRef) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": ip.to_string(),
            "labels": {
                LABEL_IP_FAMILY: Family::of(&ip).to_string(),
                LABEL_MANAGED_BY: CONTROLLER_NAME,
            },
        },
        "spec": {"parentRef": {
            "group": "",
            "resource": "services",
            "namespace": service.namespace,
            "name": service.name,
        }},
    })
}
