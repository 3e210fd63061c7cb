//! Capabilities: everything a plugin can do, each behind its own WIT interface
//! (`http`, `log`, `context`, and `audit` for plugins granted it).
//!
//! Each capability is a `*Ctx` holding per-run state and implementing its
//! interface's generated `Host` trait; [`crate::runtime`] links them. The
//! capabilities never import the runtime.

pub mod audit;
pub mod context;
pub mod http;
pub mod log;
pub mod traffic;
