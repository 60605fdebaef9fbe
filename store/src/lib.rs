//! The store: etcd's data model (revisions, MVCC, leases, watch, compaction) over a key space
//! split into partitions, each with its own sequencer, engine and journal stream.
//!
//! Where things go:
//! - `types`: the data model and etcd's KV requests/responses in Rust form.
//! - `mvcc`: etcd's KV semantics (ranges, puts, deletes, transactions) over an engine, pure.
//! - `engine`: the multi-version key space of one partition (`memory`; `rocks` behind the
//!   `rocksdb` feature), all checked by one contract suite.
//! - `journal`: the durable, segmented local log with group commit and snapshots.
//! - `codec`: the binary records partitions and leases write to their journals.
//! - `partition`: sequencer + engine + journal + event fan-out; the write path.
//! - `watch`: watchers of one partition (live fan-out, catch-up from history).
//! - `leases`: the lease table shared by all partitions.
//! - `store`: partition routing, lease revocation and expiry; the entry point.
//! - `contract`: the narrow contract the API server uses (get, list, count, put-if,
//!   delete-if, watch, compact), conflicts as values.
//! - `facade`: the etcd v3 gRPC API over the store.

pub mod codec;
pub mod contract;
pub mod engine;
pub mod error;
pub mod facade;
pub mod journal;
pub mod leases;
pub mod mvcc;
pub mod partition;
pub mod store;
pub mod types;
pub mod watch;

pub use error::StoreError;
pub use journal::Durability;
pub use store::{EngineKind, PartitionSpec, Store, StoreConfig};
pub use types::*;
