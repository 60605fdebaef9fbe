//! Expectations (upstream `pkg/controller/controller_utils.go`, `ControllerExpectations`): the
//! creates and deletes a controller has made and its informer has not shown yet. A controller
//! does not act on an object whose expectations are pending, so a reconcile that runs before
//! the cache caught up never creates the same pods twice. Expectations expire after five
//! minutes, so a lost event cannot stall an object for ever.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::informer::ObjectKey;

/// Upstream's `ExpectationsTimeout`.
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

struct Pending {
    adds: i64,
    /// The keys of objects being deleted.
    deletes: HashSet<ObjectKey>,
    set_at: Instant,
}

#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<ObjectKey, Pending>>,
}

impl Expectations {
    /// `owner` is about to create `adds` objects and delete `deletes`.
    pub fn expect(
        &self,
        owner: &ObjectKey,
        adds: usize,
        deletes: impl IntoIterator<Item = ObjectKey>,
    ) {
        self.pending.lock().insert(
            owner.clone(),
            Pending {
                adds: i64::try_from(adds).unwrap_or(i64::MAX),
                deletes: deletes.into_iter().collect(),
                set_at: Instant::now(),
            },
        );
    }

    /// The informer showed one object `owner` created (or a create failed and will not show).
    pub fn creation_observed(&self, owner: &ObjectKey) {
        if let Some(p) = self.pending.lock().get_mut(owner) {
            p.adds -= 1;
        }
    }

    /// The informer showed `object` of `owner` deleted (or being deleted).
    pub fn deletion_observed(&self, owner: &ObjectKey, object: &ObjectKey) {
        if let Some(p) = self.pending.lock().get_mut(owner) {
            p.deletes.remove(object);
        }
    }

    /// Whether `owner` may be reconciled: nothing pending, all seen, or expired.
    pub fn satisfied(&self, owner: &ObjectKey) -> bool {
        match self.pending.lock().get(owner) {
            None => true,
            Some(p) => (p.adds <= 0 && p.deletes.is_empty()) || p.set_at.elapsed() > TIMEOUT,
        }
    }

    pub fn forget(&self, owner: &ObjectKey) {
        self.pending.lock().remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_owner_waits_until_its_writes_are_seen_or_expire() {
        let expectations = Expectations::default();
        let rs = ObjectKey::new(Some("ns"), "web");
        assert!(expectations.satisfied(&rs));
        let pod = ObjectKey::new(Some("ns"), "web-old");
        expectations.expect(&rs, 2, [pod.clone()]);
        assert!(!expectations.satisfied(&rs));
        expectations.creation_observed(&rs);
        expectations.creation_observed(&rs);
        assert!(!expectations.satisfied(&rs), "a delete is still pending");
        expectations.deletion_observed(&rs, &pod);
        assert!(expectations.satisfied(&rs));

        expectations.expect(&rs, 1, []);
        assert!(!expectations.satisfied(&rs));
        tokio::time::advance(TIMEOUT + Duration::from_secs(1)).await;
        assert!(expectations.satisfied(&rs), "expired");
        expectations.forget(&rs);
        assert!(expectations.satisfied(&rs));
    }
}
