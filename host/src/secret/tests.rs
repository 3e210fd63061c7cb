use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;

const KEY: &str = "sk-proj-Zx8Qp2Lm9Vt4Rw7Kc1Hd3Fg5Jb6Nn0Yy2Tt4Uu6Ii8Oo0Pp";
const HONEY: &str = "Q7wE9rT1yU3iO5pA7sD9fG1hJ3kL5zX7cV9bN1mQ2wE4rT6yU8i";

fn set() -> SecretSet {
    SecretSet::new(
        &[
            (SecretKind::Credential, Secret::new(KEY)),
            (SecretKind::Honeytoken, Secret::new(HONEY)),
        ],
        "Bearer",
    )
}

fn urlencode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02x}")).collect()
}

fn json_escape_all(s: &str) -> String {
    s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

fn scrubbed(text: &str) -> String {
    String::from_utf8(set().scrub(text.as_bytes().to_vec()).0).unwrap()
}

#[test]
fn a_literal_percent_before_a_form_does_not_hide_it() {
    // A key (no public prefix) whose first characters are hex digits.
    let key = "A9c0ffee5b7d41e2a8f3c6b9d0e1f2a3";
    let s = SecretSet::new(&[(SecretKind::Credential, Secret::new(key))], "Bearer");
    let digits_encoded: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                format!("%{:02X}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect();
    for lead in ["%", "%4", "x%", "%%"] {
        for body in [digits_encoded.clone(), hex::encode(key), urlencode_all(key)] {
            let text = format!("<{lead}{body}>");
            let (out, hits) = s.scrub(text.clone().into_bytes());
            let out = String::from_utf8(out).unwrap();
            assert!(!hits.is_empty(), "{text}");
            assert!(
                !out.contains(&key[2..]) && !out.contains(&body[2..]),
                "{text} -> {out}"
            );
            assert!(out.ends_with("[REDACTED:credential]>"), "{text} -> {out}");
        }
    }
    // A key holding `%` is refused before any run.
    let err = validate(SecretKind::Credential, &Secret::new("abc%41defghijk")).unwrap_err();
    assert!(err.to_string().contains("percent sign"));
}

#[test]
fn a_key_split_across_a_streams_events_is_scrubbed() {
    let (a, b) = KEY.split_at(20);
    let ev = |s: &str| {
        format!(
            "data: {}\n\n",
            serde_json::json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": s}}]})
        )
    };
    let body = format!("{}{}{}data: [DONE]\n\n", ev("your key is "), ev(a), ev(b));
    let (out, hits) = set().scrub(body.into_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(
        hits.iter().any(|h| h.form == Form::StreamDeltas),
        "{hits:?}"
    );
    assert!(!out.contains(a) && !out.contains(b), "{out}");
    assert!(
        out.contains("your key is") && out.ends_with("data: [DONE]\n\n"),
        "{out}"
    );
}

#[test]
fn every_full_form_of_both_secrets_is_scrubbed() {
    for (secret, label) in [(KEY, "credential"), (HONEY, "honeytoken")] {
        let header = format!("Bearer {secret}");
        for (form, encoded) in [
            ("raw", secret.to_owned()),
            ("base64", STANDARD.encode(secret)),
            ("base64-url", URL_SAFE_NO_PAD.encode(secret)),
            ("header-base64", STANDARD.encode(&header)),
            (
                "header-base64-misaligned",
                STANDARD.encode(format!("x-auth: {header};")),
            ),
            ("hex", hex::encode(secret)),
            ("HEX", hex::encode_upper(secret)),
            ("url", urlencode_all(secret)),
            ("url-partial", secret.replace('-', "%2D")),
            ("json", json_escape_all(secret)),
            ("json-partial", secret.replacen('k', "\\u006b", 1)),
        ] {
            let out = scrubbed(&format!("{{\"echo\": \"{encoded}\"}}"));
            assert!(
                out.contains(&format!("[REDACTED:{label}]")),
                "{label} {form}: {out}"
            );
            assert!(!out.contains(secret), "{label} {form}: {out}");
            // Nothing of the secret's middle survives in any form.
            assert!(!out.contains(&secret[10..22]), "{label} {form}: {out}");
        }
    }
}

#[test]
fn a_secret_split_across_two_header_lines_is_removed_from_both() {
    let (a, b) = KEY.split_at(20);
    let headers = vec![
        ("x-one".to_owned(), format!("Bearer {a}")),
        ("x-two".to_owned(), b.to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    let (out, hits) = set().scrub_headers(headers);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].form, Form::SplitHeaders);
    assert_eq!(out[0].1, "Bearer [REDACTED:credential]");
    assert_eq!(out[1].1, "[REDACTED:credential]");
    assert_eq!(out[2].1, "application/json");
}

#[test]
fn find_matches_full_forms_only_scan_also_fragments_of_twelve() {
    let s = set();
    let prefix = &KEY[..20]; // "sk-proj-" and 12 characters
    let suffix = &KEY[KEY.len() - 12..];
    let middle = &KEY[25..40];
    let text = format!("first {prefix}\nlast {suffix} mid {middle}");
    assert!(
        s.find(text.as_bytes()).is_empty(),
        "fragments are not full forms"
    );
    let hits = s.scan(text.as_bytes());
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits.iter().all(|h| h.form == Form::Fragment));
    assert_eq!(
        &text[hits[0].range.clone()],
        prefix.trim_start_matches("sk-proj-")
    );
    // Eleven characters past the public prefix are not a fragment.
    assert!(s.scan(&KEY.as_bytes()[..19]).is_empty());
    assert!(s.scan(&KEY.as_bytes()[KEY.len() - 11..]).is_empty());
    // The host-side count sees fragments, never a guest.
    assert_eq!(
        s.holds_fragment(text.as_bytes()),
        Some(SecretKind::Credential)
    );
    assert_eq!(s.holds_fragment(&KEY.as_bytes()[..19]), None);
}

#[test]
fn public_prefixes_and_masked_echoes_are_not_leaks() {
    let s = set();
    // OpenAI's echo of a rejected key: first 8 and last 4 characters.
    let echo = format!(
        "Incorrect API key provided: {}***************{}.",
        &KEY[..8],
        &KEY[KEY.len() - 4..]
    );
    assert!(
        s.scan(echo.as_bytes()).is_empty(),
        "{:?}",
        s.scan(echo.as_bytes())
    );
}

#[test]
fn what_reflecting_servers_do_to_a_key_is_undone() {
    let header = format!("x-debug-authorization: Bearer {KEY}\n");
    // Python's base64.encodebytes: MIME lines of 76 characters.
    let mime: String = STANDARD
        .encode(&header)
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    let json = |v: &str| format!("{{\"seen\": {}}}", serde_json::to_string(v).unwrap());
    let cases = [
        ("lower-cased", json(&KEY.to_lowercase())),
        ("upper-cased", json(&KEY.to_uppercase())),
        ("mime-wrapped base64", mime.clone()),
        ("mime-wrapped base64 in a JSON string", json(&mime)),
        ("folded", format!("{}\n    {}", &KEY[..25], &KEY[25..])),
        (
            "folded in a JSON string",
            json(&format!("{}\n{}", &KEY[..25], &KEY[25..])),
        ),
    ];
    for (what, text) in cases {
        let out = scrubbed(&text);
        assert!(out.contains("[REDACTED:credential]"), "{what}: {out}");
        // Nothing of it is left, not even a fragment the host's scan would see.
        assert!(set().scan(out.as_bytes()).is_empty(), "{what}: {out}");
    }
}

#[test]
fn a_cut_key_is_left_to_the_host_scan() {
    // A log excerpt: matching it for a guest would confirm a guessed prefix.
    let text = format!("seen: {}...", &KEY[..30]);
    assert_eq!(scrubbed(&text), text);
    assert_eq!(set().scan(text.as_bytes()).len(), 1);
}

#[test]
fn no_edge_byte_of_a_misaligned_base64_key_survives() {
    let s = set();
    for lead in 0..3 {
        for trail in 0..3 {
            let blob = format!("{}Bearer {KEY}{}", "#".repeat(lead), ";".repeat(trail));
            let text = format!("{{\"seen\":\"{}\"}}", STANDARD.encode(&blob));
            let out = String::from_utf8(s.scrub(text.into_bytes()).0).unwrap();
            assert_eq!(
                out, "{\"seen\":\"[REDACTED:credential]\"}",
                "lead {lead} trail {trail}"
            );
        }
    }
}

#[test]
fn keys_with_multibyte_characters_never_panic() {
    for key in [
        "sk-ééééééééééééééééé",
        "日本語のキー日本語のキー",
        "sk-abcdefg\u{e9}hijklmnop\u{1F600}qrstu",
    ] {
        let s = SecretSet::new(&[(SecretKind::Credential, Secret::new(key))], "Bearer");
        let half: String = key.chars().take(key.chars().count() / 2).collect();
        let text = format!("x {key} y {half}");
        let _ = s.scan(text.as_bytes());
        let (out, hits) = s.scrub(text.clone().into_bytes());
        assert!(!hits.is_empty());
        assert!(!String::from_utf8_lossy(&out).contains(key));
    }
}

#[test]
fn secrets_out_of_bounds_are_refused() {
    let long = Secret::new("k".repeat(MAX_SECRET_BYTES + 1));
    assert!(matches!(
        validate(SecretKind::Credential, &long),
        Err(SecretError::TooLong { .. })
    ));
    assert!(validate(SecretKind::Credential, &Secret::new("short")).is_err());
    assert!(validate(SecretKind::Credential, &Secret::new("sk-abc def ghij")).is_err());
    assert!(validate(SecretKind::Credential, &Secret::new("sk-abcdé0123456789")).is_err());
    assert!(validate(SecretKind::Credential, &Secret::new("sk-abc\"def0123456")).is_err());
    assert!(validate(SecretKind::Credential, &Secret::new("sk-abc\\\\def0123456")).is_err());
    assert!(validate(SecretKind::Credential, &Secret::new(KEY)).is_ok());
    // A 42 KB key no longer reaches a matcher at all; one at the cap builds fine.
    let big = Secret::new("k".repeat(MAX_SECRET_BYTES));
    let s = SecretSet::new(&[(SecretKind::Credential, big.clone())], "Bearer");
    assert_eq!(s.find(big.expose().as_bytes()).len(), 1);
    let s = SecretSet::new(
        &[(SecretKind::Credential, Secret::new("k".repeat(42_000)))],
        "",
    );
    assert!(s.is_empty());
}

#[test]
fn ordinary_text_is_left_alone() {
    let text = "run 2b9f0a9e-5f6e-4c9b-8d7a-0e1f2a3b4c5d %20 \\n sk-proj- READY";
    assert_eq!(scrubbed(text), text);
}

fn transform(key: &str, how: u8, lead: &str) -> String {
    match how % 7 {
        0 => key.to_owned(),
        1 => STANDARD.encode(format!("{lead}{key}")),
        2 => URL_SAFE_NO_PAD.encode(format!("{lead}Bearer {key}")),
        3 => urlencode_all(key),
        4 => json_escape_all(key),
        5 => hex::encode(key),
        _ => key.replace(|c: char| c.is_ascii_digit(), "%3"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any key, any known transform, any surrounding text: the scrub removes it.
    #[test]
    fn scrub_removes_every_transform_of_any_key(
        key in "[A-Za-z0-9_-]{20,80}",
        how in 0u8..7,
        lead in "[ -~]{0,5}",
        before in "[ -~]{0,40}",
        after in "[ -~]{0,40}",
    ) {
        prop_assume!(how % 7 != 6 || key.bytes().any(|b| b.is_ascii_digit()));
        let s = SecretSet::new(&[(SecretKind::Credential, Secret::new(key.clone()))], "Bearer");
        let encoded = if how % 7 == 6 {
            // Percent-encode only the digits: a partly URL-encoded key.
            key.chars().map(|c| if c.is_ascii_digit() { format!("%{:02X}", c as u32) } else { c.to_string() }).collect()
        } else {
            transform(&key, how, &lead)
        };
        let text = format!("{before}{encoded}{after}");
        let (out, hits) = s.scrub(text.into_bytes());
        prop_assert!(!hits.is_empty());
        let out = String::from_utf8_lossy(&out).into_owned();
        prop_assert!(!out.contains(&key));
        // Nothing of it survives, not even the edge bytes of a misaligned base64.
        prop_assert!(!out.contains(&encoded));
    }

    /// Any 12 or more consecutive characters of a key, in any known transform
    /// and any case, are found by the host's scan (and only by it).
    #[test]
    fn scrub_removes_every_fragment(
        key in "[A-Za-z0-9]{30,60}",
        start in 0usize..18,
        len in 12usize..30,
        how in 0u8..6,
        upper in proptest::bool::ANY,
    ) {
        let s = SecretSet::new(&[(SecretKind::Credential, Secret::new(key.clone()))], "Bearer");
        let end = (start + len).min(key.len());
        prop_assume!(end - start >= 12);
        // In base64 a fragment is found by its four whole 3-byte groups:
        // always there in 16 characters, whatever the alignment.
        prop_assume!(!matches!(how, 1 | 2) || end - start >= 16);
        let part = &key[start..end];
        // A change of case before encoding is another text; after it, the same.
        let part = if upper && matches!(how, 0 | 3 | 4) { part.to_uppercase() } else { part.to_owned() };
        let encoded = transform(&part, how, "");
        let text = format!("<{encoded}>");
        let hits = s.scan(text.as_bytes());
        prop_assert!(!hits.is_empty(), "{} not found", encoded);
        let masked = String::from_utf8_lossy(&mask(text.as_bytes(), &hits, "REDACTED")).into_owned();
        prop_assert_eq!(masked, "<[REDACTED:credential]>");
        // Never in what a guest reads, unless it is all of the key but the
        // two bytes at either end that a base64 form at an inner alignment
        // leaves out (see the module docs).
        if part.len() + 4 < key.len() {
            prop_assert!(s.find(text.as_bytes()).is_empty());
        }
    }

    /// Split at any point across two header lines, the key is still removed.
    #[test]
    fn split_headers_are_scrubbed(key in "[A-Za-z0-9]{20,60}", at in 1usize..19) {
        let s = SecretSet::new(&[(SecretKind::Credential, Secret::new(key.clone()))], "Bearer");
        let (a, b) = key.split_at(at);
        let (out, hits) = s.scrub_headers(vec![("a".into(), a.into()), ("b".into(), b.into())]);
        prop_assert_eq!(hits.len(), 1);
        prop_assert!(out.iter().all(|(_, v)| !v.contains(a) || a.len() < 3));
        prop_assert!(!out.iter().any(|(_, v)| v.contains(b)));
    }
}

#[test]
fn html_entities_and_double_percent_encoding_are_scrubbed() {
    let decimal: String = KEY.chars().map(|c| format!("&#{};", c as u32)).collect();
    let hex: String = KEY.chars().map(|c| format!("&#x{:X};", c as u32)).collect();
    let twice: String = urlencode_all(KEY).replace('%', "%25");
    for (name, form) in [("decimal", decimal), ("hex", hex), ("twice", twice)] {
        let text = format!("<p>your key: {form}</p>");
        let (out, hits) = set().scrub(text.clone().into_bytes());
        let out = String::from_utf8(out).unwrap();
        assert!(!hits.is_empty(), "{name}: {text}");
        assert!(!out.contains(&form[..form.len() / 2]), "{name}: {out}");
        assert!(out.contains("[REDACTED:credential]"), "{name}: {out}");
    }
    // Ordinary HTML is left alone.
    assert_eq!(scrubbed("caf&#233; &amp; 100%25"), "caf&#233; &amp; 100%25");
}

#[test]
fn entity_and_percent_variants_a_browser_or_proxy_reads_are_scrubbed() {
    let chars: Vec<char> = KEY.chars().collect();
    let zeros: String = chars
        .iter()
        .map(|c| format!("&#0000000{};", *c as u32))
        .collect();
    let no_semicolons: String = chars.iter().map(|c| format!("&#{}", *c as u32)).collect();
    let mixed: String = chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                format!("%{:02X}", *c as u32)
            } else {
                format!("&#{};", *c as u32)
            }
        })
        .collect();
    let thrice = urlencode_all(KEY).replace('%', "%2525");
    for (name, form) in [
        ("zeros", zeros),
        ("no-semicolons", no_semicolons),
        ("mixed", mixed),
        ("thrice", thrice),
    ] {
        let text = format!("READY {form} done");
        let (out, hits) = set().scrub(text.clone().into_bytes());
        assert!(!hits.is_empty(), "{name}: {text}");
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("[REDACTED:credential]"), "{name}: {out}");
    }
}

