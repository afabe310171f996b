/* Scheduler: workers, run queues, stealing, parking, coroutine turns.
 *
 * The local run queue is hand-written (no packaged library has a bounded
 * single-producer ring whose head is shared by owner and thieves with a
 * CAS): the owner pushes at the tail, the owner and thieves take from the
 * head, so a worker runs its actors in FIFO order and a thief takes the
 * oldest. Overflow spills half the ring to the global inject queue.
 *
 * Wake-ups across cores cost ~25 us here, so a worker wakes a parked peer
 * only when its own ring holds work it cannot start now; messages between
 * two actors stay on one worker via the "next" slot.
 *
 * The next slot: an actor made runnable by a handler waits there for that
 * handler's turn to end, which keeps a pair of talking actors on one core.
 * But a turn may run long (a producer looping in one handler), and then
 * the actor in the slot would wait for all of it while another core idles.
 * Handlers that call the tuple space yield every PX__REDUCTIONS calls
 * (sched.h); a yielded actor waits in its worker's `yielded` list, which
 * only the owner serves (after its next slot and ring), so that it and
 * the actor it woke stay on one core. For handlers that do not yield, a
 * watchdog thread (awake only while some worker sleeps and some does not)
 * looks for an actor
 * that has sat in a next slot through one turn for LONG_TURN_NS, marks it
 * stuck and wakes an idle worker, which takes it (and wakes one for a
 * queue that waits behind a long turn, which it may steal anyway). It
 * also wakes one for an inject queue that stays non-empty that long:
 * wake_one skips the wake while a worker spins, and a spinner takes only
 * one actor, then may start a long turn of its own.
 *
 * Taking from a next slot keeps the owner's per-message cost at plain
 * loads and stores with an asymmetric Dekker handshake: the owner stores
 * to the slot, then reads the flag `next_stolen` (a compiler barrier
 * between); the thief sets the flag, runs membarrier(PRIVATE_EXPEDITED),
 * which puts a full barrier into every running thread of the process, then
 * takes the slot with a CAS and records what it took in `stolen`. Either
 * the owner's store was visible before the barrier (the thief's CAS sees
 * it) or the owner's flag read comes after it (the owner sees the flag and
 * settles under steal_lock whether what it holds was taken). Without
 * membarrier (old kernels) nothing is ever taken from a next slot. */
#include "runtime/sched.h"

#include <errno.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/futex.h"
#include "core/mem.h"
#include "plexspaces/core.h"

typedef struct inject_q {
  pthread_mutex_t lock;
  struct px__actor **buf;
  size_t cap, head, len;
  _Atomic(size_t) count; /* len, readable without the lock */
} inject_q;

static struct {
  px__worker *workers;
  int n;
  size_t stack_size;
  int spin_us;
  inject_q inject;
  _Atomic(int) sleeping;
  _Atomic(int) spinning;
  _Atomic(bool) stopping;
  bool membarrier; /* registered: next slots may be taken (see top) */
  pthread_t watchdog;
  bool has_watchdog;
  _Atomic(uint32_t) watch_sleeping; /* futex word: 1 while the watchdog is */
  _Atomic(bool) stuck; /* the watchdog marked some next slot stuck */
  struct sigaction old_segv;
} S;

/* How long a worker must stay in one turn before an idle worker takes what
 * waits behind it. Well above a slice of PX__REDUCTIONS calls (10-20 us
 * of tuple-space work), so that actors which yield keep the partners they
 * wake on their core (splitting such a pair across cores measured 3x
 * slower in ts_pairs); Erlang's own slice is of the same order. */
#define LONG_TURN_NS 200000u
/* The watchdog's period while some worker sleeps and some is awake. */
#define WATCH_PERIOD_NS 250000L

_Thread_local px__worker *px__tls_worker;
int px__sched_batch_size = 64;
#define tls_worker px__tls_worker

__attribute__((noinline)) px__worker *px__sched_worker(void) {
  /* The empty asm keeps the compiler from caching the thread-local's
   * address across a coroutine switch that moved us to another thread. */
  __asm__ volatile("" ::: "memory");
  return tls_worker;
}

int px__sched_nworkers(void) { return S.n; }
px__worker *px__sched_worker_at(int i) { return &S.workers[i]; }
size_t px__sched_default_stack(void) { return S.stack_size; }

/* ---- inject queue -------------------------------------------------------- */

