use serde_json::json;

use super::*;

/// A case applied with `apply(original, patch)`; `want` is the result, or a part of the
/// error message.
struct Case {
    name: &'static str,
    original: Value,
    patch: Value,
    want: Result<Value, &'static str>,
}

fn ok(name: &'static str, original: Value, patch: Value, want: Value) -> Case {
    Case {
        name,
        original,
        patch,
        want: Ok(want),
    }
}

fn err(name: &'static str, original: Value, patch: Value, want: &'static str) -> Case {
    Case {
        name,
        original,
        patch,
        want: Err(want),
    }
}

fn check(schema: &dyn PatchSchema, cases: Vec<Case>) {
    for case in cases {
        let got = apply(&case.original, &case.patch, schema);
        match (&got, &case.want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{}", case.name),
            (Err(error), Err(want)) => {
                let message = error.to_string();
                assert!(message.contains(want), "{}: error {message:?}", case.name);
            }
            _ => panic!("{}: got {got:?}, want {:?}", case.name, case.want),
        }
    }
}

/// The fields of a pod (and a deployment's strategy) that carry patch metadata upstream
/// (`k8s.io/api/core/v1/types.go`): tolerations have none, so they are replaced.
fn pod_schema() -> StaticSchema {
    let container = StaticSchema::new()
        .with("env", StaticField::merge_by("name"))
        .with("ports", StaticField::merge_by("containerPort"))
        .with("volumeMounts", StaticField::merge_by("mountPath"));
    let spec = StaticSchema::new()
        .with(
            "containers",
            StaticField::merge_by("name").of(container.clone()),
        )
        .with(
            "initContainers",
            StaticField::merge_by("name").of(container),
        )
        .with("volumes", StaticField::merge_by("name").retain_keys())
        .with("imagePullSecrets", StaticField::merge_by("name"))
        .with("tolerations", StaticField::plain())
        .with("strategy", StaticField::plain().retain_keys());
    let metadata = StaticSchema::new()
        .with("finalizers", StaticField::merge_set())
        .with("ownerReferences", StaticField::merge_by("uid"));
    StaticSchema::new()
        .with("metadata", StaticField::plain().of(metadata))
        .with("spec", StaticField::plain().of(spec))
}

/// Upstream's test type `MergeItem` (`strategicpatch/patch_test.go`), `depth` levels deep.
fn merge_item(depth: usize) -> StaticSchema {
    let retain_keys_item = StaticSchema::new()
        .with("mergingIntList", StaticField::merge_set())
        .with("mergingList", StaticField::merge_by("name"));
    let mut schema = StaticSchema::new()
        .with("mergingIntList", StaticField::merge_set())
        .with("nonMergingIntList", StaticField::plain())
        .with("simpleMap", StaticField::plain())
        .with("replacingItem", StaticField::replace())
        .with(
            "retainKeysMap",
            StaticField::plain().retain_keys().of(retain_keys_item),
        );
    if let Some(depth) = depth.checked_sub(1) {
        let item = merge_item(depth);
        schema = schema
            .with(
                "mergingList",
                StaticField::merge_by("name").of(item.clone()),
            )
            .with("nonMergingList", StaticField::plain().of(item.clone()))
            .with(
                "mergeItemPtr",
                StaticField::merge_by("name").of(item.clone()),
            )
            .with(
                "retainKeysMergingList",
                StaticField::merge_by("name").retain_keys().of(item),
            );
    }
    schema
}

