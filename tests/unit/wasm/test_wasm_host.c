/* The WebAssembly host under load, without the node around it: many WASM
 * actors (the C example module) on two workers, asked from several
 * threads at once, parking inside the guest (sleep, an ask to another
 * actor) and resuming on whichever worker is free; a spinning guest that
 * must not starve the others on a single worker; kills that land while a
 * guest is parked or between slices; bad modules refused. Run under
 * ThreadSanitizer and ASan by the suite: the point of the design (guests
 * parked mid-call on actor coroutines, wasmtime's thread-local carried
 * along: src/wasm/wasm_internal.h, tls.h) is that none of this trips
 * them. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/px.h"
#include "wasm/wasm.h"

static px__wasm_module *g_mod;

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s (build the wasm_examples target)",
                     path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n);
  cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void up_fuel(int workers, int64_t max_run_ms, uint64_t fuel) {
  px_runtime_opts ro = {.workers = workers};
  cr_assert_eq(px_runtime_start(&ro), 0);
  char err[1024];
  px__wasm_opts o = {.max_run_ms = max_run_ms, .time_slice_ms = 2,
                     .max_instances = 512, .fuel = fuel};
  cr_assert_eq(px__wasm_start(&o, err, sizeof err), 0, "%s", err);
  size_t len;
  char *b = slurp(PX_TEST_WASM_DIR "/c_agents.wasm", &len);
  int rc = px__wasm_module_load(b, len, &g_mod, err, sizeof err);
  free(b);
  cr_assert_eq(rc, 0, "%s", err);
}

static void up(int workers, int64_t max_run_ms) {
  up_fuel(workers, max_run_ms, 0);
}

static void down(void) {
  px_runtime_stop();
  px__wasm_stop();
}

static px_ref start(const char *role, px_val args) {
  const px_gen_server *gs =
      px__wasm_actor_type(g_mod, role, role, NULL, 0);
  cr_assert_not_null(gs);
  px_ref r;
  int rc = px_gen_server_start(gs, args, NULL, &r);
  cr_assert_eq(rc, 0, "start %s: %s", role, px_strerror(rc));
  return r;
}

static int ask(px_ref to, const char *type, px_val payload, int64_t tmo,
               px_val *out) {
  return px_ask(to, px_atom_of(type), payload, tmo, out);
}

static int64_t count_of(px_val v) {
  px_val c = px_gets(v, "count");
  return c.type == PX_T_INT ? c.u.i : -1;
}

/* ---- many actors, many threads, parking inside guests ---------------------- */

#define COUNTERS 16
#define AGENTS 8
#define THREADS 4
#define ROUNDS 150

static px_ref g_counters[COUNTERS], g_agents[AGENTS];
static char g_ids[COUNTERS][64];
static atomic_int g_failures;

static void *hammer(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  for (int i = 0; i < ROUNDS; i++) {
    int c = (int)(rand_r(&seed) % COUNTERS), a = (int)(rand_r(&seed) % AGENTS);
    px_val r = px_nil();
    int rc;
    switch (i % 3) {
      case 0: /* straight to a counter */
        rc = ask(g_counters[c], "add", px_map(1, px_str("n"), px_int(1)),
                 10000, &r);
        break;
      case 1: /* an agent parks in sleep, inside its guest */
        rc = ask(g_agents[a], "sleep",
                 px_map(1, px_str("ms"), px_int(rand_r(&seed) % 3)), 10000,
                 &r);
        break;
      default: /* an agent parks in an ask to a counter, inside its guest */
        rc = ask(g_agents[a], "ask_id",
                 px_map(3, px_str("id"), px_str(g_ids[c]), px_str("type"),
                        px_str("add"), px_str("payload"),
                        px_map(1, px_str("n"), px_int(1))),
                 10000, &r);
        break;
    }
    if (rc) atomic_fetch_add(&g_failures, 1);
    px_val_release(r);
  }
  return NULL;
}

