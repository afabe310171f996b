/* The demo app that `make run` starts: a small supervision tree.
 *
 *   demo_sup (one_for_one, 3 restarts / 5 s)
 *     counter  - permanent; answers `get`, counts `inc`
 *     flaky    - permanent; crashes on `crash`, is restarted with a fresh pid
 *
 * It drives the tree from the main thread (tell, ask, a monitored crash and
 * the restart), prints what happens, and exits 0 only if everything behaved
 * as the supervision rules say.
 *
 * Then durable execution on the SQLite store in the data directory
 * ($PLEXSPACES_DATA, else ./data, as `plexspaces journal`):
 *
 *   run_counter/demo  - a durable virtual actor counting the demo's runs
 *   order-N           - a workflow (N = this run's number): steps reserve,
 *                       charge (fails once, retried), a durable sleep, ship
 *
 * While order-N sleeps the demo stops the runtime and closes the store, as
 * a node death would, then starts both again and recovers: the journaled
 * steps are not run again, the sleep keeps its deadline, the counter
 * keeps its count. Each run starts a new order; one a killed run left open
 * is finished by the next run's px_workflow_recover. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexspaces/px.h"

static px_atom A_INC, A_GET, A_CRASH, A_WHOAMI;

/* ---- counter ------------------------------------------------------------- */

static int counter_init(px_val args, void **state) {
  int64_t *n = calloc(1, sizeof *n);
  if (!n) return PX_ENOMEM;
  *state = n;
  return 0;
}

static void counter_handle(void *state, const px_message *m) {
  int64_t *n = state;
  if (m->type == A_INC)
    (*n)++;
  else if (m->type == A_GET)
    px_reply(m, px_int(*n));
}

static void free_state(void *state, px_val reason) { free(state); }

static const px_actor_type counter_type = {
    .name = "counter",
    .init = counter_init,
    .handle = counter_handle,
    .terminate = free_state,
};

/* ---- flaky --------------------------------------------------------------- */

static void flaky_handle(void *state, const px_message *m) {
  if (m->type == A_CRASH) px_exit_self(px_atom_val("boom"));
  if (m->type == A_WHOAMI) px_reply(m, px_ref_val(px_self()));
}

static const px_actor_type flaky_type = {
    .name = "flaky",
    .handle = flaky_handle,
};

/* ---- run_counter: a durable virtual actor ------------------------------- */

static px_val counter_encode(const void *state) {
  return px_int(*(const int64_t *)state);
}

static int counter_decode(px_val saved, void *state) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  *(int64_t *)state = saved.u.i;
  return 0;
}

static void run_counter_handle(void *state, const px_message *m) {
  int64_t *n = state;
  if (m->type == A_INC)
    px_reply(m, px_int(++*n));
  else if (m->type == A_GET)
    px_reply(m, px_int(*n));
}

static const px_actor_type run_counter_type = {
    .name = "run_counter",
    .init = counter_init,
    .handle = run_counter_handle,
    .terminate = free_state,
};

/* ---- order: a workflow --------------------------------------------------- */

#define ORDER_SLEEP_MS 1500
#define STAGE_SLEEPING "sleeping"

typedef struct order_view {
  const char *stage; /* what the query answers */
} order_view;

static int reserve(px_wf *wf, void *ud, px_val *out) {
  (void)ud;
  char key[256]; /* the same on every attempt and replay: a stock service
                    would deduplicate on it */
  px_wf_idempotency_key(wf, key, sizeof key);
  printf("    %s reserve: stock held (idempotency key %s)\n", px_wf_id(wf),
         key);
  *out = px_str(key);
  return 0;
}

static int charge(px_wf *wf, void *ud, px_val *out) {
  (void)ud;
  if (px_wf_attempt(wf) == 1) {
    printf("    %s charge: card service unavailable (attempt 1), retry in "
           "200 ms\n",
           px_wf_id(wf));
    *out = px_str("card service unavailable");
    return PX_EIO; /* retryable */
  }
  printf("    %s charge: paid 42.00 (attempt %u)\n", px_wf_id(wf),
         px_wf_attempt(wf));
  *out = px_int(4200);
  return 0;
}

