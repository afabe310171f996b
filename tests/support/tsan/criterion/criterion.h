/* A stand-in for <criterion/criterion.h>, used only by the ThreadSanitizer
 * build: libcriterion cannot start under TSan ("Could not initialize
 * inheritable arena"), so the TSan build puts this folder first on the
 * include path and the same test sources run here instead.
 *
 * It implements the part of Criterion's API our tests use: Test and
 * TestSuite with .init, .fini, .timeout and .disabled; the cr_assert
 * family; cr_skip_test; cr_log_*. Each test runs in its own forked
 * process, with its timeout enforced by alarm(). The runner prints one
 * line per test and a closing "N passed, N failed, N skipped" line, and
 * exits non-zero when a test failed. */
#ifndef PX_TEST_CRITERION_SHIM_H
#define PX_TEST_CRITERION_SHIM_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct crs_opts {
  void (*init)(void);
  void (*fini)(void);
  double timeout;
  bool disabled;
  const char *description;
};

struct crs_test {
  const char *suite;
  const char *name;
  void (*fn)(void);
  struct crs_opts opts;
  struct crs_test *next;
};

struct crs_suite {
  const char *name;
  struct crs_opts opts;
  struct crs_suite *next;
};

void crs_register_test(struct crs_test *t);
void crs_register_suite(struct crs_suite *s);
_Noreturn void crs_fail(const char *file, int line, const char *expr,
                        const char *fmt, ...);
_Noreturn void crs_skip(const char *fmt, ...);

#define Test(suite, name, ...)                                              \
  static void crs_fn_##suite##_##name(void);                                \
  static struct crs_test crs_t_##suite##_##name = {                         \
      #suite, #name, crs_fn_##suite##_##name, {__VA_ARGS__}, NULL};         \
  __attribute__((constructor)) static void crs_reg_##suite##_##name(void) { \
    crs_register_test(&crs_t_##suite##_##name);                             \
  }                                                                         \
  static void crs_fn_##suite##_##name(void)

#define TestSuite(suite, ...)                                              \
  static struct crs_suite crs_s_##suite = {#suite, {__VA_ARGS__}, NULL};   \
  __attribute__((constructor)) static void crs_regs_##suite(void) {        \
    crs_register_suite(&crs_s_##suite);                                    \
  }

#define cr_assert(cond, ...)                                           \
  do {                                                                 \
    if (!(cond)) crs_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
  } while (0)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) \
  cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) \
  cr_assert(strcmp((a), (b)) != 0, __VA_ARGS__)
#define cr_assert_fail(...) \
  crs_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_expect cr_assert
#define cr_expect_eq cr_assert_eq
#define cr_skip_test(...) crs_skip("" __VA_ARGS__)
#define cr_log_info(...) (fprintf(stderr, "[info] " __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...) (fprintf(stderr, "[warn] " __VA_ARGS__), fputc('\n', stderr))
#define cr_log_error(...) (fprintf(stderr, "[error] " __VA_ARGS__), fputc('\n', stderr))

#include "criterion_shim_runner.h"

#endif
