//! Hostile fixture: floods the log capability and stdout.
use shipgate_sdk::{Check, Descriptor, Finding, log};

struct LogFlood;

impl Check for LogFlood {
    fn describe() -> Descriptor {
        Descriptor::new("log-flood", "0.0.0", "floods the log")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let big = "x".repeat(4096);
        for i in 0..1_000_000u32 {
            log::info(&big, &[("i", &i.to_string())]);
        }
        for _ in 0..100_000 {
            println!("{big}");
        }
        Ok(vec![Finding::pass("log-flood.done", "flooded")])
    }
}

shipgate_sdk::export_check!(LogFlood);
