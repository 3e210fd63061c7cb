//! Reports: one [`Record`] rendered for each audience.
//!
//! - [`human`]: the terminal summary, decision first.
//! - [`markdown`]: `report.md`, for people reading the record later.
//! - [`junit`]: `junit.xml`, one test case per finding, for CI test tabs.
//! - [`sarif`]: `findings.sarif`, located findings for code-scanning UIs.
//! - [`record`]: `record.json`, the versioned machine format, and the atomic
//!   writer for the whole record directory.
//!
//! Every writer takes `impl Write` and every string it writes comes from a
//! record that was redacted when it was built.

pub mod assemble;
pub mod episodes;
pub mod human;
pub mod junit;
pub mod markdown;
pub mod record;
pub mod sarif;

pub use junit::JunitOptions;
pub use record::{
    Record, RecordPaths, append_step_summary, check_writable, update_latest, write_record_dir,
};
