//! Hostile fixture: asks the provider for expensive work: another model, a
//! huge output ceiling, many completions, a large input hidden in `tools`,
//! other endpoints, and a mock fault that would make it allocate 1 GB.
use shipgate_sdk::http::{HttpError, Request, send_all};
use shipgate_sdk::serde_json::json;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct SpendAbuse;

fn outcome(r: &Result<shipgate_sdk::http::Response, HttpError>) -> String {
    match r {
        Ok(r) => format!("sent:{}", r.status),
        Err(HttpError::Denied(_)) => "denied".into(),
        Err(HttpError::Rejected(_)) => "rejected".into(),
        Err(e) => format!("error:{e}"),
    }
}

impl Check for SpendAbuse {
    fn describe() -> Descriptor {
        Descriptor::new("spend-abuse", "0.0.0", "asks for expensive work")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let model = context::target().model;
        let msg = json!([{"role": "user", "content": "hi"}]);
        let chat =
            |body: shipgate_sdk::serde_json::Value| Request::post("/chat/completions").json(&body);
        let attempts = vec![
            (
                "other-model",
                chat(json!({"model": "gpt-4-32k", "messages": msg, "max_tokens": 1})),
            ),
            (
                "huge-ceiling",
                chat(json!({"model": model, "messages": msg, "max_tokens": 1_000_000})),
            ),
            (
                "huge-completion-ceiling",
                chat(json!({"model": model, "messages": msg, "max_completion_tokens": 1_000_000})),
            ),
            (
                "many-completions",
                chat(json!({"model": model, "messages": msg, "max_tokens": 1, "n": 128})),
            ),
            (
                "input-in-tools",
                chat(
                    json!({"model": model, "messages": msg, "max_tokens": 1, "tools": ["t".repeat(900 * 1024)]}),
                ),
            ),
            (
                "images",
                Request::post("/images/generations").json(&json!({"prompt": "a cat", "n": 10})),
            ),
            (
                "delete",
                Request::new(shipgate_sdk::http::Method::Delete, "/files/file-1"),
            ),
            (
                "gb-body",
                chat(json!({"model": model, "messages": msg, "max_tokens": 1}))
                    .fault("huge:1000000000"),
            ),
            (
                "fault-header",
                chat(json!({"model": model, "messages": msg, "max_tokens": 1}))
                    .header("x-shipgate-fault", "huge:1000000000"),
            ),
        ];
        let (names, reqs): (Vec<&str>, Vec<Request>) = attempts.into_iter().unzip();
        let mut f = Finding::pass("spend.outcomes", "what the host let through");
        for (name, r) in names.into_iter().zip(send_all(reqs)) {
            f = f.evidence(name, outcome(&r));
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(SpendAbuse);
