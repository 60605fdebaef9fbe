//! Why each metric of an HPA cannot be read, in upstream's words: the errors
//! `metrics/client.go` (`GetResourceMetric`, `GetRawMetric`, `GetObjectMetric`,
//! `GetExternalMetric`), `replica_calculator.go` and the `computeStatusFor*Metric` functions of
//! `horizontal.go` nest into one another, for a cluster whose metrics APIs are absent.
//!
//! No metrics API is read here. Where discovery says one is served, its metrics fail with a
//! "not supported" error instead: reading them is not implemented, and pretending they are
//! absent would mislead.

use k8s_openapi::api::autoscaling::v2::{MetricSpec, MetricTarget};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// The three metrics APIs an HPA's metrics come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsGroup {
    /// `metrics.k8s.io`: Resource and ContainerResource metrics (metrics-server).
    Resource,
    /// `custom.metrics.k8s.io`: Pods and Object metrics (an adapter such as prometheus-adapter).
    Custom,
    /// `external.metrics.k8s.io`: External metrics.
    External,
}

impl MetricsGroup {
    pub const ALL: [MetricsGroup; 3] = [
        MetricsGroup::Resource,
        MetricsGroup::Custom,
        MetricsGroup::External,
    ];

    /// The API group's name.
    pub fn group(self) -> &'static str {
        match self {
            MetricsGroup::Resource => "metrics.k8s.io",
            MetricsGroup::Custom => "custom.metrics.k8s.io",
            MetricsGroup::External => "external.metrics.k8s.io",
        }
    }
}

/// What discovery said about one metrics API group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsApi {
    /// Not served: reads fail as upstream's client fails against such a server.
    Absent,
    /// Served, but this controller manager does not read it.
    Served,
    /// Discovery failed with this message.
    Unknown(String),
}

/// The state of the three metrics APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsApis {
    pub resource: MetricsApi,
    pub custom: MetricsApi,
    pub external: MetricsApi,
}

impl MetricsApis {
    /// From the group names discovery (`GET /apis`) lists.
    pub fn from_served<'a>(groups: impl IntoIterator<Item = &'a str>) -> MetricsApis {
        let served: Vec<&str> = groups.into_iter().collect();
        let state = |group: MetricsGroup| {
            if served.contains(&group.group()) {
                MetricsApi::Served
            } else {
                MetricsApi::Absent
            }
        };
        MetricsApis {
            resource: state(MetricsGroup::Resource),
            custom: state(MetricsGroup::Custom),
            external: state(MetricsGroup::External),
        }
    }

    /// Discovery failed: every read fails with its message.
    pub fn unknown(message: &str) -> MetricsApis {
        let unknown = MetricsApi::Unknown(message.to_owned());
        MetricsApis {
            resource: unknown.clone(),
            custom: unknown.clone(),
            external: unknown,
        }
    }

    fn of(&self, group: MetricsGroup) -> &MetricsApi {
        match group {
            MetricsGroup::Resource => &self.resource,
            MetricsGroup::Custom => &self.custom,
            MetricsGroup::External => &self.external,
        }
    }

    /// The error of a read from `group`; `absent` is the one upstream's client gives when the
    /// group is not served.
    fn read_error(&self, group: MetricsGroup, absent: impl FnOnce() -> String) -> String {
        match self.of(group) {
            MetricsApi::Absent => absent(),
            MetricsApi::Served => format!(
                "not supported: this controller manager does not read metrics from {}",
                group.group()
            ),
            MetricsApi::Unknown(message) => message.clone(),
        }
    }
}

/// One metric that could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFailure {
    /// The ScalingActive condition's reason and the Warning event's
    /// (`getUnableComputeReplicaCountCondition`).
    pub reason: &'static str,
    /// The event's message; the condition's after "the HPA was unable to compute the replica
    /// count: ".
    pub cause: String,
    /// What `computeReplicasForMetric` returns, quoted in FailedComputeMetricsReplicas.
    pub error: String,
}

/// client-go's message for a 404 without a Status body (what an API server answers for a
/// group it does not serve), for a GET of `resource` in `group`.
fn not_found(resource: &str, group: &str) -> String {
    format!("the server could not find the requested resource (get {resource}.{group})")
}

/// `resourceMetricsClient.GetResourceMetric`: a list of `pods.metrics.k8s.io`.
fn resource_metrics_error(apis: &MetricsApis) -> String {
    let cause = apis.read_error(MetricsGroup::Resource, || {
        not_found("pods", "metrics.k8s.io")
    });
    format!("unable to fetch metrics from resource metrics API: {cause}")
}

/// `customMetricsClient`: the custom metrics client first finds the group by discovery
/// (`apiVersionsFromDiscovery.fetchVersions`).
fn custom_metrics_error(apis: &MetricsApis) -> String {
    let cause = apis.read_error(MetricsGroup::Custom, || {
        "no custom metrics API (custom.metrics.k8s.io) registered".to_owned()
    });
    format!("unable to fetch metrics from custom metrics API: {cause}")
}

/// `externalMetricsClient.GetExternalMetric`: a GET of the metric as a resource of
/// `external.metrics.k8s.io`.
fn external_metrics_error(apis: &MetricsApis, metric: &str) -> String {
    let cause = apis.read_error(MetricsGroup::External, || {
        not_found(metric, "external.metrics.k8s.io")
    });
    format!("unable to fetch metrics from external metrics API: {cause}")
}

