//! Role-based access control without I/O: the decisions the RBAC authorizer, the escalation
//! checks of the RBAC registry and the ClusterRole aggregation controller make, over objects
//! the caller has already read.
//!
//! Where things go:
//! - `rules.rs`: whether a policy rule allows a request, whether a binding subject names a
//!   user, and how a rule prints in errors (upstream `rbac.go`, `evaluation_helpers.go`).
//! - `covers.rs`: whether the rules a user holds cover the rules of a role being written
//!   (escalation prevention, upstream `policy_comparator.go`).
//! - `aggregate.rs`: the rules of an aggregated ClusterRole (upstream
//!   `clusterroleaggregation_controller.go`).
//! - `bootstrap.rs` and `bootstrap/*.yaml`: the default roles and bindings the API server
//!   creates at start-up (upstream `bootstrappolicy`).
//!
//! Resolving which bindings apply to a request (listing them from storage) and turning a
//! denial into a Status belong to the authorizer and the registry, not here.

pub mod aggregate;
pub mod bootstrap;
pub mod covers;
pub mod rules;

pub use aggregate::{aggregated_rules, rule_equal, rules_equal};
pub use covers::{breakdown_rule, covers};
pub use rules::{CompactRule, applies_to, compact_string, rule_allows};
