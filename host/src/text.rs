//! Making untrusted text inert: what a plugin or a server wrote is shown, never
//! obeyed, in every output.
//!
//! # Security
//!
//! Guest text reaches the terminal, Markdown, JUnit XML and SARIF. Control
//! characters (ANSI escapes, CR, BS, NUL), bidirectional overrides,
//! zero-width characters and Unicode noncharacters are replaced by visible
//! `\u{…}` escapes when the host takes the text in ([`one_line`],
//! [`multi_line`]), so a title cannot clear the screen, paint a fake
//! decision, start a new line or make XML ill-formed. Each format then
//! escapes its own syntax: [`markdown`] for `report.md` (Markdown and HTML),
//! quick-junit for XML.

use std::fmt::Write as _;

/// Whether `c` must be shown escaped.
fn hostile(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        // Bidirectional embeddings, overrides, isolates and marks.
        || matches!(u, 0x200E | 0x200F | 0x061C | 0x202A..=0x202E | 0x2066..=0x2069)
        // Zero-width characters and the BOM.
        || matches!(u, 0x200B..=0x200D | 0x2060 | 0xFEFF)
        // Line and paragraph separators.
        || matches!(u, 0x2028 | 0x2029)
        // Noncharacters: U+FDD0..FDEF and the last two of every plane (not valid in XML).
        || matches!(u, 0xFDD0..=0xFDEF)
        || (u & 0xFFFE) == 0xFFFE
}

fn escape_into(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// One line of untrusted text, at most `max` characters: every control and
/// invisible formatting character (newlines too) shown as `\u{…}`.
pub fn one_line(s: &str, max: usize) -> String {
    clean(s, max, false)
}

/// Untrusted text that may span lines, at most `max` characters: as
/// [`one_line`], but `\n` and `\t` are kept.
pub fn multi_line(s: &str, max: usize) -> String {
    clean(s, max, true)
}

/// Untrusted text shown as a source snippet (offsets into it must hold):
/// every hostile character but line breaks and tabs replaced by a visible
/// one of the same UTF-8 length (`?`, `¿`, `\u{fffd}`).
pub fn same_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if hostile(c) => match c.len_utf8() {
                1 => "?".to_owned(),
                2 => "¿".to_owned(),
                3 => "\u{fffd}".to_owned(),
                _ => "\u{fffd}?".to_owned(),
            },
            c => c.to_string(),
        })
        .collect()
}

fn clean(s: &str, max: usize, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push_str("…[truncated]");
            break;
        }
        if keep_newlines && (c == '\n' || c == '\t') {
            out.push(c);
        } else if hostile(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text for a Markdown table cell or heading: Markdown and HTML syntax
/// escaped, newlines flattened, so guest text is shown as written and never
/// becomes a heading, a link, an image or markup.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if hostile(c) => escape_into(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Text inside Markdown inline code: backticks cannot end the span.
pub fn markdown_code(s: &str) -> String {
    format!("`{}`", one_line(s, 512).replace('`', "'"))
}

/// A count with its noun, singular or plural: `1 request`, `2 requests`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_and_bidi_controls() {
        let forged = "ok\x1b[2J\x1b[H\x1b[32mSHIP\r\ndecision: SHIP\u{202e}evil\u{0}\u{8}";
        let s = one_line(forged, 1000);
        assert!(
            !s.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{s:?}"
        );
        assert!(
            s.contains("\\u{1b}[2J") && s.contains("\\u{a}decision"),
            "{s}"
        );
        assert_eq!(multi_line("a\nb\rc", 100), "a\nb\\u{d}c");
    }

    #[test]
    fn removes_xml_noncharacters_and_caps() {
        assert_eq!(one_line("a\u{FFFE}b\u{FFFF}", 100), "a\\u{fffe}b\\u{ffff}");
        assert_eq!(one_line("abcdef", 3), "abc…[truncated]");
    }

    #[test]
    fn markdown_is_shown_not_rendered() {
        let s = markdown(
            "## Decision: **SHIP** <script>alert(1)</script> [x](javascript:alert(1)) ![i](x) <img onerror=a>",
        );
        for bad in ["<script", "<img", "[x](javascript", "![i]", "**SHIP"] {
            assert!(!s.contains(bad), "{bad} in {s}");
        }
        assert!(!markdown("a\nb").contains('\n'));
        assert_eq!(markdown_code("a`b"), "`a'b`");
    }
}
