//! The `audit` capability: what the run wrote, and the plan's log
//! directories, for a redaction audit; and the host's own secret scan of the
//! same texts once the run is over.
//!
//! # Security
//!
//! - Granted per plugin (`grants.audit = true`); otherwise every call is denied.
//! - **Not an oracle.** What a guest receives is masked by secret-independent
//!   rules ([`Redactor::spans`]: credential shapes, masked key echoes), with
//!   the place of every mask, and every *full form* of the run's secrets is
//!   masked as `run-secret` ([`SecretSet::find`]): a guest can only make a
//!   full form appear by already knowing the secret, so where one is tells it
//!   nothing. Fragments of a secret are matched only by [`secret_findings`],
//!   which the host runs after every plugin has finished, and whose results
//!   go to the record as host findings, never to a guest.
//! - Log directories are opened with cap-std: paths cannot escape the named
//!   directory, symlinks are skipped, and reads are capped ([`MAX_FILES`],
//!   [`MAX_FILE_BYTES`], [`MAX_TOTAL_BYTES`], [`MAX_DEPTH`]).

use crate::bindings::shipgate::plugin::audit::{AuditError, Host, MaskedSpan, TextFile};
use crate::capability::log::RunLog;
use crate::findings::{Finding, FindingKind, Verdict};
use crate::redact::Redactor;
use crate::secret::{SecretKind, SecretSet};
use crate::telemetry::RequestTelemetry;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Most files read from all log directories.
pub const MAX_FILES: usize = 1_000;
/// Largest part of one file read.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Most bytes read from all log directories.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest directory level walked.
pub const MAX_DEPTH: usize = 8;
/// Most prompts kept for the audit.
pub const MAX_PROMPTS: usize = 256;
/// Longest prompt kept for the audit, in characters.
pub const MAX_PROMPT_BYTES: usize = 4096;
/// Most masks reported per text.
pub const MAX_MASKS: usize = 1_000;
/// Most leak findings the host's scan makes.
pub const MAX_LEAK_FINDINGS: usize = 64;

/// What the run has produced so far, shared by every plugin of the run.
#[derive(Debug, Clone, Default)]
pub struct RunOutputs {
    /// The run log.
    pub log: RunLog,
    /// Telemetry.
    pub telemetry: Arc<Mutex<Vec<RequestTelemetry>>>,
    /// Findings of the plugins that finished.
    pub findings: Arc<Mutex<Vec<Finding>>>,
    /// Prompts the run sent (message contents of chat requests).
    pub prompts: Arc<Mutex<Vec<String>>>,
}

/// Per-plugin-run audit state.
#[derive(Debug)]
pub struct AuditCtx {
    granted: bool,
    outputs: RunOutputs,
    log_dirs: Vec<PathBuf>,
    secrets: Arc<SecretSet>,
}

/// One text as read, before masking.
#[derive(Debug, Clone)]
pub struct RawText {
    /// `run:…` or `logs:<dir>/<path>`.
    pub source: String,
    /// Its content (UTF-8, lossy).
    pub content: String,
    /// Whether it was cut at the cap.
    pub truncated: bool,
}

impl AuditCtx {
    /// Audit state; `granted` comes from the plugin's grants.
    pub fn new(
        granted: bool,
        outputs: RunOutputs,
        log_dirs: Vec<PathBuf>,
        secrets: Arc<SecretSet>,
    ) -> Self {
        AuditCtx {
            granted,
            outputs,
            log_dirs,
            secrets,
        }
    }

    fn denied() -> AuditError {
        AuditError::Denied(
            "the audit capability is not granted to this plugin (set grants.audit = true in the plan)".into(),
        )
    }

    /// The texts as a guest receives them.
    fn collect_masked(&self) -> Result<Vec<TextFile>, AuditError> {
        if !self.granted {
            return Err(Self::denied());
        }
        let texts = raw_texts(&self.outputs, &self.log_dirs).map_err(AuditError::Unreadable)?;
        Ok(texts.into_iter().map(|t| self.guest_view(t)).collect())
    }

