/* Calls every wrapper of plexspaces.h once, so the module imports every
 * host function of the ABI; check_abi.py then verifies each signature:
 *   sdk/c/tests/check_imports.sh */
#define PLEXSPACES_IMPLEMENTATION
#include "plexspaces.h"

static px_buf out;

static int everything(void *st, const px_msg *m) {
  px_str s = PX_S("x");
  px_val v = m->payload;
  int64_t i;
  uint8_t b[4];
  int rc = 0;
  (void)st;
  rc |= px_send(s, s, v);
  rc |= px_ask(s, s, v, 0, &out);
  rc |= px_reply(v);
  rc |= px_self_id(&out);
  rc |= px_spawn(s, v, &out);
  rc |= px_stop(s);
  rc |= px_link(s);
  rc |= px_unlink(s);
  rc |= px_monitor(s, &i);
  rc |= px_demonitor(i);
  rc |= px_send_after(1, s, v, &i);
  rc |= px_cancel_timer(i);
  rc |= px_sleep(1);
  rc |= px_log(PX_LOG_DEBUG, s);
  rc |= (int)px_now_ms();
  rc |= px_random(b, sizeof b);
  rc |= px_metrics_add(s, 1.5);
  rc |= px_result_read(b, sizeof b);
  rc |= px_kv_get(s, &out);
  rc |= px_kv_put(s, v, 0);
  rc |= px_kv_delete(s);
  rc |= px_kv_list(s, &out);
  rc |= px_kv_cas(s, PX_NONE, v, 0);
  rc |= px_kv_increment(s, 1, &i);
  rc |= px_kv_ttl(s, &i);
  rc |= px_ts_write(v, 0);
  rc |= px_ts_read(v, 0, &out);
  rc |= px_ts_take(v, 0, &out);
  rc |= px_ts_read_all(v, 0, &out);
  rc |= px_ts_count(v, &i);
  rc |= px_ts_write_if_absent(v, v, 0);
  rc |= px_ts_replace(v, v, 0, &out);
  rc |= px_http_fetch(s, s, s, s, &out);
  return rc ? PX_ERROR : PX_HANDLED;
}

static const px_route calls[] = {{"all", everything}, {NULL, NULL}};
static const px_actor_def all = {.role = "all", .calls = calls};
const px_actor_def *const px_actors[] = {&all, NULL};
