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

mod model;
mod template;
mod validate;
mod wire;

pub use model::*;
pub use template::{Provider, template};
pub use validate::{CASES, CONTRACT_SCHEMA, known_cases};

use crate::config_error::ConfigError;
use reqwest::Url;
use std::path::Path;

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
        let w: wire::ContractWire = toml::from_str(text).map_err(|e| {
            ConfigError::from_toml(
                path,
                text,
                &e,
                "see `shipgate init --provider cometapi` for a complete, commented contract",
            )
        })?;
        validate::validate(path, text, w)
    }

    /// The sections this contract has: every required one, and `[streaming]`
    /// when it is there.
    pub fn sections(&self) -> Vec<Section> {
        let mut s = Section::ALL.to_vec();
        if self.streaming.is_some() {
            s.push(Section::Streaming);
        }
        s
    }

    /// The provenance of one section (`None`: an optional section it lacks).
    pub fn provenance_of(&self, section: Section) -> Option<&Provenance> {
        match section {
            Section::Streaming => self.streaming.as_ref().map(|s| &s.provenance),
            s => Some(self.provenance(s)),
        }
    }

    /// The provenance of one required section (`[streaming]`: see
    /// [`Contract::provenance_of`]).
    pub fn provenance(&self, section: Section) -> &Provenance {
        match section {
            Section::Streaming => match &self.streaming {
                Some(s) => &s.provenance,
                None => &self.request.provenance,
            },
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
        Url::parse(&self.base_url.url).expect("validated at load")
    }

    /// The contract as JSON, as plugins and the record see it. It holds no secret.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Contract, ConfigError> {
        Contract::parse(Path::new("contract.toml"), text)
    }

    /// The SDK's test harness serves the built-in mock's contract and the
    /// plan's default thresholds as its default context; they must be the
    /// ones this host would hand a plugin (dates aside). `SHIPGATE_BLESS=1`
    /// rewrites them.
    #[test]
    fn the_sdk_harness_serves_the_mock_contract() {
        let c = parse(&template(Provider::Mock, None)).unwrap();
        let mut json = c.to_json();
        fn fix_dates(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m.iter_mut() {
                        if k == "accessed" {
                            *v = serde_json::Value::String("2026-01-01".into());
                        } else {
                            fix_dates(v);
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(fix_dates),
                _ => {}
            }
        }
        fix_dates(&mut json);
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/src/testing_contract.json");
        let want = serde_json::to_string_pretty(&json).unwrap() + "\n";
        if std::env::var_os("SHIPGATE_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "guest-sdk/src/testing_contract.json is stale: run SHIPGATE_BLESS=1 cargo test -p shipgate the_sdk_harness"
        );
        // And the plan's default thresholds.
        let path = path.with_file_name("testing_thresholds.json");
        let want =
            serde_json::to_string_pretty(&crate::plan::Thresholds::default()).unwrap() + "\n";
        if std::env::var_os("SHIPGATE_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "guest-sdk/src/testing_thresholds.json is stale: run SHIPGATE_BLESS=1 cargo test -p shipgate the_sdk_harness"
        );
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
        assert_eq!(c.base_url.url, "https://api.cometapi.com/v1");
        assert_eq!(c.auth.credential_env, "COMETAPI_KEY");
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

    #[test]
    fn an_unquoted_date_is_reported_at_its_key() {
        let text = template(Provider::Openai, None).replacen(
            "accessed = \"",
            "accessed = 2026-11-30 #\"",
            1,
        );
        let e = parse(&text).unwrap_err();
        assert!(
            e.message()
                .contains("`base_url.accessed` = 2026-11-30 is a TOML date"),
            "{}",
            e.message()
        );
        assert!(
            e.fix().unwrap_or("").contains("accessed = \"2026-11-30\""),
            "{:?}",
            e.fix()
        );
        let line = text
            .lines()
            .position(|l| l.starts_with("accessed = 2026"))
            .unwrap()
            + 1;
        assert!(
            e.message().starts_with(&format!("line {line}:")),
            "{}",
            e.message()
        );
        assert!(!e.message().contains("__toml_private"));
    }

    #[test]
    fn rejects_values_outside_their_range_naming_the_key() {
        let base = template(Provider::Openai, None);
        for (from, to, key) in [
            (
                "missing_auth = { status = [401] }",
                "missing_auth = { status = [] }",
                "errors.cases.missing_auth.status",
            ),
            (
                "missing_auth = { status = [401] }",
                "missing_auth = { status = [0] }",
                "errors.cases.missing_auth.status",
            ),
            (
                "missing_auth = { status = [401] }",
                "missing_auth = { status = [999] }",
                "errors.cases.missing_auth.status",
            ),
            (
                "missing_auth = { status = [401] }",
                "missing_auht = { status = [401] }",
                "errors.cases.missing_auht",
            ),
            (
                "message_pointer = \"/error/message\"",
                "message_pointer = \"error.message\"",
                "errors.message_pointer",
            ),
            (
                "model = \"gpt-4o-mini\"",
                "model = \"gpt\\u0000x\"",
                "request.model",
            ),
            (
                "\"/id\" = \"string\"",
                "\"/id\" = \"text\"",
                "response.fields",
            ),
        ] {
            let text = base.replace(from, to);
            assert_ne!(text, base, "{from}");
            let e = parse(&text).unwrap_err();
            assert!(e.message().contains(key), "{to}: {}", e.message());
            assert!(e.message().starts_with("line "), "{to}: {}", e.message());
        }
        let rule = |status: &str| {
            format!(
                "{base}\n[[errors.classify]]\nstatus = {status}\ncategory = \"auth\"\nretry = false\n"
            )
        };
        for bad in ["0", "200"] {
            assert!(
                parse(&rule(bad))
                    .unwrap_err()
                    .message()
                    .contains("errors.classify[0].status")
            );
        }
        assert!(parse(&rule("500")).is_ok());
        let e =
            parse(&rule("500").replace("category = \"auth\"", "category = \"fatal\"")).unwrap_err();
        assert!(
            e.message().contains("errors.classify[0].category"),
            "{}",
            e.message()
        );
    }
}
