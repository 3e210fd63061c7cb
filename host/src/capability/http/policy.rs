//! The egress policy: which requests a plugin may make. Pure functions.
//!
//! # Security
//!
//! A plugin names only a path; the host joins it to the contract's base URL
//! and then checks that the result still has the base URL's origin (scheme,
//! host, port). Paths that could change the origin or escape the base path
//! (`//`, `..`, `@`, `\`, a scheme, control characters) are denied before
//! joining. Headers that carry credentials or that the host owns are denied,
//! so a plugin cannot smuggle its own `Authorization`.

use reqwest::Url;

/// Headers a plugin may never set.
pub const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "x-api-key",
    "api-key",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
];

/// Join `path` to `base`, or say why it is denied.
///
/// # Errors
///
/// A reason naming the path when it could leave the base URL's origin or path.
pub fn join(base: &Url, path: &str) -> Result<Url, String> {
    // Enforce: endpoint paths are relative to base_url and cannot name a host.
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must start with '/'"));
    }
    if path.starts_with("//")
        || path.contains("..")
        || path.contains('\\')
        || path.contains('@')
        || path.contains("://")
        || path.contains('#')
        || path.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(format!(
            "path {path:?} could leave the target; use a plain path like /chat/completions"
        ));
    }
    let prefix = base.path().trim_end_matches('/');
    let mut url = base.clone();
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    url.set_path(&format!("{prefix}{p}"));
    url.set_query(q);
    if url.origin() != base.origin() {
        return Err(format!("path {path:?} resolves to another origin"));
    }
    Ok(url)
}

/// Whether a plugin may set the header `name`.
///
/// # Errors
///
/// A reason naming the header when it is forbidden or malformed.
pub fn check_header(
    name: &str,
    value: &str,
    auth_header: &str,
    correlation_header: &str,
) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if lower.is_empty()
        || !lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("header name {name:?} is malformed"));
    }
    // Enforce: credentials are injected by the host only.
    if FORBIDDEN_HEADERS.contains(&lower.as_str())
        || lower.eq_ignore_ascii_case(auth_header)
        || lower.eq_ignore_ascii_case(correlation_header)
        || lower.starts_with("proxy-")
        || lower.starts_with("sec-")
    {
        return Err(format!("header {name:?} is set by the host"));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!(
            "header {name:?} has a control character in its value"
        ));
    }
    Ok(())
}

/// Whether an address may be connected to. Link-local (cloud metadata),
/// unspecified, multicast and broadcast addresses never are.
pub fn address_allowed(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast())
        }
        std::net::IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            let mapped_bad = v6
                .to_ipv4_mapped()
                .is_some_and(|v4| !address_allowed(v4.into()));
            !(link_local || v6.is_unspecified() || v6.is_multicast() || mapped_bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.example.test:8443/v1").unwrap()
    }

    #[test]
    fn accepts_paths_under_base() {
        assert_eq!(
            join(&base(), "/chat/completions").unwrap().as_str(),
            "https://api.example.test:8443/v1/chat/completions"
        );
        assert_eq!(
            join(&base(), "/models?limit=1").unwrap().as_str(),
            "https://api.example.test:8443/v1/models?limit=1"
        );
        let root = Url::parse("http://127.0.0.1:9/").unwrap();
        assert_eq!(join(&root, "/x").unwrap().as_str(), "http://127.0.0.1:9/x");
    }

    #[test]
    fn rejects_paths_that_leave_the_target() {
        for p in [
            "chat",
            "//evil.test/x",
            "/../admin",
            "/a/%2e%2e/..",
            "/x@evil.test",
            "/http://evil.test",
            "/a\\b",
            "/a b",
            "/a\r\nHost: evil",
            "/#frag",
        ] {
            assert!(join(&base(), p).is_err(), "{p}");
        }
    }

    #[test]
    fn rejects_credential_and_host_headers() {
        for h in [
            "Authorization",
            "cookie",
            "Host",
            "proxy-authorization",
            "X-Api-Key",
            "api-key",
            "x-client-request-id",
            "Transfer-Encoding",
        ] {
            assert!(
                check_header(h, "v", "Authorization", "x-client-request-id").is_err(),
                "{h}"
            );
        }
        assert!(check_header("my-auth", "v", "my-auth", "x").is_err());
        assert!(check_header("x-test", "a\r\nb", "Authorization", "x").is_err());
        assert!(check_header("content-type", "application/json", "Authorization", "x").is_ok());
    }

    #[test]
    fn rejects_metadata_addresses() {
        for ip in [
            "169.254.169.254",
            "0.0.0.0",
            "fe80::1",
            "::",
            "::ffff:169.254.169.254",
            "224.0.0.1",
        ] {
            assert!(!address_allowed(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.1", "93.184.216.34", "::1"] {
            assert!(address_allowed(ip.parse().unwrap()), "{ip}");
        }
    }
}