#[test]
fn pods() {
    let cases = vec![
        ok(
            "containers merge by name; new ones are appended",
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}),
            json!({"spec": {"containers": [
                {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}}),
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:1"},
                {"name": "b", "image": "b:2"},
                {"name": "c", "image": "c:1"}]}}),
        ),
        ok(
            "an env entry is deleted with $patch: delete",
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "X", "$patch": "delete"}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "Y", "value": "2"}]}]}}),
        ),
        ok(
            "a new env var goes before the server-only ones, as upstream",
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "Z", "value": "3"}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "Z", "value": "3"},
                {"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}),
        ),
        ok(
            "ports merge by containerPort",
            json!({"spec": {"containers": [{"name": "a", "ports": [
                {"containerPort": 80, "protocol": "TCP"}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 443}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "ports": [
                {"containerPort": 80, "protocol": "TCP", "name": "http"},
                {"containerPort": 443}]}]}}),
        ),
        ok(
            "nested maps merge inside a merged element",
            json!({"spec": {"containers": [{"name": "a", "image": "a:1",
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}),
            json!({"spec": {"containers": [{"name": "a",
                "resources": {"limits": {"cpu": "2"}}}]}}),
            json!({"spec": {"containers": [{"name": "a", "image": "a:1",
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}]}}),
        ),
        ok(
            "tolerations have no strategy and are replaced",
            json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}}),
            json!({"spec": {"tolerations": [{"key": "c"}]}}),
            json!({"spec": {"tolerations": [{"key": "c"}]}}),
        ),
        ok(
            "imagePullSecrets merge by name",
            json!({"spec": {"imagePullSecrets": [{"name": "a"}]}}),
            json!({"spec": {"imagePullSecrets": [{"name": "b"}, {"name": "a"}]}}),
            json!({"spec": {"imagePullSecrets": [{"name": "b"}, {"name": "a"}]}}),
        ),
        ok(
            "finalizers are a set: the patch's order first, server-only ones in place",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            json!({"metadata": {"finalizers": ["c", "a", "b"]}}),
        ),
        ok(
            "$deleteFromPrimitiveList removes finalizers",
            json!({"metadata": {"finalizers": ["a", "b", "c", "b"]}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}}),
            json!({"metadata": {"finalizers": ["a", "c"]}}),
        ),
        ok(
            "additions come before deletions in one map",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c"],
                "$deleteFromPrimitiveList/finalizers": ["a", "c"]}}),
            json!({"metadata": {"finalizers": ["b"]}}),
        ),
        ok(
            "$setElementOrder reorders containers",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
            json!({"spec": {"$setElementOrder/containers": [
                {"name": "c"}, {"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}}),
        ),
        ok(
            "$setElementOrder with a deletion and an addition (kubectl apply's patch)",
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}],
                "containers": [{"name": "c", "image": "c:1"},
                               {"name": "a", "$patch": "delete"}]}}),
            json!({"spec": {"containers": [
                {"name": "c", "image": "c:1"}, {"name": "b", "image": "b:1"}]}}),
        ),
        ok(
            "$patch: replace replaces a merged list",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "c"}, {"$patch": "replace"}]}}),
            json!({"spec": {"containers": [{"name": "c"}]}}),
        ),
        ok(
            "$patch: replace replaces a map",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            json!({"metadata": {"labels": {"c": "3"}}}),
        ),
        ok(
            "$patch: delete empties a map and keeps its key, as upstream",
            json!({"metadata": {"labels": {"a": "1"}, "name": "p"}}),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            json!({"metadata": {"labels": {}, "name": "p"}}),
        ),
        ok(
            "null deletes a key, at any depth, and is ignored when absent",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {}}),
            json!({"metadata": {"labels": {"a": null, "z": null}}, "spec": null}),
            json!({"metadata": {"labels": {"b": "2"}}}),
        ),
        ok(
            "$retainKeys clears the other keys of a volume",
            json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w"}]}}),
            json!({"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/x"},
                "$retainKeys": ["name", "hostPath"]}]}}),
            json!({"spec": {"volumes": [
                {"name": "v", "hostPath": {"path": "/x"}}, {"name": "w"}]}}),
        ),
        ok(
            "$retainKeys switches a deployment's strategy",
            json!({"spec": {"strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        ),
        ok(
            "a new value is cleaned of directives and nulls",
            json!({"metadata": {"name": "p"}}),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "a", "args": null,
                    "env": [{"name": "X", "$patch": "delete"}, {"name": "Y"}]}],
                "$retainKeys": ["containers"]}}),
            json!({"metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a", "env": [{"name": "Y"}]}]}}),
        ),
        ok(
            "a new map with $patch: replace keeps its content",
            json!({}),
            json!({"metadata": {"labels": {"$patch": "replace", "a": "1"}}}),
            json!({"metadata": {"labels": {"a": "1"}}}),
        ),
        ok(
            "a new map with $patch: delete is not added",
            json!({"metadata": {}}),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            json!({"metadata": {}}),
        ),
        ok(
            "a type change takes the patch's value",
            json!({"metadata": {"labels": "oops"}, "spec": {"x": 1}}),
            json!({"metadata": {"labels": {"a": "1", "b": null}}, "spec": ["y"]}),
            json!({"metadata": {"labels": {"a": "1"}}, "spec": ["y"]}),
        ),
        ok(
            "$-keys that are not directives are content (a CRD schema's $ref)",
            json!({"spec": {"$ref": "#/a"}}),
            json!({"spec": {"$ref": "#/b", "$schema": "x"}}),
            json!({"spec": {"$ref": "#/b", "$schema": "x"}}),
        ),
        ok(
            "the whole object is replaced by a top-level $patch: replace",
            json!({"a": 1, "b": 2}),
            json!({"$patch": "replace", "c": 3}),
            json!({"c": 3}),
        ),
    ];
    check(&pod_schema(), cases);
}

