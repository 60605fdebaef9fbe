//! Strategic merge patch (`application/strategic-merge-patch+json`) applied to a stored object:
//! a pure function over `serde_json::Value`. It follows upstream's
//! `k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`, the path the API server takes
//! (`StrategicMergeMapPatchUsingLookupPatchMeta`: `mergeMap` with `MergeParallelList` and
//! `IgnoreUnmatchedNulls`).
//!
//! The engine knows no Kubernetes type. A [`PatchSchema`] tells, per field, its patch strategy
//! (`x-kubernetes-patch-strategy`), its merge key (`x-kubernetes-patch-merge-key`) and the
//! schema of its value or items. [`StaticSchema`] is a tree built in code; [`NoSchema`] knows
//! nothing, which gives JSON merge patch semantics (maps merge, `null` deletes, lists are
//! replaced).
//!
//! One map of the patch is applied to one map of the original in this order:
//! 1. `$patch: replace` makes the map the rest of the patch; `$patch: delete` makes it `{}`
//!    (the key stays, as upstream); any other value is an error, `merge` included.
//! 2. `$retainKeys: [k..]` drops every key of the original not listed; the patch may set only
//!    listed keys.
//! 3. `$setElementOrder/<list>: [..]` merges `<list>` as step 4 would, then orders it: the
//!    elements named follow the order list, the others keep their place from the original.
//! 4. Every other key: `null` deletes it; a key the original lacks, or holds with another JSON
//!    type, takes the patch's value; maps merge unless the field's strategy is `replace`; lists
//!    merge when the strategy is `merge` and are replaced otherwise; scalars are replaced.
//! 5. `$deleteFromPrimitiveList/<list>: [..]` removes those values from `<list>`.
//!
//! Merging lists (strategy `merge`). Lists of maps merge element by element on the merge key;
//! in the patch, `{<key>: v, $patch: delete}` removes every element with that key and
//! `{$patch: replace}` makes the list the other elements of the patch. Lists of primitives are
//! a set union. In both, the elements the patch names come in the patch's order, and each
//! server-only element stays before the named ones that followed it in the original; an element
//! new to the list therefore goes before the server-only ones after it (upstream's
//! `normalizeElementOrder`: patching `[b]` with `[c]` gives `[c, b]`).
//!
//! Where this differs from upstream on purpose (inputs clients do not send):
//! - A value copied from the patch (a new key, a replaced value, an appended element) is
//!   cleaned: `null` map entries and directive keys are dropped, and so are maps that carry
//!   `$patch` (upstream's `discardNullValuesFromPatch` and `removeDirectives`), except that a map
//!   with `$patch: replace` keeps its content. Upstream copies some of these verbatim and relies
//!   on the typed decode to drop stray `$` keys; here no directive key ever reaches the result.
//! - Upstream applies a map's keys in Go's random map order; here additions always come before
//!   `$deleteFromPrimitiveList` deletions, as they do on upstream's `$setElementOrder` path.
//! - `$deleteFromPrimitiveList` whose value is not a list of primitives is an error.
//! - Inputs on which upstream panics (`null` list elements, maps compared as list items) merge
//!   by JSON equality, and `$setElementOrder` over two empty lists is not an error.

use std::collections::BTreeSet;
use std::mem;

use serde_json::{Map, Value};

const DIRECTIVE_MARKER: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

type Object = Map<String, Value>;
type Result<T, E = PatchError> = std::result::Result<T, E>;

/// The patch schema of one object type: what a strategic merge patch needs to know of its
/// fields. An implementation over an OpenAPI document follows `$ref`s in [`Self::field`].
pub trait PatchSchema {
    /// Metadata of the field `name` of the objects this schema describes, or `None` when the
    /// field is unknown (maps then merge without metadata and lists are replaced).
    fn field(&self, name: &str) -> Option<FieldMeta<'_>>;
}

/// How a field's value merges (the non-`retainKeys` part of `x-kubernetes-patch-strategy`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum PatchStrategy {
    /// No strategy: maps merge, lists are replaced.
    #[default]
    Default,
    /// Lists merge: maps by the merge key, primitives as a set.
    Merge,
    /// Maps and lists are replaced whole.
    Replace,
}

