#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"

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

/* Formats: 0 text, 1 logfmt, 2 json. */
static int log_format;
static _Thread_local const char *ctx_request_id, *ctx_tenant, *ctx_app;

int px_log_set_format(const char *format) {
  static const char *const names[] = {"text", "logfmt", "json"};
  for (int i = 0; i < 3; i++)
    if (format && strcmp(format, names[i]) == 0) {
      __atomic_store_n(&log_format, i, __ATOMIC_RELAXED);
      return 0;
    }
  return PX_EINVAL;
}

void px_log_set_context(const char *request_id, const char *tenant,
                        const char *app) {
  ctx_request_id = request_id;
  ctx_tenant = tenant;
  ctx_app = app;
}

/* Appends s quoted for logfmt or JSON (both accept "..." with \" \\ and
 * \n escapes; other control bytes become \u00XX in JSON, '?' in logfmt). */
static size_t put_quoted(char *out, size_t pos, size_t cap, const char *s,
                         bool json) {
  if (pos + 1 < cap) out[pos++] = '"';
  for (; *s && pos + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[pos++] = '\\';
      out[pos++] = (char)c;
    } else if (c == '\n') {
      out[pos++] = '\\';
      out[pos++] = 'n';
    } else if (c < 0x20) {
      pos += (size_t)(json ? snprintf(out + pos, cap - pos, "\\u%04x", c)
                           : snprintf(out + pos, cap - pos, "?"));
    } else {
      out[pos++] = (char)c;
    }
  }
  if (pos + 1 < cap) out[pos++] = '"';
  out[pos] = 0;
  return pos;
}

static size_t put_field(char *out, size_t pos, size_t cap, const char *key,
                        const char *val, bool json, bool first) {
  if (!val || !*val || pos + 4 >= cap) return pos;
  pos += (size_t)snprintf(out + pos, cap - pos, json ? "%s\"%s\":" : "%s%s=",
                          first ? "" : (json ? "," : " "), key);
  if (pos >= cap) return cap - 1;
  return put_quoted(out, pos, cap, val, json);
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
  int format = __atomic_load_n(&log_format, __ATOMIC_RELAXED);
  char line[2048];
  if (format == 0) {
    snprintf(line, sizeof line, "%lld.%03ld %-5s [%s] %s",
             (long long)ts.tv_sec, ts.tv_nsec / 1000000, level_names[level],
             subsystem, msg);
  } else {
    bool json = format == 2;
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);
    size_t pos = 0;
    if (json) line[pos++] = '{';
    pos = put_field(line, pos, sizeof line, "ts", when, json, true);
    pos = put_field(line, pos, sizeof line, "level", level_names[level], json,
                    false);
    pos = put_field(line, pos, sizeof line, "subsystem", subsystem, json,
                    false);
    pos = put_field(line, pos, sizeof line, "msg", msg, json, false);
    pos = put_field(line, pos, sizeof line, "request_id", ctx_request_id,
                    json, false);
    pos = put_field(line, pos, sizeof line, "tenant", ctx_tenant, json, false);
    pos = put_field(line, pos, sizeof line, "app", ctx_app, json, false);
    if (json && pos + 2 < sizeof line) {
      line[pos++] = '}';
      line[pos] = 0;
    }
  }
  pthread_mutex_lock(&log_lock);
  fprintf(stderr, "%s\n", line);
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
