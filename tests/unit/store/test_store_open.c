/* px_store_open_sqlite: directory creation, the exclusive lock, refusal of
 * foreign, corrupt and too-new database files (never overwritten). */
#include <sqlite3.h>
#include <sys/wait.h>

#include "store_test_util.h"

Test(store_open, creates_nested_directory_and_reopens) {
  char *d = tmpdir_new();
  char sub[512];
  snprintf(sub, sizeof sub, "%s/a/b/data", d);
  px_store *s = store_open(sub, NULL);
  px_store_op op = put_op("t/n/s", 1, px_int(42), 0);
  cr_assert_eq(px_store_apply(s, &op, 1), 0);
  px_store_close(s);
  s = store_open(sub, NULL);
  collected c = scan_all(s, "t/n/s");
  cr_assert_eq(c.n, 1);
  cr_assert_eq(c.vals[0].u.i, 42);
  collected_free(&c);
  px_store_close(s);
  tmpdir_free(d);
}

Test(store_open, second_opener_gets_eexist_with_pid) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  char want[32];
  snprintf(want, sizeof want, "pid %ld", (long)getpid());

  /* same process */
  px_store *s2 = NULL;
  char err[512];
  cr_assert_eq(px_store_open_sqlite(d, NULL, &s2, err, sizeof err), PX_EEXIST);
  cr_assert_null(s2);
  cr_assert(strstr(err, want), "error names the holder: %s", err);

  /* another process */
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    px_store *s3 = NULL;
    char e[512] = {0};
    int rc = px_store_open_sqlite(d, NULL, &s3, e, sizeof e);
    _exit(rc == PX_EEXIST && strstr(e, want) ? 0 : 1);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "child opener was not refused with our pid");

  /* released on close */
  px_store_close(s);
  s = store_open(d, NULL);
  px_store_close(s);
  tmpdir_free(d);
}

Test(store_open, lock_released_when_holder_dies) {
  char *d = tmpdir_new();
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    px_store *s = NULL;
    char e[256];
    if (px_store_open_sqlite(d, NULL, &s, e, sizeof e) != 0) _exit(1);
    if (write(p[1], "x", 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c;
  cr_assert_eq(read(p[0], &c, 1), 1);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  px_store *s = store_open(d, NULL);
  px_store_close(s);
  close(p[0]);
  close(p[1]);
  tmpdir_free(d);
}

static void expect_refused(const char *dir, int want_rc, const char *needle) {
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", dir);
  size_t len0;
  char *before = slurp(path, &len0);
  px_store *s = NULL;
  char err[512] = {0};
  int rc = px_store_open_sqlite(dir, NULL, &s, err, sizeof err);
  cr_assert_eq(rc, want_rc, "rc %s (%s)", px_err_name(rc), err);
  cr_assert_null(s);
  cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
  cr_assert(strstr(err, "plexspaces.db"), "message names the file: %s", err);
  size_t len1;
  char *after = slurp(path, &len1);
  cr_assert_eq(len0, len1, "file was modified");
  cr_assert(memcmp(before, after, len0) == 0, "file was modified");
  free(before);
  free(after);
  /* the lock was released by the failed open */
  s = NULL;
  rc = px_store_open_sqlite(dir, NULL, &s, err, sizeof err);
  cr_assert_neq(rc, PX_EEXIST);
  if (s) px_store_close(s);
}

Test(store_open, refuses_garbage_file) {
  char *d = tmpdir_new();
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  FILE *f = fopen(path, "wb");
  for (int i = 0; i < 8192; i++) fputc((i * 7919) & 0xff, f);
  fclose(f);
  expect_refused(d, PX_EINVAL, "not a SQLite database");
  tmpdir_free(d);
}

Test(store_open, refuses_short_file) {
  char *d = tmpdir_new();
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  FILE *f = fopen(path, "wb");
  fputs("hello", f);
  fclose(f);
  expect_refused(d, PX_EINVAL, "not a SQLite database");
  tmpdir_free(d);
}

Test(store_open, refuses_foreign_sqlite_database) {
  char *d = tmpdir_new();
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db,
                            "CREATE TABLE accounts(id INTEGER PRIMARY KEY, b);"
                            "INSERT INTO accounts VALUES(1, 'keep me');",
                            NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  expect_refused(d, PX_EINVAL, "another application");
  tmpdir_free(d);
}

Test(store_open, refuses_other_application_id) {
  char *d = tmpdir_new();
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, "PRAGMA application_id=1234", NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  expect_refused(d, PX_EINVAL, "another application");
  tmpdir_free(d);
}

Test(store_open, refuses_corrupt_database) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  char blob[200];
  memset(blob, 'x', sizeof blob);
  for (uint64_t id = 1; id <= 3000; id += 100) {
    px_store_op ops[100];
    px_val vals[100];
    for (int i = 0; i < 100; i++) {
      vals[i] = px_bin(blob, sizeof blob);
      ops[i] = put_op("t/n/big", id + (uint64_t)i, vals[i], 0);
    }
    cr_assert_eq(px_store_apply(s, ops, 100), 0);
    for (int i = 0; i < 100; i++) px_val_release(vals[i]);
  }
  px_store_close(s); /* checkpoints the WAL into the file */
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_gt(st.st_size, 4096 * 20, "database has pages to corrupt");
  int fd = open(path, O_WRONLY);
  char junk[4096];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 131 + 7);
  for (off_t pg = 3; pg < 12; pg += 2)
    cr_assert_eq(pwrite(fd, junk, sizeof junk, pg * 4096), (ssize_t)sizeof junk);
  close(fd);
  expect_refused(d, PX_EIO, "corrupt");
  tmpdir_free(d);
}

Test(store_open, refuses_newer_schema) {
  char *d = tmpdir_new();
  px_store_close(store_open(d, NULL));
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db,
                            "INSERT INTO schema_version VALUES(999, 0)", NULL,
                            NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  expect_refused(d, PX_ENOTSUP, "newer");
  tmpdir_free(d);
}

Test(store_open, sets_application_id_wal_and_schema_version) {
  char *d = tmpdir_new();
  px_store_opts o = {.sync = PX_STORE_SYNC_NORMAL};
  px_store *s = store_open(d, &o);
  char path[512];
  snprintf(path, sizeof path, "%s/plexspaces.db", d);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
               SQLITE_OK);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(db,
                                  "SELECT (SELECT application_id FROM "
                                  "pragma_application_id), (SELECT "
                                  "journal_mode FROM pragma_journal_mode), "
                                  "(SELECT max(version) FROM schema_version)",
                                  -1, &st, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(sqlite3_column_int(st, 0), 0x50585331);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), "wal");
  cr_assert_geq(sqlite3_column_int(st, 2), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  px_store_close(s);
  tmpdir_free(d);
}
