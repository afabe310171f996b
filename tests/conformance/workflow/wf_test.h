/* Helpers of the workflow tests: a runtime on a virtual clock with a store
 * in a temporary directory, a "crash" (the runtime stopped and the store
 * closed under running executions, then both brought back with the
 * workflow clock carried over), journal reads, and a query-driven wait
 * for a workflow to reach a state (queries are answered only while run is
 * parked, so the answer means "parked there"). */
#ifndef WF_TEST_H
#define WF_TEST_H

#include <criterion/criterion.h>
#include <stdatomic.h>

#include "../../unit/store/store_test_util.h"
#include "behavior/workflow_internal.h"
#include "plexspaces/px.h"
#include "plexspaces/workflow.h"

static char *g_dir;
static px_store *g_st;
static const px_workflow_type *g_types[8];
static size_t g_ntypes;

static inline void wf_boot(void) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  g_st = store_open(g_dir, NULL);
  for (size_t i = 0; i < g_ntypes; i++)
    cr_assert_eq(px_workflow_register(g_types[i], g_st), 0);
}

static inline void wf_use(const px_workflow_type *t) {
  g_types[g_ntypes++] = t;
  if (g_st) cr_assert_eq(px_workflow_register(t, g_st), 0);
}

static inline void wf_setup(void) {
  g_dir = tmpdir_new();
  wf_boot();
}

static inline void wf_teardown(void) {
  px_runtime_stop();
  px_store_close(g_st);
  g_st = NULL;
  tmpdir_free(g_dir);
}

/* Kills everything as a node death would (no outcome is written), closes
 * the store, and brings both back with the types in `types` (NULL-ended;
 * NULL = the same ones). The workflow clock continues where it was.
 * Does not recover: the caller does (possibly after signalling). */
static inline void wf_crash(const px_workflow_type *const *types) {
  int64_t wall = px__wf_now_ms();
  px_runtime_stop();
  px_store_close(g_st);
  if (types) {
    g_ntypes = 0;
    while (*types) g_types[g_ntypes++] = *types++;
  }
  wf_boot();
  px__wf_clock_set(wall);
}

static inline void wf_recover(size_t expect) {
  size_t n;
  cr_assert_eq(px_workflow_recover(&n), 0);
  cr_assert_eq(n, expect, "recovered %zu, expected %zu", n, expect);
}

static inline uint64_t jlast(const char *id) {
  char s[256];
  snprintf(s, sizeof s, "wf/default/default/%s", id);
  uint64_t seq = 0;
  cr_assert_eq(px_store_journal_last(g_st, s, &seq), 0);
  return seq;
}

typedef struct jcount {
  char kinds[64][16];
  px_val vals[64];
  size_t n;
} jcount;

static inline int jcount_cb(void *ud, uint64_t seq, const char *kind, px_val v,
                     int64_t ts) {
  (void)seq;
  (void)ts;
  jcount *c = ud;
  if (c->n < 64) {
    snprintf(c->kinds[c->n], 16, "%s", kind);
    c->vals[c->n++] = v;
  } else {
    px_val_release(v);
  }
  return 0;
}

/* The journal's entries (kinds and values; release with jfree). */
static inline jcount jread(const char *id) {
  char s[256];
  snprintf(s, sizeof s, "wf/default/default/%s", id);
  jcount c = {0};
  cr_assert_eq(px_store_journal_read(g_st, s, 0, jcount_cb, &c), 0);
  return c;
}

static inline size_t jkinds(const jcount *c, const char *kind) {
  size_t n = 0;
  for (size_t i = 0; i < c->n; i++) n += !strcmp(c->kinds[i], kind);
  return n;
}

static inline void jfree(jcount *c) {
  for (size_t i = 0; i < c->n; i++) px_val_release(c->vals[i]);
  c->n = 0;
}

/* Queries `name` until it answers the int `want` (each query is answered
 * only while run is parked, so this returns once run parked with that
 * state). Bounded by the caller's test timeout. */
static inline void wait_query_int(const char *id, const char *name,
                                  int64_t want) {
  for (;;) {
    px_val out;
    int rc = px_workflow_query(id, name, px_nil(), 10000, &out);
    cr_assert_eq(rc, 0, "query %s: %s", name, px_err_name(rc));
    bool ok = px_typeof(out) == PX_T_INT && out.u.i == want;
    px_val_release(out);
    if (ok) return;
  }
}

static inline px_wf_status wait_closed(const char *id, px_val *result) {
  px_wf_status st = 0;
  int rc = px_workflow_wait(id, 20000, &st, result);
  cr_assert_eq(rc, 0, "wait %s: %s", id, px_err_name(rc));
  return st;
}

/* A query callback answering the int at the state pointer. */
static inline int query_state_int(px_wf *wf, const char *name, px_val args,
                           px_val *out) {
  (void)name;
  (void)args;
  _Atomic int64_t *p = px_wf_state(wf);
  *out = px_int(p ? atomic_load(p) : -1);
  return 0;
}

#endif
