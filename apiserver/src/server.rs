//! The API server: the resource table, the registry over the store, the prebuilt discovery
//! and OpenAPI documents, and what exists from the first start (the system namespaces and the
//! `default/kubernetes` Service).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde_json::json;
use ultrak8s_store::store::Store;

use crate::auth::authn::AuthnConfig;
use crate::auth::authz::RbacAuthorizer;
use crate::auth::node_graph::NodeGraph;
use crate::auth::serviceaccount::ServiceAccountTokens;
use crate::error::ApiError;
use crate::http::discovery::Discovery;
use crate::openapi::{OpenApi, ServedResource};
use crate::registry::{Registry, WriteOptions};
use crate::resources::{Resources, builtin};
use crate::service_alloc::ServiceRanges;

/// What `/version` reports.
pub const GIT_VERSION: &str = "v1.35.0-ultrak8s";

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub struct ApiServer {
    pub resources: Resources,
    pub registry: Registry,
    pub discovery: Discovery,
    pub openapi: OpenApi,
    pub(crate) authn: AuthnConfig,
    /// `None`: no signing key, so no ServiceAccount tokens are issued or accepted.
    pub(crate) service_account_tokens: Option<ServiceAccountTokens>,
    pub(crate) rbac: RbacAuthorizer,
    /// What each node's pods reference (the Node authorizer's graph), fed from the pods
    /// cache. A `parking_lot` lock, never held across an await.
    pub(crate) node_graph: RwLock<NodeGraph>,
    /// One lock per namespace under which ResourceQuota admission charges quotas.
    quota_locks: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// What `/metrics` and the health endpoints report besides the server itself
    /// (`http/observability.rs`).
    pub(crate) metrics_sources: RwLock<Vec<crate::http::observability::MetricsSource>>,
    pub(crate) health_checks: RwLock<Vec<crate::http::observability::HealthCheck>>,
    pub(crate) request_metrics: crate::http::request_metrics::RequestMetrics,
}

/// How the server authenticates (certificates are always accepted).
#[derive(Clone, Debug, Default)]
pub struct Security {
    pub authn: AuthnConfig,
    pub service_account_tokens: Option<ServiceAccountTokens>,
}

/// Settings of the API server that the binary decides.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The address clients reach the API server at (the `kubernetes` Service's endpoint).
    pub advertise_address: std::net::IpAddr,
    pub secure_port: u16,
    /// `--service-cluster-ip-range` and `--service-node-port-range`; the `kubernetes`
    /// Service gets the first address of the primary range.
    pub service_ranges: ServiceRanges,
}

impl ApiServer {
    /// A server without a ServiceAccount key (tests that need no tokens).
    pub fn new(store: Arc<Store>) -> Arc<ApiServer> {
        ApiServer::with_security(store, Security::default())
    }

    pub fn with_security(store: Arc<Store>, security: Security) -> Arc<ApiServer> {
        let resources = Resources::new(builtin());
        let namespaces = resources
            .get("", "v1", "namespaces")
            .cloned()
            .expect("the built-in resources include namespaces");
        let discovery = Discovery::new(&resources);
        let served: Vec<ServedResource> = resources
            .all()
            .iter()
            .map(|r| ServedResource {
                group: r.group,
                version: r.version,
                kind: r.kind,
                plural: r.plural,
                namespaced: r.namespaced,
                subresources: r.subresources.iter().map(|s| s.name()).collect(),
                schema: r.schema,
                definition: r.definition.clone(),
            })
            .collect();
        let openapi = OpenApi::new(&served);
        // Strategic merge patches read their merge keys from the served OpenAPI definitions,
        // so what kubectl sees and what the server does cannot drift apart.
        let v2: serde_json::Value =
            serde_json::from_slice(&openapi.v2_json()).unwrap_or(serde_json::Value::Null);
        let definitions = Arc::new(crate::patch::schema::Definitions::from_v2(&v2));
        Arc::new(ApiServer {
            openapi,
            registry: Registry::new(store, resources.all(), namespaces, definitions),
            discovery,
            resources,
            authn: security.authn,
            service_account_tokens: security.service_account_tokens,
            rbac: RbacAuthorizer::default(),
            node_graph: RwLock::new(NodeGraph::default()),
            quota_locks: parking_lot::Mutex::new(HashMap::new()),
            metrics_sources: RwLock::new(Vec::new()),
            health_checks: RwLock::new(Vec::new()),
            request_metrics: Default::default(),
        })
    }

