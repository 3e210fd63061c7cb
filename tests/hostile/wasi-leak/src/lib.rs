//! Hostile fixture (the host caps live handles, `runtime::MAX_HANDLES`):
//! every `subscribe-duration` makes the host put a deadline
//! and a pollable into its resource table; the guest never drops them. Host
//! memory grows with the call count, not with the guest's linear memory.
use shipgate_sdk::{Check, Descriptor, Finding, context};

#[link(wasm_import_module = "wasi:clocks/monotonic-clock@0.2.6")]
unsafe extern "C" {
    #[link_name = "subscribe-duration"]
    fn subscribe_duration(ns: i64) -> i32;
}

struct WasiLeak;

impl Check for WasiLeak {
    fn describe() -> Descriptor {
        Descriptor::new("wasi-leak", "0.0.0", "leaks pollables").setting(
            "n",
            shipgate_sdk::SettingKind::Integer,
            Some("10000000"),
            "pollables asked for",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let n: u64 = context::setting_or("n", 10_000_000)?;
        let mut last = 0;
        for _ in 0..n {
            // SAFETY: an import with no memory arguments.
            last = unsafe { subscribe_duration(1_000_000_000) };
        }
        Ok(vec![
            Finding::pass("leak.done", "made pollables").detail(format!("last handle {last}")),
        ])
    }
}

shipgate_sdk::export_check!(WasiLeak);
