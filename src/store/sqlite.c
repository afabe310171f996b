/* px_store's SQLite backend: opening a data directory (exclusive lock,
 * refusal of foreign or corrupt files, schema migrations), scans, stats
 * and close. The group-commit writer is in writer.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "store/store_impl.h"

/* ---- schema ---------------------------------------------------------------
 * Migration N (1-based) brings the schema from version N-1 to N. Append
 * only: a shipped migration never changes. Journals, KV and reminders
 * arrive as new entries. */
static const char *const migrations[] = {
    /* 1: durable tuple spaces */
    "CREATE TABLE tuples("
    "  space TEXT NOT NULL,"
    "  id INTEGER NOT NULL,"
    "  value BLOB NOT NULL,"          /* MessagePack */
    "  expiry_ms INTEGER NOT NULL DEFAULT 0," /* wall clock, 0 = none */
    "  PRIMARY KEY(space, id)) WITHOUT ROWID;"
    "CREATE INDEX tuples_expiry ON tuples(expiry_ms) WHERE expiry_ms > 0;",
    /* 2: durable execution: journals and snapshots per stream, KV,
     * reminders.
     * The journal is one append-only log for every stream (g = append
     * order), each entry linked to its stream's previous one (prev), and
     * streams holds each stream's tail. Why not a table clustered by
     * (stream, seq): a commit of N callers on N streams would then dirty N
     * B-tree pages (one per stream's tail) and write them all to the WAL;
     * appending dirties one or two, which is 3-4x faster under group
     * commit (see bench dur_append). Reads walk a stream's chain back
     * from its tail. Truncation only raises trunc_seq; the writer deletes
     * dead entries in the background, a window of g at a time. */
    "CREATE TABLE streams("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT UNIQUE,"               /* NULL: a deleted stream's rest */
    "  last_g INTEGER NOT NULL DEFAULT 0,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  trunc_seq INTEGER NOT NULL DEFAULT 0);" /* seq <= it: dead */
    "CREATE TABLE journal("
    "  g INTEGER PRIMARY KEY,"
    "  stream INTEGER NOT NULL,"        /* streams.id */
    "  seq INTEGER NOT NULL,"
    "  prev INTEGER NOT NULL,"          /* g of the stream's previous entry */
    "  kind TEXT NOT NULL,"
    "  value BLOB NOT NULL,"            /* MessagePack */
    "  ts_ms INTEGER NOT NULL);"        /* wall clock at append */
    "CREATE TABLE snapshots("
    "  stream TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"         /* the journal seq it covers */
    "  value BLOB NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(stream, seq)) WITHOUT ROWID;"
    "CREATE TABLE kv("
    "  scope TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value BLOB NOT NULL,"
    "  expiry_ms INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(scope, key)) WITHOUT ROWID;"
    "CREATE INDEX kv_expiry ON kv(expiry_ms) WHERE expiry_ms > 0;"
    "CREATE TABLE reminders("
    "  owner TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  due_ms INTEGER NOT NULL,"
    "  period_ms INTEGER NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  PRIMARY KEY(owner, name)) WITHOUT ROWID;",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int fail(char *errbuf, size_t errcap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *errbuf, size_t errcap, int rc, const char *fmt, ...) {
  if (errbuf && errcap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errcap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int mkdir_p(const char *dir) {
  char *p = strdup(dir);
  if (!p) return -1;
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    *c = '/';
  }
  int r = mkdir(p, 0755);
  free(p);
  if (r != 0 && errno != EEXIST) return -1;
  struct stat st;
  if (stat(dir, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

/* Takes DIR/LOCK with flock (released by the kernel when the process
 * dies, so a crash never leaves a stale lock) and writes our pid in it. */
static int take_lock(const char *dir, int *fd_out, char *errbuf,
                     size_t errcap) {
  char path[4096];
  snprintf(path, sizeof path, "%s/LOCK", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail(errbuf, errcap, PX_EIO, "cannot open %s: %s", path,
                strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char holder[32] = {0};
    ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    close(fd);
    if (e != EWOULDBLOCK)
      return fail(errbuf, errcap, PX_EIO, "cannot lock %s: %s", path,
                  strerror(e));
    if (n > 0) {
      holder[n] = 0;
      holder[strcspn(holder, "\r\n")] = 0;
    }
    return fail(errbuf, errcap, PX_EEXIST,
                "data directory %s is in use by another store (pid %s)", dir,
                n > 0 && holder[0] ? holder : "unknown");
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    int e = errno;
    close(fd);
    return fail(errbuf, errcap, PX_EIO, "cannot write %s: %s", path,
                strerror(e));
  }
  *fd_out = fd;
  return 0;
}

static void release_lock(int fd) {
  if (fd < 0) return;
  if (ftruncate(fd, 0) != 0) { /* the lock goes anyway */
  }
  close(fd); /* drops the flock */
}

static int sql_err(sqlite3 *db, int src, const char *path, const char *what,
                   char *errbuf, size_t errcap) {
  int prim = src & 0xff;
  if (prim == SQLITE_NOTADB)
    return fail(errbuf, errcap, PX_EINVAL,
                "%s is not a SQLite database; refusing to use it", path);
  if (prim == SQLITE_CORRUPT)
    return fail(errbuf, errcap, PX_EIO,
                "%s is corrupt (%s); refusing to use it", path,
                sqlite3_errmsg(db));
  return fail(errbuf, errcap, PX_EIO, "%s: %s failed: %s", path, what,
              sqlite3_errmsg(db));
}

/* One integer from a single-row query. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    *out = 0;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static int exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Checks that the file is ours and sound. *fresh: an empty database with
 * nothing in it (new, or a creation that crashed before its commit). */
static int check_db(sqlite3 *db, const char *path, bool *fresh, char *errbuf,
                    size_t errcap) {
  int64_t app = 0, objects = 0;
  int rc = query_int(db, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK)
    rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
  if (rc != SQLITE_OK)
    return sql_err(db, rc, path, "reading the header", errbuf, errcap);
  *fresh = false;
  if (app == 0 && objects == 0) {
    *fresh = true;
    return 0;
  }
  if (app != PX__STORE_APP_ID)
    return fail(errbuf, errcap, PX_EINVAL,
                "%s belongs to another application (application_id 0x%08x, "
                "plexspaces uses 0x%08x); refusing to use it",
                path, (unsigned)app, (unsigned)PX__STORE_APP_ID);
  sqlite3_stmt *st;
  rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return sql_err(db, rc, path, "quick_check", errbuf, errcap);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    return sql_err(db, rc, path, "quick_check", errbuf, errcap);
  }
  const char *res = (const char *)sqlite3_column_text(st, 0);
  if (!res || strcmp(res, "ok") != 0) {
    int r = fail(errbuf, errcap, PX_EIO,
                 "%s is corrupt (quick_check: %s); refusing to use it", path,
                 res ? res : "?");
    sqlite3_finalize(st);
    return r;
  }
  sqlite3_finalize(st);
  return 0;
}

static int migrate(sqlite3 *db, const char *path, bool fresh, char *errbuf,
                   size_t errcap) {
  int rc = exec(db, "BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return sql_err(db, rc, path, "BEGIN", errbuf, errcap);
  char sql[128];
  int64_t cur = 0;
  if (fresh) {
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d",
             (int)PX__STORE_APP_ID);
    rc = exec(db, sql);
  }
  if (rc == SQLITE_OK)
    rc = exec(db, "CREATE TABLE IF NOT EXISTS schema_version("
                  "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)");
  if (rc == SQLITE_OK)
    rc = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version",
                   &cur);
  if (rc != SQLITE_OK) goto sqlfail;
  if (cur > N_MIGRATIONS) {
    exec(db, "ROLLBACK");
    return fail(errbuf, errcap, PX_ENOTSUP,
                "%s has schema version %lld, newer than this build knows "
                "(%d); refusing to use it",
                path, (long long)cur, N_MIGRATIONS);
  }
  for (int64_t v = cur + 1; v <= N_MIGRATIONS; v++) {
    rc = exec(db, migrations[v - 1]);
    if (rc != SQLITE_OK) goto sqlfail;
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_version(version, applied_ms) "
             "VALUES(%lld, %llu)",
             (long long)v, (unsigned long long)px_now_ms());
    rc = exec(db, sql);
    if (rc != SQLITE_OK) goto sqlfail;
  }
  rc = exec(db, "COMMIT");
  if (rc != SQLITE_OK) goto sqlfail;
  return 0;
sqlfail:;
  int r = sql_err(db, rc, path, "schema migration", errbuf, errcap);
  exec(db, "ROLLBACK");
  return r;
}

int px__store_open_conn(const char *path, int flags, sqlite3 **out) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    *out = db; /* for the message; the caller closes */
    return rc;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 10000);
  *out = db;
  return SQLITE_OK;
}

static const char *const stmt_sql[PX__ST_COUNT] = {
    [PX__ST_PUT] = "INSERT INTO tuples(space, id, value, expiry_ms) "
                   "VALUES(?1, ?2, ?3, ?4)",
    [PX__ST_DEL] = "DELETE FROM tuples WHERE space=?1 AND id=?2",
    [PX__ST_EXPIRY] = "UPDATE tuples SET expiry_ms=?3 WHERE space=?1 AND id=?2",
    [PX__ST_BEGIN] = "BEGIN IMMEDIATE",
    [PX__ST_COMMIT] = "COMMIT",
    [PX__ST_ROLLBACK] = "ROLLBACK",
    [PX__ST_SAVEPOINT] = "SAVEPOINT px_caller",
    [PX__ST_RELEASE] = "RELEASE px_caller",
    [PX__ST_ROLLBACK_TO] = "ROLLBACK TO px_caller",
    [PX__ST_STREAM_GET] = "SELECT id, last_g, last_seq, trunc_seq FROM "
                          "streams WHERE name=?1",
    [PX__ST_STREAM_NEW] = "INSERT INTO streams(name) VALUES(?1)",
    [PX__ST_STREAM_TAIL] = "UPDATE streams SET last_g=?2, last_seq=?3 "
                           "WHERE id=?1",
    [PX__ST_J_APPEND] = "INSERT INTO journal(stream, seq, prev, kind, value, "
                        "ts_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [PX__ST_J_TRUNC] = "UPDATE streams SET trunc_seq=max(trunc_seq, ?2) "
                       "WHERE name=?1",
    [PX__ST_SNAP_TRUNC] =
        "DELETE FROM snapshots WHERE stream=?1 AND seq<(SELECT max(seq) "
        "FROM snapshots WHERE stream=?1 AND seq<=?2)",
    [PX__ST_SNAP_PUT] = "INSERT OR REPLACE INTO snapshots(stream, seq, value, "
                        "ts_ms) VALUES(?1, ?2, ?3, ?4)",
    [PX__ST_J_DROP] = "UPDATE streams SET name=NULL, trunc_seq=last_seq "
                      "WHERE name=?1",
    [PX__ST_SNAP_DROP] = "DELETE FROM snapshots WHERE stream=?1",
    [PX__ST_J_COMPACT] =
        "DELETE FROM journal WHERE g IN (SELECT j.g FROM journal j JOIN "
        "streams s ON s.id=j.stream WHERE j.g>=?1 AND j.g<?2 AND "
        "j.seq<=s.trunc_seq)",
    [PX__ST_J_MAXG] = "SELECT coalesce(max(g), 0) FROM journal",
    [PX__ST_KV_SWEEP] =
        "DELETE FROM kv WHERE (scope, key) IN (SELECT scope, key FROM kv "
        "WHERE expiry_ms>0 AND expiry_ms<=?1 LIMIT 512)",
    [PX__ST_KV_PUT] = "INSERT OR REPLACE INTO kv(scope, key, value, expiry_ms, "
                      "updated_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
    [PX__ST_KV_INSERT] = "INSERT INTO kv(scope, key, value, expiry_ms, "
                         "updated_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
    [PX__ST_KV_DEL] = "DELETE FROM kv WHERE scope=?1 AND key=?2",
    [PX__ST_KV_DEL_EXPIRED] = "DELETE FROM kv WHERE scope=?1 AND key=?2 AND "
                              "expiry_ms>0 AND expiry_ms<=?3",
    [PX__ST_KV_SWAP] = "UPDATE kv SET value=?3, expiry_ms=?4, updated_ms=?5 "
                       "WHERE scope=?1 AND key=?2 AND value=?6 AND "
                       "(expiry_ms=0 OR expiry_ms>?5)",
    [PX__ST_KV_GET] = "SELECT value, expiry_ms FROM kv WHERE scope=?1 AND "
                      "key=?2",
    [PX__ST_REM_PUT] = "INSERT OR REPLACE INTO reminders(owner, name, due_ms, "
                       "period_ms, payload) VALUES(?1, ?2, ?3, ?4, ?5)",
    [PX__ST_REM_DEL] = "DELETE FROM reminders WHERE owner=?1 AND name=?2",
};

static void store_free(px_store *s) {
  for (int i = 0; i < PX__ST_COUNT; i++)
    if (s->st[i]) sqlite3_finalize(s->st[i]);
  px__store_readers_free(s);
  px__store_tails_clear(s);
  free(s->tails);
  if (s->wdb) sqlite3_close(s->wdb);
  release_lock(s->lock_fd);
  pthread_mutex_destroy(&s->rmu);
  free(s->dir);
  free(s);
}

/* SQLite keeps global memory statistics behind a global mutex on every
 * allocation; nothing here reads them. Turned off before SQLite first
 * initialises (if the process used SQLite before, the call is refused
 * and nothing changes). */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_setup(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int px_store_open_sqlite(const char *dir, const px_store_opts *opts,
                         px_store **out, char *errbuf, size_t errcap) {
  pthread_once(&sqlite_once, sqlite_setup);
  if (errbuf && errcap) errbuf[0] = 0;
  if (!dir || !*dir || !out)
    return fail(errbuf, errcap, PX_EINVAL, "no directory given");
  *out = NULL;
  if (mkdir_p(dir) != 0)
    return fail(errbuf, errcap, PX_EIO, "cannot create directory %s: %s", dir,
                strerror(errno));
  px_store *s = calloc(1, sizeof *s);
  if (!s) return fail(errbuf, errcap, PX_ENOMEM, "out of memory");
  s->lock_fd = -1;
  pthread_mutex_init(&s->rmu, NULL);
  if (opts) s->opts = *opts;
  s->dir = strdup(dir);
  int r;
  if (!s->dir) {
    r = fail(errbuf, errcap, PX_ENOMEM, "out of memory");
    goto out_free;
  }
  r = take_lock(dir, &s->lock_fd, errbuf, errcap);
  if (r) goto out_free;

  char path[4096];
  snprintf(path, sizeof path, "%s/plexspaces.db", dir);
  struct stat st;
  bool exists = stat(path, &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) {
    r = fail(errbuf, errcap, PX_EINVAL, "%s is not a regular file", path);
    goto out_free;
  }
  if (exists && st.st_size > 0) {
    /* Look at the magic ourselves: never let anything write to a file
     * that is not a SQLite database. */
    char hdr[16] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, hdr, sizeof hdr, 0) : -1;
    if (fd >= 0) close(fd);
    if (n != (ssize_t)sizeof hdr || st.st_size < 100 ||
        memcmp(hdr, "SQLite format 3", 16) != 0) {
      r = fail(errbuf, errcap, PX_EINVAL,
               "%s is not a SQLite database; refusing to use it", path);
      goto out_free;
    }
  }
  int rc = px__store_open_conn(path,
                     SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE),
                     &s->wdb);
  if (rc != SQLITE_OK) {
    r = sql_err(s->wdb, rc, path, "open", errbuf, errcap);
    goto out_free;
  }
  bool fresh = false;
  r = check_db(s->wdb, path, &fresh, errbuf, errcap);
  if (r) goto out_free;

  /* WAL first (it rewrites the header of a fresh file), then the rest. */
  {
    sqlite3_stmt *q;
    rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode=WAL", -1, &q, NULL);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(q);
      const char *m = rc == SQLITE_ROW
                          ? (const char *)sqlite3_column_text(q, 0)
                          : NULL;
      bool wal = m && strcmp(m, "wal") == 0;
      sqlite3_finalize(q);
      if (rc == SQLITE_ROW && !wal) {
        r = fail(errbuf, errcap, PX_EIO, "%s: cannot switch to WAL mode",
                 path);
        goto out_free;
      }
      if (rc == SQLITE_ROW) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
      r = sql_err(s->wdb, rc, path, "journal_mode=WAL", errbuf, errcap);
      goto out_free;
    }
  }
  rc = exec(s->wdb, s->opts.sync == PX_STORE_SYNC_NORMAL
                        ? "PRAGMA synchronous=NORMAL"
                        : "PRAGMA synchronous=FULL");
  if (rc == SQLITE_OK) rc = exec(s->wdb, "PRAGMA temp_store=MEMORY");
  if (rc != SQLITE_OK) {
    r = sql_err(s->wdb, rc, path, "setting pragmas", errbuf, errcap);
    goto out_free;
  }
  r = migrate(s->wdb, path, fresh, errbuf, errcap);
  if (r) goto out_free;

  for (int i = 0; i < PX__ST_COUNT; i++) {
    rc = sqlite3_prepare_v3(s->wdb, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                            &s->st[i], NULL);
    if (rc != SQLITE_OK) {
      r = sql_err(s->wdb, rc, path, "prepare", errbuf, errcap);
      goto out_free;
    }
  }
  r = px__store_readers_init(s, errbuf, errcap);
  if (r) goto out_free;
  r = px__store_writer_start(s, errbuf, errcap);
  if (r) goto out_free;
  *out = s;
  return 0;
