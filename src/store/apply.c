/* The writer's side of every op kind: binding an op to its SQL statement
 * in the open transaction. Values arrive already encoded (MessagePack, on
 * the caller's thread); the writer only runs SQL. A failing op reports a
 * PX error and the writer rolls back just its caller (see writer.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "store/store_impl.h"

bool px__store_op_has_value(px_store_op_kind k) {
  switch (k) {
  case PX_STORE_TUPLE_PUT:
  case PX_STORE_JOURNAL_APPEND:
  case PX_STORE_SNAPSHOT_PUT:
  case PX_STORE_KV_PUT:
  case PX_STORE_KV_CAS:
  case PX_STORE_REMINDER_PUT:
    return true;
  default:
    return false;
  }
}

/* Steps a bound statement and resets it: SQLITE_DONE (or ROW) becomes
 * 0, a constraint violation `on_constraint`, anything else PX_EIO. */
static int run(px_store *s, sqlite3_stmt *st, int on_constraint) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return on_constraint;
  px_log(PX_LOG_ERROR, "store", "apply: %s", sqlite3_errmsg(s->wdb));
  return PX_EIO;
}

static sqlite3_stmt *bind2(px_store *s, int which, const char *a,
                           const char *b) {
  sqlite3_stmt *st = s->st[which];
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  return st;
}

static sqlite3_stmt *bind_stream(px_store *s, int which, const char *stream,
                                 uint64_t seq) {
  sqlite3_stmt *st = s->st[which];
  sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)seq);
  return st;
}

static int tuple_op(px_store *s, const px_store_op *op, const char *enc,
                    size_t len) {
  sqlite3_stmt *st;
  switch (op->kind) {
  case PX_STORE_TUPLE_PUT:
    st = bind_stream(s, PX__ST_PUT, op->space, op->id);
    sqlite3_bind_blob(st, 3, enc, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, op->expiry_ms);
    return run(s, st, PX_EEXIST);
  case PX_STORE_TUPLE_DEL:
    st = bind_stream(s, PX__ST_DEL, op->space, op->id);
    break;
  default: /* PX_STORE_TUPLE_EXPIRY */
    st = bind_stream(s, PX__ST_EXPIRY, op->space, op->id);
    sqlite3_bind_int64(st, 3, op->expiry_ms);
    break;
  }
  int rc = run(s, st, PX_EIO);
  if (rc == 0 && sqlite3_changes(s->wdb) == 0) rc = PX_ENOTFOUND;
  return rc;
}

/* ---- stream tails ---------------------------------------------------------
 * An append needs its stream's row (id, tail, truncation point). The
 * writer keeps the rows it has seen in an open-addressing table, so a
 * busy stream's append is an insert and an update, not also a lookup
 * (the writer's CPU per append is what bounds dur_append). The table is
 * a cache of committed-or-pending rows: any rollback clears it, and so
 * does filling it up (it is rebuilt on demand). */
typedef struct px__tail {
  char *name; /* NULL: empty slot */
  int64_t id, last_g, last_seq, trunc;
} tail;

#define TAIL_SLOTS 8192 /* power of two; at most half are used */

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

void px__store_tails_clear(px_store *s) {
  if (!s->tails) return;
  for (size_t i = 0; i < TAIL_SLOTS; i++) free(s->tails[i].name);
  if (s->ntails) memset(s->tails, 0, TAIL_SLOTS * sizeof *s->tails);
  s->ntails = 0;
}

/* The slot of `name`: its entry, or the empty slot where it would go
 * (NULL when there is no table and it cannot be made). */
static tail *tail_slot(px_store *s, const char *name) {
  if (!s->tails && !(s->tails = calloc(TAIL_SLOTS, sizeof *s->tails)))
    return NULL;
  for (size_t i = name_hash(name) & (TAIL_SLOTS - 1);;
       i = (i + 1) & (TAIL_SLOTS - 1))
    if (!s->tails[i].name || strcmp(s->tails[i].name, name) == 0)
      return &s->tails[i];
}

