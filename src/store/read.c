/* Reads of the px_store: tuple scans, journals and snapshots, KV entries
 * and reminders. They run on the caller's thread against a read
 * connection of their own (WAL lets reads run alongside the writer's
 * commits, and every committed apply is visible to the next read).
 *
 * Connections live in a pool: a reader takes one (opening a new one when
 * all are busy: concurrent workers, or a read nested in a scan callback)
 * and gives it back, so prepared statements are reused and a read costs
 * an index lookup, not a prepare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "store/store_impl.h"

enum {
  RS_TUPLES,
  RS_JOURNAL,
  RS_LAST,
  RS_SNAP,
  RS_SNAPS,
  RS_STREAMS,
  RS_KV_GET,
  RS_KV_LIST,
  RS_REMINDERS,
  RS_COUNT
};

static const char *const read_sql[RS_COUNT] = {
    [RS_TUPLES] = "SELECT id, value, expiry_ms FROM tuples WHERE space=?1 "
                  "ORDER BY id",
    [RS_JOURNAL] = "SELECT seq, kind, value, ts_ms FROM journal "
                   "WHERE stream=?1 AND seq>?2 ORDER BY seq",
    [RS_LAST] = "SELECT max(coalesce((SELECT max(seq) FROM journal WHERE "
                "stream=?1), 0), coalesce((SELECT max(seq) FROM snapshots "
                "WHERE stream=?1), 0))",
    [RS_SNAP] = "SELECT seq, value FROM snapshots WHERE stream=?1 "
                "ORDER BY seq DESC LIMIT 1",
    [RS_SNAPS] = "SELECT seq, value, ts_ms FROM snapshots WHERE stream=?1 "
                 "ORDER BY seq",
    [RS_STREAMS] = "SELECT stream FROM journal WHERE stream>=?1 AND "
                   "stream<?2 UNION SELECT stream FROM snapshots WHERE "
                   "stream>=?1 AND stream<?2 ORDER BY 1",
    [RS_KV_GET] = "SELECT value, expiry_ms FROM kv WHERE scope=?1 AND key=?2 "
                  "AND (expiry_ms=0 OR expiry_ms>?3)",
    [RS_KV_LIST] = "SELECT key, value, expiry_ms FROM kv WHERE scope=?1 AND "
                   "key>=?2 AND key<?3 AND (expiry_ms=0 OR expiry_ms>?4) "
                   "ORDER BY key",
    [RS_REMINDERS] = "SELECT owner, name, payload, due_ms, period_ms FROM "
                     "reminders ORDER BY owner, name",
};

typedef struct px__store_reader {
  struct px__store_reader *next;
  sqlite3 *db;
  sqlite3_stmt *st[RS_COUNT]; /* prepared on first use */
} reader;

static void reader_close(reader *r) {
  for (int i = 0; i < RS_COUNT; i++)
    if (r->st[i]) sqlite3_finalize(r->st[i]);
  sqlite3_close(r->db);
  free(r);
}

static reader *reader_open(px_store *s) {
  char path[4096];
  reader *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (px__store_open_conn(px__store_db_path(s, path, sizeof path),
                          SQLITE_OPEN_READWRITE, &r->db) != SQLITE_OK) {
    px_log(PX_LOG_ERROR, "store", "cannot open a reader: %s",
           sqlite3_errmsg(r->db));
    sqlite3_close(r->db);
    free(r);
    return NULL;
  }
  return r;
}

int px__store_readers_init(px_store *s, char *errbuf, size_t errcap) {
  s->readers = reader_open(s);
  if (!s->readers) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "cannot open a reader");
    return PX_EIO;
  }
  return 0;
}

void px__store_readers_free(px_store *s) {
  while (s->readers) {
    reader *r = s->readers;
    s->readers = r->next;
    reader_close(r);
  }
}

static reader *reader_get(px_store *s) {
  pthread_mutex_lock(&s->rmu);
  reader *r = s->readers;
  if (r) s->readers = r->next;
  pthread_mutex_unlock(&s->rmu);
  return r ? r : reader_open(s);
}

static void reader_put(px_store *s, reader *r) {
  pthread_mutex_lock(&s->rmu);
  r->next = s->readers;
  s->readers = r;
  pthread_mutex_unlock(&s->rmu);
}

/* The reader's statement `which`, reset and with bindings cleared. */
static sqlite3_stmt *stmt(reader *r, int which) {
  if (!r->st[which] &&
      sqlite3_prepare_v3(r->db, read_sql[which], -1,
                         SQLITE_PREPARE_PERSISTENT, &r->st[which],
                         NULL) != SQLITE_OK) {
    px_log(PX_LOG_ERROR, "store", "prepare: %s", sqlite3_errmsg(r->db));
    return NULL;
  }
  return r->st[which];
}

/* Ends a statement's use: reset it (releasing its read transaction) and
 * map the last step's code (DONE is success) unless r already failed. */
