//! Hostile fixture: spend-limit bypasses through parser differences.
//! 1. `max_tokens: null`: the ceiling field is "present", so the host neither
//!    denies nor adds its ceiling; providers treat null as "no limit".
//! 2. Bodies serde_json refuses but lenient parsers accept (nesting > 128,
//!    a number out of f64 range, a lone surrogate, NaN): the host treats them
//!    as "not JSON" and sends them without any model / n / ceiling check.
//! 3. Numbers as strings (`"n": "8"`), which pydantic-style servers coerce.
use shipgate_sdk::http::{HttpError, Request};
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct SpendBypass;

fn outcome(r: &Result<shipgate_sdk::http::Response, HttpError>) -> String {
    match r {
        Ok(r) => format!("sent:{}", r.status),
        Err(HttpError::Denied(_)) => "denied".into(),
        Err(HttpError::Rejected(_)) => "rejected".into(),
        Err(e) => format!("error:{e}"),
    }
}

impl Check for SpendBypass {
    fn describe() -> Descriptor {
        Descriptor::new("spend-bypass", "0.0.0", "spend checks vs lenient parsers")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let model = context::target().model;
        let msgs = r#"[{"role":"user","content":"Write a very long essay."}]"#;
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let bodies: Vec<(&str, String)> = vec![
            (
                "null-ceiling",
                format!(r#"{{"model":"{model}","messages":{msgs},"max_tokens":null}}"#),
            ),
            (
                "string-n",
                format!(r#"{{"model":"{model}","messages":{msgs},"max_tokens":"100000","n":"8"}}"#),
            ),
            (
                "deep-nesting",
                format!(
                    r#"{{"model":"gpt-4-32k","n":8,"max_tokens":100000,"messages":{msgs},"x":{deep}}}"#
                ),
            ),
            (
                "huge-number",
                format!(
                    r#"{{"model":"gpt-4-32k","n":8,"max_tokens":100000,"messages":{msgs},"x":1e999}}"#
                ),
            ),
            (
                "lone-surrogate",
                r#"{"model":"gpt-4-32k","n":8,"max_tokens":100000,"messages":[{"role":"user","content":"hi\ud800"}]}"#
                    .to_owned(),
            ),
            (
                "nan",
                format!(
                    r#"{{"model":"gpt-4-32k","n":8,"max_tokens":100000,"messages":{msgs},"x":NaN}}"#
                ),
            ),
            (
                "control-plain",
                format!(r#"{{"model":"gpt-4-32k","n":8,"max_tokens":100000,"messages":{msgs}}}"#),
            ),
        ];
        let mut f = Finding::pass("bypass.outcomes", "what the host let through");
        // UTF-16LE with a BOM: serde_json refuses it, Python's json.loads(bytes) decodes it.
        let plain =
            format!(r#"{{"model":"gpt-4-32k","n":8,"max_tokens":100000,"messages":{msgs}}}"#);
        let mut utf16: Vec<u8> = vec![0xff, 0xfe];
        for u in plain.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let r = Request::post("/chat/completions")
            .header("content-type", "application/json; charset=utf-16")
            .body(utf16)
            .send();
        f = f.evidence("utf-16", outcome(&r));
        for (k, b) in bodies {
            let r = Request::post("/chat/completions")
                .header("content-type", "application/json")
                .body(b)
                .send();
            f = f.evidence(k, outcome(&r));
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(SpendBypass);
