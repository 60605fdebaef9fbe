//! The Kubernetes API server: HTTP(S) edge, authentication, authorization, admission, the
//! generic registry with one strategy per resource, the watch cache, codecs, discovery and
//! OpenAPI (see `DESIGN.md`, "Request path").
//!
//! Not built yet: issue 3 (API server core) and issue 4 (security) bring it. Until then the
//! crate is empty on purpose, so that the workspace already has the layout of `DESIGN.md`.
