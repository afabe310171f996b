/* The scheduler: one worker thread per core, each with a run queue, a
 * "next" slot and a pool of coroutines; a global inject queue for work that
 * comes from other threads; stealing when a worker runs dry; parking on a
 * futex after a short spin.
 *
 * The scheduler runs actors but knows nothing of what is inside them: it
 * calls px__actor_run() (actor layer) for each runnable actor, and offers
 * the actor layer the coroutine operations: enter, park, die. */
#ifndef PX_RUNTIME_SCHED_H
#define PX_RUNTIME_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "plexspaces/val.h"
#include "runtime/coro.h"

struct px__actor;

#define PX__RUNQ_SIZE 256
#define PX__YIELDED_MAX 8

typedef struct px__runq {
  _Alignas(64) _Atomic(uint32_t) head; /* owner pops and thieves steal here */
  _Alignas(64) _Atomic(uint32_t) tail; /* owner pushes here */
  _Atomic(struct px__actor *) buf[PX__RUNQ_SIZE];
} px__runq;

/* What a coroutine asks the next one to do right after a switch, once it
 * is off the old stack (see sched.c, "Turns and stacks"). */
typedef enum px__post {
  PX__POST_NONE = 0,
  PX__POST_PARK,     /* actor `a` parked on `co`: it now owns `co` */
  PX__POST_RELEASE,  /* `co` finished a resumed turn: back to the pool */
  PX__POST_DIE,      /* actor `a` exited on `co`: free both */
  PX__POST_OVERFLOW, /* actor `a` overflowed the stack of `co` */
  PX__POST_RUN,      /* run a turn of `a` here (special stack size) */
} px__post;

typedef struct px__coro_pool {
  size_t size;
  px__coro *free;
  int count;
} px__coro_pool;

#define PX__CORO_POOLS 4

typedef struct px__worker {
  int id;
  pthread_t thread;
  px__ctx native_ctx;        /* the thread's own stack (start and stop) */
  px__coro *running;         /* coroutine running on this worker */
  px__post post;             /* pending hand-over, see px__post */
  struct px__actor *post_actor;
  px__coro *post_co;
  struct px__actor *current; /* actor whose turn is running */
  uint32_t sends;            /* messages sent in the current turn */
  uint32_t reductions;       /* runtime calls in the current turn */
  /* LIFO slot: run next. Only the owner uses it, except that an idle
   * worker may take it from a turn that runs long (sched.c, "The next
   * slot"); the owner's side costs no atomic read-modify-write. */
  _Atomic(struct px__actor *) next;
  _Atomic(bool) next_stolen;    /* check `stolen` under steal_lock */
  _Atomic(uint32_t) turns;      /* turns started: the watchdog spots a long one */
  int next_streak;
  /* Handlers that yielded (reductions), oldest first: served by the owner
   * only, after its next slot and ring, so that a yielder and the actor
   * it woke stay on one core. Overflow goes to the ring. */
  struct px__actor *yielded[PX__YIELDED_MAX];
  int nyielded;
  /* Thieves' side, on its own cache lines so that idle workers looking at
   * it do not slow the owner. Set by the watchdog: the actor stuck in
   * `next` during turn stuck_turn (a thief takes it if both still hold). */
  _Alignas(64) _Atomic(struct px__actor *) stuck_next;
  _Atomic(uint32_t) stuck_turn;
  pthread_mutex_t steal_lock;
  struct px__actor *stolen;     /* what a thief took, until the owner looks */
  px__runq rq;
  px__coro_pool pools[PX__CORO_POOLS];
  _Atomic(uint32_t) sleeping; /* futex word: 1 while parked */
  void *altstack;
  uint64_t rng;

  /* Per-type counters sharded per worker (indexed by type id). */
  uint64_t (*type_counters)[4];
} px__worker;

enum { PX__C_MESSAGES = 0, PX__C_ERRORS = 1, PX__C_DROPS = 2 };
/* Stats slots: one per (type, tenant, namespace, label) in use. */
#define PX__MAX_TYPES 4096

