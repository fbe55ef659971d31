//! The signature of a batch: `sha256=` and the lowercase hex HMAC-SHA256 of the exact body, keyed with
//! `--webhook-secret`, as the receiver recomputes it (README, "Webhooks").

use std::fmt::Write;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Signs bodies with one key.
#[derive(Clone)]
pub struct Signer {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Self {
        let keyed = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
        Self { keyed }
    }

    /// The `X-Hub-Signature` value of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut header = String::with_capacity(7 + 2 * digest.len());
        header.push_str("sha256=");
        for byte in digest {
            let _ = write!(header, "{byte:02x}");
        }
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    #[test]
    fn signs_as_the_rfc_says() {
        assert_eq!(
            Signer::new("Jefe").sign(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
