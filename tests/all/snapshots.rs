//! Snapshots of what people read: the terminal summary and report.md, for a
//! run that ships and one that holds. Times, ids, ports and digests are
//! redacted, so a snapshot changes only when the wording or layout does.

use crate::support::Harness;
use shipgate::report::{human, markdown};
use shipgate::validation::RunOutput;

/// Replace what differs between two identical runs by placeholders.
fn redact(text: &str) -> String {
    let rules: &[(&str, &str)] = &[
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[time]",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\b[0-9a-f]{64}\b", "[sha256]"),
        (r"sha256 `[0-9a-f]{16}`", "sha256 `[digest]`"),
        (r"req\\?_[0-9A-Za-z]+", "req_[id]"),
        (r"\b\d+(\.\d+)? ?(ms|s)\b", "[dur]"),
        (r"\b\d+ bytes\b", "[n] bytes"),
        (r"waits \\?\[[\d, ]*\\?\] ms", "waits [..] ms"),
        // The streams table: times, chunking and sizes.
        (
            r"(?m)^(\| stream-canary/[^|]+ \| )\d+ \| (\d+) \| \d+ \| \d+ \| [^|]+ \|",
            "${1}[ms] | ${2} | [n] | [bytes] | [ms] |",
        ),
        // The telemetry table's latency columns.
        (
            r"(?m)^(\| [^|]+ \| \d+ \| [^|]+ \| )\d+ \| \d+ \|",
            "${1}[p50] | [p95] |",
        ),
        (r"\(\d+(\.\d+)? (kB|MB|B)\)", "([size])"),
    ];
    let mut out = text.to_owned();
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&out, *with)
            .into_owned();
    }
    out
}

fn rendered(out: &RunOutput) -> (String, String) {
    let mut h = Vec::new();
    human::render(&out.record, &mut h, false).unwrap();
    let mut m = Vec::new();
    markdown::render(&out.record, &mut m).unwrap();
    (
        redact(&String::from_utf8(h).unwrap()),
        redact(&String::from_utf8(m).unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_and_report_of_a_default_run() {
    let h = Harness::new().await;
    let plan = shipgate::plan::Plan::builtin(&shipgate::bundled::names(), &[]).unwrap();
    let (human, report) = rendered(&h.run(&plan).await);
    insta::assert_snapshot!("default_run_summary", human);
    insta::assert_snapshot!("default_run_report", report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_and_report_of_a_refused_key() {
    let h = Harness::new().await;
    let plan = shipgate::plan::Plan::builtin(&shipgate::bundled::names(), &[]).unwrap();
    let out = h
        .run_with(&plan, "sk-wrongwrongwrongwrongwrongwrongwrong")
        .await;
    let (human, report) = rendered(&out);
    insta::assert_snapshot!("refused_key_summary", human);
    insta::assert_snapshot!("refused_key_report", report);
}
