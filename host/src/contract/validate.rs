//! From the file as written to the validated model: every value is checked
//! where it stands, and every error names the key, points at it and says how
//! to fix it.

use super::model::*;
use super::wire::*;
use crate::capability::http::policy;
use crate::config_error::ConfigError;
use reqwest::Url;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The contract file format version this build reads.
pub const CONTRACT_SCHEMA: u32 = 1;

/// Negative-probe cases every contract may document (besides `missing_<field>`
/// for each required field).
pub const CASES: &[&str] = &[
    "missing_auth",
    "invalid_auth",
    "empty_messages",
    "unknown_model",
    "oversized_prompt",
    "rate_limited",
];

/// The case names a contract may use, given its required fields.
pub fn known_cases(required_fields: &[String]) -> Vec<String> {
    CASES
        .iter()
        .map(|c| (*c).to_owned())
        .chain(required_fields.iter().map(|f| format!("missing_{f}")))
        .collect()
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

type R<T> = Result<T, ConfigError>;

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, msg: String, help: &str) -> ConfigError {
        ConfigError::new(self.path, msg)
            .help(help)
            .at(self.text, Some(span))
    }
}

fn identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn pointer(s: &str) -> bool {
    s.is_empty() || (s.starts_with('/') && !s.chars().any(char::is_control))
}

fn short(s: &str) -> String {
    policy::shorten(s)
}

fn provenance(c: &Ctx, key: &str, p: ProvenanceRef<'_>) -> R<Provenance> {
    if p.source.get_ref().trim().is_empty() {
        return Err(c.err(
            p.source.span(),
            format!("`{key}.source` is empty"),
            "cite the documentation page you read the values from",
        ));
    }
    let accessed = match p.accessed.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => {
            return Err(c.err(
                p.accessed.span(),
                format!("`{key}.accessed` = {d} is a TOML date, not a string"),
                &format!("write it in quotes: accessed = \"{d}\""),
            ));
        }
        other => {
            return Err(c.err(
                p.accessed.span(),
                format!("`{key}.accessed` = {other} is not a date"),
                "write the day you read the source as \"YYYY-MM-DD\"",
            ));
        }
    };
    if time::Date::parse(
        &accessed,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_err()
    {
        return Err(c.err(
            p.accessed.span(),
            format!("`{key}.accessed` = {:?} is not a date", short(&accessed)),
            "write the day you read the source as \"YYYY-MM-DD\"",
        ));
    }
    let status = match p.status.get_ref().as_str() {
        "verified" => Status::Verified,
        "assumed" => Status::Assumed,
        other => {
            return Err(c.err(
                p.status.span(),
                format!("`{key}.status` = {:?} is neither \"verified\" nor \"assumed\"", short(other)),
                "write status = \"verified\" once checked against the source, \"assumed\" until then",
            ));
        }
    };
    Ok(Provenance {
        source: p.source.get_ref().clone(),
        accessed,
        status,
    })
}

