/* The runner of the Criterion stand-in (see criterion.h beside this file).
 * Included once per test executable: every test file is its own binary. */
#ifndef PX_TEST_CRITERION_SHIM_RUNNER_H
#define PX_TEST_CRITERION_SHIM_RUNNER_H

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRS_SKIP_CODE 77

static struct crs_test *crs_tests;
static struct crs_suite *crs_suites;

void crs_register_test(struct crs_test *t) {
  /* Keep declaration order: append. */
  struct crs_test **p = &crs_tests;
  while (*p) p = &(*p)->next;
  *p = t;
}

void crs_register_suite(struct crs_suite *s) {
  s->next = crs_suites;
  crs_suites = s;
}

_Noreturn void crs_fail(const char *file, int line, const char *expr,
                        const char *fmt, ...) {
  fprintf(stderr, "%s:%d: Assertion failed: %s", file, line, expr);
  if (fmt && *fmt) {
    va_list ap;
    va_start(ap, fmt);
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  _exit(1);
}

_Noreturn void crs_skip(const char *fmt, ...) {
  if (fmt && *fmt) {
    va_list ap;
    va_start(ap, fmt);
    fputs("skipped: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
  _exit(CRS_SKIP_CODE);
}

static const struct crs_opts *crs_suite_opts(const char *name) {
  for (struct crs_suite *s = crs_suites; s; s = s->next)
    if (strcmp(s->name, name) == 0) return &s->opts;
  return NULL;
}

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  int passed = 0, failed = 0, skipped = 0;
  for (struct crs_test *t = crs_tests; t; t = t->next) {
    const struct crs_opts *so = crs_suite_opts(t->suite);
    void (*init)(void) = t->opts.init ? t->opts.init : so ? so->init : NULL;
    void (*fini)(void) = t->opts.fini ? t->opts.fini : so ? so->fini : NULL;
    double timeout = t->opts.timeout > 0 ? t->opts.timeout
                     : so && so->timeout > 0 ? so->timeout
                                             : 0;
    bool disabled = t->opts.disabled || (so && so->disabled);
    if (disabled) {
      skipped++;
      fprintf(stderr, "[SKIP] %s::%s (disabled)\n", t->suite, t->name);
      continue;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 2;
    }
    if (pid == 0) {
      if (timeout > 0) alarm((unsigned)(timeout + 0.999));
      if (init) init();
      t->fn();
      if (fini) fini();
      fflush(NULL);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      passed++;
      fprintf(stderr, "[PASS] %s::%s\n", t->suite, t->name);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == CRS_SKIP_CODE) {
      skipped++;
      fprintf(stderr, "[SKIP] %s::%s\n", t->suite, t->name);
    } else {
      failed++;
      if (WIFSIGNALED(st))
        fprintf(stderr, "[FAIL] %s::%s: killed by signal %d%s\n", t->suite,
                t->name, WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
      else
        fprintf(stderr, "[FAIL] %s::%s: exit %d\n", t->suite, t->name,
                WEXITSTATUS(st));
    }
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

#endif
