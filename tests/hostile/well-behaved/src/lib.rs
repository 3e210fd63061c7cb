//! Fixture: a well-behaved plugin, run beside hostile ones.
use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::{Check, Descriptor, Finding, checklist, context};

struct WellBehaved;

impl Check for WellBehaved {
    fn describe() -> Descriptor {
        Descriptor::new("well-behaved", "0.0.0", "one chat request")
            .covers([checklist::RESPONSE_PARSER_TESTED])
    }

    fn run() -> Result<Vec<Finding>, String> {
        // Content fields are dropped by the host unless the plan allows content capture.
        shipgate_sdk::log::info(
            "sending",
            &[
                ("prompt", "Return the word READY and nothing else."),
                ("step", "1"),
            ],
        );
        let r = ChatRequest::new(&context::target().model)
            .user("Return the word READY and nothing else.")
            .send();
        Ok(vec![
            match r {
                Ok(r) if r.content().as_deref() == Some("READY") => {
                    Finding::pass("well-behaved.ok", "answered READY")
                }
                Ok(r) => Finding::fail("well-behaved.ok", "answered READY")
                    .detail(format!("status {}", r.status())),
                Err(e) => Finding::fail("well-behaved.ok", "answered READY").detail(e.to_string()),
            }
            .covers([checklist::RESPONSE_PARSER_TESTED]),
        ])
    }
}

shipgate_sdk::export_check!(WellBehaved);
