/* wasmtime's one thread-local, carried along with a parked guest.
 *
 * A guest runs on its actor's coroutine, called synchronously. When it
 * parks inside a host call (an ask, a take, a sleep, a yield at the end
 * of a time slice) the worker goes on with other actors, and the actor
 * may later resume on another worker thread. wasmtime keeps the guest
 * calls under way on a thread in one thread-local pointer (the newest
 * activation, linked to the older ones; bit 0 says the thread did its
 * per-thread setup, such as the signal stack). So before a park the
 * pointer is taken off the thread, which is then as if no guest ran on
 * it, and after the park it is put back on whichever thread we are on.
 * wasmtime's own fibers do the same for its async calls; doing it for our
 * coroutines lets a message cost a plain call instead of a fiber resume
 * and suspend (about 0.5 us of a 1.8 us ask).
 *
 * The variable is private to wasmtime, so its symbol is looked up in the
 * built archive (CMakeLists.txt writes px_wasmtime_tls.h for tls.c). */
#ifndef PX_WASM_TLS_H
#define PX_WASM_TLS_H

#include <stddef.h>
#include <stdint.h>

/* Takes the guest's activations off this thread (before a park) and
 * returns them. */
uintptr_t px__wasm_tls_leave(void);
/* Puts them back on the thread we resumed on, keeping that thread's own
 * setup bit (if unset, wasmtime does the setup at its next change). */
void px__wasm_tls_enter(uintptr_t t);
/* Checks, with a guest call of its own, that the variable is what the two
 * above assume (set during a guest call, clear outside, cleared by
 * leave): 0, or PX_EFAILED with the reason in err. */
int px__wasm_tls_check(char *err, size_t errcap);

#endif
