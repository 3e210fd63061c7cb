//! Hostile fixture: tries to allocate 4 GiB (more than wasm32 can address).
use shipgate_sdk::{Check, Descriptor, Finding};

struct AllocBomb;

impl Check for AllocBomb {
    fn describe() -> Descriptor {
        Descriptor::new("alloc-bomb", "0.0.0", "allocates without bound")
    }

    fn run() -> Result<Vec<Finding>, String> {
        // Grow in 64 MiB steps until something gives: up to 4 GiB.
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        for _ in 0..64 {
            let mut chunk = vec![0u8; 64 * 1024 * 1024];
            chunk[0] = 1;
            hoard.push(std::hint::black_box(chunk));
        }
        Ok(vec![
            Finding::pass("alloc-bomb.survived", "allocated").evidence("chunks", hoard.len()),
        ])
    }
}

shipgate_sdk::export_check!(AllocBomb);
