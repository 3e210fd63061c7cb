//! Hostile fixture: unbounded recursion.
use shipgate_sdk::{Check, Descriptor, Finding};

struct DeepRecursion;

/// Not tail-recursive (rotate then xor), so every call keeps a wasm frame.
fn dive(n: u64) -> u64 {
    if n == u64::MAX {
        return 0;
    }
    dive(std::hint::black_box(n + 1)).rotate_left(1) ^ n
}

impl Check for DeepRecursion {
    fn describe() -> Descriptor {
        Descriptor::new("deep-recursion", "0.0.0", "recurses without bound")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let v = dive(0);
        Ok(vec![
            Finding::pass("deep-recursion.survived", "returned").evidence("v", v),
        ])
    }
}

shipgate_sdk::export_check!(DeepRecursion);
