/* Test helper: an "agent" actor that runs one tuple-space operation per
 * message and reports {tag, rc, value} to the test thread as a "res"
 * message, so blocking operations run on a coroutine under the virtual
 * clock while the test thread drives time. */
#ifndef TS_AGENT_H
#define TS_AGENT_H

#include <criterion/criterion.h>
#include <sched.h>

#include "plexspaces/px.h"
#include "plexspaces/space.h"
#include "space/space_internal.h"

static void ts_setup(void) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
}
static void ts_teardown(void) { px_runtime_stop(); }


/* op payload: [op, space(int), tmpl, timeout, tag, reply_to, extra] */
static void agent_handle(void *state, const px_message *m) {
  (void)state;
  px_val p = m->payload;
  const char *op = px_atom_name(px_at(p, 0).u.a);
  px_space *s = (px_space *)(intptr_t)px_at(p, 1).u.i;
  px_val tmpl = px_val_retain(px_at(p, 2));
  int64_t timeout = px_at(p, 3).u.i;
  px_val tag = px_val_retain(px_at(p, 4));
  px_ref to;
  px_val_ref(px_at(p, 5), &to);
  px_val extra = px_val_retain(px_at(p, 6));
  px_val out = px_nil();
  int rc = 0;
  if (!strcmp(op, "take")) {
    rc = px_ts_take(s, tmpl, timeout, &out);
  } else if (!strcmp(op, "read")) {
    rc = px_ts_read(s, tmpl, timeout, &out);
  } else if (!strcmp(op, "replace")) {
    rc = px_ts_replace(s, tmpl, px_val_retain(extra), timeout, &out);
  } else if (!strcmp(op, "barrier")) {
    px_val_release(tmpl);
    rc = px_ts_barrier(s, px_str_ptr(extra), (size_t)px_at(p, 7).u.i,
                       timeout);
  } else if (!strcmp(op, "write_crash")) {
    px_val_release(tmpl);
    px_ts_write(s, px_val_retain(extra), 0, NULL);
    px_val_release(extra);
    px_val_release(tag);
    px_exit_self(px_atom_val("boom"));
  } else if (!strcmp(op, "txn_take_hold")) {
    /* begins a txn, takes under it, reports, then waits forever */
    px_ts_txn *t;
    px_ts_begin(s, &t);
    rc = px_ts_take_tx(t, tmpl, 0, &out);
    px_send(to, px_atom_of("res"), px_arr(3, tag, px_int(rc), out));
    px_val_release(extra);
    px_message *mm;
    px_receive(NULL, NULL, -1, &mm);
    return;
  } else if (!strcmp(op, "txn_read_hold")) {
    /* begins a txn, reads under it (a read lock), reports, waits forever */
    px_ts_txn *t;
    px_ts_begin(s, &t);
    rc = px_ts_read_tx(t, tmpl, timeout, &out);
    px_send(to, px_atom_of("res"), px_arr(3, tag, px_int(rc), out));
    px_val_release(extra);
    px_message *mm;
    px_receive(NULL, NULL, -1, &mm);
    return;
  } else if (!strcmp(op, "watch")) {
    uint64_t w;
    rc = px_ts_watch(s, tmpl, PX_TS_WRITTEN, px_self(), &w);
  } else if (!strcmp(op, "open")) {
    px_val_release(tmpl);
    px_space *o = NULL;
    rc = px_space_open(px_str_ptr(extra), NULL, "sp", PX_SPACE_MEMORY, &o);
    if (o) px_space_close(o);
  }
  px_val_release(extra);
  px_send(to, px_atom_of("res"), px_arr(3, tag, px_int(rc), out));
}

static const px_actor_type agent_t = {"ts_agent", 0, NULL, agent_handle,
                                      NULL};

__attribute__((unused)) static px_ref agent_spawn(const char *tenant) {
  px_ref a;
  px_spawn_opts o = {.tenant = tenant};
  cr_assert_eq(px_spawn(&agent_t, px_nil(), &o, &a), 0);
  return a;
}

/* Starts an op on a new (or given) agent. Takes ownership of tmpl/extra. */
__attribute__((unused)) static px_ref agent_op_on(px_ref a, const char *op, px_space *s, px_val tmpl,
                          int64_t timeout, int64_t tag, px_val extra,
                          int64_t n) {
  px_send(a, px_atom_of("op"),
          px_arr(8, px_atom_val(op), px_int((int64_t)(intptr_t)s), tmpl,
                 px_int(timeout), px_int(tag), px_ref_val(px_self()), extra,
                 px_int(n)));
  return a;
}
__attribute__((unused)) static px_ref agent_op(const char *op, px_space *s, px_val tmpl,
                       int64_t timeout, int64_t tag) {
  return agent_op_on(agent_spawn(NULL), op, s, tmpl, timeout, tag, px_nil(),
                     0);
}

static bool is_res(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("res");
}

/* Waits (real time, generous) for one result: returns rc, sets tag/val. */
__attribute__((unused)) static int agent_result(int64_t *tag, px_val *val) {
  px_message *m;
  int rc = px_receive(is_res, NULL, 10000, &m);
  cr_assert_eq(rc, 0, "no result from agent");
  if (tag) *tag = px_at(m->payload, 0).u.i;
  int r = (int)px_at(m->payload, 1).u.i;
  if (val) *val = px_val_retain(px_at(m->payload, 2));
  px_message_free(m);
  return r;
}

__attribute__((unused)) static bool no_result_now(void) {
  px_message *m;
  if (px_receive(is_res, NULL, 0, &m) == 0) {
    px_message_free(m);
    return false;
  }
  return true;
}

/* Polls (no sleep as synchronisation: it waits for a state) until the space
 * has n blocked callers. */
__attribute__((unused)) static void wait_waiters(px_space *s, size_t n) {
  for (long i = 0; px__ts_waiters(s) != n; i++) {
    cr_assert(i < 200000000L, "waiters never reached %zu", n);
    sched_yield();
  }
}

/* Waits until actor `a` is parked (its timeout timer is armed only when it
 * parks, so the virtual clock must not move before that). */
__attribute__((unused)) static void wait_parked(px_ref a) {
  for (long i = 0;; i++) {
    px_actor_info in;
    cr_assert_eq(px_actor_info_get(a, &in), 0);
    if (in.parked) return;
    cr_assert(i < 200000000L, "actor never parked");
    sched_yield();
  }
}

__attribute__((unused)) static px_val tmpl_type(const char *t) {
  return px_map(1, px_str("$type"), px_str(t));
}

#endif
