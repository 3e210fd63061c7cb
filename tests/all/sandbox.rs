//! Sandbox round two: each attack on the promise to shared CI (learn nothing,
//! cost a bounded amount, never forge the verdict) as a hostile fixture, and
//! the exact outcome the host gives it.

use crate::support::{
    Harness, KEY, assert_nothing_of, bundled, evidence, finding, fixture, persisted, unhex,
    write_record,
};
use shipgate::decision::{ItemStatus, Outcome};
use shipgate::findings::{FindingKind, Verdict};
use shipgate_e2e::fixtures;

/// The honeytoken the run sent (from what the mock received).
fn honeytoken(h: &Harness) -> String {
    h.mock
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .find(|a| !a.contains(KEY))
        .expect("an invalid-auth request went out")
        .trim_start_matches("Bearer ")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_is_not_an_oracle_for_the_key() {
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "audit-oracle",
            fixtures::AUDIT_ORACLE,
            &format!(
                "grants = {{ audit = true }}\nlimits = {{ max_requests = 300 }}\nsettings = {{ right = \"{}\" }}",
                &KEY[..20]
            ),
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let f = finding(&out, "oracle.result");
    // Blind: every guess looked exactly as it was sent; nothing stood out.
    assert_eq!(evidence(f, "signal_rounds"), "0");
    assert_eq!(evidence(f, "round0"), "0 views differ from what was sent");
    assert_eq!(unhex(evidence(f, "known")), "sk-");
    // Direct: a right and a wrong guess of 20 characters look the same.
    assert_eq!(evidence(f, "right_view"), evidence(f, "wrong_view"));
    assert!(!evidence(f, "right_view").is_empty());
    // Nothing of the key is in the record.
    assert_nothing_of(KEY, &persisted(&out), "the record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflecting_server_hands_back_nothing_of_either_secret() {
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "scrub-bypass",
            fixtures::SCRUB_BYPASS,
            "grants = { auth = [\"configured\", \"invalid\"] }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let loot = finding(&out, "bypass.loot");
    let got = |k: &str| unhex(evidence(loot, k));
    // What a plugin may not ask for is denied; what the host cannot scrub is withheld.
    assert_eq!(got("accept-encoding"), "denied");
    assert_eq!(got("range"), "denied");
    assert_eq!(got("content-encoded"), "withheld");
    assert_eq!(got("second-encoding"), "withheld");
    // Every encoding an honest reflecting server makes arrives scrubbed.
    assert!(
        got("plain-echo").contains("Bearer [REDACTED:credential]"),
        "{}",
        got("plain-echo")
    );
    for form in [
        "echo-base64-header",
        "echo-url-encoded",
        "echo-json-escaped",
        "echo-split-headers",
        "echo-key-as-request-id",
    ] {
        assert!(got(form).starts_with("status="), "{form}: {}", got(form));
        assert!(
            got(form).contains("[REDACTED:credential]"),
            "{form}: {}",
            got(form)
        );
    }
    assert!(
        got("echo-key-as-request-id").contains("request_id=Some(\"Bearer [REDACTED:credential]\")")
    );
    assert!(
        got("honeytoken").contains("[REDACTED:honeytoken]"),
        "{}",
        got("honeytoken")
    );
    let honey = honeytoken(&h);
    let mut all = String::new();
    for e in &loot.evidence {
        all.push_str(&unhex(&e.value));
    }
    assert_nothing_of(KEY, &all, "what the plugin received");
    assert_nothing_of(&honey, &all, "what the plugin received (honeytoken)");
    assert_nothing_of(KEY, &persisted(&out), "the record");
    assert_nothing_of(&honey, &persisted(&out), "the record (honeytoken)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_plugin_makes_the_host_keep_is_capped() {
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "host-flood",
            fixtures::HOST_FLOOD,
            "grants = { send_oversized = true }\nlimits = { deadline_ms = 60000, memory_mib = 512 }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let outcomes = &out
        .log
        .iter()
        .find(|r| r.message == "flood done")
        .expect("the flood ran to its end")
        .fields["outcomes"];
    assert_eq!(outcomes.matches("path:denied").count(), 30, "{outcomes}");
    assert_eq!(outcomes.matches("body:rejected").count(), 5, "{outcomes}");
    assert!(outcomes.contains("headers:denied"), "{outcomes}");
    assert_eq!(outcomes.matches("accepted:sent").count(), 4, "{outcomes}");
    // Every stored field is under its cap.
    for t in &out.record.telemetry {
        assert!(
            t.path.chars().count() <= 256 + 14,
            "path of {}",
            t.path.len()
        );
        assert!(t.reason.as_deref().unwrap_or("").chars().count() <= 512 + 14);
        let shape = t
            .request_shape
            .as_ref()
            .map(|s| s.to_string().len())
            .unwrap_or(0);
        assert!(shape <= 4096, "request shape of {shape} bytes");
    }
    assert!(out.record.denials.len() <= 32);
    // The 24 MiB error is kept to 16 KiB.
    let err = finding(&out, "host-flood.plugin-error");
    assert!(err.detail.len() < 17 * 1024, "{}", err.detail.len());
    assert!(err.detail.ends_with("…[truncated]"));
    // The whole record stays small.
    let (_dir, paths) = write_record(&out);
    for p in [
        &paths.record,
        &paths.report,
        &paths.junit,
        &paths.log,
        &paths.sarif,
    ] {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len < 2 * 1024 * 1024, "{} is {len} bytes", p.display());
    }
    assert_eq!(out.record.decision.outcome, Outcome::Hold);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_text_is_inert_in_every_output() {
    let h = Harness::new().await;
    let plan = h.plan(&fixture("forge-output", fixtures::FORGE_OUTPUT, ""), &[]);
    let out = h.run(&plan).await;
    // The terminal: no control character but newlines, one decision line.
    let mut human = Vec::new();
    shipgate::report::human::render(&out.record, &mut human, false).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(
        !human
            .chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
        "{human:?}"
    );
    assert_eq!(
        human
            .lines()
            .filter(|l| l.trim_start().starts_with("decision:"))
            .count(),
        1,
        "{human}"
    );
    let (_dir, paths) = write_record(&out);
    // report.md: no markup, no forged heading.
    let md = std::fs::read_to_string(&paths.report).unwrap();
    for bad in ["<script", "<img", "[click](javascript", "![x](https"] {
        assert!(!md.contains(bad), "{bad} in report.md");
    }
    assert_eq!(
        md.lines().filter(|l| l.starts_with("## Decision")).count(),
        1,
        "{md}"
    );
    assert!(!md.chars().any(|c| c.is_control() && c != '\n'));
    // junit.xml: well-formed, with exactly the test cases the run had.
    let xml = std::fs::read_to_string(&paths.junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut cases = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"testcase" =>
            {
                cases += 1
            }
            Ok(_) => {}
            Err(e) => panic!("junit.xml is not well-formed: {e}"),
        }
    }
    assert!(!xml.contains('\u{FFFE}') && !xml.contains('\u{FFFF}'));
    assert_eq!(
        cases,
        1 + out.record.findings.len(),
        "decision + one per finding"
    );
    // SARIF: a guest's `source` never becomes an artifact URI.
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths.sarif).unwrap()).unwrap();
    for r in sarif["runs"][0]["results"].as_array().unwrap() {
        let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert!(
            uri.is_null() || uri == "mock.toml" || uri.as_str().unwrap().starts_with("file:///"),
            "{uri}"
        );
        let uri = uri.as_str().unwrap_or("");
        assert!(
            !uri.contains("javascript:") && !uri.contains("/etc/passwd"),
            "{uri}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_verify_the_checklist_by_saying_so() {
    let h = Harness::new().await;
    for grant in ["", "grants = { covers = [\"logs-redacted\"] }"] {
        let plan = h.plan(
            &fixture("self-coverage", fixtures::SELF_COVERAGE, grant),
            &[],
        );
        let out = h.run(&plan).await;
        let f = finding(&out, "everything.verified");
        assert!(f.covers.is_empty(), "{:?}", f.covers);
        assert_eq!(evidence(f, "covers_not_granted").split(',').count(), 15);
        for e in &out.record.decision.checklist {
            assert!(
                !e.findings.iter().any(|x| x.starts_with("self-coverage/")),
                "{} lists the plugin's finding",
                e.id
            );
        }
        assert!(out.record.decision.checklist.iter().all(|e| matches!(
            e.status,
            ItemStatus::NotVerified
        )
            || e.findings.iter().all(|x| x.starts_with("host/"))));
        assert_ne!(out.record.decision.outcome, Outcome::Ship);
    }
    // Items only an operator can vouch for cannot be granted at all.
    let err = shipgate::plan::Plan::parse(
        std::path::Path::new("plan.toml"),
        &format!(
            "schema = 1\n{}",
            fixture(
                "self-coverage",
                fixtures::SELF_COVERAGE,
                "grants = { covers = [\"rollout-flag-available\"] }"
            )
        ),
        &shipgate::bundled::names(),
        &[],
    )
    .unwrap_err();
    assert!(
        err.message().contains("only be verified by an operator"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_steer_another_plugins_results() {
    let h = Harness::new().await;
    let plan = h.plan(
        &format!(
            "{}{}",
            fixture("label-steering", fixtures::LABEL_STEERING, ""),
            bundled("canary", "")
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let summary = |plugin: &str| {
        out.record
            .telemetry_summary
            .iter()
            .find(|o| o.plugin == plugin && o.operation == "canary")
            .unwrap_or_else(|| panic!("no summary for {plugin}"))
    };
    assert_eq!(summary("label-steering").requests, 20);
    assert_eq!(
        summary("canary").requests,
        1,
        "the canary's figures are its own"
    );
    // The request template is the canary's single-message request, not the first chat request of the run.
    let template = out.record.request_template.as_ref().expect("a template");
    assert_eq!(
        template["messages"].as_array().unwrap().len(),
        1,
        "{template}"
    );
    assert_eq!(template["max_tokens"], 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_is_bounded_by_the_plan() {
    let h = Harness::new().await;
    let out = h
        .run(&h.plan(&fixture("spend-abuse", fixtures::SPEND_ABUSE, ""), &[]))
        .await;
    let f = finding(&out, "spend.outcomes");
    for (what, expected) in [
        ("other-model", "denied"),
        ("huge-ceiling", "denied"),
        ("huge-completion-ceiling", "denied"),
        ("many-completions", "denied"),
        ("input-in-tools", "rejected"),
        ("images", "denied"),
        ("delete", "denied"),
        ("gb-body", "denied"),
        ("fault-header", "denied"),
    ] {
        assert_eq!(evidence(f, what), expected, "{what}");
    }
    assert!(h.mock.requests().is_empty(), "nothing reached the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_parses_exactly_what_the_host_checked() {
    let h = Harness::new().await;
    let out = h
        .run(&h.plan(&fixture("spend-bypass", fixtures::SPEND_BYPASS, ""), &[]))
        .await;
    let f = finding(&out, "bypass.outcomes");
    // Bodies a lenient parser reads but serde_json refuses, and numbers as strings.
    for what in [
        "utf-16",
        "string-n",
        "deep-nesting",
        "huge-number",
        "lone-surrogate",
        "nan",
        "control-plain",
    ] {
        assert_eq!(evidence(f, what), "denied", "{what}");
    }
    // `max_tokens: null` goes out with the plan's ceiling in its place.
    assert_eq!(evidence(f, "null-ceiling"), "sent:200");
    let sent = h.mock.requests();
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    let ceiling = shipgate::plan::Thresholds::default().output_token_ceiling;
    assert_eq!(body["max_tokens"], ceiling);
    // What went out is the host's re-encoding, byte for byte.
    assert_eq!(sent[0].body, serde_json::to_vec(&body).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_the_deadline_stays_on_the_record() {
    let h = Harness::new().await;
    let out = h
        .run(&h.plan(
            &fixture(
                "slow-request",
                fixtures::SLOW_REQUEST,
                "limits = { deadline_ms = 1000 }",
            ),
            &[],
        ))
        .await;
    let f = finding(&out, "slow-request.limit.deadline");
    assert_eq!(f.kind, FindingKind::PluginError);
    let t = out
        .record
        .telemetry
        .iter()
        .find(|t| t.plugin == "slow-request")
        .expect("the request is on the record");
    assert_eq!(t.outcome, "cancelled");
    assert_eq!(t.operation, "slow");
    assert_eq!(out.record.plugins[0].requests, 1);
    assert_eq!(h.mock.requests().len(), 1, "it did reach the server");
    assert_eq!(f.verdict, Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliased_lists_cannot_multiply_host_memory() {
    let h = Harness::new().await;
    // 64 (key, value) pairs all pointing at one 16 MiB buffer: 2 GiB if lifted.
    let plan = h.plan(
        &fixture(
            "lift-bomb",
            fixtures::LIFT_BOMB,
            "settings = { mib = 16, copies = 64 }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let f = finding(&out, "lift-bomb.plugin-error");
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(
        f.detail
            .starts_with("the plugin failed: too much data is being copied"),
        "{}",
        f.detail
    );
    assert!(out.record.findings.iter().all(|f| f.id != "lift.done"));

    // One honest copy of the same buffer is within the cap.
    let plan = h.plan(
        &fixture(
            "lift-bomb",
            fixtures::LIFT_BOMB,
            "settings = { mib = 16, copies = 1 }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    assert_eq!(finding(&out, "lift.done").verdict, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaked_handles_trap_the_guest_not_the_host() {
    let h = Harness::new().await;
    let plan = h.plan(
        &fixture(
            "wasi-leak",
            fixtures::WASI_LEAK,
            "settings = { n = 10000000 }",
        ),
        &[],
    );
    let out = h.run(&plan).await;
    let f = finding(&out, "wasi-leak.plugin-error");
    assert!(f.detail.contains("live handles"), "{}", f.detail);
    // Under the cap, the same calls are fine.
    let plan = h.plan(
        &fixture("wasi-leak", fixtures::WASI_LEAK, "settings = { n = 5000 }"),
        &[],
    );
    let out = h.run(&plan).await;
    assert_eq!(finding(&out, "leak.done").verdict, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_label_is_inert_in_the_record_and_on_the_terminal() {
    let h = Harness::new().await;
    let short = h.plan(
        &fixture(
            "op-label",
            fixtures::OP_LABEL,
            "settings = { long = false }",
        ),
        &[],
    );
    let baseline = h.run(&short).await.record;
    // A usage spike against the baseline: the host's own finding names the operation.
    let long = h.plan(
        &fixture("op-label", fixtures::OP_LABEL, "settings = { long = true }"),
        &[],
    );
    let out = crate::support::run_full(&h, &long, Some(&baseline), std::future::pending()).await;
    let spike = out
        .record
        .findings
        .iter()
        .find(|f| f.id.starts_with("baseline.usage-spike."))
        .expect("a usage spike");
    assert!(
        spike
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
        "{}",
        spike.id
    );
    for t in &out.record.telemetry {
        assert!(
            !t.operation.chars().any(char::is_control),
            "{:?}",
            t.operation
        );
    }
    let mut human = Vec::new();
    shipgate::report::human::render(&out.record, &mut human, false).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(!human.contains('\x1b'), "{human:?}");
    assert_eq!(
        human
            .lines()
            .filter(|l| l.trim_start().starts_with("decision:"))
            .count(),
        1,
        "{human}"
    );
}
