//! Every finding a bundled check makes can fail: for each, a provider (or
//! contract, or plan) that makes it fail, and the run that shows it.
//!
//! Findings about the host's own telemetry and retry loop (`observability`,
//! `retry-timeout`, subject `shipgate`) that the host always fills in are
//! shown failing by their plugin's native tests of the same pure judgement.

use crate::support::{Harness, KEY, bundled, finding};
use shipgate::contract::Contract;
use shipgate::findings::Verdict;
use shipgate::mock::{MockConfig, When};
use std::path::Path;

/// One way to make one finding fail.
struct Failing {
    plugin: &'static str,
    id: &'static str,
    /// Standing mock behaviours.
    when: &'static [(When, &'static str)],
    /// Faults for the next requests, in order.
    script: &'static [&'static str],
    /// Plan overrides.
    set: &'static [&'static str],
    /// A change to the mock's contract: (from, to).
    contract: Option<(&'static str, &'static str)>,
    /// A credential other than the one the mock accepts.
    key: Option<&'static str>,
    /// Plan lines for the plugin (grants).
    extra: &'static str,
}

const F: Failing = Failing {
    plugin: "",
    id: "",
    when: &[],
    script: &[],
    set: &[],
    contract: None,
    key: None,
    extra: "",
};

const PROBES: &str = "grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }";

fn cases() -> Vec<Failing> {
    vec![
        Failing {
            plugin: "canary",
            id: "canary.reached-host",
            script: &["status:404"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.auth",
            key: Some("sk-not-the-key-0123456789abcdef"),
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.status",
            script: &["status:503"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.content",
            script: &["missing-fields"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.finish-reason",
            script: &["missing-fields"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.usage",
            script: &["missing-fields"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.latency",
            script: &["delay:300"],
            set: &["canary.latency_ms=10", "canary.latency_hard_ms=100"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.model",
            script: &["wrong-model"],
            ..F
        },
        Failing {
            plugin: "canary",
            id: "canary.provider-request-id",
            script: &["no-request-id"],
            ..F
        },
        Failing {
            plugin: "contract",
            id: "contract.sources",
            contract: Some((
                "source = \"shipgate built-in mock (host/src/mock)\"\naccessed = \"",
                "source = \"shipgate built-in mock (host/src/mock)\"\naccessed = \"2020-01-01\" #\"",
            )),
            ..F
        },
        Failing {
            plugin: "contract",
            id: "contract.parsed-fields",
            script: &["missing-fields"],
            ..F
        },
        Failing {
            plugin: "contract",
            id: "contract.undocumented-parsing",
            contract: Some(("\"/usage/total_tokens\"]", "]")),
            ..F
        },
        Failing {
            plugin: "negative-probes",
            id: "probe.missing-auth",
            when: &[(When::NoKey, "accept-any-key")],
            extra: PROBES,
            ..F
        },
        Failing {
            plugin: "negative-probes",
            id: "probe.invalid-auth",
            when: &[(When::BadKey, "bad-key-400")],
            extra: PROBES,
            ..F
        },
        Failing {
            plugin: "negative-probes",
            id: "probe.missing-model",
            when: &[(When::NoModel, "accept-invalid")],
            extra: PROBES,
            ..F
        },
        Failing {
            plugin: "negative-probes",
            id: "probe.missing-messages",
            when: &[(When::NoMessages, "accept-invalid")],
            extra: PROBES,
            ..F
        },
        Failing {
            plugin: "negative-probes",
            id: "probe.empty-messages",
            when: &[(When::EmptyMessages, "accept-invalid")],
            extra: PROBES,
            ..F
        },
        Failing {
            plugin: "negative-probes",
            id: "probe.unknown-model",
            when: &[(When::UnknownModel, "accept-invalid")],
            extra: PROBES,
            ..F
        },
        Failing {
            plugin: "guardrails",
            id: "guardrails.output-ceiling",
            script: &["ignore-max-tokens"],
            ..F
        },
        Failing {
            plugin: "guardrails",
            id: "guardrails.usage",
            script: &["bad-usage"],
            ..F
        },
        Failing {
            plugin: "observability",
            id: "obs.response-id",
            script: &["invalid-json"],
            ..F
        },
        Failing {
            plugin: "observability",
            id: "obs.finish-reasons",
            script: &["missing-fields"],
            ..F
        },
        Failing {
            plugin: "observability",
            id: "obs.usage",
            script: &["missing-fields"],
            ..F
        },
        Failing {
            plugin: "retry-timeout",
            id: "retry.no-retry-400",
            contract: Some((
                "[errors.cases]",
                "[[errors.classify]]\nstatus = 400\ncategory = \"transient\"\nretry = true\n\n[errors.cases]",
            )),
            ..F
        },
        Failing {
            plugin: "retry-timeout",
            id: "retry.transient-bounded",
            set: &[
                "thresholds.retry_max_attempts=12",
                "thresholds.retry_base_delay_ms=1",
                "thresholds.retry_max_delay_ms=2",
            ],
            ..F
        },
        Failing {
            plugin: "redaction-audit",
            id: "audit.honeytoken-echoed",
            when: &[(When::BadKey, "echo-key")],
            extra: "grants = { audit = true }",
            ..F
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bundled_finding_can_fail() {
    let mut missed = Vec::new();
    for c in cases() {
        let mut config = MockConfig::new(KEY);
        for (w, f) in c.when {
            config = config.when(*w, f.parse().unwrap());
        }
        let mut h = Harness::with(config).await;
        if let Some((from, to)) = c.contract {
            let text = shipgate::contract::template(
                shipgate::contract::Provider::Mock,
                Some(&h.mock.base_url()),
            );
            assert!(
                text.contains(from),
                "{}: {from:?} is not in the template",
                c.id
            );
            h.contract = Contract::parse(Path::new("c.toml"), &text.replacen(from, to, 1)).unwrap();
        }
        h.mock
            .push_faults(c.script.iter().map(|f| f.parse().unwrap()));
        // The audit needs something to hunt: the probes, whose invalid key is echoed.
        let plugins = if c.plugin == "redaction-audit" {
            format!(
                "{}{}",
                bundled("negative-probes", PROBES),
                bundled(c.plugin, c.extra)
            )
        } else {
            bundled(c.plugin, c.extra)
        };
        let plan = h.plan(&plugins, c.set);
        let out = h.run_with(&plan, c.key.unwrap_or(KEY)).await;
        let f = finding(&out, c.id);
        if f.verdict != Verdict::Fail {
            missed.push(format!("{} {:?}: {}", c.id, f.verdict, f.detail));
        }
    }
    assert!(missed.is_empty(), "these did not fail: {missed:#?}");
}
