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
mod tests;
