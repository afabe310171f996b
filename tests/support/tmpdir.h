/* Temporary data directories for tests: made with mkdtemp, removed with
 * everything in them. Shared by every test that opens a store. */
#ifndef PX_TEST_TMPDIR_H
#define PX_TEST_TMPDIR_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/error.h"
#include "plexspaces/store.h"

static int px_test_rm_one(const char *p, const struct stat *sb, int flag,
                          struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

/* Removes dir and everything below it. */
static inline void rm_tree(const char *dir) {
  nftw(dir, px_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory under /tmp (malloc'd; free with tmpdir_free). */
static inline char *tmpdir_new(void) {
  char *d = strdup("/tmp/px_test_XXXXXX");
  cr_assert(d && mkdtemp(d) != NULL);
  return d;
}

static inline void tmpdir_free(char *d) {
  rm_tree(d);
  free(d);
}

/* Opens the SQLite store in dir, failing the test with the reason. */
static inline px_store *store_open(const char *dir, const px_store_opts *o) {
  px_store *s = NULL;
  char err[512];
  int rc = px_store_open_sqlite(dir, o, &s, err, sizeof err);
  cr_assert_eq(rc, 0, "open %s: %s (%s)", dir, px_err_name(rc), err);
  return s;
}

#endif