static void inject_push_locked(struct px__actor *a) {
  inject_q *q = &S.inject;
  if (q->len == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 256;
    struct px__actor **nb = px__xmalloc(ncap * sizeof *nb);
    for (size_t i = 0; i < q->len; i++) nb[i] = q->buf[(q->head + i) % q->cap];
    free(q->buf);
    q->buf = nb;
    q->cap = ncap;
    q->head = 0;
  }
  q->buf[(q->head + q->len) % q->cap] = a;
  q->len++;
  atomic_store_explicit(&q->count, q->len, memory_order_release);
}

static struct px__actor *inject_pop(void) {
  inject_q *q = &S.inject;
  /* acquire: pairs with the release in push so a non-zero count means the
   * entry is visible once we hold the lock (the lock orders it anyway). */
  if (atomic_load_explicit(&q->count, memory_order_acquire) == 0) return NULL;
  pthread_mutex_lock(&q->lock);
  struct px__actor *a = NULL;
  if (q->len) {
    a = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    atomic_store_explicit(&q->count, q->len, memory_order_release);
  }
  pthread_mutex_unlock(&q->lock);
  return a;
}

/* ---- local ring ---------------------------------------------------------- */

static uint32_t runq_len(px__runq *q) {
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
  return t - h;
}

static void runq_push(px__runq *q, struct px__actor *a) {
  for (;;) {
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    /* acquire: see thieves' head advances before reusing their slots. */
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (t - h < PX__RUNQ_SIZE) {
      atomic_store_explicit(&q->buf[t % PX__RUNQ_SIZE], a,
                            memory_order_relaxed);
      /* release: a thief that reads the new tail sees the slot. */
      atomic_store_explicit(&q->tail, t + 1, memory_order_release);
      return;
    }
    /* Full: move half to the inject queue, then retry. */
    uint32_t half = PX__RUNQ_SIZE / 2;
    if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + half,
                                                 memory_order_acq_rel,
                                                 memory_order_relaxed))
      continue;
    pthread_mutex_lock(&S.inject.lock);
    for (uint32_t i = 0; i < half; i++)
      inject_push_locked(atomic_load_explicit(
          &q->buf[(h + i) % PX__RUNQ_SIZE], memory_order_relaxed));
    pthread_mutex_unlock(&S.inject.lock);
  }
}

static struct px__actor *runq_pop(px__runq *q) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (h == t) return NULL;
    struct px__actor *a =
        atomic_load_explicit(&q->buf[h % PX__RUNQ_SIZE], memory_order_relaxed);
    /* acq_rel: claim the slot against thieves. */
    if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1,
                                              memory_order_acq_rel,
                                              memory_order_relaxed))
      return a;
  }
}

/* ---- the next slot (see top) --------------------------------------------- */

/* Owner, with the flag seen set: was `held` (just read from the slot)
 * taken by a thief? Returns it, or NULL if it was. Clears the record. */
static struct px__actor *next_settle(px__worker *w, struct px__actor *held) {
  pthread_mutex_lock(&w->steal_lock);
  if (held && w->stolen == held) held = NULL;
  w->stolen = NULL;
  atomic_store_explicit(&w->next_stolen, false, memory_order_relaxed);
  pthread_mutex_unlock(&w->steal_lock);
  return held;
}

/* Owner: empties the slot; returns what it held (not taken by a thief). */
static inline struct px__actor *next_take(px__worker *w) {
  struct px__actor *a = atomic_load_explicit(&w->next, memory_order_relaxed);
  if (!a) return NULL;
  atomic_store_explicit(&w->next, NULL, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&w->next_stolen, memory_order_relaxed))
    a = next_settle(w, a);
  return a;
}

/* Owner: puts `a` in the slot; returns the actor it displaced, if any. */
static inline struct px__actor *next_put(px__worker *w, struct px__actor *a) {
  struct px__actor *old =
      atomic_load_explicit(&w->next, memory_order_relaxed);
  /* release: a thief that takes `a` sees what made it runnable */
  atomic_store_explicit(&w->next, a, memory_order_release);
  atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&w->next_stolen, memory_order_relaxed))
    old = next_settle(w, old);
  return old;
}

