//! Namespace deletion, the registry's part (upstream `pkg/registry/core/namespace/storage`):
//! a deleted namespace turns `Terminating` (new content is refused) and stays until the
//! namespace controller has deleted its content and removed the `kubernetes` finalizer
//! through `namespaces/finalize`; the registry then deletes it (the last finalizer gone). A
//! namespace that no finalizer holds is deleted at once.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::{DeleteOptions, Deleted};
use crate::server::ApiServer;

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
        let held = |path: &str| {
            ns.pointer(path)
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty())
        };
        if !held("/spec/finalizers") && !held("/metadata/finalizers") {
            return self.registry.delete(&namespaces, None, name, opts).await;
        }
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
        let bytes = self.registry.get(&namespaces, None, name).await?;
        Ok(Deleted::Pending(bytes))
    }

    fn namespaces(&self) -> Result<&Arc<crate::resources::Resource>, ApiError> {
        self.resources
            .get("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("no namespaces resource"))
    }
}
