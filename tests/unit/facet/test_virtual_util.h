/* Helpers of the virtual-actor tests: a counter grain whose init calls are
 * counted, that can be told to fail its init, and that logs the sequence
 * numbers it receives; and waits for __DOWN__ on the test thread.
 *
 * Messages: inc (count++; an ask gets the new count), get, key (its
 * px_virtual_self_key), id, seq (payload int appended to the global log),
 * deact_me (DeactivateOnIdle on itself, then replies ok), tick (a timer
 * tick: nothing), start_timer (px_send_interval(payload ms) to itself). */
#ifndef PX_TEST_VIRTUAL_UTIL_H
#define PX_TEST_VIRTUAL_UTIL_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "facet/virtual_internal.h"
#include "plexspaces/px.h"

#define WAIT_MS 20000

static _Atomic(int) g_inits;
static _Atomic(int) g_terms;
static _Atomic(bool) g_fail_init;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t g_log[4096];
static size_t g_nlog;

typedef struct counter {
  int64_t n;
} counter;

static int counter_init(px_val args, void **state) {
  (void)args;
  atomic_fetch_add(&g_inits, 1);
  if (atomic_load(&g_fail_init)) return PX_EIO;
  counter *c = calloc(1, sizeof *c);
  *state = c;
  return 0;
}

static bool match_none(const px_message *m, void *ud) {
  (void)m;
  (void)ud;
  return false;
}

static void counter_handle(void *state, const px_message *m) {
  counter *c = state;
  const char *t = px_atom_name(m->type);
  if (!strcmp(t, "inc")) {
    c->n++;
    if (m->corr) px_reply(m, px_int(c->n));
  } else if (!strcmp(t, "get")) {
    px_reply(m, px_int(c->n));
  } else if (!strcmp(t, "key")) {
    px_reply(m, px_str(px_virtual_self_key()));
  } else if (!strcmp(t, "id")) {
    px_reply(m, px_str(px_virtual_self_id()));
  } else if (!strcmp(t, "seq")) {
    pthread_mutex_lock(&g_log_mu);
    if (g_nlog < 4096) g_log[g_nlog++] = m->payload.u.i;
    pthread_mutex_unlock(&g_log_mu);
    if (m->corr) px_reply(m, px_nil());
  } else if (!strcmp(t, "deact_me")) {
    int rc = px_virtual_deactivate(m->payload.type == PX_T_STR
                                       ? px_str_ptr(m->payload)
                                       : "counter",
                                   px_virtual_self_key());
    px_reply(m, px_int(rc));
  } else if (!strcmp(t, "start_timer")) {
    px_send_interval(m->payload.u.i, px_self(), px_atom_of("tick"), px_nil());
    px_reply(m, px_nil());
  } else if (!strcmp(t, "delay")) {
    px_reply(m, px_int(px_virtual_delay_deactivation(m->payload.u.i)));
  } else if (!strcmp(t, "hang")) { /* parks until killed */
    px_message *never;
    px_receive(match_none, NULL, -1, &never);
  } else if (!strcmp(t, "crash")) {
    px_exit_self(px_atom_val("boom"));
  }
}

static void counter_terminate(void *state, px_val reason) {
  (void)reason;
  atomic_fetch_add(&g_terms, 1);
  free(state);
}

static const px_actor_type counter_type = {
    .name = "counter",
    .init = counter_init,
    .handle = counter_handle,
    .terminate = counter_terminate,
};

static inline void vt_start(bool virtual_clock) {
  atomic_store(&g_inits, 0);
  atomic_store(&g_terms, 0);
  atomic_store(&g_fail_init, false);
  g_nlog = 0;
  px_runtime_opts o = {.workers = 2, .virtual_clock = virtual_clock};
  cr_assert_eq(px_runtime_start(&o), 0);
}

static inline int64_t ask_int(const char *type, const char *key,
                              const char *msg) {
  px_val r;
  int rc = px_virtual_ask(type, key, px_atom_of(msg), px_nil(), WAIT_MS, &r);
  cr_assert_eq(rc, 0, "ask %s %s: %s", key, msg, px_err_name(rc));
  cr_assert_eq(px_typeof(r), PX_T_INT);
  return r.u.i;
}

static bool is_down(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_a()->down_msg;
}

/* Waits for one __DOWN__ on the test thread; returns its reason (new). */
static inline px_val wait_down(px_ref *from) {
  px_message *m;
  int rc = px_receive(is_down, NULL, WAIT_MS, &m);
  cr_assert_eq(rc, 0, "no __DOWN__: %s", px_err_name(rc));
  px_val reason = px_val_retain(px_gets(m->payload, "down_reason"));
  if (from) cr_assert(px_val_ref(px_gets(m->payload, "down_from"), from));
  px_message_free(m);
  return reason;
}

static inline bool is_idle_reason(px_val r) {
  return px_typeof(r) == PX_T_ARRAY && px_len(r) == 2 &&
         px_is_atom(px_at(r, 0), px_atom_of("shutdown")) &&
         px_is_atom(px_at(r, 1), px_atom_of("idle"));
}

static inline bool alive(px_ref r) {
  px_actor_info info;
  return px_actor_info_get(r, &info) == 0;
}

#endif
