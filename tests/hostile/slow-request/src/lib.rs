//! Hostile fixture: a request still in flight when the plugin's deadline
//! comes (the mock delays its answer), then nothing.
use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct SlowRequest;

impl Check for SlowRequest {
    fn describe() -> Descriptor {
        Descriptor::new("slow-request", "0.0.0", "in flight at its deadline")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let _ = ChatRequest::new(&context::target().model)
            .user("Return the word READY and nothing else.")
            .max_tokens(8)
            .fault("delay:5000")
            .operation("slow")
            .send();
        Ok(vec![Finding::pass("slow.done", "the answer came back")])
    }
}

shipgate_sdk::export_check!(SlowRequest);