/// Validate a parsed contract file into the model.
pub(super) fn validate(path: &Path, text: &str, w: ContractWire) -> R<Contract> {
    let c = Ctx { path, text };
    if *w.schema.get_ref() != i64::from(CONTRACT_SCHEMA) {
        return Err(c.err(
            w.schema.span(),
            format!("`schema = {}` is not supported", w.schema.get_ref()),
            &format!("this shipgate reads contract schema {CONTRACT_SCHEMA}"),
        ));
    }
    let provider = w.provider.get_ref();
    if !identifier(provider) {
        return Err(c.err(
            w.provider.span(),
            format!("`provider` = {:?} is not a provider name", short(provider)),
            "use letters, digits, `-` and `_`, such as \"cometapi\"",
        ));
    }
    let base_url = base_url(&c, &w.base_url)?;
    let base = Url::parse(&base_url.url).expect("checked above");
    let endpoint = endpoint(&c, &w.endpoint, &base)?;
    let auth = auth(&c, &w.auth)?;
    let request = request(&c, &w.request)?;
    let response = response(&c, &w.response)?;
    let errors = errors(&c, &w.errors, &request.required_fields)?;
    let usage = usage(&c, &w.usage)?;
    let rate_limits = assumption(&c, "rate_limits", &w.rate_limits)?;
    let billing = assumption(&c, "billing", &w.billing)?;
    let streaming = w.streaming.as_ref().map(|s| streaming(&c, s)).transpose()?;
    let correlation_header = match &w.observability.correlation_header {
        None => "x-client-request-id".to_owned(),
        Some(h)
            if policy::CORRELATION_HEADERS.contains(&h.get_ref().to_ascii_lowercase().as_str()) =>
        {
            h.get_ref().to_ascii_lowercase()
        }
        Some(h) => {
            return Err(c.err(
                h.span(),
                format!(
                    "`observability.correlation_header` = {:?} is not a correlation header",
                    short(h.get_ref())
                ),
                &format!("use one of: {}", policy::CORRELATION_HEADERS.join(", ")),
            ));
        }
    };
    Ok(Contract {
        schema: CONTRACT_SCHEMA,
        provider: provider.clone(),
        base_url,
        endpoint,
        auth,
        request,
        response,
        errors,
        usage,
        rate_limits,
        billing,
        observability: ObservabilitySection { correlation_header },
        streaming,
    })
}

fn streaming(c: &Ctx, w: &StreamingWire) -> R<StreamingSection> {
    let provenance = provenance(c, "streaming", w.provenance())?;
    let text = |f: &Option<Spanned<String>>, key: &str, default: &str| -> R<String> {
        match f {
            None => Ok(default.to_owned()),
            Some(v)
                if !v.get_ref().is_empty()
                    && v.get_ref().len() <= 64
                    && !v.get_ref().chars().any(char::is_control) =>
            {
                Ok(v.get_ref().clone())
            }
            Some(v) => Err(c.err(
                v.span(),
                format!("`streaming.{key}` = {:?} is not usable", short(v.get_ref())),
                &format!("write it as the documentation does, such as \"{default}\""),
            )),
        }
    };
    Ok(StreamingSection {
        provenance,
        terminator: text(&w.terminator, "terminator", "[DONE]")?,
        include_usage: w.include_usage,
        chunk_object: text(&w.chunk_object, "chunk_object", "chat.completion.chunk")?,
    })
}

fn base_url(c: &Ctx, w: &BaseUrlWire) -> R<BaseUrlSection> {
    let provenance = provenance(c, "base_url", w.provenance())?;
    let url = &w.url;
    match Url::parse(url.get_ref()) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => {
            if !u.username().is_empty() || u.password().is_some() {
                return Err(c.err(
                    url.span(),
                    "`base_url.url` carries credentials".into(),
                    "remove `user:pass@`; the host injects the credential from `auth.credential_env`",
                ));
            }
            if u.query().is_some() || u.fragment().is_some() {
                return Err(c.err(
                    url.span(),
                    format!("`base_url.url` = {:?} has a query or fragment", short(url.get_ref())),
                    "write scheme, host, port and path prefix only, e.g. \"https://api.cometapi.com/v1\"",
                ));
            }
        }
        _ => {
            return Err(c.err(
                url.span(),
                format!(
                    "`base_url.url` = {:?} is not an http(s) URL",
                    short(url.get_ref())
                ),
                "write it like \"https://api.cometapi.com/v1\"",
            ));
        }
    }
    Ok(BaseUrlSection {
        provenance,
        url: url.get_ref().clone(),
    })
}