static int ship(px_wf *wf, void *ud, px_val *out) {
  (void)ud;
  printf("    %s ship: handed to the courier\n", px_wf_id(wf));
  *out = px_strf("parcel for %s", px_wf_id(wf));
  return 0;
}

static void replayed(px_wf *wf, const char *what) {
  if (px_wf_is_replaying(wf))
    printf("    %s %s: from the journal (not run again)\n", px_wf_id(wf),
           what);
}

static int order_run(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  order_view view = {.stage = "reserving"};
  px_wf_set_state(wf, &view);
  px_val r;
  replayed(wf, "reserve");
  int rc = px_step(wf, "reserve", reserve, NULL, NULL, &r);
  if (rc) return rc;
  view.stage = "charging";
  px_retry_policy retry = {.max_attempts = 3, .initial_interval_ms = 200};
  replayed(wf, "charge");
  rc = px_step(wf, "charge", charge, NULL, &retry, &r);
  if (rc) return rc;
  view.stage = STAGE_SLEEPING;
  if (px_wf_is_replaying(wf))
    printf("    %s sleep: keeps its journaled deadline\n", px_wf_id(wf));
  else
    printf("    %s sleep %d ms (a durable timer)\n", px_wf_id(wf),
           ORDER_SLEEP_MS);
  rc = px_wf_sleep(wf, ORDER_SLEEP_MS);
  if (rc) return rc;
  view.stage = "shipping";
  rc = px_step(wf, "ship", ship, NULL, NULL, &r);
  if (rc) return rc;
  *result = px_strf("%s shipped", px_wf_id(wf));
  return 0;
}

static int order_query(px_wf *wf, const char *name, px_val args,
                       px_val *out) {
  (void)args;
  if (strcmp(name, "stage") != 0) return PX_ENOTFOUND;
  const order_view *v = px_wf_state(wf);
  *out = px_str(v ? v->stage : "starting");
  return 0;
}

static const px_workflow_type order_type = {
    .name = "order",
    .run = order_run,
    .query = order_query,
};

/* ---- driving it ---------------------------------------------------------- */

static px_ref child(px_ref sup, const char *id) {
  px_sup_child_info info[4];
  size_t n = 0;
  if (px_sup_which_children(sup, info, 4, &n) != 0) return px_ref_nil();
  for (size_t i = 0; i < n && i < 4; i++)
    if (strcmp(info[i].id, id) == 0) return info[i].ref;
  return px_ref_nil();
}

static px_store *g_store;

static int fail(const char *what) {
  fprintf(stderr, "demo: FAILED: %s\n", what);
  px_runtime_stop();
  if (g_store) px_store_close(g_store);
  g_store = NULL;
  return 1;
}

/* ---- durable execution -------------------------------------------------- */

/* Opens the store and registers the durable types: after every runtime
 * start (registrations live as long as the runtime). */
static const char *durable_boot(const char *dir) {
  char err[512];
  if (px_store_open_sqlite(dir, NULL, &g_store, err, sizeof err) != 0) {
    fprintf(stderr, "demo: %s\n", err);
    g_store = NULL;
    return "open the store";
  }
  px_durable_opts d = {.store = g_store,
                       .encode = counter_encode,
                       .decode = counter_decode};
  px_virtual_opts vo = {.durable = &d};
  if (px_virtual_register(&run_counter_type, px_nil(), &vo) != 0)
    return "register the virtual actor type";
  if (px_workflow_register(&order_type, g_store) != 0)
    return "register the workflow type";
  return NULL;
}

static int64_t ask_run_counter(px_atom msg) {
  px_val v;
  if (px_virtual_ask("run_counter", "demo", msg, px_nil(), 5000, &v) != 0)
    return -1;
  int64_t n = px_typeof(v) == PX_T_INT ? v.u.i : -1;
  px_val_release(v);
  return n;
}

/* Waits until order `id` is parked in its sleep: a query is answered only
 * while run waits, so the answer "sleeping" means it is parked there. */
