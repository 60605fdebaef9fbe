//! The scheduler: the upstream framework's extension points, the scheduling queue, the node
//! cache and snapshot, the binder, and one module per plugin (see `DESIGN.md`, "Scheduler").
//!
//! Not built yet: issue 6 brings it.
