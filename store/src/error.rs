//! The store's one error type. Expected outcomes (a failed compare, a missing key) are values
//! in the responses, not errors. Messages match etcd's where etcd has one, because clients
//! (client-go, etcdctl) match on them; the etcd facade maps each kind to its gRPC code.

use crate::journal::JournalError;
use crate::types::Revision;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted { compact_revision: Revision },
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision { current: Revision },
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: value is provided")]
    ValueProvided,
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// The operation touches keys of more than one partition; partitions have independent
    /// revisions, so no single revision could describe it.
    #[error(
        "ultrak8s: operation spans partitions {first:?} and {second:?}; \
         each request must stay within one partition"
    )]
    CrossPartition { first: String, second: String },
    #[error("ultrak8s: not supported: {0}")]
    NotSupported(&'static str),
    #[error("ultrak8s: invalid argument: {0}")]
    InvalidArgument(String),
    /// The partition's journal failed (a write or fsync error). The partition refuses every
    /// later write, because it can no longer promise durability.
    #[error("ultrak8s: partition {partition:?} is unavailable: {source}")]
    Unavailable {
        partition: String,
        source: JournalError,
    },
    #[error("ultrak8s: engine error: {0}")]
    Engine(String),
    #[error("ultrak8s: store is shutting down")]
    ShuttingDown,
}
