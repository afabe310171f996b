/* A GenServer as a virtual actor: asks are its calls, a deactivation is an
 * orderly stop (its terminate runs with [shutdown, idle]), and a durable
 * one's encode/decode see the user's state. */
#include <ftw.h>
#include <unistd.h>

#include "support/tmpdir.h"
#include "test_virtual_util.h"

static _Atomic(int) gs_terms;
static _Atomic(bool) gs_term_idle;

typedef struct account {
  int64_t n;
} account;

static px_gs_result a_init(px_val args, void **state, px_gs_out *out) {
  (void)args;
  (void)out;
  *state = calloc(1, sizeof(account));
  return PX_GS_OK;
}

static px_gs_result a_call(void *state, px_atom type, px_val payload,
                           px_from from, px_gs_out *out) {
  (void)payload;
  (void)from;
  account *a = state;
  if (!strcmp(px_atom_name(type), "inc")) a->n++;
  return px_gs_reply(out, px_int(a->n));
}

static void a_terminate(void *state, px_val reason) {
  (void)state;
  atomic_fetch_add(&gs_terms, 1);
  if (is_idle_reason(reason)) atomic_store(&gs_term_idle, true);
}

static const px_gen_server acct_gs = {.name = "acct",
                                      .init = a_init,
                                      .handle_call = a_call,
                                      .terminate = a_terminate,
                                      .free_state = free};

static px_val a_encode(const void *state) {
  return px_int(((const account *)state)->n);
}

static int a_decode(px_val saved, void *state) {
  ((account *)state)->n = saved.u.i;
  return 0;
}

static void reg(const px_durable_opts *d, size_t cap) {
  px_virtual_opts o = {.name = "acct", .durable = d, .max_active = cap};
  cr_assert_eq(px_virtual_register(px_gen_server_type(),
                                   px_gen_server_args(&acct_gs, px_nil()), &o),
               0);
}

static void deactivate_and_wait(const char *key) {
  px_ref r;
  cr_assert_eq(px_virtual_ref("acct", key, &r), 0);
  px_monitor(r);
  cr_assert_eq(px_virtual_deactivate("acct", key), 0);
  px_val reason = wait_down(NULL);
  cr_assert(is_idle_reason(reason));
  px_val_release(reason);
}

Test(virtual_gen_server, calls_and_orderly_deactivation) {
  vt_start(false);
  reg(NULL, 0);
  for (int i = 1; i <= 3; i++) cr_assert_eq(ask_int("acct", "g", "inc"), i);
  deactivate_and_wait("g");
  cr_assert_eq(atomic_load(&gs_terms), 1);
  cr_assert(atomic_load(&gs_term_idle));
  cr_assert_eq(ask_int("acct", "g", "get"), 0); /* volatile */
  px_runtime_stop();
}

Test(virtual_gen_server, durable_state_survives) {
  vt_start(false);
  char *dir = tmpdir_new();
  px_store *st = store_open(dir, NULL);
  px_durable_opts d = {.store = st,
                       .no_journal = true,
                       .encode = a_encode,
                       .decode = a_decode};
  reg(&d, 2);
  for (int i = 1; i <= 3; i++) cr_assert_eq(ask_int("acct", "g", "inc"), i);
  deactivate_and_wait("g");
  cr_assert_eq(atomic_load(&gs_terms), 1);
  cr_assert_eq(ask_int("acct", "g", "get"), 3);
  /* Through the cap: h, i evict g, then g comes back. */
  cr_assert_eq(ask_int("acct", "h", "inc"), 1);
  cr_assert_eq(ask_int("acct", "i", "inc"), 1);
  cr_assert_eq(ask_int("acct", "g", "inc"), 4);
  cr_assert_eq(ask_int("acct", "h", "get"), 1);
  px_runtime_stop();
  px_store_close(st);
  tmpdir_free(dir);
}
