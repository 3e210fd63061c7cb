//! The contract snapshot: what the integration relies on, and where each fact came from.
//!
//! The validation guide's step 1 asks for a frozen "contract snapshot" with one
//! row per contract area. Each section of the TOML file is one row of that
//! table and carries its provenance: the documentation `source` URL, the
//! `accessed` date and a `status` of `verified` or `assumed`. Assumed items
//! that a check depends on hold the rollout (see [`crate::decision`]).
//!
//! ```toml
//! schema = 1
//! provider = "cometapi"
//!
//! [base_url]
//! source = "https://apidoc.cometapi.com/"
//! accessed = "2026-11-30"
//! status = "assumed"
//! url = "https://api.cometapi.com/v1"
//!
//! [endpoint]
//! # ... path, method; [auth], [request], [response], [errors], [usage],
//! # [rate_limits], [billing] likewise
//! ```
//!
//! Per-provider error expectations are data here, not code: CometAPI answers a
//! missing `messages` with 500 `invalid_request`, OpenAI with 400.
//!
//! # Security
//!
//! The contract names the environment variable that holds the credential
//! (`auth.credential_env`), never the credential. A value that looks like a key
//! in that field is rejected, so a token pasted there is not written into the
//! record.

mod template;

pub use template::{Provider, template};

use crate::config_error::ConfigError;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// The contract file format version this build reads.
pub const CONTRACT_SCHEMA: u32 = 1;

/// Whether a contract value was checked against its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked against the cited source on the access date.
    Verified,
    /// Not yet checked: a rollout that depends on it is held.
    Assumed,
}

/// Where a section's values came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The documentation page the values were read from.
    pub source: String,
    /// The date it was read (`YYYY-MM-DD`).
    pub accessed: String,
    /// Verified or assumed.
    pub status: Status,
}

/// The contract areas of the guide's "Contract details to verify" table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Base URL.
    BaseUrl,
    /// Endpoint path and method.
    Endpoint,
    /// Auth headers.
    Auth,
    /// Request fields.
    Request,
    /// Response fields.
    Response,
    /// Error behaviour.
    Errors,
    /// Usage metadata.
    Usage,
    /// Rate-limit assumptions.
    RateLimits,
    /// Billing assumptions.
    Billing,
}

impl Section {
    /// Every section, in the guide's order.
    pub const ALL: [Section; 9] = [
        Section::Endpoint,
        Section::BaseUrl,
        Section::Auth,
        Section::Request,
        Section::Response,
        Section::Errors,
        Section::Usage,
        Section::RateLimits,
        Section::Billing,
    ];

    /// The TOML table name.
    pub fn key(self) -> &'static str {
        match self {
            Section::BaseUrl => "base_url",
            Section::Endpoint => "endpoint",
            Section::Auth => "auth",
            Section::Request => "request",
            Section::Response => "response",
            Section::Errors => "errors",
            Section::Usage => "usage",
            Section::RateLimits => "rate_limits",
            Section::Billing => "billing",
        }
    }
}

/// `[base_url]`: the documented host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseUrlSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Base URL, such as `https://api.cometapi.com/v1`.
    pub url: Spanned<String>,
}

/// `[endpoint]`: chat completions path and method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Path relative to the base URL, such as `/chat/completions`.
    pub path: Spanned<String>,
    /// HTTP method, such as `POST`.
    pub method: Spanned<String>,
}

/// `[auth]`: how the credential is sent and where it comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Header name, such as `Authorization`.
    pub header: Spanned<String>,
    /// Scheme put before the token, such as `Bearer` (empty for a bare token).
    #[serde(default)]
    pub scheme: String,
    /// Name of the environment variable holding the token. Never the token.
    pub credential_env: Spanned<String>,
}

/// `[request]`: request fields and the validated model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The model id validated for this integration.
    pub model: Spanned<String>,
    /// Fields the API requires.
    pub required_fields: Vec<String>,
    /// The field that sets the output ceiling (`max_tokens` or `max_completion_tokens`), if documented.
    #[serde(default)]
    pub output_ceiling_field: Option<String>,
    /// Extra request headers the API documents (such as `OpenAI-Project`);
    /// plugins may set these. Headers the host owns cannot be listed.
    #[serde(default)]
    pub headers: Vec<String>,
}

