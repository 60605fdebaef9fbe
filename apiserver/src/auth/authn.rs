//! Authentication: who a request is from, in upstream's order (x509 client certificate,
//! then a bearer token: static token file, bootstrap token, ServiceAccount JWT), else
//! anonymous where allowed (`k8s.io/apiserver/pkg/authentication/request/union`).
//!
//! A request with credentials that do not check out is refused (401) even when anonymous
//! requests are allowed: a client that meant to be someone must not silently become nobody.

use std::collections::HashMap;
use std::path::Path;

use http::HeaderMap;
use k8s_openapi::api::core::v1::Secret;

use super::{ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP, UserInfo};
use crate::error::ApiError;
use crate::pki::CertificateUser;
use crate::server::ApiServer;

/// Bootstrap tokens (`pkg/bootstrap/api`): `<id>.<secret>`, six and sixteen of `[a-z0-9]`,
/// kept in `kube-system/bootstrap-token-<id>`.
pub const BOOTSTRAP_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const BOOTSTRAP_SECRET_PREFIX: &str = "bootstrap-token-";
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";
const BOOTSTRAP_USER_PREFIX: &str = "system:bootstrap:";

/// How requests are authenticated (besides client certificates, always on).
#[derive(Clone, Debug)]
pub struct AuthnConfig {
    /// Requests without credentials become `system:anonymous` (upstream `--anonymous-auth`,
    /// on by default; RBAC then lets them read only the public endpoints).
    pub anonymous: bool,
    /// `--token-auth-file`: token → user.
    pub static_tokens: HashMap<String, UserInfo>,
}

impl Default for AuthnConfig {
    fn default() -> Self {
        AuthnConfig {
            anonymous: true,
            static_tokens: HashMap::new(),
        }
    }
}

/// Reads a static token file: CSV lines `token,user,uid[,"group1,group2"]`, as upstream's
/// `--token-auth-file` (blank lines and `#` comments skipped).
pub fn read_token_file(path: &Path) -> Result<HashMap<String, UserInfo>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tokens = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = csv_fields(line);
        let at = || format!("{}:{}", path.display(), n + 1);
        let [token, name, uid, rest @ ..] = fields.as_slice() else {
            return Err(format!(
                "{}: want at least token,user,uid, got {line:?}",
                at()
            ));
        };
        if token.is_empty() || name.is_empty() {
            return Err(format!("{}: empty token or user name", at()));
        }
        let groups = rest
            .first()
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            name: name.clone(),
            uid: uid.clone(),
            groups,
            ..UserInfo::default()
        };
        if tokens.insert(token.clone(), user).is_some() {
            return Err(format!("{}: the token is listed twice", at()));
        }
    }
    Ok(tokens)
}

/// The fields of one CSV line; a field in double quotes may hold commas (and `""`).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(field) = fields.last_mut() {
                    field.push('"');
                }
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields.iter().map(|f| f.trim().to_owned()).collect()
}

/// The bearer token of the `Authorization` header, if any.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
    let Some((scheme, token)) = value.split_once(' ') else {
        // Another scheme (Basic...) is not ours to judge: no token.
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::unauthorized());
    }
    Ok(Some(token))
}

/// Compares secrets without revealing through timing where they first differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `token` has the shape of a bootstrap token; its id and secret.
pub fn parse_bootstrap_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// A new random bootstrap token, `<6 of [a-z0-9]>.<16 of [a-z0-9]>`.
pub fn generate_bootstrap_token() -> Result<String, String> {
    use ring::rand::SecureRandom;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(23);
    let mut byte = [0u8; 1];
    while out.len() < 23 {
        if out.len() == 6 {
            out.push('.');
            continue;
        }
        rng.fill(&mut byte)
            .map_err(|_| "no randomness available".to_owned())?;
        // 252 = 7 * 36: rejecting larger bytes keeps every character equally likely.
        if byte[0] < 252 {
            out.push(char::from(ALPHABET[usize::from(byte[0] % 36)]));
        }
    }
    Ok(out)
}

