//! Secrets and the forms they take: the one place that knows what "the key,
//! in any form" means.
//!
//! Every consumer uses this module, so they can never drift apart:
//! - the **guest scrub** ([`SecretSet::scrub`], [`SecretSet::scrub_headers`])
//!   and the **audit capability** mask every full form ([`SecretSet::find`])
//!   before a plugin reads a response or a log text;
//! - the **output redactor** ([`crate::redact::OutputRedactor`]) and the
//!   **host's secret scan** mask and report full forms *and fragments*
//!   ([`SecretSet::scan`]), after every plugin has finished;
//! - the HTTP capability counts, host-side, responses that held a fragment
//!   ([`SecretSet::holds_fragment`]) and reports them after the run.
//!
//! # Forms
//!
//! A *full form* encodes the whole secret: raw; base64 (standard and URL-safe)
//! of the secret and of the whole header value (`Bearer <key>`), at each of the
//! three byte alignments a value can have inside a longer base64 text; hex.
//! Matching ignores ASCII case (a lower-cased echo is the same key). A base64
//! match is widened to its whole base64 run, so the characters that mix key
//! bits with neighbouring bytes go too. Decoded *views* of the input undo what
//! a reflecting server applies: percent-decoding (any case, partial), JSON
//! string unescaping, and line breaks (MIME-wrapped base64, folded lines). A
//! form whose first one or two characters are hex digits is also matched
//! without them (and the match widened back over them): a literal `%` written
//! just before it turns them into an escape in the percent-decoded view.
//! A base64 form at an inner alignment covers all but at most two bytes at
//! either end of the secret; guessing that much is guessing the secret.
//! Header values are also matched as one concatenation, so a key split across
//! header lines is found.
//!
//! A *fragment* is any [`FRAGMENT_CHARS`] consecutive characters of a secret
//! beyond its public prefix (`sk-`, `sk-proj-`, …), raw or in hex; in base64,
//! four whole 3-byte groups of it (always inside 16 consecutive characters,
//! whatever the alignment); in any letter case.
//!
//! # Security
//!
//! - **No value a guest can observe depends on the secret.** Only full forms
//!   are masked in what a guest reads. A guest can make a full form appear
//!   only if it already knows the secret (up to letter case), so whether one
//!   was masked tells it nothing. Fragments would: masking a guessed fragment
//!   would confirm the guess, so they are matched on guest-visible text only
//!   after every plugin has finished, or counted where no guest can read the
//!   count. The price: a target that *cuts* a key it reflects (a log excerpt)
//!   hands that part to the plugin; the host cannot stop it without becoming
//!   an oracle, so it reports it as a failing host finding (`secret-reflected`)
//!   telling the operator to rotate the key.
//! - **Threat.** A target that wants the key already has it: it received the
//!   request. The scrub is for targets that *reflect* it — a debug echo, an
//!   error message — in the encodings servers use (see SECURITY.md).
//! - **No timing signal.** Full forms go through a small Aho-Corasick DFA with
//!   the prefilter turned off (one table lookup per input byte, whatever the
//!   key is); fragments through a keyed rolling hash (`windows`) whose table
//!   index is uniform whatever the text resembles. How long a scrub takes does
//!   not depend on which bytes occur in the key (the `timing` benchmark).
//! - **The key is data.** It is never compiled into a regular expression, never
//!   sliced by byte offset as a `str` (a multi-byte character cannot panic the
//!   host), and its length is bounded by [`MAX_SECRET_BYTES`].

mod forms;
mod views;
mod windows;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::ops::Range;

pub use forms::{Form, public_prefix_len};
use windows::{Window, WindowSet};

/// Longest secret accepted, in bytes: a key is data with a bounded size (API
/// keys are at most a few hundred bytes; the matcher's size grows with it).
pub const MAX_SECRET_BYTES: usize = 1024;
/// Shortest secret the host matches; shorter values would match ordinary text.
pub const MIN_SECRET_BYTES: usize = 8;
/// Consecutive characters of a secret, beyond its public prefix, that count as
/// a fragment of it: 36^12 (about 2^62) case-folded candidates per position,
/// so a fragment never turns up in ordinary text by chance.
pub const FRAGMENT_CHARS: usize = 12;

/// A secret value. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (the HTTP capability's
    /// credential injection) and for building matchers.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its length in bytes (safe to print).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([REDACTED; {} bytes])", self.0.len())
    }
}

