/* Workflows: many executions in parallel across crashes. Every step is
 * recorded exactly once, and runs again only if the crash caught it
 * between its effect and its record (at most one step per execution). */
#include "wf_test.h"

TestSuite(wf_many, .init = wf_setup, .fini = wf_teardown, .timeout = 120);

#define NWF 48
#define NSTEP 20 /* 10 before the sleep, 10 after */

static _Atomic int counts[NWF][NSTEP];
static _Atomic int64_t phases[NWF];

static int count(px_wf *wf, void *ud, px_val *out) {
  int w = atoi(px_wf_id(wf) + 1);
  int i = (int)(intptr_t)ud;
  atomic_fetch_add(&counts[w][i], 1);
  *out = px_int(w * 1000 + i);
  return 0;
}

static int run_many(px_wf *wf, px_val input, px_val *result) {
  int w = (int)input.u.i;
  px_wf_set_state(wf, &phases[w]);
  int64_t sum = 0;
  for (int i = 0; i < NSTEP; i++) {
    if (i == NSTEP / 2) {
      atomic_store(&phases[w], 1);
      int rc = px_wf_sleep(wf, 1000);
      if (rc) return rc;
    }
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    px_val v;
    int rc = px_step(wf, name, count, (void *)(intptr_t)i, NULL, &v);
    if (rc) return rc;
    sum += v.u.i;
  }
  *result = px_int(sum);
  return 0;
}
static const px_workflow_type T_MANY = {"many", run_many, query_state_int,
                                        0};

static void start_all(void) {
  for (int w = 0; w < NWF; w++) {
    char id[16];
    snprintf(id, sizeof id, "w%d", w);
    cr_assert_eq(px_workflow_start("many", id, px_int(w), NULL), 0);
  }
}

static void wait_all_parked(void) {
  for (int w = 0; w < NWF; w++) {
    char id[16];
    snprintf(id, sizeof id, "w%d", w);
    wait_query_int(id, "p", 1);
  }
}

/* Once every execution sleeps, ends the sleeps and checks the outcome. */
static void finish_all(void) {
  wait_all_parked();
  cr_assert_eq(px_clock_advance(1000), 0);
  for (int w = 0; w < NWF; w++) {
    char id[16];
    snprintf(id, sizeof id, "w%d", w);
    px_val r;
    cr_assert_eq(wait_closed(id, &r), PX_WF_COMPLETED);
    int64_t want = 0;
    for (int i = 0; i < NSTEP; i++) want += w * 1000 + i;
    cr_assert_eq(r.u.i, want);
    jcount c = jread(id);
    cr_assert_eq(jkinds(&c, "step"), NSTEP, "each step recorded once");
    cr_assert_eq(jkinds(&c, "timer"), 1);
    jfree(&c);
  }
}

Test(wf_many, parked_executions_resume_without_rerunning_anything) {
  wf_use(&T_MANY);
  start_all();
  wait_all_parked();
  wf_crash(NULL);
  wf_recover(NWF);
  finish_all();
  for (int w = 0; w < NWF; w++)
    for (int i = 0; i < NSTEP; i++)
      cr_assert_eq(atomic_load(&counts[w][i]), 1, "w%d s%d ran %d times", w,
                   i, atomic_load(&counts[w][i]));
}

Test(wf_many, crash_at_any_point_reruns_at_most_the_step_in_flight) {
  wf_use(&T_MANY);
  start_all(); /* and crash while they run their first steps */
  wf_crash(NULL);
  size_t n;
  cr_assert_eq(px_workflow_recover(&n), 0);
  cr_assert_eq(n, NWF);
  /* a second crash while the replays run */
  wf_crash(NULL);
  wf_recover(NWF);
  finish_all();
  for (int w = 0; w < NWF; w++) {
    int twice = 0;
    for (int i = 0; i < NSTEP; i++) {
      int c = atomic_load(&counts[w][i]);
      cr_assert(c == 1 || c == 2 || c == 3, "w%d s%d ran %d times", w, i, c);
      twice += c - 1;
    }
    cr_assert_leq(twice, 2, "w%d: at most one step in flight per crash", w);
  }
}