static int finish(reader *rd, sqlite3_stmt *st, int step_rc, int r) {
  if (!r && step_rc != SQLITE_DONE && step_rc != SQLITE_ROW) {
    px_log(PX_LOG_ERROR, "store", "read: %s", sqlite3_errmsg(rd->db));
    r = PX_EIO;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

static int column_val(sqlite3_stmt *st, int col, px_val *out) {
  const void *b = sqlite3_column_blob(st, col);
  int len = sqlite3_column_bytes(st, col);
  int r = px_msgpack_decode(b ? b : "", (size_t)len, out);
  if (r) px_log(PX_LOG_ERROR, "store", "a stored value does not decode");
  return r;
}

/* prefix's upper bound for a range scan: prefix + 0xff sorts after every
 * string that starts with prefix (0xff never occurs in UTF-8). */
static char *upper_bound(const char *prefix) {
  size_t n = strlen(prefix);
  char *u = malloc(n + 2);
  if (!u) return NULL;
  memcpy(u, prefix, n);
  u[n] = (char)0xff;
  u[n + 1] = 0;
  return u;
}

int px_store_scan_tuples(px_store *s, const char *space, px_store_tuple_cb cb,
                         void *ud) {
  if (!s || !space || !cb) return PX_EINVAL;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_TUPLES) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, space, -1, SQLITE_STATIC);
  int rc, r = 0;
  while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    px_val v;
    r = column_val(st, 1, &v);
    if (!r)
      r = cb(ud, (uint64_t)sqlite3_column_int64(st, 0), v,
             sqlite3_column_int64(st, 2));
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  return r;
}

int px_store_journal_read(px_store *s, const char *stream, uint64_t after,
                          px_store_entry_cb cb, void *ud) {
  if (!s || !stream || !cb) return PX_EINVAL;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_JOURNAL) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)after);
  int rc, r = 0;
  while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    px_val v;
    r = column_val(st, 2, &v);
    if (!r)
      r = cb(ud, (uint64_t)sqlite3_column_int64(st, 0),
             (const char *)sqlite3_column_text(st, 1), v,
             sqlite3_column_int64(st, 3));
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  return r;
}

int px_store_journal_last(px_store *s, const char *stream, uint64_t *seq) {
  if (!s || !stream || !seq) return PX_EINVAL;
  *seq = 0;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_LAST) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *seq = (uint64_t)sqlite3_column_int64(st, 0);
  int r = finish(rd, st, rc, 0);
  reader_put(s, rd);
  return r;
}

int px_store_snapshot_get(px_store *s, const char *stream, uint64_t *seq,
                          px_val *value) {
  if (!s || !stream || !seq || !value) return PX_EINVAL;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_SNAP) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int r = 0;
  if (rc == SQLITE_ROW) {
    *seq = (uint64_t)sqlite3_column_int64(st, 0);
    r = column_val(st, 1, value);
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  if (r == 0 && rc == SQLITE_DONE) return PX_ENOTFOUND;
  return r;
}

int px_store_snapshot_list(px_store *s, const char *stream,
                           px_store_entry_cb cb, void *ud) {
  if (!s || !stream || !cb) return PX_EINVAL;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_SNAPS) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
  int rc, r = 0;
  while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    px_val v;
    r = column_val(st, 1, &v);
    if (!r)
      r = cb(ud, (uint64_t)sqlite3_column_int64(st, 0), "snapshot", v,
             sqlite3_column_int64(st, 2));
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  return r;
}

int px_store_streams(px_store *s, const char *prefix, px_store_name_cb cb,
                     void *ud) {
  if (!s || !prefix || !cb) return PX_EINVAL;
  char *hi = upper_bound(prefix);
  if (!hi) return PX_ENOMEM;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_STREAMS) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    free(hi);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
  int rc, r = 0;
  while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW)
    r = cb(ud, (const char *)sqlite3_column_text(st, 0));
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  free(hi);
  return r;
}

int px_store_kv_get(px_store *s, const char *scope, const char *key,
                    px_val *value, int64_t *expiry_ms) {
  if (!s || !scope || !key || !value) return PX_EINVAL;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_KV_GET) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, px_wall_ms());
  int rc = sqlite3_step(st);
  int r = 0;
  if (rc == SQLITE_ROW) {
    r = column_val(st, 0, value);
    if (!r && expiry_ms) *expiry_ms = sqlite3_column_int64(st, 1);
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  if (r == 0 && rc == SQLITE_DONE) return PX_ENOTFOUND;
  return r;
}

int px_store_kv_list(px_store *s, const char *scope, const char *prefix,
                     px_store_kv_cb cb, void *ud) {
  if (!s || !scope || !cb) return PX_EINVAL;
  if (!prefix) prefix = "";
  char *hi = upper_bound(prefix);
  if (!hi) return PX_ENOMEM;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_KV_LIST) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    free(hi);
    return PX_EIO;
  }
  sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, px_wall_ms());
  int rc, r = 0;
  while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    px_val v;
    r = column_val(st, 1, &v);
    if (!r)
      r = cb(ud, (const char *)sqlite3_column_text(st, 0), v,
             sqlite3_column_int64(st, 2));
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  free(hi);
  return r;
}

int px_store_reminders(px_store *s, px_store_reminder_cb cb, void *ud) {
  if (!s || !cb) return PX_EINVAL;
  reader *rd = reader_get(s);
  sqlite3_stmt *st = rd ? stmt(rd, RS_REMINDERS) : NULL;
  if (!st) {
    if (rd) reader_put(s, rd);
    return PX_EIO;
  }
  int rc, r = 0;
  while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    px_val v;
    r = column_val(st, 2, &v);
    if (!r)
      r = cb(ud, (const char *)sqlite3_column_text(st, 0),
             (const char *)sqlite3_column_text(st, 1), v,
             sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
  }
  r = finish(rd, st, rc, r);
  reader_put(s, rd);
  return r;
}
