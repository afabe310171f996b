#![allow(non_camel_case_types)] // C names: this file is a C API
// The whole C API lives in wasmtime-c-api-impl; re-exporting it from this
// final crate is what makes cargo emit its #[no_mangle] symbols into
// libwasmtime.a.
pub use wasmtime_c_api::*;

// ---- px_wasm_call: a leaner async call for the node's guest exports ----
//
// Hand-written because the C API offers only one async call,
// wasmtime_func_call_async, which converts every argument and result
// through vectors and checks the function's type on each call. The node
// calls a handful of exports whose signatures it checked at deploy, once
// per message, so the typed call below skips that work (TypedFunc made
// unchecked). The store and function are the C API's own types.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use wasmtime_c_api::wasmtime::{Func, Trap, TypedFunc};

/// The signatures the node calls, by number.
pub const PX_SIG_V_V: u32 = 0; // () -> ()
pub const PX_SIG_V_I: u32 = 1; // () -> i32
pub const PX_SIG_V_L: u32 = 2; // () -> i64
pub const PX_SIG_I_I: u32 = 3; // (i32) -> i32
pub const PX_SIG_II_V: u32 = 4; // (i32, i32) -> ()
pub const PX_SIG_II_I: u32 = 5; // (i32, i32) -> i32
pub const PX_SIG_I7_I: u32 = 6; // (i32 x 7) -> i32

/// Where a call's outcome lands: status 0 = returned (ret holds the
/// result), 1 = trapped (trap_code is wasmtime_trap_code_t), 2 = failed
/// otherwise (proc_exit, an epoch callback's error); error is set for 1
/// and 2 and belongs to the caller.
#[repr(C)]
pub struct px_wasm_call_out {
    pub status: i32,
    pub trap_code: i32,
    pub ret: i64,
    pub error: *mut wasmtime_error_t,
}

pub struct px_wasm_call_t<'a> {
    fut: Pin<Box<dyn Future<Output = ()> + 'a>>,
}

/// Starts a call of `func` (whose type must be `sig`, as the deploy check
/// proved) with `args`; poll it with px_wasm_call_poll. Null for an
/// unknown sig.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn px_wasm_call_start<'a>(
    mut store: WasmtimeStoreContextMut<'a>,
    func: &'a Func,
    sig: u32,
    args: *const i32,
    out: &'a mut px_wasm_call_out,
) -> Option<Box<px_wasm_call_t<'a>>> {
    let a = |i: usize| unsafe { *args.add(i) };
    let f = *func;
    // SAFETY: the node checked every export's signature at deploy.
    let fut: Pin<Box<dyn Future<Output = ()> + 'a>> = unsafe {
        match sig {
            PX_SIG_V_V => {
                let t = TypedFunc::<(), ()>::new_unchecked(&store, f);
                Box::pin(async move { finish(t.call_async(&mut store, ()).await.map(|()| 0), out) })
            }
            PX_SIG_V_I => {
                let t = TypedFunc::<(), i32>::new_unchecked(&store, f);
                Box::pin(async move { finish(t.call_async(&mut store, ()).await.map(i64::from), out) })
            }
            PX_SIG_V_L => {
                let t = TypedFunc::<(), i64>::new_unchecked(&store, f);
                Box::pin(async move { finish(t.call_async(&mut store, ()).await, out) })
            }
            PX_SIG_I_I => {
                let t = TypedFunc::<i32, i32>::new_unchecked(&store, f);
                let p = a(0);
                Box::pin(async move { finish(t.call_async(&mut store, p).await.map(i64::from), out) })
            }
            PX_SIG_II_V => {
                let t = TypedFunc::<(i32, i32), ()>::new_unchecked(&store, f);
                let p = (a(0), a(1));
                Box::pin(async move { finish(t.call_async(&mut store, p).await.map(|()| 0), out) })
            }
            PX_SIG_II_I => {
                let t = TypedFunc::<(i32, i32), i32>::new_unchecked(&store, f);
                let p = (a(0), a(1));
                Box::pin(async move { finish(t.call_async(&mut store, p).await.map(i64::from), out) })
            }
            PX_SIG_I7_I => {
                type P = (i32, i32, i32, i32, i32, i32, i32);
                let t = TypedFunc::<P, i32>::new_unchecked(&store, f);
                let p = (a(0), a(1), a(2), a(3), a(4), a(5), a(6));
                Box::pin(async move { finish(t.call_async(&mut store, p).await.map(i64::from), out) })
            }
            _ => return None,
        }
    };
    Some(Box::new(px_wasm_call_t { fut }))
}

fn finish(r: wasmtime_c_api::wasmtime::Result<i64>, out: &mut px_wasm_call_out) {
    match r {
        Ok(v) => {
            out.status = 0;
            out.ret = v;
        }
        Err(e) => {
            match e.downcast_ref::<Trap>() {
                Some(t) => {
                    out.status = 1;
                    out.trap_code = *t as u8 as i32;
                }
                None => out.status = 2,
            }
            out.error = Box::into_raw(Box::new(wasmtime_error_t::from(e)));
        }
    }
}

/// True when the call is over (its outcome is in `out`); false when the
/// guest is suspended (a host call's continuation, an epoch yield).
#[unsafe(no_mangle)]
pub extern "C" fn px_wasm_call_poll(c: &mut px_wasm_call_t<'_>) -> bool {
    matches!(
        c.fut.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(())
    )
}

/// Frees a call; one still suspended is unwound first.
#[unsafe(no_mangle)]
pub extern "C" fn px_wasm_call_delete(_c: Box<px_wasm_call_t<'_>>) {}
