/* Workflows: step retry policies. Attempts follow the backoff (T-I-6),
 * a non-retryable or terminal error is not retried (T-I-7), attempts run
 * out, and a crash in the middle of a backoff resumes at the right
 * attempt and waits out the original due time. */
#include "wf_test.h"

TestSuite(wf_retry, .init = wf_setup, .fini = wf_teardown, .timeout = 60);

static _Atomic int calls;
static _Atomic int64_t at_ms[16];
static _Atomic uint32_t last_attempt;
static _Atomic int fail_times; /* fail this many calls, then succeed */
static _Atomic int fail_code;
static char key_seen[4][128];

static int flaky(px_wf *wf, void *ud, px_val *out) {
  (void)ud;
  int n = atomic_fetch_add(&calls, 1);
  if (n < 16) atomic_store(&at_ms[n], (int64_t)px_clock_ms());
  atomic_store(&last_attempt, px_wf_attempt(wf));
  if (n < 4) px_wf_idempotency_key(wf, key_seen[n], sizeof key_seen[n]);
  if (n < atomic_load(&fail_times)) {
    *out = px_strf("attempt %d failed", n + 1);
    return atomic_load(&fail_code);
  }
  *out = px_str("ok");
  return 0;
}


static int q_calls(px_wf *wf, const char *name, px_val args, px_val *out) {
  (void)wf;
  (void)name;
  (void)args;
  *out = px_int(atomic_load(&calls));
  return 0;
}

static const int nonretry[] = {PX_EPERM};

/* One step with the policy picked by the input: 0 = default, 1 = PX_EPERM
 * not retryable, 2 = 3 attempts of 10 ms. */
static int run_retry(px_wf *wf, px_val input, px_val *result) {
  px_retry_policy p = {0};
  const px_retry_policy *pp = NULL;
  if (input.u.i == 1) {
    p.non_retryable = nonretry;
    p.n_non_retryable = 1;
    pp = &p;
  } else if (input.u.i == 2) {
    p.max_attempts = 3;
    p.initial_interval_ms = 10;
    pp = &p;
  }
  px_val v;
  int rc = px_step(wf, "flaky", flaky, NULL, pp, &v);
  *result = px_val_retain(v);
  return rc;
}
static const px_workflow_type T_RETRY = {"retry", run_retry, q_calls, 0};

Test(wf_retry, default_policy_backs_off_1s_then_2s) {
  wf_use(&T_RETRY);
  atomic_store(&fail_times, 2);
  atomic_store(&fail_code, PX_EIO);
  cr_assert_eq(px_workflow_start("retry", "r", px_int(0), NULL), 0);
  wait_query_int("r", "calls", 1); /* in the first backoff */
  cr_assert_eq(px_clock_advance(999), 0);
  wait_query_int("r", "calls", 1);
  cr_assert_eq(px_clock_advance(1), 0);
  wait_query_int("r", "calls", 2); /* second backoff: 2 s */
  cr_assert_eq(px_clock_advance(1999), 0);
  wait_query_int("r", "calls", 2);
  cr_assert_eq(px_clock_advance(1), 0);
  px_val r;
  cr_assert_eq(wait_closed("r", &r), PX_WF_COMPLETED);
  cr_assert_str_eq(px_str_ptr(r), "ok");
  px_val_release(r);
  cr_assert_eq(atomic_load(&calls), 3);
  cr_assert_eq(atomic_load(&at_ms[0]), 0);
  cr_assert_eq(atomic_load(&at_ms[1]), 1000);
  cr_assert_eq(atomic_load(&at_ms[2]), 3000);
  cr_assert_eq(atomic_load(&last_attempt), 3, "attempt counter visible");
  cr_assert_str_eq(key_seen[0], key_seen[2],
                   "one idempotency key for every attempt");
  cr_assert_str_eq(key_seen[0], "default/default/r/2");
  jcount c = jread("r");
  cr_assert_eq(jkinds(&c, "attempt"), 2);
  cr_assert_eq(jkinds(&c, "step"), 1, "one completion in the journal");
  jfree(&c);
}

