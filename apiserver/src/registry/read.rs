//! get and list (upstream `store.go` Get/List and `storage/etcd3/store.go` GetList: pages at
//! one revision, continue tokens, resourceVersion semantics).

use std::num::NonZeroU64;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use ultrak8s_store::contract::KubeStore;
use ultrak8s_store::types::Revision;

use super::{Filter, Registry, parse_rv};
use crate::cache::{CachedObject, Snapshot};
use crate::error::ApiError;
use crate::resources::Resource;

/// How long a read that names a resourceVersion newer than the store's waits for it (upstream
/// `blockTimeout` of the watch cache: 3 s), before answering 504.
const FUTURE_RV_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum RvMatch {
    #[default]
    Unset,
    NotOlderThan,
    Exact,
}

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub resource_version: String,
    pub rv_match: RvMatch,
    pub limit: Option<NonZeroU64>,
    pub continue_token: Option<String>,
    pub filter: Filter,
}

pub struct ListResult {
    /// Stored bytes of each object, in key order.
    pub items: Vec<Bytes>,
    pub resource_version: Revision,
    pub continue_token: Option<String>,
    /// Set only when no selector filtered the list (as upstream).
    pub remaining: Option<u64>,
}

/// The continue token: where the next page starts, relative to the list's prefix, and the
/// revision every page is read at (upstream `storage.continueToken`).
#[derive(Serialize, Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