fn endpoint(c: &Ctx, w: &EndpointWire, base: &Url) -> R<EndpointSection> {
    let provenance = provenance(c, "endpoint", w.provenance())?;
    let p = &w.path;
    if p.get_ref().contains('?') {
        return Err(c.err(
            p.span(),
            format!("`endpoint.path` = {:?} has a query", short(p.get_ref())),
            "write the path only, like \"/chat/completions\"",
        ));
    }
    if let Err(why) = policy::join(base, p.get_ref()) {
        return Err(c.err(
            p.span(),
            format!("`endpoint.path`: {why}"),
            "write it like \"/chat/completions\": a plain path under the base URL",
        ));
    }
    let m = w.method.get_ref().to_ascii_uppercase();
    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
        return Err(c.err(
            w.method.span(),
            format!(
                "`endpoint.method` = {:?} is not an HTTP method",
                short(w.method.get_ref())
            ),
            "chat completions are documented as \"POST\"",
        ));
    }
    Ok(EndpointSection {
        provenance,
        path: p.get_ref().clone(),
        method: m,
    })
}

fn auth(c: &Ctx, w: &AuthWire) -> R<AuthSection> {
    let provenance = provenance(c, "auth", w.provenance())?;
    let h = &w.header;
    // Enforce: the credential goes only in a header made for credentials.
    if !policy::AUTH_HEADERS.contains(&h.get_ref().to_ascii_lowercase().as_str()) {
        return Err(c.err(
            h.span(),
            format!(
                "`auth.header` = {:?} is not a credential header",
                short(h.get_ref())
            ),
            &format!("use one of: {}", policy::AUTH_HEADERS.join(", ")),
        ));
    }
    let scheme = match &w.scheme {
        None => String::new(),
        Some(s) if s.get_ref().is_empty() || identifier(s.get_ref()) => s.get_ref().clone(),
        Some(s) => {
            return Err(c.err(
                s.span(),
                format!(
                    "`auth.scheme` = {:?} is not an auth scheme",
                    short(s.get_ref())
                ),
                "write it like \"Bearer\", or \"\" for a bare token",
            ));
        }
    };
    let env = &w.credential_env;
    let name = env.get_ref();
    let looks_like_name = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !looks_like_name {
        // Do not echo the value: it may be a pasted token.
        return Err(c.err(
            env.span(),
            "`auth.credential_env` must be the NAME of an environment variable (A-Z, 0-9, _), not a token".into(),
            "write e.g. credential_env = \"COMETAPI_KEY\" and export COMETAPI_KEY in the environment",
        ));
    }
    Ok(AuthSection {
        provenance,
        header: h.get_ref().clone(),
        scheme,
        credential_env: name.clone(),
    })
}

fn request(c: &Ctx, w: &RequestWire) -> R<RequestSection> {
    let provenance = provenance(c, "request", w.provenance())?;
    let model = w.model.get_ref();
    if model.trim().is_empty()
        || model.len() > 256
        || model
            .chars()
            .any(|ch| ch.is_control() || ch.is_whitespace())
    {
        return Err(c.err(
            w.model.span(),
            format!("`request.model` = {:?} is not a model id", short(model)),
            "name the model id validated for this integration, without spaces or control characters",
        ));
    }
    let required = w.required_fields.get_ref();
    if let Some(bad) = required.iter().find(|f| !identifier(f)) {
        return Err(c.err(
            w.required_fields.span(),
            format!(
                "`request.required_fields` has {:?}, which is not a field name",
                short(bad)
            ),
            "list body field names, such as [\"model\", \"messages\"]",
        ));
    }
    if required.len() > 16 {
        return Err(c.err(
            w.required_fields.span(),
            format!(
                "`request.required_fields` lists {} fields; at most 16",
                required.len()
            ),
            "list only the fields the API requires",
        ));
    }
    let output_ceiling_field = match &w.output_ceiling_field {
        Some(f) if !identifier(f.get_ref()) => {
            return Err(c.err(
                f.span(),
                format!(
                    "`request.output_ceiling_field` = {:?} is not a field name",
                    short(f.get_ref())
                ),
                "write \"max_tokens\" or \"max_completion_tokens\", as the API documents",
            ));
        }
        f => f.as_ref().map(|f| f.get_ref().clone()),
    };
    let mut headers = Vec::new();
    if let Some(hs) = &w.headers {
        for h in hs.get_ref() {
            if let Err(why) = policy::grantable_header(h) {
                return Err(c.err(
                    hs.span(),
                    format!("`request.headers`: {why}"),
                    "list only documented, non-credential request headers such as \"OpenAI-Project\"",
                ));
            }
            headers.push(h.clone());
        }
    }
    Ok(RequestSection {
        provenance,
        model: model.clone(),
        required_fields: required.clone(),
        output_ceiling_field,
        headers,
    })
}