/// The failure of `spec` for an HPA in `namespace` (`computeReplicasForMetric`).
pub fn metric_failure(spec: &MetricSpec, namespace: &str, apis: &MetricsApis) -> MetricFailure {
    match spec.type_.as_str() {
        "Resource" => match &spec.resource {
            Some(source) => {
                let cause = resource_error(&source.name, &source.target, apis);
                MetricFailure {
                    reason: "FailedGetResourceMetric",
                    error: format!(
                        "failed to get {} resource metric value: {cause}",
                        source.name
                    ),
                    cause,
                }
            }
            None => missing_source("Resource", "resource"),
        },
        "ContainerResource" => match &spec.container_resource {
            Some(source) => {
                let cause = resource_error(&source.name, &source.target, apis);
                MetricFailure {
                    reason: "FailedGetContainerResourceMetric",
                    error: format!(
                        "failed to get {} container metric value: {cause}",
                        source.container
                    ),
                    cause,
                }
            }
            None => missing_source("ContainerResource", "containerResource"),
        },
        "Pods" => match &spec.pods {
            Some(source) => {
                let cause = format!(
                    "unable to get metric {}: {}",
                    source.metric.name,
                    custom_metrics_error(apis)
                );
                MetricFailure {
                    reason: "FailedGetPodsMetric",
                    error: format!("failed to get pods metric value: {cause}"),
                    cause,
                }
            }
            None => missing_source("Pods", "pods"),
        },
        "Object" => match &spec.object {
            Some(source) => {
                let name = &source.metric.name;
                let object = &source.described_object;
                // Upstream's argument order ("%s: %v on %s %s/%s" with the metric, the kind,
                // the namespace, the object's name, the error), kept as users see it.
                let fetched = format!(
                    "unable to get metric {name}: {} on {namespace} {}/{}",
                    object.kind,
                    object.name,
                    custom_metrics_error(apis)
                );
                let target = &source.target;
                let (cause, inner) = if target.type_ == "Value" && target.value.is_some() {
                    (fetched.clone(), fetched)
                } else if target.type_ == "AverageValue" && target.average_value.is_some() {
                    let inner = format!("failed to get {name} object metric: {fetched}");
                    (fetched, inner)
                } else {
                    let message = "invalid object metric source: neither a value target nor an \
                                   average value target was set";
                    (message.to_owned(), message.to_owned())
                };
                MetricFailure {
                    reason: "FailedGetObjectMetric",
                    error: format!("failed to get object metric value: {inner}"),
                    cause,
                }
            }
            None => missing_source("Object", "object"),
        },
        "External" => match &spec.external {
            Some(source) => {
                let name = &source.metric.name;
                let target = &source.target;
                let (cause, inner) = if target.average_value.is_some() || target.value.is_some() {
                    let fetched = format!(
                        "unable to get external metric {namespace}/{name}/{}: {}",
                        go_label_selector(source.metric.selector.as_ref()),
                        external_metrics_error(apis, name)
                    );
                    let inner = format!("failed to get {name} external metric: {fetched}");
                    (fetched, inner)
                } else {
                    let message = "invalid external metric source: neither a value target nor \
                                   an average value target was set";
                    (message.to_owned(), message.to_owned())
                };
                MetricFailure {
                    reason: "FailedGetExternalMetric",
                    error: format!("failed to get {name} external metric value: {inner}"),
                    cause,
                }
            }
            None => missing_source("External", "external"),
        },
        other => {
            let message = format!("unknown metric source type {other:?}");
            MetricFailure {
                reason: "InvalidMetricSourceType",
                cause: message.clone(),
                error: message,
            }
        }
    }
}

/// `computeStatusForResourceMetricGeneric` over `GetResourceReplicas` /
/// `GetRawResourceReplicas`: an average value target reads usage, an average utilization
/// target utilization; neither is a spec error.
fn resource_error(name: &str, target: &MetricTarget, apis: &MetricsApis) -> String {
    let fetched = format!(
        "unable to get metrics for resource {name}: {}",
        resource_metrics_error(apis)
    );
    if target.average_value.is_some() {
        format!("failed to get {name} usage: {fetched}")
    } else if target.average_utilization.is_none() {
        "invalid resource metric source: neither an average utilization target nor an average \
         value (usage) target was set"
            .to_owned()
    } else {
        format!("failed to get {name} utilization: {fetched}")
    }
}

/// A metric whose type names a source it does not carry. API validation refuses such specs;
/// upstream would dereference nil here.
fn missing_source(type_: &str, field: &str) -> MetricFailure {
    let message = format!("invalid {type_} metric source: the {field} field is not set");
    MetricFailure {
        reason: "InvalidMetricSourceType",
        cause: message.clone(),
        error: message,
    }
}

/// A label selector as Go's `%+v` prints a `*metav1.LabelSelector` (its generated `String`),
/// as upstream's external metric errors quote it.
pub fn go_label_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "nil".to_owned();
    };
    let labels: String = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}: {value},"))
        .collect();
    let expressions: String = selector
        .match_expressions
        .iter()
        .flatten()
        .map(|e| {
            let values = e.values.as_deref().unwrap_or_default().join(" ");
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{values}],}},",
                e.key, e.operator
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},\
         MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"
    )
}
