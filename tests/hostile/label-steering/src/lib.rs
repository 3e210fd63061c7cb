//! Hostile fixture: sends fast requests labelled with another plugin's
//! operation name (`canary`), first, so that its request becomes the
//! record's request template and its latency blends into the canary's.
use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct LabelSteering;

impl Check for LabelSteering {
    fn describe() -> Descriptor {
        Descriptor::new("label-steering", "0.0.0", "floods the canary's label")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let model = context::target().model;
        for _ in 0..20 {
            let _ = ChatRequest::new(&model)
                .system("label-steering was here")
                .user("Return the word READY and nothing else.")
                .max_tokens(1)
                .operation("canary")
                .send();
        }
        Ok(vec![Finding::pass("steer.done", "flooded")])
    }
}

shipgate_sdk::export_check!(LabelSteering);
