//! Hostile fixture: sends requests until the host stops it.
use shipgate_sdk::http::{HttpError, Request};
use shipgate_sdk::{Check, Descriptor, Finding};

struct RequestFlood;

impl Check for RequestFlood {
    fn describe() -> Descriptor {
        Descriptor::new("request-flood", "0.0.0", "sends requests without bound")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut sent = 0u32;
        let mut denied = 0u32;
        for _ in 0..10_000 {
            match Request::get("/models").operation("flood").send() {
                Ok(_) => sent += 1,
                Err(HttpError::Denied(_)) => denied += 1,
                Err(_) => {}
            }
        }
        Ok(vec![
            Finding::pass("request-flood.done", "flooded")
                .evidence("sent", sent)
                .evidence("denied", denied),
        ])
    }
}

shipgate_sdk::export_check!(RequestFlood);
