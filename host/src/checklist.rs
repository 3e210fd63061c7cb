//! The validation guide's 15-item production readiness checklist.
//!
//! Findings name the items they cover; the record maps every item to those
//! findings (or to an operator's attestation in the plan), and an item nothing
//! covered is "not verified". Each item also names the contract sections it
//! rests on, so an `assumed` section behind a covered item holds the rollout.

use crate::contract::Section;

/// One checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Stable id, used by plugins (`shipgate_sdk::checklist`).
    pub id: &'static str,
    /// The guide's wording.
    pub title: &'static str,
    /// Contract sections this item depends on.
    pub sections: &'static [Section],
    /// Only an operator's attestation in the plan can verify it (no check can
    /// see a rollout flag or a runbook).
    pub operator_only: bool,
}

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

/// Every item, in the guide's order.
pub const ITEMS: [Item; 15] = [
    Item {
        id: "api-reference-checked",
        title: "Current API reference checked",
        sections: &[],
        operator_only: false,
    },
    Item {
        id: "endpoint-verified",
        title: "Endpoint path and method verified",
        sections: &[Section::Endpoint],
        operator_only: false,
    },
    Item {
        id: "base-url-verified",
        title: "Base URL verified",
        sections: &[Section::BaseUrl],
        operator_only: false,
    },
    Item {
        id: "auth-verified",
        title: "Auth header and token handling verified",
        sections: &[Section::Auth],
        operator_only: false,
    },
    Item {
        id: "request-schema-validated",
        title: "Request schema validated locally",
        sections: &[Section::Request],
        operator_only: false,
    },
    Item {
        id: "response-parser-tested",
        title: "Response parser tested against observed successful response",
        sections: &[Section::Response],
        operator_only: false,
    },
    Item {
        id: "error-categories-tested",
        title: "Error categories tested with controlled negative probes",
        sections: &[Section::Errors],
        operator_only: false,
    },
    Item {
        id: "retry-policy-bounded",
        title: "Retry policy bounded and observable",
        sections: &[Section::RateLimits],
        operator_only: false,
    },
    Item {
        id: "timeout-policy-configured",
        title: "Timeout policy configured by environment",
        sections: &[],
        operator_only: false,
    },
    Item {
        id: "token-limits-configurable",
        title: "Token or output limits configurable",
        sections: &[Section::Request],
        operator_only: false,
    },
    Item {
        id: "usage-fields-verified",
        title: "Usage or billing fields verified before use",
        sections: &[Section::Usage, Section::Billing],
        operator_only: false,
    },
    Item {
        id: "logs-redacted",
        title: "Logs redact secrets and sensitive content",
        sections: &[],
        operator_only: false,
    },
    Item {
        id: "metrics-attached",
        title: "Metrics and alerts attached to production dashboards",
        sections: &[],
        operator_only: false,
    },
    Item {
        id: "rollout-flag-available",
        title: "Rollout flag or traffic control available",
        sections: &[],
        operator_only: true,
    },
    Item {
        id: "rollback-documented",
        title: "Rollback path documented",
        sections: &[],
        operator_only: true,
    },
];

/// The item with this id.
pub fn item(id: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|i| i.id == id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = super::ITEMS.iter().map(|i| i.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 15);
    }
}
