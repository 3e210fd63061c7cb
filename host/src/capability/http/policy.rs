//! The egress policy: which requests a plugin may make. Pure functions, each
//! an allow-list that fails closed.
//!
//! # Security
//!
//! - **Where.** A plugin names only a path. The host joins it to the base URL
//!   and checks *the URL that will be sent*: same origin, and a path that lies
//!   under the base URL's path, unchanged by normalisation. Dot segments are
//!   denied whether written plainly or percent-encoded (`%2e%2e`), and so are
//!   encoded slashes and backslashes, which servers decode differently.
//! - **What.** `GET` and `HEAD` may name any path under the base; every other
//!   method only the contract's chat endpoint. A guest sets only the headers
//!   of an allow-list (plus those the contract documents and the plan grants
//!   by name); a grant can never name a header the host owns: credentials,
//!   `host`, `range`, encodings, hop-by-hop and routing headers.
//! - **How much.** On the chat endpoint the whole body counts against the
//!   input limit, the model must be one the run allows, `n` cannot multiply
//!   the cost, and the output ceiling can only be lowered (the host adds the
//!   contract's ceiling field when a request has none).
//! - **Addresses.** Link-local, cloud-metadata, unspecified, multicast and
//!   broadcast addresses are refused, also when an IPv6 address embeds one
//!   (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo).

use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest path (with its query) a plugin may send, in bytes.
pub const MAX_PATH_BYTES: usize = 2048;
/// Most headers a plugin may set on one request.
pub const MAX_HEADERS: usize = 32;
/// Most bytes of header names and values a plugin may set on one request.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Headers any plugin may set.
pub const ALLOWED_HEADERS: &[&str] = &["content-type", "accept", "idempotency-key"];

/// Headers the host owns: no plan grant or contract can let a plugin set them.
pub const HOST_OWNED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "expect",
    "range",
    "if-range",
    "accept-encoding",
    "content-encoding",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "forwarded",
    "via",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-shipgate-fault",
];

/// Prefixes of header names the host owns (routing, proxies, method overrides).
pub const HOST_OWNED_PREFIXES: &[&str] = &[
    "proxy-",
    "sec-",
    "x-forwarded-",
    "x-original-",
    "x-rewrite-",
    "x-http-method",
    "x-method-override",
    "x-envoy-",
    "x-amz-",
];

/// Header names the contract may use to carry the credential.
pub const AUTH_HEADERS: &[&str] = &["authorization", "api-key", "x-api-key", "x-goog-api-key"];

/// Header names the contract may use to carry the host's correlation id.
pub const CORRELATION_HEADERS: &[&str] = &[
    "x-client-request-id",
    "x-request-id",
    "x-correlation-id",
    "request-id",
    "x-trace-id",
];

/// Whether `name` is a header the host owns.
pub fn host_owned(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    HOST_OWNED_HEADERS.contains(&lower.as_str())
        || AUTH_HEADERS.contains(&lower.as_str())
        || CORRELATION_HEADERS.contains(&lower.as_str())
        || HOST_OWNED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Whether a header name is well-formed (token characters only, bounded).
pub fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a plan or contract may let plugins set `name`.
///
/// # Errors
///
/// A reason naming the header when it is malformed or owned by the host.
pub fn grantable_header(name: &str) -> Result<(), String> {
    if !header_name_ok(name) {
        return Err(format!("{name:?} is not a header name"));
    }
    if host_owned(name) {
        return Err(format!(
            "{name:?} is set by the host (credentials, routing, ranges and encodings cannot be granted)"
        ));
    }
    Ok(())
}

/// Check a plugin's headers against the allow-list: the defaults plus
/// `extra` (lower case: the contract's documented headers and the plan's grant).
///
/// # Errors
///
/// A reason naming the first header that is not allowed, or the cap exceeded.
pub fn check_headers(headers: &[(String, String)], extra: &[String]) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers, over the cap of {MAX_HEADERS}",
            headers.len()
        ));
    }
    let bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(format!(
            "{bytes} bytes of headers, over the cap of {MAX_HEADER_BYTES}"
        ));
    }
    for (name, value) in headers {
        if !header_name_ok(name) {
            return Err(format!("header name {:?} is malformed", shorten(name)));
        }
        let lower = name.to_ascii_lowercase();
        // Enforce: an allow-list; credentials and routing headers can never be on it.
        let allowed = (ALLOWED_HEADERS.contains(&lower.as_str()) || extra.contains(&lower))
            && !host_owned(&lower);
        if !allowed {
            return Err(format!(
                "header {name:?} is not on the allow-list ({}{}); a plan may grant others by name with grants.headers",
                ALLOWED_HEADERS.join(", "),
                if extra.is_empty() {
                    String::new()
                } else {
                    format!(", {}", extra.join(", "))
                }
            ));
        }
        if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(format!(
                "header {name:?} has a control character in its value"
            ));
        }
    }
    Ok(())
}