fn response(c: &Ctx, w: &ResponseWire) -> R<ResponseSection> {
    let provenance = provenance(c, "response", w.provenance())?;
    let mut fields = BTreeMap::new();
    for (key, ty) in &w.fields {
        let p = key.get_ref();
        if !p.starts_with('/') || !pointer(p) {
            return Err(c.err(
                key.span(),
                format!("`response.fields` key {:?} is not a JSON pointer", short(p)),
                "write it like \"/choices/0/message/content\"",
            ));
        }
        let Some(t) = JsonType::parse(ty.get_ref()) else {
            return Err(c.err(
                ty.span(),
                format!(
                    "`response.fields.\"{p}\"` = {:?} is not a JSON type",
                    short(ty.get_ref())
                ),
                "use one of: string, integer, number, boolean, object, array",
            ));
        };
        fields.insert(p.clone(), t);
    }
    let documented_fields = match &w.documented_fields {
        None => Vec::new(),
        Some(d) => {
            if let Some(bad) = d
                .get_ref()
                .iter()
                .find(|p| !p.starts_with('/') || !pointer(p))
            {
                return Err(c.err(
                    d.span(),
                    format!(
                        "`response.documented_fields` has {:?}, which is not a JSON pointer",
                        short(bad)
                    ),
                    "write each like \"/choices/0/message/content\"",
                ));
            }
            d.get_ref().clone()
        }
    };
    let request_id_header = match &w.request_id_header {
        Some(h) if !policy::header_name_ok(h.get_ref()) => {
            return Err(c.err(
                h.span(),
                format!(
                    "`response.request_id_header` = {:?} is not a header name",
                    short(h.get_ref())
                ),
                "write it like \"x-request-id\"",
            ));
        }
        h => h.as_ref().map(|h| h.get_ref().clone()),
    };
    let request_id_pattern = match &w.request_id_pattern {
        None => None,
        Some(p) => match regex::Regex::new(p.get_ref()) {
            Ok(re) if re.captures_len() == 2 => Some(p.get_ref().clone()),
            _ => {
                return Err(c.err(
                    p.span(),
                    format!(
                        "`response.request_id_pattern` = {:?} is not a regular expression with one capture group",
                        short(p.get_ref())
                    ),
                    "write it like '\\(request id: ([^)]+)\\)'",
                ));
            }
        },
    };
    Ok(ResponseSection {
        provenance,
        fields,
        documented_fields,
        request_id_header,
        request_id_pattern,
    })
}

fn error_status(c: &Ctx, s: &Spanned<i64>, key: &str) -> R<u16> {
    match u16::try_from(*s.get_ref()) {
        Ok(v) if (400..=599).contains(&v) => Ok(v),
        _ => Err(c.err(
            s.span(),
            format!("`{key}` = {} is not an error status", s.get_ref()),
            "use an HTTP error status, 400 to 599",
        )),
    }
}

fn category(c: &Ctx, s: &Spanned<String>, key: &str) -> R<Category> {
    match Category::parse(s.get_ref()) {
        Some(Category::None) | None => Err(c.err(
            s.span(),
            format!(
                "`{key}` = {:?} is not an error category",
                short(s.get_ref())
            ),
            "use one of: request-construction, auth, validation, transient, rate-limit, unknown",
        )),
        Some(cat) => Ok(cat),
    }
}