/// The Secret that makes `token` valid (kubeadm's layout): for authentication and signing,
/// in the extra groups given (each must start with `system:bootstrappers:`), until
/// `expiration` (RFC 3339) when given.
pub fn bootstrap_token_secret(
    token: &str,
    expiration: Option<&str>,
    extra_groups: &[String],
    description: &str,
) -> Result<serde_json::Value, String> {
    let (id, secret) = parse_bootstrap_token(token).ok_or_else(|| {
        format!("{token:?} is not a bootstrap token ([a-z0-9]{{6}}.[a-z0-9]{{16}})")
    })?;
    if let Some(bad) = extra_groups
        .iter()
        .find(|g| !g.starts_with("system:bootstrappers:"))
    {
        return Err(format!(
            "group {bad:?} must start with \"system:bootstrappers:\""
        ));
    }
    let mut data = serde_json::json!({
        "token-id": id,
        "token-secret": secret,
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
    });
    if let Some(expiration) = expiration {
        data["expiration"] = serde_json::json!(expiration);
    }
    if !extra_groups.is_empty() {
        data["auth-extra-groups"] = serde_json::json!(extra_groups.join(","));
    }
    if !description.is_empty() {
        data["description"] = serde_json::json!(description);
    }
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("{BOOTSTRAP_SECRET_PREFIX}{id}"), "namespace": "kube-system"},
        "type": BOOTSTRAP_SECRET_TYPE,
        "stringData": data,
    }))
}

impl ApiServer {
    /// The user of a request: its verified client certificate, else its bearer token, else
    /// anonymous (when allowed). A 401 when credentials are given and wrong, or none are and
    /// anonymous requests are off.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        certificate: Option<&CertificateUser>,
    ) -> Result<UserInfo, ApiError> {
        if let Some(cert) = certificate {
            return Ok(authenticated(UserInfo {
                name: cert.name.clone(),
                groups: cert.groups.clone(),
                ..UserInfo::default()
            }));
        }
        let Some(token) = bearer_token(headers)? else {
            if self.authn.anonymous {
                return Ok(UserInfo {
                    name: ANONYMOUS_USER.to_owned(),
                    groups: vec![UNAUTHENTICATED_GROUP.to_owned()],
                    ..UserInfo::default()
                });
            }
            return Err(ApiError::unauthorized());
        };
        match self.authenticate_token(token, &[]).await {
            Ok(Some((user, _))) => Ok(user),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(why) => {
                tracing::debug!(%why, "bearer token refused");
                Err(ApiError::unauthorized())
            }
        }
    }

    /// The user of a bearer token (static, bootstrap or ServiceAccount) and the audiences it
    /// is valid for among `wanted` (empty: the API server's own). `Ok(None)`: no
    /// authenticator knows the token; `Err`: one knew it and found it invalid.
    pub async fn authenticate_token(
        &self,
        token: &str,
        wanted: &[String],
    ) -> Result<Option<(UserInfo, Vec<String>)>, String> {
        // Static and bootstrap tokens are valid for the API server's audiences only.
        let api_audiences = self
            .service_account_tokens
            .as_ref()
            .map(|t| t.audiences.clone())
            .unwrap_or_else(|| vec![super::serviceaccount::DEFAULT_ISSUER.to_owned()]);
        let audiences = if wanted.is_empty() {
            api_audiences
        } else {
            let both: Vec<String> = wanted
                .iter()
                .filter(|a| api_audiences.contains(a))
                .cloned()
                .collect();
            both
        };
        if let Some(user) = self.authn.static_tokens.get(token) {
            if audiences.is_empty() {
                return Err("token audiences are invalid".to_owned());
            }
            return Ok(Some((authenticated(user.clone()), audiences)));
        }
        if let Some((id, secret)) = parse_bootstrap_token(token) {
            return match self.authenticate_bootstrap(id, secret).await {
                Some(_) if audiences.is_empty() => Err("token audiences are invalid".to_owned()),
                Some(user) => Ok(Some((authenticated(user), audiences))),
                None => Err("invalid bootstrap token".to_owned()),
            };
        }
        Ok(self
            .authenticate_service_account(token, wanted)
            .await?
            .map(|(user, audiences)| (authenticated(user), audiences)))
    }

    /// A bootstrap token's user (upstream `plugin/pkg/auth/authenticator/token/bootstrap`):
    /// its Secret exists, is of the bootstrap type, allows authentication, is not expired or
    /// being deleted, and holds the same secret.
    async fn authenticate_bootstrap(&self, id: &str, secret: &str) -> Option<UserInfo> {
        let name = format!("{BOOTSTRAP_SECRET_PREFIX}{id}");
        let stored: Secret = self
            .lookup("secrets", Some("kube-system"), &name)
            .await
            .ok()
            .flatten()?;
        if stored.type_.as_deref() != Some(BOOTSTRAP_SECRET_TYPE)
            || stored.metadata.deletion_timestamp.is_some()
        {
            return None;
        }
        let data = stored.data.unwrap_or_default();
        let field = |key: &str| {
            data.get(key)
                .and_then(|v| std::str::from_utf8(&v.0).ok())
                .map(str::to_owned)
        };
        if field("token-id").as_deref() != Some(id)
            || !constant_time_eq(
                field("token-secret").unwrap_or_default().as_bytes(),
                secret.as_bytes(),
            )
            || field("usage-bootstrap-authentication").as_deref() != Some("true")
        {
            return None;
        }
        if let Some(expiration) = field("expiration") {
            let expires: jiff::Timestamp = expiration.parse().ok()?;
            if expires <= jiff::Timestamp::now() {
                return None;
            }
        }
        let mut groups = vec![BOOTSTRAPPERS_GROUP.to_owned()];
        for group in field("auth-extra-groups").unwrap_or_default().split(',') {
            let group = group.trim();
            // Upstream refuses a token whose extra groups are outside system:bootstrappers:.
            if group.is_empty() {
                continue;
            }
            if !group.starts_with("system:bootstrappers:") {
                return None;
            }
            groups.push(group.to_owned());
        }
        Some(UserInfo {
            name: format!("{BOOTSTRAP_USER_PREFIX}{id}"),
            groups,
            ..UserInfo::default()
        })
    }
}

