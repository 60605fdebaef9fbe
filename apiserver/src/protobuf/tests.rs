use proptest::prelude::*;
use serde_json::{Value, json};

use super::wire::{WireType, put_bytes, put_key, put_message, put_varint};
use super::*;

/// The object with every null removed: nulls are not written (a Go reader takes an absent
/// field as its zero), so they do not come back.
pub(super) fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        v => v,
    }
}

#[track_caller]
fn assert_round_trip(object: Value) {
    let bytes = encode(&object).expect("encodes");
    assert_eq!(&bytes[..4], b"k8s\0");
    let (type_meta, decoded) = decode(&bytes).expect("decodes");
    assert_eq!(type_meta, TypeMeta::of(&object).expect("typed"));
    assert_eq!(decoded, without_nulls(object));
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "uid": "0b7c2c0e-4a5e-4cf5-9d8e-3c2a5f0e1b2a",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2024-05-06T07:08:09Z",
            "deletionTimestamp": "2024-05-06T07:18:09Z",
            "deletionGracePeriodSeconds": 0,
            "labels": {"app": "web", "tier": "frontend"},
            "annotations": {"note": ""},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                "uid": "6d1c", "controller": true, "blockOwnerDeletion": false
            }],
            "finalizers": ["example.com/keep"],
            "managedFields": [{
                "manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                "time": "2024-05-06T07:08:09Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}
            }]
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "nginx:1.27",
                "command": ["nginx"],
                "args": ["-g", "daemon off;"],
                "ports": [
                    {"name": "http", "containerPort": 80, "protocol": "TCP"},
                    {"containerPort": 0, "hostPort": 8443, "protocol": "UDP"}
                ],
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {
                        "resource": "limits.memory", "divisor": "1Mi"}}}
                ],
                "envFrom": [{"prefix": "X_", "secretRef": {"name": "creds", "optional": true}}],
                "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi", "nvidia.com/gpu": "1"},
                    "requests": {"cpu": "250m", "memory": "64Mi"}
                },
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                    "periodSeconds": 10,
                    "failureThreshold": 3
                },
                "readinessProbe": {"tcpSocket": {"port": "http"}, "timeoutSeconds": 1},
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}],
                "securityContext": {
                    "runAsUser": 0,
                    "runAsNonRoot": false,
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}
                },
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePolicy": "File"
            }],
            "volumes": [
                {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "conf", "configMap": {"name": "web-conf", "defaultMode": 420,
                    "items": [{"key": "a", "path": "a.conf", "mode": 256}]}},
                {"name": "token", "projected": {"sources": [{"serviceAccountToken": {
                    "path": "token", "expirationSeconds": 3600}}]}}
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "activeDeadlineSeconds": 0,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "automountServiceAccountToken": false,
            "hostNetwork": true,
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300},
                {"operator": "Exists"}
            ],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
            "priority": -5,
            "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]},
            "overhead": {"cpu": "10m"},
            "imagePullSecrets": [{"name": "regcred"}]
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True",
                            "lastProbeTime": null,
                            "lastTransitionTime": "2024-05-06T07:08:19Z"}],
            "hostIP": "10.0.0.5",
            "hostIPs": [{"ip": "10.0.0.5"}],
            "podIP": "10.244.1.7",
            "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
            "startTime": "2024-05-06T07:08:10Z",
            "qosClass": "Burstable",
            "containerStatuses": [{
                "name": "web", "ready": true, "restartCount": 0, "image": "nginx:1.27",
                "imageID": "", "started": true,
                "state": {"running": {"startedAt": "2024-05-06T07:08:11Z"}},
                "lastState": {}
            }]
        }
    })
}

#[test]
fn a_rich_pod_round_trips() {
    assert_round_trip(pod());
}

#[test]
fn a_deployment_round_trips_with_zero_replicas() {
    assert_round_trip(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "NotIn",
                                               "values": ["db"]}]},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}
            },
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        },
        "status": {"observedGeneration": 1,
                   "conditions": [{"type": "Available", "status": "True",
                                   "lastUpdateTime": "2024-01-01T00:00:00Z",
                                   "lastTransitionTime": "2024-01-01T00:00:00Z",
                                   "reason": "MinimumReplicasAvailable", "message": "ok"}]}
    }));
}

