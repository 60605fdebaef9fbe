//! Data plugins share within one pod's scheduling cycle (upstream `CycleState`): PreFilter
//! computes, Filter reads. Each plugin keeps its data under its own name. Values are behind
//! `Arc`, so cloning the state (preemption simulates removing victims on a copy) is cheap;
//! a plugin that changes its data in a copy writes a new value.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct CycleState {
    data: HashMap<&'static str, Arc<dyn Any + Send + Sync>>,
    /// Plugins whose PreFilter returned Skip: their Filter is not called.
    pub skip_filter: HashSet<&'static str>,
    /// Plugins whose PreScore returned Skip: their Score is not called.
    pub skip_score: HashSet<&'static str>,
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Arc::new(value));
    }

    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|v| v.downcast_ref::<T>())
    }

    /// The value to change in place; copied first only when a cloned state still shares it
    /// (preemption's simulations change their copy, never the cycle's own state).
    pub fn read_mut<T: Any + Clone + Send + Sync>(&mut self, key: &'static str) -> Option<&mut T> {
        let slot = self.data.get_mut(key)?;
        if !slot.is::<T>() {
            return None;
        }
        if Arc::get_mut(slot).is_none() {
            let copy: T = slot.downcast_ref::<T>()?.clone();
            *slot = Arc::new(copy);
        }
        Arc::get_mut(slot)?.downcast_mut::<T>()
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("skip_filter", &self.skip_filter)
            .field("skip_score", &self.skip_score)
            .finish()
    }
}
