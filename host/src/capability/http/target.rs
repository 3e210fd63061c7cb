//! The run's target: where requests go, how they are authenticated, and what
//! a plugin may ask of it. Built once per run, shared by every plugin.
//!
//! # Security
//!
//! The base URL's host is resolved once, here, and every address is checked
//! (`super::policy::address_allowed`); the client then connects only to those
//! addresses, so DNS cannot widen the target later. The client follows no
//! redirects (a 3xx goes back to the plugin as it is), ignores proxy variables
//! (a proxy would see the key) and does not decompress (the host asks for
//! `identity` and withholds a body it cannot scrub).

use super::credentials::Credentials;
use super::policy;
use crate::classify::Classifier;
use crate::secret::SecretSet;
use reqwest::Url;
use std::sync::Arc;
use std::time::Duration;

/// How the host finds the provider's request id in a response.
#[derive(Debug, Clone, Default)]
pub struct RequestIdRule {
    /// The response header that carries it (lower case).
    pub header: Option<String>,
    /// A pattern with one capture group, applied to the error message (at
    /// `message_pointer`) when the provider puts the id there (CometAPI:
    /// `(request id: XYZ)`).
    pub in_message: Option<regex::Regex>,
    /// JSON pointer to the error message.
    pub message_pointer: String,
}

impl RequestIdRule {
    /// The request id in a response already cleaned of secrets.
    pub fn find(
        &self,
        headers: &[(String, String)],
        body: Option<&serde_json::Value>,
    ) -> Option<String> {
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        self.header
            .as_deref()
            .and_then(header)
            .or_else(|| {
                let msg = body?.pointer(&self.message_pointer)?.as_str()?;
                let caps = self.in_message.as_ref()?.captures(msg)?;
                Some(caps.get(1)?.as_str().trim().to_owned())
            })
            .filter(|id| !id.is_empty())
            .map(|id| id.chars().take(256).collect())
    }
}

/// What the contract says about the target, before anything is resolved.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The contract's base URL.
    pub base_url: Url,
    /// Provider name (telemetry).
    pub provider: String,
    /// The chat completions path, relative to the base URL.
    pub chat_path: String,
    /// The chat completions method.
    pub chat_method: reqwest::Method,
    /// The model the contract validates.
    pub model: String,
    /// The body field that sets the output ceiling, when documented.
    pub output_ceiling_field: Option<String>,
    /// Header carrying the host's correlation id (lower case).
    pub correlation_header: String,
    /// Extra request headers the contract documents (lower case).
    pub documented_headers: Vec<String>,
    /// How to find the provider's request id.
    pub request_id: RequestIdRule,
    /// Whether the target is shipgate's own mock, which injects faults on request.
    pub is_builtin_mock: bool,
}

/// The run's target, resolved and pinned; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// What the contract says.
    pub spec: Arc<TargetSpec>,
    /// The client: no redirects, no proxy, no decompression, pinned addresses.
    pub client: reqwest::Client,
    /// Credentials.
    pub credentials: Arc<Credentials>,
    /// The run's secrets, for the scrub of everything bound for a guest.
    pub secrets: Arc<SecretSet>,
    /// Error classification.
    pub classifier: Arc<Classifier>,
    /// The model id the host made up for this run (never a real model).
    pub unapproved_model: String,
    /// The run's limits on this target, shared by every plugin.
    pub limiter: Arc<super::limiter::TargetLimiter>,
    /// Whether exchanges are recorded, or answered from recordings.
    pub tape: super::cassette::Tape,
}

/// Why building the target failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The host did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// Host name.
        host: String,
        /// Resolver message.
        reason: String,
    },
    /// It resolved to a forbidden address.
    #[error(
        "{host} resolves to {addr}, a link-local, cloud-metadata or unroutable address; shipgate will not connect there"
    )]
    ForbiddenAddress {
        /// Host name.
        host: String,
        /// The address.
        addr: std::net::IpAddr,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The target does not answer HTTP at its address (checked before the run).
    #[error("{url}: {reason}; nothing was sent ({hint})")]
    Unreachable {
        /// The base URL.
        url: String,
        /// What happened, in words.
        reason: String,
        /// What to check.
        hint: String,
    },
}

/// How long the pre-flight waits for the target to answer.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// Header that marks the pre-flight request (value `1`), so a server's logs
/// (and the mock's request list) can tell it from a check's traffic. Guests
/// cannot send it: it is not on the header allow-list.
pub const PREFLIGHT_HEADER: &str = "x-shipgate-preflight";

