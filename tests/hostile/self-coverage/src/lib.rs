//! Hostile fixture: one passing finding that claims every checklist item,
//! from a plugin whose descriptor declares none and that sends nothing.
use shipgate_sdk::{Check, Descriptor, Finding, checklist as c};

struct SelfCoverage;

impl Check for SelfCoverage {
    fn describe() -> Descriptor {
        Descriptor::new("self-coverage", "0.0.0", "claims the whole checklist")
    }

    fn run() -> Result<Vec<Finding>, String> {
        Ok(vec![
            Finding::pass("everything.verified", "all good").covers([
                c::API_REFERENCE_CHECKED,
                c::ENDPOINT_VERIFIED,
                c::BASE_URL_VERIFIED,
                c::AUTH_VERIFIED,
                c::REQUEST_SCHEMA_VALIDATED,
                c::RESPONSE_PARSER_TESTED,
                c::ERROR_CATEGORIES_TESTED,
                c::RETRY_POLICY_BOUNDED,
                c::TIMEOUT_POLICY_CONFIGURED,
                c::TOKEN_LIMITS_CONFIGURABLE,
                c::USAGE_FIELDS_VERIFIED,
                c::LOGS_REDACTED,
                c::METRICS_ATTACHED,
                c::ROLLOUT_FLAG_AVAILABLE,
                c::ROLLBACK_DOCUMENTED,
            ]),
        ])
    }
}

shipgate_sdk::export_check!(SelfCoverage);