typedef struct px__sched_opts {
  int workers;
  size_t stack_size;
  int batch;
  int spin_us;
} px__sched_opts;

int px__sched_start(const px__sched_opts *o);
/* Stops and joins the workers (after the actor layer killed everything). */
void px__sched_stop(void);

/* The worker running on this thread, or NULL for other threads. Not
 * inlined so that a coroutine that migrated between threads re-reads it. */
px__worker *px__sched_worker(void);
/* The same, inlined: only for code that cannot park between the read and
 * the last use (a park may resume the coroutine on another thread). */
extern _Thread_local px__worker *px__tls_worker;
static inline px__worker *px__sched_worker_here(void) { return px__tls_worker; }
extern int px__sched_batch_size;

/* A polite busy-wait step (pause on x86, yield on AArch64). */
static inline void px__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}
int px__sched_nworkers(void);
px__worker *px__sched_worker_at(int i);
size_t px__sched_default_stack(void);

/* Makes a runnable actor known to the scheduler. From a worker it goes to
 * that worker ("next" slot, so talking actors stay on one core); from
 * other threads to the inject queue, waking a parked worker. */
void px__sched_schedule(struct px__actor *a);
/* Re-queues an actor at the back of this worker's queue (end of batch). */
void px__sched_requeue(px__worker *w, struct px__actor *a);

/* From the worker loop: resumes the parked handler on `co` and returns
 * when its turn is over or it parked again. */
void px__sched_resume(px__worker *w, px__coro *co);
/* From the worker loop: runs a turn of `a` on a stack of `size` bytes
 * (actor types with their own stack size). */
void px__sched_run_on(px__worker *w, struct px__actor *a, size_t size);
/* From a handler: parks actor `a`, which keeps the running coroutine; the
 * worker goes on elsewhere. Returns when the actor is resumed, possibly on
 * another worker thread. */
void px__sched_park(struct px__actor *a);
/* From a handler, after the actor's exit processing: abandons the stack
 * and frees the actor's slot. Never returns. */
_Noreturn void px__sched_die(struct px__actor *a);
/* Called by a sender after many sends in one turn: lets another worker
 * take what this one queued (a producer that never yields). */
void px__sched_share(px__worker *w);
/* Re-queues a handler that yields: no peer is woken for it. */
void px__sched_requeue_quiet(px__worker *w, struct px__actor *a);

/* Reductions, as in Erlang: a handler that makes this many tuple-space
 * calls in one turn yields at the next one (px__yield_slow, actor layer),
 * so the actors it made runnable run before it goes on. With may_die the
 * yield is also a kill point: only where the caller owns nothing that an
 * abandoned stack would leak. */
#define PX__REDUCTIONS 64
void px__yield_slow(bool may_die);
/* A yield for a caller with frames of its own to unwind before its actor
 * may die (a WASM guest mid-call): never a kill point. True, with the
 * reason, when the actor was told to die (before or during the yield):
 * the caller unwinds and then calls px__die_doomed(reason), which does
 * not return in a handler. */
bool px__yield_doomed(px_val *reason);
void px__die_doomed(px_val reason);
static inline void px__reduce(bool may_die) {
  px__worker *w = px__tls_worker;
  if (w && ++w->reductions >= PX__REDUCTIONS) px__yield_slow(may_die);
}

/* Whether this worker's next slot holds an actor (owner only). */
static inline bool px__sched_has_next(px__worker *w) {
  return atomic_load_explicit(&w->next, memory_order_relaxed) != NULL;
}

/* Implemented by the actor layer. */
void px__actor_run(px__worker *w, struct px__actor *a);
/* One turn of a not-parked actor, ending with its re-queue or idling. */
void px__actor_run_turn(struct px__actor *a);
/* After a park: the actor owns `co` (stored by the actor layer) and is
 * re-queued or left idle. Runs on the new stack. */
void px__actor_parked(px__worker *w, struct px__actor *a, px__coro *co);
/* After an exit or overflow on a handler's stack. */
void px__actor_died(px__worker *w, struct px__actor *a, bool overflow);

#endif