    /// Mask one text for a guest: every full form of the run's secrets, then
    /// the secret-independent patterns.
    fn guest_view(&self, t: RawText) -> TextFile {
        // Enforce: a guest never receives a full form of one of the run's
        // secrets; fragments are never matched for a guest (an oracle).
        let mut spans: Vec<(usize, usize, &'static str)> = self
            .secrets
            .find(t.content.as_bytes())
            .into_iter()
            .map(|h| (h.range.start, h.range.end, "run-secret"))
            .collect();
        spans.extend(Redactor.spans(&t.content));
        let (content, found) = crate::redact::mask_spans(&t.content, spans);
        let masks = found
            .into_iter()
            .take(MAX_MASKS)
            .map(|(rule, offset)| {
                let (line, column) = line_col(&t.content, offset);
                MaskedSpan {
                    rule: rule.into(),
                    line,
                    column,
                }
            })
            .collect();
        TextFile {
            source: t.source,
            content,
            truncated: t.truncated,
            masks,
        }
    }
}

/// The run's output so far and the log directories' files, unmasked (host only).
///
/// # Errors
///
/// A message naming a log directory that cannot be opened.
pub fn raw_texts(outputs: &RunOutputs, log_dirs: &[PathBuf]) -> Result<Vec<RawText>, String> {
    let mut out = Vec::new();
    let lines: Vec<String> = outputs
        .log
        .lock()
        .expect("run log lock")
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect();
    out.push(RawText {
        source: "run:log.jsonl".to_owned(),
        content: lines.join("\n"),
        truncated: false,
    });
    let tel = serde_json::to_string_pretty(&*outputs.telemetry.lock().expect("telemetry lock"))
        .unwrap_or_default();
    out.push(RawText {
        source: "run:telemetry.json".to_owned(),
        content: tel,
        truncated: false,
    });
    let findings = serde_json::to_string_pretty(&*outputs.findings.lock().expect("findings lock"))
        .unwrap_or_default();
    out.push(RawText {
        source: "run:findings.json".to_owned(),
        content: findings,
        truncated: false,
    });
    let mut total = 0u64;
    let mut files = 0usize;
    for dir in log_dirs {
        let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let label = dir.display().to_string();
        walk(&root, String::new(), 0, &mut |rel, content, truncated| {
            files += 1;
            total += content.len() as u64;
            out.push(RawText {
                source: format!("logs:{label}/{rel}"),
                content,
                truncated,
            });
            files < MAX_FILES && total < MAX_TOTAL_BYTES
        });
    }
    Ok(out)
}

/// Walk a cap-std directory; `visit` returns false to stop.
fn walk(
    dir: &cap_std::fs::Dir,
    prefix: String,
    depth: usize,
    visit: &mut dyn FnMut(String, String, bool) -> bool,
) -> bool {
    use std::io::Read as _;
    if depth > MAX_DEPTH {
        return true;
    }
    let Ok(entries) = dir.entries() else {
        return true;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).take(MAX_FILES).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        // Enforce: symlinks are not followed (cap-std refuses those that escape; we skip all).
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            continue;
        }
        if ft.is_dir() {
            if let Ok(sub) = dir.open_dir(&name)
                && !walk(&sub, rel, depth + 1, visit)
            {
                return false;
            }
        } else if ft.is_file()
            && let Ok(f) = dir.open(&name)
        {
            let mut buf = Vec::new();
            let _ = f.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf);
            let truncated = buf.len() as u64 > MAX_FILE_BYTES;
            buf.truncate(MAX_FILE_BYTES as usize);
            if !visit(rel, String::from_utf8_lossy(&buf).into_owned(), truncated) {
                return false;
            }
        }
    }
    true
}

/// 1-based line and byte column of `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line as u32, col as u32)
}

/// The host's secret scan: where the run's secrets (full forms and fragments)
/// occur in the run's output and in the plan's log directories, as host
/// findings. Call only after every plugin of the run has finished.
pub fn secret_findings(
    outputs: &RunOutputs,
    log_dirs: &[PathBuf],
    secrets: &SecretSet,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let texts = match raw_texts(outputs, log_dirs) {
        Ok(t) => t,
        Err(why) => {
            return vec![
                Finding::host(
                    "host",
                    FindingKind::Host,
                    "secret-scan",
                    "the team's logs hold no secret of this run",
                    format!("a log directory could not be read: {why}"),
                )
                .with_evidence("rule", "unreadable"),
            ];
        }
    };
    let mut scanned = 0usize;
    for t in &texts {
        scanned += t.content.len();
        for hit in secrets.scan(t.content.as_bytes()) {
            if out.len() >= MAX_LEAK_FINDINGS {
                break;
            }
            let (line, column) = line_col(&t.content, hit.range.start);
            let what = match hit.kind {
                SecretKind::Credential => "the configured credential",
                SecretKind::Honeytoken => {
                    "the invalid token the negative probes sent (something logged a rejected request's credential)"
                }
                SecretKind::Placeholder => "the placeholder key given to the application",
            };
            out.push(
                Finding::host(
                    "host",
                    FindingKind::Host,
                    "secret-leak",
                    &format!("the {} is not written to {}", hit.kind.label(), t.source),
                    format!("{what} appears in {} form at line {line}", hit.form.name()),
                )
                .with_evidence("source", &t.source)
                .with_evidence("line", line)
                .with_evidence("column", column)
                .with_evidence("secret", hit.kind.label())
                .with_evidence("form", hit.form.name())
                .with_evidence("rule", format!("{}-{}", hit.kind.label(), hit.form.name()))
                .covering(&[crate::checklist::LOGS_REDACTED]),
            );
        }
    }
    let leaks = out.len();
    out.push(
        Finding::host(
            "host",
            FindingKind::Host,
            "secret-scan",
            "no secret of this run is in its output or the team's logs",
            format!(
                "{} texts, {scanned} bytes scanned for every form and fragment of the run's secrets ({} log director{}): {leaks} found",
                texts.len(),
                log_dirs.len(),
                if log_dirs.len() == 1 { "y" } else { "ies" }
            ),
        )
        .with_verdict(if leaks == 0 { Verdict::Pass } else { Verdict::Fail })
        .with_evidence("log_dirs", log_dirs.len())
        .covering(if log_dirs.is_empty() { &[] } else { &[crate::checklist::LOGS_REDACTED] }),
    );
    out
}

