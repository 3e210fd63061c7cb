//! The validated contract: what the rest of the host reads. Every value here
//! passed `validate`; the JSON form (for plugins and the record) is this
//! type serialized.

use serde::Serialize;
use std::collections::BTreeMap;

/// Whether a contract value was checked against its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked against the cited source on the access date.
    Verified,
    /// Not yet checked: the rollout is held until it is verified or waived.
    Assumed,
}

/// Where a section's values came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The documentation page the values were read from.
    pub source: String,
    /// The date it was read (`YYYY-MM-DD`).
    pub accessed: String,
    /// Verified or assumed.
    pub status: Status,
}

/// The contract areas of the guide's "Contract details to verify" table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
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
    /// Streaming (optional).
    Streaming,
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
            Section::Streaming => "streaming",
        }
    }

    /// The section with this TOML table name.
    pub fn from_key(key: &str) -> Option<Section> {
        Section::ALL
            .into_iter()
            .chain([Section::Streaming])
            .find(|s| s.key() == key)
    }
}

/// What an error response means for retry, alerting and fixes (the guide's step 4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Success.
    None,
    /// Malformed request; rejected before dispatch or never retryable.
    RequestConstruction,
    /// Authentication or permission failure.
    Auth,
    /// Invalid input or model.
    Validation,
    /// Network or upstream failure that may be retried.
    Transient,
    /// Rate limit or quota.
    RateLimit,
    /// Nothing matched.
    Unknown,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 7] = [
        Category::None,
        Category::RequestConstruction,
        Category::Auth,
        Category::Validation,
        Category::Transient,
        Category::RateLimit,
        Category::Unknown,
    ];

    /// The kebab-case name used in contracts and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::None => "none",
            Category::RequestConstruction => "request-construction",
            Category::Auth => "auth",
            Category::Validation => "validation",
            Category::Transient => "transient",
            Category::RateLimit => "rate-limit",
            Category::Unknown => "unknown",
        }
    }

    /// Parse the kebab-case name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// JSON types a parsed response field may be declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Parse the lower-case name.
    pub fn parse(s: &str) -> Option<JsonType> {
        Some(match s {
            "string" => JsonType::String,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "boolean" => JsonType::Boolean,
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            _ => return None,
        })
    }

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

/// `[base_url]`: the documented host.
#[derive(Debug, Clone, Serialize)]
pub struct BaseUrlSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Base URL, such as `https://api.cometapi.com/v1`.
    pub url: String,
}

/// `[endpoint]`: chat completions path and method.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Path relative to the base URL, such as `/chat/completions`.
    pub path: String,
    /// HTTP method, upper case, such as `POST`.
    pub method: String,
}

/// `[auth]`: how the credential is sent and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct AuthSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Header name, such as `Authorization`.
    pub header: String,
    /// Scheme put before the token, such as `Bearer` (empty for a bare token).
    pub scheme: String,
    /// Name of the environment variable holding the token. Never the token.
    pub credential_env: String,
}

/// `[request]`: request fields and the validated model.
#[derive(Debug, Clone, Serialize)]
pub struct RequestSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The model id validated for this integration.
    pub model: String,
    /// Fields the API requires.
    pub required_fields: Vec<String>,
    /// The field that sets the output ceiling, if documented.
    pub output_ceiling_field: Option<String>,
    /// Extra request headers the API documents (plugins may set these).
    pub headers: Vec<String>,
}

/// `[response]`: the fields the application parses.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// JSON pointer -> declared type, for every field the application reads.
    pub fields: BTreeMap<String, JsonType>,
    /// The response fields the provider documents (JSON pointers); empty: not recorded.
    pub documented_fields: Vec<String>,
    /// Header carrying the provider's request id, when documented.
    pub request_id_header: Option<String>,
    /// A pattern with one capture group that finds the request id in the error message.
    pub request_id_pattern: Option<String>,
}

/// What the provider is documented to answer for one failure case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorExpectation {
    /// Acceptable HTTP statuses.
    pub status: Vec<u16>,
    /// Expected `error.code`, when documented.
    pub code: Option<String>,
    /// The category a client should give it, when it is not the case's usual one.
    pub category: Option<Category>,
}

/// One classification override. Every given condition must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassifyRule {
    /// HTTP status (an error status, 400-599).
    pub status: u16,
    /// `error.code`, compared as text (a numeric code `400` matches `"400"`).
    pub code: Option<String>,
    /// `error.type`.
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    /// The start of the response's `content-type` (such as `text/plain`).
    pub content_type: Option<String>,
    /// Text the error message (or, for a body that is not JSON, the body) contains.
    pub message_contains: Option<String>,
    /// The category.
    pub category: Category,
    /// Whether to retry.
    pub retry: bool,
}

/// `[errors]`: error body shape and per-case expectations.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorsSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Pointer to the error message in an error body.
    pub message_pointer: String,
    /// Expectations per negative-probe case.
    pub cases: BTreeMap<String, ErrorExpectation>,
    /// Classification overrides, checked before the default table.
    pub classify: Vec<ClassifyRule>,
}

/// `[usage]`: token usage metadata.
#[derive(Debug, Clone, Serialize)]
pub struct UsageSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Whether usage fields are documented (only then are they relied on).
    pub documented: bool,
    /// The usage fields documented.
    pub fields: Vec<String>,
    /// The field with the input token count (default `prompt_tokens`).
    pub input: String,
    /// The field with the output token count (default `completion_tokens`).
    pub output: String,
    /// The field with the total (default `total_tokens`).
    pub total: String,
}

/// `[rate_limits]` and `[billing]`: assumptions that affect production behaviour.
#[derive(Debug, Clone, Serialize)]
pub struct AssumptionSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Whether the provider documents this.
    pub documented: bool,
    /// What is known or assumed, in words.
    pub notes: String,
}

/// `[observability]`: how the host labels requests. Configuration, not documentation.
#[derive(Debug, Clone, Serialize)]
pub struct ObservabilitySection {
    /// Header that carries the host's correlation id.
    pub correlation_header: String,
}

/// A validated contract snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Contract {
    /// File format version.
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
    pub observability: ObservabilitySection,
    /// `[streaming]`, when the integration streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingSection>,
}

/// `[streaming]`: server-sent events of chat completion chunks. Absent: the
/// integration does not stream (stream checks are not applicable).
#[derive(Debug, Clone, Serialize)]
pub struct StreamingSection {
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The last event's data (`[DONE]`).
    pub terminator: String,
    /// Whether `stream_options.include_usage` is documented (a last chunk
    /// with `usage` and no choices).
    pub include_usage: bool,
    /// The chunks' `object` (`chat.completion.chunk`).
    pub chunk_object: String,
}
