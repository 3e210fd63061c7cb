//! The `audit` capability: what the run wrote, and the plan's log directories,
//! for a redaction audit.
//!
//! # Security
//!
//! - Granted per plugin (`grants.audit = true`); otherwise every call is denied.
//! - The guest never receives the secret: texts are handed over with every
//!   known form of the run's secrets (raw, base64, URL-encoded, and prefixes
//!   or suffixes of [`MIN_FRAGMENT`]+ characters) replaced by `[SECRET]`, and
//!   the host reports where it found them. No call matches guest-supplied text
//!   against the secret, so the interface is not an oracle.
//! - Log directories are opened with cap-std: paths cannot escape the named
//!   directory, symlinks pointing out of it are refused, and reads are capped
//!   ([`MAX_FILES`], [`MAX_FILE_BYTES`], [`MAX_TOTAL_BYTES`]).

use crate::bindings::shipgate::plugin::audit::{AuditError, Host, SecretHit, TextFile};
use crate::capability::log::RunLog;
use crate::findings::Finding;
use crate::redact::Secret;
use crate::telemetry::RequestTelemetry;
use base64::Engine as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Shortest secret fragment reported as a prefix/suffix leak.
pub const MIN_FRAGMENT: usize = 8;
/// Most files read from all log directories.
pub const MAX_FILES: usize = 1_000;
/// Largest part of one file read.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Most bytes read from all log directories.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest directory level walked.
pub const MAX_DEPTH: usize = 8;

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

/// Most prompts kept for the audit, and their size cap.
pub const MAX_PROMPTS: usize = 256;
/// Longest prompt kept for the audit, in bytes.
pub const MAX_PROMPT_BYTES: usize = 4096;

