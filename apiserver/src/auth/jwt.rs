//! Compact JWS tokens (RFC 7515) signed by the ServiceAccount key: `header.payload.signature`,
//! each part unpadded base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use serde_json::{Value, json};

use crate::pki::ServiceAccountKey;

/// Why a token was not accepted. Kept for logs; the client only learns "Unauthorized".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a JWT")]
    Malformed,
    #[error("signed with another algorithm or key")]
    OtherKey,
    #[error("bad signature")]
    BadSignature,
    #[error("cannot sign: {0}")]
    Signing(String),
}

/// Signs `claims` into a compact JWS.
pub fn sign(key: &ServiceAccountKey, claims: &Value) -> Result<String, JwtError> {
    let header = json!({"alg": key.algorithm().name(), "kid": key.key_id()});
    let mut token = BASE64URL.encode(header.to_string());
    token.push('.');
    token.push_str(&BASE64URL.encode(claims.to_string()));
    let signature = key
        .sign(token.as_bytes())
        .map_err(|e| JwtError::Signing(e.to_string()))?;
    token.push('.');
    token.push_str(&BASE64URL.encode(signature));
    Ok(token)
}

/// Whether `token` looks like a JWS at all (three base64url parts), so that other token
/// kinds are not reported as bad signatures.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The claims of a token `key` signed (the `kid`, when present, must be the key's).
pub fn verify(key: &ServiceAccountKey, token: &str) -> Result<Value, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| BASE64URL.decode(part).map_err(|_| JwtError::Malformed);
    let header: Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
    if header["alg"] != key.algorithm().name() {
        return Err(JwtError::OtherKey);
    }
    if let Some(kid) = header.get("kid").and_then(Value::as_str)
        && kid != key.key_id()
    {
        return Err(JwtError::OtherKey);
    }
    let signed = &token[..token.len() - signature.len() - 1];
    if !key.verify(signed.as_bytes(), &decode(signature)?) {
        return Err(JwtError::BadSignature);
    }
    let claims: Value =
        serde_json::from_slice(&decode(payload)?).map_err(|_| JwtError::Malformed)?;
    if !claims.is_object() {
        return Err(JwtError::Malformed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> std::sync::Arc<ServiceAccountKey> {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = crate::pki::PkiOptions::new("https://x");
        let pki = crate::pki::Pki::load_or_create(dir.path(), &options).expect("pki");
        std::sync::Arc::clone(pki.service_account_key())
    }

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let key = key();
        let token = sign(&key, &json!({"sub": "me"})).expect("sign");
        assert!(looks_like_jwt(&token));
        assert_eq!(verify(&key, &token).expect("valid")["sub"], "me");

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = BASE64URL.encode(json!({"sub": "admin"}).to_string());
        assert_eq!(verify(&key, &parts.join(".")), Err(JwtError::BadSignature));
        assert_eq!(verify(&key, "a.b"), Err(JwtError::Malformed));
        assert_eq!(verify(&key, "!!.??.**"), Err(JwtError::Malformed));

        let other = self::key();
        assert_eq!(verify(&other, &token), Err(JwtError::OtherKey));
    }
}
