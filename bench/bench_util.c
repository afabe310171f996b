/* Helpers every benchmark program shares (px_bench and px_bench_wasm):
 * the BENCH_SCALE knob, the JSON result line, failing, the runtime. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

double bench_scale(void) {
  const char *s = getenv("BENCH_SCALE");
  double v = s ? atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

long bench_scaled(long n) {
  long v = (long)((double)n * bench_scale());
  return v > 0 ? v : 1;
}

void bench_report(const char *name, double value, const char *unit,
                  const char *extra) {
  printf("{\"bench\":\"%s\",\"impl\":\"plexspaces\",\"value\":%.6g,"
         "\"unit\":\"%s\"%s%s}\n",
         name, value, unit, extra && *extra ? "," : "", extra ? extra : "");
  fflush(stdout);
}

_Noreturn void bench_fail(const char *name, const char *why) {
  fprintf(stderr, "px_bench %s: FAILED: %s\n", name, why);
  exit(1);
}

void bench_start_runtime(void) {
  px_runtime_opts o = {0};
  const char *w = getenv("BENCH_WORKERS");
  o.workers = w ? atoi(w) : 2;
  if (px_runtime_start(&o) != 0) bench_fail("runtime", "cannot start");
}