/// Per-plugin-run audit state.
#[derive(Debug)]
pub struct AuditCtx {
    granted: bool,
    outputs: RunOutputs,
    log_dirs: Vec<PathBuf>,
    secrets: Vec<(&'static str, Secret)>,
}

struct Scanned {
    texts: Vec<TextFile>,
    hits: Vec<SecretHit>,
}

impl AuditCtx {
    /// Audit state; `granted` comes from the plugin's grants.
    pub fn new(
        granted: bool,
        outputs: RunOutputs,
        log_dirs: Vec<PathBuf>,
        secrets: Vec<(&'static str, Secret)>,
    ) -> Self {
        AuditCtx {
            granted,
            outputs,
            log_dirs,
            secrets,
        }
    }

    fn raw_texts(&self) -> Result<Vec<(String, String, bool)>, AuditError> {
        let mut out = Vec::new();
        let log = self.outputs.log.lock().expect("run log lock").clone();
        let lines: Vec<String> = log
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .collect();
        out.push(("run:log.jsonl".to_owned(), lines.join("\n"), false));
        let tel = self
            .outputs
            .telemetry
            .lock()
            .expect("telemetry lock")
            .clone();
        out.push((
            "run:telemetry.json".to_owned(),
            serde_json::to_string_pretty(&tel).unwrap_or_default(),
            false,
        ));
        let findings = self.outputs.findings.lock().expect("findings lock").clone();
        out.push((
            "run:findings.json".to_owned(),
            serde_json::to_string_pretty(&findings).unwrap_or_default(),
            false,
        ));
        let mut total = 0u64;
        let mut files = 0usize;
        for dir in &self.log_dirs {
            let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
                .map_err(|e| AuditError::Unreadable(format!("{}: {e}", dir.display())))?;
            let label = dir.display().to_string();
            walk(&root, String::new(), 0, &mut |rel, content, truncated| {
                files += 1;
                total += content.len() as u64;
                out.push((format!("logs:{label}/{rel}"), content, truncated));
                files < MAX_FILES && total < MAX_TOTAL_BYTES
            });
        }
        Ok(out)
    }

    fn scan(&self) -> Result<Scanned, AuditError> {
        if !self.granted {
            return Err(AuditError::Denied("the audit capability is not granted to this plugin (set grants.audit = true in the plan)".into()));
        }
        let mut texts = Vec::new();
        let mut hits = Vec::new();
        for (source, content, truncated) in self.raw_texts()? {
            let (masked, found) = mask_secrets(&content, &self.secrets);
            for (secret, form, offset) in found {
                let (line, column) = line_col(&content, offset);
                hits.push(SecretHit {
                    secret: secret.into(),
                    form: form.into(),
                    source: source.clone(),
                    line,
                    column,
                });
            }
            texts.push(TextFile {
                source,
                content: masked,
                truncated,
            });
        }
        Ok(Scanned { texts, hits })
    }
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
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
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

/// Every known form of each secret, longest first, as (secret, form, text).
fn forms(secrets: &[(&'static str, Secret)]) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for (label, s) in secrets {
        let raw = s.expose();
        if raw.len() < MIN_FRAGMENT {
            continue;
        }
        out.push((*label, "raw", raw.to_owned()));
        out.push((
            *label,
            "base64",
            base64::engine::general_purpose::STANDARD.encode(raw),
        ));
        out.push((
            *label,
            "base64",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        ));
        let url: String = raw
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        if url != raw {
            out.push((*label, "url-encoded", url));
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.2.len()));
    out
}

/// Replace every form of every secret by `[SECRET]`; report (secret, form, byte offset) of each.
pub fn mask_secrets(
    text: &str,
    secrets: &[(&'static str, Secret)],
) -> (String, Vec<(&'static str, &'static str, usize)>) {
    let mut found = Vec::new();
    // Work on a byte mask of the original, so offsets stay true.
    let mut covered = vec![false; text.len()];
    let mark = |start: usize, end: usize, covered: &mut Vec<bool>| {
        let fresh = !covered[start..end].iter().any(|c| *c);
        covered[start..end].iter_mut().for_each(|c| *c = true);
        fresh
    };
    for (label, form, needle) in forms(secrets) {
        for (i, _) in text.match_indices(needle.as_str()) {
            if mark(i, i + needle.len(), &mut covered) {
                found.push((label, form, i));
            }
        }
    }
    // Fragments: the longest prefix or suffix (>= MIN_FRAGMENT) of a raw secret.
    for (label, s) in secrets {
        let raw = s.expose();
        if raw.len() < MIN_FRAGMENT {
            continue;
        }
        let head = &raw[..MIN_FRAGMENT];
        for (i, _) in text.match_indices(head) {
            let len = raw
                .bytes()
                .zip(text[i..].bytes())
                .take_while(|(a, b)| a == b)
                .count();
            if mark(i, i + len, &mut covered) {
                found.push((label, "prefix", i));
            }
        }
        let tail = &raw[raw.len() - MIN_FRAGMENT..];
        for (i, _) in text.match_indices(tail) {
            let end = i + MIN_FRAGMENT;
            let len = raw
                .bytes()
                .rev()
                .zip(text[..end].bytes().rev())
                .take_while(|(a, b)| a == b)
                .count();
            if mark(end - len, end, &mut covered) {
                found.push((label, "suffix", end - len));
            }
        }
    }
    found.sort_by_key(|f| f.2);
    let mut masked = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if covered[i] {
            masked.push_str("[SECRET]");
            while i < bytes.len() && covered[i] {
                i += 1;
            }
        } else {
            let start = i;
            while i < bytes.len() && !covered[i] {
                i += 1;
            }
            // Covered ranges start and end on char boundaries (they are ASCII-aligned matches of str needles).
            masked.push_str(&String::from_utf8_lossy(&bytes[start..i]));
        }
    }
    (masked, found)
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line as u32, col as u32)
}

impl Host for AuditCtx {
    async fn collect(&mut self) -> wasmtime::Result<Result<Vec<TextFile>, AuditError>> {
        Ok(self.scan().map(|s| s.texts))
    }

    async fn secret_hits(&mut self) -> wasmtime::Result<Result<Vec<SecretHit>, AuditError>> {
        Ok(self.scan().map(|s| s.hits))
    }

    async fn sent_prompts(&mut self) -> wasmtime::Result<Result<Vec<String>, AuditError>> {
        if !self.granted {
            return Ok(Err(AuditError::Denied("the audit capability is not granted to this plugin (set grants.audit = true in the plan)".into())));
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

    const KEY: &str = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN";

    fn s() -> Vec<(&'static str, Secret)> {
        vec![("credential", Secret::new(KEY))]
    }

    #[test]
    fn finds_and_masks_every_form() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
        let text = format!(
            "a {KEY}\nb {b64}\nc key={}\nd {}",
            &KEY[..12],
            &KEY[KEY.len() - 10..]
        );
        let (masked, found) = mask_secrets(&text, &s());
        let forms: Vec<&str> = found.iter().map(|f| f.1).collect();
        assert_eq!(forms, vec!["raw", "base64", "prefix", "suffix"]);
        assert!(
            !masked.contains(&KEY[..MIN_FRAGMENT])
                && !masked.contains(&KEY[KEY.len() - MIN_FRAGMENT..]),
            "{masked}"
        );
        assert_eq!(masked.matches("[SECRET]").count(), 4);
        assert_eq!(line_col(&text, found[2].2), (3, 7));
    }

    #[test]
    fn short_fragments_and_clean_text_are_left_alone() {
        let text = format!("only {} here, and a uuid 2b9f0a9e-5f6e-4c9b", &KEY[..7]);
        let (masked, found) = mask_secrets(&text, &s());
        assert!(found.is_empty());
        assert_eq!(masked, text);
    }

    #[test]
    fn reads_log_dirs_without_following_symlinks_out() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), KEY).unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(
            dir.path().join("app/server.log"),
            format!("ok\nAuthorization: Bearer {KEY}\n"),
        )
        .unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("escape.log"),
        )
        .unwrap();
        let ctx = AuditCtx::new(
            true,
            RunOutputs::default(),
            vec![dir.path().to_owned()],
            s(),
        );
        let scanned = ctx.scan().unwrap();
        let sources: Vec<&str> = scanned.texts.iter().map(|t| t.source.as_str()).collect();
        assert!(
            sources.iter().any(|s| s.ends_with("/app/server.log")),
            "{sources:?}"
        );
        assert!(
            !sources.iter().any(|s| s.ends_with("escape.log")),
            "symlink followed: {sources:?}"
        );
        assert_eq!(scanned.hits.len(), 1);
        assert_eq!((scanned.hits[0].line, scanned.hits[0].column), (2, 23));
        assert!(scanned.texts.iter().all(|t| !t.content.contains(KEY)));
    }

    #[test]
    fn denied_without_grant() {
        let ctx = AuditCtx::new(false, RunOutputs::default(), vec![], s());
        assert!(matches!(ctx.scan(), Err(AuditError::Denied(_))));
    }
}
