//! The host's imports, as the SDK's modules call them.
//!
//! In a component these are the WIT imports. In a native build with the
//! `testing` feature they are [`crate::testing`]'s scripted host, so a
//! check's logic runs under `cargo test` without wasm. A wasm build never
//! takes the scripted host, whatever its features.

#[cfg(not(all(feature = "testing", not(target_arch = "wasm32"))))]
pub(crate) use crate::wit::shipgate::plugin::{audit, context, http, log, traffic};

#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub(crate) use crate::testing::host::{audit, context, http, log, traffic};