#[test]
fn a_service_round_trips() {
    assert_round_trip(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080,
                 "nodePort": 30080},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"},
                {"name": "zero", "protocol": "TCP", "port": 9091, "targetPort": 0}
            ],
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10", "fd00::a"],
            "externalIPs": ["192.0.2.1"],
            "ipFamilies": ["IPv4", "IPv6"],
            "ipFamilyPolicy": "PreferDualStack",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 31000,
            "allocateLoadBalancerNodePorts": false,
            "publishNotReadyAddresses": true
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ports": [
            {"port": 80, "protocol": "TCP"}]}]}}
    }));
}

#[test]
fn a_secret_round_trips_with_bytes() {
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "type": "Opaque",
        "immutable": false,
        "data": {"password": "czNjcjN0", "binary": "AAH/", "empty": ""}
    });
    assert_round_trip(secret.clone());
    // The bytes on the wire are the decoded ones, not the base64 text.
    let bytes = encode(&secret).expect("encodes");
    assert!(bytes.windows(6).any(|w| w == b"s3cr3t"));
    let bad = json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}});
    let err = encode(&bad).expect_err("bad base64");
    assert!(
        err.to_string().starts_with("data[k]: invalid base64"),
        "{err}"
    );
}

#[test]
fn a_node_round_trips() {
    assert_round_trip(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"],
                 "providerID": "aws:///us-east-1a/i-0abc", "unschedulable": true,
                 "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule",
                             "timeAdded": "2024-02-03T04:05:06Z"}]},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110",
                         "aws.amazon.com/neuron": "2"},
            "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True",
                            "lastHeartbeatTime": "2024-02-03T04:05:06Z",
                            "lastTransitionTime": "2024-02-03T04:00:00Z",
                            "reason": "KubeletReady", "message": "kubelet is posting ready"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"},
                          {"type": "Hostname", "address": "node-1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b",
                         "kernelVersion": "6.1", "osImage": "Debian", "containerRuntimeVersion":
                         "containerd://2.0", "kubeletVersion": "v1.35.0",
                         "kubeProxyVersion": "", "operatingSystem": "linux",
                         "architecture": "amd64"},
            "images": [{"names": ["nginx:1.27"], "sizeBytes": 71_000_000_i64}],
            "volumesAttached": [{"name": "vol", "devicePath": "/dev/xvdb"}]
        }
    }));
}

#[test]
fn a_configmap_round_trips() {
    assert_round_trip(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "creationTimestamp": null},
        "data": {"a": "b", "multi": "line 1\nline 2\n", "unicode": "żółw"},
        "binaryData": {"bin": "3q2+7w=="}
    }));
}

#[test]
fn a_lease_round_trips_with_micro_time() {
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                 "acquireTime": "2024-05-06T07:08:09.000000Z",
                 "renewTime": "2024-05-06T07:08:09.123456Z", "leaseTransitions": 0}
    });
    assert_round_trip(lease.clone());
    // Offsets and extra digits are accepted and normalised as Go's JSON would be.
    let mut other = lease;
    other["spec"]["renewTime"] = json!("2024-05-06T09:08:09.1234567+02:00");
    let (_, decoded) = decode(&encode(&other).expect("encodes")).expect("decodes");
    assert_eq!(
        decoded["spec"]["renewTime"],
        json!("2024-05-06T07:08:09.123456Z")
    );
}

#[test]
fn events_round_trip() {
    assert_round_trip(json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-0.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0",
                           "uid": "0b7c", "apiVersion": "v1", "fieldPath": "spec.containers{web}"},
        "reason": "Started", "message": "Started container web",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-06T07:08:09Z", "lastTimestamp": "2024-05-06T07:08:19Z",
        "count": 2, "type": "Normal",
        "eventTime": "2024-05-06T07:08:09.500000Z",
        "series": {"count": 2, "lastObservedTime": "2024-05-06T07:08:19.000001Z"},
        "reportingComponent": "kubelet", "reportingInstance": "node-1"
    }));
    assert_round_trip(json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "x", "namespace": "default"},
        "eventTime": "2024-05-06T07:08:09.500000Z",
        "reportingController": "example.com/c", "reportingInstance": "c-1",
        "action": "Bind", "reason": "Scheduled", "note": "placed",
        "regarding": {"kind": "Pod", "name": "web-0"},
        "deprecatedCount": 1, "type": "Normal"
    }));
}

