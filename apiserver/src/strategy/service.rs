//! Services (upstream `pkg/registry/core/service/strategy.go`). ClusterIPs, NodePorts and IP
//! families are allocated by `crate::service_alloc`, a write hook of the registry that needs
//! the server's service ranges and state (upstream's `BeginCreate`/`BeginUpdate`).

use k8s_openapi::api::core::v1::{Service, ServiceStatus};

use crate::error::FieldError;
use crate::strategy::{NameRule, Strategy};

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    type Object = Service;

    fn name_rule(&self) -> NameRule {
        NameRule::Rfc1035Label
    }

    fn prepare_for_create(&self, svc: &mut Service) {
        svc.status = Some(ServiceStatus::default());
        super::service_defaults::apply(svc);
        super::service_defaults::prepare_create(svc);
    }

    fn prepare_for_update(&self, new: &mut Service, old: &Service) {
        super::service_defaults::apply(new);
        super::service_defaults::prepare_update(new, old);
    }

    fn validate(&self, svc: &Service) -> Vec<FieldError> {
        super::service_validation::validate(svc)
    }

    fn validate_update(&self, new: &Service, old: &Service) -> Vec<FieldError> {
        super::service_validation::validate_update(new, old)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.clusterIP", "spec.type"]
    }

    fn field(&self, svc: &Service, name: &str) -> Option<String> {
        let spec = svc.spec.as_ref();
        Some(match name {
            "spec.clusterIP" => spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default(),
            "spec.type" => spec.and_then(|s| s.type_.clone()).unwrap_or_default(),
            _ => return None,
        })
    }
}
