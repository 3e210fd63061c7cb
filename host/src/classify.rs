//! Error classification: what a response means for retry, alerting and fixes.
//!
//! The guide's step 4 asks the client to tell apart request construction,
//! auth, validation, transient and rate-limit failures. Classification looks at
//! the status, `error.code` and `error.type` together (CometAPI answers a
//! missing `messages` with 500 `invalid_request`: that is not transient), then
//! at `x-should-retry`. The default table follows the official OpenAI SDKs;
//! the contract's `[[errors.classify]]` rules are checked first.

use crate::contract::{ClassifyRule, Contract};
use serde::Serialize;

/// An error category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Parse the kebab-case name used in contracts.
    pub fn parse(s: &str) -> Option<Category> {
        Some(match s {
            "none" => Category::None,
            "request-construction" => Category::RequestConstruction,
            "auth" => Category::Auth,
            "validation" => Category::Validation,
            "transient" => Category::Transient,
            "rate-limit" => Category::RateLimit,
            "unknown" => Category::Unknown,
            _ => return None,
        })
    }

    /// The kebab-case name.
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
}

/// The outcome of classifying one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The category.
    pub category: Category,
    /// Whether a retry policy may retry it.
    pub retryable: bool,
}

/// `error.code` values that mean "your request is wrong" even under a 5xx.
const NON_TRANSIENT_CODES: &[&str] = &["invalid_request", "model_not_found", "invalid_api_key"];

/// Classifies responses using the contract's overrides, then the default table.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    rules: Vec<ClassifyRule>,
}

impl Classifier {
    /// A classifier with the contract's `[[errors.classify]]` overrides.
    pub fn from_contract(contract: &Contract) -> Self {
        Classifier {
            rules: contract.errors.classify.clone(),
        }
    }

    /// Classify a response by status, headers and body.
    pub fn classify(
        &self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Classification {
        let (code, etype) = error_code_and_type(body);
        let mut c = self
            .by_rules(status, code.as_deref(), etype.as_deref())
            .unwrap_or_else(|| default_table(status, code.as_deref()));
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

    fn by_rules(
        &self,
        status: u16,
        code: Option<&str>,
        etype: Option<&str>,
    ) -> Option<Classification> {
        self.rules
            .iter()
            .find(|r| {
                r.status == status
                    && r.code.as_deref().is_none_or(|c| Some(c) == code)
                    && r.error_type.as_deref().is_none_or(|t| Some(t) == etype)
            })
            .map(|r| Classification {
                category: Category::parse(&r.category).unwrap_or(Category::Unknown),
                retryable: r.retry,
            })
    }
}

fn default_table(status: u16, code: Option<&str>) -> Classification {
    let (category, retryable) = match status {
        200..=299 => (Category::None, false),
        401 | 403 => (Category::Auth, false),
        408 | 409 => (Category::Transient, true),
        429 if code == Some("insufficient_quota") => (Category::RateLimit, false),
        429 => (Category::RateLimit, true),
        400..=499 => (Category::Validation, false),
        500..=599 if code.is_some_and(|c| NON_TRANSIENT_CODES.contains(&c)) => {
            (Category::Validation, false)
        }
        500..=599 => (Category::Transient, true),
        _ => (Category::Unknown, false),
    };
    Classification {
        category,
        retryable,
    }
}

/// `error.code` and `error.type` from an OpenAI-shaped error body, if any.
pub fn error_code_and_type(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let s = |p: &str| {
        v.pointer(p)
            .and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
    };
    (s("/error/code"), s("/error/type"))
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
    fn a_5xx_with_invalid_request_is_not_transient() {
        let r = c(
            500,
            r#"{"error":{"message":"x","type":"comet_api_error","code":"invalid_request"}}"#,
        );
        assert_eq!(r.category, Category::Validation);
        assert!(!r.retryable);
        let r = c(503, r#"{"error":{"code":"model_not_found"}}"#);
        assert!(!r.retryable);
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

    #[test]
    fn contract_rules_win() {
        let cl = Classifier {
            rules: vec![ClassifyRule {
                status: 500,
                code: None,
                error_type: Some("comet_api_error".into()),
                category: "auth".into(),
                retry: false,
            }],
        };
        let r = cl.classify(500, &[], br#"{"error":{"type":"comet_api_error"}}"#);
        assert_eq!(r.category, Category::Auth);
        assert!(cl.classify(500, &[], b"<html>").retryable);
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