/// Patch metadata of one field.
#[derive(Default)]
pub struct FieldMeta<'a> {
    pub strategy: PatchStrategy,
    /// The `retainKeys` strategy. Applying a patch does not consult it (upstream honours
    /// `$retainKeys` wherever it appears); it is here for callers that build patches.
    pub retain_keys: bool,
    /// The key that identifies the elements of a merged list of maps.
    pub merge_key: Option<&'a str>,
    /// The schema of the field's value (a map) or of its items (a list); `None` when unknown.
    pub schema: Option<SubSchema<'a>>,
}

/// The schema of a field's value: borrowed from the parent (a tree) or made on the spot (a
/// cursor into an OpenAPI document).
pub enum SubSchema<'a> {
    Borrowed(&'a dyn PatchSchema),
    Owned(Box<dyn PatchSchema + 'a>),
}

impl FieldMeta<'_> {
    /// The schema of the value or items: [`NoSchema`] when unknown.
    fn value_schema(&self) -> &dyn PatchSchema {
        match &self.schema {
            Some(SubSchema::Borrowed(schema)) => *schema,
            Some(SubSchema::Owned(schema)) => schema.as_ref(),
            None => &NoSchema,
        }
    }
}

/// Parses an `x-kubernetes-patch-strategy` value (`merge`, `replace`, `retainKeys`, or
/// `retainKeys` with one of the others, e.g. `merge,retainKeys`) into the strategy and whether
/// `retainKeys` is set (upstream's `extractRetainKeysPatchStrategy`).
pub fn parse_patch_strategy(tag: &str) -> Result<(PatchStrategy, bool), PatchError> {
    let mut strategy = None;
    let mut retain_keys = false;
    if tag.is_empty() {
        return Ok((PatchStrategy::Default, false));
    }
    for part in tag.split(',') {
        match part {
            "retainKeys" if !retain_keys => retain_keys = true,
            "merge" if strategy.is_none() => strategy = Some(PatchStrategy::Merge),
            "replace" if strategy.is_none() => strategy = Some(PatchStrategy::Replace),
            _ => return Err(PatchError::UnexpectedStrategy(tag.to_owned())),
        }
    }
    Ok((strategy.unwrap_or_default(), retain_keys))
}

/// The schema that knows no field: JSON merge patch semantics, as upstream gives to fields
/// without patch metadata.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NoSchema;

impl PatchSchema for NoSchema {
    fn field(&self, _name: &str) -> Option<FieldMeta<'_>> {
        None
    }
}

/// A patch schema built in code, e.g.
/// `StaticSchema::new().with("containers", StaticField::merge_by("name").of(container))`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StaticSchema {
    fields: std::collections::BTreeMap<String, StaticField>,
}

impl StaticSchema {
    pub fn new() -> StaticSchema {
        StaticSchema::default()
    }

    /// Declares the field `name`.
    pub fn with(mut self, name: impl Into<String>, field: StaticField) -> StaticSchema {
        self.fields.insert(name.into(), field);
        self
    }
}

impl PatchSchema for StaticSchema {
    fn field(&self, name: &str) -> Option<FieldMeta<'_>> {
        let field = self.fields.get(name)?;
        Some(FieldMeta {
            strategy: field.strategy,
            retain_keys: field.retain_keys,
            merge_key: field.merge_key.as_deref(),
            schema: field
                .schema
                .as_ref()
                .map(|schema| SubSchema::Borrowed(schema)),
        })
    }
}

/// One field of a [`StaticSchema`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StaticField {
    strategy: PatchStrategy,
    retain_keys: bool,
    merge_key: Option<String>,
    schema: Option<StaticSchema>,
}

impl StaticField {
    /// A field without strategy: a map merges, a list is replaced.
    pub fn plain() -> StaticField {
        StaticField::default()
    }

    /// A list of maps merged by `key`.
    pub fn merge_by(key: impl Into<String>) -> StaticField {
        StaticField {
            strategy: PatchStrategy::Merge,
            merge_key: Some(key.into()),
            ..StaticField::default()
        }
    }

    /// A list of primitives merged as a set.
    pub fn merge_set() -> StaticField {
        StaticField {
            strategy: PatchStrategy::Merge,
            ..StaticField::default()
        }
    }

    /// A map or list replaced whole.
    pub fn replace() -> StaticField {
        StaticField {
            strategy: PatchStrategy::Replace,
            ..StaticField::default()
        }
    }

    /// Adds the `retainKeys` strategy.
    pub fn retain_keys(mut self) -> StaticField {
        self.retain_keys = true;
        self
    }

