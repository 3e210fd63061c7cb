//! The validation guide's 15-item production readiness checklist, and who can
//! verify each item.
//!
//! A finding is evidence about a **subject** ([`Subject`]), which the host
//! assigns from the plan's grant for its plugin, never the plugin itself:
//!
//! - `provider`: the API behaved as the contract says (the canary, the probes);
//! - `application`: observed from the application's own traffic, logs or telemetry;
//! - `operator`: the operator vouches (an attestation, or the contract's
//!   `status = "verified"`);
//! - `shipgate`: shipgate's own reference client proving itself. That is
//!   information, never a tick: it is the same for every integration, so it
//!   cannot tell a good one from a bad one.
//!
//! Each item lists the subjects whose evidence can verify it; a covering
//! finding of another subject is shown as information. An operator's
//! attestation can verify any item, and is the only way to verify
//! `rollout-flag-available` and `rollback-documented`.

use serde::{Deserialize, Serialize};

/// What a finding is evidence about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// The provider's API, observed by a check.
    Provider,
    /// The team's application, observed from its traffic, logs or telemetry.
    Application,
    /// The operator's word: an attestation, or the contract marked verified.
    Operator,
    /// shipgate's own reference client (information only).
    Shipgate,
}

impl Subject {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Provider => "provider",
            Subject::Application => "application",
            Subject::Operator => "operator",
            Subject::Shipgate => "shipgate",
        }
    }
}

/// One checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Stable id, used by plugins (`shipgate_sdk::checklist`).
    pub id: &'static str,
    /// The guide's wording.
    pub title: &'static str,
    /// The subjects whose findings can verify it (an attestation always can).
    pub subjects: &'static [Subject],
}

impl Item {
    /// Only an operator's attestation can verify it.
    pub fn operator_only(&self) -> bool {
        self.subjects.is_empty()
    }

    /// What kind of evidence it needs, in words.
    pub fn needs(&self) -> String {
        if self.operator_only() {
            return "an operator's attestation in the plan".into();
        }
        let names: Vec<&str> = self.subjects.iter().map(|s| s.as_str()).collect();
        format!(
            "evidence about the {} (or an attestation)",
            names.join(" or the ")
        )
    }
}

/// `api-reference-checked`.
pub const API_REFERENCE_CHECKED: &str = "api-reference-checked";
/// `rollout-flag-available`.
pub const ROLLOUT_FLAG_AVAILABLE: &str = "rollout-flag-available";
/// `rollback-documented`.
pub const ROLLBACK_DOCUMENTED: &str = "rollback-documented";
/// `logs-redacted`.
pub const LOGS_REDACTED: &str = "logs-redacted";
/// `metrics-attached`.
pub const METRICS_ATTACHED: &str = "metrics-attached";
/// `usage-fields-verified`.
pub const USAGE_FIELDS_VERIFIED: &str = "usage-fields-verified";

use Subject::{Application as A, Operator as O, Provider as P};

/// Every item, in the guide's order.
pub const ITEMS: [Item; 15] = [
    Item {
        id: API_REFERENCE_CHECKED,
        title: "Current API reference checked",
        subjects: &[O],
    },
    Item {
        id: "endpoint-verified",
        title: "Endpoint path and method verified",
        subjects: &[P],
    },
    Item {
        id: "base-url-verified",
        title: "Base URL verified",
        subjects: &[P],
    },
    Item {
        id: "auth-verified",
        title: "Auth header and token handling verified",
        subjects: &[P],
    },
    Item {
        id: "request-schema-validated",
        title: "Request schema validated locally",
        subjects: &[A],
    },
    Item {
        id: "response-parser-tested",
        title: "Response parser tested against observed successful response",
        subjects: &[P, A],
    },
    Item {
        id: "error-categories-tested",
        title: "Error categories tested with controlled negative probes",
        subjects: &[P, A],
    },
    Item {
        id: "retry-policy-bounded",
        title: "Retry policy bounded and observable",
        subjects: &[A],
    },
    Item {
        id: "timeout-policy-configured",
        title: "Timeout policy configured by environment",
        subjects: &[A],
    },
    Item {
        id: "token-limits-configurable",
        title: "Token or output limits configurable",
        subjects: &[A],
    },
    Item {
        id: USAGE_FIELDS_VERIFIED,
        title: "Usage or billing fields verified before use",
        subjects: &[P],
    },
    Item {
        id: LOGS_REDACTED,
        title: "Logs redact secrets and sensitive content",
        subjects: &[A],
    },
    Item {
        id: METRICS_ATTACHED,
        title: "Metrics and alerts attached to production dashboards",
        subjects: &[A],
    },
    Item {
        id: ROLLOUT_FLAG_AVAILABLE,
        title: "Rollout flag or traffic control available",
        subjects: &[],
    },
    Item {
        id: ROLLBACK_DOCUMENTED,
        title: "Rollback path documented",
        subjects: &[],
    },
];

/// The item with this id.
pub fn item(id: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|i| i.id == id)
}

/// Every item id, for messages that list what exists.
pub fn ids() -> Vec<&'static str> {
    ITEMS.iter().map(|i| i.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        let mut ids = ids();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 15);
    }

    #[test]
    fn shipgate_itself_verifies_nothing() {
        assert!(
            ITEMS
                .iter()
                .all(|i| !i.subjects.contains(&Subject::Shipgate))
        );
        let app_items = ITEMS.iter().filter(|i| i.subjects == [A]).count();
        assert_eq!(app_items, 6, "what the application must show");
    }
}
