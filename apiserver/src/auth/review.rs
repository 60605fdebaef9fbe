//! The review APIs, answered and never stored (upstream `pkg/registry/authentication` and
//! `pkg/registry/authorization`): TokenReview, SelfSubjectReview, SubjectAccessReview,
//! LocalSubjectAccessReview, SelfSubjectAccessReview and SelfSubjectRulesReview.

use serde_json::{Map, Value, json};

use super::authz::Decision;
use super::node::node_identity;
use super::{Attributes, UserInfo};
use crate::error::{ApiError, FieldError};
use crate::resources::Resource;
use crate::server::ApiServer;

fn user_json(user: &UserInfo) -> Value {
    let mut out = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        out["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        out["extra"] = json!(user.extra);
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The request's attributes from a review's `resourceAttributes` or
/// `nonResourceAttributes`; exactly one must be given.
fn attributes(resource: &Resource, spec: &Value) -> Result<Attributes, ApiError> {
    let resource_attrs = spec.get("resourceAttributes").filter(|v| v.is_object());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    match (resource_attrs, non_resource) {
        (Some(r), None) => Ok(Attributes {
            verb: text(r, "verb").to_owned(),
            resource_request: true,
            api_group: text(r, "group").to_owned(),
            api_version: text(r, "version").to_owned(),
            resource: text(r, "resource").to_owned(),
            subresource: text(r, "subresource").to_owned(),
            namespace: text(r, "namespace").to_owned(),
            name: text(r, "name").to_owned(),
            field_selector: text(&r["fieldSelector"], "rawSelector").to_owned(),
            ..Attributes::default()
        }),
        (None, Some(n)) => Ok(Attributes {
            verb: text(n, "verb").to_owned(),
            path: text(n, "path").to_owned(),
            ..Attributes::default()
        }),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            resource,
            "",
            vec![FieldError::invalid(
                "spec.nonResourceAttributes",
                "",
                "cannot be specified in combination with resourceAttributes",
            )],
        )),
        (None, None) => Err(ApiError::invalid(
            resource,
            "",
            vec![FieldError::invalid(
                "spec.resourceAttributes",
                "null",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )],
        )),
    }
}

impl ApiServer {
    /// Answers a review `body` (already authorized) for `user`.
    pub(crate) async fn review(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        user: &UserInfo,
        body: Value,
    ) -> Result<Value, ApiError> {
        let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
        let status = match resource.kind {
            "TokenReview" => self.token_review(&spec).await?,
            "SelfSubjectReview" => json!({"userInfo": user_json(user)}),
            "SelfSubjectAccessReview" => {
                let attrs = attributes(resource, &spec)?;
                self.access_status(user, &attrs).await?
            }
            "SubjectAccessReview" | "LocalSubjectAccessReview" => {
                let subject = UserInfo {
                    name: text(&spec, "user").to_owned(),
                    uid: text(&spec, "uid").to_owned(),
                    groups: strings(&spec["groups"]),
                    extra: spec
                        .get("extra")
                        .and_then(|e| serde_json::from_value(e.clone()).ok())
                        .unwrap_or_default(),
                };
                if subject.name.is_empty() && subject.groups.is_empty() {
                    return Err(ApiError::invalid(
                        resource,
                        "",
                        vec![FieldError::invalid(
                            "spec.user",
                            "",
                            "at least one of user or group must be specified",
                        )],
                    ));
                }
                let mut attrs = attributes(resource, &spec)?;
                if let Some(namespace) = namespace {
                    if !attrs.resource_request
                        || (!attrs.namespace.is_empty() && attrs.namespace != namespace)
                    {
                        return Err(ApiError::invalid(
                            resource,
                            "",
                            vec![FieldError::invalid(
                                "spec.resourceAttributes.namespace",
                                &attrs.namespace,
                                "must match metadata.namespace",
                            )],
                        ));
                    }
                    attrs.namespace = namespace.to_owned();
                }
                self.access_status(&subject, &attrs).await?
            }
            "SelfSubjectRulesReview" => self.rules_status(user, text(&spec, "namespace")).await?,
            other => {
                return Err(ApiError::internal(format!("{other} is not a review")));
            }
        };
        let mut metadata = body
            .get("metadata")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        metadata["creationTimestamp"] = Value::Null;
        Ok(json!({
            "kind": resource.kind,
            "apiVersion": resource.api_version(),
            "metadata": metadata,
            "spec": spec,
            "status": status,
        }))
    }

    async fn access_status(&self, user: &UserInfo, attrs: &Attributes) -> Result<Value, ApiError> {
        Ok(match self.authorize(user, attrs).await? {
            Decision::Allow => json!({"allowed": true}),
            Decision::Deny(reason) if reason.is_empty() => json!({"allowed": false}),
            Decision::Deny(reason) => json!({"allowed": false, "reason": reason}),
        })
    }

    async fn token_review(&self, spec: &Value) -> Result<Value, ApiError> {
        let token = text(spec, "token");
        let wanted = strings(&spec["audiences"]);
        let unauthenticated = |error: &str| {
            let mut status = json!({"authenticated": false, "user": {}});
            if !error.is_empty() {
                status["error"] = json!(error);
            }
            status
        };
        if token.is_empty() {
            return Ok(unauthenticated("token is empty"));
        }
        let (user, audiences) = match self.authenticate_token(token, &wanted).await {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(unauthenticated("")),
            Err(why) => return Ok(unauthenticated(&why)),
        };
        Ok(json!({"authenticated": true, "user": user_json(&user), "audiences": audiences}))
    }

    /// What `user` may do in `namespace`, from RBAC (and the node rules for a node), as
    /// upstream's rule resolvers report it.
    async fn rules_status(&self, user: &UserInfo, namespace: &str) -> Result<Value, ApiError> {
        let index = self.rbac_index().await?;
        let mut resource_rules = Vec::new();
        let mut non_resource_rules = Vec::new();
        let node_rules = node_identity(user).map(|_| super::node::node_rules());
        let rules = index
            .rules_for(user, namespace)
            .chain(node_rules.into_iter().flatten());
        for rule in rules {
            let mut out = Map::new();
            out.insert("verbs".into(), json!(rule.verbs));
            match &rule.non_resource_urls {
                Some(urls) if !urls.is_empty() => {
                    out.insert("nonResourceURLs".into(), json!(urls));
                    non_resource_rules.push(Value::Object(out));
                }
                _ => {
                    for (key, value) in [
                        ("apiGroups", &rule.api_groups),
                        ("resources", &rule.resources),
                        ("resourceNames", &rule.resource_names),
                    ] {
                        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
                            out.insert(key.into(), json!(value));
                        }
                    }
                    resource_rules.push(Value::Object(out));
                }
            }
        }
        Ok(json!({
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": false,
        }))
    }
}
