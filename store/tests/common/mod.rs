#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use ultrak8s_store::{
    DeleteRequest, Durability, KeyRange, KeyValue, Op, OpResponse, PutRequest, RangeRequest,
    Revision, Store, StoreConfig, TxnRequest, TxnResponse,
};

/// A store configuration in `dir`. The engine is `memory` unless `ULTRAK8S_TEST_ENGINE` names
/// another (`scripts/test` runs these tests once more with `rocksdb`).
pub fn config(dir: &std::path::Path, durability: Durability) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.durability = durability;
    if let Ok(engine) = std::env::var("ULTRAK8S_TEST_ENGINE") {
        config.engine = engine
            .parse()
            .expect("ULTRAK8S_TEST_ENGINE is memory or rocksdb");
    }
    config
}

pub async fn open(dir: &std::path::Path) -> Arc<Store> {
    Store::open(config(dir, Durability::Buffered))
        .await
        .expect("open store")
}

pub fn rev(n: u64) -> Revision {
    Revision::new(n).expect("nonzero")
}

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub async fn put(store: &Store, key: &str, value: &str) -> TxnResponse {
    store
        .txn(&TxnRequest::single(Op::Put(PutRequest::new(
            b(key),
            b(value),
        ))))
        .await
        .expect("put")
}

pub async fn delete(store: &Store, range: KeyRange) -> TxnResponse {
    let op = Op::Delete(DeleteRequest {
        range,
        prev_kv: true,
    });
    store.txn(&TxnRequest::single(op)).await.expect("delete")
}

pub fn get(store: &Store, key: &str) -> Option<KeyValue> {
    let (_, mut response) = store
        .range(&RangeRequest::new(KeyRange::Single(b(key))))
        .expect("range");
    response.kvs.pop()
}

pub fn value(store: &Store, key: &str) -> Option<String> {
    get(store, key).map(|kv| String::from_utf8(kv.value.to_vec()).expect("utf8"))
}

pub fn keys(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| String::from_utf8(kv.key.to_vec()).expect("utf8"))
        .collect()
}

pub fn range_response(response: &TxnResponse, index: usize) -> &ultrak8s_store::RangeResponse {
    match &response.responses[index] {
        OpResponse::Range(range) => range,
        other => panic!("expected a range response, got {other:?}"),
    }
}
