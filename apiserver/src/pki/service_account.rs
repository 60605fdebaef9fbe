//! The ServiceAccount token signing key: `<data>/pki/sa.key` (private, PKCS#8 or, as kubeadm
//! writes it, PKCS#1 RSA) and `sa.pub` (the public key, for anyone who verifies tokens).
//!
//! A new cluster gets an ECDSA P-256 key (tokens are ES256); a key the user put there is
//! used as it is: ECDSA P-256 (ES256) or RSA of 2048 bits or more (RS256). The key id (`kid`)
//! is upstream's: the unpadded base64url SHA-256 of the public key's PKIX DER
//! (`pkg/serviceaccount/jwt.go`, `keyIDFromPublicKey`), so tokens of a cluster moved from
//! kubeadm keep verifying.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use super::{
    CERT_MODE, KEY_MODE, PkiError, der_contents, der_element, der_tlv, invalid, read_optional,
    write_atomic, write_if_changed,
};

/// The JWS algorithm of a signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

enum Signer {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// The key that signs and verifies ServiceAccount tokens.
pub struct ServiceAccountKey {
    signer: Signer,
    rng: SystemRandom,
    /// The public key as `signature::UnparsedPublicKey` wants it: the uncompressed point for
    /// ECDSA, the PKCS#1 `RSAPublicKey` DER for RSA.
    public: Vec<u8>,
    key_id: String,
    jwk: Value,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("alg", &self.algorithm())
            .field("kid", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The PKIX `AlgorithmIdentifier` + `BIT STRING` header of a P-256 public key: SEQUENCE {
/// id-ecPublicKey, prime256v1 }, then the 65-byte uncompressed point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// SEQUENCE { rsaEncryption, NULL }.
const RSA_ALGORITHM_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

impl ServiceAccountKey {
    /// Loads `sa.key` from `pki_dir`, creating it (and `sa.pub`) on first start.
    pub(super) fn load_or_create(pki_dir: &Path) -> Result<ServiceAccountKey, PkiError> {
        let key_path = pki_dir.join("sa.key");
        let rng = SystemRandom::new();
        let key = match read_optional(&key_path)? {
            Some(pem) => parse(&key_path, &pem, rng)?,
            None => {
                let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng)
                    .map_err(|_| invalid(&key_path, "cannot generate a key"))?;
                let pem = pem_block("PRIVATE KEY", pkcs8.as_ref());
                write_atomic(&key_path, pem.as_bytes(), KEY_MODE)?;
                parse(&key_path, &pem, rng)?
            }
        };
        let public_pem = pem_block("PUBLIC KEY", &key.spki_der());
        write_if_changed(&pki_dir.join("sa.pub"), public_pem.as_bytes(), CERT_MODE)?;
        Ok(key)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.signer {
            Signer::Ecdsa(_) => Algorithm::Es256,
            Signer::Rsa(_) => Algorithm::Rs256,
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as a JSON Web Key (for `/openid/v1/jwks`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The JWS signature of `message` (the signing input `header.payload`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let failed = |_| PkiError::Tls("signing a ServiceAccount token failed".to_owned());
        match &self.signer {
            Signer::Ecdsa(key) => Ok(key
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Signer::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
        }
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature_bytes: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match self.signer {
            Signer::Ecdsa(_) => &signature::ECDSA_P256_SHA256_FIXED,
            Signer::Rsa(_) => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(algorithm, &self.public)
            .verify(message, signature_bytes)
            .is_ok()
    }

    /// The public key in PKIX `SubjectPublicKeyInfo` DER.
    fn spki_der(&self) -> Vec<u8> {
        match self.signer {
            Signer::Ecdsa(_) => [P256_SPKI_PREFIX, &self.public].concat(),
            Signer::Rsa(_) => {
                let bits = der_tlv(0x03, &[&[0][..], &self.public].concat());
                der_tlv(0x30, &[RSA_ALGORITHM_ID, &bits].concat())
            }
        }
    }
}

fn parse(path: &Path, pem: &str, rng: SystemRandom) -> Result<ServiceAccountKey, PkiError> {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| invalid(path, "no readable PEM private key"))?;
    let unsupported = "must be an ECDSA P-256 key or an RSA key of 2048 bits or more \
                       (PKCS#8 `BEGIN PRIVATE KEY`, or PKCS#1 `BEGIN RSA PRIVATE KEY`)";
    let signer = match &der {
        PrivateKeyDer::Pkcs8(pkcs8) => {
            let ecdsa = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8.secret_pkcs8_der(),
                &rng,
            );
            match ecdsa {
                Ok(key) => Signer::Ecdsa(key),
                Err(_) => RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der())
                    .map(Signer::Rsa)
                    .map_err(|_| invalid(path, unsupported))?,
            }
        }
        PrivateKeyDer::Pkcs1(pkcs1) => RsaKeyPair::from_der(pkcs1.secret_pkcs1_der())
            .map(Signer::Rsa)
            .map_err(|_| invalid(path, unsupported))?,
        _ => return Err(invalid(path, unsupported)),
    };
    let public = match &signer {
        Signer::Ecdsa(key) => key.public_key().as_ref().to_vec(),
        Signer::Rsa(key) => key.public().as_ref().to_vec(),
    };
    let mut key = ServiceAccountKey {
        signer,
        rng,
        public,
        key_id: String::new(),
        jwk: Value::Null,
    };
    let spki = key.spki_der();
    key.key_id = BASE64URL.encode(ring::digest::digest(&ring::digest::SHA256, &spki));
    key.jwk = jwk(&key).ok_or_else(|| invalid(path, "unreadable public key"))?;
    Ok(key)
}

fn jwk(key: &ServiceAccountKey) -> Option<Value> {
    let alg = key.algorithm().name();
    match key.signer {
        Signer::Ecdsa(_) => {
            // The uncompressed point: 0x04, then x and y of 32 bytes each.
            let (x, y) = key.public.get(1..)?.split_at_checked(32)?;
            Some(json!({
                "use": "sig", "kty": "EC", "kid": key.key_id, "crv": "P-256", "alg": alg,
                "x": BASE64URL.encode(x), "y": BASE64URL.encode(y),
            }))
        }
        Signer::Rsa(_) => {
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            let fields = der_contents(&key.public)?;
            let (n, rest) = der_element(fields)?;
            let (e, _) = der_element(rest)?;
            let unsigned = |int: &[u8]| -> Option<String> {
                let bytes = der_contents(int)?;
                let skip = bytes.iter().take_while(|b| **b == 0).count();
                Some(BASE64URL.encode(&bytes[skip..]))
            };
            Some(json!({
                "use": "sig", "kty": "RSA", "kid": key.key_id, "alg": alg,
                "n": unsigned(n)?, "e": unsigned(e)?,
            }))
        }
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let base64 = BASE64.encode(der);
    let lines = base64.as_bytes().chunks(64).map(String::from_utf8_lossy);
    let body = lines.collect::<Vec<_>>().join("\n");
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_signs_what_it_verifies_and_is_reused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let key = ServiceAccountKey::load_or_create(dir.path())?;
        assert_eq!(key.algorithm(), Algorithm::Es256);
        let signature = key.sign(b"header.payload")?;
        assert!(key.verify(b"header.payload", &signature));
        assert!(!key.verify(b"header.payloaX", &signature));
        let again = ServiceAccountKey::load_or_create(dir.path())?;
        assert_eq!(again.key_id(), key.key_id());
        assert!(again.verify(b"header.payload", &signature));
        assert_eq!(key.jwk()["kty"], "EC");
        assert_eq!(key.jwk()["kid"], key.key_id());
        let public = std::fs::read_to_string(dir.path().join("sa.pub"))?;
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sa.key"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn a_key_of_another_kind_is_refused_with_its_path() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("sa.key"), "not a key")?;
        let error = ServiceAccountKey::load_or_create(dir.path()).expect_err("garbage");
        assert!(error.to_string().contains("sa.key"), "{error}");
        Ok(())
    }
}
