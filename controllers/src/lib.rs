//! The controller runtime (shared informers, batching and deduplicating work queues) and one
//! module per controller (see `DESIGN.md`, "Controllers").
//!
//! Not built yet: issue 5 brings it.
