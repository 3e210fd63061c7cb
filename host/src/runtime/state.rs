//! `HostState`: the `T` of `Store<T>`, one per plugin run.

use super::limits::Limiter;
use crate::capability::{
    audit::AuditCtx, context::ContextCtx, http::HttpCtx, log::LogCtx, traffic::TrafficCtx,
};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Per-run host state.
pub struct HostState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) http: HttpCtx,
    pub(super) log: LogCtx,
    pub(super) context: ContextCtx,
    pub(super) audit: AuditCtx,
    pub(super) traffic: TrafficCtx,
    pub(super) limiter: Limiter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
