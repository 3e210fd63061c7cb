//! Hostile fixture: panics (a trap for the host).
use shipgate_sdk::{Check, Descriptor, Finding};

struct Panics;

impl Check for Panics {
    fn describe() -> Descriptor {
        Descriptor::new("panics", "0.0.0", "panics")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let v: Vec<u32> = Vec::new();
        let i = std::hint::black_box(3);
        Ok(vec![
            Finding::pass("never", "unreachable").evidence("v", v[i]),
        ])
    }
}

shipgate_sdk::export_check!(Panics);