Test(wasm_host, parked_guests_resume_on_any_worker, .timeout = 120) {
  up(2, 5000);
  for (int i = 0; i < COUNTERS; i++) {
    g_counters[i] = start("counter", px_map_new(0));
    px_ref_format(g_counters[i], g_ids[i], sizeof g_ids[i]);
  }
  for (int i = 0; i < AGENTS; i++) {
    char name[16];
    snprintf(name, sizeof name, "a%d", i);
    g_agents[i] = start("agent", px_map(1, px_str("name"), px_str(name)));
  }
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++)
    pthread_create(&th[t], NULL, hammer, (void *)(uintptr_t)(t + 1));
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  cr_assert_eq(atomic_load(&g_failures), 0);
  /* Every add arrived exactly once: rounds 0 and 2 of each 3 add one. */
  int64_t total = 0;
  for (int i = 0; i < COUNTERS; i++) {
    px_val r;
    cr_assert_eq(ask(g_counters[i], "get", px_map_new(0), 5000, &r), 0);
    total += count_of(r);
    px_val_release(r);
  }
  int adds_per_thread = 0;
  for (int i = 0; i < ROUNDS; i++) adds_per_thread += i % 3 != 1;
  cr_assert_eq(total, (int64_t)THREADS * adds_per_thread);
  down();
}

/* ---- preemption on one worker ----------------------------------------------------- */

typedef struct spin_job {
  px_ref crasher;
  int rc;
  px_val reason;
} spin_job;

static void *spin(void *arg) {
  spin_job *j = arg;
  j->rc = ask(j->crasher, "spin", px_map_new(0), 10000, &j->reason);
  return NULL;
}

Test(wasm_host, a_spinning_guest_is_preempted_then_trapped, .timeout = 60) {
  /* Without preemption every ask below would wait the full 3 s the
   * spinner is allowed; with it, one takes a few slices at most (the
   * bound is loose for a loaded machine). */
  up(1, 3000);
  px_ref crasher = start("crasher", px_map_new(0));
  px_ref counter = start("counter", px_map_new(0));
  px_mref mon = px_monitor(crasher);
  (void)mon;
  spin_job j = {.crasher = crasher};
  pthread_t th;
  pthread_create(&th, NULL, spin, &j);
  /* While it spins on the only worker, the counter still answers. */
  uint64_t worst = 0;
  for (int i = 0; i < 20; i++) {
    px_val r;
    uint64_t t0 = px_now_ns();
    cr_assert_eq(ask(counter, "add", px_map(1, px_str("n"), px_int(1)),
                     5000, &r), 0);
    uint64_t dt = px_now_ns() - t0;
    if (dt > worst) worst = dt;
    cr_assert_eq(count_of(r), i + 1);
    px_val_release(r);
  }
  cr_assert_lt(worst, 1000000000ull, "an ask took %lu ns next to a spinner",
               (unsigned long)worst);
  pthread_join(th, NULL);
  cr_assert_eq(j.rc, PX_ENOPROC, "spin: %s", px_strerror(j.rc));
  char why[128];
  px_val_format(j.reason, why, sizeof why);
  cr_assert(strstr(why, "wasm_trap") && strstr(why, "cpu_limit"), "%s", why);
  px_val_release(j.reason);
  down();
}

Test(wasm_host, fuel_bounds_a_message, .timeout = 60) {
  up_fuel(1, 60000, 2000000);
  px_ref crasher = start("crasher", px_map_new(0));
  px_val r;
  /* A normal message fits in the budget... */
  cr_assert_eq(ask(crasher, "ping", px_map_new(0), 5000, &r), 0);
  px_val_release(r);
  /* ...and a loop runs out of fuel long before max_run_ms. */
  cr_assert_eq(ask(crasher, "spin", px_map_new(0), 30000, &r), PX_ENOPROC);
  char why[128];
  px_val_format(r, why, sizeof why);
  cr_assert(strstr(why, "out_of_fuel"), "%s", why);
  px_val_release(r);
  down();
}

/* ---- kills that land in the middle of a guest call --------------------------------- */

static void *sleeper(void *arg) {
  px_ref *a = arg;
  px_val r = px_nil();
  ask(*a, "sleep", px_map(1, px_str("ms"), px_int(30000)), 60000, &r);
  px_val_release(r);
  return NULL;
}

