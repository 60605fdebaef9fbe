//! The engine contract suite: every engine runs every case (see `engines()`).

use std::ops::ControlFlow;

use bytes::Bytes;

use super::memory::MemoryEngine;
use super::{Engine, Write};
use crate::types::{Change, KeyRange, KeyValue, Revision};

/// A fresh engine of every kind built into this binary.
pub(crate) fn engines() -> Vec<(&'static str, Box<dyn Engine>, Option<tempfile::TempDir>)> {
    #[allow(unused_mut)]
    let mut all: Vec<(&'static str, Box<dyn Engine>, Option<tempfile::TempDir>)> =
        vec![("memory", Box::new(MemoryEngine::new()), None)];
    #[cfg(feature = "rocksdb")]
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = super::rocks::RocksEngine::open(dir.path()).expect("open rocksdb");
        all.push(("rocksdb", Box::new(engine), Some(dir)));
    }
    all
}

fn rev(n: u64) -> Revision {
    Revision::new(n).expect("nonzero")
}

fn put(key: &str, value: &str, create: u64, at: u64, version: u64) -> Write {
    Write {
        key: Bytes::copy_from_slice(key.as_bytes()),
        kv: Some(KeyValue {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: Bytes::copy_from_slice(value.as_bytes()),
            create_revision: rev(create),
            mod_revision: rev(at),
            version,
            lease: None,
        }),
    }
}

fn delete(key: &str) -> Write {
    Write {
        key: Bytes::copy_from_slice(key.as_bytes()),
        kv: None,
    }
}

fn value_at(engine: &dyn Engine, key: &str, at: u64) -> Option<String> {
    engine
        .get(key.as_bytes(), rev(at))
        .expect("get")
        .map(|kv| String::from_utf8(kv.value.to_vec()).expect("utf8"))
}

fn keys_at(engine: &dyn Engine, range: &KeyRange, at: u64) -> Vec<String> {
    let mut keys = Vec::new();
    engine
        .scan(range, rev(at), &mut |kv| {
            keys.push(String::from_utf8(kv.key.to_vec()).expect("utf8"));
            ControlFlow::Continue(())
        })
        .expect("scan");
    keys
}

/// The history of the module doc of `memory`: k put at r2, r5, deleted at r7, put at r9.
fn load_history(engine: &dyn Engine) {
    engine
        .apply(
            rev(2),
            &[put("k", "a", 2, 2, 1), put("other", "o", 2, 2, 1)],
        )
        .expect("apply");
    engine
        .apply(rev(5), &[put("k", "b", 2, 5, 2)])
        .expect("apply");
    engine.apply(rev(7), &[delete("k")]).expect("apply");
    engine
        .apply(rev(9), &[put("k", "c", 9, 9, 1)])
        .expect("apply");
}

#[test]
fn reads_at_each_revision_see_that_revision() {
    for (name, engine, _dir) in engines() {
        load_history(&*engine);
        let cases = [
            (1, None),
            (2, Some("a")),
            (4, Some("a")),
            (5, Some("b")),
            (7, None),
            (8, None),
            (9, Some("c")),
        ];
        for (at, want) in cases {
            assert_eq!(
                value_at(&*engine, "k", at).as_deref(),
                want,
                "{name}: k at r{at}"
            );
        }
    }
}

#[test]
fn scan_is_in_key_order_and_stops_when_asked() {
    for (name, engine, _dir) in engines() {
        engine
            .apply(
                rev(2),
                &[
                    put("b", "1", 2, 2, 1),
                    put("a", "1", 2, 2, 1),
                    put("c", "1", 2, 2, 1),
                ],
            )
            .expect("apply");
        engine.apply(rev(3), &[delete("b")]).expect("apply");
        let all = KeyRange::Interval {
            start: Bytes::new(),
            end: None,
        };
        assert_eq!(keys_at(&*engine, &all, 2), ["a", "b", "c"], "{name}");
        assert_eq!(keys_at(&*engine, &all, 3), ["a", "c"], "{name}");
        let mut seen = 0;
        engine
            .scan(&all, rev(2), &mut |_| {
                seen += 1;
                if seen == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .expect("scan");
        assert_eq!(seen, 2, "{name}");
        let inverted = KeyRange::Interval {
            start: Bytes::from_static(b"c"),
            end: Some(Bytes::from_static(b"a")),
        };
        assert!(keys_at(&*engine, &inverted, 3).is_empty(), "{name}");
    }
}

#[test]
fn events_replay_history_in_order_with_previous_versions() {
    for (name, engine, _dir) in engines() {
        load_history(&*engine);
        let events = engine
            .events(&KeyRange::Single(Bytes::from_static(b"k")), rev(2), rev(9))
            .expect("events");
        let summary: Vec<(u64, bool, Option<String>)> = events
            .iter()
            .map(|e| {
                let prev = e
                    .prev
                    .as_ref()
                    .map(|p| String::from_utf8(p.value.to_vec()).expect("utf8"));
                (e.revision.get(), matches!(e.change, Change::Put(_)), prev)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (5, true, Some("a".into())),
                (7, false, Some("b".into())),
                (9, true, None)
            ],
            "{name}"
        );
    }
}

#[test]
fn compaction_keeps_what_later_reads_need() {
    for (name, engine, _dir) in engines() {
        load_history(&*engine);
        engine.compact(rev(8)).expect("compact");
        assert_eq!(value_at(&*engine, "k", 8), None, "{name}");
        assert_eq!(value_at(&*engine, "k", 9).as_deref(), Some("c"), "{name}");
        assert_eq!(
            value_at(&*engine, "other", 8).as_deref(),
            Some("o"),
            "{name}"
        );
        let size = engine.size();
        assert_eq!(
            (size.keys, size.versions),
            (2, 2),
            "{name}: one version each of k and other"
        );
    }
}

#[test]
fn dump_replays_into_an_equal_engine() {
    for (name, engine, _dir) in engines() {
        load_history(&*engine);
        let copy = MemoryEngine::new();
        for (at, writes) in engine.dump().expect("dump") {
            copy.apply(at, &writes).expect("apply");
        }
        for at in 1..=10 {
            assert_eq!(
                value_at(&copy, "k", at),
                value_at(&*engine, "k", at),
                "{name}: r{at}"
            );
        }
    }
}
