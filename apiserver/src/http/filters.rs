//! What runs before a request is routed, in upstream's filter order
//! (`k8s.io/apiserver/pkg/server/config.go`, `DefaultBuildHandlerChain`): authentication
//! (`auth/authn.rs`, before this), impersonation, then authorization of the request's
//! attributes.

use http::{Method, Uri};

use super::request::{self, Target, Verb};
use crate::auth::authz::{Decision, forbidden_message};
use crate::auth::{Attributes, UserInfo};
use crate::error::ApiError;
use crate::server::ApiServer;

impl ApiServer {
    /// The user an authenticated request acts as, once authorized: 403 when the user may
    /// not do what the request asks (or impersonate whom it names).
    pub(crate) async fn filter(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &http::HeaderMap,
        user: UserInfo,
    ) -> Result<UserInfo, ApiError> {
        let user = self.impersonate(headers, user).await?;
        let attrs = attributes(method, uri);
        match self.authorize(&user, &attrs).await? {
            Decision::Allow => Ok(user),
            Decision::Deny(reason) => {
                let (resource, group) = if attrs.resource_request {
                    (attrs.resource.as_str(), attrs.api_group.as_str())
                } else {
                    ("", "")
                };
                Err(ApiError::forbidden_request(
                    resource,
                    group,
                    &attrs.name,
                    &forbidden_message(&user, &attrs, &reason),
                ))
            }
        }
    }
}

/// The authorization attributes of a request (upstream `requestinfo.go` and
/// `filters.GetAuthorizerAttributes`). Paths under `/api` and `/apis` that name a resource
/// are resource requests; everything else (discovery included) is a non-resource request
/// on the path with the lower-case HTTP method as verb.
pub(crate) fn attributes(method: &Method, uri: &Uri) -> Attributes {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let watch = matches!(param("watch"), Some("true" | "1" | "True"));
    let path = uri.path();
    let Some(Target::Resource(info)) = request::parse(method, path, watch) else {
        return Attributes {
            verb: method.as_str().to_lowercase(),
            path: path.to_owned(),
            ..Attributes::default()
        };
    };
    let verb = match info.verb {
        Verb::Get => "get",
        Verb::List => "list",
        Verb::Watch => "watch",
        Verb::Create => "create",
        Verb::Update => "update",
        Verb::Patch => "patch",
        Verb::Delete => "delete",
        Verb::DeleteCollection => "deletecollection",
    };
    let field_selector = param("fieldSelector").unwrap_or_default().to_owned();
    let mut name = info.name.unwrap_or_default();
    // A list or watch narrowed to one name by `metadata.name=<name>` is authorized as a
    // request for that object, as upstream's request info does.
    if name.is_empty() && matches!(info.verb, Verb::List | Verb::Watch) {
        for term in field_selector.split(',') {
            if let Some((field, value)) = term.split_once("==").or_else(|| term.split_once('='))
                && field.trim() == "metadata.name"
            {
                name = value.trim().to_owned();
            }
        }
    }
    Attributes {
        verb: verb.to_owned(),
        resource_request: true,
        api_group: info.group,
        api_version: info.version,
        resource: info.resource,
        subresource: info.subresource.unwrap_or_default(),
        namespace: info.namespace.unwrap_or_default(),
        name,
        path: path.to_owned(),
        field_selector,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: Method, uri: &str) -> Attributes {
        attributes(&method, &uri.parse().expect("uri"))
    }

    #[test]
    fn resource_requests_carry_what_rbac_matches_on() {
        let a = attrs(Method::GET, "/api/v1/namespaces/shop/pods?watch=true");
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("watch", "pods", "shop")
        );
        let a = attrs(
            Method::POST,
            "/apis/apps/v1/namespaces/shop/deployments/web/scale",
        );
        assert_eq!(a.api_group, "apps");
        assert_eq!(a.name, "web");
        assert_eq!(a.subresource, "scale");
        let a = attrs(
            Method::GET,
            "/api/v1/namespaces/kube-system/secrets?fieldSelector=metadata.name%3Dtoken",
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("list", "token"));
        let a = attrs(Method::GET, "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1");
        assert_eq!(a.field_selector, "spec.nodeName=n1");
        let a = attrs(Method::GET, "/api/v1/pods?fieldSelector=metadata.name!%3Dx");
        assert_eq!(a.name, "");
        let a = attrs(Method::DELETE, "/api/v1/namespaces/shop/configmaps");
        assert_eq!(a.verb, "deletecollection");
    }

    #[test]
    fn other_paths_are_non_resource_requests() {
        for path in [
            "/version",
            "/healthz",
            "/api",
            "/apis/apps",
            "/api/v1",
            "/openapi/v2",
        ] {
            let a = attrs(Method::GET, path);
            assert!(!a.resource_request, "{path}");
            assert_eq!((a.verb.as_str(), a.path.as_str()), ("get", path));
        }
        assert_eq!(attrs(Method::POST, "/logs").verb, "post");
    }
}