static bool wait_asleep(const char *id) {
  for (int i = 0; i < 1000; i++) {
    px_val stage;
    int rc = px_workflow_query(id, "stage", px_nil(), 100, &stage);
    if (rc == 0) {
      bool asleep = strcmp(px_str_ptr(stage), STAGE_SLEEPING) == 0;
      px_val_release(stage);
      if (asleep) return true;
    } else if (rc != PX_ETIMEDOUT) {
      return false;
    }
    usleep(5000);
  }
  return false;
}

/* Prints the status and result of order `id` (and `extra`, if any). */
static void print_outcome(const char *id, const char *extra) {
  px_wf_status st;
  px_val res;
  if (px_workflow_status(id, &st, &res) != 0) return;
  char buf[128];
  px_val_format(res, buf, sizeof buf);
  px_val_release(res);
  printf("  %s %s: %s%s\n", id, px_wf_status_name(st), buf,
         extra ? extra : "");
}

typedef struct open_ids {
  char id[8][64];
  size_t n;
} open_ids;

static int collect_open(void *ud, const char *key, px_val value,
                        int64_t expiry_ms) {
  (void)expiry_ms;
  open_ids *o = ud;
  const char *id = key + strlen("default/default/");
  if (o->n < 8 && strlen(id) < sizeof o->id[0])
    snprintf(o->id[o->n++], sizeof o->id[0], "%s", id);
  px_val_release(value);
  return 0;
}

static const char *durable_demo(void) {
  const char *dir = getenv("PLEXSPACES_DATA");
  if (!dir || !*dir) dir = "./data";
  const char *err = durable_boot(dir);
  if (err) return err;
  printf("durable execution: store %s/plexspaces.db\n", dir);
  /* Orders an earlier run left open (killed, say): the index of open
   * executions is the KV scope sys/workflows-open. Recover, then wait. */
  open_ids open = {0};
  px_store_kv_list(g_store, "sys/workflows-open", "default/default/",
                   collect_open, &open);
  if (px_workflow_recover(NULL) != 0) return "recover";
  for (size_t i = 0; i < open.n; i++) {
    printf("  %s was left open by an earlier run: px_workflow_recover\n",
           open.id[i]);
    px_wf_status st;
    if (px_workflow_wait(open.id[i], 30000, &st, NULL) != 0)
      return "wait for an order left open";
    print_outcome(open.id[i], NULL);
  }

  int64_t run = ask_run_counter(A_INC);
  if (run < 1) return "ask the virtual actor";
  printf("  virtual actor run_counter/demo (durable): this is run %lld\n",
         (long long)run);

  char id[32];
  snprintf(id, sizeof id, "order-%lld", (long long)run);
  printf("  workflow %s started: reserve, charge, sleep, ship\n", id);
  px_wf_start_opts so = {.on_open = PX_WF_CONFLICT_USE_EXISTING,
                         .on_closed = PX_WF_REUSE_REJECT};
  int rc = px_workflow_start("order", id, px_nil(), &so);
  if (rc == PX_EEXIST) { /* closed before (REUSE_REJECT: one run per id) */
    print_outcome(id, NULL);
  } else if (rc != 0) {
    return "start the order";
  } else {
    if (!wait_asleep(id)) return "the order never reached its sleep";

    /* A node death: every actor stops where it is, nothing is written. */
    printf("  node stops while %s sleeps; restart, px_workflow_recover:\n",
           id);
    px_runtime_stop();
    px_store_close(g_store);
    g_store = NULL;
    if (px_runtime_start(NULL) != 0) return "restart the runtime";
    err = durable_boot(dir);
    if (err) return err;
    size_t n = 0;
    if (px_workflow_recover(&n) != 0 || n < 1) return "recover the order";

    px_wf_status st;
    if (px_workflow_wait(id, 30000, &st, NULL) != 0 ||
        st != PX_WF_COMPLETED)
      return "the order did not complete";
    int64_t after = ask_run_counter(A_GET);
    if (after != run) return "the counter lost its count";
    char extra[64];
    snprintf(extra, sizeof extra, "; run_counter/demo is still %lld",
             (long long)after);
    print_outcome(id, extra);
  }

  char exe[1024];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) len = (ssize_t)snprintf(exe, sizeof exe, "plexspaces");
  exe[len] = 0;
  printf("  the journals: %s journal show --data %s wf/default/default/%s\n"
         "                %s journal show --data %s "
         "default/default/run_counter/demo\n",
         exe, dir, id, exe, dir);
  return NULL;
}