Test(wasm_host, kills_while_parked_or_spinning_free_everything,
     .timeout = 60) {
  up(2, 30000);
  px_ref agent = start("agent", px_map(1, px_str("name"), px_str("k")));
  px_ref crasher = start("crasher", px_map_new(0));
  pthread_t th;
  pthread_create(&th, NULL, sleeper, &agent);
  spin_job j = {.crasher = crasher};
  pthread_t th2;
  pthread_create(&th2, NULL, spin, &j);
  /* Wait until both are inside their guests: the agent parked in sleep,
   * the crasher spinning (it never answers a second message meanwhile). */
  px_actor_info info;
  for (int i = 0; i < 5000; i++) {
    if (px_actor_info_get(agent, &info) == 0 && info.parked) break;
    px_sleep(1);
  }
  /* A ping answered means the spin has not arrived yet; one that times
   * out means the crasher is inside its spinning guest. */
  px_val r;
  int rc = 0;
  for (int i = 0; i < 200 && rc != PX_ETIMEDOUT; i++) {
    rc = ask(crasher, "ping", px_map_new(0), 50, &r);
    if (rc == 0) px_val_release(r);
  }
  cr_assert_eq(rc, PX_ETIMEDOUT);
  px_exit(agent, px_atomv(px_a()->kill));
  px_exit(crasher, px_atomv(px_a()->kill));
  pthread_join(th, NULL);
  pthread_join(th2, NULL);
  cr_assert_eq(j.rc, PX_ENOPROC);
  px_val_release(j.reason);
  /* The host is fine: a new actor of the same module works. */
  px_ref c = start("counter", px_map_new(0));
  cr_assert_eq(ask(c, "add", px_map(1, px_str("n"), px_int(2)), 5000, &r), 0);
  cr_assert_eq(count_of(r), 2);
  px_val_release(r);
  down();
}

/* A guest running past its slice on a thread that is not a worker (the
 * node restoring apps at start, a deploy check): the slice ends, there is
 * nobody to yield to, and the guest simply goes on. Go's _initialize runs
 * for milliseconds, many 1 ms slices. */
Test(wasm_host, slices_end_harmlessly_off_the_workers, .timeout = 120) {
  px_runtime_opts ro = {.workers = 1};
  cr_assert_eq(px_runtime_start(&ro), 0);
  char err[1024];
  px__wasm_opts o = {.time_slice_ms = 1, .max_instances = 16};
  cr_assert_eq(px__wasm_start(&o, err, sizeof err), 0, "%s", err);
  size_t len;
  char *b = slurp(PX_TEST_WASM_DIR "/go_agents.wasm", &len);
  px__wasm_module *m;
  int rc = px__wasm_module_load(b, len, &m, err, sizeof err);
  free(b);
  cr_assert_eq(rc, 0, "%s", err);
  g_mod = m;
  px_ref c = start("counter", px_map_new(0));
  px_val r;
  cr_assert_eq(ask(c, "add", px_map(1, px_str("n"), px_int(3)), 5000, &r), 0);
  cr_assert_eq(count_of(r), 3);
  px_val_release(r);
  down();
}

/* ---- bad modules ----------------------------------------------------------------------- */

static void refused(const void *b, size_t n, const char *needle) {
  px__wasm_module *m = NULL;
  char err[1024] = "";
  cr_assert_neq(px__wasm_module_load(b, n, &m, err, sizeof err), 0);
  cr_assert(strstr(err, needle), "expected \"%s\" in: %s", needle, err);
}

Test(wasm_host, bad_modules_are_refused_with_a_reason) {
  up(1, 1000);
  refused("\0asm\x0d\0\1\0", 8, "component");
  refused("\0asm\1\0\0\0\xff", 9, "not valid WebAssembly");
  /* A valid module without the ABI's exports. */
  static const unsigned char empty[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  refused(empty, sizeof empty, "does not export px_abi_version");
  /* The example, cut short. */
  size_t len;
  char *b = slurp(PX_TEST_WASM_DIR "/c_agents.wasm", &len);
  refused(b, len / 2, "not valid WebAssembly");
  free(b);
  down();
}
