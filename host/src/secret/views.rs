//! Decoded views of a text: what it says once the encodings a reflecting
//! server applies (percent-encoding, JSON string escapes) are undone, with a
//! map back to the original bytes.
//!
//! Building a view is linear in the input and depends only on the input, never
//! on the secrets being looked for.

use super::Form;
use std::borrow::Cow;
use std::ops::Range;

/// One view of a text.
pub struct View<'a> {
    bytes: Cow<'a, [u8]>,
    /// For a decoded view: the original range each decoded byte came from.
    map: Option<Vec<(u32, u32)>>,
    form: Option<Form>,
}

impl View<'_> {
    /// The view's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The form a match in this view has (`None`: the needle's own form).
    pub fn form(&self) -> Option<Form> {
        self.form
    }

    /// The original byte range of a range of this view.
    pub fn original(&self, r: Range<usize>) -> Range<usize> {
        match &self.map {
            None => r,
            Some(map) if r.start < r.end => map[r.start].0 as usize..map[r.end - 1].1 as usize,
            Some(map) => {
                let at = map.get(r.start).map_or(0, |m| m.0 as usize);
                at..at
            }
        }
    }
}

/// The raw text and, when it holds `%`, `\` or line breaks, its decoded
/// views. The line-wrapped view joins the lines of the JSON-unescaped view when
/// there is one (a wrapped blob inside a JSON string), else of the raw text.
pub fn views(text: &[u8]) -> Vec<View<'_>> {
    let mut out = vec![View {
        bytes: Cow::Borrowed(text),
        map: None,
        form: None,
    }];
    // Offsets are kept as u32: inputs are capped far below 4 GiB.
    if text.len() >= u32::MAX as usize {
        return out;
    }
    // Each view only when the text holds what it undoes (a property of the
    // text alone, never of the secrets).
    if holds_percent_escape(text) {
        // Encoded again by each proxy on the way (`%257A`, `%25257A`).
        let mut view = decoded(text, Form::PercentEncoded, percent_step);
        for _ in 0..2 {
            if !holds_percent_escape(view.bytes()) {
                break;
            }
            let again = redecoded(&view, Form::PercentEncoded, percent_step);
            out.push(view);
            view = again;
        }
        out.push(view);
    }
    let entities = text.windows(2).any(|w| w == b"&#");
    if entities {
        out.push(decoded(text, Form::HtmlEntities, html_step));
    }
    if entities && holds_percent_escape(text) {
        // Characters encoded one way or the other, alternately.
        out.push(decoded(text, Form::HtmlEntities, |t, i, out| {
            if t[i] == b'%' {
                percent_step(t, i, out)
            } else {
                html_step(t, i, out)
            }
        }));
    }
    // Escapes that can stand for a key's characters (keys hold no `"` or `\\`).
    if text
        .windows(2)
        .any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'/'))
    {
        out.push(decoded(text, Form::JsonEscaped, json_step));
    }
    let base = out
        .last()
        .filter(|v| v.form == Some(Form::JsonEscaped))
        .unwrap_or(&out[0]);
    if breaks_a_run(base.bytes()) {
        let joined = joined_lines(base);
        out.push(joined);
    }
    if text.contains(&0) {
        out.push(without_nuls(text));
    }
    if let Some(dump) = hex_dump(text) {
        out.push(dump);
    }
    out.extend(stream_deltas(text));
    out
}

/// Most choices a stream's deltas are assembled for, one view each (more
/// share the last view).
const MAX_STREAM_CHOICES: usize = 256;

