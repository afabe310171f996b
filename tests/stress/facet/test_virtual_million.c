/* A million virtual actors through a cap of a thousand: every distinct key
 * gets one increment (asks from 64 driver actors), at most max_active
 * activations exist at any sample and never more by the directory's own
 * high-water mark, and afterwards a sample of keys, re-addressed, still
 * hold their state: each was checkpointed (durable, no_journal) when the
 * LRU cap evicted it. PX_VIRTUAL_KEYS overrides the key count. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/tmpdir.h"
#include "facet/virtual_internal.h"
#include "plexspaces/px.h"

#define CAP 1000
#define DRIVERS 64
#define SAMPLE 2000

static px_atom INC, GET, GO, DONE;
static _Atomic(long) g_done; /* increments answered */

typedef struct counter {
  int64_t n;
} counter;

static int c_init(px_val args, void **state) {
  *state = calloc(1, sizeof(counter));
  return 0;
}

static void c_handle(void *state, const px_message *m) {
  counter *c = state;
  if (m->type == INC) c->n++;
  if (m->corr) px_reply(m, px_int(c->n));
}

static void c_term(void *state, px_val reason) { free(state); }

static const px_actor_type counter_t = {"mcounter", 0, c_init, c_handle,
                                        c_term};

static px_val c_encode(const void *state) {
  return px_int(((const counter *)state)->n);
}

static int c_decode(px_val saved, void *state) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  ((counter *)state)->n = saved.u.i;
  return 0;
}

static void key_of(long i, char *buf, size_t cap) {
  snprintf(buf, cap, "key-%07ld", i);
}

/* A driver asks its share of the keys (i = first, first + DRIVERS, ...)
 * one after another and tells the test thread how many failed. */
typedef struct driver {
  long first, nkeys;
} driver;

static int d_init(px_val args, void **state) {
  driver *d = calloc(1, sizeof *d);
  d->first = px_at(args, 0).u.i;
  d->nkeys = px_at(args, 1).u.i;
  *state = d;
  return 0;
}

static void d_handle(void *state, const px_message *m) {
  driver *d = state;
  if (m->type != GO) return;
  long bad = 0;
  for (long i = d->first; i < d->nkeys; i += DRIVERS) {
    char k[32];
    key_of(i, k, sizeof k);
    px_val r;
    int rc = px_virtual_ask("mcounter", k, INC, px_nil(), 60000, &r);
    if (rc || px_typeof(r) != PX_T_INT || r.u.i != 1) bad++;
    px_val_release(r);
    atomic_fetch_add_explicit(&g_done, 1, memory_order_relaxed);
  }
  px_send(m->from, DONE, px_int(bad));
}

static const px_actor_type driver_t = {"mdriver", 0, d_init, d_handle,
                                       c_term};

static bool is_done(const px_message *m, void *ud) {
  (void)ud;
  return m->type == DONE;
}

Test(virtual_million, million_keys_bounded_residency_state_kept,
     .timeout = 590) {
  long nkeys = 1000000;
  const char *env = getenv("PX_VIRTUAL_KEYS");
  if (env && atol(env) > 0) nkeys = atol(env);
  px_runtime_opts ro = {.workers = 2};
  cr_assert_eq(px_runtime_start(&ro), 0);
  INC = px_atom_of("inc");
  GET = px_atom_of("get");
  GO = px_atom_of("go");
  DONE = px_atom_of("done");
  char *dir = tmpdir_new();
  px_store_opts so = {.sync = PX_STORE_SYNC_NORMAL};
  px_store *st = store_open(dir, &so);
  px_durable_opts d = {.store = st,
                       .no_journal = true,
                       .encode = c_encode,
                       .decode = c_decode};
  px_virtual_opts o = {.max_active = CAP, .durable = &d};
  cr_assert_eq(px_virtual_register(&counter_t, px_nil(), &o), 0);

  (void)px_self(); /* the drivers answer "go" to this thread's proxy */
  uint64_t t0 = px_now_ms();
  for (long i = 0; i < DRIVERS; i++) {
    px_ref r;
    cr_assert_eq(px_spawn(&driver_t, px_arr(2, px_int(i), px_int(nkeys)),
                          NULL, &r),
                 0);
    px_send(r, GO, px_nil());
  }
  long bad = 0, samples = 0;
  size_t max_seen = 0;
  for (int finished = 0; finished < DRIVERS;) {
    px_message *m;
    /* The receive's timeout is the sampling period, not a wait for
     * anything: every sample must be within the cap. */
    if (px_receive(is_done, NULL, 100, &m) == 0) {
      bad += m->payload.u.i;
      px_message_free(m);
      finished++;
    }
    size_t n = px_virtual_active_count("mcounter");
    if (n > max_seen) max_seen = n;
    cr_assert_leq(n, CAP, "%zu activations resident", n);
    samples++;
    if (samples % 100 == 0)
      fprintf(stderr, "virtual_million: %ld/%ld keys, %zu resident\n",
              atomic_load(&g_done), nkeys, n);
  }
  uint64_t t1 = px_now_ms();
  cr_assert_eq(bad, 0, "%ld increments failed", bad);
  cr_assert_leq(px__v_peak("mcounter"), CAP);
  fprintf(stderr,
          "virtual_million: %ld keys in %.1f s (%.0f activations/s), "
          "%ld samples, max resident %zu, peak %zu\n",
          nkeys, (t1 - t0) / 1000.0, nkeys * 1000.0 / (double)(t1 - t0 + 1),
          samples, max_seen, px__v_peak("mcounter"));

  /* State survived deactivation: re-address a spread-out sample. */
  long step = nkeys / SAMPLE > 0 ? nkeys / SAMPLE : 1;
  for (long i = 0; i < nkeys; i += step) {
    char k[32];
    key_of(i, k, sizeof k);
    px_val r;
    int rc = px_virtual_ask("mcounter", k, GET, px_nil(), 60000, &r);
    cr_assert_eq(rc, 0, "%s: %s", k, px_err_name(rc));
    cr_assert_eq(r.u.i, 1, "%s lost its state: %lld", k, (long long)r.u.i);
  }
  cr_assert_leq(px_virtual_active_count("mcounter"), CAP);
  fprintf(stderr, "virtual_million: sample re-checked in %.1f s\n",
          (px_now_ms() - t1) / 1000.0);
  px_runtime_stop();
  px_store_close(st);
  tmpdir_free(dir);
}
