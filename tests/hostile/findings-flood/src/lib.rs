//! Hostile fixture: returns 100 000 findings with large evidence.
use shipgate_sdk::{Check, Descriptor, Finding};

struct FindingsFlood;

impl Check for FindingsFlood {
    fn describe() -> Descriptor {
        Descriptor::new("findings-flood", "0.0.0", "returns too many findings")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let big = "e".repeat(100_000);
        Ok((0..100_000)
            .map(|i| {
                let f = Finding::pass(format!("flood.{i}"), "flood");
                if i < 10 {
                    f.detail(big.clone()).evidence("big", &big)
                } else {
                    f
                }
            })
            .collect())
    }
}

shipgate_sdk::export_check!(FindingsFlood);
