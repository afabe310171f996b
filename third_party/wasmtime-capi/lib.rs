// The whole C API lives in wasmtime-c-api-impl; re-exporting it from this
// final crate is what makes cargo emit its #[no_mangle] symbols into
// libwasmtime.a. The node calls guests synchronously through the C API
// (src/wasm/instance.c), so nothing else is needed here.
pub use wasmtime_c_api::*;