/// JSON types a parsed response field may be declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// true/false.
    Boolean,
    /// An object.
    Object,
    /// An array.
    Array,
}

impl JsonType {
    /// Whether `v` has this type.
    pub fn matches(self, v: &serde_json::Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Integer => v.is_i64() || v.is_u64(),
            JsonType::Number => v.is_number(),
            JsonType::Boolean => v.is_boolean(),
            JsonType::Object => v.is_object(),
            JsonType::Array => v.is_array(),
        }
    }
}

/// `[response]`: the fields the application parses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// JSON pointer -> declared type, for every field the application reads.
    pub fields: BTreeMap<String, JsonType>,
    /// The response fields the provider's documentation declares (JSON
    /// pointers). A parsed field not listed here is "parsing an undocumented
    /// field". Empty: not recorded, so that check is skipped.
    #[serde(default)]
    pub documented_fields: Vec<String>,
    /// Header carrying the provider's request id, when documented.
    #[serde(default)]
    pub request_id_header: Option<String>,
    /// A regular expression with one capture group that finds the provider's
    /// request id in the error message (at `errors.message_pointer`), for
    /// providers that put it there (CometAPI: `\(request id: ([^)]+)\)`).
    #[serde(default)]
    pub request_id_pattern: Option<String>,
}

/// What the provider is documented to answer for one failure case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorExpectation {
    /// Acceptable HTTP statuses.
    pub status: Vec<u16>,
    /// Expected `error.code`, when documented.
    #[serde(default)]
    pub code: Option<String>,
}

/// One classification override: a status (and optionally `error.code`/`error.type`) to a category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRule {
    /// HTTP status this rule matches.
    pub status: u16,
    /// `error.code` this rule matches, if any.
    #[serde(default)]
    pub code: Option<String>,
    /// `error.type` this rule matches, if any.
    #[serde(default, rename = "type")]
    pub error_type: Option<String>,
    /// The category: `request-construction`, `auth`, `validation`, `transient`, `rate-limit`.
    pub category: String,
    /// Whether to retry.
    pub retry: bool,
}

/// `[errors]`: error body shape and per-case expectations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Pointer to the error message in an error body (default `/error/message`).
    #[serde(default = "default_error_message_pointer")]
    pub message_pointer: String,
    /// Expectations per negative-probe case (`missing_auth`, `invalid_auth`,
    /// `missing_model`, `missing_messages`, `unknown_model`, `oversized_prompt`,
    /// `rate_limited`).
    #[serde(default)]
    pub cases: BTreeMap<String, ErrorExpectation>,
    /// Classification overrides, checked before the default table.
    #[serde(default)]
    pub classify: Vec<ClassifyRule>,
}

fn default_error_message_pointer() -> String {
    "/error/message".to_owned()
}

/// `[usage]`: token usage metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Whether usage fields are documented (only then are they relied on).
    pub documented: bool,
    /// The usage fields documented (such as `prompt_tokens`).
    #[serde(default)]
    pub fields: Vec<String>,
}

/// `[rate_limits]` and `[billing]`: assumptions that affect production behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumptionSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Whether the provider documents this.
    pub documented: bool,
    /// What is known or assumed, in words.
    #[serde(default)]
    pub notes: String,
}

/// `[observability]`: how the host labels requests. Configuration, not documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservabilitySection {
    /// Header that carries the host's correlation id.
    #[serde(default = "default_correlation_header")]
    pub correlation_header: String,
}

impl Default for ObservabilitySection {
    fn default() -> Self {
        ObservabilitySection {
            correlation_header: default_correlation_header(),
        }
    }
}

fn default_correlation_header() -> String {
    "x-client-request-id".to_owned()
}