/* Thief: takes x from v's next slot if it is still there. */
static struct px__actor *next_steal(px__worker *v, struct px__actor *x) {
  pthread_mutex_lock(&v->steal_lock);
  atomic_store_explicit(&v->next_stolen, true, memory_order_relaxed);
  syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  struct px__actor *got = NULL;
  /* acquire: pairs with the owner's release store of x */
  if (atomic_compare_exchange_strong_explicit(&v->next, &x, NULL,
                                              memory_order_acquire,
                                              memory_order_relaxed)) {
    v->stolen = x;
    got = x;
  }
  pthread_mutex_unlock(&v->steal_lock);
  return got;
}

/* Thief: the actor the watchdog found stuck in a peer's next slot, taken
 * if it is still there in the same turn; else NULL. */
static struct px__actor *steal_stuck(px__worker *w) {
  if (!atomic_load_explicit(&S.stuck, memory_order_relaxed)) return NULL;
  for (int i = 0; i < S.n; i++) {
    px__worker *v = &S.workers[i];
    if (v == w) continue;
    struct px__actor *x =
        atomic_load_explicit(&v->stuck_next, memory_order_relaxed);
    if (!x ||
        atomic_load_explicit(&v->stuck_turn, memory_order_relaxed) !=
            atomic_load_explicit(&v->turns, memory_order_relaxed) ||
        atomic_load_explicit(&v->next, memory_order_relaxed) != x)
      continue;
    atomic_store_explicit(&v->stuck_next, NULL, memory_order_relaxed);
    if ((x = next_steal(v, x))) return x;
  }
  return NULL;
}

/* ---- waking and parking -------------------------------------------------- */

/* The watchdog sleeps unless some worker sleeps and some is awake (only
 * then can work wait behind a long turn with nobody to take it). A change
 * of `sleeping` wakes it; seq_cst pairs with its flag store before its
 * last look at `sleeping` (Dekker). */
static void watchdog_poke(void) {
  if (atomic_load_explicit(&S.watch_sleeping, memory_order_seq_cst) &&
      atomic_exchange_explicit(&S.watch_sleeping, 0, memory_order_seq_cst))
    px__futex_wake(&S.watch_sleeping, 1);
}

static void sleeping_inc(void) {
  atomic_fetch_add_explicit(&S.sleeping, 1, memory_order_seq_cst);
  watchdog_poke();
}

static void sleeping_dec(void) {
  atomic_fetch_sub_explicit(&S.sleeping, 1, memory_order_seq_cst);
  watchdog_poke();
}

static void wake_one(px__worker *self) {
  /* Pairs with the sleeper's seq_cst increment before its final check for
   * work (Dekker), so either we see it asleep or it sees our work. The
   * work was published by a release store (a ring's tail), which a later
   * load may pass without a full fence. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&S.sleeping, memory_order_seq_cst) == 0) return;
  if (atomic_load_explicit(&S.spinning, memory_order_seq_cst) > 0) return;
  for (int i = 0; i < S.n; i++) {
    px__worker *w = &S.workers[i];
    if (w == self) continue;
    uint32_t one = 1;
    if (atomic_compare_exchange_strong_explicit(&w->sleeping, &one, 0,
                                                memory_order_seq_cst,
                                                memory_order_relaxed)) {
      sleeping_dec();
      px__futex_wake(&w->sleeping, 1);
      return;
    }
  }
}

static void wake_all(void) {
  for (int i = 0; i < S.n; i++) {
    px__worker *w = &S.workers[i];
    atomic_store_explicit(&w->sleeping, 0, memory_order_seq_cst);
    px__futex_wake(&w->sleeping, INT_MAX);
  }
}

void px__sched_schedule(struct px__actor *a) {
  px__worker *w = tls_worker;
  if (w) {
    struct px__actor *old = next_put(w, a);
    if (old) {
      runq_push(&w->rq, old);
      wake_one(w);
    }
    return;
  }
  pthread_mutex_lock(&S.inject.lock);
  inject_push_locked(a);
  pthread_mutex_unlock(&S.inject.lock);
  wake_one(NULL);
}

void px__sched_requeue(px__worker *w, struct px__actor *a) {
  runq_push(&w->rq, a);
  if (runq_len(&w->rq) > 1 || px__sched_has_next(w)) wake_one(w);
}

void px__sched_requeue_quiet(px__worker *w, struct px__actor *a) {
  /* A yield lets what came from other threads go first too: an actor that
   * keeps yielding would otherwise keep this worker busy while the inject
   * queue (served after the ring) waits. */
  struct px__actor *x = inject_pop();
  if (x) runq_push(&w->rq, x);
  if (w->nyielded < PX__YIELDED_MAX)
    w->yielded[w->nyielded++] = a;
  else
    runq_push(&w->rq, a);
}