#[test]
fn zero_scalars_follow_upstream_json() {
    // Go writes every non-pointer scalar, zero or not; its JSON omits the `omitempty` ones.
    let mut meta = Vec::new();
    put_bytes(&mut meta, 1, b"x"); // name
    put_bytes(&mut meta, 2, b""); // generateName, omitempty
    put_key(&mut meta, 7, WireType::Varint); // generation, omitempty
    put_varint(&mut meta, 0);
    put_key(&mut meta, 10, WireType::Varint); // deletionGracePeriodSeconds, a pointer
    put_varint(&mut meta, 0);
    let mut port = Vec::new();
    put_key(&mut port, 3, WireType::Varint); // containerPort, not omitempty
    put_varint(&mut port, 0);
    put_key(&mut port, 2, WireType::Varint); // hostPort, omitempty
    put_varint(&mut port, 0);
    let pod = raw_envelope("v1", "Pod", |b| {
        put_bytes(b, 1, &meta);
        let mut container = Vec::new();
        put_bytes(&mut container, 1, b"c");
        put_bytes(&mut container, 6, &port);
        let mut spec = Vec::new();
        put_bytes(&mut spec, 2, &container);
        put_bytes(b, 2, &spec);
    });
    let (_, object) = decode(&pod).expect("decodes");
    assert_eq!(
        object,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "x", "deletionGracePeriodSeconds": 0},
               "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 0}]}]}})
    );
}

/// An envelope around a message written by hand.
fn raw_envelope(api_version: &str, kind: &str, write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut message = Vec::new();
    write(&mut message);
    let type_meta = TypeMeta {
        api_version: api_version.into(),
        kind: kind.into(),
    };
    envelope(&type_meta, &message)
}

#[test]
fn packed_repeated_scalars_and_unknown_fields_are_read() {
    // `PodSecurityContext.supplementalGroups` (tag 4) is `repeated int64`, which Go writes
    // unpacked; a proto3 writer packs it.
    let mut psc = Vec::new();
    let mut packed = Vec::new();
    for g in [1000_u64, 2000, 3000] {
        put_varint(&mut packed, g);
    }
    put_bytes(&mut psc, 4, &packed);
    put_key(&mut psc, 4, WireType::Varint);
    put_varint(&mut psc, 4000);
    put_key(&mut psc, 999, WireType::Fixed32); // unknown: skipped
    psc.extend_from_slice(&[1, 2, 3, 4]);
    put_bytes(&mut psc, 998, b"unknown too");
    let pod = raw_envelope("v1", "Pod", |b| {
        let mut spec = Vec::new();
        put_bytes(&mut spec, 14, &psc);
        put_bytes(b, 2, &spec);
    });
    let (_, object) = decode(&pod).expect("decodes");
    assert_eq!(
        object["spec"]["securityContext"]["supplementalGroups"],
        json!([1000, 2000, 3000, 4000])
    );
}

#[test]
fn repeated_occurrences_of_a_message_merge() {
    let pod = raw_envelope("v1", "Pod", |b| {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        put_bytes(&mut first, 1, b"a");
        put_bytes(&mut second, 3, b"ns");
        put_bytes(b, 1, &first);
        put_bytes(b, 1, &second);
    });
    let (_, object) = decode(&pod).expect("decodes");
    assert_eq!(object["metadata"], json!({"name": "a", "namespace": "ns"}));
}

