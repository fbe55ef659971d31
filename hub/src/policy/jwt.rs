//! Client authentication with JSON Web Tokens (HS256), for hubs started with `--jwt-secret`.
//!
//! The application's backend signs a token per user; the browser connects with `auth: {token: JWT}`.
//! The `sub` claim is the user's name (a self-chosen `user` is ignored); an optional `ns` claim lists
//! the namespaces the token admits (without it: `/` only), so that a grant for one namespace is not one
//! for all of them; an optional `rooms` claim lists the only rooms the socket may join in those (without
//! it: any room). `exp` is required and enforced, `nbf` enforced when present, both with 60 s leeway for
//! clock skew.
//!
//! [`sign`] issues such tokens for `hub gentoken` (operators' tests and scripts), with the same
//! [`Claims`] and algorithm, so that what it signs is what the hub verifies.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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

/// Leeway for clock skew between the token's issuer and the hub, for `exp` and `nbf` alike.
const LEEWAY_SECONDS: u64 = 60;

/// The namespace a token without an `ns` claim admits.
const DEFAULT_NAMESPACE: &str = "/";

/// The claims the hub reads.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Claims {
    pub sub: String,
    /// The namespaces the token admits; `None`: `/` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<Vec<String>>,
    /// The only rooms the socket may join; `None`: any room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
}

/// A token's whole payload as [`sign`] writes it: the [`Claims`] and its times, in seconds since the Unix
/// epoch. (The verifier checks `exp` itself, before the claims are read.)
#[derive(Debug, Serialize)]
struct Payload<'a> {
    #[serde(flatten)]
    claims: &'a Claims,
    iat: u64,
    exp: u64,
}

/// A token for a hub started with `--jwt-secret secret`: `claims`, issued at `issued_at` and valid until
/// `expires_at` (seconds since the Unix epoch), signed with HS256 as [`JwtVerifier`] expects.
pub fn sign(secret: &str, claims: &Claims, issued_at: u64, expires_at: u64) -> String {
    let payload = Payload { claims, iat: issued_at, exp: expires_at };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &payload,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signs any payload that serializes, and these claims always do")
}

impl Claims {
    /// Whether the token admits a socket of `namespace`.
    pub fn admits(&self, namespace: &str) -> bool {
        match &self.ns {
            Some(list) => list.iter().any(|ns| ns == namespace),
            None => namespace == DEFAULT_NAMESPACE,
        }
    }
}

/// Why a token was refused; the text is the `connect_error` message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("this hub requires a token: connect with auth: {{token: JWT}}")]
    Missing,
    #[error("invalid token: expired")]
    Expired,
    #[error("invalid token: not valid yet (its `nbf` is in the future)")]
    NotYetValid,
    #[error(
        "invalid token: not valid for namespace {0} (its `ns` claim lists the namespaces it admits; \
         without one, only `/`)"
    )]
    Namespace(String),
    #[error("invalid token: bad signature")]
    BadSignature,
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl JwtVerifier {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self { key: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// Checks the signature, `exp`, `nbf` and the claims' shapes.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::MissingRequiredClaim(claim) => JwtError::Invalid(format!("no `{claim}` claim")),
                _ => JwtError::Invalid(e.to_string()),
            },
        )
    }
}

impl JwtError {
    /// Whether the refused token may be a guess: one that only the secret's holders could have signed
    /// (expired, not valid yet, for another namespace) is not. A token that does not parse counts, even
    /// when its signature was good: the library does not say which part failed.
    pub fn is_guess(&self) -> bool {
        matches!(self, JwtError::BadSignature | JwtError::Invalid(_))
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

    #[test]
    fn nbf_is_enforced_with_the_leeway_of_exp() {
        let verifier = JwtVerifier::new(SECRET);
        let later = sign(json!({"sub": "ann", "exp": now() + 7200, "nbf": now() + 3600}), SECRET);
        assert_eq!(verifier.verify(&later).unwrap_err(), JwtError::NotYetValid);
        let skewed = sign(json!({"sub": "ann", "exp": now() + 7200, "nbf": now() + 30}), SECRET);
        assert!(verifier.verify(&skewed).is_ok(), "within the leeway");
        let expired_by_30s = sign(json!({"sub": "ann", "exp": now() - 30}), SECRET);
        assert!(verifier.verify(&expired_by_30s).is_ok(), "the same leeway for exp");
    }

    /// `super::sign`: this module's own `sign` signs any JSON.
    #[test]
    fn what_sign_issues_the_verifier_accepts_until_it_expires() {
        let verifier = JwtVerifier::new(SECRET);
        let claims =
            Claims { sub: "ann".into(), ns: Some(vec!["/orders".into()]), rooms: Some(vec!["a".into()]) };
        let token = super::sign(SECRET, &claims, now(), now() + 60);
        let verified = verifier.verify(&token).unwrap();
        assert_eq!(
            (verified.sub, verified.ns, verified.rooms),
            (claims.sub.clone(), claims.ns.clone(), claims.rooms)
        );
        let plain = Claims { sub: "bob".into(), ns: None, rooms: None };
        let verified = verifier.verify(&super::sign(SECRET, &plain, now(), now() + 60)).unwrap();
        assert!(verified.admits("/") && verified.rooms.is_none(), "no claim is written as null");
        let expired = super::sign(SECRET, &plain, now() - 7200, now() - 3600);
        assert_eq!(verifier.verify(&expired).unwrap_err(), JwtError::Expired);
        let forged = super::sign("another-secret-of-32-bytes-long!", &plain, now(), now() + 60);
        assert_eq!(verifier.verify(&forged).unwrap_err(), JwtError::BadSignature);
    }

    #[test]
    fn a_token_admits_its_namespaces_and_without_ns_only_the_main_one() {
        let verifier = JwtVerifier::new(SECRET);
        let plain = verifier.verify(&sign(json!({"sub": "ann", "exp": now() + 60}), SECRET)).unwrap();
        assert!(plain.admits("/"));
        assert!(!plain.admits("/orders"));
        let scoped = sign(json!({"sub": "ann", "exp": now() + 60, "ns": ["/orders"]}), SECRET);
        let scoped = verifier.verify(&scoped).unwrap();
        assert!(scoped.admits("/orders"));
        assert!(!scoped.admits("/") && !scoped.admits("/billing"));
    }
}
