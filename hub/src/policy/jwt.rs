//! Client authentication with JSON Web Tokens (HS256), for hubs started with `--jwt-secret`.
//!
//! The application's backend signs a token per user; the browser connects with `auth: {token: JWT}`.
//! The `sub` claim is the user's name (a self-chosen `user` is ignored), an optional `rooms` claim lists
//! the only rooms the socket may join, and `exp` is required and enforced (60 s leeway for clock skew).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The verifying key of a hub in JWT mode.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtVerifier(HS256, ***)")
    }
}

/// The claims the hub reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub rooms: Option<Vec<String>>,
}

/// Why a token was refused; the text is the `connect_error` message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("this hub requires a token: connect with auth: {{token: JWT}}")]
    Missing,
    #[error("invalid token: expired")]
    Expired,
    #[error("invalid token: bad signature")]
    BadSignature,
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl JwtVerifier {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { key: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// Checks the signature, `exp` and the claims' shapes.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::MissingRequiredClaim(claim) => JwtError::Invalid(format!("no `{claim}` claim")),
                _ => JwtError::Invalid(e.to_string()),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "a-test-secret-of-32-bytes-length";

    fn sign(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes()))
            .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn verifies_signature_expiry_and_claims() {
        let verifier = JwtVerifier::new(SECRET);
        let claims = verifier.verify(&sign(json!({"sub": "ann", "exp": now() + 60, "rooms": ["a"]}), SECRET));
        let claims = claims.unwrap();
        assert_eq!((claims.sub.as_str(), claims.rooms), ("ann", Some(vec!["a".to_owned()])));
        let expired = sign(json!({"sub": "ann", "exp": now() - 3600}), SECRET);
        assert_eq!(verifier.verify(&expired).unwrap_err(), JwtError::Expired);
        let forged = sign(json!({"sub": "ann", "exp": now() + 60}), "another-secret-of-32-bytes-long!");
        assert_eq!(verifier.verify(&forged).unwrap_err(), JwtError::BadSignature);
        let eternal = sign(json!({"sub": "ann"}), SECRET);
        assert_eq!(verifier.verify(&eternal).unwrap_err(), JwtError::Invalid("no `exp` claim".into()));
        assert!(matches!(verifier.verify("not a jwt"), Err(JwtError::Invalid(_))));
    }
}
