//! ServiceAccount tokens: issuing bound tokens (the TokenRequest API,
//! `serviceaccounts/{name}/token`) and authenticating them (upstream
//! `pkg/serviceaccount/claims.go` and `jwt.go`).
//!
//! A token names its ServiceAccount by name and uid, and optionally the Pod, Secret or Node
//! it is bound to; it is valid while its signature, issuer, audience and lifetime hold and
//! every object it names still exists with the same uid (and, for a bound object, is not
//! being deleted for more than a minute). Legacy tokens kept in Secrets (issuer
//! `kubernetes/serviceaccount`) are not supported: they are refused like any unknown token.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Secret, ServiceAccount};
use serde_json::{Value, json};

use super::{UserInfo, jwt};
use crate::error::ApiError;
use crate::pki::ServiceAccountKey;
use crate::server::ApiServer;

/// Upstream's default issuer and audience when none is configured (kubeadm's choice).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// `expirationSeconds` when a TokenRequest names none, and the bounds upstream enforces.
const DEFAULT_EXPIRATION: i64 = 3600;
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;
/// Clock skew tolerated on `nbf`/`exp` (go-jose's `DefaultLeeway`), and how long a bound
/// object may already be terminating before its tokens stop working (upstream's
/// `invalidIfDeletedBefore`).
const LEEWAY_SECONDS: i64 = 60;
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
const EXTRA_PREFIX: &str = "authentication.kubernetes.io/";

/// What signs and checks ServiceAccount tokens.
#[derive(Clone, Debug)]
pub struct ServiceAccountTokens {
    pub key: Arc<ServiceAccountKey>,
    /// `iss` of issued tokens (the first) and the issuers accepted.
    pub issuers: Vec<String>,
    /// The audiences the API server accepts (`--api-audiences`); a TokenRequest without
    /// audiences gets these.
    pub audiences: Vec<String>,
}

impl ServiceAccountTokens {
    pub fn new(key: Arc<ServiceAccountKey>) -> ServiceAccountTokens {
        ServiceAccountTokens {
            key,
            issuers: vec![DEFAULT_ISSUER.to_owned()],
            audiences: vec![DEFAULT_ISSUER.to_owned()],
        }
    }

