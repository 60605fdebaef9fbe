//! The node side of the simulated kubelets: each registered node renews its Lease every
//! `lease_period` (the kubelet's `nodeLeaseDurationSeconds / 4`, 10 s) and reports its status
//! every `status_period` (the kubelet's `nodeStatusReportFrequency`, 5 minutes), spread evenly
//! over the period so that 100,000 nodes make a steady 10,000 renewals a second, not bursts.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::watch;

use super::objects::{lease, node_status_patch};
use super::{Counters, Fleet, ORDER};

/// Ticks per period: each tick serves the nodes of its slot.
const SLOTS: u64 = 100;

/// Runs one of the periodic loops until `stop`: every `period / SLOTS`, `beat` for each
/// registered node of the next slot, `in_flight` at a time.
async fn every<F, Fut>(
    fleet: Arc<Fleet>,
    period: Duration,
    in_flight: usize,
    mut stop: watch::Receiver<bool>,
    beat: F,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period / SLOTS as u32);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slot = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let names: Vec<String> = fleet.registered_in_slot(slot, SLOTS);
        slot = (slot + 1) % SLOTS;
        futures::stream::iter(names)
            .for_each_concurrent(in_flight, &beat)
            .await;
    }
}

/// Renews every registered node's Lease each `period` (an update with the new `renewTime`,
/// as the kubelet's lease controller sends).
pub async fn renew_leases(
    client: kube::Client,
    fleet: Arc<Fleet>,
    counters: Arc<Counters>,
    period: Duration,
    lease_secs: u32,
    stop: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let beat = |name: String| {
        let (api, counters) = (api.clone(), Arc::clone(&counters));
        async move {
            let object = lease(&name, None, Timestamp::now(), lease_secs);
            match api.replace(&name, &PostParams::default(), &object).await {
                Ok(_) => counters.renewals.fetch_add(1, ORDER),
                Err(_) => counters.renewal_errors.fetch_add(1, ORDER),
            };
        }
    };
    every(fleet, period, 256, stop, beat).await;
}

/// Reports every registered node's status each `period`: a strategic merge patch of its
/// conditions with a new heartbeat.
pub async fn report_status(
    client: kube::Client,
    fleet: Arc<Fleet>,
    counters: Arc<Counters>,
    period: Duration,
    stop: watch::Receiver<bool>,
) {
    let api: Api<Node> = Api::all(client);
    let since = Timestamp::now().to_string();
    let beat = |name: String| {
        let (api, counters, since) = (api.clone(), Arc::clone(&counters), since.clone());
        async move {
            let patch = node_status_patch(&seconds_now(), &since);
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                Ok(_) => counters.status_reports.fetch_add(1, ORDER),
                Err(_) => counters.status_errors.fetch_add(1, ORDER),
            };
        }
    };
    every(fleet, period, 64, stop, beat).await;
}

/// `now` as a Time (whole seconds).
pub fn seconds_now() -> String {
    format!("{:.0}", Timestamp::now())
}
