//! Error classification: what a response means for retry, alerting and fixes.
//!
//! The guide's step 4 asks the client to tell apart request construction,
//! auth, validation, transient and rate-limit failures. The contract's
//! `[[errors.classify]]` rules are checked first: each matches a status and
//! any of `error.code`, `error.type`, the content type and a message
//! substring (CometAPI answers a missing `messages` with 500
//! `invalid_request`: its template says that is not transient). Then the
//! default table, which follows the official OpenAI SDKs, and finally
//! `x-should-retry`.

use crate::contract::{ClassifyRule, Contract};
use serde::Serialize;

pub use crate::contract::Category;

/// The outcome of classifying one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The category.
    pub category: Category,
    /// Whether a retry policy may retry it.
    pub retryable: bool,
}

/// What a response says about itself, for matching rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFacts {
    /// `error.code`, as text (numeric codes too).
    pub code: Option<String>,
    /// `error.type`.
    pub error_type: Option<String>,
    /// The error message (at the contract's pointer), or the body when it is not JSON.
    pub message: Option<String>,
    /// The `content-type` header.
    pub content_type: Option<String>,
}

impl ErrorFacts {
    /// Read the facts from a response.
    pub fn read(headers: &[(String, String)], body: &[u8], message_pointer: &str) -> ErrorFacts {
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase());
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
            return ErrorFacts {
                message: (!text.trim().is_empty()).then_some(text),
                content_type,
                ..Default::default()
            };
        };
        let text = |p: &str| match v.pointer(p) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        ErrorFacts {
            code: text("/error/code"),
            error_type: text("/error/type"),
            message: text(message_pointer),
            content_type,
        }
    }
}

/// Classifies responses using the contract's overrides, then the default table.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<ClassifyRule>,
    message_pointer: String,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            rules: Vec::new(),
            message_pointer: "/error/message".into(),
        }
    }
}

impl Classifier {
    /// A classifier with the contract's `[[errors.classify]]` overrides.
    pub fn from_contract(contract: &Contract) -> Self {
        Classifier {
            rules: contract.errors.classify.clone(),
            message_pointer: contract.errors.message_pointer.clone(),
        }
    }

    /// Classify a response by status, headers and body.
    pub fn classify(
        &self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Classification {
        let facts = ErrorFacts::read(headers, body, &self.message_pointer);
        let mut c = self
            .by_rules(status, &facts)
            .unwrap_or_else(|| default_table(status, facts.code.as_deref()));
        // `x-should-retry` (OpenAI) overrides the table's retry decision.
        if let Some((_, v)) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-should-retry"))
        {
            match v.trim() {
                "true" => c.retryable = true,
                "false" => c.retryable = false,
                _ => {}
            }
        }
        c
    }

    /// Classify a failure with no response (timeout or connection error): transient.
    pub fn transport_failure() -> Classification {
        Classification {
            category: Category::Transient,
            retryable: true,
        }
    }

    fn by_rules(&self, status: u16, f: &ErrorFacts) -> Option<Classification> {
        let holds = |want: &Option<String>, got: &Option<String>| {
            want.as_deref().is_none_or(|w| got.as_deref() == Some(w))
        };
        self.rules
            .iter()
            .find(|r| {
                r.status == status
                    && holds(&r.code, &f.code)
                    && holds(&r.error_type, &f.error_type)
                    && r.content_type.as_deref().is_none_or(|ct| {
                        f.content_type
                            .as_deref()
                            .is_some_and(|got| got.starts_with(&ct.to_ascii_lowercase()))
                    })
                    && r.message_contains
                        .as_deref()
                        .is_none_or(|m| f.message.as_deref().is_some_and(|got| got.contains(m)))
            })
            .map(|r| Classification {
                category: r.category,
                retryable: r.retry,
            })
    }
}

/// The default table, as the official OpenAI SDKs retry.
fn default_table(status: u16, code: Option<&str>) -> Classification {
    let (category, retryable) = match status {
        200..=299 => (Category::None, false),
        401 | 403 => (Category::Auth, false),
        408 | 409 => (Category::Transient, true),
        429 if code == Some("insufficient_quota") => (Category::RateLimit, false),
        429 => (Category::RateLimit, true),
        400..=499 => (Category::Validation, false),
        500..=599 => (Category::Transient, true),
        _ => (Category::Unknown, false),
    };
    Classification {
        category,
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(status: u16, body: &str) -> Classification {
        Classifier::default().classify(status, &[], body.as_bytes())
    }

    #[test]
    fn never_retries_client_errors() {
        for s in [400, 401, 403, 404, 422] {
            assert!(!c(s, "").retryable, "{s}");
        }
        assert_eq!(c(401, "").category, Category::Auth);
        assert_eq!(c(404, "").category, Category::Validation);
    }

    #[test]
    fn retries_like_the_openai_sdks() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(c(s, "").retryable, "{s}");
        }
        assert_eq!(c(429, "").category, Category::RateLimit);
    }

