//! The keeper of ResourceQuota status (upstream `pkg/controller/resourcequota`): recomputes
//! `status.hard` and `status.used` of a namespace's quotas from the watch caches.
//!
//! Recalculation runs when a quota's spec changes, when an object that counts against a
//! quota is deleted or a pod finishes (upstream's replenishment), and every minute for every
//! namespace with quotas. It never runs for creates: those are charged by admission, and a
//! recount from a cache that has not seen a just-admitted object yet would hand its charge
//! back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::usage::{self, Usage, add};
use crate::error::ApiError;
use crate::registry::WriteOptions;
use crate::resources::Subresource;
use crate::server::ApiServer;
use crate::strategy::quantity::Quantity;

const RESYNC: Duration = Duration::from_secs(60);

/// Which resource a quota's resource name counts.
fn counted_resource(name: &str) -> Option<(String, String)> {
    let core = |plural: &str| Some((String::new(), plural.to_owned()));
    if let Some(rest) = name.strip_prefix("count/") {
        return match rest.split_once('.') {
            Some((plural, group)) => Some((group.to_owned(), plural.to_owned())),
            None => core(rest),
        };
    }
    if name.contains(".storageclass.storage.k8s.io/") || name == "requests.storage" {
        return core("persistentvolumeclaims");
    }
    match name {
        "pods" | "cpu" | "memory" | "ephemeral-storage" => core("pods"),
        "services" | "services.loadbalancers" | "services.nodeports" => core("services"),
        "persistentvolumeclaims"
        | "configmaps"
        | "secrets"
        | "replicationcontrollers"
        | "resourcequotas" => core(name),
        n if n.starts_with("requests.") || n.starts_with("limits.") => core("pods"),
        _ => None,
    }
}

impl ApiServer {
    /// Recomputes the status of every quota in `namespace`.
    pub(crate) async fn recalculate_quotas(&self, namespace: &str) -> Result<(), ApiError> {
        let quotas: Vec<ResourceQuota> = self
            .cached_objects("", "v1", "resourcequotas", Some(namespace))
            .await?;
        if quotas.is_empty() {
            return Ok(());
        }
        let wanted: BTreeSet<(String, String)> = quotas
            .iter()
            .flat_map(|q| q.spec.iter().flat_map(|s| s.hard.iter().flatten()))
            .filter_map(|(name, _)| counted_resource(name))
            .collect();
        // The objects of every counted resource, read at the store's current revision.
        let mut objects: Vec<(String, String, Value)> = Vec::new();
        for (group, plural) in &wanted {
            let Some(resource) = self.resources.all().iter().find(|r| {
                r.group == group.as_str() && r.plural == plural.as_str() && r.conversion.is_none()
            }) else {
                continue;
            };
            let cache = self.registry.cache(resource).await?;
            cache.wait_synced(None).await?;
            let snapshot = cache.snapshot(&resource.prefix(Some(namespace)), |_| true);
            for object in snapshot.objects {
                if let Ok(value) = serde_json::from_slice(&object.bytes) {
                    objects.push((group.clone(), plural.clone(), value));
                }
            }
        }
        for quota in quotas {
            let hard = quota
                .spec
                .as_ref()
                .and_then(|s| s.hard.clone())
                .unwrap_or_default();
            let spec = quota.spec.clone().unwrap_or_default();
            let mut total = Usage::new();
            for (group, plural, value) in &objects {
                if usage::selects(&spec, group, plural, value) {
                    for (name, amount) in usage::usage(group, plural, value) {
                        add(&mut total, &name, amount);
                    }
                }
            }
            let used: BTreeMap<String, String> = hard
                .keys()
                .map(|name| {
                    let amount = total.get(name).copied().unwrap_or_else(Quantity::zero);
                    (name.clone(), amount.canonical())
                })
                .collect();
            let hard: BTreeMap<String, String> = hard.into_iter().map(|(k, v)| (k, v.0)).collect();
            let status = json!({"hard": hard, "used": used});
            let current = serde_json::to_value(&quota.status).unwrap_or(Value::Null);
            if current == status {
                continue;
            }
            let name = quota.metadata.name.clone().unwrap_or_default();
            let mut body = serde_json::to_value(&quota).map_err(ApiError::internal)?;
            body["status"] = status;
            let resource = self
                .resources
                .get("", "v1", "resourcequotas")
                .ok_or_else(|| ApiError::internal("no resourcequotas"))?;
            let written = self
                .registry
                .update(
                    resource,
                    Some(namespace),
                    &name,
                    Some(Subresource::Status),
                    body,
                    &WriteOptions::default(),
                )
                .await;
            match written {
                // Someone wrote the quota meanwhile (admission charged it, or its spec
                // changed): the event that follows triggers another pass.
                Err(e) if e.code == 409 || e.code == 404 => {}
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(())
    }
}

/// Starts the keeper: a pass over every namespace with quotas now, then on every relevant
/// event and every minute.
pub(crate) async fn follow(server: &Arc<ApiServer>) -> Result<(), ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
    let watched = [
        "resourcequotas",
        "pods",
        "services",
        "persistentvolumeclaims",
        "configmaps",
        "secrets",
        "replicationcontrollers",
    ];
    for plural in watched {
        let resource = server
            .resources
            .get("", "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("no resource {plural}")))?;
        let cache = server.registry.cache(resource).await?;
        let (_, mut events) = cache.snapshot_and_subscribe(&resource.prefix(None), |_| false);
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let namespace = match (plural, &event.object, &event.prev) {
                    // A quota created, or its spec changed.
                    ("resourcequotas", Some(new), old) => {
                        let spec = |o: &crate::cache::CachedObject| {
                            serde_json::from_slice::<Value>(&o.bytes)
                                .ok()
                                .map(|v| v["spec"].clone())
                        };
                        if old.as_ref().is_some_and(|old| spec(old) == spec(new)) {
                            continue;
                        }
                        new.namespace.clone()
                    }
                    // A counted object went away.
                    (_, None, Some(old)) => old.namespace.clone(),
                    // A pod finished.
                    ("pods", Some(new), Some(old)) => {
                        // The cache extracted the phase already (a selectable field): pod
                        // status updates, the most frequent writes, are not decoded here.
                        let terminal = |o: &crate::cache::CachedObject| {
                            o.fields
                                .get("status.phase")
                                .is_some_and(|p| p == "Succeeded" || p == "Failed")
                        };
                        if !terminal(new) || terminal(old) {
                            continue;
                        }
                        new.namespace.clone()
                    }
                    _ => continue,
                };
                if tx.send(namespace).await.is_err() {
                    return;
                }
            }
        });
    }
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        let mut resync = tokio::time::interval(RESYNC);
        loop {
            let namespaces: BTreeSet<String> = tokio::select! {
                Some(first) = rx.recv() => {
                    // Many events for one namespace become one pass.
                    let mut batch = BTreeSet::from([first]);
                    while let Ok(more) = rx.try_recv() {
                        batch.insert(more);
                    }
                    batch
                }
                _ = resync.tick() => {
                    let Some(server) = weak.upgrade() else { return };
                    let quotas: Vec<ResourceQuota> = server
                        .cached_objects("", "v1", "resourcequotas", None)
                        .await
                        .unwrap_or_default();
                    quotas.into_iter().filter_map(|q| q.metadata.namespace).collect()
                }
                else => return,
            };
            let Some(server) = weak.upgrade() else { return };
            for namespace in namespaces {
                if let Err(error) = server.recalculate_quotas(&namespace).await {
                    tracing::warn!(%namespace, %error, "resource quota status");
                }
            }
        }
    });
    Ok(())
}
