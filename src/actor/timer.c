/* The timer service: volatile timers (send_after, intervals, ask and
 * receive timeouts). One hierarchical wheel (runtime/wheel.c) under a
 * mutex, driven by a timer thread that sleeps until the next due tick, so
 * an idle node with no timers does not wake at all. With a virtual clock
 * there is no thread: px_clock_advance() moves time and fires in the
 * caller's thread, which makes timing tests deterministic.
 *
 * Timer refs are slot index + generation, so cancelling a fired or reused
 * timer is harmless. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "actor/actor_impl.h"
#include "core/mem.h"
#include "plexspaces/core.h"
#include "runtime/wheel.h"

typedef struct tentry {
  px_wtimer w;       /* must be first */
  uint32_t index;
  uint32_t gen;      /* odd while pending */
  px_ref to;
  uint8_t kind;
  px_atom type;
  px_val payload;
  uint64_t aux;
  int64_t interval;
  struct tentry *free_next;
} tentry;

/* The wheel's lock is held for a few dozen instructions per add or cancel
 * (every ask with a timeout does both), so a spinning lock beats a mutex;
 * the timer thread sleeps on its own mutex and condition variable. */
typedef struct spin {
  _Atomic(int) held;
} spin;

static inline void spin_lock(spin *l) {
  for (;;) {
    /* acquire: the wheel's state written by the last holder is visible. */
    if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire)) return;
    int n = 0;
    while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
      if (++n < 128) {
        px__cpu_relax();
      } else {
        sched_yield(); /* the holder was preempted: give it the core */
        n = 0;
      }
    }
  }
}

static inline void spin_unlock(spin *l) {
  /* release: publishes the wheel's state to the next holder. */
  atomic_store_explicit(&l->held, 0, memory_order_release);
}

static struct {
  spin wl;               /* guards the wheel and the entries */
  pthread_mutex_t lock;  /* the timer thread's sleep */
  pthread_cond_t cond;
  pthread_t thread;
  bool running, stop, virtual_clock;
  px_wheel wheel;
  uint64_t epoch_ms;  /* real clock at start */
  _Atomic(uint64_t) vnow; /* virtual clock; read without the lock */
  uint64_t sleep_until; /* tick the thread sleeps to (UINT64_MAX: none) */
  tentry **slots;
  uint32_t nslots, capslots;
  tentry *free;
} TM = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static uint64_t now_tick(void) {
  return TM.virtual_clock
             ? atomic_load_explicit(&TM.vnow, memory_order_acquire)
             : px_now_ms() - TM.epoch_ms;
}

/* The tick an ask's timeout counts from. Every ask with a timeout adds a
 * timer, and the precise clock costs as much as a tenth of an ask; the
 * coarse clock is cheap but may lag by up to its resolution, so that
 * resolution is added: an ask may time out that much late, never early.
 * Other timers use the precise clock. */
static uint64_t coarse_res_ms = 1;

static uint64_t start_tick(void) {
  if (TM.virtual_clock)
    return atomic_load_explicit(&TM.vnow, memory_order_acquire);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  ms += coarse_res_ms;
  return ms > TM.epoch_ms ? ms - TM.epoch_ms : 0;
}

/* Lock-free: the epoch is fixed once the runtime runs, and the virtual
 * time is an atomic. Leases and timeouts read it on every operation. */
uint64_t px_clock_ms(void) { return now_tick(); }

static tentry *entry_alloc(void) {
  tentry *e = TM.free;
  if (e) {
    TM.free = e->free_next;
    return e;
  }
  if (TM.nslots == TM.capslots) {
    TM.capslots = TM.capslots ? TM.capslots * 2 : 1024;
    TM.slots = px__xrealloc(TM.slots, TM.capslots * sizeof *TM.slots);
  }
  e = px__xcalloc(1, sizeof *e);
  e->index = TM.nslots;
  TM.slots[TM.nslots++] = e;
  return e;
}

static void entry_free(tentry *e) {
  px_val_release(e->payload);
  e->payload = px_nil();
  e->gen++; /* even: not pending */
  e->free_next = TM.free;
  TM.free = e;
}

static tentry *entry_of(px_tref t) {
  uint32_t idx = (uint32_t)(t & 0xffffffffu) - 1;
  uint32_t gen = (uint32_t)(t >> 32);
  if (idx >= TM.nslots) return NULL;
  tentry *e = TM.slots[idx];
  return e->gen == gen && (gen & 1) ? e : NULL;
}

static void fire(px_wtimer *w, void *ud) {
  (void)ud;
  tentry *e = (tentry *)w;
  bool alive;
  if (e->interval > 0) {
    alive = px__signal(e->to, (px__mkind)e->kind, px_ref_nil(), e->type,
                       px_val_retain(e->payload), 0, e->aux);
    if (alive) {
      px__wheel_add(&TM.wheel, &e->w, TM.wheel.now + (uint64_t)e->interval);
      return;
    }
  } else {
    px__signal(e->to, (px__mkind)e->kind, px_ref_nil(), e->type, e->payload, 0,
               e->aux);
    e->payload = px_nil();
  }
  entry_free(e);
}

/* The thread holds TM.lock from computing its wake-up time until the wait
 * releases it, and an adder that needs an earlier wake-up signals under
 * TM.lock, so no wake-up is lost. */
