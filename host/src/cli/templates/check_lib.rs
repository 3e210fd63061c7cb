//! A shipgate check. Build it with `cargo build --release`; the component is
//! `target/wasm32-wasip2/release/{{crate}}.wasm`.
use shipgate_sdk::{Check, Descriptor, Finding, chat::ChatRequest, checklist, context};

struct MyCheck;

impl Check for MyCheck {
    fn describe() -> Descriptor {
        Descriptor::new("{{name}}", env!("CARGO_PKG_VERSION"), "the model answers a trivial prompt")
            .covers([checklist::RESPONSE_PARSER_TESTED])
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let reply = ChatRequest::new(&target.model)
            .user("Return the word READY and nothing else.")
            .max_tokens(context::limits().output_token_ceiling)
            .operation("{{name}}")
            .send();
        Ok(vec![match reply {
            Ok(r) if r.content().as_deref() == Some("READY") => {
                Finding::pass("{{name}}.ready", "the model answers READY").evidence("latency_ms", r.http.latency_ms)
            }
            Ok(r) => Finding::fail("{{name}}.ready", "the model answers READY").detail(format!("HTTP {}", r.status())),
            Err(e) => Finding::fail("{{name}}.ready", "the model answers READY").detail(e.to_string()),
        }
        .covers([checklist::RESPONSE_PARSER_TESTED])])
    }
}

shipgate_sdk::export_check!(MyCheck);
