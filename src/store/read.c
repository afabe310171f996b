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
  RS_STREAM,
  RS_ENTRY,
  RS_LAST,
  RS_SNAP,
  RS_SNAPS,
  RS_STREAMS,
  RS_KV_GET,
  RS_KV_LIST,
  RS_REMINDERS,
  RS_REMINDERS_OF,
  RS_COUNT
};

static const char *const read_sql[RS_COUNT] = {
    [RS_TUPLES] = "SELECT id, value, expiry_ms FROM tuples WHERE space=?1 "
                  "ORDER BY id",
    [RS_STREAM] = "SELECT id, last_g, trunc_seq FROM streams WHERE name=?1",
    [RS_ENTRY] = "SELECT stream, seq, prev, kind, value, ts_ms FROM journal "
                 "WHERE g=?1",
    [RS_LAST] = "SELECT max(coalesce((SELECT last_seq FROM streams WHERE "
                "name=?1), 0), coalesce((SELECT max(seq) FROM snapshots "
                "WHERE stream=?1), 0))",
    [RS_SNAP] = "SELECT seq, value FROM snapshots WHERE stream=?1 "
                "ORDER BY seq DESC LIMIT 1",
    [RS_SNAPS] = "SELECT seq, value, ts_ms FROM snapshots WHERE stream=?1 "
                 "ORDER BY seq",
    [RS_STREAMS] = "SELECT name FROM streams WHERE name>=?1 AND name<?2 AND "
                   "last_seq>trunc_seq UNION SELECT stream FROM snapshots "
                   "WHERE stream>=?1 AND stream<?2 ORDER BY 1",
    [RS_KV_GET] = "SELECT value, expiry_ms FROM kv WHERE scope=?1 AND key=?2 "
                  "AND (expiry_ms=0 OR expiry_ms>?3)",
    [RS_KV_LIST] = "SELECT key, value, expiry_ms FROM kv WHERE scope=?1 AND "
                   "key>=?2 AND key<?3 AND (expiry_ms=0 OR expiry_ms>?4) "
                   "ORDER BY key",
    [RS_REMINDERS] = "SELECT owner, name, payload, due_ms, period_ms FROM "
                     "reminders ORDER BY owner, name",
    [RS_REMINDERS_OF] = "SELECT owner, name, payload, due_ms, period_ms FROM "
                        "reminders WHERE owner=?1 ORDER BY name",
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

/* A pooled reader and its statement `which`, or NULL (PX_EIO for the
 * caller; nothing is held then). */
static sqlite3_stmt *open_stmt(px_store *s, int which, reader **rd) {
  *rd = reader_get(s);
  sqlite3_stmt *st = *rd ? stmt(*rd, which) : NULL;
  if (!st && *rd) reader_put(s, *rd);
  return st;
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
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_TUPLES, &rd);
  if (!st) return PX_EIO;
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

/* One journal entry collected by a chain walk. */
typedef struct jentry {
  uint64_t seq;
  char *kind;
  px_val value;
  int64_t ts_ms;
} jentry;

/* Walks the stream's chain from its tail back to the first entry with
 * seq <= max(after, trunc_seq), collecting entries newest first. A link
 * to a row that is gone, or that is not the stream's (its g reused after
 * a compaction), or whose seq does not go down, ends the walk: the walk
 * only ever needs live entries, and those are linked. */
static int walk(reader *rd, const char *stream, uint64_t after, jentry **out,
                size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  sqlite3_stmt *st = stmt(rd, RS_STREAM);
  sqlite3_stmt *en = stmt(rd, RS_ENTRY);
  if (!st || !en) return PX_EIO;
  sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t id = 0, g = 0;
  uint64_t limit = after;
  if (rc == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    g = sqlite3_column_int64(st, 1);
    uint64_t trunc = (uint64_t)sqlite3_column_int64(st, 2);
    if (trunc > limit) limit = trunc;
  }
  int r = finish(rd, st, rc, 0);
  if (r || rc != SQLITE_ROW) return r;
  jentry *v = NULL;
  size_t n = 0, cap = 0;
  uint64_t above = UINT64_MAX;
  while (g > 0 && !r) {
    sqlite3_bind_int64(en, 1, g);
    rc = sqlite3_step(en);
    if (rc != SQLITE_ROW) {
      r = finish(rd, en, rc, 0);
      break;
    }
    uint64_t seq = (uint64_t)sqlite3_column_int64(en, 1);
    if (sqlite3_column_int64(en, 0) != id || seq >= above || seq <= limit) {
      finish(rd, en, rc, 0);
      break;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      jentry *nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        r = PX_ENOMEM;
        finish(rd, en, rc, 0);
        break;
      }
      v = nv;
    }
    jentry *e = &v[n];
    e->seq = seq;
    e->ts_ms = sqlite3_column_int64(en, 5);
    e->kind = strdup((const char *)sqlite3_column_text(en, 3));
    r = e->kind ? column_val(en, 4, &e->value) : PX_ENOMEM;
    if (r) {
      free(e->kind);
    } else {
      n++;
      above = seq;
      g = sqlite3_column_int64(en, 2);
    }
    finish(rd, en, rc, 0);
  }
  if (r) {
    for (size_t i = 0; i < n; i++) {
      free(v[i].kind);
      px_val_release(v[i].value);
    }
    free(v);
    return r;
  }
  *out = v;
  *n_out = n;
  return 0;
}

