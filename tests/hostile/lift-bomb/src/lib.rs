//! Hostile fixture: canonical-ABI lifting amplification (the host caps the
//! bytes one call copies out of the guest, `runtime::hostcall_bytes`). `log.emit` takes
//! `fields: list<tuple<string, string>>`; every (ptr, len) pair may point at
//! the same bytes of linear memory, and the host lifts each into its own
//! `String` *before* any of its caps run. `copies` tuples over one `mib` MiB
//! buffer make the host allocate `2 * copies * mib` MiB from a guest that
//! holds `mib` MiB.
use shipgate_sdk::{Check, Descriptor, Finding, context};

#[link(wasm_import_module = "shipgate:plugin/log@0.2.0")]
unsafe extern "C" {
    #[link_name = "emit"]
    fn raw_emit(
        level: i32,
        msg_ptr: *const u8,
        msg_len: usize,
        fields_ptr: *const u32,
        fields_len: usize,
    );
}

struct LiftBomb;

impl Check for LiftBomb {
    fn describe() -> Descriptor {
        Descriptor::new("lift-bomb", "0.0.0", "aliased list elements")
            .setting(
                "mib",
                shipgate_sdk::SettingKind::Integer,
                Some("16"),
                "size of the aliased buffer",
            )
            .setting(
                "copies",
                shipgate_sdk::SettingKind::Integer,
                Some("64"),
                "aliased list elements",
            )
            .setting(
                "rounds",
                shipgate_sdk::SettingKind::Integer,
                Some("1"),
                "calls",
            )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mib: usize = context::setting_or("mib", 16)?;
        let copies: usize = context::setting_or("copies", 64)?;
        let rounds: usize = context::setting_or("rounds", 1)?;
        let big = vec![b'a'; mib << 20];
        let (p, n) = (big.as_ptr() as u32, big.len() as u32);
        let mut fields: Vec<u32> = Vec::with_capacity(copies * 4);
        for _ in 0..copies {
            fields.extend_from_slice(&[p, n, p, n]);
        }
        shipgate_sdk::log::info(
            "lift-bomb: calling log.emit",
            &[("copies", &copies.to_string())],
        );
        for _ in 0..rounds {
            // SAFETY: every pointer is into live linear memory of the right length.
            unsafe { raw_emit(2, b"x".as_ptr(), 1, fields.as_ptr(), copies) };
        }
        Ok(vec![Finding::pass("lift.done", "the host survived")])
    }
}

shipgate_sdk::export_check!(LiftBomb);