impl HttpTarget {
    /// Before the run: does the target answer HTTP (or HTTPS) at its address?
    /// One `HEAD` of the base URL without any credential; any HTTP status is
    /// an answer. A refused connection, a server that is not HTTP, or TLS
    /// spoken to a plain-HTTP port each give one clear error.
    ///
    /// # Errors
    ///
    /// [`TargetError::Unreachable`].
    pub async fn preflight(&self) -> Result<(), TargetError> {
        let url = self.spec.base_url.clone();
        let sent = self
            .client
            .head(url.clone())
            .header(PREFLIGHT_HEADER, "1")
            .timeout(PREFLIGHT_TIMEOUT)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => Err(unreachable(url.as_str(), &e)),
        }
    }

    /// Resolve and pin the base URL's host, then build the client; with a
    /// replaying `tape`, nothing is resolved and the client is never used
    /// (every attempt is answered from the recordings).
    ///
    /// # Errors
    ///
    /// [`TargetError`] when the host does not resolve, resolves to a
    /// forbidden address, or the client cannot be built.
    pub async fn new(
        spec: TargetSpec,
        credentials: Credentials,
        secrets: Arc<SecretSet>,
        classifier: Classifier,
        unapproved_model: String,
        limit: super::limiter::RateLimit,
        tape: super::cassette::Tape,
    ) -> Result<HttpTarget, TargetError> {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10));
        let builder = if tape.is_replay() {
            builder
        } else {
            pin(builder, &spec.base_url).await?
        };
        let client = builder
            .build()
            .map_err(|e| TargetError::Client(e.to_string()))?;
        Ok(HttpTarget {
            spec: Arc::new(spec),
            client,
            credentials: Arc::new(credentials),
            secrets,
            classifier: Arc::new(classifier),
            unapproved_model,
            limiter: Arc::new(super::limiter::TargetLimiter::new(limit)),
            tape,
        })
    }
}

/// Resolve the base URL's host once, check every address, and have the
/// client connect only to those.
async fn pin(
    mut builder: reqwest::ClientBuilder,
    base_url: &Url,
) -> Result<reqwest::ClientBuilder, TargetError> {
    let host = base_url.host_str().unwrap_or_default().to_owned();
    let port = base_url.port_or_known_default().unwrap_or(443);
    let literal: Option<std::net::IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    let addrs: Vec<std::net::SocketAddr> = match literal {
        Some(ip) => vec![std::net::SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| TargetError::Resolve {
                host: host.clone(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    // Enforce: no link-local, metadata or unroutable address, however it is written.
    if let Some(bad) = addrs.iter().find(|a| !policy::address_allowed(a.ip())) {
        return Err(TargetError::ForbiddenAddress {
            host,
            addr: bad.ip(),
        });
    }
    if literal.is_none() {
        // Enforce: connect only to the addresses checked here (DNS cannot widen the target).
        builder = builder.resolve_to_addrs(&host, &addrs);
    }
    Ok(builder)
}

/// A failed pre-flight in words, with what to check.
fn unreachable(url: &str, e: &reqwest::Error) -> TargetError {
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let https = url.starts_with("https://");
    let (reason, hint) = if e.is_timeout() {
        (
            format!("no answer within {} s", PREFLIGHT_TIMEOUT.as_secs()),
            "is the host up, and is a firewall dropping the connection?",
        )
    } else if lower.contains("connection refused") {
        (
            "the connection was refused: nothing listens there".to_owned(),
            "check the port in base_url.url, and that the server is running",
        )
    } else if https
        && (lower.contains("invalidcontenttype")
            || lower.contains("corrupt message")
            || lower.contains("tls")
            || lower.contains("handshake"))
    {
        (
            "the TLS handshake failed".to_owned(),
            "does the server speak plain HTTP? then write http:// in base_url.url",
        )
    } else if lower.contains("invalid http")
        || lower.contains("http/0.9")
        || lower.contains("parse")
        || lower.contains("connection closed before message completed")
    {
        (
            "the server there does not speak HTTP".to_owned(),
            "check the port in base_url.url",
        )
    } else {
        (
            format!(
                "cannot connect: {}",
                chain.chars().take(300).collect::<String>()
            ),
            "check base_url.url",
        )
    };
    TargetError::Unreachable {
        url: url.to_owned(),
        reason,
        hint: hint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_from_header_or_message() {
        let rule = RequestIdRule {
            header: Some("x-request-id".into()),
            in_message: Some(regex::Regex::new(r"\(request id: ([^)]+)\)").unwrap()),
            message_pointer: "/error/message".into(),
        };
        let h = vec![("X-Request-Id".to_owned(), "req_1".to_owned())];
        assert_eq!(rule.find(&h, None).as_deref(), Some("req_1"));
        let body =
            serde_json::json!({"error": {"message": "model not found (request id: 2025abc)"}});
        assert_eq!(rule.find(&[], Some(&body)).as_deref(), Some("2025abc"));
        assert_eq!(
            rule.find(&[], Some(&serde_json::json!({"error": {"message": "x"}}))),
            None
        );
        assert_eq!(RequestIdRule::default().find(&[], Some(&body)), None);
    }
}
