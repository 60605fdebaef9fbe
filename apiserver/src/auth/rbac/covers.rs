//! Escalation prevention: whether the rules a user holds cover the rules of a Role or
//! ClusterRole the user wants to write.
//!
//! Mirrors upstream `pkg/registry/rbac/validation/policy_comparator.go` (`Covers`,
//! `BreakdownRule`, `ruleCovers`), now in `k8s.io/component-helpers/auth/rbac/validation`:
//!
//! 1. Every requested rule is broken down into rules of one API group, one resource, one verb
//!    and at most one resource name (or one URL and one verb).
//! 2. Each such atom is compared with each owner rule alone. Because an atom is atomic, it is
//!    either covered by a single owner rule or not at all; rules are never combined.
//! 3. The atoms left over are the answer, in request order, so that the error message lists
//!    exactly what the user lacks.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::rules::{API_GROUP_ALL, RESOURCE_ALL, VERB_ALL, strings, url_prefix_matches};

/// `Ok` when `owner` covers every rule of `requested`; otherwise the uncovered atoms of
/// [`breakdown_rule`], each with one verb.
pub fn covers(owner: &[PolicyRule], requested: &[PolicyRule]) -> Result<(), Vec<PolicyRule>> {
    let uncovered: Vec<PolicyRule> = requested
        .iter()
        .flat_map(breakdown_rule)
        .filter(|atom| !owner.iter().any(|rule| rule_covers(rule, atom)))
        .collect();
    if uncovered.is_empty() {
        Ok(())
    } else {
        Err(uncovered)
    }
}

/// A rule as an equivalent list of rules with at most one API group, resource, verb and
/// resource name each (groups outermost, then resources, verbs, names), followed by one rule
/// per URL and verb. A rule with groups but no resources, or resources but no groups, breaks
/// down into nothing, so it is always covered: upstream behaves the same, and validation
/// rejects such rules before they get here.
pub fn breakdown_rule(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| Some(vec![s.clone()]);
    let mut atoms = Vec::new();
    for group in strings(&rule.api_groups) {
        for resource in strings(&rule.resources) {
            for verb in &rule.verbs {
                let atom = |resource_names| PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    resource_names,
                    non_resource_urls: None,
                };
                let names = strings(&rule.resource_names);
                if names.is_empty() {
                    atoms.push(atom(None));
                } else {
                    atoms.extend(names.iter().map(|name| atom(one(name))));
                }
            }
        }
    }
    for url in strings(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            atoms.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..Default::default()
            });
        }
    }
    atoms
}

/// Whether `owner` alone covers `atom` (a rule from [`breakdown_rule`]). An owner rule with
/// resource names covers only atoms naming one of them; one without covers every name.
fn rule_covers(owner: &PolicyRule, atom: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, VERB_ALL) || has_all(&owner.verbs, &atom.verbs);
    let owner_groups = strings(&owner.api_groups);
    let groups =
        has(owner_groups, API_GROUP_ALL) || has_all(owner_groups, strings(&atom.api_groups));
    let resources = resources_cover_all(strings(&owner.resources), strings(&atom.resources));
    let urls = urls_cover_all(
        strings(&owner.non_resource_urls),
        strings(&atom.non_resource_urls),
    );
    let owner_names = strings(&owner.resource_names);
    let atom_names = strings(&atom.resource_names);
    let names =
        owner_names.is_empty() || (!atom_names.is_empty() && has_all(owner_names, atom_names));
    verbs && groups && resources && names && urls
}

/// `*` covers everything; otherwise each resource must be listed, or be a subresource whose
/// `*/subresource` is listed.
fn resources_cover_all(owner: &[String], wanted: &[String]) -> bool {
    has(owner, RESOURCE_ALL)
        || wanted.iter().all(|resource| {
            has(owner, resource)
                || resource
                    .split_once('/')
                    .is_some_and(|(_, sub)| owner.iter().any(|o| o.strip_prefix("*/") == Some(sub)))
        })
}

/// Each URL must equal an owner URL or fall under an owner URL ending in `*`. Unlike rule
/// matching, a lone `*` is no special case here: it is simply the prefix "" with a star.
fn urls_cover_all(owner: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|url| owner.iter().any(|o| o == url || url_prefix_matches(o, url)))
}

fn has(set: &[String], element: &str) -> bool {
    set.iter().any(|s| s == element)
}