/// `s` cut to 80 characters for a message.
pub fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(80).collect::<String>())
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Check the path part of a plugin's path (before `?`).
fn check_path_part(p: &str) -> Result<(), String> {
    let bytes = p.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let decoded = match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => h << 4 | l,
                _ => return Err("has a malformed percent escape".into()),
            };
            // Enforce: no encoded dot, slash, backslash, percent or control byte in the path.
            if matches!(decoded, b'.' | b'/' | b'\\' | b'%' | b';')
                || decoded < 0x20
                || decoded == 0x7f
            {
                return Err(format!(
                    "percent-encodes {:?}, which servers decode into a path change",
                    decoded as char
                ));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    for segment in p.split('/').skip(1) {
        let name = segment.split(';').next().unwrap_or("");
        if !name.is_empty() && name.bytes().all(|b| b == b'.') {
            return Err("has a dot segment".into());
        }
    }
    Ok(())
}

/// Join `path` to `base` and check the URL that will be sent.
///
/// # Errors
///
/// A reason naming the path when the URL would leave the base URL's origin
/// or path, or would not be sent as written.
pub fn join(base: &Url, path: &str) -> Result<Url, String> {
    let shown = shorten(path);
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path of {} bytes is over the cap of {MAX_PATH_BYTES}",
            path.len()
        ));
    }
    // Enforce: endpoint paths are relative to base_url and cannot name a host.
    if !path.starts_with('/') {
        return Err(format!("path {shown:?} must start with '/'"));
    }
    if path.starts_with("//")
        || path.contains('\\')
        || path.contains('@')
        || path.contains("://")
        || path.contains('#')
        || path.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "path {shown:?} could leave the target; use a plain path like /chat/completions"
        ));
    }
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    check_path_part(p).map_err(|why| format!("path {shown:?} {why}"))?;
    let prefix = base.path().trim_end_matches('/');
    let wanted = format!("{prefix}{p}");
    let mut url = base.clone();
    url.set_path(&wanted);
    url.set_query(q);
    // Enforce: the URL actually sent has the base's origin and the path asked for, under the base path.
    if url.origin() != base.origin() {
        return Err(format!("path {shown:?} resolves to another origin"));
    }
    if url.path() != wanted
        || !(url.path() == prefix || url.path().starts_with(&format!("{prefix}/")))
    {
        return Err(format!(
            "path {shown:?} would be sent as {:?}; write it in normal form",
            shorten(url.path())
        ));
    }
    Ok(url)
}

/// Paths a plugin may read (GET or HEAD) without a grant: the model list and
/// one model. A `*` at the end matches any non-empty rest.
pub const DEFAULT_READ_PATHS: &[&str] = &["/models", "/models/*"];

/// Where a plugin may send what.
#[derive(Debug, Clone)]
pub struct Routes {
    /// The contract's chat method.
    pub chat_method: reqwest::Method,
    /// The contract's chat path.
    pub chat_path: String,
    /// Paths it may read: [`DEFAULT_READ_PATHS`] and `grants.paths`.
    pub read_paths: Vec<String>,
}

impl Routes {
    /// The routes for a contract's endpoint and a plan's grant.
    pub fn new(chat_method: reqwest::Method, chat_path: &str, granted: &[String]) -> Routes {
        let mut read_paths: Vec<String> =
            DEFAULT_READ_PATHS.iter().map(|p| (*p).to_owned()).collect();
        read_paths.extend(granted.iter().cloned());
        Routes {
            chat_method,
            chat_path: chat_path.to_owned(),
            read_paths,
        }
    }

    /// Whether `path` (query included) is the chat endpoint for `method`:
    /// exactly the contract's path, so no query parameter a gateway might act
    /// on (`api-version`, `model`, `n`) rides along.
    pub fn is_chat(&self, method: &reqwest::Method, path: &str) -> bool {
        method == self.chat_method && path == self.chat_path
    }
}