/// A validated contract snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// File format version; must be [`CONTRACT_SCHEMA`].
    pub schema: u32,
    /// Provider name, such as `cometapi`.
    pub provider: String,
    /// `[base_url]`.
    pub base_url: BaseUrlSection,
    /// `[endpoint]`.
    pub endpoint: EndpointSection,
    /// `[auth]`.
    pub auth: AuthSection,
    /// `[request]`.
    pub request: RequestSection,
    /// `[response]`.
    pub response: ResponseSection,
    /// `[errors]`.
    pub errors: ErrorsSection,
    /// `[usage]`.
    pub usage: UsageSection,
    /// `[rate_limits]`.
    pub rate_limits: AssumptionSection,
    /// `[billing]`.
    pub billing: AssumptionSection,
    /// `[observability]`.
    #[serde(default)]
    pub observability: ObservabilitySection,
}

impl Contract {
    /// Read and validate a contract file.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the file, line and key for an unreadable file,
    /// malformed TOML, an unknown or missing key, or a value that fails
    /// validation.
    pub fn load(path: &Path) -> Result<Contract, ConfigError> {
        let text = ConfigError::read(path, "contract")?;
        Contract::parse(path, &text)
    }

    /// Parse and validate contract text; `path` is only used in errors.
    ///
    /// # Errors
    ///
    /// As [`Contract::load`].
    pub fn parse(path: &Path, text: &str) -> Result<Contract, ConfigError> {
        let contract: Contract = toml::from_str(text).map_err(|e| {
            ConfigError::from_toml(
                path,
                text,
                &e,
                "see `shipgate init --provider cometapi` for a complete, commented contract",
            )
        })?;
        contract.validate(path, text)?;
        Ok(contract)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let err = |msg: String, span: std::ops::Range<usize>, help: &str| {
            ConfigError::new(path, msg).help(help).at(text, Some(span))
        };
        if self.schema != CONTRACT_SCHEMA {
            return Err(ConfigError::new(
                path,
                format!("`schema = {}` is not supported", self.schema),
            )
            .help(format!(
                "this shipgate reads contract schema {CONTRACT_SCHEMA}"
            )));
        }
        let url = &self.base_url.url;
        match Url::parse(url.get_ref()) {
            Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => {
                if !u.username().is_empty() || u.password().is_some() {
                    return Err(err(
                        "`base_url.url` carries credentials".into(),
                        url.span(),
                        "remove `user:pass@`; the host injects the credential from `auth.credential_env`",
                    ));
                }
                if u.query().is_some() || u.fragment().is_some() {
                    return Err(err(
                        format!(
                            "`base_url.url` = {:?} has a query or fragment",
                            url.get_ref()
                        ),
                        url.span(),
                        "write scheme, host, port and path prefix only, e.g. \"https://api.cometapi.com/v1\"",
                    ));
                }
            }
            _ => {
                return Err(err(
                    format!("`base_url.url` = {:?} is not an http(s) URL", url.get_ref()),
                    url.span(),
                    "write it like \"https://api.cometapi.com/v1\"",
                ));
            }
        }
        let p = &self.endpoint.path;
        let base = self.base_url();
        if let Err(why) = crate::capability::http::policy::join(&base, p.get_ref()) {
            return Err(err(
                format!("`endpoint.path`: {why}"),
                p.span(),
                "write it like \"/chat/completions\": a plain path under the base URL",
            ));
        }
        if p.get_ref().contains('?') {
            return Err(err(
                format!("`endpoint.path` = {:?} has a query", p.get_ref()),
                p.span(),
                "write the path only, like \"/chat/completions\"",
            ));
        }
        let m = &self.endpoint.method;
        if !["GET", "POST", "PUT", "PATCH", "DELETE"]
            .contains(&m.get_ref().to_ascii_uppercase().as_str())
        {
            return Err(err(
                format!(
                    "`endpoint.method` = {:?} is not an HTTP method",
                    m.get_ref()
                ),
                m.span(),
                "chat completions are documented as \"POST\"",
            ));
        }
        let h = &self.auth.header;
        // Enforce: the credential goes only in a header made for credentials.
        if !crate::capability::http::policy::AUTH_HEADERS
            .contains(&h.get_ref().to_ascii_lowercase().as_str())
        {
            return Err(err(
                format!(
                    "`auth.header` = {:?} is not a credential header",
                    h.get_ref()
                ),
                h.span(),
                &format!(
                    "use one of: {}",
                    crate::capability::http::policy::AUTH_HEADERS.join(", ")
                ),
            ));
        }
        if !self
            .auth
            .scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ConfigError::new(
                path,
                format!(
                    "`auth.scheme` = {:?} is not an auth scheme",
                    self.auth.scheme
                ),
            )
            .help("write it like \"Bearer\", or \"\" for a bare token"));
        }
        let ch = &self.observability.correlation_header;
        if !crate::capability::http::policy::CORRELATION_HEADERS
            .contains(&ch.to_ascii_lowercase().as_str())
        {
            return Err(ConfigError::new(
                path,
                format!("`observability.correlation_header` = {ch:?} is not a correlation header"),
            )
            .help(format!(
                "use one of: {}",
                crate::capability::http::policy::CORRELATION_HEADERS.join(", ")
            )));
        }
        for hd in &self.request.headers {
            if let Err(why) = crate::capability::http::policy::grantable_header(hd) {
                return Err(ConfigError::new(path, format!("`request.headers`: {why}"))
                    .help("list only documented, non-credential request headers such as \"OpenAI-Project\""));
            }
        }
        if let Some(pattern) = &self.response.request_id_pattern {
            match regex::Regex::new(pattern) {
                Ok(re) if re.captures_len() == 2 => {}
                _ => {
                    return Err(ConfigError::new(
                        path,
                        format!("`response.request_id_pattern` = {pattern:?} is not a regular expression with one capture group"),
                    )
                    .help("write it like \"\\\\(request id: ([^)]+)\\\\)\""));
                }
            }
        }
        let env = &self.auth.credential_env;
        let name = env.get_ref();
        let looks_like_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !looks_like_name {
            // Do not echo the value: it may be a pasted token.
            return Err(err(
                "`auth.credential_env` must be the NAME of an environment variable (A-Z, 0-9, _), not a token".into(),
                env.span(),
                "write e.g. credential_env = \"COMETAPI_KEY\" and export COMETAPI_KEY in the environment",
            ));
        }
        let model = self.request.model.get_ref();
        if model.trim().is_empty()
            || model.len() > 256
            || model.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(err(
                format!(
                    "`request.model` = {:?} is not a model id",
                    policy_short(model)
                ),
                self.request.model.span(),
                "name the model id validated for this integration, without spaces or control characters",
            ));
        }
        for pointer in self.response.fields.keys() {
            if !pointer.starts_with('/') {
                return Err(ConfigError::new(
                    path,
                    format!("`response.fields` key {pointer:?} is not a JSON pointer"),
                )
                .help("write it like \"/choices/0/message/content\""));
            }
        }
        for rule in &self.errors.classify {
            if crate::classify::Category::parse(&rule.category).is_none() {
                return Err(ConfigError::new(
                    path,
                    format!("`errors.classify` category {:?} is unknown", rule.category),
                )
                .help(
                    "use one of: request-construction, auth, validation, transient, rate-limit",
                ));
            }
        }
        for section in Section::ALL {
            let p = self.provenance(section);
            if time::Date::parse(
                &p.accessed,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .is_err()
            {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "`{}.accessed` = {:?} is not a date",
                        section.key(),
                        p.accessed
                    ),
                )
                .help("write the day you read the source as \"YYYY-MM-DD\""));
            }
        }
        Ok(())
    }

    /// The provenance of one section.
    pub fn provenance(&self, section: Section) -> &Provenance {
        match section {
            Section::BaseUrl => &self.base_url.provenance,
            Section::Endpoint => &self.endpoint.provenance,
            Section::Auth => &self.auth.provenance,
            Section::Request => &self.request.provenance,
            Section::Response => &self.response.provenance,
            Section::Errors => &self.errors.provenance,
            Section::Usage => &self.usage.provenance,
            Section::RateLimits => &self.rate_limits.provenance,
            Section::Billing => &self.billing.provenance,
        }
    }

    /// The base URL, parsed (validated at load).
    pub fn base_url(&self) -> Url {
        Url::parse(self.base_url.url.get_ref()).expect("validated at load")
    }

    /// The contract as JSON, as plugins and the record see it. It holds no secret.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