    /// The schema of the value (a map) or of the items (a list).
    pub fn of(mut self, schema: StaticSchema) -> StaticField {
        self.schema = Some(schema);
        self
    }
}

/// Why a patch could not be applied. Messages follow upstream's (`mergepatch/errors.go` and
/// `strategicpatch/patch.go`), with values printed as JSON.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PatchError {
    #[error("invalid JSON document: expected an object as the {what}, but received {found}")]
    NotAnObject {
        what: &'static str,
        found: &'static str,
    },
    #[error("unknown patch type: {directive} in map: {map}")]
    BadPatchType { directive: String, map: String },
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    #[error("cannot merge lists without merge key for {field}")]
    MergeKeyUndeclared { field: String },
    #[error("expected {expected}, but received {found}")]
    BadArgType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("lists of lists are not supported")]
    ListOfLists,
    #[error("list element types are not identical: {first} and {second}")]
    MixedListElements {
        first: &'static str,
        second: &'static str,
    },
    #[error("invalid patch format of primitive list")]
    BadPrimitiveListFormat,
    #[error("invalid patch format of retainKeys")]
    BadRetainKeysFormat,
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrderFormat,
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}")]
    SetElementOrderMismatch { patch: String, order: String },
    #[error("unexpected patch strategy: {0}")]
    UnexpectedStrategy(String),
}

impl PatchError {
    fn expected(expected: &'static str, found: &Value) -> PatchError {
        PatchError::BadArgType {
            expected,
            found: kind_name(found),
        }
    }

    fn bad_patch_type(directive: &Value, map: &Object) -> PatchError {
        PatchError::BadPatchType {
            directive: directive
                .as_str()
                .map_or_else(|| directive.to_string(), str::to_owned),
            map: to_json(map),
        }
    }
}

/// Applies the strategic merge patch `patch` to `original`; both must be JSON objects.
pub fn apply(
    original: &Value,
    patch: &Value,
    schema: &dyn PatchSchema,
) -> Result<Value, PatchError> {
    let not_an_object = |what, found: &Value| PatchError::NotAnObject {
        what,
        found: kind_name(found),
    };
    let Value::Object(original) = original else {
        return Err(not_an_object("original", original));
    };
    let Value::Object(patch) = patch else {
        return Err(not_an_object("patch", patch));
    };
    merge_map(original.clone(), patch, schema).map(Value::Object)
}

/// Applies one map of the patch to one map of the original (upstream's `mergeMap`), in the
/// order of the module documentation.
fn merge_map(mut original: Object, patch: &Object, schema: &dyn PatchSchema) -> Result<Object> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some("replace") => Ok(clean_map(patch)),
            Some("delete") => Ok(Object::new()),
            _ => Err(PatchError::bad_patch_type(directive, patch)),
        };
    }
    if let Some(keys) = patch.get(RETAIN_KEYS) {
        retain_keys(&mut original, patch, keys)?;
    }
    let directives = |prefix| patch.iter().filter(move |(key, _)| key.starts_with(prefix));
    let mut ordered = BTreeSet::new();
    for (key, order) in directives(SET_ELEMENT_ORDER) {
        let list = strip_directive(key, SET_ELEMENT_ORDER)?;
        set_element_order(&mut original, patch, list, order, schema)?;
        ordered.insert(list);
    }
    for (key, value) in patch {
        if !is_directive(key) && !ordered.contains(key.as_str()) {
            merge_field(&mut original, key, value, schema, false)?;
        }
    }
    for (key, value) in directives(DELETE_FROM_PRIMITIVE_LIST) {
        let list = strip_directive(key, DELETE_FROM_PRIMITIVE_LIST)?;
        merge_field(&mut original, list, value, schema, true)?;
    }
    Ok(original)
}

