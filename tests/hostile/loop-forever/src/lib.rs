//! Hostile fixture: never returns from `run`.
use shipgate_sdk::{Check, Descriptor, Finding};

struct LoopForever;

impl Check for LoopForever {
    fn describe() -> Descriptor {
        Descriptor::new("loop-forever", "0.0.0", "spins forever")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

shipgate_sdk::export_check!(LoopForever);
