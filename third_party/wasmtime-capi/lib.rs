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

// ---- px_wasm_loop: one long call per actor, serving every export call ----
//
// A call_async costs a fiber (made, switched to, torn down) and a boxed
// future: about 0.5 us even for an empty export, most of a WASM ask. So
// after start-up an actor's exports are not called one by one: a small
// loop module, instantiated next to the guest and importing its
// exports, runs one loop per actor: it asks the host (`next`, an async
// import) for the next export to call and its arguments, calls it
// (wasm to wasm, cheap) and hands the result back with the next `next`.
// Between messages the loop is suspended inside `next`, on its fiber; a
// message is one resume of that fiber. A trap in the guest ends the loop
// (and the actor, as before).

use std::ptr::NonNull;
use wasmtime_c_api::wasmtime::{Caller, Extern, Instance, Module};

/// The guest exports the loop serves, by number (C: PX__FN_*), in its
/// import order.
const LOOP_GUEST_EXPORTS: [&str; 6] = [
    "px_alloc",
    "px_free",
    "px_init",
    "px_handle",
    "px_get_state",
    "px_set_state",
];

const LOOP_WAT: &str = r#"
(module
  (import "px" "next"
    (func $next (param i32 i64) (result i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "g" "px_alloc" (func $alloc (param i32) (result i32)))
  (import "g" "px_free" (func $free (param i32 i32)))
  (import "g" "px_init" (func $init (param i32 i32) (result i32)))
  (import "g" "px_handle"
    (func $handle (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "g" "px_get_state" (func $get_state (result i64)))
  (import "g" "px_set_state" (func $set_state (param i32 i32) (result i32)))
  (func (export "run")
    (local $have i32) (local $r i64) (local $fn i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (local $a4 i32) (local $a5 i32) (local $a6 i32)
    (loop $serve
      (call $next (local.get $have) (local.get $r))
      (local.set $a6) (local.set $a5) (local.set $a4) (local.set $a3)
      (local.set $a2) (local.set $a1) (local.set $a0) (local.set $fn)
      (local.set $have (i32.const 1))
      (block $exit
       (block $set_state
        (block $get_state
         (block $handle
          (block $init
           (block $free
            (block $alloc
             (br_table $alloc $free $init $handle $get_state $set_state $exit
                       (local.get $fn)))
            (local.set $r (i64.extend_i32_s (call $alloc (local.get $a0))))
            (br $serve))
           (call $free (local.get $a0) (local.get $a1))
           (local.set $r (i64.const 0))
           (br $serve))
          (local.set $r (i64.extend_i32_s
                          (call $init (local.get $a0) (local.get $a1))))
          (br $serve))
         (local.set $r (i64.extend_i32_s
                         (call $handle (local.get $a0) (local.get $a1)
                                       (local.get $a2) (local.get $a3)
                                       (local.get $a4) (local.get $a5)
                                       (local.get $a6))))
         (br $serve))
        (local.set $r (call $get_state))
        (br $serve))
       (local.set $r (i64.extend_i32_s
                       (call $set_state (local.get $a0) (local.get $a1))))
       (br $serve)))))
"#;

/// The loop module, compiled once per engine.
pub struct px_wasm_loop_module_t {
    module: Module,
}

/// Compiles the loop module with the engine of `store`; null with *err set on
/// failure.
#[unsafe(no_mangle)]
pub extern "C" fn px_wasm_loop_module_new(
    store: WasmtimeStoreContextMut<'_>,
    err: &mut *mut wasmtime_error_t,
) -> Option<Box<px_wasm_loop_module_t>> {
    match Module::new(store.engine(), LOOP_WAT) {
        Ok(module) => Some(Box::new(px_wasm_loop_module_t { module })),
        Err(e) => {
            *err = Box::into_raw(Box::new(wasmtime_error_t::from(e)));
            None
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn px_wasm_loop_module_delete(_d: Option<Box<px_wasm_loop_module_t>>) {}

/// What the host and the loop share (owned by the C side, which outlives
/// the loop). The host writes req and sets has_req, then polls; the loop
/// takes the request, and once the export returned sets ret and finished
/// and suspends until the next request. req[0] is the export's number in
/// LOOP_GUEST_EXPORTS (6 or more ends the loop), req[1..] its arguments.
#[repr(C)]
pub struct px_wasm_loop_io {
    pub req: [i32; 8],
    pub has_req: bool,
    pub finished: bool,
    pub ret: i64,
}

#[derive(Clone, Copy)]
struct IoPtr(NonNull<px_wasm_loop_io>);
// SAFETY: the io is touched only by whoever is driving the loop (the
// actor's coroutine, or the fiber it resumed), never by two at once.
unsafe impl Send for IoPtr {}
unsafe impl Sync for IoPtr {}

impl IoPtr {
    fn get(self) -> *mut px_wasm_loop_io {
        self.0.as_ptr()
    }
}

type Req = (i32, i32, i32, i32, i32, i32, i32, i32);

/// `next`'s wait: ready once the host has put a request in io.
struct NextReq(IoPtr);

impl Future for NextReq {
    type Output = Req;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Req> {
        // SAFETY: see IoPtr.
        let io = unsafe { &mut *self.0.get() };
        if !io.has_req {
            return Poll::Pending;
        }
        io.has_req = false;
        io.finished = false;
        let q = io.req;
        Poll::Ready((q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]))
    }
}

/// Starts the loop of the guest `guest`: the loop module's instance and its one
/// long call. The first request must be in io already. Poll it with
/// px_wasm_call_poll: "not done" with io.finished set means the request
/// was served (io.ret); the call's end (a trap, a failed start, or an end
/// request) lands in out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn px_wasm_loop_start<'a>(
    mut store: WasmtimeStoreContextMut<'a>,
    lm: &'a px_wasm_loop_module_t,
    guest: &'a Instance,
    io: NonNull<px_wasm_loop_io>,
    out: &'a mut px_wasm_call_out,
) -> Box<px_wasm_call_t<'a>> {
    let io = IoPtr(io);
    let fut = Box::pin(async move {
        let r: wasmtime_c_api::wasmtime::Result<()> = async {
            let next = Func::wrap_async(
                &mut store,
                move |_: Caller<'_, _>, (have, ret): (i32, i64)| {
                    if have != 0 {
                        // SAFETY: see IoPtr; the C side keeps io alive.
                        let p = io.get();
                        unsafe {
                            (*p).ret = ret;
                            (*p).finished = true;
                        }
                    }
                    Box::new(NextReq(io))
                },
            );
            let mut imports: Vec<Extern> = Vec::with_capacity(1 + LOOP_GUEST_EXPORTS.len());
            imports.push(next.into());
            for name in LOOP_GUEST_EXPORTS {
                match guest.get_export(&mut store, name) {
                    Some(e) => imports.push(e),
                    None => wasmtime_c_api::wasmtime::bail!("the module lacks {name}"),
                }
            }
            let drv = Instance::new_async(&mut store, &lm.module, &imports).await?;
            let run = drv.get_typed_func::<(), ()>(&mut store, "run")?;
            run.call_async(&mut store, ()).await
        }
        .await;
        finish(r.map(|()| 0), out)
    });
    Box::new(px_wasm_call_t { fut })
}