/* The stream's row, from the cache or the database (creating it). */
static int tail_of(px_store *s, const char *name, tail *out) {
  tail *t = tail_slot(s, name);
  if (t && t->name) {
    *out = *t;
    return 0;
  }
  sqlite3_stmt *st = s->st[PX__ST_STREAM_GET];
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  *out = (tail){0};
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->id = sqlite3_column_int64(st, 0);
    out->last_g = sqlite3_column_int64(st, 1);
    out->last_seq = sqlite3_column_int64(st, 2);
    out->trunc = sqlite3_column_int64(st, 3);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    px_log(PX_LOG_ERROR, "store", "append: %s", sqlite3_errmsg(s->wdb));
    return PX_EIO;
  }
  if (rc == SQLITE_DONE) {
    st = s->st[PX__ST_STREAM_NEW];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if ((rc = run(s, st, PX_EIO)) != 0) return rc;
    out->id = sqlite3_last_insert_rowid(s->wdb);
  }
  return 0;
}

/* Notes a stream's row as it now stands in the open transaction. */
static void tail_note(px_store *s, const char *name, const tail *v) {
  tail *t = tail_slot(s, name);
  if (!t) return;
  if (!t->name) {
    if (s->ntails >= TAIL_SLOTS / 2) { /* full: start afresh */
      px__store_tails_clear(s);
      t = tail_slot(s, name);
    }
    if (!(t->name = strdup(name))) return;
    s->ntails++;
  }
  t->id = v->id;
  t->last_g = v->last_g;
  t->last_seq = v->last_seq;
  t->trunc = v->trunc;
}

/* Appends one entry at the stream's tail: its seq must be past the tail
 * and the truncation point (a seq at or behind them means a second, stale
 * writer of the stream). */
static int journal_append(px_store *s, const px_store_op *op, const char *enc,
                          size_t len, int64_t now) {
  if (op->id == 0 || op->id > INT64_MAX || !op->key) return PX_EINVAL;
  tail t;
  int rc = tail_of(s, op->space, &t);
  if (rc) return rc;
  if ((int64_t)op->id <= t.last_seq || (int64_t)op->id <= t.trunc)
    return PX_ECONFLICT; /* behind the tail or the truncation point */
  sqlite3_stmt *st = s->st[PX__ST_J_APPEND];
  sqlite3_bind_int64(st, 1, t.id);
  sqlite3_bind_int64(st, 2, (int64_t)op->id);
  /* a dead predecessor is never walked to: leave no link to it */
  sqlite3_bind_int64(st, 3, t.last_seq > t.trunc ? t.last_g : 0);
  sqlite3_bind_text(st, 4, op->key, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 5, enc, (int)len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, op->i64 ? op->i64 : now);
  if ((rc = run(s, st, PX_EIO)) != 0) return rc;
  t.last_g = sqlite3_last_insert_rowid(s->wdb);
  t.last_seq = (int64_t)op->id;
  st = s->st[PX__ST_STREAM_TAIL];
  sqlite3_bind_int64(st, 1, t.id);
  sqlite3_bind_int64(st, 2, t.last_g);
  sqlite3_bind_int64(st, 3, t.last_seq);
  if ((rc = run(s, st, PX_EIO)) != 0) return rc;
  tail_note(s, op->space, &t);
  return 0;
}

