//! The API server: the resource table, the registry over the store, the prebuilt discovery
//! and OpenAPI documents, and what exists from the first start (the system namespaces and the
//! `default/kubernetes` Service).

use std::sync::Arc;

use serde_json::json;
use ultrak8s_store::store::Store;

use crate::error::ApiError;
use crate::http::discovery::Discovery;
use crate::openapi::{OpenApi, ServedResource};
use crate::registry::{Registry, WriteOptions};
use crate::resources::{Resources, builtin};

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
}

/// Settings of the API server that the binary decides.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The address clients reach the API server at (the `kubernetes` Service's endpoint).
    pub advertise_address: std::net::IpAddr,
    pub secure_port: u16,
    /// The ClusterIP of the `kubernetes` Service (the first address of the service CIDR).
    pub kubernetes_service_ip: String,
}

impl ApiServer {
    pub fn new(store: Arc<Store>) -> Arc<ApiServer> {
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
        })
    }

    /// Creates what a cluster has from the start, leaving what exists alone.
    pub async fn bootstrap(&self, config: &ApiConfig) -> Result<(), ApiError> {
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
                "clusterIP": config.kubernetes_service_ip,
                "clusterIPs": [config.kubernetes_service_ip],
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": config.secure_port}],
            },
        });
        ignore_exists(
            self.registry
                .create(services, Some("default"), service, &opts)
                .await,
        )?;
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

fn ignore_exists<T>(result: Result<T, ApiError>) -> Result<(), ApiError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
