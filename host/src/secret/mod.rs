//! Secrets and the forms they take: the one place that knows what "the key,
//! in any form" means.
//!
//! Three consumers share this module, so they can never drift apart:
//! - the **guest scrub** ([`SecretSet::scrub`], [`SecretSet::scrub_headers`]):
//!   what a server sends back is cleaned of every full form of the run's
//!   secrets before a plugin sees it;
//! - the **output redactor** ([`crate::redact::Redactor`]): every string the
//!   host writes, after the plugins have finished;
//! - the **host's secret scan** ([`SecretSet::scan`]): where a secret (or a
//!   fragment of one) reached the run's output or the team's logs, as host
//!   findings.
//!
//! # Forms
//!
//! A *full form* encodes the whole secret: raw; base64 (standard and URL-safe)
//! of the secret and of the whole header value (`Bearer <key>`), at each of the
//! three byte alignments a value can have inside a longer base64 text; hex
//! (lower and upper case). Two decoded *views* of the input catch the encodings
//! a server applies to text it reflects: percent-decoding (URL-encoded, in any
//! case or only partly) and JSON string unescaping (`\uXXXX`, `\/`). Header
//! values are also matched as one concatenation, so a secret split across two
//! header lines is found. A *fragment* is a prefix or suffix of a secret with
//! at least [`MIN_FRAGMENT_CHARS`] characters beyond any public key prefix
//! (`sk-`, `sk-proj-`, …); fragments are leak evidence in the host's scan only.
//!
//! # Security
//!
//! - **No oracle.** Only full forms are matched on anything a guest can see
//!   afterwards. A guest can make a full form appear only if it already knows
//!   the secret, so whether one was found tells it nothing. Fragments (whose
//!   matching would let a guest test guesses a character at a time) are
//!   matched only by [`SecretSet::scan`], which the host calls after every
//!   plugin of the run has finished.
//! - **No timing signal.** The matcher is a full Aho-Corasick DFA with the
//!   prefilter turned off: the work per input byte is one table lookup whatever
//!   the secret is, so how long a scrub takes does not depend on which bytes
//!   occur in the key.
//! - **The key is data.** It is never compiled into a regular expression, never
//!   sliced by byte offset as a `str` (a multi-byte character cannot panic the
//!   host), and its length is bounded by [`MAX_SECRET_BYTES`].

mod forms;
mod views;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::ops::Range;

pub use forms::{Form, public_prefix_len};

