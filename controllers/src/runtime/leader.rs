//! Leader election over a Lease (client-go's `leaderelection` with a `LeaseLock`): several
//! servers may run the controllers, one set is active. The holder renews the Lease every
//! `retry_period`; a Lease not renewed for `lease_duration` may be taken over. Every write is
//! a compare-and-swap on the Lease's resourceVersion, so two candidates never both win.
//! A leader that cannot renew within `renew_deadline` steps down before anyone may take over.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct LeaderConfig {
    pub namespace: String,
    pub name: String,
    /// This candidate's identity (`<hostname>_<random>`, as upstream's).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// kube-controller-manager's defaults: 15 s lease, 10 s renew deadline, 2 s retry.
    pub fn new(namespace: &str, name: &str, identity: &str) -> LeaderConfig {
        LeaderConfig {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Leading,
    Following,
}

/// Runs the election until `leading` has no receivers left; `leading` says whether this
/// candidate leads now.
pub async fn run(api: Api<Lease>, config: LeaderConfig, leading: watch::Sender<bool>) {
    let mut last_renewed: Option<tokio::time::Instant> = None;
    loop {
        if leading.is_closed() {
            return;
        }
        match try_acquire_or_renew(&api, &config).await {
            Ok(Attempt::Leading) => {
                last_renewed = Some(tokio::time::Instant::now());
                leading.send_if_modified(|l| !std::mem::replace(l, true));
            }
            Ok(Attempt::Following) => {
                last_renewed = None;
                leading.send_if_modified(|l| std::mem::replace(l, false));
            }
            Err(error) => {
                tracing::debug!(%error, lease = %config.name, "leader election attempt failed");
                // Step down before another candidate may take the Lease over.
                if last_renewed.is_some_and(|t| t.elapsed() >= config.renew_deadline) {
                    last_renewed = None;
                    leading.send_if_modified(|l| std::mem::replace(l, false));
                }
            }
        }
        tokio::time::sleep(config.retry_period).await;
    }
}

fn micro_now() -> MicroTime {
    MicroTime(Timestamp::now())
}

async fn try_acquire_or_renew(
    api: &Api<Lease>,
    config: &LeaderConfig,
) -> Result<Attempt, kube::Error> {
    let duration_seconds = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let current = api.get_opt(&config.name).await?;
    let Some(mut lease) = current else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(config.name.clone()),
                namespace: Some(config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(config.identity.clone()),
                lease_duration_seconds: Some(duration_seconds),
                acquire_time: Some(micro_now()),
                renew_time: Some(micro_now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Following),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let held_by_me = holder == config.identity;
    if !held_by_me && !holder.is_empty() {
        let renewed = spec.renew_time.as_ref().map(|t| t.0);
        let duration = spec
            .lease_duration_seconds
            .map_or(config.lease_duration, |s| {
                Duration::from_secs(u64::try_from(s).unwrap_or(0))
            });
        let expires =
            renewed.and_then(|r| r.checked_add(SignedDuration::try_from(duration).ok()?).ok());
        if expires.is_some_and(|e| e > Timestamp::now()) {
            return Ok(Attempt::Following);
        }
    }
    if !held_by_me {
        spec.holder_identity = Some(config.identity.clone());
        spec.acquire_time = Some(micro_now());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.lease_duration_seconds = Some(duration_seconds);
    spec.renew_time = Some(micro_now());
    // The replace carries the resourceVersion read above: a concurrent writer makes it 409.
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(Attempt::Leading),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Following),
        Err(e) => Err(e),
    }
}
