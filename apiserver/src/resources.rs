//! The table of served resources: one [`Resource`] per (group, version, resource), with its
//! kind's [`Kind`] (decoding + strategy), where it is stored, and what discovery says of it.
//! A new built-in resource is one line in [`builtin`]; a kind with rules of its own also gets
//! a strategy in `strategy/`.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use k8s_openapi::NamespaceResourceScope;

use crate::conversion::{self, Conversion};
use crate::object::{Kind, Typed};
use crate::strategy::{NameRule, Plain, Strategy};

/// A subresource the registry serves for a resource.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Subresource {
    /// `/status`: replaces only `.status`; the main resource ignores changes to it.
    Status,
    /// `/scale`: an `autoscaling/v1` `Scale` over `.spec.replicas`.
    Scale,
    /// `pods/binding`: sets `spec.nodeName` once.
    Binding,
    /// `pods/eviction`: a policy-checked delete.
    Eviction,
    /// `serviceaccounts/token`: a TokenRequest for a bound token.
    Token,
    /// `namespaces/finalize`: replaces only `.spec.finalizers`.
    Finalize,
    /// `certificatesigningrequests/approval`: replaces only `.status.conditions`.
    Approval,
}

impl Subresource {
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Token => "token",
            Subresource::Finalize => "finalize",
            Subresource::Approval => "approval",
        }
    }
}

pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The resource name in URLs (`pods`).
    pub plural: &'static str,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Keys live under `/registry/<storage>/` (upstream's layout, so a stock kube-apiserver
    /// reads the same keys through the etcd facade).
    pub storage: &'static str,
    pub subresources: &'static [Subresource],
    pub name_rule: NameRule,
    /// Whether a PUT of a missing object creates it (upstream `AllowCreateOnUpdate`).
    pub create_on_update: bool,
    /// A review (TokenReview, SubjectAccessReview...): only `create`, answered and never
    /// stored.
    pub create_only: bool,
    pub kind_ops: Box<dyn Kind>,
    /// For a version stored as another version of the same resource: how to convert.
    pub conversion: Option<&'static Conversion>,
    /// The OpenAPI definition name of the kind (`io.k8s.api.core.v1.Pod`).
    pub definition: String,
    /// Adds the kind's schema to an OpenAPI generator.
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

impl Resource {
    /// `apiVersion` of this resource's objects.
    pub fn api_version(&self) -> String {
        match self.group {
            "" => self.version.to_owned(),
            group => format!("{group}/{}", self.version),
        }
    }

    /// `pods`, `deployments.apps`: how upstream names a resource in messages.
    pub fn qualified(&self) -> String {
        match self.group {
            "" => self.plural.to_owned(),
            group => format!("{}.{group}", self.plural),
        }
    }

    /// Whether this is core/v1 `namespaces`, whose deletion is a lifecycle of its own.
    pub fn is_namespaces(&self) -> bool {
        self.group.is_empty() && self.plural == "namespaces"
    }

    pub fn has(&self, subresource: Subresource) -> bool {
        self.subresources.contains(&subresource)
    }

    /// The key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> Bytes {
        let mut key = self.prefix(namespace);
        key.extend_from_slice(name.as_bytes());
        Bytes::from(key)
    }

    /// The prefix of every object in `namespace` (or of all of them).
    pub fn prefix(&self, namespace: Option<&str>) -> Vec<u8> {
        let mut key = format!("/registry/{}/", self.storage).into_bytes();
        if let Some(namespace) = namespace {
            key.extend_from_slice(namespace.as_bytes());
            key.push(b'/');
        }
        key
    }
}

struct Extra {
    conversion: Option<&'static Conversion>,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    storage: Option<&'static str>,
    subresources: &'static [Subresource],
    create_on_update: bool,
    create_only: bool,
}

const NONE: Extra = Extra {
    conversion: None,
    short_names: &[],
    categories: &[],
    storage: None,
    subresources: &[],
    create_on_update: false,
    create_only: false,
};

