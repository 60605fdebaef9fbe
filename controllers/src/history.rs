//! ControllerRevisions: the template history StatefulSets and DaemonSets keep (upstream
//! `pkg/controller/history/controller_history.go`). A revision stores a patch that replaces
//! the owner's pod template; its name is the owner's name and a hash of that patch, so two
//! owners' revisions never share a name and an equal template finds its old revision again.
//!
//! Upstream hashes the revision's raw JSON bytes, as here; the bytes come from Go's encoder
//! there and from serde here (both deterministic), so hash values differ from upstream's while
//! every rule built on them (equality, collision counting, naming) is the same.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{Value, json};

use crate::deployment::hash::safe_encode_string;

/// The label of the pods made from a revision: the revision's name for StatefulSets, its hash
/// for DaemonSets (and the hash label of DaemonSet revisions themselves).
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// The label a revision made by [`new_revision`] carries with the hash of its data
/// (`history.ControllerRevisionHashLabel`).
pub const REVISION_HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// Longest owner-name prefix of a revision name: 253 minus the hash and its dash, as
/// upstream's `ControllerRevisionName` keeps.
const MAX_PREFIX: usize = 223;

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1, 32 bit (Go's `hash/fnv.New32`, which upstream's revision hash uses; the pod template
/// hash uses FNV-1a).
fn fnv1_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |h, b| {
        h.wrapping_mul(FNV_PRIME) ^ u32::from(*b)
    })
}

/// The revision data of a template: `{"spec":{"template":{..., "$patch":"replace"}}}`, the
/// strategic merge patch that restores it (upstream's `getPatch` of both controllers).
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut template {
        fields.insert("$patch".into(), Value::String("replace".into()));
    }
    json!({"spec": {"template": template}})
}

/// The template a revision's data restores, when it holds one.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Value::Object(fields) = &mut template {
        fields.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The hash of a revision's data, with the collision count appended in base 32 when there is
/// one (`HashControllerRevision`'s `strconv.FormatInt(probe, 32)`).
pub fn hash_revision(data: &Value, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    if let Some(count) = collision_count {
        bytes.extend_from_slice(base32(i64::from(count)).as_bytes());
    }
    safe_encode_string(&fnv1_32(&bytes).to_string())
}

/// Go's `strconv.FormatInt(n, 32)`: digits `0-9a-v`, a leading `-` for negatives.
fn base32(n: i64) -> String {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut rest = n.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(DIGITS[(rest % 32) as usize]);
        rest /= 32;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// `<owner>-<hash>`, the owner name cut to fit.
pub fn revision_name(owner: &str, hash: &str) -> String {
    let prefix: String = owner.chars().take(MAX_PREFIX).collect();
    format!("{prefix}-{hash}")
}

/// A new revision of `owner` (`NewControllerRevision`): the template's labels, the
/// [`REVISION_HASH_LABEL`], a controller reference, and the name derived from the hash of its
/// data.
pub fn new_revision(
    owner: OwnerReference,
    namespace: Option<&str>,
    template: &PodTemplateSpec,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let data = template_patch(template);
    let hash = hash_revision(&data, collision_count);
    revision_with_hash(owner, namespace, template, data, revision, REVISION_HASH_LABEL, &hash)
}

/// A revision named `<owner>-<hash>` with `hash` under `label`: DaemonSets name theirs by the
/// pod template hash and label it `controller-revision-hash` (upstream's `snapshot`).
pub fn revision_with_hash(
    owner: OwnerReference,
    namespace: Option<&str>,
    template: &PodTemplateSpec,
    data: Value,
    revision: i64,
    label: &str,
    hash: &str,
) -> ControllerRevision {
    let mut labels: BTreeMap<String, String> = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(label.into(), hash.to_owned());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&owner.name, hash)),
            namespace: namespace.map(str::to_owned),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

fn hash_label(revision: &ControllerRevision) -> Option<&str> {
    revision
        .metadata
        .labels
        .as_ref()?
        .get(REVISION_HASH_LABEL)
        .map(String::as_str)
}

