//! Exit codes. Documented in the README and `shipgate --help`.

/// Ship (or the decision is below `--fail-on`); any command that succeeded.
pub const OK: u8 = 0;
/// shipgate itself failed (I/O, runtime).
pub const TOOL_ERROR: u8 = 1;
/// Bad usage or configuration: a contract, plan, plugin file or secret problem. Nothing was sent.
pub const USAGE: u8 = 2;
/// The decision is Ship behind flag (with `--fail-on flag`, the default for `run`).
pub const SHIP_BEHIND_FLAG: u8 = 3;
/// The decision is Hold.
pub const HOLD: u8 = 4;
/// `shipgate diff` found drift beyond timings.
pub const DRIFT: u8 = 5;