/// Cases of upstream's `customStrategicMergePatchTestCaseData` and
/// `customStrategicMergePatchRawTestCases`: the two-way patch applied to the original.
#[test]
fn upstream_custom_cases() {
    let cases = vec![
        ok(
            "unique scalars when merging lists",
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [2, 3]}),
            json!({"mergingIntList": [1, 2, 3]}),
        ),
        ok(
            "delete map from nested map",
            json!({"simpleMap": {"key1": 1, "key2": 1}}),
            json!({"simpleMap": {"$patch": "delete"}}),
            json!({"simpleMap": {}}),
        ),
        ok(
            "delete all items from merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"$patch": "replace"}]}),
            json!({"mergingList": []}),
        ),
        ok(
            "merge empty merging lists",
            json!({"mergingList": []}),
            json!({"mergingList": []}),
            json!({"mergingList": []}),
        ),
        ok(
            "delete all keys from map",
            json!({"name": 1, "value": 1}),
            json!({"$patch": "replace"}),
            json!({}),
        ),
        ok(
            "add key and delete all keys from map",
            json!({"name": 1, "value": 1}),
            json!({"other": "a", "$patch": "replace"}),
            json!({"other": "a"}),
        ),
        ok(
            "delete all duplicate entries in a merging list",
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"},
                {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"},
                {"name": 3, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2, "value": "a"}]}),
        ),
        ok(
            "retainKeys map can delete a field when no retainKeys directive present",
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
            json!({"retainKeysMap": {"value": null}}),
            json!({"retainKeysMap": {"name": "foo"}}),
        ),
        ok(
            "retainKeys map merge an empty map",
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
            json!({"retainKeysMap": {}}),
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
        ),
        ok(
            "retainKeys list can change a field when no retainKeys directive present",
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "value": "b"}]}),
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "b"}]}),
        ),
        ok(
            "preserve the order from the patch in a merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"},
                {"name": 2, "other": "x"}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"},
                {"name": 2, "value": "b", "other": "x"}]}),
        ),
        ok(
            "preserve the order from the patch in a merging list 2",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"},
                {"name": 1, "value": "a"}]}),
        ),
        ok(
            "preserve the order from the patch in a merging int list",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1, 2]}),
            json!({"mergingIntList": [3, 1, 2]}),
        ),
        ok(
            "preserve the order from the patch in a merging int list 2",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1]}),
            json!({"mergingIntList": [2, 3, 1]}),
        ),
        ok(
            "$setElementOrder contains item that is not present in the list to be merged",
            json!({"mergingList": [{"name": 1}, {"name": 3}]}),
            json!({"$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
            json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
        ),
        ok(
            "$setElementOrder contains item that is not present in the int list",
            json!({"mergingIntList": [1, 3]}),
            json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
            json!({"mergingIntList": [3, 1]}),
        ),
        err(
            "should check if order in $setElementOrder and patch list match",
            json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
            json!({"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
            "doesn't match",
        ),
        err(
            "$setElementOrder and an int patch list in another order",
            json!({"mergingIntList": [1, 3, 2]}),
            json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
            "doesn't match",
        ),
        err(
            "missing merge key should error out",
            json!({"mergingList": [{"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"value": "b"}]}),
            "does not contain declared merge key",
        ),
        ok(
            "$deleteFromPrimitiveList of nonexistent item should not add the item",
            json!({"mergingIntList": [1, 2]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2]}),
        ),
        ok(
            "$deleteFromPrimitiveList on empty primitive list should not add the item",
            json!({"mergingIntList": null}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": null}),
        ),
        ok(
            "$deleteFromPrimitiveList on nonexistent primitive list should not add it",
            json!({"foo": ["bar"]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"foo": ["bar"]}),
        ),
        ok(
            "$deleteFromPrimitiveList should delete item from a merging list",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [2]}),
            json!({"mergingIntList": [1, 3]}),
        ),
        ok(
            "$deleteFromPrimitiveList should delete item from a non-merging list",
            json!({"nonMergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
            json!({"nonMergingIntList": [1, 3]}),
        ),
    ];
    check(&merge_item(3), cases);
}

/// Cases of upstream's `TestStrategicMergePatch` table: the three-way patch applied to the
/// current object.
#[test]
fn upstream_three_way_cases() {
    let elements = |items: &[(i64, &str)]| {
        let items = items.iter().map(|(name, value)| match *value {
            "" => json!({"name": name}),
            value => json!({"name": name, "value": value}),
        });
        Value::Array(items.collect())
    };
    let order = |names: &[i64]| json!(names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>());
    let cases = vec![
        ok(
            "set elements order in a list",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": 3},
                {"name": 4, "value": 4}, {"name": 2, "value": 2}]}),
            json!({"$setElementOrder/mergingList": order(&[4, 2, 3, 1])}),
            json!({"mergingList": [{"name": 4, "value": 4}, {"name": 2, "value": 2},
                {"name": 3, "value": 3}, {"name": 1, "other": "a"}]}),
        ),
        ok(
            "set elements order in a list with server-only items",
            json!({"mergingList": elements(&[(1, ""), (3, "3"), (4, "4"), (2, "2"), (9, "")])}),
            json!({"$setElementOrder/mergingList": order(&[4, 2, 3, 1])}),
            json!({"mergingList": elements(&[(4, "4"), (2, "2"), (3, "3"), (1, ""), (9, "")])}),
        ),
        ok(
            "set elements order in a list with server-only items 2",
            json!({"mergingList": elements(&[(1, ""), (2, "2"), (9, ""), (3, "3"), (4, "4")])}),
            json!({"$setElementOrder/mergingList": order(&[2, 1, 4, 3])}),
            json!({"mergingList": elements(&[(2, "2"), (1, ""), (9, ""), (4, "4"), (3, "3")])}),
        ),
        ok(
            "set elements order in a list with server-only items 3",
            json!({"mergingList": elements(&[(1, ""), (2, "2"), (7, ""), (9, ""), (8, ""),
                (3, "3"), (4, "4")])}),
            json!({"$setElementOrder/mergingList": order(&[2, 1, 4, 3])}),
            json!({"mergingList": elements(&[(2, "2"), (1, ""), (7, ""), (9, ""), (8, ""),
                (4, "4"), (3, "3")])}),
        ),
        ok(
            "set elements order in a int list with server-only items",
            json!({"mergingIntList": [1, 3, 4, 2, 9]}),
            json!({"$setElementOrder/mergingIntList": [4, 2, 3, 1]}),
            json!({"mergingIntList": [4, 2, 3, 1, 9]}),
        ),
        ok(
            "behavior of set element order for a merging list with duplicate",
            json!({"mergingList": elements(&[(1, ""), (2, "dup1"), (3, ""), (2, "dup2"),
                (4, "")])}),
            json!({"$setElementOrder/mergingList": order(&[2, 1, 4, 3, 2])}),
            json!({"mergingList": elements(&[(2, "dup1"), (2, "dup2"), (1, ""), (4, ""),
                (3, "")])}),
        ),
        ok(
            "behavior of set element order for a merging int list with duplicate",
            json!({"mergingIntList": [1, 2, 3, 2, 4]}),
            json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3, 2]}),
            json!({"mergingIntList": [2, 2, 1, 4, 3]}),
        ),
        ok(
            "add an item in a list and preserve order",
            json!({"mergingList": elements(&[(1, ""), (2, "2"), (9, "")])}),
            json!({"$setElementOrder/mergingList": order(&[1, 3, 2]),
                "mergingList": [{"name": 3, "value": 3}]}),
            json!({"mergingList": [{"name": 1}, {"name": 3, "value": 3},
                {"name": 2, "value": "2"}, {"name": 9}]}),
        ),
        ok(
            "delete and reorder in one list, reorder in another",
            json!({"mergingList": elements(&[(1, "a"), (2, "b")]),
                "mergeItemPtr": elements(&[(3, "c"), (4, "d")])}),
            json!({"$setElementOrder/mergingList": order(&[2]),
                "$setElementOrder/mergeItemPtr": order(&[4, 3]),
                "mergingList": [{"$patch": "delete", "name": 1}]}),
            json!({"mergingList": elements(&[(2, "b")]),
                "mergeItemPtr": elements(&[(4, "d"), (3, "c")])}),
        ),
        ok(
            "retainKeys map should clear defaulted field",
            json!({"retainKeysMap": {"value": "foo", "other": "bar"}}),
            json!({"retainKeysMap": {"$retainKeys": ["value"]}}),
            json!({"retainKeysMap": {"value": "foo"}}),
        ),
        ok(
            "retainKeys map adds an item in nested merging int list",
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2]}}),
            json!({"retainKeysMap": {"$retainKeys": ["mergingIntList", "name"],
                "$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]}}),
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3]}}),
        ),
        ok(
            "retainKeys list of maps clears a field",
            json!({"retainKeysMergingList": [{"name": "bar"},
                {"name": "foo", "value": "a", "other": "b"}]}),
            json!({"retainKeysMergingList": [{"name": "foo",
                "$retainKeys": ["name", "value"]}]}),
            json!({"retainKeysMergingList": [{"name": "bar"},
                {"name": "foo", "value": "a"}]}),
        ),
        ok(
            "replace non merging list nested in merging list",
            json!({"mergingList": [{"name": 1, "nonMergingList": [{"name": 1},
                {"name": 2, "value": 2}]}, {"name": 2}]}),
            json!({"mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}]}),
            json!({"mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]},
                {"name": 2}]}),
        ),
        ok(
            "add field to map in merging list nested in merging list",
            json!({"mergingList": [{"name": 1, "mergingList": [{"name": 1},
                {"name": 2, "value": 2}]}, {"name": 2}]}),
            json!({"mergingList": [{"name": 1, "mergingList": [{"name": 1, "value": 1}]}]}),
            json!({"mergingList": [{"name": 1, "mergingList": [{"name": 1, "value": 1},
                {"name": 2, "value": 2}]}, {"name": 2}]}),
        ),
        ok(
            "replace a replace-strategy map whole",
            json!({"replacingItem": {"a": 1, "b": 2}}),
            json!({"replacingItem": {"c": 3}}),
            json!({"replacingItem": {"c": 3}}),
        ),
    ];
    check(&merge_item(3), cases);
}

