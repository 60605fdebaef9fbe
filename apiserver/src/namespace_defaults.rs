//! What every namespace holds from its creation: the `default` ServiceAccount (pods run as it
//! unless they name another; the ServiceAccount admission plugin refuses pods whose account
//! does not exist) and the `kube-root-ca.crt` ConfigMap (the cluster CA that the token volume
//! of every pod projects). Upstream these are the serviceaccount and root-ca-cert-publisher
//! controllers; they run here, fed by the watch caches, until the controller runtime of
//! issue 5 takes them over. Either object is recreated when deleted, and the ConfigMap is
//! rewritten when its CA differs.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::admission::service_account::{DEFAULT_SERVICE_ACCOUNT, ROOT_CA_CONFIG_MAP};
use crate::error::ApiError;
use crate::registry::WriteOptions;
use crate::server::ApiServer;

const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver \
    when using internal endpoints such as the internal service IP or kubernetes.default.svc. \
    No other usage is guaranteed across distributions of Kubernetes clusters.";

impl ApiServer {
    /// Makes sure `namespace` has its defaults, unless it is terminating.
    async fn ensure_namespace_defaults(&self, namespace: &str) -> Result<(), ApiError> {
        let ns: Option<Value> = self.lookup("namespaces", None, namespace).await?;
        let Some(ns) = ns else { return Ok(()) };
        if ns.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(());
        }
        let opts = WriteOptions::default();
        let exists = |e: &ApiError| e.code == 409 || e.code == 403;
        let account: Option<Value> = self
            .lookup("serviceaccounts", Some(namespace), DEFAULT_SERVICE_ACCOUNT)
            .await?;
        if account.is_none() {
            let body = json!({
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": DEFAULT_SERVICE_ACCOUNT},
            });
            let resource = self.core("serviceaccounts")?;
            if let Err(e) = self
                .registry
                .create(resource, Some(namespace), body, &opts)
                .await
                && !exists(&e)
            {
                return Err(e);
            }
        }
        let Some(ca) = &self.root_ca else {
            return Ok(());
        };
        let current: Option<Value> = self
            .lookup("configmaps", Some(namespace), ROOT_CA_CONFIG_MAP)
            .await?;
        let body = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIG_MAP,
                         "annotations": {"kubernetes.io/description": DESCRIPTION}},
            "data": {"ca.crt": ca},
        });
        let resource = self.core("configmaps")?;
        match current {
            None => {
                if let Err(e) = self
                    .registry
                    .create(resource, Some(namespace), body, &opts)
                    .await
                    && !exists(&e)
                {
                    return Err(e);
                }
            }
            Some(current) if current.pointer("/data/ca.crt") != Some(&json!(ca)) => {
                let patch = json!({"data": {"ca.crt": ca}});
                self.registry
                    .patch(
                        resource,
                        Some(namespace),
                        ROOT_CA_CONFIG_MAP,
                        None,
                        crate::registry::PatchType::Merge,
                        patch,
                        &opts,
                    )
                    .await?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn core(&self, plural: &str) -> Result<&Arc<crate::resources::Resource>, ApiError> {
        self.resources
            .get("", "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("no resource {plural}")))
    }
}

/// Gives every namespace its defaults now and whenever a namespace is created or one of
/// its defaults is deleted or changed.
pub(crate) async fn follow(server: &Arc<ApiServer>) -> Result<(), ApiError> {
    let mut feeds = Vec::new();
    for plural in ["namespaces", "serviceaccounts", "configmaps"] {
        let resource = server.core(plural)?;
        let cache = server.registry.cache(resource).await?;
        feeds.push(
            cache
                .snapshot_and_subscribe(&resource.prefix(None), |_| false)
                .1,
        );
    }
    let namespaces: Vec<Value> = server.cached_objects("", "v1", "namespaces", None).await?;
    for ns in namespaces {
        if let Some(name) = ns.pointer("/metadata/name").and_then(Value::as_str)
            && let Err(error) = server.ensure_namespace_defaults(name).await
        {
            tracing::warn!(namespace = name, %error, "namespace defaults");
        }
    }
    for (i, mut events) in feeds.into_iter().enumerate() {
        let server = Arc::downgrade(server);
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let Some(server) = server.upgrade() else {
                    return;
                };
                // Which namespace to look at: a new namespace, or the namespace of a default
                // object that was deleted or changed.
                let namespace = match (i, &event.object, &event.prev) {
                    (0, Some(ns), None) => ns.name.clone(),
                    (1, None, Some(sa)) if sa.name == DEFAULT_SERVICE_ACCOUNT => {
                        sa.namespace.clone()
                    }
                    (2, _, Some(cm)) if cm.name == ROOT_CA_CONFIG_MAP => cm.namespace.clone(),
                    _ => continue,
                };
                if let Err(error) = server.ensure_namespace_defaults(&namespace).await {
                    tracing::warn!(%namespace, %error, "namespace defaults");
                }
            }
        });
    }
    Ok(())
}