/// Longest secret accepted, in bytes: a key is data with a bounded size (API
/// keys are at most a few hundred bytes; the matcher's size grows with it).
pub const MAX_SECRET_BYTES: usize = 1024;
/// Shortest secret the host matches; shorter values would match ordinary text.
pub const MIN_SECRET_BYTES: usize = 8;
/// Characters a fragment must carry beyond a public key prefix to count as a leak.
pub const MIN_FRAGMENT_CHARS: usize = 8;

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
        "the {kind} holds a character that is not printable ASCII (whitespace, a control or a non-ASCII character); check the variable's value"
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
    if !secret.expose().bytes().all(|b| (0x21..=0x7e).contains(&b)) {
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

/// The run's secrets and a matcher over all their full forms.
pub struct SecretSet {
    /// (kind, form) per pattern of `full`.
    full_meta: Vec<(SecretKind, Form)>,
    full: Option<AhoCorasick>,
    /// (kind, is_prefix, secret bytes, public prefix length) per seed of `seeds`.
    seed_meta: Vec<(SecretKind, bool, Vec<u8>, usize)>,
    seeds: Option<AhoCorasick>,
    kinds: Vec<SecretKind>,
}

impl std::fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSet")
            .field("secrets", &self.kinds)
            .field("forms", &self.full_meta.len())
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
    /// known too. Secrets that fail [`validate`] are skipped (the CLI refuses
    /// them before a run starts).
    pub fn new(secrets: &[(SecretKind, Secret)], scheme: &str) -> SecretSet {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut full_meta = Vec::new();
        let mut seed_needles: Vec<Vec<u8>> = Vec::new();
        let mut seed_meta = Vec::new();
        let mut kinds = Vec::new();
        for (kind, secret) in secrets {
            // Matchers are bounded by the length cap; any UTF-8 is matched safely.
            if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
                continue;
            }
            kinds.push(*kind);
            let raw = secret.expose().as_bytes();
            for (form, needle) in forms::full_forms(raw, scheme.as_bytes()) {
                if !needles.contains(&needle) {
                    needles.push(needle);
                    full_meta.push((*kind, form));
                }
            }
            // Fragment seeds: the first and last bytes a counted fragment must contain.
            let public = public_prefix_len(raw);
            let chars: Vec<(usize, char)> = secret.expose().char_indices().collect();
            let beyond = chars.iter().filter(|(i, _)| *i >= public).count();
            if beyond > MIN_FRAGMENT_CHARS {
                // A prefix fragment: the public prefix plus MIN_FRAGMENT_CHARS characters.
                let head_end = chars
                    .iter()
                    .map(|(i, _)| *i)
                    .filter(|i| *i >= public)
                    .nth(MIN_FRAGMENT_CHARS)
                    .unwrap_or(raw.len());
                // A suffix fragment: the last MIN_FRAGMENT_CHARS characters.
                let tail_start = chars[chars.len() - MIN_FRAGMENT_CHARS].0;
                seed_needles.push(raw[..head_end].to_vec());
                seed_meta.push((*kind, true, raw.to_vec(), public));
                seed_needles.push(raw[tail_start..].to_vec());
                seed_meta.push((*kind, false, raw.to_vec(), public));
            }
        }
        SecretSet {
            full: build(&needles, MatchKind::LeftmostLongest),
            full_meta,
            // Overlapping search needs the standard match semantics.
            seeds: build(&seed_needles, MatchKind::Standard),
            seed_meta,
            kinds,
        }
    }

    /// Whether there is any secret to look for.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Every full form of every secret in `text`, in all views, sorted by start.
    ///
    /// Fixed work per byte of `text` whatever the secrets are (see the module docs).
    pub fn find(&self, text: &[u8]) -> Vec<Hit> {
        let Some(ac) = &self.full else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        for view in views::views(text) {
            for m in ac.find_iter(view.bytes()) {
                let (kind, form) = self.full_meta[m.pattern().as_usize()];
                let form = view.form().unwrap_or(form);
                hits.push(Hit {
                    kind,
                    form,
                    range: view.original(m.start()..m.end()),
                });
            }
        }
        hits.sort_by_key(|h| (h.range.start, std::cmp::Reverse(h.range.end)));
        hits
    }

    /// Full forms and fragments of every secret in `text`: the host's secret
    /// scan. Only for use after every plugin of the run has finished (fragment
    /// matching on guest-influenced text would be an oracle while a guest runs).
    pub fn scan(&self, text: &[u8]) -> Vec<Hit> {
        let mut hits = self.find(text);
        if let Some(ac) = &self.seeds {
            for m in ac.find_overlapping_iter(text) {
                let (kind, is_prefix, raw, public) = &self.seed_meta[m.pattern().as_usize()];
                let range = if *is_prefix {
                    // Extend the prefix match as far as the text keeps following the secret.
                    let len = raw
                        .iter()
                        .zip(&text[m.start()..])
                        .take_while(|(a, b)| a == b)
                        .count();
                    m.start()..m.start() + len
                } else {
                    let len = raw
                        .iter()
                        .rev()
                        .zip(text[..m.end()].iter().rev())
                        .take_while(|(a, b)| a == b)
                        .count();
                    m.end() - len..m.end()
                };
                let _ = public;
                if hits
                    .iter()
                    .any(|h| h.range.start <= range.start && range.end <= h.range.end)
                {
                    continue;
                }
                hits.push(Hit {
                    kind: *kind,
                    form: if *is_prefix {
                        Form::Prefix
                    } else {
                        Form::Suffix
                    },
                    range,
                });
            }
        }
        hits.sort_by_key(|h| (h.range.start, std::cmp::Reverse(h.range.end)));
        hits
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

fn build(needles: &[Vec<u8>], kind: MatchKind) -> Option<AhoCorasick> {
    if needles.is_empty() {
        return None;
    }
    // Enforce: fixed work per byte whatever the secret is: a full DFA, no prefilter.
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(kind)
        .prefilter(false)
        .build(needles)
        .ok()
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
