//! shipgate decides whether an integration with an LLM chat-completions API
//! (CometAPI first, any OpenAI-compatible API) is safe to put in front of
//! customers, by running validation checks as sandboxed WebAssembly plugins
//! and keeping a validation record a later operator can trust.
//!
//! # Threat model in brief
//!
//! Plugins are untrusted (shared CI runs other teams' checks). A plugin can
//! only call the `shipgate:plugin` imports: HTTP to the contract's origin
//! (the host injects the credential; the plugin never sees it), redacted
//! logging, read-only context, and (when granted) the run's output with
//! secrets masked. It gets no files, environment, arguments or sockets.
//! Time, memory, fuel, requests, body sizes, logs and findings are capped; any failure becomes a finding that holds the rollout. The host
//! trusts its own binary, the contract and plan files, and the operator's
//! environment. See `SECURITY.md`.
//!
//! # Core concepts
//!
//! - [`contract::Contract`]: the frozen contract snapshot, every section with
//!   its source, access date and `verified`/`assumed` status.
//! - [`plan::Plan`]: which checks run, their settings, thresholds, limits and grants.
//! - [`runtime::Runtime`]: the wasmtime engine; compiles each plugin once and
//!   gives every run a fresh `Store` with its limits.
//! - [`capability`]: the `http`, `log`, `context` and `audit` host implementations.
//! - [`validation::Validation`]: one run of a plan against a contract.
//! - [`decision`]: Ship / Ship behind flag / Hold, with reasons.
//! - [`diff`]: drift between two records, spikes against a baseline.
//! - [`report`]: the record (`record.json`, `report.md`, `junit.xml`, `log.jsonl`).
//! - [`mock`]: an OpenAI-compatible mock server with fault injection.
//! - [`events`]: what a run emits as it goes (progress, sinks).
//!
//! The usual path is `Contract::load` + `Plan::load`, then
//! [`Validation::run`], then [`report::write_record_dir`]; the CLI (`cli`,
//! not part of the API) is a thin layer over exactly that.
#![deny(missing_docs)]

pub use config_error::ConfigError;
pub use contract::Contract;
pub use plan::Plan;
pub use report::Record;
pub use validation::{RunOutput, Validation};

pub mod application;
mod bindings;
pub mod capability;
pub mod checklist;
pub mod classify;
#[doc(hidden)]
pub mod cli;
pub mod config_error;
pub mod contract;
pub mod decision;
pub mod diff;
pub mod events;
pub mod findings;
pub mod lock;
pub mod mock;
pub mod plan;
pub mod redact;
pub mod report;
pub mod runtime;
pub mod secret;
pub mod telemetry;
pub(crate) mod text;
pub mod validation;

/// Checks compiled from `plugins/` and bundled into this binary.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

    /// Names of the bundled checks, in run order.
    pub fn names() -> Vec<&'static str> {
        BUNDLED.iter().map(|(n, _)| *n).collect()
    }
}

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
