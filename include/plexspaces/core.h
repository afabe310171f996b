/* Process-wide basics: the OOM policy, logging and assertions. */
#ifndef PLEXSPACES_CORE_H
#define PLEXSPACES_CORE_H

#include "common.h"

PX_EXTERN_C_BEGIN

/** Called when a runtime-internal allocation of `size` bytes fails. It may
 *  log or free caches; if it returns, the process aborts. */
typedef void (*px_oom_handler_fn)(size_t size);
PX_API void px_set_oom_handler(px_oom_handler_fn fn);

typedef enum px_log_level {
  PX_LOG_DEBUG = 0,
  PX_LOG_INFO,
  PX_LOG_WARN,
  PX_LOG_ERROR,
  PX_LOG_OFF,
} px_log_level;

/** Sets the minimum level written to stderr (default PX_LOG_WARN, or the
 *  PX_LOG environment variable: debug, info, warn, error, off). */
PX_API void px_log_set_level(px_log_level level);
PX_API px_log_level px_log_get_level(void);
/** Writes one log line with a level and subsystem tag. Thread-safe. */
PX_API void px_log(px_log_level level, const char *subsystem, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));
/** Line format: "text" (the default: "secs.ms level [subsystem] msg"),
 *  "logfmt" (ts=... level=... subsystem=... msg="..." plus the context
 *  keys) or "json" (one object per line with the same keys). Returns
 *  PX_EINVAL for another name. */
PX_API int px_log_set_format(const char *format);
/** This thread's log context, added to every line it writes in the
 *  logfmt and json formats (NULL or "" = absent). The strings are
 *  borrowed until the next call; px_log_set_context(NULL, NULL, NULL)
 *  clears it. Thread-local: an actor handler that may park must not set
 *  it (its worker runs other actors meanwhile). The HTTP server sets it
 *  on its own threads around each request's log lines. */
PX_API void px_log_set_context(const char *request_id, const char *tenant,
                               const char *app);

/** Reports a broken invariant with expr/file/line and aborts. */
PX_API _Noreturn void px__assert_fail(const char *expr, const char *file,
                                      int line, const char *func);
PX_API _Noreturn void px_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#if !defined(NDEBUG) || defined(PX_ALWAYS_ASSERT)
#define px_assert(e) \
  ((e) ? (void)0 : px__assert_fail(#e, __FILE__, __LINE__, __func__))
#else
#define px_assert(e) ((void)0)
#endif

/** Monotonic time in nanoseconds and milliseconds (real clock). */
PX_API uint64_t px_now_ns(void);
PX_API uint64_t px_now_ms(void);
/** Wall-clock milliseconds since the Unix epoch: what durable deadlines
 *  (leases, timers, reminders, TTLs) are stored in, so they survive a
 *  restart. */
PX_API int64_t px_wall_ms(void);

PX_EXTERN_C_END

#endif
