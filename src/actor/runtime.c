/* Starting and stopping the runtime: atoms, tables, timers, workers. */
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "actor/stop_hooks.h"
#include "plexspaces/core.h"

static _Atomic(bool) started;

static void intern_atoms(void) {
  px_atoms *a = &px__atoms;
  a->exit_msg = px_atom_of("__EXIT__");
  a->down_msg = px_atom_of("__DOWN__");
  a->timeout_msg = px_atom_of("__TIMEOUT__");
  a->normal = px_atom_of("normal");
  a->shutdown = px_atom_of("shutdown");
  a->kill = px_atom_of("kill");
  a->killed = px_atom_of("killed");
  a->noproc = px_atom_of("noproc");
  a->stack_overflow = px_atom_of("stack_overflow");
  a->mailbox_overflow = px_atom_of("mailbox_overflow");
  a->timeout = px_atom_of("timeout");
  a->error = px_atom_of("error");
  a->init_failed = px_atom_of("init_failed");
  a->exit_from = px_atom_of("exit_from");
  a->exit_reason = px_atom_of("exit_reason");
  a->down_from = px_atom_of("down_from");
  a->monitor_ref = px_atom_of("monitor_ref");
  a->down_reason = px_atom_of("down_reason");
}

int px_runtime_start(const px_runtime_opts *opts) {
  bool expect = false;
  if (!atomic_compare_exchange_strong(&started, &expect, true))
    return PX_EEXIST;
  px_runtime_opts o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  intern_atoms();
  px__node = o.node_id ? o.node_id : 1;
  atomic_store(&px__stopping, false);
  px__msg_caching(true);
  px__table_init();
  px__stats_init();
  px__external_new_epoch();
  px__timer_start(o.virtual_clock);
  px__sched_opts so = {o.workers, o.stack_size, o.batch, o.spin_us};
  return px__sched_start(&so);
}

int px_runtime_workers(void) { return px__sched_nworkers(); }

static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;
static void (*stop_hooks[8])(void);
static int nstop_hooks;

void px__runtime_at_stop(void (*fn)(void)) {
  pthread_mutex_lock(&hooks_mu);
  bool known = false;
  for (int i = 0; i < nstop_hooks; i++) known |= stop_hooks[i] == fn;
  if (!known && nstop_hooks < 8) stop_hooks[nstop_hooks++] = fn;
  pthread_mutex_unlock(&hooks_mu);
}

static void run_stop_hooks(void) {
  pthread_mutex_lock(&hooks_mu);
  int n = nstop_hooks;
  pthread_mutex_unlock(&hooks_mu);
  for (int i = 0; i < n; i++) stop_hooks[i]();
}

void px_runtime_stop(void) {
  if (!atomic_load(&started)) return;
  atomic_store_explicit(&px__stopping, true, memory_order_release);
  /* Kill until nothing lives: a supervisor may start a child between two
   * sweeps (spawn is refused from now on, but one already under way may
   * finish). */
  while (px__stats_live_count() > 0) {
    uint32_t n = px__table_size();
    for (uint32_t i = 0; i < n; i++) {
      px__actor *a = px__table_at(i);
      uint32_t gen = atomic_load_explicit(&a->gen, memory_order_acquire);
      if ((gen & 1) && !atomic_load_explicit(&a->external,
                                             memory_order_relaxed)) {
        px_ref r = px__ref_of(a, gen);
        px__signal(r, PX__MK_EXIT, px_ref_nil(), NULL,
                   px_atomv(px__atoms.kill), 0, 2);
      }
    }
    px_runtime_wait_empty(50);
  }
  /* Every actor is dead; their tables live until the hooks are done. */
  run_stop_hooks();
  px__external_shutdown();
  px__timer_stop();
  px__sched_stop();
  px__registry_destroy();
  px__table_destroy();
  /* Workers have exited, so their node lists are in the depot now. */
  px__msg_release_all();
  atomic_store(&started, false);
}
