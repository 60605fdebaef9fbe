//! The ClusterIP repair loop (upstream `ipallocator/controller/repairip.go`): Services
//! against IPAddress objects, at start-up and every [`REPAIR_INTERVAL`] after. Each run
//! rebuilds this server's bitmaps from what the store says (so addresses other API servers
//! released become free here too), creates the IPAddress a Service's ClusterIP lacks,
//! deletes the ones no Service holds once past their grace period, and logs each finding in
//! upstream's words.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::IPAddress;
use parking_lot::Mutex;
use ultrak8s_netalloc::service::{
    IpAddressAction, IpAddressObject, ParentRef, repair_ip_addresses,
};

use super::claims;
use super::ipaddresses::IpAddressObjects;
use super::ops::State;
use crate::error::ApiError;
use crate::server::ApiServer;

/// Upstream runs the repair every 3 minutes (`--repair-interval` of the allocators).
pub(super) const REPAIR_INTERVAL: Duration = Duration::from_secs(180);

/// What one run found and did.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub findings: Vec<String>,
    pub created: usize,
    pub deleted: usize,
}

/// One run over the stored Services and IPAddresses.
pub(super) async fn run_once(
    server: &ApiServer,
    state: &Mutex<State>,
    objects: &IpAddressObjects,
) -> Result<Report, ApiError> {
    let services: Vec<Service> = server.cached_objects("", "v1", "services", None).await?;
    let stored: Vec<IPAddress> = objects.list().await?;
    let ip_claims: Vec<_> = services.iter().map(|s| claims(s).0).collect();
    let ip_objects: Vec<IpAddressObject> = stored.iter().map(read).collect();
    // Only where the next-fit search starts; any value will do.
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos().into());
    let (findings, actions) = {
        let mut state = state.lock();
        let outcome = repair_ip_addresses(
            &state.ips,
            &ip_claims,
            &ip_objects,
            SystemTime::now(),
            seed,
        );
        // Computed and swapped under the lock: no ServiceCIDR change or allocation in
        // between. An allocation whose IPAddress appears after the list is not in the new
        // bitmap; its object still refuses anyone else the address.
        state.ips = outcome.rebuilt;
        (outcome.findings, outcome.actions)
    };
    let mut report = Report {
        findings: findings.iter().map(ToString::to_string).collect(),
        ..Report::default()
    };
    for action in actions {
        match action {
            IpAddressAction::Create { ip, service } => {
                objects.ensure(ip, &service).await?;
                report.created += 1;
            }
            IpAddressAction::Recreate { ip, service } => {
                objects.delete(&ip.to_string()).await?;
                objects.ensure(ip, &service).await?;
                report.deleted += 1;
                report.created += 1;
            }
            IpAddressAction::Delete { name } => {
                objects.delete(&name).await?;
                report.deleted += 1;
            }
            // Within its grace period: the next run looks again.
            IpAddressAction::RequeueAfter { .. } => {}
        }
    }
    Ok(report)
}

/// Runs [`run_once`] every [`REPAIR_INTERVAL`] while the server lives.
pub(super) fn spawn_periodic(
    server: Weak<ApiServer>,
    state: Arc<Mutex<State>>,
    objects: IpAddressObjects,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REPAIR_INTERVAL);
        ticks.tick().await; // the first tick is now; start-up ran a repair already
        loop {
            ticks.tick().await;
            let Some(server) = server.upgrade() else {
                return;
            };
            match run_once(&server, &state, &objects).await {
                Ok(report) => log(&report),
                Err(error) => tracing::warn!(%error, "ClusterIP repair failed"),
            }
        }
    });
}

pub(super) fn log(report: &Report) {
    for finding in &report.findings {
        tracing::warn!("{finding}");
    }
    if report.created + report.deleted > 0 {
        tracing::info!(
            created = report.created,
            deleted = report.deleted,
            "ClusterIP repair wrote IPAddress objects"
        );
    }
}

/// What the repair reads of a stored IPAddress.
fn read(obj: &IPAddress) -> IpAddressObject {
    let parent = obj.spec.as_ref().map(|s| &s.parent_ref);
    IpAddressObject {
        name: obj.metadata.name.clone().unwrap_or_default(),
        labels: obj.metadata.labels.clone().unwrap_or_default(),
        parent_ref: parent.map(|p| ParentRef {
            group: p.group.clone().unwrap_or_default(),
            resource: p.resource.clone(),
            namespace: p.namespace.clone().unwrap_or_default(),
            name: p.name.clone(),
        }),
        created_at: obj
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(SystemTime::UNIX_EPOCH, |t| SystemTime::from(t.0)),
    }
}