/// Whether two revisions hold the same data (`EqualRevision`). Upstream lets differing hash
/// labels settle it only when both parse as decimal `int32`s (`strconv.ParseInt(hs, 10, 32)`);
/// the safe-encoded hashes of [`hash_revision`] almost never do, so in effect the data decides.
/// That is what lets a rollback find its old revision after `collisionCount` has changed the
/// hash the template would get now.
pub fn equal_revision(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let numeric = |r| hash_label(r).and_then(|h| h.parse::<i32>().ok());
    if let (Some(x), Some(y)) = (numeric(a), numeric(b))
        && x != y
    {
        return false;
    }
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
}

/// The revisions equal to `needle` (`FindEqualRevisions`).
pub fn equal_revisions<'a>(
    revisions: &'a [ControllerRevision],
    needle: &ControllerRevision,
) -> Vec<&'a ControllerRevision> {
    revisions
        .iter()
        .filter(|r| equal_revision(r, needle))
        .collect()
}

/// Oldest first: by revision number, then creation time, then name (`byRevision`).
pub fn compare_revisions(a: &ControllerRevision, b: &ControllerRevision) -> Ordering {
    let created = |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
    a.revision
        .cmp(&b.revision)
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// One past the highest revision number (`nextRevision`); 1 for an empty history.
pub fn next_revision(revisions: &[ControllerRevision]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        }
    }

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    #[test]
    fn fnv1_matches_go() {
        // hash/fnv New32 of "a" and of "" (Go's test vectors).
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
    }

    #[test]
    fn revision_round_trips_its_template() {
        let t = template("nginx:1");
        let r = new_revision(owner(), Some("ns"), &t, 1, None);
        assert_eq!(template_of(&r), Some(t));
        let hash = hash_label(&r).expect("hash label").to_owned();
        assert_eq!(r.metadata.name.as_deref(), Some(&*format!("web-{hash}")));
        assert_eq!(
            r.metadata.labels.as_ref().and_then(|l| l.get("app")),
            Some(&"web".to_owned())
        );
        assert_eq!(
            r.data.as_ref().and_then(|d| d.0.pointer("/spec/template/$patch")),
            Some(&json!("replace"))
        );
    }

    #[test]
    fn equal_templates_find_each_other_and_collisions_rename() {
        let a = new_revision(owner(), None, &template("nginx:1"), 1, None);
        let b = new_revision(owner(), None, &template("nginx:1"), 7, None);
        let c = new_revision(owner(), None, &template("nginx:2"), 2, None);
        assert!(equal_revision(&a, &b));
        assert!(!equal_revision(&a, &c));
        let all = vec![a.clone(), c.clone()];
        assert_eq!(equal_revisions(&all, &b).len(), 1);
        let bumped = new_revision(owner(), None, &template("nginx:1"), 1, Some(1));
        assert_ne!(bumped.metadata.name, a.metadata.name);
        assert!(
            equal_revision(&a, &bumped),
            "the same template under another collision count"
        );
        let numbered = |r: &ControllerRevision, hash: &str| {
            let mut r = r.clone();
            let labels = r.metadata.labels.get_or_insert_with(Default::default);
            labels.insert(REVISION_HASH_LABEL.into(), hash.into());
            r
        };
        assert!(
            !equal_revision(&numbered(&a, "12"), &numbered(&b, "13")),
            "numeric hashes that differ settle it"
        );
        assert_eq!(next_revision(&all), 3);
        assert_eq!(next_revision(&[]), 1);
    }

    #[test]
    fn collision_counts_are_written_in_base_32() {
        assert_eq!(base32(0), "0");
        assert_eq!(base32(10), "a");
        assert_eq!(base32(31), "v");
        assert_eq!(base32(32), "10");
        assert_eq!(base32(-33), "-11");
    }

    #[test]
    fn long_owner_names_are_cut() {
        let name = revision_name(&"x".repeat(300), "abc");
        assert_eq!(name.len(), MAX_PREFIX + 4);
    }

    #[test]
    fn ordering_is_by_revision_then_name() {
        let mut a = new_revision(owner(), None, &template("a"), 2, None);
        let b = new_revision(owner(), None, &template("b"), 1, None);
        assert_eq!(compare_revisions(&a, &b), Ordering::Greater);
        a.revision = 1;
        assert_eq!(
            compare_revisions(&a, &b),
            a.metadata.name.cmp(&b.metadata.name)
        );
    }
}