/// Adds `system:authenticated`, as upstream does for every authenticated user.
fn authenticated(mut user: UserInfo) -> UserInfo {
    if !user.in_group(AUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.to_owned());
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_read_as_upstream_writes_them() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.csv");
        std::fs::write(
            &path,
            "# comment\n\nt1,alice,1\nt2,bob,2,\"dev,ops\"\nt3, carol ,3,admins\n",
        )?;
        let tokens = read_token_file(&path)?;
        assert_eq!(tokens["t1"].name, "alice");
        assert!(tokens["t1"].groups.is_empty());
        assert_eq!(tokens["t2"].groups, ["dev", "ops"]);
        assert_eq!(tokens["t3"].name, "carol");
        assert_eq!(tokens["t3"].groups, ["admins"]);

        std::fs::write(&path, "t1,alice\n")?;
        let error = read_token_file(&path).expect_err("too few fields");
        assert!(error.contains("tokens.csv:1"), "{error}");
        std::fs::write(&path, "t1,a,1\nt1,b,2\n")?;
        assert!(read_token_file(&path).is_err());
        Ok(())
    }

    #[test]
    fn bootstrap_tokens_have_their_shape() {
        assert_eq!(
            parse_bootstrap_token("abcdef.0123456789abcdef"),
            Some(("abcdef", "0123456789abcdef"))
        );
        for bad in [
            "abcdef.0123456789abcde",
            "ABCDEF.0123456789abcdef",
            "abcdef0123456789abcdef",
            "abc.def",
        ] {
            assert_eq!(parse_bootstrap_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn generated_tokens_are_bootstrap_tokens() {
        let token = generate_bootstrap_token().expect("random");
        assert!(parse_bootstrap_token(&token).is_some(), "{token}");
        assert_ne!(generate_bootstrap_token().expect("random"), token);
        let secret = bootstrap_token_secret(&token, None, &[], "").expect("secret");
        assert_eq!(secret["type"], BOOTSTRAP_SECRET_TYPE);
        assert!(bootstrap_token_secret(&token, None, &["admins".into()], "").is_err());
        assert!(bootstrap_token_secret("nope", None, &[], "").is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers).ok(), Some(None));
        headers.insert("authorization", "Bearer abc".parse().expect("header"));
        assert_eq!(bearer_token(&headers).ok(), Some(Some("abc")));
        headers.insert("authorization", "bearer   ".parse().expect("header"));
        assert!(bearer_token(&headers).is_err());
        headers.insert(
            "authorization",
            "Basic dXNlcjpwYXNz".parse().expect("header"),
        );
        assert_eq!(bearer_token(&headers).ok(), Some(None));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
