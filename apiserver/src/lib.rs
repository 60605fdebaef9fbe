//! The Kubernetes API server: HTTP(S) edge, the generic registry with one strategy per
//! resource, codecs, discovery and OpenAPI (see `DESIGN.md`, "Request path").
//!
//! Where things go:
//! - `http/`: the listener (TLS, HTTP/1.1 + HTTP/2), request info, content negotiation and
//!   codecs, discovery, the handler that dispatches verbs, subresources (`scale`, `binding`,
//!   `eviction`).
//! - `registry/`: the generic store (create, get, list, update, patch, delete, watch) over the
//!   store crate's `KubeStore` contract.
//! - `cache/`: the per-resource watch cache that serves lists and watches.
//! - `conversion.rs`: versions stored as another version (HPA v1 as v2, events.k8s.io as
//!   core events).
//! - `resources.rs`: the table of served resources; `object.rs`: objects with their kind
//!   erased; `strategy/`: per-kind rules (one file per kind with rules of its own).
//! - `patch/`: JSON patch, merge patch and strategic merge patch; `selector.rs`: label and
//!   field selectors; `table.rs` + `table/printers/`: `kubectl get` columns, one file per
//!   API area.
//! - `protobuf/`: Kubernetes protobuf <-> JSON for built-in kinds, driven by a generated
//!   schema table (`scripts/gen-protobuf-schema`).
//! - `openapi/`: the OpenAPI v2 and v3 documents, generated from the k8s-openapi types with
//!   upstream's patch and list extensions (`extensions.rs`, `scripts/gen-openapi-extensions`).
//! - `service_alloc/`: ClusterIPs and NodePorts of Services (netalloc's allocators, driven
//!   by the registry's write hooks; rebuilt from the stored Services at start-up).
//! - `pki.rs`: the cluster CA, serving and client certificates, the admin kubeconfig.
//! - `lifecycle.rs`: the registry's part of namespace deletion (the namespace controller
//!   deletes the content); `server.rs`: the server and what exists from the first start; `error.rs`: errors and their one translation into `metav1.Status`.
//!
//! - `auth/`: authentication, impersonation, authorization (RBAC, Node) and the review APIs.
//! - `admission/`: the admission plugins every client write passes (mutating, then
//!   validating), one file per plugin; `quota/`: ResourceQuota usage and the keeper of quota
//!   status.

pub mod admission;
pub mod auth;
pub mod cache;
pub mod conversion;
pub mod error;
pub mod http;
mod lifecycle;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod quota;
pub mod registry;
pub mod resources;
pub mod selector;
pub mod server;
pub mod service_alloc;
pub mod strategy;
pub mod table;