static struct px__actor *yielded_pop(px__worker *w) {
  struct px__actor *a = w->yielded[0];
  w->nyielded--;
  memmove(&w->yielded[0], &w->yielded[1],
          (size_t)w->nyielded * sizeof w->yielded[0]);
  return a;
}

static struct px__actor *steal(px__worker *w) {
  int n = S.n;
  if (n < 2) return NULL;
  uint64_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  w->rng = x;
  int start = (int)(x % (uint64_t)n);
  for (int k = 0; k < n; k++) {
    px__worker *v = &S.workers[(start + k) % n];
    if (v == w) continue;
    struct px__actor *a = runq_pop(&v->rq);
    if (a) return a;
  }
  return NULL;
}

/* Work this worker would take at once: its own, injected, or stealable. */
static bool work_visible(px__worker *w) {
  if (atomic_load_explicit(&S.inject.count, memory_order_seq_cst)) return true;
  if (px__sched_has_next(w) || w->nyielded) return true;
  for (int i = 0; i < S.n; i++) /* its own ring and its peers' */
    if (runq_len(&S.workers[i].rq)) return true;
  return false;
}

static struct px__actor *find_work(px__worker *w) {
  struct px__actor *a;
  /* The next slot goes first, but after 64 in a row it yields to what is
   * waiting in the ring, the yielded list or the inject queue. With nothing
   * waiting it keeps going: moving it through the ring would only invite
   * an idle worker to steal one of two actors that talk to each other. */
  if (px__sched_has_next(w) &&
      (w->next_streak < 64 ||
       (runq_len(&w->rq) == 0 && w->nyielded == 0 &&
        atomic_load_explicit(&S.inject.count, memory_order_relaxed) == 0))) {
    w->next_streak++;
    if ((a = next_take(w))) return a;
  }
  w->next_streak = 0;
  /* Fairness: the next slot waits behind the ring. */
  if ((a = next_take(w))) runq_push(&w->rq, a);
  if ((a = runq_pop(&w->rq))) return a;
  if (w->nyielded) return yielded_pop(w);
  if ((a = inject_pop())) return a;
  return steal(w);
}

/* Runs dry: spins a little, then sleeps until woken. While spinning it may
 * take an actor stuck behind a long turn (see top); that actor goes to
 * this worker's ring. */
static void park(px__worker *w) {
  /* Spin a little first: a wake-up through the futex costs far more than a
   * few microseconds of polling when work comes right back. */
  atomic_fetch_add_explicit(&S.spinning, 1, memory_order_seq_cst);
  uint64_t until = px_now_ns() + (uint64_t)S.spin_us * 1000u;
  bool seen = false;
  while (!atomic_load_explicit(&S.stopping, memory_order_acquire)) {
    if (work_visible(w)) {
      seen = true;
      break;
    }
    struct px__actor *x = steal_stuck(w);
    if (x) {
      runq_push(&w->rq, x);
      seen = true;
      break;
    }
    for (int i = 0; i < 64; i++) px__cpu_relax();
    if (px_now_ns() >= until) break;
  }
  atomic_fetch_sub_explicit(&S.spinning, 1, memory_order_seq_cst);
  if (seen || atomic_load_explicit(&S.stopping, memory_order_acquire)) return;

  atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
  sleeping_inc();
  if (work_visible(w) ||
      atomic_load_explicit(&S.stopping, memory_order_acquire)) {
    uint32_t one = 1;
    if (atomic_compare_exchange_strong_explicit(&w->sleeping, &one, 0,
                                                memory_order_seq_cst,
                                                memory_order_relaxed))
      sleeping_dec();
    return;
  }
  while (atomic_load_explicit(&w->sleeping, memory_order_acquire) == 1) {
    px__futex_wait(&w->sleeping, 1, NULL);
    if (atomic_load_explicit(&S.stopping, memory_order_acquire)) break;
  }
  uint32_t one = 1;
  if (atomic_compare_exchange_strong_explicit(&w->sleeping, &one, 0,
                                              memory_order_seq_cst,
                                              memory_order_relaxed))
    sleeping_dec();
}

