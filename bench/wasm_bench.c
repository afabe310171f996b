/* px_bench_wasm: the WebAssembly host's benchmarks (issue 6), one per
 * argument, one JSON line on stdout like px_bench:
 *
 *   wasm_instantiate  cold start of a WASM actor from a compiled module:
 *                     a driver actor starts counters one after another
 *                     (GenServer start: spawn, instantiate, _initialize,
 *                     px_init, ack) and times each; the same for the same
 *                     counter written in C, in the same run. Also the bare
 *                     instance (px__wasm_inst_new + free, no actor).
 *   wasm_ask          ask round trip from a driver actor to a WASM counter
 *                     ("add" {"n": 1} -> {"count": c}) against the same
 *                     GenServer in C, same run, same payloads.
 *   wasm_call         where a message's time goes, on one instance without
 *                     an actor: px_free(NULL, 0) (value: the cost of
 *                     entering the guest, an empty call), px_handle of a
 *                     cast "add", and of a call "add" (which replies
 *                     through the reply import).
 *   wasm_compile      compile time of each example module (no cache), and
 *                     the time to load one back from the compiled cache.
 *
 * The modules come from BENCH_WASM_DIR (the build's examples/wasm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "plexspaces/px.h"
#include "wasm/wasm.h"
#include "wasm/wasm_internal.h"

static px_atom A_ADD, A_GO, A_DONE;

/* bench_scaled, with enough samples left for a p99 and a tenth of them. */
static long scaled(long n) {
  long v = bench_scaled(n);
  return v < 100 ? 100 : v;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *s, long n, double p) {
  qsort(s, (size_t)n, sizeof *s, cmp_u64);
  long i = (long)((double)n * p);
  return s[i >= n ? n - 1 : i];
}

static char *read_module(const char *lang, size_t *len) {
  const char *dir = getenv("BENCH_WASM_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s_agents.wasm",
           dir ? dir : "build-bench/examples/wasm", lang);
  FILE *f = fopen(path, "rb");
  if (!f) bench_fail("wasm", "cannot open the example module (BENCH_WASM_DIR)");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) bench_fail("wasm", "read");
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void host_start(const char *cache_dir) {
  char err[512];
  px__wasm_opts o = {.cache_dir = cache_dir};
  if (px__wasm_start(&o, err, sizeof err)) bench_fail("wasm", err);
}

static const px_gen_server *wasm_counter(const char *lang) {
  size_t len;
  char *b = read_module(lang, &len);
  px__wasm_module *m;
  char err[1024];
  if (px__wasm_module_load(b, len, &m, err, sizeof err))
    bench_fail("wasm", err);
  free(b);
  return px__wasm_actor_type(m, "counter", "counter", NULL, 0);
}

/* ---- the same counter in C ----------------------------------------------- */

static px_gs_result c_init(px_val args, void **state, px_gs_out *out) {
  (void)out;
  int64_t *c = malloc(sizeof *c);
  px_val s = px_gets(args, "start");
  *c = s.type == PX_T_INT ? s.u.i : 0;
  *state = c;
  return PX_GS_OK;
}

static px_gs_result c_add(void *state, px_atom type, px_val payload,
                          px_from from, px_gs_out *out) {
  (void)type, (void)from;
  int64_t *c = state;
  px_val n = px_gets(payload, "n");
  *c += n.type == PX_T_INT ? n.u.i : 0;
  return px_gs_reply(out, px_map(1, px_str("count"), px_int(*c)));
}

static const px_gs_op c_ops[] = {{"add", c_add, NULL}};
static const px_gen_server c_counter = {.name = "c_counter",
                                        .init = c_init,
                                        .free_state = free,
                                        .ops = c_ops,
                                        .nops = 1};

/* ---- the driver ---------------------------------------------------------- */

typedef struct job {
  int mode; /* 0 asks, 1 starts, 2 bare instances, 3 guest calls */
  const px_gen_server *gs;
  long n;
  uint64_t *samples;
  px_ref main;
} job;

static void drive_asks(job *j) {
  px_ref s;
  if (px_gen_server_start(j->gs, px_map_new(0), NULL, &s))
    bench_fail("wasm_ask", "start");
  px_val payload = px_map(1, px_str("n"), px_int(1));
  for (long i = 0; i < j->n + j->n / 10; i++) {
    px_val r;
    uint64_t t0 = px_now_ns();
    int rc = px_ask(s, A_ADD, px_val_retain(payload), 5000, &r);
    uint64_t t1 = px_now_ns();
    px_val c = px_gets(r, "count");
    if (rc || c.type != PX_T_INT || c.u.i != i + 1)
      bench_fail("wasm_ask", "bad reply");
    px_val_release(r);
    if (i >= j->n / 10) j->samples[i - j->n / 10] = t1 - t0; /* warm */
  }
  px_val_release(payload);
  px_exit(s, px_atomv(px_a()->kill));
}