fn encode_continue(revision: Revision, next_key: &[u8], prefix: &[u8]) -> String {
    let start = String::from_utf8_lossy(&next_key[prefix.len().min(next_key.len())..]).into_owned();
    let token = ContinueToken {
        v: TOKEN_VERSION.to_owned(),
        rv: revision.get(),
        start,
    };
    let json = serde_json::to_vec(&token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

fn decode_continue(token: &str, prefix: &[u8]) -> Result<(Revision, Vec<u8>), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let json = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let token: ContinueToken = serde_json::from_slice(&json).map_err(|_| bad())?;
    if token.v != TOKEN_VERSION {
        return Err(bad());
    }
    let revision = Revision::new(token.rv).ok_or_else(bad)?;
    // A start key that climbs out of the prefix would read other resources.
    if token.start.contains("..") || token.start.starts_with('/') {
        return Err(bad());
    }
    let mut key = prefix.to_vec();
    key.extend_from_slice(token.start.as_bytes());
    Ok((revision, key))
}

impl Registry {
    pub async fn get(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Bytes, ApiError> {
        let key = resource.key(namespace, name);
        match self.store.get(&key)?.1 {
            Some(kv) => Ok(kv.value),
            None => Err(ApiError::not_found(resource, name)),
        }
    }

    /// The revision a read at `rv` (not exact) is served at: now, once the store has reached
    /// `rv`.
    pub(crate) async fn read_revision(
        &self,
        resource: &Resource,
        rv: Option<Revision>,
    ) -> Result<Revision, ApiError> {
        let prefix = resource.prefix(None);
        let partition = self.store.partition_for_key(&prefix);
        let Some(wanted) = rv else {
            return Ok(partition.revision());
        };
        let deadline = tokio::time::Instant::now() + FUTURE_RV_WAIT;
        loop {
            let current = partition.revision();
            if current >= wanted {
                return Ok(current);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {wanted}, current: {current}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn list(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let prefix = resource.prefix(namespace);
        let rv = parse_rv(&opts.resource_version)?;
        if opts.rv_match != RvMatch::Unset && opts.resource_version.is_empty() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if opts.continue_token.is_none() && opts.rv_match != RvMatch::Exact {
            return self.list_from_cache(resource, namespace, rv, opts).await;
        }
        let (revision, start) = match &opts.continue_token {
            Some(token) => {
                if !opts.resource_version.is_empty() && opts.resource_version != "0" {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let (revision, start) = decode_continue(token, &prefix)?;
                // While nothing changed, later pages come from the cache too (in the store,
                // counting what remains walks the rest of the range on every page).
                let cache = self.cache(resource).await?;
                let filtering = !opts.filter.is_everything();
                let keep = |o: &CachedObject| !filtering || opts.filter.matches_cached(o);
                if let Some(snapshot) = cache.snapshot_at(revision, &prefix, &start, keep) {
                    return Ok(page(snapshot, &prefix, opts.limit, filtering));
                }
                (revision, Some(start))
            }
            None => match (opts.rv_match, rv) {
                (RvMatch::Exact, None) => {
                    return Err(ApiError::bad_request(
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                    ));
                }
                (RvMatch::Exact, Some(rv)) => (rv, None),
                (_, rv) => (self.read_revision(resource, rv).await?, None),
            },
        };
        self.list_at(resource, &prefix, revision, start, opts)
            .map_err(|e| match (&opts.continue_token, e.code) {
                (Some(_), 410) => ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list \
                     result. You can start a new list without the continue parameter.",
                ),
                _ => e,
            })
    }

    /// A list served by the watch cache: consistent (the cache waits until it has the
    /// store's current revision) unless the client asked for "0" (any version).
    async fn list_from_cache(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        rv: Option<Revision>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let cache = self.cache(resource).await?;
        if opts.resource_version != "0" {
            cache.wait_synced(rv).await?;
        }
        let prefix = resource.prefix(namespace);
        let filtering = !opts.filter.is_everything();
        let snapshot = cache.snapshot(&prefix, |o| !filtering || opts.filter.matches_cached(o));
        Ok(page(snapshot, &prefix, opts.limit, filtering))
    }

    fn list_at(
        &self,
        resource: &Resource,
        prefix: &[u8],
        revision: Revision,
        mut start: Option<Vec<u8>>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let limit = opts.limit;
        let mut items = Vec::new();
        let filtering = !opts.filter.is_everything();
        loop {
            // With a selector, pages are read until `limit` objects matched (as upstream).
            let want = limit.map(|l| l.get() - items.len() as u64);
            let page_limit = want.and_then(NonZeroU64::new);
            let page = self
                .store
                .list(prefix, start.as_deref(), Some(revision), page_limit)?;
            for kv in page.kvs {
                if !filtering || opts.filter.matches_stored(resource, &kv.value)? {
                    items.push(kv.value);
                }
            }
            let full = limit.is_some_and(|l| items.len() as u64 >= l.get());
            match page.continue_from {
                Some(next) if full => {
                    let remaining = (!filtering).then_some(page.remaining);
                    return Ok(ListResult {
                        items,
                        resource_version: revision,
                        continue_token: Some(encode_continue(revision, &next, prefix)),
                        remaining,
                    });
                }
                Some(next) => start = Some(next.to_vec()),
                None => {
                    return Ok(ListResult {
                        items,
                        resource_version: revision,
                        continue_token: None,
                        remaining: None,
                    });
                }
            }
        }
    }
}

/// One page of a cache snapshot: up to `limit` objects, with the token of the next page.
fn page(
    snapshot: Snapshot,
    prefix: &[u8],
    limit: Option<NonZeroU64>,
    filtering: bool,
) -> ListResult {
    let total = snapshot.objects.len() as u64;
    let limit = limit.map_or(u64::MAX, NonZeroU64::get);
    let shown = &snapshot.objects[..limit.min(total) as usize];
    let items: Vec<Bytes> = shown.iter().map(|o| o.bytes.clone()).collect();
    let more = total > limit;
    let continue_token = match (more, shown.last()) {
        (true, Some(last)) => {
            let mut next = last.key.to_vec();
            next.push(0);
            Some(encode_continue(snapshot.revision, &next, prefix))
        }
        _ => None,
    };
    ListResult {
        items,
        resource_version: snapshot.revision,
        continue_token,
        remaining: (more && !filtering).then(|| total - limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_stay_in_their_prefix() {
        let prefix = b"/registry/pods/default/";
        let revision = Revision::new(42).expect("ok");
        let token = encode_continue(revision, b"/registry/pods/default/web-1\0", prefix);
        let (rv, key) = decode_continue(&token, prefix).expect("ok");
        assert_eq!(rv, revision);
        assert_eq!(key, b"/registry/pods/default/web-1\0");
        assert!(decode_continue("not base64!", prefix).is_err());
        let evil = base64::engine::general_purpose::URL_SAFE
            .encode(br#"{"v":"meta.k8s.io/v1","rv":1,"start":"../secrets/x"}"#);
        assert!(decode_continue(&evil, prefix).is_err());
    }
}
