//! Host-side bindings for the `shipgate:plugin` WIT world. Generated names stop here.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});