/// Whether `path` matches a read-path pattern (`/x` exactly, or `/x/*`).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
        None => path == pattern,
    }
}

/// Check that `method` may be used on `path` (the plugin's path) with a body
/// of `body_len` bytes: an allow-list. The chat endpoint takes its method;
/// GET and HEAD, without a body, may read the paths the routes list. A
/// provider's other endpoints (files, batches, fine-tunes, usage, stored
/// completions) can hold an organisation's data or cost money, so a plugin
/// reaches them only through a grant.
///
/// # Errors
///
/// A reason naming what is allowed.
pub fn check_route(
    method: &reqwest::Method,
    path: &str,
    body_len: usize,
    routes: &Routes,
) -> Result<(), String> {
    let p = path.split('?').next().unwrap_or("");
    if routes.is_chat(method, path) {
        return Ok(());
    }
    if method == routes.chat_method && p == routes.chat_path.split('?').next().unwrap_or("") {
        return Err(format!(
            "{method} {} is not allowed: the chat endpoint is sent exactly as the contract writes it ({}), with no query string of the plugin's",
            shorten(path),
            routes.chat_path
        ));
    }
    let read = method == reqwest::Method::GET || method == reqwest::Method::HEAD;
    if read && routes.read_paths.iter().any(|r| path_matches(r, p)) {
        if body_len > 0 {
            return Err(format!("{method} {} may not carry a body", shorten(p)));
        }
        return Ok(());
    }
    Err(format!(
        "{method} {} is not allowed: plugins may send {} {} (the contract's endpoint) and read {} (grant more with grants.paths)",
        shorten(p),
        routes.chat_method,
        routes.chat_path,
        routes.read_paths.join(", ")
    ))
}

/// Check a `grants.paths` entry: an absolute path in normal form, with at
/// most a trailing `*`.
///
/// # Errors
///
/// What is wrong with it.
pub fn grantable_path(p: &str) -> Result<(), String> {
    let body = p.strip_suffix('*').unwrap_or(p);
    if !p.starts_with('/')
        || p.len() > 256
        || body.contains(['*', '?', '#', '%', '\\'])
        || body.split('/').any(|s| s == "." || s == "..")
        || p.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "{:?} is not a path pattern: write an absolute path under the base URL, like \"/files\" or \"/files/*\"",
            shorten(p)
        ));
    }
    Ok(())
}

fn v4_allowed(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    !(v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || o[0] == 0
        // Alibaba Cloud metadata, and Oracle Cloud's legacy one.
        || o == [100, 100, 100, 200]
        || o == [192, 0, 0, 192])
}

/// The IPv4 address an IPv6 address carries, if any (mapped, compatible,
/// NAT64, 6to4, Teredo).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    // IPv4-compatible (deprecated) ::a.b.c.d, but not ::1 or ::.
    if s[..6].iter().all(|x| *x == 0) && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail);
    }
    // NAT64: 64:ff9b::/96 and 64:ff9b:1::/48.
    if (s[0] == 0x64 && s[1] == 0xff9b) && (s[2..6].iter().all(|x| *x == 0) || s[2] == 1) {
        return Some(tail);
    }
    // 6to4: 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    // Teredo: 2001:0::/32, client address inverted in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        let t = !((u32::from(s[6]) << 16) | u32::from(s[7]));
        return Some(Ipv4Addr::from(t));
    }
    None
}

