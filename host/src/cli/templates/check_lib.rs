//! A shipgate check. `cargo test` runs its judgement natively; `cargo
//! build-check` builds the component `target/wasm32-wasip2/release/{{crate}}.wasm`.
use shipgate_sdk::{Check, Descriptor, Finding, chat::ChatRequest, checklist, context};

/// The judgement, as a pure function: what the model answered (`None`: the
/// request failed, with why) becomes a finding. Test it natively below.
pub fn judge(answer: Result<Option<String>, String>) -> Finding {
    let f = Finding::pass("{{name}}.ready", "the model answers READY")
        .covers([checklist::RESPONSE_PARSER_TESTED]);
    match answer {
        Ok(Some(text)) if text.trim() == "READY" => f,
        Ok(other) => f.verdict(shipgate_sdk::Verdict::Fail).detail(format!(
            "answered {}",
            shipgate_sdk::text::shown(other.as_deref())
        )),
        Err(why) => f.verdict(shipgate_sdk::Verdict::Fail).detail(why),
    }
}

struct MyCheck;

impl Check for MyCheck {
    fn describe() -> Descriptor {
        Descriptor::new("{{name}}", env!("CARGO_PKG_VERSION"), "the model answers a trivial prompt")
            .covers([checklist::RESPONSE_PARSER_TESTED])
            .findings(["{{name}}.ready"])
    }

    fn run() -> Result<Vec<Finding>, String> {
        let target = context::target();
        let reply = ChatRequest::new(&target.model)
            .user("Return the word READY and nothing else.")
            .max_tokens(context::limits().output_token_ceiling)
            .operation("{{name}}")
            .send();
        Ok(vec![judge(
            reply
                .map(|r| r.content().map(|c| c.to_string()))
                .map_err(|e| e.to_string()),
        )])
    }
}

shipgate_sdk::export_check!(MyCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use shipgate_sdk::Verdict;
    use shipgate_sdk::testing::{Harness, Reply};

    #[test]
    fn ready_passes_anything_else_fails() {
        assert_eq!(judge(Ok(Some("READY".into()))).verdict, Verdict::Pass);
        assert_eq!(judge(Ok(Some("Sure! READY".into()))).verdict, Verdict::Fail);
        assert_eq!(judge(Ok(None)).verdict, Verdict::Fail);
        assert_eq!(judge(Err("timed out".into())).verdict, Verdict::Fail);
    }

    /// The whole check against a scripted host: no wasm, no network.
    #[test]
    fn the_check_asks_the_contract_model_and_judges_the_answer() {
        let out = Harness::new().reply(Reply::chat("READY")).run::<MyCheck>();
        assert_eq!(out.verdict("{{name}}.ready"), Verdict::Pass);
        assert_eq!(out.requests[0].json()["model"], "mock-gpt");

        let out = Harness::new().reply(Reply::chat("Sure! READY")).run::<MyCheck>();
        assert_eq!(out.verdict("{{name}}.ready"), Verdict::Fail);

        let out = Harness::new().reply(Reply::timeout()).run::<MyCheck>();
        assert_eq!(out.verdict("{{name}}.ready"), Verdict::Fail);
    }
}