impl Host for AuditCtx {
    async fn collect(&mut self) -> wasmtime::Result<Result<Vec<TextFile>, AuditError>> {
        Ok(self.collect_masked())
    }

    async fn sent_prompts(&mut self) -> wasmtime::Result<Result<Vec<String>, AuditError>> {
        if !self.granted {
            return Ok(Err(Self::denied()));
        }
        Ok(Ok(self
            .outputs
            .prompts
            .lock()
            .expect("prompts lock")
            .clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    const KEY: &str = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN";

    fn secrets() -> Arc<SecretSet> {
        Arc::new(SecretSet::new(
            &[(SecretKind::Credential, Secret::new(KEY))],
            "Bearer",
        ))
    }

    #[test]
    fn guests_get_masks_and_never_the_secret() {
        let ctx = AuditCtx::new(true, RunOutputs::default(), vec![], secrets());
        // The real key (a full form) is masked, with its place.
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(KEY)
        };
        let t = ctx.guest_view(RawText {
            source: "logs:x".into(),
            content: format!("ok\nkey {KEY}\nb64 {b64}\njane@example.com"),
            truncated: false,
        });
        assert!(
            !t.content.contains(&KEY[3..20]) && !t.content.contains(&b64[..20]),
            "{}",
            t.content
        );
        let rules: Vec<(&str, u32, u32)> = t
            .masks
            .iter()
            .map(|m| (m.rule.as_str(), m.line, m.column))
            .collect();
        assert_eq!(rules, vec![("run-secret", 2, 5), ("run-secret", 3, 5)]);
        assert!(
            t.content.contains("jane@example.com"),
            "the rest of the text survives"
        );
        // A text with a fragment is masked only by shape (here: an sk- key of any value).
        let guess = format!("{}XXXX", &KEY[..30]);
        let t = ctx.guest_view(RawText {
            source: "logs:x".into(),
            content: format!("line\nsaw {guess}\n"),
            truncated: false,
        });
        assert!(t.content.contains("[REDACTED:sk-key]"), "{}", t.content);
        assert_eq!(
            (t.masks[0].rule.as_str(), t.masks[0].line, t.masks[0].column),
            ("sk-key", 2, 5)
        );
    }

    #[test]
    fn a_right_and_a_wrong_guess_look_the_same() {
        let ctx = AuditCtx::new(true, RunOutputs::default(), vec![], secrets());
        let view = |guess: &str| {
            let t = ctx.guest_view(RawText {
                source: "run:telemetry.json".into(),
                content: format!("|x{guess}|"),
                truncated: false,
            });
            let masks: Vec<(String, u32, u32)> = t
                .masks
                .iter()
                .map(|m| (m.rule.clone(), m.line, m.column))
                .collect();
            (t.content.replace(guess, "GUESS"), masks)
        };
        for n in [8, 12, 20, 40] {
            let right = &KEY[..n];
            let wrong = format!(
                "{}{}",
                &KEY[..n - 1],
                if KEY.as_bytes()[n - 1] == b'Z' {
                    'Y'
                } else {
                    'Z'
                }
            );
            assert_eq!(view(right), view(&wrong), "prefix of {n}");
        }
        // The whole key is masked (a guest that sends it knows it already).
        let (content, _) = view(KEY);
        assert!(content.contains("[REDACTED:run-secret]"), "{content}");
    }

    #[test]
    fn host_scan_finds_every_form_and_fragment_in_log_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), KEY).unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(
            dir.path().join("app/server.log"),
            format!("ok\nAuthorization: Bearer {KEY}\nprefix {}\n", &KEY[..16]),
        )
        .unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("escape.log"),
        )
        .unwrap();
        let fs = secret_findings(&RunOutputs::default(), &[dir.path().to_owned()], &secrets());
        let forms: Vec<(&str, &str)> = fs
            .iter()
            .filter(|f| f.id == "host.secret-leak")
            .map(|f| {
                let ev = |k: &str| {
                    f.evidence
                        .iter()
                        .find(|e| e.key == k)
                        .unwrap()
                        .value
                        .as_str()
                };
                (ev("form"), ev("line"))
            })
            .collect();
        assert_eq!(
            forms,
            vec![("raw", "2"), ("fragment", "3")],
            "symlink not followed"
        );
        assert!(fs.iter().all(|f| f.verdict == Verdict::Fail));
        assert_eq!(
            fs.last().unwrap().id,
            "host.secret-scan",
            "the summary fails too"
        );
        let clean = secret_findings(&RunOutputs::default(), &[], &secrets());
        assert_eq!(clean.len(), 1);
        assert_eq!(clean[0].verdict, Verdict::Pass);
    }

    #[test]
    fn denied_without_grant() {
        let ctx = AuditCtx::new(false, RunOutputs::default(), vec![], secrets());
        assert!(matches!(ctx.collect_masked(), Err(AuditError::Denied(_))));
    }
}
