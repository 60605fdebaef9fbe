//! The verbs over the state: each takes the network's lock, restores the pools, changes them
//! and writes them back before the lock is released.
//!
//! Two things live here rather than in `NodeAddresses`, which hands out every address of a
//! prefix (right for routed VPC prefixes):
//! - Reserved addresses (network, broadcast, gateway; see `config.rs`) are held in the pool
//!   while it is in memory, under keys that start with `!` (no container id does), and never
//!   written to the state file, so a change of configuration changes them.
//! - The node's prefixes may change between calls (more granted, free ones given back): ADD
//!   adds the new ones and drops the withdrawn ones that no pod uses. A withdrawn prefix still
//!   in use stays until its last pod is deleted (and may serve new pods meanwhile: the node
//!   controller withdraws only free prefixes).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ultrak8s_netalloc::cidr::{Cidr, Family};
use ultrak8s_netalloc::prefix::{
    AddressError, MAX_ADDRESSES_PER_PREFIX, NodeAddresses, NodeAddressesSnapshot,
};

use super::config::IpamConf;
use super::store::{Locked, Store};
use super::{CniError, Code};

/// The key prefix of reserved addresses in a pool held in memory.
const RESERVED: &str = "!reserved/";

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

/// An address handed to an attachment, with the prefix it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub address: IpAddr,
    pub prefix: Cidr,
}

fn corrupt(family: Family, e: AddressError) -> CniError {
    CniError::new(
        Code::CorruptState,
        format!("the {family:?} address state does not restore"),
        e.to_string(),
    )
}

fn strip(mut snapshot: NodeAddressesSnapshot) -> NodeAddressesSnapshot {
    snapshot.containers.retain(|k, _| !k.starts_with(RESERVED));
    snapshot
}

/// The pool of `family` as stored (reserved keys dropped), or `None` without a state file.
fn restore(locked: &Locked<'_>, family: Family) -> Result<Option<NodeAddresses>, CniError> {
    let Some(snapshot) = locked.load(family)? else {
        return Ok(None);
    };
    NodeAddresses::restore(&strip(snapshot))
        .map(Some)
        .map_err(|e| corrupt(family, e))
}

fn save(locked: &Locked<'_>, family: Family, pool: &NodeAddresses) -> Result<(), CniError> {
    locked.save(family, &strip(pool.snapshot()))
}

/// The node's prefixes by family.
fn by_family(prefixes: &[Cidr]) -> BTreeMap<Family, Vec<Cidr>> {
    let mut families: BTreeMap<Family, Vec<Cidr>> = BTreeMap::new();
    for p in prefixes {
        let list = families.entry(p.family()).or_default();
        if !list.contains(p) {
            list.push(*p);
        }
    }
    families
}

/// Brings the pool's prefixes to `wanted` (see the module doc).
fn sync(pool: &mut NodeAddresses, wanted: &[Cidr]) -> Result<(), CniError> {
    // Withdrawn first, so a prefix that grew or shrank is not refused as an overlap.
    for prefix in pool.free_prefixes() {
        if !wanted.contains(&prefix) {
            pool.remove_prefix(&prefix).map_err(|e| {
                CniError::new(
                    Code::CorruptState,
                    "dropping a withdrawn prefix",
                    e.to_string(),
                )
            })?;
        }
    }
    let held = pool.prefixes();
    for prefix in wanted {
        if !held.contains(prefix) {
            pool.add_prefix(*prefix).map_err(|e| {
                CniError::new(
                    Code::InvalidConfig,
                    format!("prefix {prefix} cannot join this node's pool"),
                    format!("{e} (a prefix still used by pods cannot be resized)"),
                )
            })?;
        }
    }
    Ok(())
}

/// `pool` with the reserved addresses of `conf` taken (those a container holds are left
/// with it: the configuration changed under a running pod).
fn with_reserved(pool: &NodeAddresses, conf: &IpamConf) -> Result<NodeAddresses, CniError> {
    let mut snapshot = pool.snapshot();
    let held: BTreeSet<IpAddr> = snapshot.containers.values().copied().collect();
    for state in &snapshot.prefixes.clone() {
        for addr in conf.reserved(&state.prefix) {
            let in_bitmap = state
                .prefix
                .offset_of(addr)
                .is_some_and(|o| o < u128::from(MAX_ADDRESSES_PER_PREFIX));
            if !in_bitmap {
                continue;
            }
            if held.contains(&addr) {
                tracing::warn!(%addr, "a reserved address is held by a pod; it stays the pod's");
                continue;
            }
            snapshot
                .containers
                .insert(format!("{RESERVED}{addr}"), addr);
        }
    }
    NodeAddresses::restore(&snapshot).map_err(|e| {
        CniError::new(
            Code::InvalidConfig,
            "reserving the gateway and network addresses",
            e.to_string(),
        )
    })
}