#[test]
fn stream_deltas_are_read_however_lines_end_and_choices_are_numbered() {
    let pieces: Vec<&str> = KEY
        .as_bytes()
        .chunks(10)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let ev = |index: serde_json::Value, s: &str, end: &str| {
        format!(
            "data: {}{end}{end}",
            serde_json::json!({"choices": [{"index": index, "delta": {"content": s}}]})
        )
    };
    // CR-only line ends; a float index; many other choices in between.
    let mut cr = String::new();
    let mut float = String::new();
    let mut crowd = String::new();
    for p in &pieces {
        cr.push_str(&ev(serde_json::json!(0), p, "\r"));
        float.push_str(&ev(serde_json::json!(0.0), p, "\n"));
        crowd.push_str(&ev(serde_json::json!(0), p, "\n"));
        for other in 1..40 {
            crowd.push_str(&ev(serde_json::json!(other), "~", "\n"));
        }
    }
    for (name, body) in [("cr", cr), ("float", float), ("crowd", crowd)] {
        let (out, hits) = set().scrub(body.into_bytes());
        let out = String::from_utf8(out).unwrap();
        assert!(
            hits.iter().any(|h| h.form == Form::StreamDeltas),
            "{name}: {hits:?}"
        );
        assert!(!out.contains(pieces[1]), "{name}: {out}");
    }
}
