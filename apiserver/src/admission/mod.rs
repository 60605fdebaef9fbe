//! Admission: what every write passes after the strategy has prepared it and before it is
//! stored (upstream `k8s.io/apiserver/pkg/admission` and `plugin/pkg/admission`).
//!
//! Where things go:
//! - `podsecurity/`: the Pod Security Standards and the PodSecurity plugin's decisions.

pub mod podsecurity;