    pub fn issuer(&self) -> &str {
        self.issuers.first().map_or(DEFAULT_ISSUER, String::as_str)
    }
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// `(namespace, name)` of a ServiceAccount user name.
pub fn split_username(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// The groups of a ServiceAccount user.
pub fn groups(namespace: &str) -> Vec<String> {
    vec![
        SERVICE_ACCOUNTS_GROUP.to_owned(),
        format!("{SERVICE_ACCOUNTS_GROUP}:{namespace}"),
    ]
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

impl ApiServer {
    /// `POST .../serviceaccounts/{name}/token`: a bound token for the ServiceAccount.
    pub(crate) async fn token_request(
        &self,
        user: &UserInfo,
        namespace: &str,
        name: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        let Some(tokens) = &self.service_account_tokens else {
            return Err(ApiError::new(
                404,
                "NotFound",
                "not supported: this server has no ServiceAccount signing key",
            ));
        };
        let spec = body.get("spec").cloned().unwrap_or(json!({}));
        let invalid = |field: &str, value: String, why: &str| {
            ApiError::new(
                422,
                "Invalid",
                format!(
                    "TokenRequest.authentication.k8s.io \"{name}\" is invalid: {field}: Invalid value: {value}: {why}"
                ),
            )
        };
        let expiration = spec
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_EXPIRATION);
        if expiration < MIN_EXPIRATION {
            return Err(invalid(
                "spec.expirationSeconds",
                expiration.to_string(),
                "may not specify a duration less than 10 minutes",
            ));
        }
        if expiration > MAX_EXPIRATION {
            return Err(invalid(
                "spec.expirationSeconds",
                expiration.to_string(),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        let audiences: Vec<String> = match spec.get("audiences").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => tokens.audiences.clone(),
        };
        let Some(sa) = self
            .lookup::<ServiceAccount>("serviceaccounts", Some(namespace), name)
            .await?
        else {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("serviceaccounts \"{name}\" not found"),
            ));
        };
        let sa_uid = sa.metadata.uid.clone().unwrap_or_default();
        let issued = now();
        let mut kubernetes = json!({
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": sa_uid},
        });
        let bound = spec.get("boundObjectRef").filter(|v| !v.is_null());
        if let Some(node) = super::node::node_identity(user) {
            self.node_may_request(node, namespace, name, bound).await?;
        }
        if let Some(bound) = bound {
            self.bind(namespace, name, bound, &mut kubernetes).await?;
        }
        let mut claims = json!({
            "iss": tokens.issuer(),
            "sub": username(namespace, name),
            "aud": audiences,
            "iat": issued,
            "nbf": issued,
            "exp": issued + expiration,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": kubernetes,
        });
        if claims["aud"].as_array().is_some_and(Vec::is_empty) {
            claims["aud"] = json!(tokens.audiences);
        }
        let token = jwt::sign(&tokens.key, &claims).map_err(ApiError::internal)?;
        let mut response = json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace,
                         "creationTimestamp": rfc3339(issued)},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": rfc3339(issued + expiration)},
        });
        response["spec"]["audiences"] = json!(audiences);
        response["spec"]["expirationSeconds"] = json!(expiration);
        Ok(response)
    }

    /// NodeRestriction for tokens (upstream `admitServiceAccount`): a node asks only for
    /// tokens bound to a pod scheduled on it.
    async fn node_may_request(
        &self,
        node: &str,
        namespace: &str,
        name: &str,
        bound: Option<&Value>,
    ) -> Result<(), ApiError> {
        let refuse = |why: &str| {
            ApiError::new(
                403,
                "Forbidden",
                format!("serviceaccounts \"{name}\" is forbidden: {why}"),
            )
        };
        let Some(bound) = bound.filter(|b| b["kind"] == "Pod") else {
            return Err(refuse("node requested token not bound to a pod"));
        };
        let pod_name = bound["name"].as_str().unwrap_or_default();
        let pod: Option<Pod> = self.lookup("pods", Some(namespace), pod_name).await?;
        let on = pod
            .as_ref()
            .and_then(|p| p.spec.as_ref()?.node_name.as_deref());
        if on != Some(node) {
            return Err(refuse(
                "node requested token bound to a pod scheduled on a different node",
            ));
        }
        Ok(())
    }

    /// Adds the claim of the object a token is bound to, checking that it exists, has the
    /// uid asked for and (for a pod) runs as this ServiceAccount.
    async fn bind(
        &self,
        namespace: &str,
        sa_name: &str,
        bound: &Value,
        kubernetes: &mut Value,
    ) -> Result<(), ApiError> {
        let kind = bound
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = bound
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let api_version = bound
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("v1");
        let wanted_uid = bound.get("uid").and_then(Value::as_str).unwrap_or_default();
        if api_version != "v1" || !matches!(kind, "Pod" | "Secret" | "Node") {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {api_version}, Kind={kind}: only v1 Pod, \
                 Secret and Node are supported"
            )));
        }
        let missing = || {
            ApiError::new(
                404,
                "NotFound",
                format!("{}s \"{name}\" not found", kind.to_lowercase()),
            )
        };
        let (uid, claim) = match kind {
            "Pod" => {
                let pod = self
                    .lookup::<Pod>("pods", Some(namespace), name)
                    .await?
                    .ok_or_else(missing)?;
                let runs_as = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.service_account_name.as_deref())
                    .unwrap_or("default");
                if runs_as != sa_name {
                    return Err(ApiError::bad_request(format!(
                        "cannot bind token for serviceaccount {sa_name:?} to pod running with \
                         different serviceaccount name."
                    )));
                }
                let uid = pod.metadata.uid.unwrap_or_default();
                if let Some(node) = pod.spec.and_then(|s| s.node_name) {
                    let node_uid = self
                        .lookup::<Node>("nodes", None, &node)
                        .await?
                        .and_then(|n| n.metadata.uid)
                        .unwrap_or_default();
                    kubernetes["node"] = json!({"name": node, "uid": node_uid});
                }
                (uid, "pod")
            }
            "Secret" => {
                let secret = self
                    .lookup::<Secret>("secrets", Some(namespace), name)
                    .await?
                    .ok_or_else(missing)?;
                (secret.metadata.uid.unwrap_or_default(), "secret")
            }
            _ => {
                let node = self
                    .lookup::<Node>("nodes", None, name)
                    .await?
                    .ok_or_else(missing)?;
                (node.metadata.uid.unwrap_or_default(), "node")
            }
        };
        if !wanted_uid.is_empty() && wanted_uid != uid {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "the UID in the bound object reference ({wanted_uid}) does not match the \
                     UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
        kubernetes[claim] = json!({"name": name, "uid": uid});
        Ok(())
    }

    /// The user a ServiceAccount token names and the audiences it was accepted for (those of
    /// `wanted`, or of the API server when `wanted` is empty, that the token carries);
    /// `Ok(None)` when the token is not one of ours (another issuer, another key), so other
    /// authenticators may try it.
    pub(crate) async fn authenticate_service_account(
        &self,
        token: &str,
        wanted: &[String],
    ) -> Result<Option<(UserInfo, Vec<String>)>, String> {
        let Some(tokens) = &self.service_account_tokens else {
            return Ok(None);
        };
        if !jwt::looks_like_jwt(token) {
            return Ok(None);
        }
        let claims = match jwt::verify(&tokens.key, token) {
            Ok(claims) => claims,
            Err(jwt::JwtError::OtherKey) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let issuer = claims["iss"].as_str().unwrap_or_default();
        if !tokens.issuers.iter().any(|i| i == issuer) {
            return Ok(None);
        }
        let now = now();
        let exp = claims["exp"].as_i64().ok_or("no exp")?;
        if now > exp + LEEWAY_SECONDS {
            return Err("service account token has expired".to_owned());
        }
        if let Some(nbf) = claims["nbf"].as_i64()
            && now + LEEWAY_SECONDS < nbf
        {
            return Err("service account token is not yet valid".to_owned());
        }
        let audiences: Vec<&str> = match &claims["aud"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let acceptable = if wanted.is_empty() {
            &tokens.audiences
        } else {
            wanted
        };
        let matched: Vec<String> = acceptable
            .iter()
            .filter(|a| audiences.contains(&a.as_str()))
            .cloned()
            .collect();
        if matched.is_empty() {
            return Err("token audiences are invalid".to_owned());
        }
        let k8s = &claims["kubernetes.io"];
        let namespace = k8s["namespace"].as_str().unwrap_or_default();
        let sa_name = k8s["serviceaccount"]["name"].as_str().unwrap_or_default();
        let sa_uid = k8s["serviceaccount"]["uid"].as_str().unwrap_or_default();
        if namespace.is_empty() || sa_name.is_empty() {
            return Err("token names no service account".to_owned());
        }
        if claims["sub"].as_str() != Some(&username(namespace, sa_name)) {
            return Err("token subject does not match its service account".to_owned());
        }
        let lookup_error = |e: ApiError| e.message;
        let sa = self
            .lookup::<ServiceAccount>("serviceaccounts", Some(namespace), sa_name)
            .await
            .map_err(lookup_error)?
            .ok_or_else(|| format!("service account {namespace}/{sa_name} has been deleted"))?;
        if sa.metadata.uid.as_deref().unwrap_or_default() != sa_uid {
            return Err(format!(
                "service account UID ({sa_uid}) does not match the current one"
            ));
        }
        let mut extra = std::collections::BTreeMap::new();
        let deleted_before = now - LEEWAY_SECONDS;
        let bound = [("pod", "pods"), ("secret", "secrets"), ("node", "nodes")];
        for (claim, plural) in bound {
            let Some(reference) = k8s.get(claim).filter(|v| v.is_object()) else {
                continue;
            };
            let name = reference["name"].as_str().unwrap_or_default();
            let uid = reference["uid"].as_str().unwrap_or_default();
            let scope = (claim != "node").then_some(namespace);
            let object: Option<Value> = self
                .lookup(plural, scope, name)
                .await
                .map_err(lookup_error)?;
            // A pod's node is informational (it may be replaced); only a node the token is
            // bound to directly must still exist.
            let informational = claim == "node" && k8s.get("pod").is_some_and(Value::is_object);
            match object {
                None if informational => {}
                None => return Err(format!("{claim} {name} of the token has been deleted")),
                Some(object) => {
                    let meta = &object["metadata"];
                    if !informational && meta["uid"].as_str() != Some(uid) {
                        return Err(format!("{claim} {name} of the token was recreated"));
                    }
                    let terminating = meta["deletionTimestamp"]
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_some_and(|t| t.as_second() < deleted_before);
                    if terminating && !informational {
                        return Err(format!("{claim} {name} of the token is being deleted"));
                    }
                }
            }
            extra.insert(format!("{EXTRA_PREFIX}{claim}-name"), vec![name.to_owned()]);
            extra.insert(format!("{EXTRA_PREFIX}{claim}-uid"), vec![uid.to_owned()]);
        }
        if let Some(jti) = claims["jti"].as_str() {
            extra.insert(
                format!("{EXTRA_PREFIX}credential-id"),
                vec![format!("JTI={jti}")],
            );
        }
        let user = UserInfo {
            name: username(namespace, sa_name),
            uid: sa_uid.to_owned(),
            groups: groups(namespace),
            extra,
        };
        Ok(Some((user, matched)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_user_names_round_trip() {
        assert_eq!(username("ns", "sa"), "system:serviceaccount:ns:sa");
        assert_eq!(
            split_username("system:serviceaccount:ns:sa"),
            Some(("ns", "sa"))
        );
        assert_eq!(split_username("system:serviceaccount:ns"), None);
        assert_eq!(split_username("system:serviceaccount::sa"), None);
        assert_eq!(split_username("alice"), None);
        assert_eq!(
            groups("ns"),
            ["system:serviceaccounts", "system:serviceaccounts:ns"]
        );
    }
}