/// The texts a client assembles from a stream's events, one per choice
/// (by its `index`): the string values of `choices[].delta` (content, tool
/// call arguments, …) and of `choices[].text` of every `data:` line that
/// parses as JSON, concatenated; each byte maps back to its whole event
/// line. A key split across one choice's deltas, with another choice's
/// events between them, is whole in its choice's view. None unless the
/// text has two or more `data:` lines.
fn stream_deltas(text: &[u8]) -> Vec<View<'static>> {
    let lines: Vec<(usize, &[u8])> = {
        let mut at = 0;
        // Lines end at LF, CR or CRLF, as an event-stream parser reads them.
        text.split(|b| *b == b'\n' || *b == b'\r')
            .map(|l| {
                let start = at;
                at += l.len() + 1;
                (start, l)
            })
            .filter(|(_, l)| l.starts_with(b"data:"))
            .collect()
    };
    if lines.len() < 2 {
        return Vec::new();
    }
    // Per choice index: the assembled bytes and where each came from.
    type Assembled = (Vec<u8>, Vec<(u32, u32)>);
    let mut choices: Vec<(u64, Assembled)> = Vec::new();
    for (start, line) in lines {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line[5..].trim_ascii()) else {
            continue;
        };
        let range = (start as u32, (start + line.len()) as u32);
        for (i, c) in v
            .pointer("/choices")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            // As a lenient client reads it: `0`, `0.0` or `"0"`.
            let index = c
                .get("index")
                .and_then(|x| {
                    x.as_u64()
                        .or_else(|| {
                            x.as_f64()
                                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                                .map(|f| f as u64)
                        })
                        .or_else(|| x.as_str()?.trim().parse().ok())
                })
                .unwrap_or(i as u64);
            let slot = match choices.iter().position(|(k, _)| *k == index) {
                Some(at) => at,
                None if choices.len() < MAX_STREAM_CHOICES => {
                    choices.push((index, Assembled::default()));
                    choices.len() - 1
                }
                None => choices.len() - 1,
            };
            let (bytes, map) = &mut choices[slot].1;
            let mut push = |s: &str| {
                for b in s.bytes() {
                    bytes.push(b);
                    map.push(range);
                }
            };
            if let Some(delta) = c.get("delta") {
                strings(delta, &mut push, 0);
            }
            if let Some(serde_json::Value::String(t)) = c.get("text") {
                push(t);
            }
        }
    }
    choices
        .into_iter()
        .filter(|(_, (bytes, _))| !bytes.is_empty())
        .map(|(_, (bytes, map))| View {
            bytes: Cow::Owned(bytes),
            map: Some(map),
            form: Some(Form::StreamDeltas),
        })
        .collect()
}

/// Every string value in `v` (depth-first, bounded depth), in order.
fn strings(v: &serde_json::Value, push: &mut impl FnMut(&str), depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        serde_json::Value::String(s) => push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, push, depth + 1)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, push, depth + 1)),
        _ => {}
    }
}

/// `text` without its NUL bytes: UTF-16 and UTF-32 of ASCII read as ASCII.
fn without_nuls(text: &[u8]) -> View<'static> {
    let mut bytes = Vec::with_capacity(text.len() / 2);
    let mut map = Vec::with_capacity(text.len() / 2);
    for (i, &b) in text.iter().enumerate() {
        if b != 0 {
            bytes.push(b);
            map.push((i as u32, i as u32 + 1));
        }
    }
    View {
        bytes: Cow::Owned(bytes),
        map: Some(map),
        form: Some(Form::WideChars),
    }
}