/// Which of the run's secrets a match belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretKind {
    /// The configured credential (the real key).
    Credential,
    /// The per-run invalid token sent by `auth = invalid` probes.
    Honeytoken,
    /// The per-run placeholder key handed to an application under test.
    Placeholder,
}

impl SecretKind {
    /// Lower-case label, as used in `[REDACTED:<label>]`.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::Credential => "credential",
            SecretKind::Honeytoken => "honeytoken",
            SecretKind::Placeholder => "placeholder",
        }
    }
}

/// Why a secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Longer than [`MAX_SECRET_BYTES`].
    #[error(
        "the {kind} is {len} bytes long; shipgate accepts keys of at most {MAX_SECRET_BYTES} bytes"
    )]
    TooLong {
        /// Which secret.
        kind: &'static str,
        /// Its length.
        len: usize,
    },
    /// Shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the {kind} is {len} bytes long; shipgate needs at least {MIN_SECRET_BYTES} bytes to tell it from ordinary text"
    )]
    TooShort {
        /// Which secret.
        kind: &'static str,
        /// Its length.
        len: usize,
    },
    /// Not printable ASCII (it could not be sent in a header as it is).
    #[error(
        "the {kind} holds a character no API key has (whitespace, a control, a non-ASCII character, a quote, a backslash or a percent sign); check the variable's value"
    )]
    Malformed {
        /// Which secret.
        kind: &'static str,
    },
}

/// Check a secret value before it is used anywhere: bounded, and printable
/// ASCII (what an HTTP header can carry as it is).
///
/// # Errors
///
/// [`SecretError`] when it is too long, too short, or not header-safe.
pub fn validate(kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
    let len = secret.len();
    let kind = kind.label();
    if len > MAX_SECRET_BYTES {
        return Err(SecretError::TooLong { kind, len });
    }
    if len < MIN_SECRET_BYTES {
        return Err(SecretError::TooShort { kind, len });
    }
    // No `"`, `\` or `%`: no provider issues them, and a key without them
    // reads the same raw, JSON-escaped and percent-decoded (its own bytes never
    // start an escape).
    if !secret
        .expose()
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'"' | b'\\' | b'%'))
    {
        return Err(SecretError::Malformed { kind });
    }
    Ok(())
}

/// Where a secret was found, in byte offsets of the text searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Which secret.
    pub kind: SecretKind,
    /// In which form.
    pub form: Form,
    /// Byte range in the original text.
    pub range: Range<usize>,
}

/// The run's secrets and one matcher over all their forms and fragments.
pub struct SecretSet {
    /// What each pattern of `full` is.
    meta: Vec<Needle>,
    /// Full forms: a small DFA (the forms are few and long).
    full: Option<AhoCorasick>,
    /// Fragments: every window, by rolling hash (see [`windows`]).
    windows: WindowSet,
    kinds: Vec<SecretKind>,
}

/// What one pattern of the matcher stands for.
#[derive(Debug, Clone, Copy)]
struct Needle {
    kind: SecretKind,
    form: Form,
    /// A base64 needle: a match is widened to the whole base64 run around it,
    /// so the neighbouring characters that mix key bits with other bytes go too.
    base64: bool,
    /// A form without its first `lead` characters (1 or 2 hex digits): a
    /// literal `%` just before a form makes a percent-decoder read them as an
    /// escape, so the decoded view holds the rest. A match is widened back by
    /// `lead` units, so those characters go too.
    lead: u8,
}

impl std::fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSet")
            .field("secrets", &self.kinds)
            .field("needles", &self.meta.len())
            .finish()
    }
}

impl Default for SecretSet {
    fn default() -> Self {
        SecretSet::new(&[], "")
    }
}