/// `$retainKeys` (upstream's `applyRetainKeysDirective`).
fn retain_keys(original: &mut Object, patch: &Object, keys: &Value) -> Result<()> {
    let Value::Array(keys) = keys else {
        return Err(PatchError::BadRetainKeysFormat);
    };
    let retained = |key: &str| keys.iter().any(|k| k.as_str() == Some(key));
    let sets_other_key = patch
        .iter()
        .any(|(key, value)| !value.is_null() && !is_directive(key) && !retained(key));
    if sets_other_key {
        return Err(PatchError::BadRetainKeysFormat);
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// `$setElementOrder/<list>` (upstream's `mergePatchIntoOriginal`): merges the patch's `<list>`
/// into the original's, then orders the result. Precedence: the order list, then the patch's
/// list, then the original list.
fn set_element_order(
    original: &mut Object,
    patch: &Object,
    list: &str,
    order: &Value,
    schema: &dyn PatchSchema,
) -> Result<()> {
    let Value::Array(order) = order else {
        return Err(PatchError::BadSetElementOrderFormat);
    };
    let current = match original.get_mut(list) {
        None => None,
        Some(Value::Array(items)) => Some(mem::take(items)),
        Some(other) => return Err(PatchError::expected("a list", other)),
    };
    let patch_list = match patch.get(list) {
        None => None,
        Some(Value::Array(items)) => Some(items.as_slice()),
        Some(other) => return Err(PatchError::expected("a list", other)),
    };
    let meta = schema.field(list).unwrap_or_default();
    validate_order(patch_list.unwrap_or_default(), order, meta.merge_key)?;
    let (server_order, merged) = match (current, patch_list) {
        (None, None) => return Ok(()),
        (Some(current), None) => (keys_of(&current, meta.merge_key)?, current),
        (None, Some(patch_list)) => (Vec::new(), clean_list(patch_list)),
        (Some(current), Some(patch_list)) => {
            let server_order = keys_of(&current, meta.merge_key)?;
            let merged = if meta.strategy == PatchStrategy::Merge {
                merge_list(current, patch_list, list, &meta, false)?
            } else {
                clean_list(patch_list)
            };
            (server_order, merged)
        }
    };
    let order = keys_of(order, meta.merge_key)?;
    let (named, server_only) = partition(merged, &order, meta.merge_key)?;
    let ordered = normalize_order(named, server_only, &order, &server_order, meta.merge_key)?;
    original.insert(list.to_owned(), Value::Array(ordered));
    Ok(())
}

/// Checks that the elements of the patch's list (directives aside) come in the same order in
/// the `$setElementOrder` list (upstream's `validatePatchWithSetOrderList`).
fn validate_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut remaining = order.iter();
    for item in patch.iter().filter(|item| !has_directive_marker(item)) {
        let key = key_of(item, merge_key)?;
        loop {
            let Some(next) = remaining.next() else {
                return Err(PatchError::SetElementOrderMismatch {
                    patch: to_json(patch),
                    order: to_json(order),
                });
            };
            if key_of(next, merge_key)? == key {
                break;
            }
        }
    }
    Ok(())
}

/// Applies the patch value of one key of a map (the body of upstream's `mergeMap` loop).
/// `delete_list` marks the value of `$deleteFromPrimitiveList/<key>`.
fn merge_field(
    original: &mut Object,
    key: &str,
    patch: &Value,
    schema: &dyn PatchSchema,
    delete_list: bool,
) -> Result<()> {
    if delete_list && !patch.is_array() && !patch.is_null() {
        return Err(PatchError::BadPrimitiveListFormat);
    }
    if patch.is_null() {
        original.remove(key);
        return Ok(());
    }
    match (original.get_mut(key), patch) {
        (Some(Value::Object(current)), Value::Object(patch)) => {
            let meta = schema.field(key).unwrap_or_default();
            *current = if meta.strategy == PatchStrategy::Replace {
                clean_map(patch)
            } else {
                merge_map(mem::take(current), patch, meta.value_schema())?
            };
            return Ok(());
        }
        (Some(Value::Array(current)), Value::Array(patch)) => {
            let meta = schema.field(key).unwrap_or_default();
            *current = if meta.strategy == PatchStrategy::Merge || delete_list {
                merge_list(mem::take(current), patch, key, &meta, delete_list)?
            } else {
                clean_list(patch)
            };
            return Ok(());
        }
        // Two scalars of one JSON type (maps and lists matched above).
        (Some(current), patch) if mem::discriminant(current) == mem::discriminant(patch) => {
            *current = patch.clone();
            return Ok(());
        }
        _ => {}
    }
    // The key is new, or its type changes: the patch's value, unless this is a deletion list,
    // which never adds.
    if !delete_list {
        match clean(patch) {
            Some(value) => original.insert(key.to_owned(), value),
            None => original.remove(key),
        };
    }
    Ok(())
}

/// Merges two lists of a field with strategy `merge`, or removes the values of a
/// `$deleteFromPrimitiveList` list (upstream's `mergeSlice`).
fn merge_list(
    mut current: Vec<Value>,
    patch: &[Value],
    field: &str,
    meta: &FieldMeta<'_>,
    delete_list: bool,
) -> Result<Vec<Value>> {
    if delete_list {
        if patch.iter().any(|item| item.is_object() || item.is_array()) {
            return Err(PatchError::BadPrimitiveListFormat);
        }
        current.retain(|item| !patch.contains(item));
        return Ok(current);
    }
    check_element_types(&current, patch)?;
    match current.first().or(patch.first()) {
        None => Ok(current),
        Some(first) if first.is_object() => merge_object_list(current, patch, field, meta),
        Some(_) => merge_primitive_list(current, patch, meta.merge_key),
    }
}

/// A set union that keeps the original's duplicates out too, as upstream's
/// `deduplicateScalars` does.
fn merge_primitive_list(
    current: Vec<Value>,
    patch: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>> {
    let server_order = keys_of(&current, merge_key)?;
    let patch_order = keys_of(patch, merge_key)?;
    let mut merged: Vec<Value> = Vec::with_capacity(current.len() + patch.len());
    for item in current.into_iter().chain(patch.iter().cloned()) {
        if !merged.contains(&item) {
            merged.push(item);
        }
    }
    let (named, server_only) = partition(merged, &patch_order, merge_key)?;
    normalize_order(named, server_only, &patch_order, &server_order, merge_key)
}

/// Merges lists of maps by merge key (upstream's `mergeSliceWithSpecialElements` and
/// `mergeSliceWithoutSpecialElements`). The first original element with the same key absorbs
/// a patch element; an element only in the patch is added, and placed by `normalize_order`.
fn merge_object_list(
    mut current: Vec<Value>,
    patch: &[Value],
    field: &str,
    meta: &FieldMeta<'_>,
) -> Result<Vec<Value>> {
    let Some(key) = meta.merge_key else {
        return Err(PatchError::MergeKeyUndeclared {
            field: field.to_owned(),
        });
    };
    let mut regular = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(item) = item else {
            return Err(PatchError::expected("an object", item));
        };
        let Some(directive) = item.get(DIRECTIVE_MARKER) else {
            regular.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = merge_key_value(item, key)?;
                current.retain(|element| element.get(key) != Some(value));
            }
            // Keep going: the other directive elements must still be valid.
            Some("replace") => replace = true,
            Some("merge") => return Err(PatchError::MergeDirectiveInList),
            _ => return Err(PatchError::bad_patch_type(directive, item)),
        }
    }
    if replace {
        current = regular
            .drain(..)
            .map(clean_map)
            .map(Value::Object)
            .collect();
    }
    let server_order = keys_of(&current, Some(key))?;
    let mut patch_order = Vec::with_capacity(regular.len());
    for item in regular {
        let value = merge_key_value(item, key)?;
        patch_order.push(value.clone());
        match current
            .iter()
            .position(|element| element.get(key) == Some(value))
        {
            Some(index) => {
                if let Some(Value::Object(element)) = current.get_mut(index) {
                    *element = merge_map(mem::take(element), item, meta.value_schema())?;
                }
            }
            None => current.push(Value::Object(clean_map(item))),
        }
    }
    let (named, server_only) = partition(current, &patch_order, Some(key))?;
    normalize_order(named, server_only, &patch_order, &server_order, Some(key))
}