Test(wf_retry, non_retryable_and_terminal_errors_are_not_retried) {
  wf_use(&T_RETRY);
  atomic_store(&fail_times, 100);
  atomic_store(&fail_code, PX_EPERM);
  cr_assert_eq(px_workflow_start("retry", "n", px_int(1), NULL), 0);
  px_val r;
  cr_assert_eq(wait_closed("n", &r), PX_WF_FAILED);
  cr_assert_str_eq(px_str_ptr(r), "attempt 1 failed",
                   "run saw the step's error value");
  px_val_release(r);
  cr_assert_eq(atomic_load(&calls), 1);

  atomic_store(&calls, 0);
  atomic_store(&fail_code, PX_EFAILED);
  cr_assert_eq(px_workflow_start("retry", "t", px_int(0), NULL), 0);
  cr_assert_eq(wait_closed("t", &r), PX_WF_FAILED);
  px_val_release(r);
  cr_assert_eq(atomic_load(&calls), 1, "PX_EFAILED is terminal");
  jcount c = jread("t");
  cr_assert_eq(jkinds(&c, "stepfail"), 1);
  cr_assert_eq(jkinds(&c, "attempt"), 0);
  jfree(&c);
}

Test(wf_retry, attempts_run_out) {
  wf_use(&T_RETRY);
  atomic_store(&fail_times, 100);
  atomic_store(&fail_code, PX_EIO);
  cr_assert_eq(px_workflow_start("retry", "x", px_int(2), NULL), 0);
  wait_query_int("x", "calls", 1);
  cr_assert_eq(px_clock_advance(10), 0);
  wait_query_int("x", "calls", 2);
  cr_assert_eq(px_clock_advance(20), 0);
  px_val r;
  cr_assert_eq(wait_closed("x", &r), PX_WF_FAILED);
  cr_assert_str_eq(px_str_ptr(r), "attempt 3 failed");
  px_val_release(r);
  cr_assert_eq(atomic_load(&calls), 3);
}

Test(wf_retry, crash_in_a_backoff_resumes_at_the_next_attempt) {
  wf_use(&T_RETRY);
  atomic_store(&fail_times, 2);
  atomic_store(&fail_code, PX_EIO);
  cr_assert_eq(px_workflow_start("retry", "c", px_int(0), NULL), 0);
  wait_query_int("c", "calls", 1);
  cr_assert_eq(px_clock_advance(1000), 0);
  wait_query_int("c", "calls", 2); /* due at 3000 */
  cr_assert_eq(px_clock_advance(500), 0);
  wait_query_int("c", "calls", 2);
  wf_crash(NULL);
  wf_recover(1);
  wait_query_int("c", "calls", 2); /* not retried at once */
  cr_assert_eq(px_clock_advance(1499), 0);
  wait_query_int("c", "calls", 2);
  cr_assert_eq(px_clock_advance(1), 0);
  cr_assert_eq(wait_closed("c", NULL), PX_WF_COMPLETED);
  cr_assert_eq(atomic_load(&calls), 3, "attempt 3 ran once, after the crash");
  cr_assert_eq(atomic_load(&last_attempt), 3);
}

/* Jitter shortens each wait by up to its fraction, never lengthens it. */
static int run_jitter(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_retry_policy p = {.max_attempts = 2, .initial_interval_ms = 1000,
                       .jitter = 0.5};
  px_val v;
  int rc = px_step(wf, "flaky", flaky, NULL, &p, &v);
  *result = px_val_retain(v);
  return rc;
}
static const px_workflow_type T_JITTER = {"jitter", run_jitter, q_calls, 0};

Test(wf_retry, jitter_shortens_the_wait_within_its_fraction) {
  wf_use(&T_JITTER);
  atomic_store(&fail_times, 1);
  atomic_store(&fail_code, PX_EIO);
  int64_t base = px__wf_now_ms() - (int64_t)px_clock_ms();
  cr_assert_eq(px_workflow_start("jitter", "j", px_nil(), NULL), 0);
  wait_query_int("j", "calls", 1);
  jcount c = jread("j");
  int64_t due = -1;
  for (size_t i = 0; i < c.n; i++)
    if (!strcmp(c.kinds[i], "attempt")) due = px_at(c.vals[i], 4).u.i;
  jfree(&c);
  cr_assert_geq(due - base, 500, "due %lld", (long long)(due - base));
  cr_assert_leq(due - base, 1000, "due %lld", (long long)(due - base));
  cr_assert_eq(px_clock_advance(1000), 0);
  cr_assert_eq(wait_closed("j", NULL), PX_WF_COMPLETED);
  cr_assert_eq(atomic_load(&calls), 2);
}