impl SecretSet {
    /// A matcher over `secrets`; `scheme` is the auth scheme put before the
    /// key in its header (`Bearer`), so the whole header value's encodings are
    /// known too. Secrets outside [`validate`]'s length bounds are skipped
    /// (the CLI refuses them before a run starts).
    pub fn new(secrets: &[(SecretKind, Secret)], scheme: &str) -> SecretSet {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut meta = Vec::new();
        let mut windows = Vec::new();
        let mut kinds = Vec::new();
        for (kind, secret) in secrets {
            // Matchers are bounded by the length cap; any UTF-8 is matched safely.
            if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
                continue;
            }
            kinds.push(*kind);
            let raw = secret.expose().as_bytes();
            for (form, needle) in forms::full_forms(raw, scheme.as_bytes()) {
                let base64 = matches!(form, Form::Base64 | Form::HeaderBase64);
                for lead in 0..=forms::eaten_by_escape(&needle) {
                    let needle = needle[lead..].to_vec();
                    if !needles.contains(&needle) {
                        needles.push(needle);
                        meta.push(Needle {
                            kind: *kind,
                            form,
                            base64,
                            lead: lead as u8,
                        });
                    }
                }
            }
            for (bytes, base64) in forms::fragment_forms(raw, FRAGMENT_CHARS) {
                windows.push(Window {
                    bytes,
                    kind: *kind,
                    base64,
                });
            }
        }
        SecretSet {
            full: build(&needles),
            meta,
            windows: WindowSet::new(windows),
            kinds,
        }
    }

    /// Whether there is any secret to look for.
    pub fn is_empty(&self) -> bool {
        self.full.is_none() && self.windows.is_empty()
    }

    /// Every full form of every secret in `text`, in every view, as disjoint
    /// ranges sorted by start: what may be matched on anything a guest sees.
    ///
    /// Fixed work per byte of `text` whatever the secrets are (see the module
    /// docs); only the work after a match (merging, widening a base64 match)
    /// depends on where the matches are.
    pub fn find(&self, text: &[u8]) -> Vec<Hit> {
        self.matches(text, false)
    }

    /// Full forms and fragments of every secret in `text`: the host's secret
    /// scan and the output redactor. Only for use after every plugin of the
    /// run has finished, or where no guest can see the result: masking a
    /// fragment a guest guessed would tell it the guess was right.
    pub fn scan(&self, text: &[u8]) -> Vec<Hit> {
        self.matches(text, true)
    }

    /// Whether an answer holds a fragment of a secret: in its body, or in its
    /// header values read as one text (a key cut across two headers).
    /// Host-side only, as [`SecretSet::holds_fragment`].
    pub fn answer_holds_fragment(&self, headers: &[(String, String)], body: &[u8]) -> bool {
        let header_text: Vec<u8> = headers.iter().flat_map(|(_, v)| v.bytes()).collect();
        self.holds_fragment(body).is_some() || self.holds_fragment(&header_text).is_some()
    }

    /// Whether `text` holds a fragment of a secret in any view, with work per
    /// byte that does not depend on the secrets: for recording, host-side,
    /// that a target reflected part of a key. The answer must never reach a
    /// guest.
    pub fn holds_fragment(&self, text: &[u8]) -> Option<SecretKind> {
        let mut kind = None;
        for view in views::views(text) {
            self.windows.scan(view.bytes(), |m| {
                kind.get_or_insert(m.window.kind);
            });
        }
        kind
    }

    fn matches(&self, text: &[u8], fragments: bool) -> Vec<Hit> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        for view in views::views(text) {
            let bytes = view.bytes();
            let mut found: Vec<(Range<usize>, Needle)> = Vec::new();
            if let Some(ac) = &self.full {
                for m in ac.find_iter(bytes) {
                    found.push((m.start()..m.end(), self.meta[m.pattern().as_usize()]));
                }
            }
            if fragments {
                for (range, kind, base64) in self.windows.ranges(bytes) {
                    let form = Form::Fragment;
                    let lead = 0;
                    found.push((
                        range,
                        Needle {
                            kind,
                            form,
                            base64,
                            lead,
                        },
                    ));
                }
            }
            let found = merge_found(found);
            let mut floor = 0;
            for (range, needle) in found {
                let widened = range.start.saturating_sub(usize::from(needle.lead));
                let range = widened.max(floor).min(range.start)..range.end;
                let range = if needle.base64 {
                    base64_run(bytes, range, floor)
                } else {
                    range
                };
                floor = floor.max(range.end);
                let form = match view.form() {
                    Some(f) if needle.form != Form::Fragment => f,
                    _ => needle.form,
                };
                hits.push(Hit {
                    kind: needle.kind,
                    form,
                    range: view.original(range),
                });
            }
        }
        merge_hits(hits)
    }

    /// `bytes` with every full form of every secret replaced by
    /// `[REDACTED:<kind>]`, and what was found. For anything bound for a guest.
    pub fn scrub(&self, bytes: Vec<u8>) -> (Vec<u8>, Vec<Hit>) {
        let hits = self.find(&bytes);
        if hits.is_empty() {
            return (bytes, hits);
        }
        (mask(&bytes, &hits, "REDACTED"), hits)
    }

    /// Header values scrubbed one by one and as one concatenation (a secret
    /// split across two header lines is found and removed from both).
    pub fn scrub_headers(
        &self,
        headers: Vec<(String, String)>,
    ) -> (Vec<(String, String)>, Vec<Hit>) {
        // Concatenate the values, remembering where each one starts.
        let mut joined = Vec::new();
        let mut starts = Vec::with_capacity(headers.len());
        for (_, v) in &headers {
            starts.push(joined.len());
            joined.extend_from_slice(v.as_bytes());
        }
        let mut hits = self.find(&joined);
        let crosses = |r: &Range<usize>| {
            let first = starts.partition_point(|s| *s <= r.start).saturating_sub(1);
            starts.get(first + 1).is_some_and(|next| r.end > *next)
        };
        for h in hits.iter_mut().filter(|h| crosses(&h.range)) {
            h.form = Form::SplitHeaders;
        }
        if hits.is_empty() {
            return (headers, hits);
        }
        let mut out = Vec::with_capacity(headers.len());
        for (i, (k, v)) in headers.into_iter().enumerate() {
            let start = starts[i];
            let end = start + v.len();
            let local: Vec<Hit> = hits
                .iter()
                .filter(|h| h.range.start < end && h.range.end > start)
                .map(|h| Hit {
                    range: h.range.start.max(start) - start..h.range.end.min(end) - start,
                    ..h.clone()
                })
                .collect();
            if local.is_empty() {
                out.push((k, v));
            } else {
                let masked = mask(v.as_bytes(), &local, "REDACTED");
                out.push((k, String::from_utf8_lossy(&masked).into_owned()));
            }
        }
        (out, hits)
    }
}