/* ---- turns and stacks ----------------------------------------------------
 *
 * The worker loop itself runs on a pooled coroutine, and a turn is a plain
 * call from it: a handler that does not block costs no switch at all. When
 * a handler parks, its actor keeps the coroutine (handler frames and the
 * loop frames under them) and the worker goes on in a fresh loop
 * coroutine. When the actor is resumed, the resuming loop switches to it;
 * the turn finishes on the old frames, and that coroutine switches back to
 * its resumer and returns to the pool. Whatever must happen after a switch
 * (give the stack to the actor, free a dead actor's stack) is posted to
 * the next coroutine, which does it once it is off the old stack. */

static void loop_body(void *arg);

static px__coro_pool *pool_for(px__worker *w, size_t size) {
  for (int i = 0; i < PX__CORO_POOLS; i++)
    if (w->pools[i].size == size) return &w->pools[i];
  for (int i = 0; i < PX__CORO_POOLS; i++)
    if (w->pools[i].size == 0) {
      w->pools[i].size = size;
      return &w->pools[i];
    }
  return NULL;
}

/* A coroutine armed to start the worker loop. */
static px__coro *coro_get(px__worker *w, size_t size) {
  px__coro_pool *p = pool_for(w, size);
  if (p && p->free) {
    px__coro *co = p->free;
    p->free = co->next;
    p->count--;
    return co;
  }
  px__coro *co = px__coro_new(size, loop_body, NULL);
  co->arg = co; /* the body needs its own coroutine */
  px__coro_reset(co);
  return co;
}

static void coro_release(px__worker *w, px__coro *co) {
  co->resumer = NULL;
  px__coro_reset(co);
  px__coro_pool *p = pool_for(w, co->size);
  if (!p || p->count >= 64) {
    px__coro_free(co);
    return;
  }
  co->next = p->free;
  p->free = co;
  p->count++;
}

static void post(px__worker *w, px__post what, struct px__actor *a,
                 px__coro *co) {
  w->post = what;
  w->post_actor = a;
  w->post_co = co;
}

static void do_post(px__worker *w) {
  px__post what = w->post;
  struct px__actor *a = w->post_actor;
  px__coro *co = w->post_co;
  w->post = PX__POST_NONE;
  w->post_actor = NULL;
  w->post_co = NULL;
  switch (what) {
  case PX__POST_NONE:
    break;
  case PX__POST_PARK:
    w->current = NULL;
    px__actor_parked(w, a, co);
    break;
  case PX__POST_RELEASE:
    coro_release(w, co);
    break;
  case PX__POST_DIE:
  case PX__POST_OVERFLOW:
    w->current = NULL;
    coro_release(w, co);
    px__actor_died(w, a, what == PX__POST_OVERFLOW);
    break;
  case PX__POST_RUN:
    w->current = a;
    px__actor_run_turn(a);
    px__sched_worker()->current = NULL;
    break;
  }
}

static inline void process_post(px__worker *w) {
  if (w->post != PX__POST_NONE) do_post(w);
}

/* Leaves the running coroutine `from` for `to` (a resumer, or a fresh loop
 * coroutine when there is none), posting `what`. */
static void hand_over(px__worker *w, px__coro *from, px__post what,
                      struct px__actor *a, bool dying) {
  px__coro *to = from->resumer;
  from->resumer = NULL;
  if (!to) to = coro_get(w, S.stack_size);
  post(w, what, a, from);
  w->running = to;
  px__ctx_jump(&from->ctx, &to->ctx, dying);
}

static void loop_body(void *arg) {
  px__coro *me = arg;
  px__ctx_entered(NULL);
  for (;;) {
    px__worker *w = px__sched_worker();
    process_post(w);
    if (me->resumer) {
      /* A resumed turn is over: back to the loop that resumed us. */
      hand_over(w, me, PX__POST_RELEASE, NULL, true);
      continue; /* not reached: a released coroutine restarts afresh */
    }
    if (atomic_load_explicit(&S.stopping, memory_order_acquire)) {
      post(w, PX__POST_RELEASE, NULL, me);
      w->running = NULL;
      px__ctx_jump(&me->ctx, &w->native_ctx, true);
      continue;
    }
    struct px__actor *a = find_work(w);
    if (!a) {
      park(w);
      continue;
    }
    w->sends = 0;
    w->reductions = 0;
    atomic_store_explicit(&w->turns,
                          atomic_load_explicit(&w->turns,
                                               memory_order_relaxed) + 1,
                          memory_order_relaxed);
    px__actor_run(w, a);
  }
}