fn policy_short(s: &str) -> String {
    crate::capability::http::policy::shorten(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Contract, ConfigError> {
        Contract::parse(Path::new("contract.toml"), text)
    }

    #[test]
    fn accepts_every_template() {
        for p in [Provider::Cometapi, Provider::Openai, Provider::Generic] {
            let c = parse(&template(p, None)).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert_eq!(c.schema, CONTRACT_SCHEMA);
        }
    }

    #[test]
    fn cometapi_template_documents_its_quirks() {
        let c = parse(&template(Provider::Cometapi, None)).unwrap();
        assert_eq!(c.base_url.url.get_ref(), "https://api.cometapi.com/v1");
        assert_eq!(c.auth.credential_env.get_ref(), "COMETAPI_KEY");
        assert_eq!(c.errors.cases["missing_messages"].status, vec![500]);
        assert_eq!(
            c.errors.cases["unknown_model"].code.as_deref(),
            Some("model_not_found")
        );
        assert!(
            Section::ALL
                .iter()
                .all(|s| c.provenance(*s).status == Status::Assumed)
        );
    }

    #[test]
    fn rejects_unknown_key_with_line() {
        let text = template(Provider::Openai, None).replace("[usage]", "[usage]\ncolour = 1");
        let e = parse(&text).unwrap_err();
        assert!(e.message().contains("colour"), "{}", e.message());
        assert!(e.message().starts_with("line "), "{}", e.message());
    }

    #[test]
    fn rejects_token_in_credential_env_without_echoing_it() {
        let token = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL";
        let text = template(Provider::Openai, None).replace(
            "credential_env = \"OPENAI_API_KEY\"",
            &format!("credential_env = \"{token}\""),
        );
        let e = parse(&text).unwrap_err();
        assert!(e.message().contains("credential_env"));
        assert!(!e.message().contains(token));
    }

    #[test]
    fn rejects_base_url_with_credentials() {
        let text = template(Provider::Openai, None).replace(
            "https://api.openai.com/v1",
            "https://user:pw@api.openai.com/v1",
        );
        assert!(parse(&text).unwrap_err().message().contains("credentials"));
    }

    #[test]
    fn rejects_relative_path_escape() {
        for bad in [
            "/../admin",
            "/%2e%2e/%2e%2e/admin",
            "/.%2e/x",
            "//evil.test/x",
            "/a?b=1",
        ] {
            let text = template(Provider::Openai, None)
                .replace("path = \"/chat/completions\"", &format!("path = \"{bad}\""));
            assert!(
                parse(&text)
                    .unwrap_err()
                    .message()
                    .contains("endpoint.path"),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_headers_that_are_not_made_for_the_job() {
        for (from, to) in [
            ("header = \"Authorization\"", "header = \"Host\""),
            ("header = \"Authorization\"", "header = \"Cookie\""),
            ("header = \"Authorization\"", "header = \"Content-Length\""),
            (
                "correlation_header = \"x-client-request-id\"",
                "correlation_header = \"Authorization\"",
            ),
            ("model = \"gpt-4o-mini\"", "model = \"gpt\\nx\""),
        ] {
            let text = template(Provider::Openai, None).replace(from, to);
            assert!(parse(&text).is_err(), "{to}");
        }
        let text = template(Provider::Openai, None).replace(
            "output_ceiling_field",
            "headers = [\"Range\"]\noutput_ceiling_field",
        );
        assert!(
            parse(&text)
                .unwrap_err()
                .message()
                .contains("request.headers")
        );
    }

    #[test]
    fn rejects_missing_section() {
        let text = template(Provider::Openai, None);
        let start = text.find("[billing]").unwrap();
        let e = parse(&text[..start]).unwrap_err();
        assert!(e.message().contains("billing"), "{}", e.message());
    }

    #[test]
    fn rejects_bad_date_and_status() {
        let text = template(Provider::Openai, None)
            .replace("status = \"assumed\"\nurl", "status = \"maybe\"\nurl");
        assert!(parse(&text).unwrap_err().message().contains("maybe"));
        let text =
            template(Provider::Openai, None).replace("accessed = \"", "accessed = \"yesterday");
        assert!(parse(&text).unwrap_err().message().contains("not a date"));
    }
}