/// The bytes a hex dump shows, decoded across its lines: on each line, an
/// optional offset, then whitespace-separated tokens of 2 or 4 hex digits
/// (until the first token that is not one, such as `hexdump -C`'s text
/// column). `None` unless some line has at least four such tokens.
fn hex_dump(text: &[u8]) -> Option<View<'static>> {
    let mut bytes = Vec::new();
    let mut map = Vec::new();
    let mut found = false;
    let mut start = 0;
    for line in text.split(|b| *b == b'\n') {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < line.len() {
            while i < line.len() && line[i].is_ascii_whitespace() {
                i += 1;
            }
            let s = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            if s < i {
                tokens.push(s..i);
            }
        }
        let is_hex = |r: &std::ops::Range<usize>| {
            matches!(r.len(), 2 | 4) && line[r.clone()].iter().all(u8::is_ascii_hexdigit)
        };
        // An offset column: a first token of 4+ hex digits, perhaps with a colon.
        let skip = usize::from(tokens.first().is_some_and(|t| {
            let t = &line[t.clone()];
            let t = t.strip_suffix(b":").unwrap_or(t);
            t.len() >= 4 && t.iter().all(u8::is_ascii_hexdigit) && tokens.len() > 1
        }));
        let run: Vec<_> = tokens[skip..].iter().take_while(|t| is_hex(t)).collect();
        if run.len() >= 4 {
            found = true;
        }
        for t in run {
            for k in (t.start..t.end).step_by(2) {
                if let (Some(h), Some(l)) = (hex_val(line[k]), hex_val(line[k + 1])) {
                    bytes.push(h << 4 | l);
                    map.push(((start + k) as u32, (start + k + 2) as u32));
                }
            }
        }
        start += line.len() + 1;
    }
    found.then_some(View {
        bytes: Cow::Owned(bytes),
        map: Some(map),
        form: Some(Form::HexDump),
    })
}

/// The length of a line break at `i`: a real one (`\n`, `\r`) or one escaped
/// inside a JSON string (`\n`, `\r` as two characters); 0 when there is none.
fn break_at(text: &[u8], i: usize) -> usize {
    match text[i] {
        b'\n' | b'\r' => 1,
        b'\\' if matches!(text.get(i + 1), Some(b'n' | b'r')) => 2,
        _ => 0,
    }
}

