//! Namespace deletion: a deleted namespace turns `Terminating` (new content is refused),
//! its content is deleted, and then the namespace itself (upstream splits this between the
//! namespace registry and the namespace controller; the controller proper is issue 5, this
//! is the part `kubectl delete namespace` needs to finish).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::{DeleteOptions, Deleted, ListOptions};
use crate::server::ApiServer;
use crate::strategy::namespace::KUBERNETES_FINALIZER;

/// How often a terminating namespace is swept while content with finalizers remains.
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

impl ApiServer {
    pub(crate) async fn delete_namespace(
        self: &Arc<Self>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        if crate::server::SYSTEM_NAMESPACES[..3].contains(&name) {
            let namespaces = self.namespaces()?;
            return Err(ApiError::forbidden(
                namespaces,
                name,
                "this namespace may not be deleted",
            ));
        }
        let namespaces = self.namespaces()?.clone();
        let current = self.registry.get(&namespaces, None, name).await?;
        let ns: Value = serde_json::from_slice(&current).map_err(ApiError::internal)?;
        if opts.dry_run {
            return Ok(Deleted::Pending(current));
        }
        if ns.pointer("/metadata/deletionTimestamp").is_none() {
            // The mark goes through the registry's whole-object path: the namespace strategy
            // keeps status for itself.
            let mut marked = ns.clone();
            marked["metadata"]["deletionTimestamp"] = json!(crate::strategy::meta::now());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            marked["status"]["phase"] = json!("Terminating");
            self.registry
                .replace_whole(&namespaces, None, name, marked)
                .await?;
        }
        let server = Arc::clone(self);
        let ns_name = name.to_owned();
        tokio::spawn(async move {
            if let Err(error) = server.finalize_namespace(&ns_name).await {
                tracing::warn!(namespace = %ns_name, %error, "namespace cleanup failed");
            }
        });
        let bytes = self.registry.get(&namespaces, None, name).await?;
        Ok(Deleted::Pending(bytes))
    }

    fn namespaces(&self) -> Result<&Arc<crate::resources::Resource>, ApiError> {
        self.resources
            .get("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("no namespaces resource"))
    }

    /// Deletes everything in the namespace, then the namespace.
    async fn finalize_namespace(&self, name: &str) -> Result<(), ApiError> {
        loop {
            let mut remaining = 0;
            let mut seen = std::collections::HashSet::new();
            for resource in self.resources.all() {
                // Versions of one resource share storage; sweep each storage once.
                if !resource.namespaced || !seen.insert(resource.storage) {
                    continue;
                }
                let deleted = self
                    .registry
                    .delete_collection(
                        resource,
                        Some(name),
                        &ListOptions::default(),
                        &DeleteOptions {
                            grace_period_seconds: Some(0),
                            ..DeleteOptions::default()
                        },
                    )
                    .await?;
                remaining += deleted
                    .iter()
                    .filter(|d| matches!(d, Deleted::Pending(_)))
                    .count();
            }
            if remaining == 0 {
                break;
            }
            tokio::time::sleep(SWEEP_INTERVAL).await;
        }
        let namespaces = self.namespaces()?;
        // Drop the `kubernetes` finalizer from spec (what `/finalize` does), then the object.
        let current = self.registry.get(namespaces, None, name).await?;
        let mut ns: Value = serde_json::from_slice(&current).map_err(ApiError::internal)?;
        if let Some(finalizers) = ns
            .pointer_mut("/spec/finalizers")
            .and_then(Value::as_array_mut)
        {
            finalizers.retain(|f| f != KUBERNETES_FINALIZER);
        }
        self.registry
            .replace_whole(namespaces, None, name, ns)
            .await?;
        match self
            .registry
            .delete(namespaces, None, name, &DeleteOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}
