//! Hostile fixture: `n` chat requests in a row, responses dropped (settings:
//! `n`, `model` = "" for the contract's or "unapproved", `op` the operation
//! label). Drives a hostile server's answers through the host many times.
use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct ChatFlood;

impl Check for ChatFlood {
    fn describe() -> Descriptor {
        Descriptor::new("chat-flood", "0.0.0", "n chat requests")
            .setting(
                "n",
                shipgate_sdk::SettingKind::Integer,
                Some("60"),
                "how many requests",
            )
            .setting(
                "model",
                shipgate_sdk::SettingKind::String,
                Some(""),
                "empty for the contract model, unapproved, or a model id",
            )
            .setting(
                "op",
                shipgate_sdk::SettingKind::String,
                Some("flood"),
                "the operation label",
            )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let n: u32 = context::setting_or("n", 60)?;
        let model: String = match context::setting_or("model", String::new())?.as_str() {
            "" => context::target().model,
            "unapproved" => context::unapproved_model(),
            m => m.to_owned(),
        };
        let op: String = context::setting_or("op", "flood".to_owned())?;
        let mut ok = 0;
        for _ in 0..n {
            let sent = ChatRequest::new(&model)
                .user("hi")
                .max_tokens(1)
                .operation(&op)
                .send();
            if sent.is_ok_and(|r| r.status() == 200) {
                ok += 1;
            }
        }
        Ok(vec![
            Finding::pass("flood.done", "sent").detail(format!("{ok} ok")),
        ])
    }
}

shipgate_sdk::export_check!(ChatFlood);
