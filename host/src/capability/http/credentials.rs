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
//! honeytoken instead, which the redaction audit hunts for later.

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

/// A fresh, unique, key-shaped invalid token: `sk-shipgate-honeytoken-<32 hex>`.
pub fn honeytoken() -> Secret {
    let bytes: [u8; 16] = rand::rng().random();
    Secret::new(format!("sk-shipgate-honeytoken-{}", hex::encode(bytes)))
}
