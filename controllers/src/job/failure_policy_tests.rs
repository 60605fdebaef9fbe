use k8s_openapi::api::batch::v1::{
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule, SuccessPolicyRule,
};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::super::indexed::Interval;
use super::*;

fn exited(name: &str, code: i32) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn failed_pod(containers: Vec<ContainerStatus>, init: Vec<ContainerStatus>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some("Failed".into()),
            container_statuses: Some(containers),
            init_container_statuses: Some(init),
            ..Default::default()
        }),
    }
}

fn on_codes(
    action: &str,
    container: Option<&str>,
    op: &str,
    values: &[i32],
) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: container.map(Into::into),
            operator: op.into(),
            values: values.to_vec(),
        }),
        on_pod_conditions: None,
    }
}

#[test]
fn exit_code_rules() {
    let main = || failed_pod(vec![exited("main", 3), exited("side", 0)], vec![]);
    let init = || failed_pod(vec![], vec![exited("setup", 5)]);
    // (rules, pod, action)
    let cases = [
        (
            vec![on_codes("Ignore", None, "In", &[3])],
            main(),
            Some(Action::Ignore),
        ),
        (
            vec![on_codes("Count", None, "NotIn", &[1, 2])],
            main(),
            Some(Action::Count),
        ),
        (vec![on_codes("Ignore", None, "NotIn", &[3])], main(), None),
        (
            vec![on_codes("Ignore", Some("side"), "In", &[0, 3])],
            main(),
            None,
        ),
        (
            vec![on_codes("FailIndex", Some("setup"), "In", &[5])],
            init(),
            Some(Action::FailIndex),
        ),
        (
            vec![
                on_codes("Unknown", None, "In", &[3]),
                on_codes("Count", None, "In", &[3]),
            ],
            main(),
            Some(Action::Count),
        ),
    ];
    for (rules, pod, action) in cases {
        let m = match_pod_failure_policy(
            Some(&PodFailurePolicy {
                rules: rules.clone(),
            }),
            &pod,
        );
        assert_eq!(m.action, action, "{rules:?}");
        assert_eq!(m.counts, action != Some(Action::Ignore));
        assert_eq!(m.fail_job_message, None);
    }
    let fail = PodFailurePolicy {
        rules: vec![
            on_codes("Ignore", None, "In", &[9]),
            on_codes("FailJob", None, "In", &[3]),
        ],
    };
    assert_eq!(
        match_pod_failure_policy(Some(&fail), &main())
            .fail_job_message
            .as_deref(),
        Some(
            "Container main for pod ns/p failed with exit code 3 matching FailJob rule at index 1"
        )
    );
}

#[test]
fn pod_condition_rules() {
    let mut pod = failed_pod(vec![exited("main", 137)], vec![]);
    if let Some(s) = pod.status.as_mut() {
        s.conditions = Some(vec![PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            ..Default::default()
        }]);
    }
    let rule = |status: Option<&str>| PodFailurePolicyRule {
        action: "FailJob".into(),
        on_exit_codes: None,
        on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
            type_: "DisruptionTarget".into(),
            status: status.map(Into::into),
        }]),
    };
    let matched = |status| {
        match_pod_failure_policy(
            Some(&PodFailurePolicy {
                rules: vec![rule(status)],
            }),
            &pod,
        )
    };
    let message = "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0";
    assert_eq!(
        matched(None).fail_job_message.as_deref(),
        Some(message),
        "status defaults to True"
    );
    assert_eq!(matched(Some("False")).action, None);
    assert!(match_pod_failure_policy(None, &pod).counts);
}

#[test]
fn success_policy_rules() {
    let succeeded = OrderedIntervals(vec![
        Interval { first: 0, last: 2 },
        Interval { first: 5, last: 5 },
    ]);
    let rule = |indexes: Option<&str>, count: Option<i32>| SuccessPolicyRule {
        succeeded_indexes: indexes.map(Into::into),
        succeeded_count: count,
    };
    // (rules, message)
    let cases = [
        (
            vec![rule(Some("0-2"), None)],
            Some("Matched rules at index 0"),
        ),
        (vec![rule(Some("0-3"), None)], None),
        (
            vec![rule(Some("0-3"), Some(3))],
            Some("Matched rules at index 0"),
        ),
        (
            vec![rule(Some("x"), Some(1)), rule(None, Some(4))],
            Some("Matched rules at index 1"),
        ),
        (vec![rule(None, Some(5))], None),
        (vec![rule(Some("4,5"), Some(2))], None),
    ];
    for (rules, want) in cases {
        let policy = SuccessPolicy {
            rules: rules.clone(),
        };
        assert_eq!(
            match_success_policy(Some(&policy), 8, &succeeded).as_deref(),
            want,
            "{rules:?}"
        );
    }
    let any = SuccessPolicy {
        rules: vec![rule(None, Some(0))],
    };
    assert_eq!(
        match_success_policy(Some(&any), 8, &OrderedIntervals::default()),
        None,
        "nothing succeeded yet"
    );
}