static void drive_starts(job *j) {
  for (long i = 0; i < j->n; i++) {
    px_ref s;
    uint64_t t0 = px_now_ns();
    if (px_gen_server_start(j->gs, px_map_new(0), NULL, &s))
      bench_fail("wasm_instantiate", "start");
    j->samples[i] = px_now_ns() - t0;
    px_exit(s, px_atomv(px_a()->kill));
  }
}

static void drive_bare(job *j) {
  const px__wasm_type *t = (const px__wasm_type *)j->gs;
  for (long i = 0; i < j->n; i++) {
    px__wasm_inst *in;
    px_val reason;
    uint64_t t0 = px_now_ns();
    if (px__wasm_inst_new(t, px_nil(), &in, &reason))
      bench_fail("wasm_instantiate", "instance");
    j->samples[i] = px_now_ns() - t0;
    px__wasm_inst_free(in);
  }
}

/* ns per call of fn(args), over n calls; a reply the guest gives is
 * dropped each time. */
static uint64_t call_ns(px__wasm_inst *in, int fn, const int32_t *args,
                        int nargs, long n) {
  px_val reason;
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < n; i++) {
    if (px__wasm_run(in, fn, args, nargs, &reason))
      bench_fail("wasm_call", "guest call");
    px_val_release(in->reply);
    in->reply = px_nil();
  }
  return (px_now_ns() - t0) / (uint64_t)n;
}

/* Guest calls on one instance, without an actor around them. */
static void drive_calls(job *j) {
  const px__wasm_type *t = (const px__wasm_type *)j->gs;
  px__wasm_inst *in;
  px_val reason;
  if (px__wasm_inst_new(t, px_nil(), &in, &reason))
    bench_fail("wasm_call", "instance");
  static const uint8_t add[] = {0x81, 0xa1, 'n', 0x01}; /* {"n": 1} */
  uint8_t *host;
  uint32_t at;
  if (px__wasm_reserve(in, 7, &host, &at, &reason))
    bench_fail("wasm_call", "reserve");
  memcpy(host, "add", 3);
  memcpy(host + 3, add, 4);
  int32_t a[7] = {2, (int32_t)at, 0, (int32_t)at, 3, (int32_t)at + 3, 4};
  /* a cast */
  j->samples[1] = call_ns(in, PX__FN_HANDLE, a, 7, j->n);
  static const int32_t none[2] = {0, 0}; /* px_free(NULL, 0) */
  j->samples[0] = call_ns(in, PX__FN_FREE, none, 2, j->n);
  a[0] = 1; /* a call: the guest replies through the reply import */
  in->in_call = true;
  j->samples[2] = call_ns(in, PX__FN_HANDLE, a, 7, j->n);
  px__wasm_inst_free(in);
}

static int d_init(px_val args, void **state) {
  *state = (void *)(intptr_t)args.u.i;
  return 0;
}

static void d_handle(void *state, const px_message *m) {
  job *j = state;
  if (m->type != A_GO) return;
  if (j->mode == 0) drive_asks(j);
  else if (j->mode == 1) drive_starts(j);
  else if (j->mode == 3) drive_calls(j);
  else drive_bare(j);
  px_send(j->main, A_DONE, px_nil());
}

static const px_actor_type driver_t = {"driver", 0, d_init, d_handle, NULL};

static void run_job(job *j) {
  j->main = px_self();
  j->samples = calloc((size_t)j->n, sizeof *j->samples);
  px_ref d;
  px_spawn(&driver_t, px_int((int64_t)(intptr_t)j), NULL, &d);
  px_send(d, A_GO, px_nil());
  px_message *m;
  if (px_receive(NULL, NULL, 600000, &m))
    bench_fail("wasm", "driver timed out");
  px_message_free(m);
  px_exit(d, px_atomv(px_a()->kill));
}

static void runtime_up(void) {
  bench_start_runtime();
  A_ADD = px_atom_of("add");
  A_GO = px_atom_of("go");
  A_DONE = px_atom_of("done");
}

/* ---- the benchmarks ------------------------------------------------------ */

static int bench_ask(void) {
  runtime_up();
  host_start(NULL);
  long n = scaled(100000);
  job w = {.mode = 0, .gs = wasm_counter("c"), .n = n};
  job c = {.mode = 0, .gs = &c_counter, .n = n};
  /* alternate, twice each, and keep the better median of each side */
  uint64_t wp50 = UINT64_MAX, wp99 = 0, cp50 = UINT64_MAX, cp99 = 0;
  for (int r = 0; r < 2; r++) {
    run_job(&c);
    uint64_t a = pct(c.samples, n, 0.5), b = pct(c.samples, n, 0.99);
    if (a < cp50) cp50 = a, cp99 = b;
    free(c.samples);
    run_job(&w);
    a = pct(w.samples, n, 0.5), b = pct(w.samples, n, 0.99);
    if (a < wp50) wp50 = a, wp99 = b;
    free(w.samples);
  }
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"p99_ns\":%lu,\"native_p50_ns\":%lu,\"native_p99_ns\":%lu,"
           "\"ratio_to_native\":%.3f,\"asks\":%ld",
           (unsigned long)wp99, (unsigned long)cp50, (unsigned long)cp99,
           (double)wp50 / (double)cp50, n);
  bench_report("wasm_ask", (double)wp50, "ns", extra);
  px_runtime_stop();
  px__wasm_stop();
  return 0;
}