int px_store_journal_read(px_store *s, const char *stream, uint64_t after,
                          px_store_entry_cb cb, void *ud) {
  if (!s || !stream || !cb) return PX_EINVAL;
  reader *rd = reader_get(s);
  if (!rd) return PX_EIO;
  jentry *v;
  size_t n;
  /* One read transaction for the whole walk: a commit in between could
   * otherwise show a tail whose links point at rows not yet seen. */
  int r = sqlite3_exec(rd->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
              ? walk(rd, stream, after, &v, &n)
              : PX_EIO;
  sqlite3_exec(rd->db, "COMMIT", NULL, NULL, NULL);
  reader_put(s, rd);
  if (r) return r;
  size_t i = n;
  while (i > 0 && !r) { /* oldest first; the callback owns each value */
    i--;
    r = cb(ud, v[i].seq, v[i].kind, v[i].value, v[i].ts_ms);
    free(v[i].kind);
  }
  while (i > 0) { /* stopped early: drop the rest */
    i--;
    free(v[i].kind);
    px_val_release(v[i].value);
  }
  free(v);
  return r;
}

int px_store_journal_last(px_store *s, const char *stream, uint64_t *seq) {
  if (!s || !stream || !seq) return PX_EINVAL;
  *seq = 0;
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_LAST, &rd);
  if (!st) return PX_EIO;
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
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_SNAP, &rd);
  if (!st) return PX_EIO;
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
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_SNAPS, &rd);
  if (!st) return PX_EIO;
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
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_STREAMS, &rd);
  if (!st) {
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
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_KV_GET, &rd);
  if (!st) return PX_EIO;
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
  reader *rd;
  sqlite3_stmt *st = open_stmt(s, RS_KV_LIST, &rd);
  if (!st) {
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

static int reminders_on(px_store *s, const char *owner,
                        px_store_reminder_cb cb, void *ud) {
  reader *rd;
  sqlite3_stmt *st =
      open_stmt(s, owner ? RS_REMINDERS_OF : RS_REMINDERS, &rd);
  if (!st) return PX_EIO;
  if (owner) sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
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

int px_store_reminders(px_store *s, px_store_reminder_cb cb, void *ud) {
  if (!s || !cb) return PX_EINVAL;
  return reminders_on(s, NULL, cb, ud);
}

int px_store_reminders_of(px_store *s, const char *owner,
                          px_store_reminder_cb cb, void *ud) {
  if (!s || !owner || !cb) return PX_EINVAL;
  return reminders_on(s, owner, cb, ud);
}