/// All elements of both lists must have one JSON type, and not be lists (upstream's
/// `sliceElementType`).
fn check_element_types(current: &[Value], patch: &[Value]) -> Result<()> {
    let mut first: Option<&'static str> = None;
    for item in current.iter().chain(patch) {
        if item.is_array() {
            return Err(PatchError::ListOfLists);
        }
        let kind = kind_name(item);
        match first {
            None => first = Some(kind),
            Some(first) if first != kind => {
                return Err(PatchError::MixedListElements {
                    first,
                    second: kind,
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Splits `items` into those whose key is in `keys` and the others, each in its order.
fn partition(
    items: Vec<Value>,
    keys: &[Value],
    merge_key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut named = Vec::new();
    let mut others = Vec::new();
    for item in items {
        if keys.contains(key_of(&item, merge_key)?) {
            named.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((named, others))
}

/// Orders a merged list (upstream's `normalizeElementOrder`): the elements the patch names
/// sorted by `patch_order`, the server-only ones by `server_order`, then the two interleaved:
/// a server-only element goes first only when both were in the original and it came first
/// there. So an element new to the list goes before the server-only elements not yet placed.
/// `patch_order` and `server_order` hold keys (the merge key's value, or the element itself).
fn normalize_order(
    named: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>> {
    let named = sort_by_order(named, patch_order, server_order, merge_key)?;
    let server_only = sort_by_order(server_only, server_order, server_order, merge_key)?;
    let mut merged = Vec::with_capacity(named.len() + server_only.len());
    let mut server_only = server_only.into_iter().peekable();
    for (item, position) in named {
        while let Some((_, Some(before))) = server_only.peek()
            && position.is_some_and(|position| *before < position)
        {
            merged.extend(server_only.next().map(|(item, _)| item));
        }
        merged.push(item);
    }
    merged.extend(server_only.map(|(item, _)| item));
    Ok(merged)
}

/// Sorts `items` stably by the position of their key in `order`, each paired with the position
/// of its key in `server_order`. Items missing from `order` go last: upstream's comparator is
/// not a strict order for them, and they only occur with an empty `$setElementOrder` list.
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<(Value, Option<usize>)>> {
    let mut ranked = Vec::with_capacity(items.len());
    for item in items {
        let key = key_of(&item, merge_key)?;
        let rank = order.iter().position(|k| k == key).unwrap_or(usize::MAX);
        ranked.push((rank, server_order.iter().position(|k| k == key), item));
    }
    ranked.sort_by_key(|(rank, _, _)| *rank);
    Ok(ranked
        .into_iter()
        .map(|(_, position, item)| (item, position))
        .collect())
}

/// The key of a list element: its merge key's value, or the element itself when the list has
/// no merge key.
fn key_of<'v>(item: &'v Value, merge_key: Option<&str>) -> Result<&'v Value> {
    let Some(key) = merge_key else {
        return Ok(item);
    };
    let Value::Object(map) = item else {
        return Err(PatchError::expected("an object", item));
    };
    merge_key_value(map, key)
}

fn merge_key_value<'v>(map: &'v Object, key: &str) -> Result<&'v Value> {
    map.get(key).ok_or_else(|| PatchError::NoMergeKey {
        map: to_json(map),
        key: key.to_owned(),
    })
}

fn keys_of(items: &[Value], merge_key: Option<&str>) -> Result<Vec<Value>> {
    items
        .iter()
        .map(|item| key_of(item, merge_key).cloned())
        .collect()
}

/// A value copied from the patch into the result, without what only a patch may hold: `null`
/// map entries, directive keys, and maps carrying `$patch` (which upstream's
/// `removeDirectives` drops), except that a map with `$patch: replace` keeps its content.
/// `None`: the value is dropped.
fn clean(value: &Value) -> Option<Value> {
    match value {
        Value::Object(map) => match map.get(DIRECTIVE_MARKER) {
            Some(directive) if directive.as_str() != Some("replace") => None,
            _ => Some(Value::Object(clean_map(map))),
        },
        Value::Array(list) => Some(Value::Array(clean_list(list))),
        scalar => Some(scalar.clone()),
    }
}

/// A list copied from the patch: an element carrying `$patch` is a directive about the list,
/// never content.
fn clean_list(list: &[Value]) -> Vec<Value> {
    list.iter()
        .filter(|item| !has_directive_marker(item))
        .filter_map(clean)
        .collect()
}

fn clean_map(map: &Object) -> Object {
    map.iter()
        .filter(|(key, value)| !value.is_null() && !is_directive(key))
        .filter_map(|(key, value)| Some((key.clone(), clean(value)?)))
        .collect()
}

fn has_directive_marker(item: &Value) -> bool {
    item.get(DIRECTIVE_MARKER).is_some()
}

/// Keys that are instructions to the merge, never content. Other keys starting with `$` are
/// content (e.g. `$ref` in a CRD's schema).
fn is_directive(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// `<prefix>/<list>` to `<list>` (upstream's `extractKey`). A `<list>` that is itself a
/// directive is refused, so that no directive key can be written into the result.
fn strip_directive<'k>(key: &'k str, prefix: &str) -> Result<&'k str> {
    match key.split_once('/') {
        Some((head, list)) if head == prefix && !is_directive(list) => Ok(list),
        _ if prefix == SET_ELEMENT_ORDER => Err(PatchError::BadSetElementOrderFormat),
        _ => Err(PatchError::BadPrimitiveListFormat),
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn to_json(value: &(impl serde::Serialize + ?Sized)) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
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
        let order =
            |names: &[i64]| json!(names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>());
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
}
