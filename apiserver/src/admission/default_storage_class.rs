//! DefaultStorageClass (upstream `plugin/pkg/admission/storage/storageclass/setdefault`): a
//! new PersistentVolumeClaim that names no StorageClass gets the default one (annotated
//! `storageclass.kubernetes.io/is-default-class: "true"`; the newest wins when several are).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;

use super::{Attributes, Operation};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// The beta annotation upstream still honours.
const BETA_DEFAULT_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

pub async fn mutate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: &mut dyn KubeObject,
) -> Result<(), ApiError> {
    if attrs.operation != Operation::Create
        || !attrs.is("", "persistentvolumeclaims")
        || attrs.subresource.is_some()
    {
        return Ok(());
    }
    let Some(claim) = obj.as_any_mut().downcast_mut::<PersistentVolumeClaim>() else {
        return Ok(());
    };
    let Some(spec) = claim.spec.as_mut() else {
        return Ok(());
    };
    // An explicit "" asks for no class at all.
    if spec.storage_class_name.is_some() {
        return Ok(());
    }
    let classes: Vec<StorageClass> = server
        .cached_objects("storage.k8s.io", "v1", "storageclasses", None)
        .await?;
    let is_default = |c: &&StorageClass| {
        c.metadata.annotations.as_ref().is_some_and(|a| {
            [DEFAULT_ANNOTATION, BETA_DEFAULT_ANNOTATION]
                .iter()
                .any(|k| a.get(*k).is_some_and(|v| v == "true"))
        })
    };
    let newest = classes.iter().filter(is_default).max_by(|a, b| {
        let created = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a)
            .cmp(&created(b))
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    if let Some(class) = newest {
        spec.storage_class_name = class.metadata.name.clone();
    }
    Ok(())
}
