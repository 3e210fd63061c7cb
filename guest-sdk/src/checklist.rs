//! Ids of the validation guide's production readiness checklist.
//!
//! A finding says which items it covers; the host maps every item of the
//! checklist to the findings that cover it, and an item that nothing covered is
//! reported as "not verified". The host rejects ids not listed here.

/// Current API reference checked.
pub const API_REFERENCE_CHECKED: &str = "api-reference-checked";
/// Endpoint path and method verified.
pub const ENDPOINT_VERIFIED: &str = "endpoint-verified";
/// Base URL verified.
pub const BASE_URL_VERIFIED: &str = "base-url-verified";
/// Auth header and token handling verified.
pub const AUTH_VERIFIED: &str = "auth-verified";
/// Request schema validated locally.
pub const REQUEST_SCHEMA_VALIDATED: &str = "request-schema-validated";
/// Response parser tested against observed successful response.
pub const RESPONSE_PARSER_TESTED: &str = "response-parser-tested";
/// Error categories tested with controlled negative probes.
pub const ERROR_CATEGORIES_TESTED: &str = "error-categories-tested";
/// Retry policy bounded and observable.
pub const RETRY_POLICY_BOUNDED: &str = "retry-policy-bounded";
/// Timeout policy configured by environment.
pub const TIMEOUT_POLICY_CONFIGURED: &str = "timeout-policy-configured";
/// Token or output limits configurable.
pub const TOKEN_LIMITS_CONFIGURABLE: &str = "token-limits-configurable";
/// Usage or billing fields verified before use.
pub const USAGE_FIELDS_VERIFIED: &str = "usage-fields-verified";
/// Logs redact secrets and sensitive content.
pub const LOGS_REDACTED: &str = "logs-redacted";
/// Metrics and alerts attached to production dashboards.
pub const METRICS_ATTACHED: &str = "metrics-attached";
/// Rollout flag or traffic control available.
pub const ROLLOUT_FLAG_AVAILABLE: &str = "rollout-flag-available";
/// Rollback path documented.
pub const ROLLBACK_DOCUMENTED: &str = "rollback-documented";
