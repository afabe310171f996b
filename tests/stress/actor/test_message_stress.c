/* Stress: 10M messages through a random topology. 1,000 actors pass
 * 10,000 tokens along random routes (1,000 hops each). Every message
 * carries its sender's id and a per-(sender, receiver) sequence number;
 * every receiver checks that each sender's messages arrive in order. At
 * the end the number of messages handled equals the hops sent, and every
 * token arrived.
 *
 * Scale: full size in a plain build; under a sanitizer, 1/10 (ASan) or
 * 1/20 (TSan) of the hops. PX_STRESS_SCALE=<divisor> overrides. */
#include "unit/actor/px_agent.h"

static long scale_div(void) {
  const char *e = getenv("PX_STRESS_SCALE");
  if (e && atol(e) > 0) return atol(e);
#if defined(PX_SANITIZE_THREAD)
  return 20;
#elif defined(PX_SANITIZE_ADDRESS)
  return 10;
#else
  return 1;
#endif
}

#define NACT 1000
#define TOKENS 10000
#define SRC_TEST NACT /* the test thread's sender id */

static px_ref refs[NACT];
static _Atomic long handled, disorder;

typedef struct node_st {
  int id;
  uint64_t rng;
  uint32_t out_seq[NACT];
  uint32_t in_seq[NACT + 1];
} node_st;

/* payload: hops (16 bits) | src (16 bits) | seq (32 bits) */
static inline int64_t pack(uint64_t hops, uint64_t src, uint64_t seq) {
  return (int64_t)((hops << 48) | (src << 32) | (seq & 0xffffffffu));
}

static int node_init(px_val args, void **state) {
  node_st *s = calloc(1, sizeof *s);
  s->id = (int)args.u.i;
  s->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(s->id + 1);
  *state = s;
  return 0;
}

static void node_handle(void *st, const px_message *m) {
  node_st *s = st;
  uint64_t v = (uint64_t)m->payload.u.i;
  uint64_t hops = v >> 48, src = (v >> 32) & 0xffff, seq = v & 0xffffffffu;
  if (s->in_seq[src] != (uint32_t)seq)
    atomic_fetch_add_explicit(&disorder, 1, memory_order_relaxed);
  s->in_seq[src] = (uint32_t)seq + 1;
  atomic_fetch_add_explicit(&handled, 1, memory_order_relaxed);
  if (--hops == 0) {
    px_send(g_test, AT("arrived"), px_nil());
    return;
  }
  uint64_t x = s->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  s->rng = x;
  int next = (int)(x % NACT);
  px_send(refs[next], m->type,
          px_int(pack(hops, (uint64_t)s->id, s->out_seq[next]++)));
}

static void node_term(void *st, px_val r) {
  (void)r;
  free(st);
}

static const px_actor_type node_type = {.name = "node",
                                        .init = node_init,
                                        .handle = node_handle,
                                        .terminate = node_term};

static void setup(void) { rt_start(); }
static void teardown(void) { rt_stop(); }

TestSuite(stress, .init = setup, .fini = teardown, .timeout = 300);

Test(stress, ten_million_messages_random_routes) {
  const long hops = 1000 / scale_div();
  atomic_store(&handled, 0);
  atomic_store(&disorder, 0);
  for (int i = 0; i < NACT; i++)
    cr_assert_eq(px_spawn(&node_type, px_int(i), NULL, &refs[i]), 0);
  static uint32_t test_seq[NACT];
  uint64_t x = 12345;
  px_atom tok = AT("tok");
  uint64_t t0 = px_now_ms();
  for (int t = 0; t < TOKENS; t++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int to = (int)(x % NACT);
    px_send(refs[to], tok, px_int(pack((uint64_t)hops, SRC_TEST,
                                       test_seq[to]++)));
  }
  for (int t = 0; t < TOKENS; t++) {
    px_message *m = recv_type_ms(AT("arrived"), WAIT_MS * 5);
    px_message_free(m);
  }
  uint64_t ms = px_now_ms() - t0;
  cr_assert_eq(atomic_load(&disorder), 0, "per-sender order broken");
  cr_assert_eq(atomic_load(&handled), (long)TOKENS * hops,
               "handled %ld, sent %ld", atomic_load(&handled),
               (long)TOKENS * hops);
  cr_assert(mailbox_empty());
  cr_assert_eq(stats_of("node").live, NACT);
  cr_log_info("%ld messages in %llu ms", (long)TOKENS * hops,
              (unsigned long long)ms);
}
