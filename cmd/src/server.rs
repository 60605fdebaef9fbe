//! `ultrak8s server`: opens the store and serves it; stops cleanly on SIGINT or SIGTERM,
//! flushing every journal before exit.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;
use ultrak8s_store::facade::{self, FacadeConfig};
use ultrak8s_store::{Durability, EngineKind, PartitionSpec, Store, StoreConfig};

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the store's journals, snapshots and (later) certificates live.
    #[arg(long, env = "ULTRAK8S_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// When a write is acknowledged: after fsync (`fsync`), after the write reached the OS
    /// (`buffered`: survives a process crash, not a host crash), or at once (`none`: nothing
    /// is written to disk).
    #[arg(long, default_value = "fsync")]
    durability: Durability,
    /// The engine that holds each partition's versions: `memory` or `rocksdb`.
    #[arg(long, default_value = "memory")]
    engine: EngineKind,
    /// A partition as name=prefix[,prefix...]; repeat for several. Replaces the defaults
    /// (events, leases, pods, nodes); keys no prefix claims go to the `rest` partition.
    #[arg(long = "partition")]
    partitions: Vec<PartitionSpec>,
    /// Where the etcd v3 API is served (loopback only).
    #[arg(long, default_value = "127.0.0.1:2379")]
    etcd_listen: SocketAddr,
    /// The largest request the store accepts, in bytes (etcd's --max-request-bytes).
    #[arg(long, default_value_t = ultrak8s_store::store::DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let mut config = StoreConfig::new(&args.data_dir);
    config.durability = args.durability;
    config.engine = args.engine;
    config.max_request_bytes = args.max_request_bytes;
    if !args.partitions.is_empty() {
        config.partitions = args.partitions;
    }
    let store = Store::open(config)
        .await
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let listener = facade::bind(args.etcd_listen).await?;
    tracing::info!(
        etcd = %args.etcd_listen,
        data_dir = %args.data_dir.display(),
        durability = %args.durability,
        "ultrak8s server is up"
    );
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let serving = tokio::spawn(facade::serve(
        std::sync::Arc::clone(&store),
        listener,
        FacadeConfig::default(),
        async move {
            let _ = stop_rx.changed().await;
        },
    ));
    shutdown_signal().await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    serving.await.context("etcd API task")??;
    store.close().await.context("flushing the store")?;
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