/// Whether an address may be connected to.
pub fn address_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let link_local = (s[0] & 0xffc0) == 0xfe80;
            // AWS's IPv6 instance metadata endpoint.
            let aws_imds = s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254];
            let embedded_bad = embedded_v4(v6).is_some_and(|v4| !v4_allowed(v4));
            !(link_local || aws_imds || v6.is_unspecified() || v6.is_multicast() || embedded_bad)
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
            join(&base(), "/models?limit=1&after=a%2Fb")
                .unwrap()
                .as_str(),
            "https://api.example.test:8443/v1/models?limit=1&after=a%2Fb"
        );
        let root = Url::parse("http://127.0.0.1:9/").unwrap();
        assert_eq!(join(&root, "/x").unwrap().as_str(), "http://127.0.0.1:9/x");
        assert!(join(&base(), "/models/gpt-4o%3Amini").is_ok());
    }

    #[test]
    fn rejects_paths_that_leave_the_target() {
        for p in [
            "chat",
            "//evil.test/x",
            "/../admin",
            "/a/%2e%2e/..",
            "/%2e%2e/%2e%2e/admin",
            "/.%2e/.%2e/admin",
            "/%2E%2E/secret",
            "/%2e./x",
            "/a/%2F../b",
            "/a%5c..%5cb",
            "/a/./b",
            "/a/..;/b",
            "/x@evil.test",
            "/http://evil.test",
            "/a\\b",
            "/a b",
            "/a\r\nHost: evil",
            "/#frag",
            "/a%zz",
            "/a%00",
            "/a%252e%252e/b",
        ] {
            assert!(join(&base(), p).is_err(), "{p}");
        }
        assert!(join(&base(), &format!("/{}", "a".repeat(MAX_PATH_BYTES))).is_err());
    }

    #[test]
    fn only_the_chat_endpoint_takes_writes() {
        let post = reqwest::Method::POST;
        let get = reqwest::Method::GET;
        let routes = Routes::new(post.clone(), "/chat/completions", &[]);
        assert!(check_route(&post, "/chat/completions", 10, &routes).is_ok());
        assert!(check_route(&get, "/models", 0, &routes).is_ok());
        assert!(check_route(&get, "/models/gpt-4o?x=1", 0, &routes).is_ok());
        assert!(check_route(&reqwest::Method::HEAD, "/models/org/m", 0, &routes).is_ok());
        // Reads beyond the list, a body on a read, other writes: denied.
        for (m, p, len) in [
            (&get, "/files", 0),
            (&get, "/chat/completions", 0),
            (&get, "/organization/usage", 0),
            (&get, "/models/", 0),
            (&get, "/models", 5),
            (&post, "/images/generations", 5),
            (&reqwest::Method::DELETE, "/files/x", 0),
            (&post, "/chat/completions?api-version=2099-01-01&n=8", 5),
        ] {
            assert!(check_route(m, p, len, &routes).is_err(), "{m} {p}");
        }
        let granted = Routes::new(post.clone(), "/chat/completions", &["/files/*".into()]);
        assert!(check_route(&get, "/files/f-1", 0, &granted).is_ok());
        assert!(check_route(&get, "/files", 0, &granted).is_err());
        assert!(grantable_path("/files/*").is_ok());
        for bad in ["files", "/a/../b", "/a*b", "/x?y", "/ space"] {
            assert!(grantable_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_come_from_an_allow_list() {
        let h = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        assert!(check_headers(&h("Content-Type", "application/json"), &[]).is_ok());
        assert!(
            check_headers(
                &h("OpenAI-Organization", "org"),
                &["openai-organization".into()]
            )
            .is_ok()
        );
        for name in [
            "Authorization",
            "cookie",
            "Host",
            "proxy-authorization",
            "X-Api-Key",
            "api-key",
            "x-client-request-id",
            "Transfer-Encoding",
            "Range",
            "Accept-Encoding",
            "X-Original-URL",
            "X-Rewrite-URL",
            "X-HTTP-Method-Override",
            "X-Forwarded-For",
            "X-Forwarded-Host",
            "Via",
            "x-shipgate-fault",
            "x-anything",
        ] {
            assert!(check_headers(&h(name, "v"), &[]).is_err(), "{name}");
        }
        // A grant cannot let a plugin set a header the host owns.
        assert!(check_headers(&h("range", "bytes=0-15"), &["range".into()]).is_err());
        assert!(grantable_header("Range").is_err());
        assert!(grantable_header("X-Forwarded-Proto").is_err());
        assert!(grantable_header("OpenAI-Project").is_ok());
        assert!(check_headers(&h("accept", "a\r\nb"), &[]).is_err());
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|_| ("accept".into(), "x".into()))
            .collect();
        assert!(check_headers(&many, &[]).is_err());
        assert!(check_headers(&h("accept", &"x".repeat(MAX_HEADER_BYTES)), &[]).is_err());
    }

    #[test]
    fn rejects_metadata_and_unroutable_addresses() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "0.0.0.0",
            "100.100.100.200",
            "192.0.0.192",
            "fe80::1",
            "::",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "::a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "fd00:ec2::254",
            "224.0.0.1",
            "ff02::1",
        ] {
            assert!(!address_allowed(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "93.184.216.34",
            "::1",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
        ] {
            assert!(address_allowed(ip.parse().unwrap()), "{ip}");
        }
    }
}