int px_demo_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  A_INC = px_atom_of("inc");
  A_GET = px_atom_of("get");
  A_CRASH = px_atom_of("crash");
  A_WHOAMI = px_atom_of("whoami");
  if (px_runtime_start(NULL) != 0) return 1;
  printf("plexspaces demo: %d workers\n", px_runtime_workers());

  px_sup_flags flags = PX_SUP_FLAGS_INIT;
  flags.intensity = 3;
  px_child_spec specs[] = {
      {.id = "counter",
       .start = px_sup_start_actor,
       .args = px_sup_actor_args(&counter_type, px_nil())},
      {.id = "flaky",
       .start = px_sup_start_actor,
       .args = px_sup_actor_args(&flaky_type, px_nil())},
  };
  px_ref sup;
  if (px_sup_start_link(&flags, specs, 2, &sup) != 0)
    return fail("start the supervisor");
  char b1[48], b2[48];
  printf("supervisor %s started counter and flaky\n",
         px_ref_format(sup, b1, sizeof b1));

  /* tell and ask */
  px_ref counter = child(sup, "counter");
  for (int i = 0; i < 1000; i++) px_send(counter, A_INC, px_nil());
  px_val v;
  if (px_ask(counter, A_GET, px_nil(), 1000, &v) != 0 || v.u.i != 1000)
    return fail("counter ask");
  printf("tell x1000, then ask: counter = %lld\n", (long long)v.u.i);

  /* a crash, seen by a monitor, and the restart */
  px_ref flaky = child(sup, "flaky");
  px_mref mref = px_monitor(flaky);
  px_send(flaky, A_CRASH, px_nil());
  px_message *down;
  if (px_receive(NULL, NULL, 1000, &down) != 0) return fail("no __DOWN__");
  char reason[64];
  px_val_format(px_get(down->payload, px_atomv(px_a()->down_reason)), reason,
                sizeof reason);
  printf("flaky %s crashed: __DOWN__ monitor_ref=%llu reason=%s\n",
         px_ref_format(flaky, b1, sizeof b1), (unsigned long long)mref, reason);
  px_message_free(down);

  /* The supervisor restarts it; asking the new incarnation proves it. */
  px_ref again = px_ref_nil();
  for (int tries = 0; tries < 100; tries++) {
    again = child(sup, "flaky");
    if (!px_ref_is_nil(again) && !px_ref_eq(again, flaky)) break;
    px_receive(NULL, NULL, 10, &down); /* nothing expected: a 10 ms pause */
  }
  if (px_ref_is_nil(again) || px_ref_eq(again, flaky))
    return fail("flaky was not restarted");
  if (px_ask(again, A_WHOAMI, px_nil(), 1000, &v) != 0)
    return fail("ask the restarted flaky");
  px_val_release(v);
  printf("supervisor restarted flaky as %s (the old ref stays dead)\n",
         px_ref_format(again, b2, sizeof b2));
  if (px_ask(flaky, A_WHOAMI, px_nil(), 100, &v) != PX_ENOPROC)
    return fail("the old ref must not reach the new actor");

  px_type_stats st[16];
  size_t nt = px_stats_types(st, 16);
  for (size_t i = 0; i < nt && i < 16; i++)
    printf("  type %-8s spawned %llu, messages %llu, exits abnormal %llu\n",
           st[i].type, (unsigned long long)st[i].spawned,
           (unsigned long long)st[i].messages,
           (unsigned long long)st[i].exits_abnormal);

  px_sup_stop(sup);

  const char *what = durable_demo();
  if (what) return fail(what);
  px_runtime_stop();
  px_store_close(g_store);
  g_store = NULL;
  printf("demo finished: all good\n");
  return 0;
}