    /// Creates what a cluster has from the start, leaving what exists alone, and starts
    /// following what authorization reads (roles and bindings, pods for the Node
    /// authorizer).
    pub async fn bootstrap(self: &Arc<Self>, config: &ApiConfig) -> Result<(), ApiError> {
        self.start_service_allocation(&config.service_ranges)
            .await?;
        self.bootstrap_objects(config).await?;
        self.bootstrap_policy().await?;
        self.bootstrap_priority_classes().await?;
        self.watch_rbac().await?;
        crate::auth::policy::follow_aggregation(self).await?;
        crate::auth::node::follow_pods(self).await?;
        crate::quota::follow(self).await
    }

    async fn bootstrap_objects(&self, config: &ApiConfig) -> Result<(), ApiError> {
        let opts = WriteOptions::default();
        let namespaces = self
            .resources
            .get("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("no namespaces resource"))?;
        for name in SYSTEM_NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            ignore_exists(self.registry.create(namespaces, None, body, &opts).await)?;
        }
        let services = self
            .resources
            .get("", "v1", "services")
            .ok_or_else(|| ApiError::internal("no services resource"))?;
        let kubernetes_ip = config
            .service_ranges
            .kubernetes_service_ip()
            .ok_or_else(|| ApiError::internal("the service range has no first address"))?
            .to_string();
        let service = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": kubernetes_ip,
                "clusterIPs": [kubernetes_ip],
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": config.secure_port}],
            },
        });
        // Looked up first: a create of an existing Service would try to allocate its address
        // again and fail with 422 before the store could answer 409 (upstream's order too).
        let existing: Option<k8s_openapi::api::core::v1::Service> =
            self.lookup("services", Some("default"), "kubernetes").await?;
        if existing.is_none() {
            ignore_exists(
                self.registry
                    .create(services, Some("default"), service, &opts)
                    .await,
            )?;
        }
        let endpoints = self
            .resources
            .get("", "v1", "endpoints")
            .ok_or_else(|| ApiError::internal("no endpoints resource"))?;
        let body = json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{
                "addresses": [{"ip": config.advertise_address.to_string()}],
                "ports": [{"name": "https", "port": config.secure_port, "protocol": "TCP"}],
            }],
        });
        ignore_exists(
            self.registry
                .create(endpoints, Some("default"), body, &opts)
                .await,
        )?;
        Ok(())
    }
}

impl ApiServer {
    /// The lock ResourceQuota admission holds while it charges `namespace`'s quotas.
    pub(crate) fn quota_lock(&self, namespace: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.quota_locks.lock();
        Arc::clone(locks.entry(namespace.to_owned()).or_default())
    }

    /// A typed core/v1 object from the store; `None` when it does not exist.
    pub(crate) async fn lookup<T: DeserializeOwned>(
        &self,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        self.lookup_in("", "v1", plural, namespace, name).await
    }

    /// A typed object of any served resource from the store; `None` when it does not exist.
    pub(crate) async fn lookup_in<T: DeserializeOwned>(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        let resource = self
            .resources
            .get(group, version, plural)
            .ok_or_else(|| ApiError::internal(format!("no resource {plural}.{group}")))?;
        match self.registry.get(resource, namespace, name).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(ApiError::internal),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every object of a resource (in `namespace`, or all), typed, from its watch cache.
    pub(crate) async fn cached_objects<T: DeserializeOwned>(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<T>, ApiError> {
        let resource = self
            .resources
            .get(group, version, plural)
            .ok_or_else(|| ApiError::internal(format!("no resource {plural}.{group}")))?;
        let cache = self.registry.cache(resource).await?;
        let snapshot = cache.snapshot(&resource.prefix(namespace), |_| true);
        Ok(snapshot
            .objects
            .iter()
            .filter_map(|o| serde_json::from_slice(&o.bytes).ok())
            .collect())
    }

    /// The system PriorityClasses, created where missing.
    async fn bootstrap_priority_classes(&self) -> Result<(), ApiError> {
        let opts = WriteOptions::default();
        let priority_classes = self
            .resources
            .get("scheduling.k8s.io", "v1", "priorityclasses")
            .ok_or_else(|| ApiError::internal("no priorityclasses resource"))?;
        for (name, value, description) in SYSTEM_PRIORITY_CLASSES {
            let body = json!({
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": "PreemptLowerPriority",
            });
            ignore_exists(
                self.registry
                    .create(priority_classes, None, body, &opts)
                    .await,
            )?;
        }
        Ok(())
    }
}

/// Upstream's `scheduling.SystemPriorityClasses()`.
const SYSTEM_PRIORITY_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to \
         another node if necessary.",
    ),
];

pub(crate) fn ignore_exists<T>(result: Result<T, ApiError>) -> Result<(), ApiError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
