//! The redaction audit, observability, guardrails and contract checks:
//! planted leaks are found where they are, a clean run finds nothing, the
//! guest never receives the secret, and SARIF output validates.

use crate::support::{Harness, KEY, bundled, evidence, finding, fixture};
use shipgate::findings::Verdict;
use shipgate::validation::RunOutput;
use shipgate_e2e::fixtures;

const AUDIT: &str = "grants = { audit = true }";

fn located<'a>(out: &'a RunOutput, rule: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    out.record
        .findings
        .iter()
        .filter(|f| {
            (f.plugin == "redaction-audit" || f.plugin == "host")
                && f.evidence
                    .iter()
                    .any(|e| e.key == "rule" && e.value == rule)
        })
        .map(|f| {
            (
                evidence(f, "source"),
                evidence(f, "line"),
                evidence(f, "column"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_leaks_in_a_log_directory_are_found_where_they_are() {
    let logs = tempfile::tempdir().unwrap();
    let prompt = "Return the word READY and nothing else.";
    let lines = [
        "service started".to_owned(),                             // 1
        format!("calling provider with key {KEY}"),               // 2 raw
        format!("auth blob {}", crate::support::base64_std(KEY)), // 3 base64
        format!("debug prefix={}", &KEY[..16]),                   // 4 fragment
        format!("tail ...{}", &KEY[KEY.len() - 12..]),            // 5 fragment
        "upstream: Authorization: Bearer abcDEF123456ghiJKL789mnoPQR".to_owned(), // 6 bearer
        format!("other key sk-{}", "Q1w2E3r4".repeat(6)),         // 7 sk- key
        "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX2hlcmVfb2s".to_owned(), // 8 jwt
        "aws AKIAIOSFODNN7EXAMPLE".to_owned(), // 9 aws
        "config api_key=Zx8Qp2Lm9Vt4Rw7Kc1Hd3Fg".to_owned(), // 10 entropy
        format!("user said: {prompt}"),        // 11 content
        "contact jane.doe@example.com or 415-555-0132".to_owned(), // 12 email, phone
        "card 4111 1111 1111 1111 on file".to_owned(), // 13 card
    ];
    std::fs::create_dir(logs.path().join("app")).unwrap();
    std::fs::write(logs.path().join("app/server.log"), lines.join("\n")).unwrap();
    let h = Harness::new().await;
    let text = format!(
        "[audit]\nlog_dirs = [{:?}]\n{}{}",
        logs.path().display().to_string(),
        bundled("canary", ""),
        bundled("redaction-audit", AUDIT)
    );
    let out = h.run(&h.plan(&text, &[])).await;
    let file = format!("logs:{}/app/server.log", logs.path().display());
    let expect = [
        ("credential-raw", "2"),
        ("credential-base64", "3"),
        ("credential-fragment", "4"),
        ("credential-fragment", "5"),
        ("bearer-token", "6"),
        ("sk-key", "7"),
        ("jwt", "8"),
        ("aws-key", "9"),
        ("assigned-secret", "10"),
        ("customer-content", "11"),
        ("pii-email", "12"),
        ("pii-phone", "12"),
        ("pii-card-number", "13"),
    ];
    for (rule, line) in expect {
        let hits = located(&out, rule);
        assert!(
            hits.iter().any(|(s, l, _)| *s == file && *l == line),
            "{rule} not found at line {line}: {hits:?}"
        );
    }
    // The raw key sits at column 27 of line 2.
    assert!(located(&out, "credential-raw").contains(&(file.as_str(), "2", "27")));
    // Nothing outside the planted lines (no false positives on line 1), and the decision holds.
    assert!(
        out.record
            .findings
            .iter()
            .filter(|f| f.plugin == "redaction-audit")
            .all(|f| f.evidence.iter().all(|e| e.key != "line" || e.value != "1"))
    );
    assert_eq!(
        out.record.decision.outcome,
        shipgate::decision::Outcome::Hold
    );
    // The key itself is in no finding: matches are masked.
    assert!(
        !serde_json::to_string(&out.record.findings)
            .unwrap()
            .contains(&KEY[..12])
    );
    // SARIF carries every located finding with a file:// URI and validates.
    let sarif = serde_json::to_value(shipgate::report::sarif::render(&out.record)).unwrap();
    assert_sarif_valid(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() >= expect.len());
    assert!(results.iter().any(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("file:///"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sarif_carries_every_failing_and_warning_finding_with_its_rule() {
    let h = Harness::new().await;
    let plan = shipgate::plan::Plan::builtin(&shipgate::bundled::names(), &[]).unwrap();
    let out = h
        .run_with(&plan, "sk-wrongwrongwrongwrongwrongwrongwrong")
        .await;
    let sarif = serde_json::to_value(shipgate::report::sarif::render(&out.record)).unwrap();
    assert_sarif_valid(&sarif);
    let run = &sarif["runs"][0];
    let uri = run["tool"]["driver"]["informationUri"].as_str().unwrap();
    assert!(
        uri.starts_with("https://") && !uri.contains("invalid"),
        "{uri}"
    );
    let bad: Vec<_> = out
        .record
        .findings
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Fail | Verdict::Warn))
        .collect();
    assert!(bad.iter().any(|f| f.id == "canary.auth"));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), bad.len());
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for (r, f) in results.iter().zip(&bad) {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        assert_eq!(r["ruleId"], format!("{}/{}", f.plugin, f.id));
        assert_eq!(rule["shortDescription"]["text"], f.title.as_str());
        let level = if f.verdict == Verdict::Fail {
            "error"
        } else {
            "warning"
        };
        assert_eq!(r["level"], level);
        // Located at the contract, named by its check.
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "mock.toml"
        );
        assert_eq!(
            r["locations"][0]["logicalLocations"][0]["name"],
            f.plugin.as_str()
        );
    }
    // One rule per distinct id.
    let mut ids: Vec<_> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), rules.len());
}

fn assert_sarif_valid(sarif: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../host/schema/sarif-schema-2.1.0.json")).unwrap();
    let v = jsonschema::validator_for(&schema).expect("SARIF schema compiles");
    let errors: Vec<String> = v
        .iter_errors(sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema can fail.
    assert!(!v.is_valid(&serde_json::json!({"version": "2.1.0", "runs": [{"results": []}]})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_full_run_finds_nothing() {
    let h = Harness::new().await;
    let plan = shipgate::plan::Plan::builtin(
        &shipgate::bundled::names(),
        &[
            "attestations.rollout-flag-available=flag chat-v2, default off"
                .parse()
                .unwrap(),
            "attestations.rollback-documented=runbook chat-v2-rollback"
                .parse()
                .unwrap(),
        ],
    )
    .unwrap();
    let out = h.run(&plan).await;
    let fails: Vec<_> = out
        .record
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .collect();
    assert!(fails.is_empty(), "{fails:#?}");
    let clean = finding(&out, "audit.clean");
    assert_eq!(clean.verdict, Verdict::Pass);
    assert!(evidence(clean, "sources").contains("run:telemetry.json"));
    let noisy: Vec<_> = out
        .record
        .findings
        .iter()
        .filter(|f| f.plugin == "redaction-audit" && f.verdict != Verdict::Pass)
        .collect();
    assert!(
        noisy.is_empty(),
        "no false positives on ids and hashes: {noisy:#?}"
    );
    // Provider items are verified by provider evidence, the contract by the
    // operator's word, the two operator items by attestation; the application
    // items are not ticked by shipgate's own behaviour: they hold the rollout
    // until the application itself is observed or an operator attests them.
    use shipgate::checklist::Subject;
    use shipgate::decision::ItemStatus;
    let application = [
        "request-schema-validated",
        "retry-policy-bounded",
        "timeout-policy-configured",
        "token-limits-configurable",
        "logs-redacted",
        "metrics-attached",
    ];
    for e in &out.record.decision.checklist {
        let (status, subject) = match e.id.as_str() {
            "rollout-flag-available" | "rollback-documented" => {
                (ItemStatus::Attested, Some(Subject::Operator))
            }
            "api-reference-checked" => (ItemStatus::Verified, Some(Subject::Operator)),
            id if application.contains(&id) => (ItemStatus::NotVerified, None),
            _ => (ItemStatus::Verified, Some(Subject::Provider)),
        };
        assert_eq!((e.status, e.subject), (status, subject), "{}", e.id);
    }
    let retry = out
        .record
        .decision
        .checklist
        .iter()
        .find(|e| e.id == "retry-policy-bounded")
        .unwrap();
    assert!(
        retry
            .information
            .iter()
            .any(|i| i.starts_with("retry-timeout/") && i.ends_with("(shipgate)")),
        "{:?}",
        retry.information
    );
    assert_eq!(
        out.record.decision.outcome,
        shipgate::decision::Outcome::Hold
    );
    for r in &out.record.decision.reasons {
        assert_eq!(r.rule, "not-verified", "{r:?}");
        assert!(
            application.contains(&r.checklist_item.as_deref().unwrap_or("")),
            "{r:?}"
        );
    }
    assert_sarif_valid(
        &serde_json::to_value(shipgate::report::sarif::render(&out.record)).unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_never_hands_the_secret_to_the_guest() {
    let logs = tempfile::tempdir().unwrap();
    std::fs::write(
        logs.path().join("app.log"),
        format!("leaked {KEY} and {}\n", crate::support::base64_std(KEY)),
    )
    .unwrap();
    let h = Harness::new().await;
    let text = format!(
        "[audit]\nlog_dirs = [{:?}]\n{}",
        logs.path().display().to_string(),
        fixture(
            "secret-hunter",
            fixtures::SECRET_HUNTER,
            "grants = { audit = true, auth = [\"configured\", \"invalid\"] }"
        )
    );
    let out = h.run(&h.plan(&text, &[])).await;
    let loot = finding(&out, "secret-hunter.loot");
    let audit = String::from_utf8(hex::decode(evidence(loot, "audit")).unwrap()).unwrap();
    assert!(
        audit.contains("app.log")
            && audit.contains("leaked [REDACTED:run-secret] and [REDACTED:run-secret]"),
        "{audit}"
    );
    assert!(
        !audit.contains(&KEY[3..14]) && !audit.contains(&crate::support::base64_std(KEY)[..12])
    );
    // The host says where, in its own findings, after the run.
    let forms: Vec<&str> = out
        .record
        .findings
        .iter()
        .filter(|f| f.id == "host.secret-leak")
        .filter_map(|f| f.evidence("form"))
        .collect();
    assert_eq!(forms, vec!["raw", "base64"], "the host reports where");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_without_grant_is_denied() {
    let h = Harness::new().await;
    let out = h.run(&h.plan(&bundled("redaction-audit", ""), &[])).await;
    let f = finding(&out, "redaction-audit.plugin-error");
    assert!(f.detail.contains("grants.audit = true"), "{}", f.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_honeytoken_is_reported() {
    // The invalid-auth probe gets a 401 echoing the whole token it sent; the probe records the body.
    let h = Harness::with(
        shipgate::mock::MockConfig::new(KEY)
            .when(shipgate::mock::When::BadKey, "echo-key".parse().unwrap()),
    )
    .await;
    let plugins = format!(
        "{}{}",
        bundled(
            "negative-probes",
            "grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }"
        ),
        bundled("redaction-audit", AUDIT)
    );
    let out = h.run(&h.plan(&plugins, &[])).await;
    let f = finding(&out, "audit.honeytoken-echoed");
    assert_eq!(f.verdict, Verdict::Fail);
    assert_eq!(evidence(f, "source"), "run:findings.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_echo_of_a_rejected_key_is_scrubbed_and_is_no_leak() {
    // The default mock answers a bad key as OpenAI does: its first 8 and last 4 characters.
    let h = Harness::new().await;
    let plugins = format!(
        "{}{}",
        bundled(
            "negative-probes",
            "grants = { auth = [\"configured\", \"omitted\", \"invalid\"] }"
        ),
        bundled("redaction-audit", AUDIT)
    );
    let out = h.run(&h.plan(&plugins, &[])).await;
    let probe = finding(&out, "probe.invalid-auth");
    assert_eq!(probe.verdict, Verdict::Pass, "{probe:?}");
    assert!(
        evidence(probe, "body").contains("[REDACTED:masked-key]"),
        "{}",
        evidence(probe, "body")
    );
    let leaks: Vec<_> = out
        .record
        .findings
        .iter()
        .filter(|f| {
            f.verdict != Verdict::Pass && (f.plugin == "redaction-audit" || f.plugin == "host")
        })
        .collect();
    assert!(leaks.is_empty(), "no false Hold: {leaks:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_not_logged_unless_the_plan_allows_it() {
    let h = Harness::new().await;
    let plan = fixture("well-behaved", fixtures::WELL_BEHAVED, "");
    let out = h.run(&h.plan(&plan, &[])).await;
    let rec = out
        .log
        .iter()
        .find(|r| r.source == "well-behaved" && r.message == "sending")
        .unwrap();
    assert_eq!(rec.fields["prompt"], "[content not captured]");
    assert_eq!(rec.fields["step"], "1");
    let out = h
        .run(&h.plan(&format!("content_capture = true\n{plan}"), &[]))
        .await;
    let rec = out
        .log
        .iter()
        .find(|r| r.source == "well-behaved" && r.message == "sending")
        .unwrap();
    assert_eq!(
        rec.fields["prompt"],
        "Return the word READY and nothing else."
    );
}

async fn with_fault(plugin: &str, fault: &str) -> RunOutput {
    let h = Harness::new().await;
    h.mock.push_faults([fault.parse().unwrap()]);
    h.run(&h.plan(&bundled(plugin, ""), &[])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrails_pass_and_fail_by_rule() {
    let h = Harness::new().await;
    let out = h.run(&h.plan(&bundled("guardrails", ""), &[])).await;
    for id in ["guardrails.output-ceiling", "guardrails.usage"] {
        assert_eq!(finding(&out, id).verdict, Verdict::Pass, "{id}");
    }
    assert_eq!(h.mock.requests().len(), 1);
    let out = with_fault("guardrails", "ignore-max-tokens").await;
    assert_eq!(
        finding(&out, "guardrails.output-ceiling").verdict,
        Verdict::Fail
    );
    let out = with_fault("guardrails", "bad-usage").await;
    let f = finding(&out, "guardrails.usage");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(f.detail.starts_with("inconsistent"));
    let out = with_fault("guardrails", "missing-fields").await;
    assert_eq!(finding(&out, "guardrails.usage").verdict, Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_check_tolerates_extra_fields_and_fails_missing_ones() {
    let out = with_fault("contract", "extra-fields").await;
    let f = finding(&out, "contract.parsed-fields");
    assert!(
        evidence(f, "unknown_fields").contains("/x_gateway/region"),
        "{f:?}"
    );
    assert_eq!(f.verdict, Verdict::Pass);
    assert_eq!(
        finding(&out, "contract.undocumented-parsing").verdict,
        Verdict::Pass
    );
    assert_eq!(finding(&out, "contract.sources").verdict, Verdict::Pass);
    let out = with_fault("contract", "missing-fields").await;
    let f = finding(&out, "contract.parsed-fields");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail.contains("/choices/0/message/content"),
        "{}",
        f.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observability_fails_when_a_field_is_missing() {
    let h = Harness::new().await;
    let out = h
        .run(&h.plan(
            &format!("{}{}", bundled("canary", ""), bundled("observability", "")),
            &[],
        ))
        .await;
    assert!(
        out.record
            .findings
            .iter()
            .filter(|f| f.plugin == "observability")
            .all(|f| f.verdict != Verdict::Fail)
    );
    assert_eq!(
        finding(&out, "obs.provider-request-id").verdict,
        Verdict::Pass
    );
    // A provider response that breaks parsing leaves gen_ai.response.id and finish reasons unrecorded.
    h.mock.push_faults(["missing-fields".parse().unwrap()]);
    let out = h
        .run(&h.plan(
            &format!("{}{}", bundled("canary", ""), bundled("observability", "")),
            &[],
        ))
        .await;
    assert_eq!(finding(&out, "obs.finish-reasons").verdict, Verdict::Fail);
    // The id itself still came back, so that rule still passes: each rule judges only its attribute.
    assert_eq!(finding(&out, "obs.response-id").verdict, Verdict::Pass);
}

#[test]
fn host_redaction_leaves_nothing_the_audit_detectors_flag() {
    // The same credential shapes the audit hunts, through the host's redactor.
    let redactor = shipgate::redact::OutputRedactor::new(std::sync::Arc::new(
        shipgate::secret::SecretSet::new(
            &[(
                shipgate::secret::SecretKind::Credential,
                shipgate::redact::Secret::new(KEY),
            )],
            "Bearer",
        ),
    ));
    let lines = [
        format!("calling provider with key {KEY}"),
        format!("Authorization: Bearer {KEY}"),
        "upstream: Authorization: Bearer abcDEF123456ghiJKL789mnoPQR".to_owned(),
        format!("other key sk-{}", "Q1w2E3r4".repeat(6)),
        "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX2hlcmVfb2s".to_owned(),
        "aws AKIAIOSFODNN7EXAMPLE".to_owned(),
        "config api_key=Zx8Qp2Lm9Vt4Rw7Kc1Hd3Fg".to_owned(),
    ];
    for line in &lines {
        assert!(
            !shipgate_sdk::detect::credentials(line).is_empty(),
            "the detector sees {line}"
        );
        let redacted = redactor.redact(line);
        let left = shipgate_sdk::detect::credentials(&redacted);
        assert!(left.is_empty(), "{line} -> {redacted} still has {left:?}");
    }
}