static void *timer_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&TM.lock);
  while (!TM.stop) {
    spin_lock(&TM.wl);
    px__wheel_advance(&TM.wheel, now_tick(), fire, NULL);
    uint64_t next = px__wheel_next_due(&TM.wheel);
    TM.sleep_until = next;
    spin_unlock(&TM.wl);
    if (next == UINT64_MAX) {
      pthread_cond_wait(&TM.cond, &TM.lock);
    } else {
      spin_lock(&TM.wl);
      uint64_t now = now_tick();
      spin_unlock(&TM.wl);
      if (next <= now) continue;
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t ns = (next - now) * 1000000u;
      ts.tv_sec += (time_t)(ns / 1000000000u);
      ts.tv_nsec += (long)(ns % 1000000000u);
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&TM.cond, &TM.lock, &ts);
    }
  }
  pthread_mutex_unlock(&TM.lock);
  return NULL;
}

int px__timer_start(bool virtual_clock) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&TM.cond, &ca);
  pthread_condattr_destroy(&ca);
  TM.virtual_clock = virtual_clock;
  TM.stop = false;
  atomic_store_explicit(&TM.vnow, 0, memory_order_relaxed);
  TM.epoch_ms = px_now_ms();
  struct timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0)
    coarse_res_ms = (uint64_t)res.tv_sec * 1000u +
                    ((uint64_t)res.tv_nsec + 999999u) / 1000000u;
  TM.sleep_until = UINT64_MAX;
  px__wheel_init(&TM.wheel, 0);
  TM.running = !virtual_clock;
  if (TM.running && pthread_create(&TM.thread, NULL, timer_main, NULL) != 0)
    px_panic("cannot start the timer thread");
  return 0;
}

void px__timer_stop(void) {
  pthread_mutex_lock(&TM.lock);
  TM.stop = true;
  pthread_cond_signal(&TM.cond);
  pthread_mutex_unlock(&TM.lock);
  if (TM.running) pthread_join(TM.thread, NULL);
  TM.running = false;
  for (uint32_t i = 0; i < TM.nslots; i++) {
    tentry *e = TM.slots[i];
    if (e->gen & 1) {
      px__wheel_remove(&TM.wheel, &e->w);
      px_val_release(e->payload);
    }
    free(e);
  }
  free(TM.slots);
  TM.slots = NULL;
  TM.nslots = TM.capslots = 0;
  TM.free = NULL;
  pthread_cond_destroy(&TM.cond);
}

static px_tref timer_add(int64_t ms, int64_t interval_ms, px_ref to,
                         px__mkind kind, px_atom type, px_val payload,
                         uint64_t aux, bool coarse) {
  if (ms < 0) ms = 0;
  spin_lock(&TM.wl);
  tentry *e = entry_alloc();
  e->gen++; /* odd: pending */
  e->to = to;
  e->kind = (uint8_t)kind;
  e->type = type;
  e->payload = payload;
  e->aux = aux;
  e->interval = interval_ms;
  uint64_t due = (coarse ? start_tick() : now_tick()) + (uint64_t)ms;
  px__wheel_add(&TM.wheel, &e->w, due);
  /* Wake the thread only if this timer is due before it would wake. */
  bool wake = TM.running && due < TM.sleep_until;
  if (wake) TM.sleep_until = due;
  px_tref t = ((uint64_t)e->gen << 32) | (uint64_t)(e->index + 1);
  spin_unlock(&TM.wl);
  if (wake) {
    pthread_mutex_lock(&TM.lock);
    pthread_cond_signal(&TM.cond);
    pthread_mutex_unlock(&TM.lock);
  }
  return t;
}

px_tref px__timer_add(int64_t ms, int64_t interval_ms, px_ref to,
                      px__mkind kind, px_atom type, px_val payload,
                      uint64_t aux) {
  return timer_add(ms, interval_ms, to, kind, type, payload, aux, false);
}

px_tref px__timer_add_coarse(int64_t ms, px_ref to, px__mkind kind,
                             uint64_t aux) {
  return timer_add(ms, 0, to, kind, NULL, px_nil(), aux, true);
}

int px_cancel_timer(px_tref t) {
  spin_lock(&TM.wl);
  tentry *e = entry_of(t);
  int rc = PX_ENOTFOUND;
  if (e) {
    px__wheel_remove(&TM.wheel, &e->w);
    entry_free(e);
    rc = 0;
  }
  spin_unlock(&TM.wl);
  return rc;
}

void px__timer_cancel_quiet(px_tref t) { (void)px_cancel_timer(t); }

size_t px_timer_count(void) {
  spin_lock(&TM.wl);
  size_t n = TM.wheel.count;
  spin_unlock(&TM.wl);
  return n;
}

int px_clock_advance(uint64_t ms) {
  spin_lock(&TM.wl);
  if (!TM.virtual_clock) {
    spin_unlock(&TM.wl);
    return PX_EINVAL;
  }
  /* release: publishes the new time to lock-free readers (px_clock_ms). */
  uint64_t now = atomic_load_explicit(&TM.vnow, memory_order_relaxed) + ms;
  atomic_store_explicit(&TM.vnow, now, memory_order_release);
  px__wheel_advance(&TM.wheel, now, fire, NULL);
  spin_unlock(&TM.wl);
  return 0;
}

px_tref px_send_after(int64_t ms, px_ref to, px_atom type, px_val payload) {
  return px__timer_add(ms, 0, to, PX__MK_USER, type, payload, 0);
}

px_tref px_send_interval(int64_t ms, px_ref to, px_atom type,
                         px_val payload) {
  if (ms <= 0) ms = 1;
  return px__timer_add(ms, ms, to, PX__MK_USER, type, payload, 0);
}