#[test]
fn errors() {
    let cases = vec![
        err(
            "original not an object",
            json!([]),
            json!({}),
            "the original, but received a list",
        ),
        err(
            "patch not an object",
            json!({}),
            json!("x"),
            "the patch, but received a string",
        ),
        err(
            "$patch: merge on a map, as upstream",
            json!({"simpleMap": {}}),
            json!({"simpleMap": {"$patch": "merge"}}),
            "unknown patch type: merge in map",
        ),
        err(
            "$patch: merge in a list",
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 1, "$patch": "merge"}]}),
            "merging lists cannot yet be specified in the patch",
        ),
        err(
            "an unknown $patch in a list",
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 1, "$patch": 7}]}),
            "unknown patch type: 7",
        ),
        err(
            "$patch: delete without the merge key",
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"$patch": "delete"}]}),
            "does not contain declared merge key: name",
        ),
        err(
            "an original element without the merge key",
            json!({"mergingList": [{"value": 1}]}),
            json!({"mergingList": [{"name": 1}]}),
            "map: {\"value\":1} does not contain declared merge key: name",
        ),
        err(
            "$setElementOrder not a list",
            json!({"mergingList": []}),
            json!({"$setElementOrder/mergingList": {"name": 1}}),
            "invalid patch format of setElementOrder list",
        ),
        err(
            "$setElementOrder without a field",
            json!({}),
            json!({"$setElementOrderX": []}),
            "invalid patch format of setElementOrder list",
        ),
        err(
            "$setElementOrder of a directive",
            json!({}),
            json!({"$setElementOrder/$retainKeys": [], "$retainKeys": []}),
            "invalid patch format of setElementOrder list",
        ),
        err(
            "$setElementOrder of a field that is not a list",
            json!({"mergingList": "x"}),
            json!({"$setElementOrder/mergingList": []}),
            "expected a list, but received a string",
        ),
        err(
            "$retainKeys not a list",
            json!({"retainKeysMap": {}}),
            json!({"retainKeysMap": {"$retainKeys": "name"}}),
            "invalid patch format of retainKeys",
        ),
        err(
            "$retainKeys missing a key the patch sets",
            json!({"retainKeysMap": {}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "a"}}),
            "invalid patch format of retainKeys",
        ),
        err(
            "$deleteFromPrimitiveList not a list",
            json!({"mergingIntList": [1]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": 1}),
            "invalid patch format of primitive list",
        ),
        err(
            "$deleteFromPrimitiveList of maps",
            json!({"mergingList": [{"name": 1}]}),
            json!({"$deleteFromPrimitiveList/mergingList": [{"name": 1}]}),
            "invalid patch format of primitive list",
        ),
        err(
            "lists of lists",
            json!({"mergingIntList": [[1]]}),
            json!({"mergingIntList": [[2]]}),
            "lists of lists are not supported",
        ),
        err(
            "mixed element types",
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": ["a"]}),
            "list element types are not identical: a number and a string",
        ),
        err(
            "a merged list of maps without a declared merge key",
            json!({"mergingIntList": [{"a": 1}]}),
            json!({"mergingIntList": [{"a": 2}]}),
            "cannot merge lists without merge key for mergingIntList",
        ),
        err(
            "primitives in a list declared with a merge key",
            json!({"mergingList": [1]}),
            json!({"mergingList": [2]}),
            "expected an object, but received a number",
        ),
    ];
    check(&merge_item(3), cases);
}