#[test]
fn special_types() {
    let cases = [
        // IntOrString, both ways, in a PodDisruptionBudget.
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": "p"},
               "spec": {"minAvailable": 2, "maxUnavailable": "10%",
                        "selector": {"matchLabels": {"a": "b"}}}}),
        // RawExtension: ControllerRevision.data holds any JSON.
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
               "metadata": {"name": "r"}, "revision": 2,
               "data": {"spec": {"template": {"x": [1, 2.5, null, "s"]}}}}),
        // StringList: the `extra` of a SubjectAccessReview and of a CSR.
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "metadata": {}, "spec": {"user": "u", "groups": ["g"],
               "extra": {"scopes": ["a", "b"], "none": []},
               "resourceAttributes": {"verb": "get", "resource": "pods"}},
               "status": {"allowed": false}}),
        json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
               "metadata": {"name": "csr"},
               "spec": {"request": "LS0tLS1CRUdJTg==", "signerName": "example.com/s",
                        "expirationSeconds": 600, "usages": ["client auth"],
                        "extra": {"k": ["v"]}}}),
        // Inlined messages: RuleWithOperations inlines Rule.
        json!({"apiVersion": "admissionregistration.k8s.io/v1",
               "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "v"},
               "webhooks": [{"name": "w.example.com", "admissionReviewVersions": ["v1"],
                             "sideEffects": "None", "timeoutSeconds": 5,
                             "clientConfig": {"url": "https://x", "caBundle": "AAEC"},
                             "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                        "apiVersions": ["v1"], "resources": ["pods"],
                                        "scope": "Namespaced"}]}]}),
        // Scale (kubectl scale sends it) and Binding (the scheduler sends it).
        json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"replicas": 2}, "status": {"replicas": 3, "selector": "app=web"}}),
        json!({"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": "web-0", "namespace": "default"},
               "target": {"kind": "Node", "name": "node-1"}}),
        // Status and DeleteOptions, which every group accepts.
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
               "message": "pods \"x\" not found", "reason": "NotFound",
               "details": {"name": "x", "kind": "pods"}, "code": 404}),
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
               "propagationPolicy": "Foreground", "preconditions": {"uid": "u"},
               "dryRun": ["All"]}),
    ];
    for case in cases {
        assert_round_trip(case);
    }
}

#[test]
fn time_forms() {
    let meta = |t: &str| {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n",
               "creationTimestamp": t}})
    };
    let round = |t: &str| {
        let (_, v) = decode(&encode(&meta(t)).expect("encodes")).expect("decodes");
        v["metadata"]["creationTimestamp"].clone()
    };
    // Time is whole seconds in UTC, as Go writes it; fractions are dropped, not rounded.
    assert_eq!(
        round("2024-05-06T07:08:09.999Z"),
        json!("2024-05-06T07:08:09Z")
    );
    assert_eq!(
        round("2024-05-06T09:08:09+02:00"),
        json!("2024-05-06T07:08:09Z")
    );
    assert_eq!(round("1970-01-01T00:00:00Z"), json!("1970-01-01T00:00:00Z"));
    assert_eq!(
        round("1969-12-31T23:59:59.5Z"),
        json!("1969-12-31T23:59:59Z")
    );
    let err = encode(&meta("yesterday")).expect_err("not a time");
    assert!(
        err.to_string()
            .starts_with("metadata.creationTimestamp: invalid time"),
        "{err}"
    );
}

#[test]
fn lists_are_built_from_item_messages() {
    let items: Vec<Vec<u8>> = ["a", "b"]
        .iter()
        .map(|name| {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name}, "data": {"k": name}});
            encode_message(&cm).expect("encodes").1
        })
        .collect();
    let list = encode_list(
        "v1",
        "ConfigMapList",
        &json!({"resourceVersion": "7"}),
        &items,
    )
    .expect("encodes");
    let (type_meta, object) = decode(&list).expect("decodes");
    assert_eq!(type_meta.kind, "ConfigMapList");
    assert_eq!(
        object,
        json!({"apiVersion": "v1", "kind": "ConfigMapList",
               "metadata": {"resourceVersion": "7"},
               "items": [{"metadata": {"name": "a"}, "data": {"k": "a"}},
                         {"metadata": {"name": "b"}, "data": {"k": "b"}}]})
    );
    // The same as encoding the list object whole.
    assert_eq!(encode(&object), Ok(list));
    assert_eq!(
        encode_list("v1", "ConfigMap", &Value::Null, &items),
        Err(ProtobufError::UnsupportedKind {
            api_version: "v1".into(),
            kind: "ConfigMap".into()
        })
    );
}