void px__sched_resume(px__worker *w, px__coro *co) {
  px__coro *me = w->running;
  co->resumer = me;
  w->running = co;
  px__ctx_jump(&me->ctx, &co->ctx, false);
  process_post(px__sched_worker());
}

void px__sched_run_on(px__worker *w, struct px__actor *a, size_t size) {
  px__coro *me = w->running;
  px__coro *co = coro_get(w, size);
  co->resumer = me;
  post(w, PX__POST_RUN, a, NULL);
  w->running = co;
  px__ctx_jump(&me->ctx, &co->ctx, false);
  process_post(px__sched_worker());
}

void px__sched_park(struct px__actor *a) {
  px__worker *w = px__sched_worker();
  hand_over(w, w->running, PX__POST_PARK, a, false);
  /* Resumed: by now we may be on another worker thread. */
}

_Noreturn void px__sched_die(struct px__actor *a) {
  px__worker *w = px__sched_worker();
  hand_over(w, w->running, PX__POST_DIE, a, true);
  px_panic("a dead coroutine was resumed");
}

void px__sched_share(px__worker *w) {
  struct px__actor *a = next_take(w);
  if (a) {
    runq_push(&w->rq, a);
    wake_one(w);
  }
}

/* A fault in the guard page of the running coroutine is a stack overflow:
 * that actor dies with stack_overflow and the worker carries on. Any other
 * fault is a real crash and goes to the previous handler. */
static void segv_handler(int sig, siginfo_t *si, void *uctx) {
  px__worker *w = tls_worker;
  if (w && w->running && w->current &&
      px__coro_in_guard(w->running, si->si_addr)) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    /* Leave the overflowed stack for good; the next loop coroutine
     * finishes the actor with reason stack_overflow. */
    hand_over(w, w->running, PX__POST_OVERFLOW, w->current, true);
  }
  if (S.old_segv.sa_flags & SA_SIGINFO && S.old_segv.sa_sigaction) {
    S.old_segv.sa_sigaction(sig, si, uctx);
    return;
  }
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

/* ---- the watchdog (see top) ----------------------------------------------- */

static void *watchdog_main(void *arg) {
  (void)arg;
  /* per worker: the turn, and what waited in its next slot and its ring
   * since when (0: nothing) */
  struct px__seen {
    uint32_t turns;
    struct px__actor *next;
    uint64_t next_since, queue_since;
  } *seen = px__xcalloc((size_t)S.n, sizeof *seen);
  uint64_t inject_since = 0; /* the inject queue non-empty since (0: not) */
  while (!atomic_load_explicit(&S.stopping, memory_order_acquire)) {
    int sl = atomic_load_explicit(&S.sleeping, memory_order_seq_cst);
    if (sl == 0 || sl == S.n) {
      /* all busy or all asleep: sleep until that changes (watchdog_poke) */
      atomic_store_explicit(&S.watch_sleeping, 1, memory_order_seq_cst);
      if (atomic_load_explicit(&S.sleeping, memory_order_seq_cst) == sl &&
          !atomic_load_explicit(&S.stopping, memory_order_seq_cst))
        px__futex_wait(&S.watch_sleeping, 1, NULL);
      atomic_store_explicit(&S.watch_sleeping, 0, memory_order_seq_cst);
      memset(seen, 0, (size_t)S.n * sizeof *seen);
      inject_since = 0;
      continue;
    }
    struct timespec ts = {0, WATCH_PERIOD_NS};
    nanosleep(&ts, NULL);
    uint64_t now = px_now_ns();
    bool wake = false, stuck = false;
    for (int i = 0; i < S.n; i++) {
      px__worker *v = &S.workers[i];
      struct px__seen *e = &seen[i];
      uint32_t t = atomic_load_explicit(&v->turns, memory_order_relaxed);
      struct px__actor *x =
          atomic_load_explicit(&v->next, memory_order_relaxed);
      bool queued = runq_len(&v->rq) != 0;
      if (t != e->turns) {
        e->turns = t;
        e->next = NULL;
        e->next_since = e->queue_since = 0;
      }
      /* the same actor in the next slot through the same turn */
      if (!x || x != e->next) {
        e->next = x;
        e->next_since = x ? now : 0;
      } else if (now - e->next_since >= LONG_TURN_NS && S.membarrier) {
        atomic_store_explicit(&v->stuck_turn, t, memory_order_relaxed);
        atomic_store_explicit(&v->stuck_next, x, memory_order_relaxed);
        wake = stuck = true;
      }
      /* a queue behind the same turn (a woken worker steals it) */
      if (!queued) {
        e->queue_since = 0;
      } else if (!e->queue_since) {
        e->queue_since = now;
      } else if (now - e->queue_since >= LONG_TURN_NS) {
        wake = true;
      }
    }
    if (!atomic_load_explicit(&S.inject.count, memory_order_relaxed))
      inject_since = 0;
    else if (!inject_since)
      inject_since = now;
    else if (now - inject_since >= LONG_TURN_NS)
      wake = true;
    if (atomic_load_explicit(&S.stuck, memory_order_relaxed) != stuck)
      atomic_store_explicit(&S.stuck, stuck, memory_order_relaxed);
    if (wake) wake_one(NULL);
  }
  free(seen);
  return NULL;
}

