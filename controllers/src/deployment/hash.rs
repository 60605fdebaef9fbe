//! The `pod-template-hash` label value (upstream's `controller.ComputeHash` in
//! `pkg/controller/controller_utils.go`).
//!
//! Upstream feeds FNV-1a (32 bit) with a `spew` dump of the Go struct `v1.PodTemplateSpec`
//! (every field in Go declaration order, Go type names, the internal representation of
//! `resource.Quantity`), appends the collision count, and encodes the decimal sum with
//! `rand.SafeEncodeString`. That dump is a property of the Go types of one Kubernetes release
//! (upstream's own hashes change between releases, which is why a Deployment finds its new
//! ReplicaSet by comparing templates, not hashes) and has no Rust counterpart, so this hashes
//! the template's canonical JSON instead: deterministic (fixed field order, sorted maps),
//! different for different templates. Everything after the dump matches upstream byte for byte:
//! the collision count as 8 bytes (little-endian u32 then 4 zero bytes), FNV-1a 32, and the
//! consonant-and-digit alphabet that keeps the label free of vowels (so no words) and of
//! confusable characters.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// `rand.SafeEncodeString`'s alphabet: no vowels, no 0/1/3, no y.
const ALPHANUMS: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// The label value for `template` after `collision_count` hash collisions.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serialising a k8s-openapi type cannot fail: every map has string keys.
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(count) = collision_count {
        // Upstream writes the count into an 8-byte buffer with PutUint32, leaving the upper
        // four bytes zero; the bit pattern of a negative count is kept as Go's uint32() does.
        bytes.extend_from_slice(&(count as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    safe_encode_string(&fnv1a_32(&bytes).to_string())
}

/// FNV-1a, 32 bit (Go's `hash/fnv.New32a`).
pub(crate) fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// `rand.SafeEncodeString`: each byte mapped onto [`ALPHANUMS`] modulo its length.
pub(crate) fn safe_encode_string(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".to_string(), "cats".to_string())])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "cats".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv1a_vectors() {
        // Reference vectors of the FNV specification (draft-eastlake-fnv, Go's fnv tests).
        for (input, want) in [
            ("", 0x811c_9dc5),
            ("a", 0xe40c_292c),
            ("foobar", 0xbf9c_f968),
        ] {
            assert_eq!(fnv1a_32(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn safe_encoding_of_digits() {
        // Digits are all a hash ever encodes: '0' is byte 48, 48 % 27 = 21 -> '4', and so on.
        assert_eq!(safe_encode_string("0123456789"), "456789bcdf");
    }

    #[test]
    fn known_template() {
        // Pins this implementation's value for the template of upstream's hash_test.go
        // (image v0.1.0): a change here changes every ReplicaSet name.
        let hash = compute_hash(&template("registry/test/cats:v0.1.0"), None);
        assert_eq!(
            hash,
            compute_hash(&template("registry/test/cats:v0.1.0"), None)
        );
        assert!(
            hash.len() <= 10 && hash.bytes().all(|b| ALPHANUMS.contains(&b)),
            "{hash}"
        );
        assert_eq!(hash, KNOWN_HASH);
    }

    /// This implementation's hash of `template("registry/test/cats:v0.1.0")`.
    const KNOWN_HASH: &str = "75f858999b";

    #[test]
    fn no_collisions_across_versions_and_counts() {
        // Upstream's TestPodTemplateSpecHashFnv: a thousand image versions, no collision.
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            assert!(seen.insert(compute_hash(
                &template(&format!("registry/test/cats:v0.{i}.0")),
                None
            )));
        }
        let t = template("x");
        let plain = compute_hash(&t, None);
        assert_ne!(
            plain,
            compute_hash(&t, Some(0)),
            "a count of 0 still changes the hash"
        );
        assert_ne!(compute_hash(&t, Some(1)), compute_hash(&t, Some(2)));
        assert_ne!(compute_hash(&t, Some(i32::MAX)), compute_hash(&t, Some(1)));
    }
}