fn build(needles: &[Vec<u8>]) -> Option<AhoCorasick> {
    if needles.is_empty() {
        return None;
    }
    // Enforce: fixed work per byte whatever the secret is: a full DFA, no
    // prefilter. The full forms are few, so the DFA is small.
    // ASCII case is ignored: a lower-cased echo is the same key.
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(true)
        .prefilter(false)
        .build(needles)
        .ok()
}

/// Matches sorted and merged into disjoint ranges: the longest match of a
/// merged run names its form; a base64 match makes the run widen.
fn merge_found(mut found: Vec<(Range<usize>, Needle)>) -> Vec<(Range<usize>, Needle)> {
    found.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut out: Vec<(Range<usize>, Needle, usize)> = Vec::with_capacity(found.len());
    for (range, needle) in found {
        match out.last_mut() {
            Some((last, prev, longest)) if range.start <= last.end => {
                if range.len() > *longest {
                    *longest = range.len();
                    prev.form = needle.form;
                    prev.kind = needle.kind;
                }
                prev.lead = prev.lead.max(needle.lead);
                prev.base64 |= needle.base64;
                last.end = last.end.max(range.end);
            }
            _ => {
                let len = range.len();
                out.push((range, needle, len));
            }
        }
    }
    out.into_iter().map(|(r, n, _)| (r, n)).collect()
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// `range` widened to the whole base64 run around it (and its `=` padding),
/// never below `floor` (already covered), so widening is linear overall.
fn base64_run(bytes: &[u8], range: Range<usize>, floor: usize) -> Range<usize> {
    let mut start = range.start;
    while start > floor && is_base64(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = range.end.max(floor);
    while end < bytes.len() && is_base64(bytes[end]) {
        end += 1;
    }
    while end < bytes.len() && bytes[end] == b'=' {
        end += 1;
    }
    start..end
}

/// Hits from every view, merged into disjoint ranges sorted by start.
fn merge_hits(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by_key(|h| (h.range.start, std::cmp::Reverse(h.range.end)));
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        match out.last_mut() {
            Some(last) if h.range.start < last.range.end => {
                last.range.end = last.range.end.max(h.range.end);
            }
            _ => out.push(h),
        }
    }
    out
}

/// Replace each maximal covered range of `bytes` by `[<word>:<kind>]`.
pub fn mask(bytes: &[u8], hits: &[Hit], word: &str) -> Vec<u8> {
    let mut covered: Vec<Option<SecretKind>> = vec![None; bytes.len()];
    for h in hits {
        for c in &mut covered[h.range.start.min(bytes.len())..h.range.end.min(bytes.len())] {
            c.get_or_insert(h.kind);
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match covered[i] {
            Some(kind) => {
                out.extend_from_slice(format!("[{word}:{}]", kind.label()).as_bytes());
                while i < bytes.len() && covered[i].is_some() {
                    i += 1;
                }
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