const REVIEW: Extra = Extra {
    create_only: true,
    ..NONE
};

fn typed<S: Strategy>(strategy: S, extra: Extra) -> Resource
where
    S::Object: schemars::JsonSchema,
{
    type O<S> = <S as Strategy>::Object;
    let namespaced = TypeId::of::<<O<S> as k8s_openapi::Resource>::Scope>()
        == TypeId::of::<NamespaceResourceScope>();
    Resource {
        group: <O<S> as k8s_openapi::Resource>::GROUP,
        version: <O<S> as k8s_openapi::Resource>::VERSION,
        kind: <O<S> as k8s_openapi::Resource>::KIND,
        plural: <O<S> as k8s_openapi::Resource>::URL_PATH_SEGMENT,
        singular: <O<S> as k8s_openapi::Resource>::KIND.to_lowercase(),
        namespaced,
        short_names: extra.short_names,
        categories: extra.categories,
        storage: extra
            .storage
            .unwrap_or(<O<S> as k8s_openapi::Resource>::URL_PATH_SEGMENT),
        subresources: extra.subresources,
        name_rule: strategy.name_rule(),
        create_on_update: extra.create_on_update,
        create_only: extra.create_only,
        kind_ops: Box::new(Typed::new(strategy)),
        conversion: extra.conversion,
        definition: <O<S> as schemars::JsonSchema>::schema_name().into_owned(),
        schema: |generator| generator.subschema_for::<O<S>>(),
    }
}

fn plain<T>(extra: Extra) -> Resource
where
    Plain<T>: Strategy<Object = T>,
    T: schemars::JsonSchema,
{
    typed(Plain::<T>::new(), extra)
}

const STATUS: &[Subresource] = &[Subresource::Status];
const STATUS_SCALE: &[Subresource] = &[Subresource::Status, Subresource::Scale];
const ALL: &[&str] = &["all"];

