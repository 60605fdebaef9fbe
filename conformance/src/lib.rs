//! Test tiers above unit tests: the cluster harness, linearizability and watch checks,
//! scenario and load generators, and the runner for the upstream Kubernetes conformance suite.
//!
//! Today it holds:
//! - `cluster`: the harness that runs a whole API server in-process for tests and benchmarks
//!   (kubectl and kube-rs reach it over HTTPS with the admin kubeconfig);
//! - `poll`: `eventually`, how tests wait for the cluster to get somewhere; `standin`: what
//!   tests do in place of kubelets;
//! - `bench`: the whole-system benchmarks behind `ultrak8s bench` (`bench store`: the store
//!   against a real etcd, side by side in one run; `bench api`; `bench controllers`);
//! - `simnodes`: the node simulator behind `ultrak8s simnodes` (Nodes, Leases, status and
//!   the pods' lifecycle, without containers);
//! - in `tests/`, the tests that drive the store's etcd facade with real clients (the
//!   `etcdctl` of Debian's `etcd-client` package and the Rust `etcd-client` crate).
//!
//! - `runner`: the upstream conformance suite against `ultrak8s server` over simulated nodes
//!   (`ultrak8s conformance`), its summary, JUnit results and `STATUS.md`.

pub mod bench;
pub mod cluster;
pub mod poll;
pub mod runner;
pub mod simnodes;
pub mod standin;
