//! Objects with their kind erased, so that one generic registry serves every resource while
//! each kind keeps its typed struct (k8s-openapi): a body is decoded once into the struct of its
//! kind, the strategy works on the struct, and the struct is encoded once to the bytes that
//! are stored and served (DESIGN.md, "Objects: decode once, serialize once").

use std::any::Any;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::FieldError;
use crate::strategy::Strategy;

/// A typed object behind a trait object.
pub trait KubeObject: Any + Send + Sync {
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    fn to_json(&self) -> Vec<u8>;
    fn to_value(&self) -> Value;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn clone_box(&self) -> Box<dyn KubeObject>;
    /// Whether `other` is the same object but for `metadata.managedFields` (an update that
    /// would change nothing), compared as typed structs.
    fn same_but_managed_fields(&self, other: &dyn KubeObject) -> bool;
}

impl<T> KubeObject for T
where
    T: k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + Clone
        + PartialEq
        + Send
        + Sync
        + 'static,
{
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }

    fn to_json(&self) -> Vec<u8> {
        // k8s-openapi types serialize infallibly: plain structs, string-keyed maps.
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn clone_box(&self) -> Box<dyn KubeObject> {
        Box::new(self.clone())
    }

    fn same_but_managed_fields(&self, other: &dyn KubeObject) -> bool {
        let Some(other) = other.as_any().downcast_ref::<T>() else {
            return false;
        };
        if self.metadata().managed_fields == other.metadata().managed_fields {
            return self == other;
        }
        let mut mine = self.clone();
        mine.metadata_mut()
            .managed_fields
            .clone_from(&other.metadata().managed_fields);
        mine == *other
    }
}

impl Clone for Box<dyn KubeObject> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A body that did not decode into its kind.
#[derive(Debug)]
pub struct DecodeError(pub String);

/// The per-kind half of the registry: decoding and the strategy's hooks, with the kind erased.
/// One implementation, [`Typed`], covers every kind; a kind's behaviour lives in its
/// [`Strategy`].
pub trait Kind: Send + Sync {
    /// Decodes a JSON value into the kind's struct; fields the struct does not know are
    /// reported to `unknown` by their path (for `fieldValidation`) and dropped.
    fn decode(
        &self,
        value: Value,
        unknown: &mut Vec<String>,
    ) -> Result<Box<dyn KubeObject>, DecodeError>;

    /// Decodes stored bytes (written by this server, so no unknown fields are expected).
    fn decode_stored(&self, bytes: &[u8]) -> Result<Box<dyn KubeObject>, DecodeError>;

    fn prepare_for_create(&self, obj: &mut dyn KubeObject);
    fn prepare_for_update(&self, new: &mut dyn KubeObject, old: &dyn KubeObject);
    fn validate(&self, obj: &dyn KubeObject) -> Vec<FieldError>;
    fn validate_update(&self, new: &dyn KubeObject, old: &dyn KubeObject) -> Vec<FieldError>;
    /// The kind's selectable fields besides `metadata.name` and `metadata.namespace`.
    fn field(&self, obj: &dyn KubeObject, name: &str) -> Option<String>;
    fn selectable_fields(&self) -> &'static [&'static str];
    /// Whether deleting `obj` with a positive grace period only marks it (pods on a node).
    fn graceful_delete(&self, obj: &dyn KubeObject) -> Option<i64>;
    /// Whether something besides `metadata.finalizers` still holds a deleted object.
    fn holds_deletion(&self, obj: &dyn KubeObject) -> bool;
}

/// The [`Kind`] of strategy `S`.
pub struct Typed<S: Strategy> {
    strategy: S,
    _object: PhantomData<fn() -> S::Object>,
}

impl<S: Strategy> Typed<S> {
    pub fn new(strategy: S) -> Typed<S> {
        Typed {
            strategy,
            _object: PhantomData,
        }
    }

    fn cast<'a>(&self, obj: &'a dyn KubeObject) -> &'a S::Object {
        obj.as_any()
            .downcast_ref()
            .expect("the registry only hands a kind its own objects")
    }

    fn cast_mut<'a>(&self, obj: &'a mut dyn KubeObject) -> &'a mut S::Object {
        obj.as_any_mut()
            .downcast_mut()
            .expect("the registry only hands a kind its own objects")
    }
}

impl<S: Strategy> Kind for Typed<S>
where
    S::Object: DeserializeOwned,
{
    fn decode(
        &self,
        value: Value,
        unknown: &mut Vec<String>,
    ) -> Result<Box<dyn KubeObject>, DecodeError> {
        let object: S::Object = serde_ignored::deserialize(value, |path| {
            unknown.push(path.to_string());
        })
        .map_err(|error| DecodeError(error.to_string()))?;
        Ok(Box::new(object))
    }

    fn decode_stored(&self, bytes: &[u8]) -> Result<Box<dyn KubeObject>, DecodeError> {
        let object: S::Object =
            serde_json::from_slice(bytes).map_err(|error| DecodeError(error.to_string()))?;
        Ok(Box::new(object))
    }

    fn prepare_for_create(&self, obj: &mut dyn KubeObject) {
        self.strategy.prepare_for_create(self.cast_mut(obj));
    }

    fn prepare_for_update(&self, new: &mut dyn KubeObject, old: &dyn KubeObject) {
        let old = self.cast(old);
        self.strategy.prepare_for_update(self.cast_mut(new), old);
    }

    fn validate(&self, obj: &dyn KubeObject) -> Vec<FieldError> {
        self.strategy.validate(self.cast(obj))
    }

    fn validate_update(&self, new: &dyn KubeObject, old: &dyn KubeObject) -> Vec<FieldError> {
        self.strategy
            .validate_update(self.cast(new), self.cast(old))
    }

    fn field(&self, obj: &dyn KubeObject, name: &str) -> Option<String> {
        self.strategy.field(self.cast(obj), name)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        self.strategy.selectable_fields()
    }

    fn graceful_delete(&self, obj: &dyn KubeObject) -> Option<i64> {
        self.strategy.graceful_delete(self.cast(obj))
    }

    fn holds_deletion(&self, obj: &dyn KubeObject) -> bool {
        self.strategy.holds_deletion(self.cast(obj))
    }
}
