//! The ServiceCIDRs the allocator hands ClusterIPs from: every ServiceCIDR object, followed
//! through its watch cache as upstream's `MetaAllocator` follows its informer
//! (`ipallocator/cidrallocator.go`). A ServiceCIDR gives addresses while it is Ready and not
//! being deleted; the `kubernetes` one is made Ready by the server itself
//! (`startup.rs`, upstream's `defaultservicecidr` controller), the others by the
//! `service-cidr-controller` of `ultrak8s controllers`.

use std::sync::{Arc, Weak};

use k8s_openapi::api::networking::v1::ServiceCIDR;
use parking_lot::Mutex;
use tokio::sync::broadcast::error::RecvError;
use ultrak8s_netalloc::cidr::Cidr;
use ultrak8s_netalloc::service::CidrSet;

use super::ops::State;
use crate::error::ApiError;
use crate::server::ApiServer;

/// What allocation reads of one ServiceCIDR object.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Observed {
    pub name: String,
    pub cidrs: Vec<Cidr>,
    pub ready: bool,
    pub terminating: bool,
}

impl Observed {
    /// `None` for an object whose CIDRs do not parse (validation keeps them out; a stored
    /// one from elsewhere gives no addresses).
    pub fn of(obj: &ServiceCIDR) -> Option<Observed> {
        let name = obj.metadata.name.clone()?;
        let cidrs = obj
            .spec
            .as_ref()
            .and_then(|s| s.cidrs.as_ref())?
            .iter()
            .map(|c| c.parse::<Cidr>())
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        // Upstream's `isReady`: without a Ready condition a ServiceCIDR counts as ready
        // (objects written before the controller ran).
        let ready = obj
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_none_or(|c| c.status == "True");
        Some(Observed {
            name,
            cidrs,
            ready,
            terminating: obj.metadata.deletion_timestamp.is_some(),
        })
    }
}

/// Brings the set's view of one ServiceCIDR up to date; refusals are logged (the set is
/// left as it was).
pub(super) fn apply(set: &mut CidrSet, seen: &Observed) {
    let known = set.service_cidrs().iter().any(|s| s.name == seen.name);
    let result = if known {
        set.grow(&seen.name, &seen.cidrs)
    } else {
        set.add(&seen.name, &seen.cidrs)
    };
    let result = result
        .and_then(|()| set.set_ready(&seen.name, seen.ready))
        .and_then(|()| {
            if seen.terminating {
                set.mark_terminating(&seen.name)
            } else {
                Ok(())
            }
        });
    if let Err(error) = result {
        tracing::warn!(service_cidr = %seen.name, %error, "ServiceCIDR not followed");
    }
}

/// Forgets a deleted ServiceCIDR. Its finalizer kept it while addresses depended on it; if
/// some still do, the set keeps it (and says so) rather than strand them.
pub(super) fn forget(set: &mut CidrSet, name: &str) {
    if let Err(error) = set.remove(name) {
        tracing::warn!(service_cidr = %name, %error, "deleted ServiceCIDR kept for its addresses");
    }
}

/// Loads every stored ServiceCIDR into `state` and keeps following them.
pub(super) async fn follow(server: &Arc<ApiServer>, state: &Arc<Mutex<State>>) -> Result<(), ApiError> {
    let resource = server
        .resources
        .get("networking.k8s.io", "v1", "servicecidrs")
        .ok_or_else(|| ApiError::internal("no servicecidrs resource"))?;
    let cache = server.registry.cache(resource).await?;
    let (snapshot, mut events) = cache.snapshot_and_subscribe(&resource.prefix(None), |_| true);
    {
        let mut state = state.lock();
        for object in &snapshot.objects {
            if let Some(seen) = decode(&object.bytes) {
                apply(&mut state.ips, &seen);
            }
        }
    }
    let weak: Weak<ApiServer> = Arc::downgrade(server);
    let state = Arc::clone(state);
    tokio::spawn(async move {
        loop {
            let received = events.recv().await;
            if weak.strong_count() == 0 {
                return;
            }
            match received {
                Ok(event) => {
                    let mut state = state.lock();
                    match (&event.object, &event.prev) {
                        (Some(object), _) => {
                            if let Some(seen) = decode(&object.bytes) {
                                apply(&mut state.ips, &seen);
                            }
                        }
                        (None, Some(prev)) => forget(&mut state.ips, &prev.name),
                        (None, None) => {}
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    // Missed events: read them all again (a handful of objects).
                    let Some(server) = weak.upgrade() else { return };
                    let objects: Vec<ServiceCIDR> = server
                        .cached_objects("networking.k8s.io", "v1", "servicecidrs", None)
                        .await
                        .unwrap_or_default();
                    let mut state = state.lock();
                    let stored: Vec<Observed> = objects.iter().filter_map(Observed::of).collect();
                    let gone: Vec<String> = state
                        .ips
                        .service_cidrs()
                        .iter()
                        .filter(|s| !stored.iter().any(|o| o.name == s.name))
                        .map(|s| s.name.clone())
                        .collect();
                    for name in gone {
                        forget(&mut state.ips, &name);
                    }
                    for seen in &stored {
                        apply(&mut state.ips, seen);
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(())
}

fn decode(bytes: &[u8]) -> Option<Observed> {
    serde_json::from_slice::<ServiceCIDR>(bytes)
        .ok()
        .as_ref()
        .and_then(Observed::of)
}