/// Every built-in resource this server serves.
pub fn builtin() -> Vec<Resource> {
    use crate::strategy::{
        apps as apps_strategy, batch as batch_strategy, config, event, lease, namespace,
        networking as networking_strategy, node, pod, service,
    };
    use k8s_openapi::api::{
        admissionregistration::v1 as admission, apps::v1 as apps, authentication::v1 as authn,
        authorization::v1 as authz, autoscaling::v1 as as1, autoscaling::v2 as as2,
        certificates::v1 as certificates, core::v1 as core, discovery::v1 as discovery,
        events::v1 as events, flowcontrol::v1 as flowcontrol, networking::v1 as networking,
        node::v1 as nodev1, policy::v1 as policy, rbac::v1 as rbacv1, resource::v1 as dra,
        scheduling::v1 as scheduling, storage::v1 as storage,
    };
    let short = |short_names| Extra {
        short_names,
        ..NONE
    };
    let status = |short_names| Extra {
        short_names,
        subresources: STATUS,
        ..NONE
    };
    let workload = |short_names, subresources| Extra {
        short_names,
        categories: ALL,
        subresources,
        ..NONE
    };
    vec![
        // core/v1
        typed(
            pod::PodStrategy,
            Extra {
                short_names: &["po"],
                categories: ALL,
                subresources: &[
                    Subresource::Status,
                    Subresource::Binding,
                    Subresource::Eviction,
                ],
                ..NONE
            },
        ),
        typed(
            service::ServiceStrategy,
            Extra {
                short_names: &["svc"],
                categories: ALL,
                storage: Some("services/specs"),
                subresources: STATUS,
                ..NONE
            },
        ),
        plain::<core::Endpoints>(Extra {
            short_names: &["ep"],
            storage: Some("services/endpoints"),
            create_on_update: true,
            ..NONE
        }),
        typed(
            namespace::NamespaceStrategy,
            Extra {
                short_names: &["ns"],
                subresources: &[Subresource::Status, Subresource::Finalize],
                ..NONE
            },
        ),
        typed(
            node::NodeStrategy,
            Extra {
                short_names: &["no"],
                storage: Some("minions"),
                subresources: STATUS,
                ..NONE
            },
        ),
        typed(config::ConfigMapStrategy, short(&["cm"])),
        typed(config::SecretStrategy, NONE),
        plain::<core::ServiceAccount>(Extra {
            short_names: &["sa"],
            subresources: &[Subresource::Token],
            ..NONE
        }),
        plain::<core::PersistentVolume>(status(&["pv"])),
        plain::<core::PersistentVolumeClaim>(status(&["pvc"])),
        typed(
            event::EventStrategy,
            Extra {
                short_names: &["ev"],
                create_on_update: true,
                ..NONE
            },
        ),
        plain::<core::LimitRange>(short(&["limits"])),
        plain::<core::ResourceQuota>(status(&["quota"])),
        plain::<core::ReplicationController>(Extra {
            storage: Some("controllers"),
            ..workload(&["rc"], STATUS_SCALE)
        }),
        plain::<core::PodTemplate>(NONE),
        // apps/v1
        typed(
            apps_strategy::DeploymentStrategy,
            workload(&["deploy"], STATUS_SCALE),
        ),
        typed(
            apps_strategy::ReplicaSetStrategy,
            workload(&["rs"], STATUS_SCALE),
        ),
        typed(
            apps_strategy::StatefulSetStrategy,
            workload(&["sts"], STATUS_SCALE),
        ),
        typed(apps_strategy::DaemonSetStrategy, workload(&["ds"], STATUS)),
        plain::<apps::ControllerRevision>(NONE),
        // batch/v1
        typed(batch_strategy::JobStrategy, workload(&[], STATUS)),
        typed(batch_strategy::CronJobStrategy, workload(&["cj"], STATUS)),
        // autoscaling: stored as v2, v1 converted.
        plain::<as1::HorizontalPodAutoscaler>(Extra {
            conversion: Some(&conversion::HPA_V1),
            ..workload(&["hpa"], STATUS)
        }),
        plain::<as2::HorizontalPodAutoscaler>(workload(&["hpa"], STATUS)),
        // coordination.k8s.io/v1
        typed(
            lease::LeaseStrategy,
            Extra {
                create_on_update: true,
                ..NONE
            },
        ),
        // discovery.k8s.io/v1
        plain::<discovery::EndpointSlice>(NONE),
        // events.k8s.io/v1: stored as core/v1 events, converted.
        plain::<events::Event>(Extra {
            short_names: &["ev"],
            conversion: Some(&conversion::EVENTS_V1),
            ..NONE
        }),
        // networking.k8s.io/v1
        plain::<networking::Ingress>(Extra {
            storage: Some("ingress"),
            ..status(&["ing"])
        }),
        plain::<networking::IngressClass>(NONE),
        plain::<networking::NetworkPolicy>(short(&["netpol"])),
        typed(networking_strategy::IpAddressStrategy, short(&["ip"])),
        typed(networking_strategy::ServiceCidrStrategy, status(&[])),
        // policy/v1
        plain::<policy::PodDisruptionBudget>(status(&["pdb"])),
        // rbac.authorization.k8s.io/v1
        // (names are path segments, as upstream's `ValidateRBACName`: `system:node`)
        typed(Plain::<rbacv1::Role>::named(NameRule::PathSegment), NONE),
        typed(
            Plain::<rbacv1::RoleBinding>::named(NameRule::PathSegment),
            NONE,
        ),
        typed(
            Plain::<rbacv1::ClusterRole>::named(NameRule::PathSegment),
            NONE,
        ),
        typed(
            Plain::<rbacv1::ClusterRoleBinding>::named(NameRule::PathSegment),
            NONE,
        ),
        // scheduling.k8s.io/v1
        plain::<scheduling::PriorityClass>(short(&["pc"])),
        // storage.k8s.io/v1
        plain::<storage::StorageClass>(short(&["sc"])),
        plain::<storage::CSIDriver>(NONE),
        plain::<storage::CSINode>(NONE),
        plain::<storage::CSIStorageCapacity>(NONE),
        plain::<storage::VolumeAttachment>(status(&[])),
        plain::<storage::VolumeAttributesClass>(short(&["vac"])),
        // node.k8s.io/v1
        plain::<nodev1::RuntimeClass>(NONE),
        // certificates.k8s.io/v1
        plain::<certificates::CertificateSigningRequest>(Extra {
            short_names: &["csr"],
            subresources: &[Subresource::Status, Subresource::Approval],
            ..NONE
        }),
        // admissionregistration.k8s.io/v1
        plain::<admission::MutatingWebhookConfiguration>(NONE),
        plain::<admission::ValidatingWebhookConfiguration>(NONE),
        plain::<admission::ValidatingAdmissionPolicy>(status(&[])),
        plain::<admission::ValidatingAdmissionPolicyBinding>(NONE),
        // resource.k8s.io/v1
        plain::<dra::DeviceClass>(NONE),
        plain::<dra::ResourceClaim>(status(&[])),
        plain::<dra::ResourceClaimTemplate>(NONE),
        plain::<dra::ResourceSlice>(NONE),
        // authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews, never stored.
        plain::<authn::TokenReview>(REVIEW),
        plain::<authn::SelfSubjectReview>(REVIEW),
        plain::<authz::SubjectAccessReview>(REVIEW),
        plain::<authz::SelfSubjectAccessReview>(REVIEW),
        plain::<authz::SelfSubjectRulesReview>(REVIEW),
        plain::<authz::LocalSubjectAccessReview>(REVIEW),
        // flowcontrol.apiserver.k8s.io/v1
        plain::<flowcontrol::FlowSchema>(status(&[])),
        plain::<flowcontrol::PriorityLevelConfiguration>(status(&[])),
    ]
}

