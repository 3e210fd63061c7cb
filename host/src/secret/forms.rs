//! The full forms of a secret: the byte strings that encode all of it.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// How a secret appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Form {
    /// As it is.
    Raw,
    /// Base64 (standard or URL-safe, any alignment) of the secret.
    Base64,
    /// Base64 of the whole header value (`Bearer <key>`).
    HeaderBase64,
    /// Hex, lower or upper case.
    Hex,
    /// Percent-encoded (URL-encoded), wholly or in part, once or twice.
    PercentEncoded,
    /// In HTML numeric character references (`&#122;`, `&#x7a;`).
    HtmlEntities,
    /// JSON-escaped (`\uXXXX`, `\/`).
    JsonEscaped,
    /// Split across two or more header lines.
    SplitHeaders,
    /// Broken across lines (MIME-wrapped base64, a folded log line).
    LineWrapped,
    /// In a hex dump (`xxd`, `hexdump -C`: hex byte tokens, offsets between lines).
    HexDump,
    /// In wide characters (UTF-16 or UTF-32 of ASCII: NUL bytes between).
    WideChars,
    /// Split across the content deltas of a stream's events.
    StreamDeltas,
    /// Part of it: [`super::FRAGMENT_CHARS`] or more consecutive characters
    /// beyond any public key prefix, raw or in base64 or hex.
    Fragment,
}

impl Form {
    /// Lower-case name, as in records and findings.
    pub fn name(self) -> &'static str {
        match self {
            Form::Raw => "raw",
            Form::Base64 => "base64",
            Form::HeaderBase64 => "header-base64",
            Form::Hex => "hex",
            Form::PercentEncoded => "url-encoded",
            Form::HtmlEntities => "html-entities",
            Form::JsonEscaped => "json-escaped",
            Form::SplitHeaders => "split-headers",
            Form::LineWrapped => "line-wrapped",
            Form::HexDump => "hex-dump",
            Form::WideChars => "wide-chars",
            Form::StreamDeltas => "stream-deltas",
            Form::Fragment => "fragment",
        }
    }
}

/// Key prefixes that providers publish (they carry no secret), longest first.
pub const PUBLIC_PREFIXES: &[&str] = &[
    "sk-ant-admin01-",
    "sk-ant-api03-",
    "sk-proj-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-or-v1-",
    "sk-ant-",
    "sk-live-",
    "sk-test-",
    "sk-",
    "pk-",
    "rk-",
    "gsk_",
    "xai-",
    "AIza",
];

/// Bytes of `raw` that are a public key prefix (0 when none).
pub fn public_prefix_len(raw: &[u8]) -> usize {
    PUBLIC_PREFIXES
        .iter()
        .find(|p| raw.starts_with(p.as_bytes()) && raw.len() > p.len())
        .map_or(0, |p| p.len())
}

/// Every full form of `raw` as needles, with their form. `scheme` (such as
/// `Bearer`) also yields the base64 of the whole header value.
pub fn full_forms(raw: &[u8], scheme: &[u8]) -> Vec<(Form, Vec<u8>)> {
    let mut out = vec![(Form::Raw, raw.to_vec())];
    let mut header_value = Vec::new();
    if !scheme.is_empty() {
        header_value.extend_from_slice(scheme);
        header_value.push(b' ');
        header_value.extend_from_slice(raw);
    }
    for (form, value) in [(Form::Base64, raw), (Form::HeaderBase64, &header_value[..])] {
        if value.is_empty() {
            continue;
        }
        // The whole encoding (its padding adds nothing), then the characters
        // fully determined by the value when it starts 1 or 2 bytes into a group.
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            out.push((form, engine.encode(value).into_bytes()));
            for align in 1..3 {
                if let Some(core) = aligned_core(engine, value, align) {
                    out.push((form, core));
                }
            }
        }
    }
    out.push((Form::Hex, hex::encode(raw).into_bytes()));
    out.push((Form::Hex, hex::encode_upper(raw).into_bytes()));
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// Every `window`-character run of `raw` that carries at least `window - 2`
/// secret characters, as needles: raw, lower-case hex, and base64 (both
/// alphabets, each byte alignment, whole 3-byte groups only). The flag says
/// whether the needle is base64 (a match is widened to its whole base64 run).
/// Empty when `raw` is not ASCII or has no more than `window` characters beyond
/// its public prefix: then only its full forms are matched.
pub fn fragment_forms(raw: &[u8], window: usize) -> Vec<(Vec<u8>, bool)> {
    let public = public_prefix_len(raw);
    if !raw.is_ascii() || raw.len() <= public + window {
        return Vec::new();
    }
    let mut out = Vec::new();
    for w in raw[public..].windows(window) {
        out.push((w.to_vec(), false));
        out.push((hex::encode(w).into_bytes(), false));
    }
    // Base64: the groups wholly inside the key, `groups` at a time.
    let groups = window.div_ceil(3);
    let first_byte = public.saturating_sub(2);
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for align in 0..3 {
            let mut padded = vec![0u8; align];
            padded.extend_from_slice(raw);
            let whole = padded.len() / 3;
            let encoded = engine.encode(&padded[..whole * 3]).into_bytes();
            for g in align.div_ceil(3)..whole.saturating_sub(groups - 1) {
                // The window's first byte, in the key's own offsets.
                if g * 3 - align >= first_byte {
                    out.push((encoded[g * 4..(g + groups) * 4].to_vec(), true));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// How many leading characters of `needle` a literal `%` written just before
/// it could turn into a percent escape (`%` + 1 or 2 hex digits): 0, 1 or 2.
/// Only for needles long enough that the rest is still unguessable.
pub fn eaten_by_escape(needle: &[u8]) -> usize {
    if needle.len() < 20 {
        return 0;
    }
    needle
        .iter()
        .take(2)
        .take_while(|b| b.is_ascii_hexdigit())
        .count()
}

/// The base64 characters fully determined by `value` when it starts `align`
/// bytes into a 3-byte group of a longer text: the groups that lie wholly
/// inside the value. `None` when too short to tell apart from noise.
fn aligned_core(
    engine: &base64::engine::GeneralPurpose,
    value: &[u8],
    align: usize,
) -> Option<Vec<u8>> {
    let mut padded = vec![0u8; align];
    padded.extend_from_slice(value);
    let first_group = align.div_ceil(3);
    let last_group = padded.len() / 3;
    if last_group <= first_group + 1 {
        return None;
    }
    let encoded = engine.encode(&padded[..last_group * 3]).into_bytes();
    Some(encoded[first_group * 4..last_group * 4].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_cores_appear_inside_longer_base64_texts() {
        let key = b"sk-abcdefghijklmnopqrstuvwxyz0123456789";
        for lead in 0..6 {
            for trail in 0..4 {
                let mut text = vec![b'#'; lead];
                text.extend_from_slice(key);
                text.extend(std::iter::repeat_n(b'!', trail));
                let enc = base64::engine::general_purpose::STANDARD.encode(&text);
                let forms = full_forms(key, b"");
                assert!(
                    forms.iter().any(|(f, n)| *f == Form::Base64
                        && enc.as_bytes().windows(n.len()).any(|w| w == n)),
                    "lead {lead} trail {trail}: {enc}"
                );
            }
        }
    }

    #[test]
    fn public_prefixes_are_recognised() {
        assert_eq!(public_prefix_len(b"sk-proj-abc"), 8);
        assert_eq!(public_prefix_len(b"sk-abc"), 3);
        assert_eq!(public_prefix_len(b"abcdef"), 0);
        assert_eq!(public_prefix_len(b"sk-"), 0, "a bare prefix is not a key");
    }
}
