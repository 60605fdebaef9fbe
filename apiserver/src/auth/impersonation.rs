//! Impersonation (upstream `k8s.io/apiserver/pkg/endpoints/filters/impersonation.go`): a
//! user allowed to `impersonate` users, groups, ServiceAccounts, uids and extra fields acts
//! as another user with the `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and
//! `Impersonate-Extra-<key>` headers. Every impersonated part is authorized on its own.

use http::HeaderMap;

use super::authz::{Decision, forbidden_message};
use super::serviceaccount;
use super::{ANONYMOUS_USER, AUTHENTICATED_GROUP, Attributes, UNAUTHENTICATED_GROUP, UserInfo};
use crate::error::ApiError;
use crate::server::ApiServer;

const USER: &str = "impersonate-user";
const UID: &str = "impersonate-uid";
const GROUP: &str = "impersonate-group";
const EXTRA_PREFIX: &str = "impersonate-extra-";

fn values<'a>(headers: &'a HeaderMap, name: &str) -> Result<Vec<&'a str>, ApiError> {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request(format!("invalid {name} header")))
        })
        .collect()
}

/// `%`-decodes an extra key as upstream does (keys are URL-escaped in header names).
fn unescape(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl ApiServer {
    /// The user the request acts as: `user` itself, or the one it may impersonate.
    pub async fn impersonate(
        &self,
        headers: &HeaderMap,
        user: UserInfo,
    ) -> Result<UserInfo, ApiError> {
        let name = values(headers, USER)?;
        let uid = values(headers, UID)?;
        let groups = values(headers, GROUP)?;
        let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (header, value) in headers {
            if let Some(key) = header.as_str().strip_prefix(EXTRA_PREFIX) {
                let key = unescape(key)
                    .ok_or_else(|| ApiError::bad_request(format!("invalid {header} header")))?;
                let value = value
                    .to_str()
                    .map_err(|_| ApiError::bad_request(format!("invalid {header} header")))?;
                extra
                    .entry(key.to_lowercase())
                    .or_default()
                    .push(value.to_owned());
            }
        }
        let Some(&name) = name.first() else {
            if !groups.is_empty() || !uid.is_empty() || !extra.is_empty() {
                return Err(ApiError::bad_request(
                    "impersonating groups, a uid or extra fields requires impersonating a user",
                ));
            }
            return Ok(user);
        };
        if name.is_empty() {
            return Err(ApiError::bad_request("Impersonate-User must not be empty"));
        }
        let sa = serviceaccount::split_username(name);
        let target = match sa {
            Some((namespace, sa_name)) => Attributes {
                resource: "serviceaccounts".into(),
                namespace: namespace.into(),
                name: sa_name.into(),
                ..impersonate("", "")
            },
            None => Attributes {
                name: name.into(),
                ..impersonate("", "users")
            },
        };
        let mut checks = vec![target];
        checks.extend(groups.iter().map(|g| Attributes {
            name: (*g).into(),
            ..impersonate("", "groups")
        }));
        checks.extend(uid.iter().map(|u| Attributes {
            name: (*u).into(),
            ..impersonate("authentication.k8s.io", "uids")
        }));
        for (key, values) in &extra {
            checks.extend(values.iter().map(|v| Attributes {
                subresource: key.clone(),
                name: v.clone(),
                ..impersonate("authentication.k8s.io", "userextras")
            }));
        }
        for attrs in &checks {
            if let Decision::Deny(reason) = self.authorize(&user, attrs).await? {
                return Err(ApiError::forbidden_request(
                    &attrs.resource,
                    &attrs.api_group,
                    &attrs.name,
                    &forbidden_message(&user, attrs, &reason),
                ));
            }
        }
        let mut impersonated = UserInfo {
            name: name.to_owned(),
            uid: uid.first().map(|u| (*u).to_owned()).unwrap_or_default(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            extra,
        };
        // Without groups, a ServiceAccount still gets its own (as its token would give).
        if groups.is_empty()
            && let Some((namespace, _)) = sa
        {
            impersonated.groups = serviceaccount::groups(namespace);
        }
        let implied = if name == ANONYMOUS_USER {
            UNAUTHENTICATED_GROUP
        } else {
            AUTHENTICATED_GROUP
        };
        if !impersonated.in_group(implied) {
            impersonated.groups.push(implied.to_owned());
        }
        Ok(impersonated)
    }
}

fn impersonate(group: &str, resource: &str) -> Attributes {
    Attributes {
        verb: "impersonate".into(),
        resource_request: true,
        api_group: group.into(),
        resource: resource.into(),
        ..Attributes::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_are_unescaped() {
        assert_eq!(unescape("scopes").as_deref(), Some("scopes"));
        assert_eq!(
            unescape("example.com%2fteam").as_deref(),
            Some("example.com/team")
        );
        assert_eq!(unescape("bad%zz"), None);
        assert_eq!(unescape("cut%2"), None);
    }
}