/// The pools of the families in `prefixes`, restored, synced and with reservations.
fn ready_pools(
    locked: &Locked<'_>,
    conf: &IpamConf,
    prefixes: &[Cidr],
) -> Result<Vec<(Family, NodeAddresses)>, CniError> {
    let families = by_family(prefixes);
    if families.is_empty() {
        return Err(CniError::new(
            Code::TryAgainLater,
            "this node has no prefixes yet",
            "the node-IPAM controller grants them; retry when the Node lists some",
        ));
    }
    let mut pools = Vec::with_capacity(families.len());
    for (family, wanted) in families {
        let mut pool = restore(locked, family)?.unwrap_or_default();
        sync(&mut pool, &wanted)?;
        pools.push((family, with_reserved(&pool, conf)?));
    }
    Ok(pools)
}

/// ADD: an address per family for `key` (the same ones again if it has them already).
/// Nothing is written unless every family has an address.
pub fn add(
    store: &Store,
    conf: &IpamConf,
    prefixes: &[Cidr],
    key: &str,
) -> Result<Vec<Assigned>, CniError> {
    let locked = store.lock()?;
    let mut pools = ready_pools(&locked, conf, prefixes)?;
    let mut assigned = Vec::with_capacity(pools.len());
    for (_, pool) in &mut pools {
        let address = pool.assign(key).map_err(|e| match e {
            AddressError::Exhausted { .. } => CniError::new(
                Code::TryAgainLater,
                "no free address on this node",
                e.to_string(),
            ),
            other => CniError::new(Code::InvalidEnv, "assigning an address", other.to_string()),
        })?;
        let prefix = pool
            .prefixes()
            .into_iter()
            .find(|p| p.contains(address))
            .ok_or_else(|| {
                CniError::new(Code::CorruptState, format!("{address} is in no prefix"), "")
            })?;
        assigned.push(Assigned { address, prefix });
    }
    for (family, pool) in &pools {
        save(&locked, *family, pool)?;
    }
    Ok(assigned)
}

/// DEL: frees the addresses of `key`; an unknown key (or no state at all) is success.
pub fn del(store: &Store, key: &str) -> Result<(), CniError> {
    let locked = store.lock()?;
    for family in FAMILIES {
        let Some(mut pool) = restore(&locked, family)? else {
            continue;
        };
        if pool.release(key).is_some() {
            save(&locked, family, &pool)?;
        }
    }
    Ok(())
}

/// The addresses recorded for `key`, per family.
fn recorded(locked: &Locked<'_>, key: &str) -> Result<Vec<IpAddr>, CniError> {
    let mut found = Vec::new();
    for family in FAMILIES {
        if let Some(pool) = restore(locked, family)?
            && let Some(addr) = pool.address_of(key)
        {
            found.push(addr);
        }
    }
    Ok(found)
}

/// CHECK: `key` has recorded addresses, and each is in `prev_result`'s `ips` when it has any.
pub fn check(
    store: &Store,
    key: &str,
    prev_result: Option<&serde_json::Value>,
) -> Result<(), CniError> {
    let locked = store.lock()?;
    let found = recorded(&locked, key)?;
    if found.is_empty() {
        return Err(CniError::new(
            Code::CheckFailed,
            format!("no address is recorded for {key}"),
            "",
        ));
    }
    let reported: Vec<IpAddr> = prev_result
        .and_then(|r| r.get("ips"))
        .and_then(|ips| ips.as_array())
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip.get("address")?.as_str())
                .filter_map(|a| a.split('/').next()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if reported.is_empty() {
        return Ok(());
    }
    if let Some(missing) = found.iter().find(|a| !reported.contains(a)) {
        return Err(CniError::new(
            Code::CheckFailed,
            format!("{key} holds {missing}, which its previous result does not list"),
            format!("prevResult lists {reported:?}"),
        ));
    }
    Ok(())
}

/// GC: frees every address whose attachment is not in `valid` ("container-id/ifname").
pub fn gc(store: &Store, valid: &[String]) -> Result<(), CniError> {
    let locked = store.lock()?;
    for family in FAMILIES {
        let Some(mut pool) = restore(&locked, family)? else {
            continue;
        };
        let stale: Vec<String> = pool
            .snapshot()
            .containers
            .into_keys()
            .filter(|k| !valid.contains(k))
            .collect();
        for key in &stale {
            pool.release(key);
        }
        if !stale.is_empty() {
            tracing::info!(released = stale.len(), ?family, "GC freed stale addresses");
            save(&locked, family, &pool)?;
        }
    }
    Ok(())
}

/// STATUS: error 50 when some family has no free address left.
pub fn status(store: &Store, conf: &IpamConf, prefixes: &[Cidr]) -> Result<(), CniError> {
    let locked = store.lock()?;
    let pools = ready_pools(&locked, conf, prefixes).map_err(|e| match e.code {
        Code::TryAgainLater => CniError {
            code: Code::NotAvailable,
            ..e
        },
        _ => e,
    })?;
    for (family, pool) in pools {
        if pool.used() >= pool.capacity() {
            return Err(CniError::new(
                Code::NotAvailable,
                format!("no free {family:?} address on this node"),
                format!("prefixes: {:?}", pool.prefixes()),
            ));
        }
    }
    Ok(())
}
