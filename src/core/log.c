#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plexspaces/core.h"

static int log_level = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

static int level_from_env(void) {
  const char *s = getenv("PX_LOG");
  if (!s) return PX_LOG_WARN;
  for (int i = 0; i <= PX_LOG_OFF; i++)
    if (strcmp(s, level_names[i]) == 0) return i;
  return PX_LOG_WARN;
}

void px_log_set_level(px_log_level level) {
  __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

px_log_level px_log_get_level(void) {
  int l = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
  if (l < 0) {
    l = level_from_env();
    __atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
  }
  return (px_log_level)l;
}

void px_log(px_log_level level, const char *subsystem, const char *fmt, ...) {
  if (level < px_log_get_level()) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  pthread_mutex_lock(&log_lock);
  fprintf(stderr, "%lld.%03ld %-5s [%s] %s\n", (long long)ts.tv_sec,
          ts.tv_nsec / 1000000, level_names[level], subsystem, msg);
  pthread_mutex_unlock(&log_lock);
}

_Noreturn void px__assert_fail(const char *expr, const char *file, int line,
                               const char *func) {
  fprintf(stderr, "plexspaces: assertion failed: %s (%s:%d, %s)\n", expr, file,
          line, func);
  abort();
}

_Noreturn void px_panic(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "plexspaces: panic: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

uint64_t px_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t px_now_ms(void) { return px_now_ns() / 1000000ull; }

int64_t px_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