static int journal_op(px_store *s, const px_store_op *op, const char *enc,
                      size_t len, int64_t now) {
  sqlite3_stmt *st;
  int rc;
  switch (op->kind) {
  case PX_STORE_JOURNAL_APPEND:
    return journal_append(s, op, enc, len, now);
  case PX_STORE_SNAPSHOT_PUT:
    st = bind_stream(s, PX__ST_SNAP_PUT, op->space, op->id);
    sqlite3_bind_blob(st, 3, enc, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    return run(s, st, PX_EIO);
  case PX_STORE_JOURNAL_TRUNCATE: {
    s->truncs++;
    rc = run(s, bind_stream(s, PX__ST_J_TRUNC, op->space, op->id), PX_EIO);
    if (rc) return rc;
    tail *t = s->tails ? tail_slot(s, op->space) : NULL;
    if (t && t->name && (int64_t)op->id > t->trunc) t->trunc = (int64_t)op->id;
    return run(s, bind_stream(s, PX__ST_SNAP_TRUNC, op->space, op->id),
               PX_EIO);
  }
  default: /* PX_STORE_STREAM_DELETE: its entries all die with its row's
              name; the name starts afresh at the next append (a rare op:
              the whole tail cache goes rather than one slot of it) */
    s->truncs++;
    px__store_tails_clear(s);
    rc = run(s, bind_stream(s, PX__ST_J_DROP, op->space, 0), PX_EIO);
    if (rc) return rc;
    return run(s, bind_stream(s, PX__ST_SNAP_DROP, op->space, 0), PX_EIO);
  }
}

/* Entries of g in one compaction step: bounded, so that a step never
 * holds the writer long. */
#define COMPACT_WINDOW 4096

int px__store_compact_step(px_store *s) {
  if (s->truncs == 0) return 0;
  if (s->compact_from == 0) s->pass_truncs = s->truncs; /* a pass begins */
  if (run(s, s->st[PX__ST_BEGIN], PX_EIO) != 0) return PX_EIO;
  sqlite3_stmt *st = s->st[PX__ST_J_COMPACT];
  sqlite3_bind_int64(st, 1, (int64_t)s->compact_from);
  sqlite3_bind_int64(st, 2, (int64_t)(s->compact_from + COMPACT_WINDOW));
  int rc = run(s, st, PX_EIO);
  int64_t maxg = 0;
  if (rc == 0) {
    st = s->st[PX__ST_J_MAXG];
    if (sqlite3_step(st) == SQLITE_ROW) maxg = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  if (rc != 0 || run(s, s->st[PX__ST_COMMIT], PX_EIO) != 0) {
    if (sqlite3_get_autocommit(s->wdb) == 0)
      run(s, s->st[PX__ST_ROLLBACK], PX_EIO);
    return PX_EIO;
  }
  s->compact_from += COMPACT_WINDOW;
  if ((int64_t)s->compact_from > maxg) { /* a full pass is done: what was
                                             truncated meanwhile needs
                                             another */
    s->compact_from = 0;
    s->truncs -= s->pass_truncs;
  }
  return 0;
}

int px__store_sweep_kv(px_store *s) {
  if (run(s, s->st[PX__ST_BEGIN], PX_EIO) != 0) return PX_EIO;
  sqlite3_stmt *st = s->st[PX__ST_KV_SWEEP];
  sqlite3_bind_int64(st, 1, px_wall_ms());
  int rc = run(s, st, PX_EIO);
  if (rc != 0 || run(s, s->st[PX__ST_COMMIT], PX_EIO) != 0) {
    if (sqlite3_get_autocommit(s->wdb) == 0)
      run(s, s->st[PX__ST_ROLLBACK], PX_EIO);
    return PX_EIO;
  }
  return 0;
}

/* Reads the live int stored at (scope, key): *v, or 0 when missing or
 * expired; *expiry keeps a live entry's expiry. PX_ETYPE if not an int. */
static int kv_read_int(px_store *s, const px_store_op *op, int64_t now,
                       int64_t *v, int64_t *expiry) {
  sqlite3_stmt *st = bind2(s, PX__ST_KV_GET, op->space, op->key);
  *v = 0;
  *expiry = 0;
  int rc = sqlite3_step(st);
  int r = 0;
  if (rc == SQLITE_ROW) {
    int64_t exp = sqlite3_column_int64(st, 1);
    if (exp == 0 || exp > now) {
      const void *b = sqlite3_column_blob(st, 0);
      px_val cur;
      r = px_msgpack_decode(b ? b : "", (size_t)sqlite3_column_bytes(st, 0),
                            &cur);
      if (r == 0) {
        if (cur.type == PX_T_INT) {
          *v = cur.u.i;
          *expiry = exp;
        } else {
          r = PX_ETYPE;
        }
        px_val_release(cur);
      }
    }
  } else if (rc != SQLITE_DONE) {
    px_log(PX_LOG_ERROR, "store", "kv read: %s", sqlite3_errmsg(s->wdb));
    r = PX_EIO;
  }
  sqlite3_reset(st);
  return r;
}

static int kv_op(px_store *s, px__store_req *r, size_t i, int64_t now) {
  const px_store_op *op = &r->ops[i];
  const char *enc = r->enc[i];
  size_t len = r->enc_len[i];
  sqlite3_stmt *st;
  int rc;
  if (!op->key) return PX_EINVAL;
  switch (op->kind) {
  case PX_STORE_KV_PUT:
    st = bind2(s, PX__ST_KV_PUT, op->space, op->key);
    break;
  case PX_STORE_KV_DEL:
    return run(s, bind2(s, PX__ST_KV_DEL, op->space, op->key), PX_EIO);
  case PX_STORE_KV_CAS:
    if (op->expect_absent) {
      /* An expired entry counts as absent: drop it, then insert. */
      st = bind2(s, PX__ST_KV_DEL_EXPIRED, op->space, op->key);
      sqlite3_bind_int64(st, 3, now);
      if ((rc = run(s, st, PX_EIO)) != 0) return rc;
      st = bind2(s, PX__ST_KV_INSERT, op->space, op->key);
      sqlite3_bind_blob(st, 3, enc, (int)len, SQLITE_STATIC);
      sqlite3_bind_int64(st, 4, op->expiry_ms);
      sqlite3_bind_int64(st, 5, now);
      return run(s, st, PX_ECONFLICT);
    }
    st = bind2(s, PX__ST_KV_SWAP, op->space, op->key);
    sqlite3_bind_blob(st, 3, enc, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, op->expiry_ms);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_blob(st, 6, r->enc[r->n + i], (int)r->enc_len[r->n + i],
                      SQLITE_STATIC);
    rc = run(s, st, PX_EIO);
    if (rc == 0 && sqlite3_changes(s->wdb) == 0) rc = PX_ECONFLICT;
    return rc;
  default: { /* PX_STORE_KV_INCR */
    int64_t v, exp;
    if ((rc = kv_read_int(s, op, now, &v, &exp)) != 0) return rc;
    if ((op->i64 > 0 && v > INT64_MAX - op->i64) ||
        (op->i64 < 0 && v < INT64_MIN - op->i64))
      return PX_ERANGE;
    v += op->i64;
    char *e = NULL;
    size_t elen = 0;
    if (px_msgpack_encode(px_int(v), &e, &elen) != 0) return PX_ENOMEM;
    st = bind2(s, PX__ST_KV_PUT, op->space, op->key);
    sqlite3_bind_blob(st, 3, e, (int)elen, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, exp);
    sqlite3_bind_int64(st, 5, now);
    rc = run(s, st, PX_EIO);
    free(e);
    if (rc == 0) r->result = v;
    return rc;
  }
  }
  sqlite3_bind_blob(st, 3, enc, (int)len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, op->expiry_ms);
  sqlite3_bind_int64(st, 5, now);
  return run(s, st, PX_EIO);
}

static int reminder_op(px_store *s, const px_store_op *op, const char *enc,
                       size_t len) {
  if (!op->key) return PX_EINVAL;
  if (op->kind == PX_STORE_REMINDER_DEL)
    return run(s, bind2(s, PX__ST_REM_DEL, op->space, op->key), PX_EIO);
  sqlite3_stmt *st = bind2(s, PX__ST_REM_PUT, op->space, op->key);
  sqlite3_bind_int64(st, 3, op->expiry_ms);
  sqlite3_bind_int64(st, 4, op->i64);
  sqlite3_bind_blob(st, 5, enc, (int)len, SQLITE_STATIC);
  return run(s, st, PX_EIO);
}

int px__store_apply_ops(px_store *s, px__store_req *r) {
  int64_t now = 0;
  for (size_t i = 0; i < r->n; i++) {
    const px_store_op *op = &r->ops[i];
    const char *enc = r->enc[i];
    size_t len = r->enc_len[i];
    int rc;
    if (op->kind >= PX_STORE_JOURNAL_APPEND && now == 0) now = px_wall_ms();
    switch (op->kind) {
    case PX_STORE_TUPLE_PUT:
    case PX_STORE_TUPLE_DEL:
    case PX_STORE_TUPLE_EXPIRY:
      rc = tuple_op(s, op, enc, len);
      break;
    case PX_STORE_JOURNAL_APPEND:
    case PX_STORE_JOURNAL_TRUNCATE:
    case PX_STORE_SNAPSHOT_PUT:
    case PX_STORE_STREAM_DELETE:
      rc = journal_op(s, op, enc, len, now);
      break;
    case PX_STORE_KV_PUT:
    case PX_STORE_KV_DEL:
    case PX_STORE_KV_CAS:
    case PX_STORE_KV_INCR:
      rc = kv_op(s, r, i, now);
      break;
    case PX_STORE_REMINDER_PUT:
    case PX_STORE_REMINDER_DEL:
      rc = reminder_op(s, op, enc, len);
      break;
    default:
      rc = PX_EINVAL;
    }
    if (rc) return rc;
  }
  return 0;
}