    #[test]
    fn a_5xx_is_transient_unless_the_contract_says_otherwise() {
        // The default table knows no provider's quirks ...
        let r = c(
            500,
            r#"{"error":{"message":"x","type":"comet_api_error","code":"invalid_request"}}"#,
        );
        assert_eq!(r.category, Category::Transient);
        // ... the CometAPI template does, as data.
        let comet = crate::contract::Contract::parse(
            std::path::Path::new("c.toml"),
            &crate::contract::template(crate::contract::Provider::Cometapi, None),
        )
        .unwrap();
        let cl = Classifier::from_contract(&comet);
        let r = cl.classify(500, &[], br#"{"error":{"code":"invalid_request"}}"#);
        assert_eq!(r.category, Category::Validation);
        assert!(!r.retryable);
        assert!(
            !cl.classify(503, &[], br#"{"error":{"code":"model_not_found"}}"#)
                .retryable
        );
    }

    #[test]
    fn quota_exhaustion_is_not_retried() {
        assert!(!c(429, r#"{"error":{"code":"insufficient_quota"}}"#).retryable);
    }

    #[test]
    fn x_should_retry_overrides() {
        let h = vec![("x-should-retry".to_owned(), "false".to_owned())];
        assert!(!Classifier::default().classify(503, &h, b"").retryable);
        let h = vec![("X-Should-Retry".to_owned(), "true".to_owned())];
        assert!(Classifier::default().classify(400, &h, b"").retryable);
    }

    fn rule(status: u16) -> ClassifyRule {
        ClassifyRule {
            status,
            code: None,
            error_type: None,
            content_type: None,
            message_contains: None,
            category: Category::Auth,
            retry: false,
        }
    }

    fn with(rules: Vec<ClassifyRule>) -> Classifier {
        Classifier {
            rules,
            ..Classifier::default()
        }
    }

    #[test]
    fn contract_rules_win() {
        let cl = with(vec![ClassifyRule {
            error_type: Some("comet_api_error".into()),
            ..rule(500)
        }]);
        let r = cl.classify(500, &[], br#"{"error":{"type":"comet_api_error"}}"#);
        assert_eq!(r.category, Category::Auth);
        assert!(cl.classify(500, &[], b"<html>").retryable);
    }

    #[test]
    fn rules_match_content_type_message_and_numeric_codes() {
        let text = |ct: &str| vec![("Content-Type".to_owned(), ct.to_owned())];
        // A bare text/plain 500 (a gateway's "no key") without reclassifying every 500.
        let cl = with(vec![ClassifyRule {
            content_type: Some("text/plain".into()),
            message_contains: Some("Unauthorized".into()),
            ..rule(500)
        }]);
        assert_eq!(
            cl.classify(500, &text("text/plain; charset=utf-8"), b"Unauthorized")
                .category,
            Category::Auth
        );
        assert_eq!(
            cl.classify(500, &text("text/plain"), b"Internal Server Error")
                .category,
            Category::Transient
        );
        assert_eq!(
            cl.classify(
                500,
                &text("application/json"),
                br#"{"error":{"message":"x"}}"#
            )
            .category,
            Category::Transient
        );
        // Numeric error.code values match as text.
        let cl = with(vec![ClassifyRule {
            code: Some("400".into()),
            category: Category::Validation,
            ..rule(503)
        }]);
        assert_eq!(
            cl.classify(503, &[], br#"{"error":{"code":400}}"#).category,
            Category::Validation
        );
        assert_eq!(
            cl.classify(503, &[], br#"{"error":{"code":401}}"#).category,
            Category::Transient
        );
    }

    #[test]
    fn garbage_bodies_classify_by_status() {
        assert_eq!(
            c(502, "<html>bad gateway</html>").category,
            Category::Transient
        );
        assert_eq!(c(301, "").category, Category::Unknown);
    }
}
