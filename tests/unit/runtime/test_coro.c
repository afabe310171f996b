/* Unit tests for stackful coroutines (src/runtime/coro.c): switching in
 * and out, state across switches, reset, guard pages. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "runtime/coro.h"

static px__ctx main_ctx;
static px__coro *co;
static int entries, steps;
static int trace[16];
static int ntrace;

static void body(void *arg) {
  px__ctx_entered(&main_ctx);
  entries++;
  int local = (int)(intptr_t)arg; /* lives on the coroutine's stack */
  for (;;) {
    trace[ntrace++] = local++;
    steps++;
    px__ctx_jump(&co->ctx, &main_ctx, false);
  }
}

static void setup(void) {
  px__ctx_init_native(&main_ctx);
  entries = steps = ntrace = 0;
}
static void teardown(void) {
  px__coro_free(co);
  co = NULL;
  px__ctx_destroy_native(&main_ctx);
}

TestSuite(coro, .init = setup, .fini = teardown);

Test(coro, switch_in_and_out_keeps_state) {
  co = px__coro_new(64 * 1024, body, (void *)(intptr_t)100);
  cr_assert_not_null(co);
  for (int i = 0; i < 5; i++) {
    px__ctx_jump(&main_ctx, &co->ctx, false);
    cr_assert_eq(steps, i + 1);
  }
  cr_assert_eq(entries, 1, "entered once, resumed after");
  for (int i = 0; i < 5; i++) cr_assert_eq(trace[i], 100 + i);
}

Test(coro, reset_starts_afresh) {
  co = px__coro_new(64 * 1024, body, (void *)(intptr_t)7);
  px__ctx_jump(&main_ctx, &co->ctx, false);
  px__ctx_jump(&main_ctx, &co->ctx, false);
  cr_assert_eq(trace[1], 8);
  px__coro_reset(co); /* abandon the suspended body */
  px__ctx_jump(&main_ctx, &co->ctx, false);
  cr_assert_eq(entries, 2);
  cr_assert_eq(trace[2], 7, "local state starts over");
}

Test(coro, stack_is_page_rounded_with_guard) {
  size_t page = px__page_size();
  co = px__coro_new(page + 1, body, NULL);
  cr_assert_eq(co->size, 2 * page);
  cr_assert_eq(co->map_size, 3 * page);
  cr_assert(px__coro_in_guard(co, co->map));
  cr_assert(px__coro_in_guard(co, (char *)co->map + page - 1));
  cr_assert(!px__coro_in_guard(co, (char *)co->map + page));
  cr_assert(!px__coro_in_guard(co, &page));
}

static px__coro *co2;
static void body2(void *arg) {
  px__ctx_entered(&main_ctx);
  (void)arg;
  for (;;) {
    trace[ntrace++] = -1;
    px__ctx_jump(&co2->ctx, &main_ctx, false);
  }
}

Test(coro, two_coroutines_interleave) {
  co = px__coro_new(32 * 1024, body, (void *)(intptr_t)1);
  co2 = px__coro_new(32 * 1024, body2, NULL);
  for (int i = 0; i < 3; i++) {
    px__ctx_jump(&main_ctx, &co->ctx, false);
    px__ctx_jump(&main_ctx, &co2->ctx, false);
  }
  int want[] = {1, -1, 2, -1, 3, -1};
  for (int i = 0; i < 6; i++) cr_assert_eq(trace[i], want[i]);
  px__coro_free(co2);
}
