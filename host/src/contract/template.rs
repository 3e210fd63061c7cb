//! Commented contract templates (`shipgate init --provider ...`).
//!
//! Templates for real providers mark every section `assumed`: the operator
//! verifies each against the cited page and flips it to `verified`. The mock
//! template describes shipgate's own mock server, whose behaviour is defined by
//! this repository, so it is `verified`.

use std::fmt::Write as _;

/// A provider a template exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// CometAPI (OpenAI-compatible gateway).
    Cometapi,
    /// OpenAI.
    Openai,
    /// Any OpenAI-compatible API.
    Generic,
    /// shipgate's built-in mock server.
    Mock,
}

struct Facts {
    provider: &'static str,
    docs: &'static str,
    api_page: &'static str,
    help_center: &'static str,
    base_url: String,
    credential_env: &'static str,
    model: &'static str,
    request_id_header: Option<&'static str>,
    request_id_pattern: Option<&'static str>,
    missing_messages: (u16, Option<&'static str>),
    unknown_model: (u16, Option<&'static str>),
    rate_limits_documented: bool,
    rate_limit_notes: &'static str,
    billing_documented: bool,
    billing_notes: &'static str,
    status: &'static str,
    classify: &'static str,
}

fn facts(p: Provider, mock_base_url: Option<&str>) -> Facts {
    match p {
        Provider::Cometapi => Facts {
            provider: "cometapi",
            docs: "https://apidoc.cometapi.com/",
            api_page: "https://apidoc.cometapi.com/ (chat completions API page)",
            help_center: "https://www.cometapi.com/ (help center)",
            base_url: "https://api.cometapi.com/v1".into(),
            credential_env: "COMETAPI_KEY",
            model: "gpt-4o-mini",
            request_id_header: None,
            request_id_pattern: Some(r"\(request id: ([^)]+)\)"),
            missing_messages: (500, Some("invalid_request")),
            unknown_model: (503, Some("model_not_found")),
            rate_limits_documented: false,
            rate_limit_notes: "429 is retried with exponential backoff and jitter per CometAPI's retry table; no x-ratelimit-* or Retry-After header is documented",
            billing_documented: false,
            billing_notes: "pricing is per model and not verified here; keep it out of constants",
            status: "assumed",
            classify: "\n# CometAPI answers some client errors with 5xx: these are not transient.\n[[errors.classify]]\nstatus = 500\ncode = \"invalid_request\"\ncategory = \"validation\"\nretry = false\n\n[[errors.classify]]\nstatus = 503\ncode = \"model_not_found\"\ncategory = \"validation\"\nretry = false\n",
        },
        Provider::Openai | Provider::Generic => Facts {
            provider: if p == Provider::Openai {
                "openai"
            } else {
                "generic"
            },
            docs: "https://platform.openai.com/docs/api-reference/chat",
            api_page: "https://platform.openai.com/docs/api-reference/chat/create",
            help_center: "https://help.openai.com/",
            base_url: "https://api.openai.com/v1".into(),
            credential_env: "OPENAI_API_KEY",
            model: "gpt-4o-mini",
            request_id_header: Some("x-request-id"),
            request_id_pattern: None,
            missing_messages: (400, None),
            unknown_model: (404, Some("model_not_found")),
            rate_limits_documented: true,
            rate_limit_notes: "x-ratelimit-{limit,remaining,reset}-{requests,tokens} and retry-after headers",
            billing_documented: false,
            billing_notes: "pricing is per model and not verified here; keep it out of constants",
            status: "assumed",
            classify: "",
        },
        Provider::Mock => Facts {
            provider: "mock",
            docs: "shipgate built-in mock (host/src/mock)",
            api_page: "shipgate built-in mock (host/src/mock)",
            help_center: "shipgate built-in mock (host/src/mock)",
            base_url: mock_base_url
                .unwrap_or("http://127.0.0.1:8787/v1")
                .to_owned(),
            credential_env: "SHIPGATE_MOCK_KEY",
            model: "mock-gpt",
            request_id_header: Some("x-request-id"),
            request_id_pattern: None,
            missing_messages: (400, None),
            unknown_model: (404, Some("model_not_found")),
            rate_limits_documented: true,
            rate_limit_notes: "the mock answers 429 with retry-after only when a fault is injected",
            billing_documented: true,
            billing_notes: "the mock charges nothing",
            status: "verified",
            classify: "",
        },
    }
}

/// The contract template for `provider`, as commented TOML.
///
/// `mock_base_url` sets the base URL of the mock template (the demo passes the
/// address its in-process mock bound).
pub fn template(provider: Provider, mock_base_url: Option<&str>) -> String {
    let f = facts(provider, mock_base_url);
    let today = time::OffsetDateTime::now_utc().date();
    let prov = |source: &str| {
        format!(
            "source = \"{source}\"\naccessed = \"{today}\"\nstatus = \"{}\"\n",
            f.status
        )
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"# shipgate contract snapshot for `{provider}`.
#
# One section per row of the validation guide's "Contract details to verify"
# table. Each section says where its values came from (`source`), when the page
# was read (`accessed`, YYYY-MM-DD) and whether they were checked against it
# (`status = "verified"`) or not yet (`status = "assumed"`). A rollout that
# depends on an assumed section is held: verify it against the page, then flip it.
# Documentation: {docs}

schema = 1
provider = "{provider}"

# The documented host. Keep sandbox, preview and proxy hosts apart.
[base_url]
{base_prov}url = "{base_url}"

# The chat completions path (relative to base_url) and method.
[endpoint]
{api_prov}path = "/chat/completions"
method = "POST"

# How the credential is sent. `credential_env` is the NAME of the environment
# variable that holds the token: the token itself never goes in this file.
[auth]
{api_prov}header = "Authorization"
scheme = "Bearer"
credential_env = "{credential_env}"

# The validated model id and the request fields the API requires.
[request]
{api_prov}model = "{model}"
required_fields = ["model", "messages"]
output_ceiling_field = "max_tokens"

# The response fields the application parses: JSON pointer = type.
# Unknown extra fields are tolerated; fields not listed here are "undocumented".
[response]
{api_prov}{request_id_header}# The fields the provider documents (a parsed field not listed here is flagged).
documented_fields = ["/id", "/object", "/created", "/model", "/system_fingerprint", "/choices", "/choices/0/index", "/choices/0/message/role", "/choices/0/message/content", "/choices/0/message/refusal", "/choices/0/logprobs", "/choices/0/finish_reason", "/usage", "/usage/prompt_tokens", "/usage/completion_tokens", "/usage/total_tokens"]

[response.fields]
"/id" = "string"
"/object" = "string"
"/created" = "integer"
"/model" = "string"
"/choices" = "array"
"/choices/0/message/role" = "string"
"/choices/0/message/content" = "string"
"/choices/0/finish_reason" = "string"
"/usage/prompt_tokens" = "integer"
"/usage/completion_tokens" = "integer"
"/usage/total_tokens" = "integer"

# Error body shape and what the provider answers per failure case.
[errors]
{api_prov}message_pointer = "/error/message"

[errors.cases]
missing_auth = {{ status = [401] }}
invalid_auth = {{ status = [401] }}
missing_model = {{ status = [400] }}
missing_messages = {{ status = [{mm_status}]{mm_code} }}
empty_messages = {{ status = [{mm_status}]{mm_code} }}
unknown_model = {{ status = [{um_status}]{um_code} }}
oversized_prompt = {{ status = [400, 413] }}
rate_limited = {{ status = [429] }}
{classify}
# Token usage metadata: relied on only when documented.
[usage]
{api_prov}documented = true
fields = ["prompt_tokens", "completion_tokens", "total_tokens"]

# Rate-limit and quota assumptions. Do not encode unverified numbers.
[rate_limits]
{help_prov}documented = {rl_doc}
notes = "{rl_notes}"

# Billing assumptions. Do not encode unverified prices.
[billing]
{help_prov}documented = {bill_doc}
notes = "{bill_notes}"

# Streaming ("stream": true): server-sent chat.completion.chunk events ending
# with `data: [DONE]`; with stream_options.include_usage a last chunk carries
# usage and no choices. Delete this section if the integration does not
# stream: the stream checks then report "not applicable".
[streaming]
{api_prov}terminator = "[DONE]"
include_usage = true
chunk_object = "chat.completion.chunk"

# How shipgate labels requests (configuration, not documentation).
[observability]
correlation_header = "x-client-request-id"
"#,
        provider = f.provider,
        docs = f.docs,
        base_prov = prov(f.docs),
        api_prov = prov(f.api_page),
        help_prov = prov(f.help_center),
        base_url = f.base_url,
        credential_env = f.credential_env,
        model = f.model,
        request_id_header = f
            .request_id_header
            .map(|h| format!("request_id_header = \"{h}\"\n"))
            .unwrap_or_else(|| "# no request-id header is documented\n".into())
            + &f.request_id_pattern
                .map(|p| format!(
                    "# the request id is in the error message\nrequest_id_pattern = '{p}'\n"
                ))
                .unwrap_or_default(),
        mm_status = f.missing_messages.0,
        mm_code = f
            .missing_messages
            .1
            .map(|c| format!(", code = \"{c}\""))
            .unwrap_or_default(),
        um_status = f.unknown_model.0,
        um_code = f
            .unknown_model
            .1
            .map(|c| format!(", code = \"{c}\""))
            .unwrap_or_default(),
        classify = f.classify,
        rl_doc = f.rate_limits_documented,
        rl_notes = f.rate_limit_notes,
        bill_doc = f.billing_documented,
        bill_notes = f.billing_notes,
    );
    s
}
