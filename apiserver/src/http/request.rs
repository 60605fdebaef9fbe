//! Request info: which resource, namespace, name, subresource and verb a path and method
//! address (upstream `staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).

use http::Method;

/// The API-relevant parts of a request path.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RequestInfo {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

/// What a path under `/api` or `/apis` addresses.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Target {
    /// `/api` or `/apis`.
    Root {
        legacy: bool,
    },
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`.
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(RequestInfo),
}

/// Parses a path; `None` when it is not under `/api` or `/apis` or has the wrong shape.
pub fn parse(method: &Method, path: &str, watch_param: bool) -> Option<Target> {
    // Clients escape path segments (client-go: `url.PathEscape`); names are compared decoded.
    let decoded: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect::<Option<_>>()?;
    let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Some(Target::Root { legacy: true }),
        ["apis"] => return Some(Target::Root { legacy: false }),
        ["apis", group] => return Some(Target::Group((*group).to_owned())),
        ["api", version] => {
            return Some(Target::GroupVersion {
                group: String::new(),
                version: (*version).to_owned(),
            });
        }
        ["apis", group, version] => {
            return Some(Target::GroupVersion {
                group: (*group).to_owned(),
                version: (*version).to_owned(),
            });
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    if rest.iter().any(|p| p.is_empty()) {
        return None;
    }
    // The deprecated `/watch/` prefix (still used by some clients).
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let (namespace, rest) = match rest {
        // `/namespaces/{name}` and its `status` and `finalize` subresources are the namespace
        // object itself, not a namespace scope.
        ["namespaces", _, "status" | "finalize"] => (None, rest.to_vec()),
        ["namespaces", ns, resource, tail @ ..] => (Some((*ns).to_owned()), {
            let mut v = vec![*resource];
            v.extend_from_slice(tail);
            v
        }),
        rest => (None, rest.to_vec()),
    };
    let (resource, name, subresource) = match rest.as_slice() {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub] => (*resource, Some(*name), Some(*sub)),
        _ => return None,
    };
    let verb = match (method, name.is_some()) {
        (m, _) if legacy_watch && *m == Method::GET => Verb::Watch,
        (m, false) if *m == Method::GET && watch_param => Verb::Watch,
        (m, true) if *m == Method::GET && watch_param && subresource.is_none() => Verb::Watch,
        (m, true) if *m == Method::GET => Verb::Get,
        (m, false) if *m == Method::GET => Verb::List,
        (m, _) if *m == Method::POST => Verb::Create,
        (m, true) if *m == Method::PUT => Verb::Update,
        (m, true) if *m == Method::PATCH => Verb::Patch,
        (m, true) if *m == Method::DELETE => Verb::Delete,
        (m, false) if *m == Method::DELETE => Verb::DeleteCollection,
        _ => return None,
    };
    Some(Target::Resource(RequestInfo {
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        namespace,
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
        verb,
    }))
}

/// `%XX` escapes of one path segment; `None` for a malformed escape, non-UTF-8 text or an
/// escaped `/` (which would change the path's shape).
fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte == b'/' {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str, watch: bool) -> RequestInfo {
        match parse(&method, path, watch) {
            Some(Target::Resource(info)) => info,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_map_to_resources_and_verbs() {
        let pods = info(Method::GET, "/api/v1/namespaces/default/pods", false);
        assert_eq!(pods.resource, "pods");
        assert_eq!(pods.namespace.as_deref(), Some("default"));
        assert_eq!(pods.verb, Verb::List);
        let ns = info(Method::GET, "/api/v1/namespaces/default", false);
        assert_eq!(ns.resource, "namespaces");
        assert_eq!(ns.name.as_deref(), Some("default"));
        assert_eq!(ns.namespace, None);
        let status = info(
            Method::PUT,
            "/apis/apps/v1/namespaces/a/deployments/web/status",
            false,
        );
        assert_eq!(status.group, "apps");
        assert_eq!(status.subresource.as_deref(), Some("status"));
        assert_eq!(status.verb, Verb::Update);
        let finalize = info(Method::PUT, "/api/v1/namespaces/a/finalize", false);
        assert_eq!(finalize.resource, "namespaces");
        assert_eq!(finalize.subresource.as_deref(), Some("finalize"));
        assert_eq!(info(Method::GET, "/api/v1/pods", true).verb, Verb::Watch);
        assert_eq!(
            info(Method::GET, "/api/v1/watch/namespaces/a/pods", false).verb,
            Verb::Watch
        );
        assert_eq!(
            info(Method::DELETE, "/api/v1/namespaces/a/pods", false).verb,
            Verb::DeleteCollection
        );
        assert_eq!(
            parse(&Method::GET, "/apis/apps", false),
            Some(Target::Group("apps".into()))
        );
        assert_eq!(parse(&Method::GET, "/api/v1/a/b/c/d", false), None);
        assert_eq!(parse(&Method::PUT, "/api/v1/pods", false), None);
        let escaped = info(
            Method::GET,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Anode",
            false,
        );
        assert_eq!(escaped.name.as_deref(), Some("system:node"));
        assert_eq!(
            parse(&Method::GET, "/api/v1/namespaces/a%2Fb/pods", false),
            None
        );
        assert_eq!(
            parse(&Method::GET, "/api/v1/namespaces/a%zz/pods", false),
            None
        );
    }
}