#[test]
fn no_schema_is_json_merge_patch_with_lists_replaced() {
    let cases = vec![
        ok(
            "maps merge, lists are replaced, null deletes",
            json!({"a": {"b": 1, "c": [1, 2]}, "d": 1}),
            json!({"a": {"c": [3], "e": {"f": null, "g": 1}}, "d": null}),
            json!({"a": {"b": 1, "c": [3], "e": {"g": 1}}}),
        ),
        ok(
            "$setElementOrder orders a list compared by value",
            json!({"a": [{"x": 1}, {"x": 2}, "z"]}),
            json!({"$setElementOrder/a": ["z", {"x": 2}]}),
            json!({"a": [{"x": 1}, "z", {"x": 2}]}),
        ),
    ];
    check(&NoSchema, cases);
}

/// A schema made on the spot, as an OpenAPI cursor would: every `children` list merges by
/// name, at any depth.
struct Tree;

impl PatchSchema for Tree {
    fn field(&self, name: &str) -> Option<FieldMeta<'_>> {
        (name == "children").then(|| FieldMeta {
            strategy: PatchStrategy::Merge,
            merge_key: Some("name"),
            schema: Some(SubSchema::Owned(Box::new(Tree))),
            ..FieldMeta::default()
        })
    }
}

#[test]
fn owned_sub_schemas_recurse() {
    let original = json!({"children": [{"name": "a", "children": [{"name": "b", "v": 1}]}]});
    let patch = json!({"children": [{"name": "a", "children": [{"name": "c"}]}]});
    // A new element goes before the server-only ones, as upstream's `mergeSortedSlice`.
    let want = json!({"children": [{"name": "a",
        "children": [{"name": "c"}, {"name": "b", "v": 1}]}]});
    assert_eq!(apply(&original, &patch, &Tree), Ok(want));
}

