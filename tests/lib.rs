//! Shared helpers for shipgate's end-to-end tests.

/// Paths of the compiled hostile fixtures.
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