static int bench_call(void) {
  runtime_up();
  host_start(NULL);
  job w = {.mode = 3, .gs = wasm_counter("c"), .n = scaled(200000)};
  run_job(&w);
  char extra[128];
  snprintf(extra, sizeof extra, "\"handle_cast_ns\":%lu,"
           "\"handle_call_ns\":%lu",
           (unsigned long)w.samples[1], (unsigned long)w.samples[2]);
  bench_report("wasm_call", (double)w.samples[0], "ns", extra);
  free(w.samples);
  px_runtime_stop();
  px__wasm_stop();
  return 0;
}

static int bench_instantiate(void) {
  runtime_up();
  host_start(NULL);
  long n = scaled(5000);
  const px_gen_server *gs = wasm_counter("c");
  job w = {.mode = 1, .gs = gs, .n = n};
  job c = {.mode = 1, .gs = &c_counter, .n = n};
  job bare = {.mode = 2, .gs = gs, .n = n};
  run_job(&c);
  run_job(&w);
  run_job(&bare);
  uint64_t w50 = pct(w.samples, n, 0.5), w99 = pct(w.samples, n, 0.99);
  uint64_t c50 = pct(c.samples, n, 0.5), c99 = pct(c.samples, n, 0.99);
  uint64_t b50 = pct(bare.samples, n, 0.5), b99 = pct(bare.samples, n, 0.99);
  /* The AssemblyScript and Go modules, bare instances only. */
  const char *langs[] = {"assemblyscript", "go"};
  uint64_t l50[2];
  for (int i = 0; i < 2; i++) {
    job l = {.mode = 2, .gs = wasm_counter(langs[i]), .n = n / 10};
    run_job(&l);
    l50[i] = pct(l.samples, l.n, 0.5);
    free(l.samples);
  }
  char extra[512];
  snprintf(extra, sizeof extra,
           "\"p99_us\":%.1f,\"instance_p50_us\":%.1f,"
           "\"instance_p99_us\":%.1f,\"native_start_p50_us\":%.1f,"
           "\"native_start_p99_us\":%.1f,\"as_instance_p50_us\":%.1f,"
           "\"go_instance_p50_us\":%.1f,\"starts\":%ld",
           w99 / 1e3, b50 / 1e3, b99 / 1e3, c50 / 1e3, c99 / 1e3,
           l50[0] / 1e3, l50[1] / 1e3, n);
  bench_report("wasm_instantiate", w50 / 1e3, "us_p50", extra);
  free(w.samples);
  free(c.samples);
  free(bare.samples);
  px_runtime_stop();
  px__wasm_stop();
  return 0;
}

static double compile_ms(const char *lang, const char *cache) {
  host_start(cache);
  size_t len;
  char *b = read_module(lang, &len);
  px__wasm_module *m;
  char err[1024];
  uint64_t t0 = px_now_ns();
  if (px__wasm_module_load(b, len, &m, err, sizeof err))
    bench_fail("wasm", err);
  double ms = (double)(px_now_ns() - t0) / 1e6;
  free(b);
  px__wasm_stop();
  return ms;
}

static int bench_compile(void) {
  runtime_up();
  char *dir = bench_temp_dir("wasm_compile");
  double c = compile_ms("c", NULL), as = compile_ms("assemblyscript", NULL),
         go = compile_ms("go", NULL);
  compile_ms("go", dir); /* fills the cache */
  double go_cached = compile_ms("go", dir);
  bench_remove_dir(dir);
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"c_ms\":%.1f,\"assemblyscript_ms\":%.1f,\"go_ms\":%.1f,"
           "\"go_from_cache_ms\":%.1f",
           c, as, go, go_cached);
  bench_report("wasm_compile", c + as + go, "ms", extra);
  px_runtime_stop();
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: px_bench_wasm wasm_instantiate|wasm_ask|"
            "wasm_call|wasm_compile\n");
    return 2;
  }
  px_log_set_level(PX_LOG_WARN);
  if (!strcmp(argv[1], "wasm_ask")) return bench_ask();
  if (!strcmp(argv[1], "wasm_call")) return bench_call();
  if (!strcmp(argv[1], "wasm_instantiate")) return bench_instantiate();
  if (!strcmp(argv[1], "wasm_compile")) return bench_compile();
  fprintf(stderr, "px_bench_wasm: unknown benchmark %s\n", argv[1]);
  return 2;
}