#[test]
fn watch_events_are_framed() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a",
                        "resourceVersion": "9"}});
    let frame = encode_watch_event("ADDED", &encode(&object).expect("encodes"));
    let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    assert_eq!(len, frame.len() - 4);
    let event = decode_watch_event(&frame[4..]).expect("decodes");
    assert_eq!(event.event_type, "ADDED");
    assert_eq!(event.type_meta.kind, "ConfigMap");
    assert_eq!(event.object, object);
    // A WatchEvent is also a kind of its own, whose object a RawExtension holds.
    let (_, as_kind) = decode(&raw_envelope("v1", "WatchEvent", |b| {
        b.extend_from_slice(&frame[4..])
    }))
    .expect("decodes");
    assert_eq!(
        as_kind,
        json!({"apiVersion": "v1", "kind": "WatchEvent", "type": "ADDED", "object": object})
    );
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(decode(b"{\"kind\":\"Pod\"}"), Err(ProtobufError::BadMagic));
    assert_eq!(decode(b"k8s\0\x0a\x05\x0a"), Err(ProtobufError::Truncated));
    let unknown = raw_envelope("example.com/v1", "Widget", |_| {});
    assert_eq!(
        decode(&unknown).map_err(|e| e.to_string()),
        Err("not supported: protobuf for example.com/v1/Widget".to_owned())
    );
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget"});
    assert!(matches!(
        encode(&widget),
        Err(ProtobufError::UnsupportedKind { .. })
    ));
    assert_eq!(
        encode(&json!({"kind": "Pod"})),
        Err(ProtobufError::MissingKind)
    );
    let bad = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": 5}]}});
    assert_eq!(
        encode(&bad).map_err(|e| e.to_string()),
        Err("spec.containers[0].name: expected a string".to_owned())
    );
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1e10}});
    assert!(encode(&bad).is_err());
    // A string where a message belongs, on the wire.
    let wrong = raw_envelope("v1", "Pod", |b| {
        put_key(b, 1, WireType::Varint);
        put_varint(b, 1);
    });
    assert_eq!(
        decode(&wrong).map_err(|e| e.to_string()),
        Err("metadata: wrong protobuf wire type for a field of type message".to_owned())
    );
    assert!(message_names("v1", "Pod").is_some() && message_names("v1", "Nope").is_none());
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    // ControllerRevision.data is a RawExtension, which may hold another envelope.
    let mut inner = raw_envelope("apps/v1", "ControllerRevision", |_| {});
    for _ in 0..200 {
        inner = raw_envelope("apps/v1", "ControllerRevision", |b| {
            put_message(b, 2, |d| {
                put_bytes(d, 1, &inner);
                Ok::<_, ProtobufError>(())
            })
            .expect("writes");
        });
    }
    assert_eq!(
        decode(&inner).map_err(|e| matches!(e, ProtobufError::At { .. })),
        Err(true)
    );
    assert!(
        decode(&inner)
            .expect_err("too deep")
            .to_string()
            .ends_with("levels deep")
    );
}

fn valid_bodies() -> Vec<Vec<u8>> {
    let mut bodies = vec![encode(&pod()).expect("encodes")];
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "spec": {"renewTime": "2024-05-06T07:08:09.123456Z"}});
    bodies.push(encode(&lease).expect("encodes"));
    bodies
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
        let _ = decode_watch_event(&bytes);
        let mut enveloped = b"k8s\0".to_vec();
        enveloped.extend_from_slice(&bytes);
        let _ = decode(&enveloped);
    }

    #[test]
    fn random_messages_of_real_kinds_never_panic(
        kind in prop::sample::select(vec!["Pod", "Node", "Service", "Secret", "Event", "Binding"]),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = decode(&raw_envelope("v1", kind, |b| b.extend_from_slice(&body)));
    }

    #[test]
    fn mutated_valid_bodies_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = valid_bodies().swap_remove(which);
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let _ = decode(&body);
        let _ = decode(&body[..cut.index(body.len())]);
    }
}
