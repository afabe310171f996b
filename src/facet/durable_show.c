/* `plexspaces journal show ACTOR`: a durable stream as a person reads it,
 * one line per snapshot and per journal entry, values as JSON. */
#include <stdlib.h>
#include <time.h>

#include "facet/durable_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"

static void fmt_time(int64_t ms, char *buf, size_t cap) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  if (ms <= 0 || !gmtime_r(&s, &tm)) {
    snprintf(buf, cap, "-");
    return;
  }
  size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

/* One line: seq, time, kind, the value as JSON (or as px_val_format's
 * rendering when it has no JSON form, e.g. a NaN). Takes the value. */
static void line(FILE *out, uint64_t seq, const char *kind, px_val v,
                 int64_t ts_ms) {
  char t[40];
  fmt_time(ts_ms, t, sizeof t);
  char *json = NULL;
  size_t len = 0;
  if (px_json_encode(v, &json, &len) == 0) {
    fprintf(out, "%8llu  %-24s  %-8s  %.*s\n", (unsigned long long)seq, t,
            kind, (int)len, json);
    free(json);
  } else {
    char buf[512];
    px_val_format(v, buf, sizeof buf);
    fprintf(out, "%8llu  %-24s  %-8s  %s\n", (unsigned long long)seq, t, kind,
            buf);
  }
  px_val_release(v);
}

typedef struct shown {
  FILE *out;
  size_t n;
} shown;

static int show_snapshot(void *ud, uint64_t seq, const char *kind, px_val v,
                         int64_t ts_ms) {
  (void)kind;
  shown *s = ud;
  s->n++;
  line(s->out, seq, "snapshot", v, ts_ms);
  return 0;
}

static int show_entry(void *ud, uint64_t seq, const char *kind, px_val v,
                      int64_t ts_ms) {
  shown *s = ud;
  s->n++;
  line(s->out, seq, kind ? kind : "?", v, ts_ms);
  return 0;
}

int px_journal_show(px_store *st, const char *id, FILE *out) {
  if (!st || !id || !*id || !out) return PX_EINVAL;
  fprintf(out, "journal %s\n", id);
  fprintf(out, "%8s  %-24s  %-8s  %s\n", "seq", "time (UTC)", "kind",
          "value");
  shown s = {out, 0};
  int rc = px_store_snapshot_list(st, id, show_snapshot, &s);
  if (rc == 0) rc = px_store_journal_read(st, id, 0, show_entry, &s);
  if (rc) {
    fprintf(out, "error: %s\n", px_strerror(rc));
    return rc;
  }
  px_val done;
  if (px_store_kv_get(st, id, PX__DUR_DONE_KEY, &done, NULL) == 0) {
    char buf[64];
    px_val_format(done, buf, sizeof buf);
    fprintf(out, "done mark: seq %s\n", buf);
    px_val_release(done);
  }
  if (s.n == 0) fprintf(out, "(empty: no snapshot, no entries)\n");
  return 0;
}