out_free:
  store_free(s);
  return r;
}

int px_store_open_sqlite_reader(const char *dir, px_store **out,
                                char *errbuf, size_t errcap) {
  if (errbuf && errcap) errbuf[0] = 0;
  if (!dir || !*dir || !out)
    return fail(errbuf, errcap, PX_EINVAL, "no directory given");
  *out = NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/plexspaces.db", dir);
  struct stat st;
  if (stat(path, &st) != 0)
    return fail(errbuf, errcap, PX_ENOTFOUND, "%s: no store there (%s)", dir,
                strerror(errno));
  px_store *s = calloc(1, sizeof *s);
  if (!s) return fail(errbuf, errcap, PX_ENOMEM, "out of memory");
  s->lock_fd = -1;
  s->read_only = true;
  pthread_mutex_init(&s->rmu, NULL);
  s->dir = strdup(dir);
  int r;
  sqlite3 *db = NULL;
  if (!s->dir) {
    r = fail(errbuf, errcap, PX_ENOMEM, "out of memory");
    goto out_free;
  }
  int rc = px__store_open_conn(path, SQLITE_OPEN_READONLY, &db);
  bool fresh = false;
  if (rc != SQLITE_OK) {
    r = sql_err(db, rc, path, "open", errbuf, errcap);
    goto out_free;
  }
  r = check_db(db, path, &fresh, errbuf, errcap);
  int64_t ver = 0;
  if (!r && (fresh || query_int(db, "SELECT coalesce(max(version), 0) FROM "
                                    "schema_version",
                                &ver) != SQLITE_OK ||
             ver != N_MIGRATIONS))
    r = fail(errbuf, errcap, PX_ENOTSUP,
             "%s has schema version %lld, this build reads version %d", path,
             (long long)ver, N_MIGRATIONS);
  if (r) goto out_free;
  r = px__store_readers_init(s, errbuf, errcap);
  if (r) goto out_free;
  sqlite3_close(db);
  *out = s;
  return 0;
out_free:
  sqlite3_close(db);
  store_free(s);
  return r;
}

void px_store_close(px_store *s) {
  if (!s) return;
  if (!s->read_only) px__store_writer_stop(s); /* drains the queue */
  store_free(s);
}

const char *px__store_db_path(px_store *s, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/plexspaces.db", s->dir);
  return buf;
}

void px_store_get_stats(px_store *s, px_store_stats *out) {
  out->commits = atomic_load(&s->commits);
  out->ops = atomic_load(&s->ops);
  out->callers = atomic_load(&s->callers);
}