fn has_all(set: &[String], elements: &[String]) -> bool {
    elements.iter().all(|e| has(set, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::rules::compact_string;

    /// A rule from a short form: `verbs|groups|resources|names|urls`, each comma-separated,
    /// `-` for the core group.
    fn r(spec: &str) -> PolicyRule {
        let mut parts = spec.split('|').map(|part| {
            let items: Vec<String> = part
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s == "-" {
                        String::new()
                    } else {
                        s.to_string()
                    }
                })
                .collect();
            items
        });
        let mut next = || parts.next().unwrap_or_default();
        let opt = |v: Vec<String>| if v.is_empty() { None } else { Some(v) };
        let verbs = next();
        PolicyRule {
            verbs,
            api_groups: opt(next()),
            resources: opt(next()),
            resource_names: opt(next()),
            non_resource_urls: opt(next()),
        }
    }

    fn rules(specs: &[&str]) -> Vec<PolicyRule> {
        specs.iter().map(|s| r(s)).collect()
    }

    /// A name, the owner's rules, the requested rules, and the uncovered atoms expected.
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );

    /// The cases of upstream's `policy_comparator_test.go`, plus subresource wildcards.
    #[test]
    fn covers_cases() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("exact match", &["get|-|pods"], &["get|-|pods"], &[]),
            ("broader covers narrower",
                &["get,list,watch|-,apps|pods,deployments"], &["get|apps|pods", "watch|-|deployments"], &[]),
            ("star verb, group and resource", &["*|*|*"], &["delete|apps|deployments|web", "get|-|pods/log"], &[]),
            ("missing verb", &["get|-|pods"], &["get,delete|-|pods"], &["delete|-|pods"]),
            ("missing group", &["get|apps|deployments"], &["get|extensions|deployments"],
                &["get|extensions|deployments"]),
            ("rules are not combined", &["get|-|pods", "list|-|secrets"], &["get,list|-|pods"], &["list|-|pods"]),
            ("several owners cover several atoms", &["get|-|pods", "list|-|pods"], &["get,list|-|pods"], &[]),
            ("resource names: unnamed owner covers named", &["get|-|pods"], &["get|-|pods|a,b"], &[]),
            ("resource names: named owner covers the same name", &["get|-|pods|a"], &["get|-|pods|a"], &[]),
            ("resource names: named owner misses other names", &["get|-|pods|a"], &["get|-|pods|a,b"],
                &["get|-|pods|b"]),
            ("resource names: named owner does not cover unnamed", &["get|-|pods|a"], &["get|-|pods"],
                &["get|-|pods"]),
            ("subresource wildcard", &["get|-|*/status"], &["get|-|pods/status,nodes/status"], &[]),
            ("subresource wildcard misses the parent", &["get|-|*/status"], &["get|-|pods"], &["get|-|pods"]),
            ("resource does not cover its subresource", &["get|-|pods"], &["get|-|pods/log"], &["get|-|pods/log"]),
            ("urls exact", &["get||||/healthz"], &["get||||/healthz"], &[]),
            ("urls star prefix", &["get||||/api/*"], &["get||||/api/v1,/api/v1/pods"], &[]),
            ("urls star covers all", &["*||||*"], &["get,post||||/anything"], &[]),
            ("urls miss", &["get||||/api/*"], &["get||||/apis,/api"], &["get||||/apis", "get||||/api"]),
            ("url rule does not cover resources", &["*||||*"], &["get|-|pods"], &["get|-|pods"]),
            ("resource rule does not cover urls", &["*|*|*"], &["get||||/healthz"], &["get||||/healthz"]),
            ("mixed rule breaks into both kinds", &["get|-|pods"], &["get|-|pods||/metrics"], &["get||||/metrics"]),
            ("uncovered atoms keep request order",
                &[], &["get,list|-,apps|pods|x"],
                &["get|-|pods|x", "list|-|pods|x", "get|apps|pods|x", "list|apps|pods|x"]),
            ("resources without groups break down to nothing", &[], &["get||pods"], &[]),
        ];
        for (name, owner, requested, want) in cases {
            let got = covers(&rules(owner), &rules(requested));
            let want = if want.is_empty() {
                Ok(())
            } else {
                Err(rules(want))
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn breakdown_order_and_shape() {
        let atoms = breakdown_rule(&r("get,list|-|pods,secrets|a"));
        let printed: Vec<String> = atoms.iter().map(compact_string).collect();
        assert_eq!(
            printed,
            [
                r#"{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get"]}"#,
                r#"{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["list"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], ResourceNames:["a"], Verbs:["get"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], ResourceNames:["a"], Verbs:["list"]}"#,
            ]
        );
        assert_eq!(breakdown_rule(&r("get|||||")).len(), 0);
    }
}