fn errors(c: &Ctx, w: &ErrorsWire, required: &[String]) -> R<ErrorsSection> {
    let provenance = provenance(c, "errors", w.provenance())?;
    let message_pointer = match &w.message_pointer {
        None => "/error/message".to_owned(),
        Some(p) if pointer(p.get_ref()) => p.get_ref().clone(),
        Some(p) => {
            return Err(c.err(
                p.span(),
                format!(
                    "`errors.message_pointer` = {:?} is not a JSON pointer",
                    short(p.get_ref())
                ),
                "write it like \"/error/message\"",
            ));
        }
    };
    let known = known_cases(required);
    let mut cases = BTreeMap::new();
    for (key, e) in w.cases.iter().flatten() {
        let name = key.get_ref();
        if !known.contains(name) {
            return Err(c.err(
                key.span(),
                format!("`errors.cases.{name}` is not a case shipgate probes"),
                &format!("cases: {}", known.join(", ")),
            ));
        }
        if e.status.get_ref().is_empty() {
            return Err(c.err(
                e.status.span(),
                format!("`errors.cases.{name}.status` is empty"),
                "list the statuses the provider documents for this case, such as [401]",
            ));
        }
        let status = e
            .status
            .get_ref()
            .iter()
            .map(|s| error_status(c, s, &format!("errors.cases.{name}.status")))
            .collect::<R<Vec<u16>>>()?;
        let code = match &e.code {
            Some(code) if code.get_ref().trim().is_empty() => {
                return Err(c.err(
                    code.span(),
                    format!("`errors.cases.{name}.code` is empty"),
                    "remove it, or write the documented error.code",
                ));
            }
            code => code.as_ref().map(|s| s.get_ref().clone()),
        };
        let cat = e
            .category
            .as_ref()
            .map(|s| category(c, s, &format!("errors.cases.{name}.category")))
            .transpose()?;
        cases.insert(
            name.clone(),
            ErrorExpectation {
                status,
                code,
                category: cat,
            },
        );
    }
    let mut classify = Vec::new();
    for (i, r) in w.classify.iter().enumerate() {
        let key = format!("errors.classify[{i}]");
        let status = error_status(c, &r.status, &format!("{key}.status"))?;
        let nonempty = |s: &Option<Spanned<String>>, what: &str| -> R<Option<String>> {
            match s {
                Some(v) if v.get_ref().trim().is_empty() => Err(c.err(
                    v.span(),
                    format!("`{key}.{what}` is empty"),
                    "remove it, or write the value to match",
                )),
                v => Ok(v.as_ref().map(|v| v.get_ref().clone())),
            }
        };
        classify.push(ClassifyRule {
            status,
            code: nonempty(&r.code, "code")?,
            error_type: nonempty(&r.error_type, "type")?,
            content_type: nonempty(&r.content_type, "content_type")?,
            message_contains: nonempty(&r.message_contains, "message_contains")?,
            category: category(c, &r.category, &format!("{key}.category"))?,
            retry: r.retry,
        });
    }
    Ok(ErrorsSection {
        provenance,
        message_pointer,
        cases,
        classify,
    })
}

fn usage(c: &Ctx, w: &UsageWire) -> R<UsageSection> {
    let provenance = provenance(c, "usage", w.provenance())?;
    let name = |f: &Option<Spanned<String>>, key: &str, default: &str| -> R<String> {
        match f {
            None => Ok(default.to_owned()),
            Some(v) if identifier(v.get_ref()) => Ok(v.get_ref().clone()),
            Some(v) => Err(c.err(
                v.span(),
                format!(
                    "`usage.{key}` = {:?} is not a field name",
                    short(v.get_ref())
                ),
                &format!("write the name of the usage field, such as \"{default}\""),
            )),
        }
    };
    Ok(UsageSection {
        provenance,
        documented: w.documented,
        fields: w.fields.clone(),
        input: name(&w.input, "input", "prompt_tokens")?,
        output: name(&w.output, "output", "completion_tokens")?,
        total: name(&w.total, "total", "total_tokens")?,
    })
}

fn assumption(c: &Ctx, key: &str, w: &AssumptionWire) -> R<AssumptionSection> {
    Ok(AssumptionSection {
        provenance: provenance(c, key, w.provenance())?,
        documented: w.documented,
        notes: w.notes.clone(),
    })
}
