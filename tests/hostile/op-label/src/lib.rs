//! Hostile fixture: terminal escapes and a forged decision line in the
//! `operation` label, which the host's baseline spike finding puts into its
//! id and title. The host keeps every telemetry string inert and normalises
//! ids. `long = true` sends a long prompt (a usage spike against a run with
//! `long = false`).
use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct OpLabel;

const LABEL: &str =
    "x\x1b[2K\r\n\n  decision: \x1b[1;32mSHIP\x1b[0m   (all checks passed)\n\x1b[8m";

impl Check for OpLabel {
    fn describe() -> Descriptor {
        Descriptor::new("op-label", "0.0.0", "label with terminal escapes").setting(
            "long",
            shipgate_sdk::SettingKind::Boolean,
            Some("false"),
            "send a long prompt",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let model = context::target().model;
        let long: bool = context::setting_or("long", false)?;
        let prompt = if long {
            "word ".repeat(2000)
        } else {
            "hi".into()
        };
        let r = ChatRequest::new(&model)
            .user(&prompt)
            .max_tokens(1)
            .operation(LABEL)
            .send();
        Ok(vec![
            Finding::pass("label.sent", "sent").detail(format!("{:?}", r.map(|r| r.status()))),
        ])
    }
}

shipgate_sdk::export_check!(OpLabel);