/* ---- worker threads ------------------------------------------------------ */

static void *worker_main(void *arg) {
  px__worker *w = arg;
  tls_worker = w;
  px__ctx_init_native(&w->native_ctx);
  stack_t ss = {.ss_sp = w->altstack, .ss_size = 64 * 1024, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  px__coro *co = coro_get(w, S.stack_size);
  w->running = co;
  px__ctx_jump(&w->native_ctx, &co->ctx, false);
  /* Back when the runtime stops. */
  process_post(w);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  px__ctx_destroy_native(&w->native_ctx);
  tls_worker = NULL;
  return NULL;
}

int px__sched_start(const px__sched_opts *o) {
  memset(&S, 0, sizeof S);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  S.n = o->workers > 0 ? o->workers : (int)(cores > 0 ? cores : 1);
  S.stack_size = o->stack_size ? o->stack_size : 128 * 1024;
  px__sched_batch_size = o->batch > 0 ? o->batch : 64;
  S.spin_us = o->spin_us > 0 ? o->spin_us : 50;
  pthread_mutex_init(&S.inject.lock, NULL);
  S.workers = px__xcalloc((size_t)S.n, sizeof *S.workers);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &S.old_segv);

  for (int i = 0; i < S.n; i++) {
    px__worker *w = &S.workers[i];
    w->id = i;
    w->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    w->altstack = px__xmalloc(64 * 1024);
    w->type_counters = px__xcalloc(PX__MAX_TYPES, sizeof *w->type_counters);
    pthread_mutex_init(&w->steal_lock, NULL);
  }
  S.membarrier = S.n > 1 && syscall(SYS_membarrier,
                                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                                    0, 0) == 0;
  for (int i = 0; i < S.n; i++)
    if (pthread_create(&S.workers[i].thread, NULL, worker_main,
                       &S.workers[i]) != 0)
      px_panic("cannot start worker thread %d", i);
  S.has_watchdog = S.n > 1;
  if (S.has_watchdog &&
      pthread_create(&S.watchdog, NULL, watchdog_main, NULL) != 0)
    px_panic("cannot start the scheduler's watchdog");
  return 0;
}

void px__sched_stop(void) {
  atomic_store_explicit(&S.stopping, true, memory_order_release);
  wake_all();
  for (int i = 0; i < S.n; i++) pthread_join(S.workers[i].thread, NULL);
  if (S.has_watchdog) {
    /* stopping is set: ending its wait ends it */
    atomic_store_explicit(&S.watch_sleeping, 0, memory_order_seq_cst);
    px__futex_wake(&S.watch_sleeping, 1);
    pthread_join(S.watchdog, NULL);
  }
  sigaction(SIGSEGV, &S.old_segv, NULL);
  for (int i = 0; i < S.n; i++) {
    px__worker *w = &S.workers[i];
    for (int p = 0; p < PX__CORO_POOLS; p++) {
      px__coro *co = w->pools[p].free;
      while (co) {
        px__coro *n = co->next;
        px__coro_free(co);
        co = n;
      }
    }
    free(w->altstack);
    free(w->type_counters);
    pthread_mutex_destroy(&w->steal_lock);
  }
  free(S.workers);
  free(S.inject.buf);
  pthread_mutex_destroy(&S.inject.lock);
  S.workers = NULL;
  S.n = 0;
}
