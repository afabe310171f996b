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

#include "runtime/coro.h"

struct px__actor;

#define PX__RUNQ_SIZE 256

typedef struct px__runq {
  _Alignas(64) _Atomic(uint32_t) head; /* owner pops and thieves steal here */
  _Alignas(64) _Atomic(uint32_t) tail; /* owner pushes here */
  _Atomic(struct px__actor *) buf[PX__RUNQ_SIZE];
} px__runq;

typedef enum px__outcome {
  PX__TURN_DONE = 1, /* the turn ended; the coroutine is free */
  PX__TURN_PARKED,   /* a handler parked; the actor keeps the coroutine */
  PX__TURN_EXITED,   /* the actor exited; reset the coroutine */
  PX__TURN_OVERFLOW, /* the handler overflowed its stack */
} px__outcome;

typedef struct px__coro_pool {
  size_t size;
  px__coro *free;
  int count;
} px__coro_pool;

#define PX__CORO_POOLS 4

typedef struct px__worker {
  int id;
  pthread_t thread;
  px__ctx sched_ctx;         /* the worker's native stack */
  px__coro *running;         /* coroutine now switched in */
  px__outcome outcome;
  struct px__actor *current; /* actor whose turn is running */
  struct px__actor *next;    /* LIFO slot: run next, not stealable */
  int next_streak;
  px__runq rq;
  px__coro_pool pools[PX__CORO_POOLS];
  _Atomic(uint32_t) sleeping; /* futex word: 1 while parked */
  void *altstack;
  uint64_t rng;
  /* Per-type counters sharded per worker (indexed by type id). */
  uint64_t (*type_counters)[4];
} px__worker;

enum { PX__C_MESSAGES = 0, PX__C_ERRORS = 1, PX__C_DROPS = 2 };
#define PX__MAX_TYPES 1024

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
int px__sched_nworkers(void);
px__worker *px__sched_worker_at(int i);
size_t px__sched_default_stack(void);
int px__sched_batch(void);

/* Makes a runnable actor known to the scheduler. From a worker it goes to
 * that worker ("next" slot, so talking actors stay on one core); from
 * other threads to the inject queue, waking a parked worker. */
void px__sched_schedule(struct px__actor *a);
/* Re-queues an actor at the back of this worker's queue (end of batch). */
void px__sched_requeue(px__worker *w, struct px__actor *a);

/* Runs a turn of `a` on a coroutine from the pool (stack_size 0 = default)
 * or resumes `co` if given; returns how the turn ended. *co_out gets the
 * coroutine used. */
px__outcome px__sched_enter(px__worker *w, struct px__actor *a, px__coro *co,
                            size_t stack_size, px__coro **co_out);
/* Returns a coroutine to the worker's pool (after DONE or reset). */
void px__sched_coro_release(px__worker *w, px__coro *co);
/* From inside a coroutine: back to the scheduler as PARKED; returns when
 * the actor is resumed (possibly on another worker). */
void px__sched_park(void);
/* From inside a coroutine: back to the scheduler as EXITED, never
 * returns. */
_Noreturn void px__sched_die(void);

/* Implemented by the actor layer. */
void px__actor_run(px__worker *w, struct px__actor *a);
void px__actor_turn(struct px__actor *a);

#endif
