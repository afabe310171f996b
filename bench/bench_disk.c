/* What the durable benchmarks (store_commit, ts_durable, dur_*) share: a temp
 * directory on the disk under test (BENCH_STORE_DIR, default /tmp), the
 * split of the writes among actors, and the raw SQLite baseline: the same
 * table and value size as px_store, on the same disk, in the same run. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "bench.h"

char *bench_temp_dir(const char *bench) {
  const char *base = getenv("BENCH_STORE_DIR");
  char *d = malloc(4096);
  snprintf(d, 4096, "%s/px_bench_%s_XXXXXX", base ? base : "/tmp", bench);
  if (!mkdtemp(d)) bench_fail(bench, "mkdtemp failed");
  return d;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

void bench_remove_dir(char *dir) {
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

long bench_collect(const char *bench, long n) {
  long bad = 0;
  for (long i = 0; i < n; i++) {
    px_message *m;
    if (px_receive(NULL, NULL, 600000, &m) != 0) bench_fail(bench, "timeout");
    bad += m->payload.u.i;
    px_message_free(m);
  }
  return bad;
}

long bench_split(const char *actors_env, long total, long *per_actor) {
  const char *a = getenv(actors_env);
  long actors = a ? atol(a) : 64;
  if (actors < 1) actors = 1;
  *per_actor = total / actors;
  if (*per_actor < 1) *per_actor = 1;
  return actors;
}

/* rows/s of raw SQLite in `dir` (WAL, synchronous=FULL, a table shaped like
 * the store's, a prepared insert of the same MessagePack value), with
 * `per_txn` rows per transaction. */
double bench_raw_sqlite_rate(const char *dir, long rows, long per_txn) {
  char path[4200];
  snprintf(path, sizeof path, "%s/raw.db", dir);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) bench_fail("raw_sqlite", "raw");
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE r(space TEXT NOT NULL, id INTEGER NOT NULL,"
                   " value BLOB NOT NULL, expiry_ms INTEGER NOT NULL DEFAULT "
                   "0, PRIMARY KEY(space, id)) WITHOUT ROWID;",
                   NULL, NULL, NULL) != SQLITE_OK)
    bench_fail("raw_sqlite", "raw schema");
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?1, ?2, ?3, 0)", -1, &st,
                         NULL) != SQLITE_OK)
    bench_fail("raw_sqlite", "raw prepare");
  px_val v = px_arr(2, px_int(1), px_str("a tuple of modest size"));
  char *enc;
  size_t len;
  px_msgpack_encode(v, &enc, &len);
  px_val_release(v);
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < rows; i++) {
    if (i % per_txn == 0) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_bind_text(st, 1, "bench/ns/raw", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, i + 1);
    sqlite3_bind_blob(st, 3, enc, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) bench_fail("raw_sqlite", "raw insert");
    sqlite3_reset(st);
    if (i % per_txn == per_txn - 1 || i == rows - 1)
      sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  }
  double secs = (double)(px_now_ns() - t0) / 1e9;
  free(enc);
  sqlite3_finalize(st);
  sqlite3_close(db);
  char side[4300];
  remove(path);
  snprintf(side, sizeof side, "%s-wal", path);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", path);
  remove(side);
  return (double)rows / secs;
}
