// The whole C API lives in wasmtime-c-api-impl; re-exporting it from this
// final crate is what makes cargo emit its #[no_mangle] symbols into
// libwasmtime.a.
pub use wasmtime_c_api::*;
