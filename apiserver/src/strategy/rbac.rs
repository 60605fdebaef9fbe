//! RBAC kinds: plain storage, but names are path segments (`system:node` is valid), as
//! upstream's `ValidateRBACName`. Authorization itself is issue 4.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::strategy::{NameRule, Strategy};

pub struct RbacStrategy<T>(std::marker::PhantomData<fn() -> T>);

impl<T> RbacStrategy<T> {
    pub fn new() -> RbacStrategy<T> {
        RbacStrategy(std::marker::PhantomData)
    }
}

impl<T> Default for RbacStrategy<T> {
    fn default() -> Self {
        RbacStrategy::new()
    }
}

impl<T> Strategy for RbacStrategy<T>
where
    T: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static,
{
    type Object = T;

    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }
}
