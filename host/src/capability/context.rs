//! The `context` capability: read-only contract values, thresholds and settings.
//!
//! # Security
//!
//! Nothing here is secret: the contract JSON names the credential's
//! environment variable, never its value, and the plan's settings are the
//! operator's own text.

use crate::bindings::shipgate::plugin::context::{Host, Limits, Target};
use crate::telemetry::RequestTelemetry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Per-plugin-run context.
#[derive(Debug, Clone)]
pub struct ContextCtx {
    /// The target.
    pub target: Target,
    /// Thresholds.
    pub limits: Limits,
    /// The contract as JSON.
    pub contract_json: String,
    /// The plugin's settings.
    pub settings: BTreeMap<String, String>,
    /// The run id.
    pub run_id: String,
    /// The run's telemetry so far (redacted by secret-independent rules; it
    /// holds only what guests sent and scrubbed responses).
    pub telemetry: Arc<Mutex<Vec<RequestTelemetry>>>,
    /// The model id the host made up for this run.
    pub unapproved_model: String,
    /// The plan's `stream_first_chunk_ms`.
    pub stream_first_chunk_ms: u32,
}

impl Host for ContextCtx {
    async fn current_target(&mut self) -> wasmtime::Result<Target> {
        Ok(self.target.clone())
    }

    async fn current_limits(&mut self) -> wasmtime::Result<Limits> {
        Ok(self.limits)
    }

    async fn stream_first_chunk_ms(&mut self) -> wasmtime::Result<u32> {
        Ok(self.stream_first_chunk_ms)
    }

    async fn contract_json(&mut self) -> wasmtime::Result<String> {
        Ok(self.contract_json.clone())
    }

    async fn setting(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.settings.get(&key).cloned())
    }

    async fn run_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.run_id.clone())
    }

    async fn telemetry_json(&mut self) -> wasmtime::Result<String> {
        let t = self.telemetry.lock().expect("telemetry lock");
        Ok(serde_json::to_string(&*t).unwrap_or_else(|_| "[]".into()))
    }

    async fn unapproved_model(&mut self) -> wasmtime::Result<String> {
        Ok(self.unapproved_model.clone())
    }
}
