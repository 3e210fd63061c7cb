//! What one plugin gets for its run: its capabilities, built from the plan's
//! entry for it and the run's shared handles.

use crate::bindings::shipgate::plugin::context::{Limits, Target};
use crate::capability::audit::{AuditCtx, RunOutputs};
use crate::capability::context::ContextCtx;
use crate::capability::http::retry::RetryPolicy;
use crate::capability::http::{
    HttpCtx, HttpLimits, HttpShared, HttpTarget, RequestIdRule, TargetSpec,
};
use crate::capability::log::LogCtx;
use crate::contract::Contract;
use crate::plan::{Plan, PluginSource, PluginSpec};
use crate::runtime::RunEnv;
use crate::secret::SecretSet;
use std::sync::Arc;
use std::time::Duration;

/// What every plugin of a run shares.
#[derive(Debug, Clone)]
pub(super) struct RunShared {
    /// The target and its client, credentials, scrub and limiter.
    pub target: HttpTarget,
    /// What the run wrote so far (log, telemetry, findings, prompts).
    pub outputs: RunOutputs,
    /// Where the HTTP capability keeps telemetry, denials and events.
    pub http: HttpShared,
    /// The contract as JSON, for `context`.
    pub contract_json: String,
    /// The run id.
    pub run_id: String,
    /// The run's secrets.
    pub secrets: Arc<SecretSet>,
    /// The application under test's episodes (empty when there is none).
    pub episodes: Arc<Vec<crate::report::episodes::Episode>>,
}

/// Capabilities for one plugin run, as the plan grants them.
pub(super) fn env(
    plan: &Plan,
    contract: &Contract,
    spec: &PluginSpec,
    shared: &RunShared,
) -> RunEnv {
    let t = &spec.thresholds;
    let l = &spec.limits;
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    let http = HttpCtx::new(
        &spec.name,
        shared.target.clone(),
        HttpLimits {
            auth: spec.grants.auth.clone(),
            send_oversized: spec.grants.send_oversized,
            headers: spec
                .grants
                .headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            models: spec.grants.models.clone(),
            paths: spec.grants.paths.clone(),
            fields: spec.grants.fields.clone(),
            parts: spec.grants.parts.clone(),
            faults: spec.grants.faults,
            max_requests: l.max_requests,
            max_request_bytes: l.max_request_bytes,
            max_response_bytes: l.max_response_bytes,
            input_limit_bytes: u64::from(t.input_limit_bytes),
            output_token_ceiling: u64::from(t.output_token_ceiling),
            default_timeout: ms(t.request_timeout_ms),
            retry: RetryPolicy {
                max_attempts: t.retry_max_attempts,
                budget: ms(t.retry_budget_ms),
                base_delay: ms(t.retry_base_delay_ms),
                max_delay: ms(t.retry_max_delay_ms),
                retry_after_cap: ms(t.retry_after_cap_ms),
            },
            content_capture: plan.content_capture,
        },
        shared.http.clone(),
    );
    let log = LogCtx::new(
        &spec.name,
        shared.outputs.log.clone(),
        plan.content_capture,
        l.max_log_records,
        l.max_log_bytes,
    );
    let c = contract;
    let context = ContextCtx {
        target: Target {
            provider: c.provider.clone(),
            base_url: c.base_url.url.clone(),
            chat_path: c.endpoint.path.clone(),
            chat_method: c.endpoint.method.to_ascii_uppercase(),
            model: c.request.model.clone(),
            credential_env: c.auth.credential_env.clone(),
            correlation_header: c.observability.correlation_header.clone(),
        },
        limits: Limits {
            latency_ms: t.latency_ms,
            latency_hard_ms: t.latency_hard_ms,
            input_limit_bytes: t.input_limit_bytes,
            output_token_ceiling: t.output_token_ceiling,
            request_timeout_ms: t.request_timeout_ms,
            retry_max_attempts: t.retry_max_attempts,
            retry_budget_ms: t.retry_budget_ms,
        },
        contract_json: shared.contract_json.clone(),
        settings: spec.settings.clone(),
        run_id: shared.run_id.clone(),
        stream_first_chunk_ms: t.stream_first_chunk_ms,
        telemetry: shared.outputs.telemetry.clone(),
        unapproved_model: shared.target.unapproved_model.clone(),
    };
    let audit = AuditCtx::new(
        spec.grants.audit,
        shared.outputs.clone(),
        plan.audit.log_dirs.clone(),
        shared.secrets.clone(),
    );
    let traffic =
        crate::capability::traffic::TrafficCtx::new(spec.grants.traffic, shared.episodes.clone());
    RunEnv {
        http,
        log,
        context,
        audit,
        traffic,
        limits: l.clone(),
        covers_grant: spec.grants.covers.clone(),
        bundled: matches!(spec.source, PluginSource::Bundled(_)),
        subject: spec.subject,
    }
}

/// Capabilities for `describe` before the run: the plugin's own limits, but
/// no request, no audit, and a log nobody keeps. A plugin that calls out
/// while describing itself is denied.
pub(super) fn describe_env(
    plan: &Plan,
    contract: &Contract,
    spec: &PluginSpec,
    shared: &RunShared,
) -> RunEnv {
    let mut spec = spec.clone();
    spec.limits.max_requests = 0;
    spec.grants.audit = false;
    spec.grants.traffic = false;
    let scratch = RunShared {
        outputs: RunOutputs::default(),
        http: HttpShared {
            events: crate::events::Events::none(),
            ..HttpShared::default()
        },
        ..shared.clone()
    };
    env(plan, contract, &spec, &scratch)
}

/// What the contract says about the target, for the HTTP capability.
pub(super) fn target_spec(c: &Contract, is_builtin_mock: bool) -> TargetSpec {
    TargetSpec {
        base_url: c.base_url(),
        provider: c.provider.clone(),
        chat_path: c.endpoint.path.clone(),
        chat_method: reqwest::Method::from_bytes(c.endpoint.method.to_ascii_uppercase().as_bytes())
            .unwrap_or(reqwest::Method::POST),
        model: c.request.model.clone(),
        output_ceiling_field: c.request.output_ceiling_field.clone(),
        correlation_header: c.observability.correlation_header.to_ascii_lowercase(),
        documented_headers: c
            .request
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        request_id: RequestIdRule {
            header: c
                .response
                .request_id_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
            in_message: c
                .response
                .request_id_pattern
                .as_ref()
                .and_then(|p| regex::Regex::new(p).ok()),
            message_pointer: c.errors.message_pointer.clone(),
        },
        is_builtin_mock,
    }
}
