//! TTL after finished (upstream `pkg/controller/ttlafterfinished`): a Job with
//! `ttlSecondsAfterFinished` is deleted (in the foreground, so its pods go first) that long
//! after it completed or failed.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};

use crate::runtime::controller::{Action, ReconcileError, Reconciler, ignore_gone};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 1_000_000;

/// When a finished job with a TTL expires; `None` for a running job or one without a TTL.
pub fn expires_at(job: &Job) -> Option<Timestamp> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = job
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?;
    let at = finished.last_transition_time.as_ref()?.0;
    at.checked_add(SignedDuration::from_secs(i64::from(ttl.max(0))))
        .ok()
}

pub struct TtlAfterFinished {
    client: kube::Client,
    jobs: Arc<Informer<Job>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl TtlAfterFinished {
    pub fn new(client: kube::Client, jobs: Arc<Informer<Job>>) -> Arc<TtlAfterFinished> {
        let controller = Arc::new(TtlAfterFinished {
            client,
            jobs: Arc::clone(&jobs),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        jobs.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().filter_map(|e| match e {
                Event::Applied { new, .. } if new.metadata.deletion_timestamp.is_none() => {
                    expires_at(new).map(|_| ObjectKey::of(new.as_ref()))
                }
                _ => None,
            });
            let _ = this.queue.add_all(keys.collect::<Vec<_>>());
        });
        controller
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(job) = self.jobs.get(&key) else {
            return Ok(Action::Done);
        };
        let Some(at) = expires_at(&job) else {
            return Ok(Action::Done);
        };
        let now = Timestamp::now();
        if at > now {
            let left = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
            return Ok(Action::RequeueAfter(left));
        }
        let api: Api<Job> = Api::namespaced(
            self.client.clone(),
            key.namespace.as_deref().unwrap_or_default(),
        );
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: job.metadata.uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        ignore_gone(api.delete(&key.name, &params).await)?;
        Ok(Action::Done)
    }
}

impl Reconciler for TtlAfterFinished {
    fn name(&self) -> &'static str {
        "ttlafterfinished"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_job_expires_its_ttl_after_it_finished() {
        let job = |ttl: serde_json::Value, condition: &str| -> Job {
            serde_json::from_value(serde_json::json!({
                "spec": {"ttlSecondsAfterFinished": ttl, "template": {"spec": {"containers": []}}},
                "status": {"conditions": [{"type": condition, "status": "True",
                    "lastTransitionTime": "2027-01-01T00:00:00Z"}]},
            }))
            .expect("job")
        };
        let expected: Timestamp = "2027-01-01T00:01:40Z".parse().expect("time");
        assert_eq!(
            expires_at(&job(serde_json::json!(100), "Complete")),
            Some(expected)
        );
        assert_eq!(
            expires_at(&job(serde_json::json!(100), "Failed")),
            Some(expected)
        );
        assert_eq!(expires_at(&job(serde_json::json!(100), "Suspended")), None);
        assert_eq!(expires_at(&job(serde_json::Value::Null, "Complete")), None);
    }
}