/// The resources, found by group, version and name.
pub struct Resources {
    all: Vec<Arc<Resource>>,
    /// By resource name; a name has one entry per group version that serves it.
    by_plural: HashMap<&'static str, Vec<Arc<Resource>>>,
}

impl Resources {
    pub fn new(resources: Vec<Resource>) -> Resources {
        let all: Vec<Arc<Resource>> = resources.into_iter().map(Arc::new).collect();
        let mut by_plural: HashMap<&'static str, Vec<Arc<Resource>>> = HashMap::new();
        for r in &all {
            by_plural.entry(r.plural).or_default().push(Arc::clone(r));
        }
        Resources { all, by_plural }
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<Resource>> {
        self.by_plural
            .get(plural)?
            .iter()
            .find(|r| r.group == group && r.version == version)
    }

    pub fn all(&self) -> &[Arc<Resource>] {
        &self.all
    }

    /// Group names in discovery order (upstream lists the legacy group first, then groups in
    /// a fixed priority; ours is the order of [`builtin`]).
    pub fn groups(&self) -> Vec<&'static str> {
        let mut groups: Vec<&'static str> = Vec::new();
        for r in &self.all {
            if !r.group.is_empty() && !groups.contains(&r.group) {
                groups.push(r.group);
            }
        }
        groups
    }

    /// Versions of `group`, preferred first.
    pub fn versions(&self, group: &str) -> Vec<&'static str> {
        let mut versions: Vec<&'static str> = Vec::new();
        for r in self.all.iter().filter(|r| r.group == group) {
            if !versions.contains(&r.version) {
                versions.push(r.version);
            }
        }
        // autoscaling prefers v2, as upstream.
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        versions
    }

    pub fn in_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Resource>> + 'a {
        self.all
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }
}

/// Upstream's version ordering: GA above beta above alpha, higher numbers first.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let rest = version.strip_prefix('v').unwrap_or(version);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (level, minor) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (level, major, minor)
}
