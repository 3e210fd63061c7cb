//! Credential injection: the only place a secret is put on the wire.
//!
//! # Security
//!
//! The credential is read by the CLI from the environment variable the
//! contract names, wrapped in [`Secret`], and handed here. It is added to a
//! request after the policy check, only for `auth-mode::configured`, and only
//! to requests for the contract's origin. The guest never sees it: response
//! headers and bodies are scrubbed of it (a server that echoes the key back
//! cannot hand it to the plugin). The `invalid` mode sends a per-run
//! honeytoken instead, which the host's secret scan hunts for later.

use crate::redact::Secret;
use rand::Rng as _;

/// The credential and how to send it.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Header name (from the contract).
    pub header: String,
    /// Scheme before the token, such as `Bearer` (may be empty).
    pub scheme: String,
    /// The configured credential, when one was provided.
    pub secret: Option<Secret>,
    /// The per-run invalid token for negative probes.
    pub honeytoken: Secret,
}

impl Credentials {
    /// Credentials with a fresh honeytoken.
    pub fn new(header: &str, scheme: &str, secret: Option<Secret>) -> Self {
        Credentials {
            header: header.to_owned(),
            scheme: scheme.to_owned(),
            secret,
            honeytoken: honeytoken(),
        }
    }

    /// The header value for a token.
    pub fn header_value(&self, token: &Secret) -> String {
        if self.scheme.is_empty() {
            token.expose().to_owned()
        } else {
            format!("{} {}", self.scheme, token.expose())
        }
    }
}

/// A fresh invalid token: 48 random letters and digits, random from the first
/// character, so no part of it is public (a provider's masked echo of its
/// first characters is not a leak of anything an attacker could not guess).
pub fn honeytoken() -> Secret {
    random_token(48)
}

/// `len` random letters and digits.
pub fn random_token(len: usize) -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    Secret::new(
        (0..len)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect::<String>(),
    )
}