/// Where the run of breaks and indentation starting at `i` ends.
fn skip_breaks(text: &[u8], mut i: usize) -> usize {
    let start = i;
    while i < text.len() {
        let n = break_at(text, i);
        if n > 0 {
            i += n;
        } else if i > start && matches!(text[i], b' ' | b'\t') {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn keyish(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// Whether a line break stands between two characters a key or its base64
/// could hold (so joining the lines could make a form appear).
fn breaks_a_run(text: &[u8]) -> bool {
    let mut i = 1;
    while i < text.len() {
        if break_at(text, i) > 0 {
            let next = skip_breaks(text, i);
            if keyish(text[i - 1]) && next < text.len() && keyish(text[next]) {
                return true;
            }
            i = next.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// `view` with line breaks (real or escaped) and the indentation after them
/// removed, mapped back to the original text.
fn joined_lines(view: &View<'_>) -> View<'static> {
    let src = view.bytes();
    let mut bytes = Vec::with_capacity(src.len());
    let mut map = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        if break_at(src, i) > 0 {
            i = skip_breaks(src, i);
            continue;
        }
        bytes.push(src[i]);
        let r = view.original(i..i + 1);
        map.push((r.start as u32, r.end as u32));
        i += 1;
    }
    View {
        bytes: Cow::Owned(bytes),
        map: Some(map),
        form: Some(Form::LineWrapped),
    }
}

/// Decode `text` with `step`, which decodes one unit at `i` into `out` and
/// returns the number of input bytes it consumed.
fn decoded(
    text: &[u8],
    form: Form,
    step: fn(&[u8], usize, &mut Vec<u8>) -> usize,
) -> View<'static> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let before = bytes.len();
        let used = step(text, i, &mut bytes).max(1);
        for _ in before..bytes.len() {
            map.push((i as u32, (i + used) as u32));
        }
        i += used;
    }
    View {
        bytes: Cow::Owned(bytes),
        map: Some(map),
        form: Some(form),
    }
}

/// Whether `t` holds a `%XX` escape.
fn holds_percent_escape(t: &[u8]) -> bool {
    t.windows(3)
        .any(|w| w[0] == b'%' && hex_val(w[1]).is_some() && hex_val(w[2]).is_some())
}

/// `view` decoded once more, its map composed with the view's own (every
/// byte maps back to the original text).
fn redecoded(
    view: &View<'_>,
    form: Form,
    step: fn(&[u8], usize, &mut Vec<u8>) -> usize,
) -> View<'static> {
    let again = decoded(view.bytes(), form, step);
    let map = again.map.as_ref().map(|m| {
        m.iter()
            .map(|(s, e)| {
                let r = view.original(*s as usize..*e as usize);
                (r.start as u32, r.end as u32)
            })
            .collect()
    });
    View {
        bytes: again.bytes,
        map,
        form: Some(form),
    }
}

/// HTML numeric character references (`&#122;`, `&#x7A;`, with any
/// leading zeros, the `;` optional as browsers read them) to their bytes.
fn html_step(t: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    if t[i] == b'&' && t.get(i + 1) == Some(&b'#') {
        let hex = matches!(t.get(i + 2), Some(b'x' | b'X'));
        let start = i + 2 + usize::from(hex);
        let is_digit = |b: u8| {
            if hex {
                hex_val(b).is_some()
            } else {
                b.is_ascii_digit()
            }
        };
        let zeros = t[start..].iter().take_while(|b| **b == b'0').count();
        let digits = t[start + zeros..]
            .iter()
            .take(9)
            .take_while(|b| is_digit(**b))
            .count();
        let end = start + zeros + digits;
        if (digits > 0 || zeros > 0) && !t.get(end).is_some_and(|b| is_digit(*b)) {
            let text = std::str::from_utf8(&t[start + zeros..end]).unwrap_or("");
            let code = if digits == 0 {
                Some(0)
            } else {
                u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()
            };
            if let Some(c) = code.and_then(char::from_u32) {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                let semicolon = usize::from(t.get(end) == Some(&b';'));
                return end + semicolon - i;
            }
        }
    }
    out.push(t[i]);
    1
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` (either case) to its byte; anything else as it is.
fn percent_step(t: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    if t[i] == b'%'
        && let (Some(h), Some(l)) = (
            t.get(i + 1).copied().and_then(hex_val),
            t.get(i + 2).copied().and_then(hex_val),
        )
    {
        out.push(h << 4 | l);
        return 3;
    }
    out.push(t[i]);
    1
}

/// JSON string escapes (`\uXXXX`, `\/`, `\\`, `\"`, `\n`, …) to their bytes.
fn json_step(t: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    if t[i] != b'\\' {
        out.push(t[i]);
        return 1;
    }
    match t.get(i + 1) {
        Some(b'u') => {
            let digits = t.get(i + 2..i + 6);
            let code = digits.and_then(|d| {
                d.iter()
                    .try_fold(0u32, |acc, b| hex_val(*b).map(|v| acc << 4 | u32::from(v)))
            });
            match code.and_then(char::from_u32) {
                Some(c) => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    6
                }
                None => {
                    out.push(t[i]);
                    1
                }
            }
        }
        // A backslash before a backslash stands for itself but consumes only
        // itself: `\\u0041` is then also read as `\` + `A`, as a lenient decoder
        // would read it (the view must catch every reading, not only JSON's).
        Some(b'\\') => {
            out.push(b'\\');
            1
        }
        Some(&c @ (b'/' | b'"')) => {
            out.push(c);
            2
        }
        Some(b'n') => {
            out.push(b'\n');
            2
        }
        Some(b't') => {
            out.push(b'\t');
            2
        }
        Some(b'r') => {
            out.push(b'\r');
            2
        }
        _ => {
            out.push(t[i]);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str, form: Form) -> (String, Vec<(u32, u32)>) {
        let v = views(text.as_bytes())
            .into_iter()
            .find(|v| v.form == Some(form))
            .unwrap();
        (
            String::from_utf8(v.bytes.to_vec()).unwrap(),
            v.map.clone().unwrap(),
        )
    }

    #[test]
    fn percent_view_decodes_any_case_and_maps_back() {
        let (s, _) = view("a%2Fb%2fc%zz%4", Form::PercentEncoded);
        assert_eq!(s, "a/b/c%zz%4");
        let v = &views(b"xx%41%42yy")[1];
        let at = v.bytes().windows(2).position(|w| w == b"AB").unwrap();
        assert_eq!(v.original(at..at + 2), 2..8);
    }

    #[test]
    fn json_view_undoes_escapes() {
        let (s, _) = view(r#"\u0073k-\u0041\/\"\n\x"#, Form::JsonEscaped);
        assert_eq!(s, "sk-A/\"\n\\x");
        let (s, _) = view(r#"\\u0041"#, Form::JsonEscaped);
        assert_eq!(s, "\\A", "a lenient reading of an escaped backslash");
    }

    #[test]
    fn plain_text_has_only_the_raw_view() {
        assert_eq!(views(b"nothing encoded here").len(), 1);
        // JSON log lines: quotes escaped, one object per line, a literal %.
        let log = b"{\"msg\":\"say \\\"hi\\\"\",\"pct\":\"100%\"}\n{\"msg\":\"ok\"}\n";
        assert_eq!(views(log).len(), 1);
    }

    #[test]
    fn hex_dumps_and_wide_characters_are_read() {
        let dump = b"00000000  61 75 74 68 6f 72 69 7a  61 74 69 6f 6e 3a 20 42  |authorization: B|\n00000010  65 61 72 65 72  |earer|\n";
        let v = views(dump);
        let d = v.iter().find(|v| v.form() == Some(Form::HexDump)).unwrap();
        assert_eq!(d.bytes(), b"authorization: Bearer");
        assert_eq!(d.original(0..1), 10..12);
        let xxd = b"00000000: 6175 7468 6f72  auth\n";
        let v = views(xxd);
        let d = v.iter().find(|v| v.form() == Some(Form::HexDump));
        assert!(d.is_none(), "three tokens are not a dump");
        let wide: Vec<u8> = "key sk-abc"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let v = views(&wide);
        let w = v
            .iter()
            .find(|v| v.form() == Some(Form::WideChars))
            .unwrap();
        assert_eq!(w.bytes(), b"key sk-abc");
        // Ordinary text: neither.
        assert_eq!(views(b"id 12 ab cd ef request").len(), 1);
    }

    #[test]
    fn a_stream_s_deltas_are_read_as_one_text() {
        let body = b"data: {\"choices\":[{\"delta\":{\"content\":\"key sk-ab\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"cdef\"}}]}\n\ndata: [DONE]\n\n";
        let v = views(body);
        let d = v
            .iter()
            .find(|v| v.form() == Some(Form::StreamDeltas))
            .unwrap();
        assert_eq!(d.bytes(), b"key sk-abcdef");
        // A match maps back to both event lines.
        let r = d.original(4..13);
        assert_eq!(r.start, 0);
        assert!(r.end > body.len() / 2);
        assert!(
            views(b"data: only one line\n")
                .iter()
                .all(|v| v.form() != Some(Form::StreamDeltas))
        );
        // Another choice's deltas between the pieces: each choice is read on
        // its own (legacy `text` choices too).
        let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"sk-ab\"}}]}\n\ndata: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"~\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cdef\"}}]}\n\ndata: {\"choices\":[{\"index\":1,\"text\":\"xy\"}]}\n\n";
        let texts: Vec<Vec<u8>> = views(body)
            .iter()
            .filter(|v| v.form() == Some(Form::StreamDeltas))
            .map(|v| v.bytes().to_vec())
            .collect();
        assert_eq!(texts, [b"sk-abcdef".to_vec(), b"~xy".to_vec()]);
    }

    #[test]
    fn wrapped_runs_get_a_joined_view() {
        let v = views(b"QUJD\nREVG\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].bytes(), b"QUJDREVG");
        assert_eq!(v[1].original(4..8), 5..9);
        assert_eq!(views(b"{\"a\":1}\n  {\"b\":2}").len(), 1);
    }
}
