//! ResourceQuota (upstream `plugin/pkg/admission/resourcequota`): a write that adds usage is
//! charged to every quota of its namespace that counts it, before it is stored; one that
//! would exceed a quota is refused. Charges are compare-and-swap writes of the quota's
//! `status.used`, so concurrent creates on one server or several never overshoot: each sees
//! the usage the previous one left, or conflicts and tries again. Within this server, creates
//! in one namespace are charged one at a time to keep conflicts rare.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::Value;

use super::{Attributes, Operation, forbidden};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::quota::usage::{self, Usage, add, pretty};
use crate::registry::WriteOptions;
use crate::resources::Subresource;
use crate::server::ApiServer;
use crate::strategy::quantity::Quantity;

/// How often a charge that lost a race is tried again.
const RETRIES: usize = 10;

fn parse(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> Option<Quantity> {
    Quantity::parse(&q.0).ok()
}

pub async fn validate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
    old: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    if attrs.namespace.is_empty()
        || attrs.operation == Operation::Delete
        || attrs.subresource.is_some_and(|s| s != Subresource::Status)
    {
        return Ok(());
    }
    let Some(obj) = obj else { return Ok(()) };
    let (group, plural) = (attrs.resource.group, attrs.resource.plural);
    // Status writes change usage only when a pod finishes, which frees it; the keeper
    // recounts then.
    if attrs.subresource.is_some() {
        return Ok(());
    }
    let quotas: Vec<ResourceQuota> = server
        .cached_objects("", "v1", "resourcequotas", Some(attrs.namespace))
        .await?;
    if quotas.is_empty() {
        return Ok(());
    }
    let value = obj.to_value();
    let mut delta = usage::usage(group, plural, &value);
    let old_value = old.map(KubeObject::to_value);
    if let Some(old_value) = &old_value {
        for (name, amount) in usage::usage(group, plural, old_value) {
            add(&mut delta, &name, amount.negated());
        }
    }
    delta.retain(|_, amount| *amount > Quantity::zero());
    if delta.is_empty() {
        return Ok(());
    }
    let lock = server.quota_lock(attrs.namespace);
    let _charging = lock.lock().await;
    // Quotas already charged: a retry after a lost race charges only the others.
    let mut charged = HashSet::new();
    for _ in 0..RETRIES {
        let outcome = charge(
            server,
            attrs,
            &value,
            old_value.as_ref(),
            &delta,
            &mut charged,
        );
        match outcome.await? {
            Charged::Done => return Ok(()),
            Charged::Raced => continue,
        }
    }
    Err(ApiError::conflict(
        attrs.resource,
        attrs.name,
        "the resource quota kept changing; please try again",
    ))
}

enum Charged {
    Done,
    /// A quota changed between reading and writing it.
    Raced,
}

async fn charge(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    value: &Value,
    old: Option<&Value>,
    delta: &Usage,
    charged: &mut HashSet<String>,
) -> Result<Charged, ApiError> {
    let (group, plural) = (attrs.resource.group, attrs.resource.plural);
    // Fresh from the store: the cache may not hold the last charge yet.
    let names: Vec<String> = server
        .cached_objects::<ResourceQuota>("", "v1", "resourcequotas", Some(attrs.namespace))
        .await?
        .into_iter()
        .filter_map(|q| q.metadata.name)
        .filter(|name| !charged.contains(name))
        .collect();
    let mut updates = Vec::new();
    for name in names {
        let Some(mut quota) = server
            .lookup::<ResourceQuota>("resourcequotas", Some(attrs.namespace), &name)
            .await?
        else {
            continue;
        };
        let spec = quota.spec.clone().unwrap_or_default();
        // An update that moves a pod into a quota's scope charges its whole usage.
        let selected = usage::selects(&spec, group, plural, value);
        if !selected {
            continue;
        }
        let delta = match old {
            Some(old) if !usage::selects(&spec, group, plural, old) => {
                let mut all = usage::usage(group, plural, value);
                all.retain(|_, a| *a > Quantity::zero());
                all
            }
            _ => delta.clone(),
        };
        let spec_hard = spec.hard.unwrap_or_default();
        let relevant: Vec<String> = delta
            .keys()
            .filter(|k| spec_hard.contains_key(*k))
            .cloned()
            .collect();
        if relevant.is_empty() {
            continue;
        }
        let status = quota.status.clone().unwrap_or_default();
        let hard = status.hard.unwrap_or_default();
        let used = status.used.unwrap_or_default();
        let unknown: Vec<String> = relevant
            .iter()
            .filter(|k| !hard.contains_key(*k) || !used.contains_key(*k))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(forbidden(
                attrs,
                format!(
                    "status unknown for quota: {name}, resources: {}",
                    unknown.join(",")
                ),
            ));
        }
        let mut new_used = Usage::new();
        let mut exceeded = Vec::new();
        for key in &relevant {
            let current = used.get(key).and_then(parse).unwrap_or_else(Quantity::zero);
            let wanted = current.add(&delta[key]);
            if hard
                .get(key)
                .and_then(parse)
                .is_some_and(|limit| wanted > limit)
            {
                exceeded.push(key.clone());
            }
            new_used.insert(key.clone(), wanted);
        }
        if !exceeded.is_empty() {
            let as_usage = |list: &std::collections::BTreeMap<String, _>| -> Usage {
                list.iter()
                    .filter_map(|(k, v)| Some((k.clone(), parse(v)?)))
                    .collect()
            };
            return Err(forbidden(
                attrs,
                format!(
                    "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                    pretty(&delta, &exceeded),
                    pretty(&as_usage(&used), &exceeded),
                    pretty(&as_usage(&hard), &exceeded),
                ),
            ));
        }
        let mut used = used;
        for (key, amount) in new_used {
            used.insert(
                key,
                k8s_openapi::apimachinery::pkg::api::resource::Quantity(amount.canonical()),
            );
        }
        if let Some(status) = quota.status.as_mut() {
            status.used = Some(used);
        }
        updates.push((name, quota));
    }
    if attrs.dry_run {
        return Ok(Charged::Done);
    }
    let resource = server
        .resources
        .get("", "v1", "resourcequotas")
        .map(Arc::clone)
        .ok_or_else(|| ApiError::internal("no resourcequotas"))?;
    for (name, quota) in updates {
        let body = serde_json::to_value(&quota).map_err(ApiError::internal)?;
        let written = server
            .registry
            .update(
                &resource,
                Some(attrs.namespace),
                &name,
                Some(Subresource::Status),
                body,
                &WriteOptions::default(),
            )
            .await;
        match written {
            Ok(_) => {
                charged.insert(name);
            }
            Err(e) if e.code == 409 => return Ok(Charged::Raced),
            Err(e) => return Err(e),
        }
    }
    Ok(Charged::Done)
}
