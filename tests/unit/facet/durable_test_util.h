/* Helpers of the durability facet's tests: a runtime on a virtual clock
 * with a store in a temporary directory, a durable counter actor that
 * counts what it does (live and in replay), and kill / monitor helpers. */
#ifndef PX_TEST_DURABLE_UTIL_H
#define PX_TEST_DURABLE_UTIL_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexspaces/px.h"
#include "support/tmpdir.h"

static char *t_dir;
static px_store *t_st;

static void dur_setup(void) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  t_dir = tmpdir_new();
  t_st = store_open(t_dir, NULL);
}

static void dur_teardown(void) {
  px_runtime_stop();
  px_store_close(t_st);
  tmpdir_free(t_dir);
}

/* ---- the counter --------------------------------------------------------- */

typedef struct counter {
  int64_t n;
} counter;

/* Counted across incarnations (each test runs in its own process). */
static _Atomic(int) c_replays;   /* handle() calls while replaying */
static _Atomic(int) c_live;      /* handle() calls live */
static _Atomic(int) c_fx_runs;   /* effect functions that ran */
static _Atomic(int) c_bad_state; /* px_self_state() != the user's state */
static _Atomic(int) c_last_fx_rc;
static _Atomic(int) c_inits;
static const char *_Atomic c_fx_name = "draw";
static px_ref c_watcher;         /* where "tell" sends */

static int draw(void *ud, px_val *out) {
  (void)ud;
  int k = atomic_fetch_add(&c_fx_runs, 1) + 1;
  *out = px_int(1000 + k);
  return 0;
}

static int counter_init(px_val args, void **state) {
  counter *c = calloc(1, sizeof *c);
  c->n = px_typeof(args) == PX_T_INT ? args.u.i : 0;
  *state = c;
  atomic_fetch_add(&c_inits, 1);
  return 0;
}

static void counter_handle(void *st, const px_message *m) {
  counter *c = st;
  if (px_self_state() != st) atomic_fetch_add(&c_bad_state, 1);
  atomic_fetch_add(px_is_replaying() ? &c_replays : &c_live, 1);
  const char *t = px_atom_name(m->type);
  if (!strcmp(t, "incr")) {
    c->n += px_typeof(m->payload) == PX_T_INT ? m->payload.u.i : 1;
    if (m->corr) px_reply(m, px_int(c->n));
  } else if (!strcmp(t, "get")) {
    px_reply(m, px_int(c->n));
  } else if (!strcmp(t, "fx")) {
    px_val v;
    int rc = px_side_effect(atomic_load(&c_fx_name), draw, NULL, &v);
    atomic_store(&c_last_fx_rc, rc);
    if (rc == 0) c->n += v.u.i;
    if (m->corr) px_reply(m, px_arr(2, px_int(rc), v));
    else px_val_release(v);
  } else if (!strcmp(t, "tell")) {
    c->n++;
    px_send(c_watcher, px_atom_of("seen"), px_val_retain(m->payload));
  } else if (!strcmp(t, "tell_ask")) { /* parks until the watcher answers */
    px_val v;
    px_ask(c_watcher, px_atom_of("seen_ask"), px_nil(), -1, &v);
    px_val_release(v);
    c->n++;
  } else if (!strcmp(t, "crash")) {
    px_exit_self(px_atom_val("crashed"));
  } else if (!strcmp(t, "ckpt")) {
    c->n++;
    px_reply(m, px_int(px_durable_checkpoint()));
  }
}

static void counter_terminate(void *st, px_val reason) {
  (void)reason;
  free(st);
}

static const px_actor_type counter_t = {"counter", 0, counter_init,
                                        counter_handle, counter_terminate};

static px_val counter_encode(const void *st) {
  return px_int(((const counter *)st)->n);
}

static int counter_decode(px_val saved, void *st) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  ((counter *)st)->n = saved.u.i;
  return 0;
}

static inline px_durable_opts counter_opts(uint32_t every) {
  px_durable_opts o = {0};
  o.store = t_st;
  o.checkpoint_every = every;
  o.encode = counter_encode;
  o.decode = counter_decode;
  return o;
}

static inline px_ref spawn_counter(const char *id, const px_durable_opts *o) {
  px_ref r;
  int rc = px_spawn_durable(&counter_t, px_nil(), id, o, NULL, &r);
  cr_assert_eq(rc, 0, "spawn_durable: %s", px_err_name(rc));
  return r;
}

/* An ask that must succeed; returns the int reply. */
static inline int64_t ask_int(px_ref r, const char *type, px_val payload) {
  px_val v;
  int rc = px_ask(r, px_atom_of(type), payload, 5000, &v);
  cr_assert_eq(rc, 0, "ask %s: %s", type, px_err_name(rc));
  cr_assert_eq(px_typeof(v), PX_T_INT);
  int64_t n = v.u.i;
  px_val_release(v);
  return n;
}

/* ---- exits --------------------------------------------------------------- */

static bool match_down(const px_message *m, void *ud) {
  return m->type == px_a()->down_msg &&
         px_get(m->payload, px_atomv(px_a()->monitor_ref)).u.i ==
             (int64_t)*(px_mref *)ud;
}

/* Waits for the __DOWN__ of mref; returns its reason (a new value). */
static inline px_val wait_down(px_mref mref) {
  px_message *m;
  int rc = px_receive(match_down, &mref, 10000, &m);
  cr_assert_eq(rc, 0, "no __DOWN__: %s", px_err_name(rc));
  px_val r = px_val_retain(px_get(m->payload, px_atomv(px_a()->down_reason)));
  px_message_free(m);
  return r;
}

static inline void kill_wait(px_ref r) {
  px_mref m = px_monitor(r);
  px_exit(r, px_atomv(px_a()->kill));
  px_val_release(wait_down(m));
}

/* ---- the store ----------------------------------------------------------- */

static int count_entry(void *ud, uint64_t seq, const char *kind, px_val v,
                       int64_t ts) {
  (void)seq;
  (void)kind;
  (void)ts;
  px_val_release(v);
  (*(size_t *)ud)++;
  return 0;
}

/* Waits until every write queued in the store so far is durable (the
 * writer applies in order): a killed actor's last append may still be
 * queued when its __DOWN__ arrives. */
static inline void store_barrier(void) {
  px_store_op op = {0};
  op.kind = PX_STORE_KV_DEL;
  op.space = "test";
  op.key = "barrier";
  cr_assert_eq(px_store_apply(t_st, &op, 1), 0);
}

static inline size_t journal_len(const char *id) {
  store_barrier();
  size_t n = 0;
  cr_assert_eq(px_store_journal_read(t_st, id, 0, count_entry, &n), 0);
  return n;
}

static inline bool is_pair(px_val v, const char *a0) {
  return px_typeof(v) == PX_T_ARRAY && px_len(v) == 2 &&
         px_is_atom(px_at(v, 0), px_atom_of(a0));
}

#endif
