//! OpenID Connect discovery for ServiceAccount tokens (upstream
//! `pkg/serviceaccount/openidmetadata.go`): `/.well-known/openid-configuration` names the
//! issuer and where its keys are, `/openid/v1/jwks` lists them, so that other systems can
//! verify the cluster's tokens. Who may read them is RBAC's concern
//! (`system:service-account-issuer-discovery`).

use serde_json::{Value, json};

use super::serviceaccount::ServiceAccountTokens;

pub const CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// The discovery document; the keys are found under the issuer's URL.
pub fn configuration(tokens: &ServiceAccountTokens) -> Value {
    let issuer = tokens.issuer().trim_end_matches('/');
    json!({
        "issuer": tokens.issuer(),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [tokens.key.algorithm().name()],
    })
}

/// The key set.
pub fn jwks(tokens: &ServiceAccountTokens) -> Value {
    json!({"keys": [tokens.key.jwk()]})
}