#[test]
fn patch_strategies_parse_as_upstream_tags() {
    let cases = [
        ("", Ok((PatchStrategy::Default, false))),
        ("merge", Ok((PatchStrategy::Merge, false))),
        ("replace", Ok((PatchStrategy::Replace, false))),
        ("retainKeys", Ok((PatchStrategy::Default, true))),
        ("merge,retainKeys", Ok((PatchStrategy::Merge, true))),
        ("retainKeys,replace", Ok((PatchStrategy::Replace, true))),
        ("merge,replace", Err(())),
        ("retainKeys,retainKeys", Err(())),
        ("merge,", Err(())),
        ("bogus", Err(())),
    ];
    for (tag, want) in cases {
        assert_eq!(parse_patch_strategy(tag).map_err(|_| ()), want, "{tag:?}");
    }
}

mod property {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::super::{NoSchema, PatchSchema, apply, is_directive};
    use super::merge_item;

    const FIELDS: &[&str] = &[
        "name",
        "value",
        "other",
        "mergingList",
        "nonMergingList",
        "mergingIntList",
        "nonMergingIntList",
        "mergeItemPtr",
        "simpleMap",
        "replacingItem",
        "retainKeysMap",
        "retainKeysMergingList",
        "$ref",
    ];

    const DIRECTIVES: &[&str] = &[
        "$patch",
        "$patch",
        "$retainKeys",
        "$setElementOrder/mergingList",
        "$setElementOrder/mergingIntList",
        "$setElementOrder/nonMergingList",
        "$setElementOrder/name",
        "$setElementOrder",
        "$setElementOrder/$patch",
        "$deleteFromPrimitiveList/mergingIntList",
        "$deleteFromPrimitiveList/mergingList",
        "$deleteFromPrimitiveList/nonMergingIntList",
        "$deleteFromPrimitiveList/",
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0i64..4).prop_map(Value::from),
            Just(Value::from(1.5)),
            prop::sample::select(&["1", "2", "a", "replace", "delete", "merge", "name"][..])
                .prop_map(Value::from),
        ]
    }

    /// Lists, maps, and lists of maps with a few `name`s, so that merges by key happen.
    fn json(keys: Vec<&'static str>) -> impl Strategy<Value = Value> {
        leaf().prop_recursive(5, 96, 6, move |inner| {
            let key = prop::sample::select(keys.clone()).prop_map(str::to_owned);
            let map = prop::collection::btree_map(key, inner.clone(), 0..6);
            let name = prop::sample::select(&["1", "2", "3"][..]);
            let named = (name, map.clone()).prop_map(|(name, mut map)| {
                map.insert("name".to_owned(), Value::from(name));
                Value::Object(map.into_iter().collect())
            });
            prop_oneof![
                prop::collection::vec(inner, 0..6).prop_map(Value::Array),
                map.prop_map(|map| Value::Object(map.into_iter().collect())),
                prop::collection::vec(named, 0..5).prop_map(Value::Array),
            ]
        })
    }

    fn object(keys: Vec<&'static str>) -> impl Strategy<Value = Value> {
        let key = prop::sample::select(keys.clone()).prop_map(str::to_owned);
        prop::collection::btree_map(key, json(keys), 0..6)
            .prop_map(|map| Value::Object(map.into_iter().collect()))
    }

    fn patch_keys() -> Vec<&'static str> {
        FIELDS.iter().chain(DIRECTIVES).copied().collect()
    }

    fn has_directive_key(value: &Value) -> bool {
        match value {
            Value::Object(map) => map
                .iter()
                .any(|(key, value)| is_directive(key) || has_directive_key(value)),
            Value::Array(items) => items.iter().any(has_directive_key),
            _ => false,
        }
    }

    /// RFC 7386, the reference for [`NoSchema`] on patches without directives.
    fn merge_patch(target: Option<&Value>, patch: &Value) -> Value {
        let Value::Object(patch) = patch else {
            return patch.clone();
        };
        let mut target = match target {
            Some(Value::Object(target)) => target.clone(),
            _ => Map::new(),
        };
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                let merged = merge_patch(target.get(key), value);
                target.insert(key.clone(), merged);
            }
        }
        Value::Object(target)
    }

    /// Our lists are copied without the `null` entries of their maps (as upstream drops
    /// them from new values); RFC 7386 keeps them. Patches for the comparison have none.
    fn without_nulls_in_lists(value: Value, in_list: bool) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(_, value)| !(in_list && value.is_null()))
                    .map(|(key, value)| (key, without_nulls_in_lists(value, in_list)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| without_nulls_in_lists(item, true))
                    .collect(),
            ),
            scalar => scalar,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn never_panics_and_never_leaks_directives(
            original in object(FIELDS.to_vec()),
            patch in object(patch_keys()),
            no_schema in any::<bool>(),
        ) {
            let schema = merge_item(3);
            let schema: &dyn PatchSchema = if no_schema { &NoSchema } else { &schema };
            if let Ok(result) = apply(&original, &patch, schema) {
                prop_assert!(result.is_object());
                prop_assert!(!has_directive_key(&result), "{result}");
                prop_assert_eq!(apply(&original, &patch, schema), Ok(result));
            }
        }

        #[test]
        fn no_schema_without_directives_is_rfc_7386(
            original in object(FIELDS.to_vec()),
            patch in object(FIELDS.to_vec()),
        ) {
            let patch = without_nulls_in_lists(patch, false);
            let want = merge_patch(Some(&original), &patch);
            prop_assert_eq!(apply(&original, &patch, &NoSchema), Ok(want));
        }

        #[test]
        fn an_empty_patch_changes_nothing(original in object(FIELDS.to_vec())) {
            let schema = merge_item(3);
            let empty = Value::Object(Map::new());
            prop_assert_eq!(apply(&original, &empty, &schema), Ok(original));
        }
    }
}
