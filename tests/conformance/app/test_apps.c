/* The app manager end to end with the real demo app library
 * (examples/demo_app): deploy, resolve and ask, restarts followed by the
 * directory, tenant and namespace isolation, failure isolation, undeploy,
 * persistence across a node restart, and refused libraries and configs.
 * The test executable exports the px_* API (tests/CMakeLists.txt), as the
 * node does, so the library binds to it. */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/px.h"
#include "support/tmpdir.h"

static char *g_dir;
static px_store *g_st;
static px_apps *g_apps;
static char g_err[1024];

/* <build>/examples/<name>.so, the test being <build>/tests/<exe>. */
static char *lib_bytes(const char *name, size_t *len) {
  char exe[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  cr_assert_gt(n, 0);
  exe[n] = 0;
  snprintf(path, sizeof path, "%s/../examples/%s.so", dirname(exe), name);
  char *data;
  cr_assert_eq(px__app_read_file(path, &data, len), 0, "read %s", path);
  return data;
}

static char *demo_config(size_t *len) {
  /* The source tree, from this file's own path. */
  char src[PATH_MAX], path[PATH_MAX + 64];
  snprintf(src, sizeof src, "%s", __FILE__);
  snprintf(path, sizeof path,
           "%s/../../../examples/demo_app/app-config.toml", dirname(src));
  char *data;
  cr_assert_eq(px__app_read_file(path, &data, len), 0, "read %s", path);
  return data;
}

static void boot(void) {
  px_runtime_opts o = {.workers = 2};
  cr_assert_eq(px_runtime_start(&o), 0);
  g_st = store_open(g_dir, NULL);
  px_apps_opts ao = {.data_dir = g_dir, .store = g_st};
  cr_assert_eq(px__apps_open(&ao, &g_apps, g_err, sizeof g_err), 0, "%s",
               g_err);
}

static void halt(void) {
  px__apps_close(g_apps);
  g_apps = NULL;
  px_runtime_stop();
  px_store_close(g_st);
  g_st = NULL;
}

static void setup(void) {
  g_dir = tmpdir_new();
  boot();
}

static void teardown(void) {
  halt();
  tmpdir_free(g_dir);
}

/* Deploys `lib` (a fixture name) with `config` (NULL = the demo's). */
static int deploy(const char *tenant, const char *id, const char *lib,
                  const char *config) {
  size_t ll, cl;
  char *l = lib_bytes(lib, &ll);
  char *c = config ? strdup(config) : demo_config(&cl);
  if (config) cl = strlen(config);
  px_app_deploy_req r = {.tenant = tenant, .application_id = id,
                         .config = c, .config_len = cl, .lib = l,
                         .lib_len = ll};
  int rc = px__apps_deploy(g_apps, &r, g_err, sizeof g_err);
  free(l);
  free(c);
  return rc;
}

static px_app_target resolve(const char *tenant, const char *ns,
                             const char *target) {
  px_app_target t;
  int rc = px__apps_resolve(g_apps, tenant, ns, target, &t);
  cr_assert_eq(rc, 0, "resolve %s/%s/%s: %s", tenant, ns, target,
               px_err_name(rc));
  return t;
}

static int64_t ask_int(px_ref to, const char *op, px_val payload,
                       const char *field) {
  px_val r;
  int rc = px_ask(to, px_atom_of(op), payload, 5000, &r);
  cr_assert_eq(rc, 0, "%s: %s", op, px_err_name(rc));
  px_val v = px_gets(r, field);
  cr_assert_eq(px_typeof(v), PX_T_INT);
  int64_t n = v.u.i;
  px_val_release(r);
  return n;
}

static int64_t balance(const char *tenant, const char *ns, const char *key,
                       int64_t deposit) {
  px_app_target t = resolve(tenant, ns, key);
  cr_assert_eq(t.kind, PX_APP_TARGET_VIRTUAL);
  px_val r;
  int rc = px_virtual_ask_in(
      tenant, ns, t.vtype, t.key,
      px_atom_of(deposit ? "deposit" : "balance"),
      px_map(1, px_str("amount"), px_int(deposit)), 5000, &r);
  cr_assert_eq(rc, 0, "account: %s", px_err_name(rc));
  int64_t b = px_gets(r, "balance").u.i;
  px_val_release(r);
  return b;
}

static const char *status_of(const char *tenant, const char *id) {
  static char st[32];
  px_val v;
  cr_assert_eq(px__apps_status(g_apps, tenant, id, &v), 0);
  snprintf(st, sizeof st, "%s", px_str_ptr(px_gets(v, "status")));
  px_val_release(v);
  return st;
}

/* Polls until `target` resolves to a live ref other than `old` (a restart
 * is asynchronous; the bound only limits a broken run). */
static px_ref wait_new_ref(const char *tenant, const char *ns,
                           const char *target, px_ref old) {
  struct timespec ts = {0, 1000000};
  for (int i = 0; i < 5000; i++) {
    px_app_target t;
    if (px__apps_resolve(g_apps, tenant, ns, target, &t) == 0 &&
        t.kind == PX_APP_TARGET_REF && !px_ref_eq(t.ref, old))
      return t.ref;
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("%s never came back with a new ref", target);
  return old;
}

TestSuite(apps, .init = setup, .fini = teardown, .timeout = 60);

Test(apps, deploy_resolve_and_ask_every_kind) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  cr_assert_str_eq(status_of("t1", "shop"), "running");

  px_app_target t = resolve("t1", "shop", "counter");
  cr_assert_eq(t.kind, PX_APP_TARGET_REF);
  cr_assert_eq(t.behavior, PX_APP_GEN_SERVER);
  cr_assert_eq(ask_int(t.ref, "inc", px_nil(), "value"), 1);
  cr_assert_eq(ask_int(t.ref, "add", px_map(1, px_str("n"), px_int(5)),
                       "value"),
               6);
  /* A tell is an info to a GenServer: it counts too. */
  cr_assert_eq(px_send(t.ref, px_atom_of("inc"), px_nil()), 0);
  cr_assert_eq(ask_int(t.ref, "get", px_nil(), "value"), 7);
  /* Named: "type:name". */
  px_app_target n = resolve("t1", "shop", "counter:counter");
  cr_assert(px_ref_eq(n.ref, t.ref));

  t = resolve("t1", "shop", "greeter");
  cr_assert_eq(t.behavior, PX_APP_ACTOR);
  px_val r;
  cr_assert_eq(px_ask(t.ref, px_atom_of("hello"),
                      px_map(1, px_str("name"), px_str("ada")), 5000, &r),
               0);
  cr_assert_str_eq(px_str_ptr(px_gets(r, "greeting")), "hello, ada");
  px_val_release(r);
  cr_assert_eq(px_ask(t.ref, px_atom_of("slow"),
                      px_map(2, px_str("ms"), px_int(5), px_str("mark"),
                             px_str("m1")),
                      5000, &r),
               0);
  cr_assert_eq(px_gets(r, "slept").u.i, 5);
  px_val_release(r);
  px_space *ev;
  cr_assert_eq(px_space_open("t1", "shop", "events", PX_SPACE_MEMORY, &ev),
               0);
  px_val mark;
  cr_assert_eq(px_ts_read(ev, px_arr(2, px_str("slow_started"), px_str("m1")),
                          0, &mark),
               0);
  px_val_release(mark);
  px_space_close(ev);

  /* The agent runs in the app's tenant and namespace, and announced
   * itself in that scope's tuple space. */
  t = resolve("t1", "shop", "registry_agent:agent-1");
  cr_assert_eq(px_ask(t.ref, px_atom_of("whoami"), px_nil(), 5000, &r), 0);
  cr_assert_str_eq(px_str_ptr(px_gets(r, "tenant")), "t1");
  cr_assert_str_eq(px_str_ptr(px_gets(r, "namespace")), "shop");
  cr_assert_str_eq(px_str_ptr(px_gets(r, "role")), "planner");
  px_val_release(r);
  px_space *sp;
  cr_assert_eq(px_space_open("t1", "shop", "agents", PX_SPACE_MEMORY, &sp),
               0);
  px_val tup;
  cr_assert_eq(px_ts_read(sp, px_arr(3, px_str("agent"), px_str("agent-1"),
                                     px_nil()),
                          0, &tup),
               0);
  cr_assert_str_eq(px_str_ptr(px_at(tup, 2)), "planner");
  px_val_release(tup);
  px_space_close(sp);

  /* Virtual: "type" is the "default" key, "type:key" another. */
  t = resolve("t1", "shop", "account");
  cr_assert_eq(t.kind, PX_APP_TARGET_VIRTUAL);
  cr_assert_str_eq(t.vtype, "t1/shop/account");
  cr_assert_str_eq(t.key, "default");
  cr_assert_eq(balance("t1", "shop", "account:alice", 10), 10);
  cr_assert_eq(balance("t1", "shop", "account:alice", 5), 15);
  cr_assert_eq(balance("t1", "shop", "account:bob", 0), 0);

  /* Workflow: the qualified type, started in the app's scope. */
  char wt[256];
  cr_assert_eq(px__apps_workflow_type(g_apps, "t1", "shop", "order", wt,
                                      sizeof wt),
               0);
  cr_assert_str_eq(wt, "t1/shop/order");
  cr_assert_eq(px_workflow_start_in("t1", "shop", wt, "o1", px_nil(), NULL),
               0);
  cr_assert_eq(px_workflow_signal_in("t1", "shop", "o1", "approve", px_nil()),
               0);
  px_wf_status st;
  cr_assert_eq(px_workflow_wait_in("t1", "shop", "o1", 10000, &st, &r), 0);
  cr_assert_eq(st, PX_WF_COMPLETED);
  cr_assert_str_eq(px_str_ptr(px_gets(r, "shipped")), "parcel for o1");
  px_val_release(r);

  /* GenFSM: asks are calls. GenEvent: the handler is installed. */
  t = resolve("t1", "shop", "turnstile");
  cr_assert_eq(t.behavior, PX_APP_GEN_FSM);
  cr_assert_eq(px_ask(t.ref, px_atom_of("coin"), px_nil(), 5000, &r), 0);
  cr_assert_str_eq(px_str_ptr(px_gets(r, "state")), "unlocked");
  px_val_release(r);
  cr_assert_eq(px_ask(t.ref, px_atom_of("push"), px_nil(), 5000, &r), 0);
  cr_assert_str_eq(px_str_ptr(px_gets(r, "state")), "locked");
  px_val_release(r);
  t = resolve("t1", "shop", "audit");
  cr_assert_eq(t.behavior, PX_APP_GEN_EVENT);
  cr_assert_eq(px_gen_event_notify(t.ref, px_atom_of("seen"), px_nil()), 0);
  cr_assert_eq(px_gen_event_which_handlers(t.ref, &r), 0);
  cr_assert_eq(px_len(r), 1);
  px_val_release(r);

  /* Unknown things are not found. */
  cr_assert_eq(px__apps_resolve(g_apps, "t1", "shop", "nobody", &t),
               PX_ENOTFOUND);
  cr_assert_eq(px__apps_resolve(g_apps, "t1", "shop", "counter:other", &t),
               PX_ENOTFOUND);
  cr_assert_eq(px__apps_resolve(g_apps, "t1", "nowhere", "counter", &t),
               PX_ENOTFOUND);
  cr_assert_eq(px__apps_resolve(g_apps, "t1", "shop", "counter:", &t),
               PX_EINVAL);
  cr_assert_eq(px__apps_workflow_type(g_apps, "t1", "shop", "counter", wt,
                                      sizeof wt),
               PX_ENOTFOUND);
}

Test(apps, list_status_and_actors) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  px_val v;
  cr_assert_eq(px__apps_list(g_apps, "t1", &v), 0);
  cr_assert_eq(px_len(v), 1);
  px_val e = px_at(v, 0);
  cr_assert_str_eq(px_str_ptr(px_gets(e, "application_id")), "shop");
  cr_assert_str_eq(px_str_ptr(px_gets(e, "namespace")), "shop");
  cr_assert_str_eq(px_str_ptr(px_gets(e, "version")), "1.0.0");
  cr_assert_str_eq(px_str_ptr(px_gets(e, "status")), "running");
  px_val_release(v);

  cr_assert_eq(px__apps_status(g_apps, "t1", "shop", &v), 0);
  px_val sup = px_gets(v, "supervisor");
  cr_assert_str_eq(px_str_ptr(px_gets(sup, "strategy")), "one_for_one");
  px_val kids = px_gets(sup, "children");
  cr_assert_eq(px_len(kids), 8);
  cr_assert_str_eq(px_str_ptr(px_gets(px_at(kids, 0), "behavior_kind")),
                   "GenServer");
  cr_assert_str_eq(px_str_ptr(px_gets(px_at(kids, 0), "state")), "running");
  cr_assert_str_eq(px_str_ptr(px_gets(px_at(kids, 4), "state")),
                   "virtual_type");
  cr_assert_str_eq(
      px_str_ptr(px_gets(px_at(px_gets(v, "workflow_types"), 0),
                         "registered_as")),
      "t1/shop/order");
  cr_assert_eq(px_len(px_gets(v, "virtual_types")), 1);
  cr_assert(px_is_nil(px_gets(v, "error")));
  /* JSON-ready. */
  char *json;
  size_t jl;
  cr_assert_eq(px_json_encode(v, &json, &jl), 0);
  free(json);
  px_val_release(v);

  cr_assert_eq(px__apps_actors(g_apps, "t1", NULL, &v), 0);
  cr_assert_eq(px_len(v), 6); /* counter, greeter, flaky, agent-1,
                                 turnstile, audit */
  cr_assert_str_eq(px_str_ptr(px_gets(px_at(v, 0), "application_id")),
                   "shop");
  px_val_release(v);
}

Test(apps, a_crash_is_followed_by_the_directory) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  px_ref r1 = resolve("t1", "shop", "flaky").ref;
  px_mref m = px_monitor(r1);
  cr_assert_eq(px_send(r1, px_atom_of("crash"), px_nil()), 0);
  px_message *down;
  cr_assert_eq(px_receive(NULL, NULL, 5000, &down), 0);
  cr_assert_eq(down->type, px_a()->down_msg);
  px_message_free(down);
  (void)m;
  px_ref r2 = wait_new_ref("t1", "shop", "flaky", r1);
  px_val r;
  cr_assert_eq(px_ask(r2, px_atom_of("ping"), px_nil(), 5000, &r), 0);
  px_val_release(r);
  px_val v;
  cr_assert_eq(px__apps_status(g_apps, "t1", "shop", &v), 0);
  px_val fl = px_at(px_gets(px_gets(v, "supervisor"), "children"), 2);
  cr_assert_str_eq(px_str_ptr(px_gets(fl, "name")), "flaky");
  cr_assert_eq(px_gets(fl, "restarts").u.i, 1);
  px_ref shown;
  cr_assert(px_val_ref(px_gets(fl, "actor_id"), &shown));
  cr_assert(px_ref_eq(shown, r2));
  px_val_release(v);
}

Test(apps, tenants_and_namespaces_are_isolated) {
  cr_assert_eq(deploy("A", "shop", "demo_app", NULL), 0, "%s", g_err);
  cr_assert_eq(deploy("B", "other", "demo_app", NULL), 0, "%s", g_err);
  cr_assert_eq(deploy("A", "store2", "demo_app", NULL), 0, "%s", g_err);
  px_app_target t;
  cr_assert_eq(px__apps_resolve(g_apps, "B", "shop", "counter", &t),
               PX_ENOTFOUND);
  cr_assert_eq(px__apps_resolve(g_apps, "B", "shop", "account:x", &t),
               PX_ENOTFOUND);
  px_val v;
  cr_assert_eq(px__apps_status(g_apps, "B", "shop", &v), PX_ENOTFOUND);
  char wt[256];
  cr_assert_eq(px__apps_workflow_type(g_apps, "B", "shop", "order", wt,
                                      sizeof wt),
               PX_ENOTFOUND);
  cr_assert_eq(px__apps_list(g_apps, "B", &v), 0);
  cr_assert_eq(px_len(v), 1);
  cr_assert_str_eq(px_str_ptr(px_gets(px_at(v, 0), "application_id")),
                   "other");
  px_val_release(v);
  cr_assert_eq(px__apps_list(g_apps, "A", &v), 0);
  cr_assert_eq(px_len(v), 2);
  px_val_release(v);
  cr_assert_eq(px__apps_actors(g_apps, "B", "shop", &v), 0);
  cr_assert_eq(px_len(v), 0);
  px_val_release(v);
  cr_assert_eq(px__apps_undeploy(g_apps, "B", "shop"), PX_ENOTFOUND);
  cr_assert_str_eq(status_of("A", "shop"), "running");

  /* Separate state: each app its own counter and accounts. */
  px_ref ca = resolve("A", "shop", "counter").ref;
  px_ref cb = resolve("B", "other", "counter").ref;
  px_ref c2 = resolve("A", "store2", "counter").ref;
  cr_assert_eq(ask_int(ca, "add", px_map(1, px_str("n"), px_int(3)), "value"),
               3);
  cr_assert_eq(ask_int(cb, "get", px_nil(), "value"), 0);
  cr_assert_eq(ask_int(c2, "get", px_nil(), "value"), 0);
  cr_assert_eq(balance("A", "shop", "account:k", 7), 7);
  cr_assert_eq(balance("A", "store2", "account:k", 0), 0);
  cr_assert_eq(balance("B", "other", "account:k", 0), 0);
  cr_assert_str_eq(resolve("A", "store2", "account").vtype,
                   "A/store2/account");
}

/* max_restarts = 0: the first crash makes the supervisor give up. */
static const char *fragile =
    "[supervisor]\nmax_restarts = 0\n"
    "[[supervisor.children]]\nactor_type = \"flaky\"\n"
    "[[supervisor.children]]\nactor_type = \"counter\"\n";

Test(apps, one_apps_crash_loop_does_not_touch_another) {
  cr_assert_eq(deploy("t1", "fragile", "demo_app", fragile), 0, "%s", g_err);
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  px_ref f = resolve("t1", "fragile", "flaky").ref;
  px_ref fc = resolve("t1", "fragile", "counter").ref;
  px_mref m = px_monitor(fc);
  (void)m;
  cr_assert_eq(px_send(f, px_atom_of("crash"), px_nil()), 0);
  /* The supervisor stops its other children when it gives up. */
  px_message *down;
  cr_assert_eq(px_receive(NULL, NULL, 5000, &down), 0);
  cr_assert_eq(down->type, px_a()->down_msg);
  px_message_free(down);
  struct timespec ts = {0, 1000000};
  for (int i = 0; i < 5000 && strcmp(status_of("t1", "fragile"), "failed");
       i++)
    nanosleep(&ts, NULL);
  cr_assert_str_eq(status_of("t1", "fragile"), "failed");
  px_val v;
  cr_assert_eq(px__apps_status(g_apps, "t1", "fragile", &v), 0);
  cr_assert(strstr(px_str_ptr(px_gets(v, "error")), "supervisor stopped"),
            "%s", px_str_ptr(px_gets(v, "error")));
  px_val_release(v);
  px_app_target t;
  cr_assert_eq(px__apps_resolve(g_apps, "t1", "fragile", "counter", &t),
               PX_ENOTFOUND);
  cr_assert_str_eq(status_of("t1", "shop"), "running");
  px_ref c = resolve("t1", "shop", "counter").ref;
  cr_assert_eq(ask_int(c, "inc", px_nil(), "value"), 1);
  /* A failed app can still be undeployed and deployed again. */
  cr_assert_eq(px__apps_undeploy(g_apps, "t1", "fragile"), 0);
  cr_assert_eq(deploy("t1", "fragile", "demo_app", fragile), 0, "%s", g_err);
  cr_assert_str_eq(status_of("t1", "fragile"), "running");
}

Test(apps, undeploy_stops_the_tree_and_unregisters_its_types) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  px_ref c = resolve("t1", "shop", "counter").ref;
  cr_assert_eq(balance("t1", "shop", "account:a", 1), 1);
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/apps/t1~shop/app.json", g_dir);
  struct stat sb;
  cr_assert_eq(stat(dir, &sb), 0);

  cr_assert_eq(px__apps_undeploy(g_apps, "t1", "shop"), 0);
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(c, &info), PX_ENOPROC);
  px_app_target t;
  cr_assert_eq(px__apps_resolve(g_apps, "t1", "shop", "counter", &t),
               PX_ENOTFOUND);
  px_val r;
  cr_assert_eq(px_virtual_ask_in("t1", "shop", "t1/shop/account", "a",
                                 px_atom_of("balance"), px_nil(), 1000, &r),
               PX_ENOTFOUND);
  px_val_release(r);
  cr_assert_eq(px_workflow_start_in("t1", "shop", "t1/shop/order", "o9",
                                    px_nil(), NULL),
               PX_ENOTFOUND);
  cr_assert_neq(stat(dir, &sb), 0);
  cr_assert_eq(px__apps_undeploy(g_apps, "t1", "shop"), PX_ENOTFOUND);
  px_val v;
  cr_assert_eq(px__apps_list(g_apps, "t1", &v), 0);
  cr_assert_eq(px_len(v), 0);
  px_val_release(v);

  /* Deployed again: the same names register again. */
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  cr_assert_eq(balance("t1", "shop", "account:a", 0), 1);
}

Test(apps, a_node_restart_starts_persisted_apps_with_their_state) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  cr_assert_eq(balance("t1", "shop", "account:alice", 42), 42);
  char wt[256];
  cr_assert_eq(px__apps_workflow_type(g_apps, "t1", "shop", "order", wt,
                                      sizeof wt),
               0);
  cr_assert_eq(px_workflow_start_in("t1", "shop", wt, "o2", px_nil(), NULL),
               0);
  /* Parked in the signal wait, then the node goes down. */
  px_val q = px_nil();
  for (int i = 0; i < 500; i++) {
    px_val_release(q);
    q = px_nil();
    if (px_workflow_query_in("t1", "shop", "o2", "progress", px_nil(), 100,
                             &q) == 0 &&
        !strcmp(px_str_ptr(px_gets(q, "stage")), "awaiting_approval"))
      break;
  }
  cr_assert_str_eq(px_str_ptr(px_gets(q, "stage")), "awaiting_approval");
  px_val_release(q);
  halt();
  boot();
  cr_assert_str_eq(status_of("t1", "shop"), "running");
  cr_assert_eq(balance("t1", "shop", "account:alice", 0), 42);
  size_t n;
  cr_assert_eq(px_workflow_recover(&n), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(px_workflow_signal_in("t1", "shop", "o2", "approve", px_nil()),
               0);
  px_wf_status st;
  px_val r;
  cr_assert_eq(px_workflow_wait_in("t1", "shop", "o2", 10000, &st, &r), 0);
  cr_assert_eq(st, PX_WF_COMPLETED);
  px_val_release(r);
  px_ref c = resolve("t1", "shop", "counter").ref;
  cr_assert_eq(ask_int(c, "get", px_nil(), "value"), 0);
}

Test(apps, a_directory_dropped_by_hand_is_started) {
  halt();
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/apps", g_dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/apps/handapp", g_dir);
  cr_assert_eq(mkdir(p, 0755), 0);
  const char *cfg = "tenant_id = \"acme\"\n"
                    "[[supervisor.children]]\nactor_type = \"counter\"\n";
  snprintf(p, sizeof p, "%s/apps/handapp/app-config.toml", g_dir);
  cr_assert_eq(px__app_write_file(p, cfg, strlen(cfg)), 0);
  size_t ll;
  char *lib = lib_bytes("demo_app", &ll);
  snprintf(p, sizeof p, "%s/apps/handapp/app.so", g_dir);
  cr_assert_eq(px__app_write_file(p, lib, ll), 0);
  free(lib);
  /* And a broken one beside it: reported, the other still starts. */
  snprintf(p, sizeof p, "%s/apps/broken", g_dir);
  cr_assert_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/apps/broken/app-config.toml", g_dir);
  cr_assert_eq(px__app_write_file(p, "[[supervisor.children]]\n", 24), 0);
  snprintf(p, sizeof p, "%s/apps/broken/app.so", g_dir);
  cr_assert_eq(px__app_write_file(p, "nope", 4), 0);
  boot();
  cr_assert_str_eq(status_of("acme", "handapp"), "running");
  px_ref c = resolve("acme", "handapp", "counter").ref;
  cr_assert_eq(ask_int(c, "inc", px_nil(), "value"), 1);
  cr_assert_str_eq(status_of("default", "broken"), "failed");
  px_val v;
  cr_assert_eq(px__apps_status(g_apps, NULL, "broken", &v), 0);
  cr_assert_str_eq(px_str_ptr(px_gets(v, "error")),
                   "app-config.toml:1: supervisor.children[0]: missing "
                   "actor_type");
  px_val_release(v);
}

static void expect_refused(const char *lib, const char *config,
                           const char *want) {
  cr_assert_eq(deploy("t1", "bad", lib, config), PX_EINVAL);
  cr_assert(strstr(g_err, want), "error \"%s\" lacks \"%s\"", g_err, want);
  px_val v;
  cr_assert_eq(px__apps_list(g_apps, "t1", &v), 0);
  for (size_t i = 0; i < px_len(v); i++)
    cr_assert_str_neq(px_str_ptr(px_gets(px_at(v, i), "application_id")),
                      "bad");
  px_val_release(v);
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/apps/t1~bad", g_dir);
  struct stat sb;
  cr_assert_neq(stat(p, &sb), 0, "%s was left behind", p);
}

Test(apps, bad_libraries_are_refused_with_nothing_deployed) {
  expect_refused("bad_no_init", NULL,
                 "the library does not export px_app_init");
  expect_refused("bad_wrong_abi", NULL,
                 "the library was built for app ABI 101, this node speaks "
                 "ABI 1");
  size_t cl;
  char *c = demo_config(&cl);
  px_app_deploy_req r = {.tenant = "t1", .application_id = "bad",
                         .config = c, .config_len = cl, .lib = "#!/bin/sh",
                         .lib_len = 9};
  cr_assert_eq(px__apps_deploy(g_apps, &r, g_err, sizeof g_err), PX_EINVAL);
  cr_assert(strstr(g_err, "neither an ELF shared object"), "%s", g_err);
  r.application_id = "../etc";
  cr_assert_eq(px__apps_deploy(g_apps, &r, g_err, sizeof g_err), PX_EINVAL);
  cr_assert(strstr(g_err, "application_id \"../etc\" is not a valid name"),
            "%s", g_err);
  free(c);
}

Test(apps, configs_are_checked_against_the_library) {
  expect_refused("demo_app",
                 "[[supervisor.children]]\nactor_type = \"counter\"\n"
                 "[[supervisor.children]]\nactor_type = \"countr\"\n",
                 "app-config.toml:4: supervisor.children[1].actor_type: "
                 "\"countr\" is not registered by the library (registered: "
                 "counter, greeter, flaky, registry_agent, account, order, "
                 "turnstile, audit)");
  expect_refused("demo_app",
                 "[[supervisor.children]]\nactor_type = \"counter\"\n"
                 "behavior_kind = \"GenFSM\"\n",
                 "app-config.toml:3: supervisor.children[0].behavior_kind: "
                 "GenFSM, but the library registered \"counter\" as a "
                 "GenServer");
  expect_refused("demo_app",
                 "[[supervisor.children]]\nactor_type = \"greeter\"\n"
                 "facets = [{ type = \"durability\" }]\n",
                 "app-config.toml:3: supervisor.children[0].facets: "
                 "durability needs the state codec");
  expect_refused("demo_app",
                 "[[supervisor.children]]\nactor_type = \"order\"\n"
                 "facets = [{ type = \"virtual_actor\" }]\n",
                 "a Workflow cannot be a virtual actor");
}

Test(apps, a_tree_that_cannot_start_leaves_nothing_deployed) {
  cr_assert_eq(deploy("t1", "bad", "demo_app",
                      "[[supervisor.children]]\nactor_type = \"greeter\"\n"
                      "[[supervisor.children]]\nname = \"c\"\n"
                      "actor_type = \"counter\"\n"
                      "args = { fail_init = true }\n"
                      "[[supervisor.children]]\nactor_type = \"order\"\n"),
               PX_EINIT);
  cr_assert_str_eq(g_err, "the supervision tree did not start: child \"c\" "
                          "(GenServer counter) failed to start: EINIT");
  px_val v;
  cr_assert_eq(px__apps_list(g_apps, "t1", &v), 0);
  cr_assert_eq(px_len(v), 0);
  px_val_release(v);
  /* Its workflow type was registered before the tree, and is gone. */
  cr_assert_eq(px_workflow_start_in("t1", "bad", "t1/bad/order", "o",
                                    px_nil(), NULL),
               PX_ENOTFOUND);
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/apps/t1~bad", g_dir);
  struct stat sb;
  cr_assert_neq(stat(p, &sb), 0);
}

Test(apps, a_bad_redeploy_leaves_the_previous_app_running) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  px_ref c = resolve("t1", "shop", "counter").ref;
  cr_assert_eq(ask_int(c, "inc", px_nil(), "value"), 1);
  cr_assert_eq(deploy("t1", "shop", "demo_app",
                      "[supervisor]\nstrategy = \"sometimes\"\n"),
               PX_EINVAL);
  cr_assert_str_eq(g_err,
                   "app-config.toml:2: supervisor.strategy: expected "
                   "one_for_one, one_for_all or rest_for_one, got "
                   "\"sometimes\"");
  cr_assert_eq(deploy("t1", "shop", "bad_no_init", NULL), PX_EINVAL);
  cr_assert_str_eq(status_of("t1", "shop"), "running");
  px_ref c2 = resolve("t1", "shop", "counter").ref;
  cr_assert(px_ref_eq(c, c2));
  cr_assert_eq(ask_int(c2, "inc", px_nil(), "value"), 2);
  /* A good redeploy replaces it: a fresh tree. */
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  px_ref c3 = resolve("t1", "shop", "counter").ref;
  cr_assert_not(px_ref_eq(c, c3));
  cr_assert_eq(ask_int(c3, "get", px_nil(), "value"), 0);
}

/* HTTP threads resolve and ask while children restart and another app is
 * redeployed: every answer is a live child, a clean "gone", or not found;
 * nothing crashes (and TSan sees no race). */
typedef struct hammer {
  atomic_bool stop;
  atomic_long asks;
  atomic_int bad; /* the first unexpected code (asserted on the main
                     thread: assertions belong there) */
} hammer;

static void bad_rc(hammer *h, int rc) {
  int none = 0;
  atomic_compare_exchange_strong(&h->bad, &none, rc);
}

static void *hammer_run(void *ud) {
  hammer *h = ud;
  while (!atomic_load(&h->stop)) {
    px_app_target t;
    int rc = px__apps_resolve(g_apps, "t1", "shop",
                              atomic_load(&h->asks) % 2 ? "flaky" : "counter",
                              &t);
    if (rc && rc != PX_ENOTFOUND) bad_rc(h, rc);
    if (rc) continue;
    px_val r;
    rc = px_ask(t.ref, px_atom_of(t.behavior == PX_APP_GEN_SERVER ? "inc"
                                                                  : "ping"),
                px_nil(), 5000, &r);
    if (rc && rc != PX_ENOPROC) bad_rc(h, rc);
    px_val_release(r);
    px_val v;
    if (px__apps_list(g_apps, "t1", &v) != 0 || px_len(v) < 1)
      bad_rc(h, PX_EINVAL);
    px_val_release(v);
    atomic_fetch_add(&h->asks, 1);
  }
  return NULL;
}

Test(apps, concurrent_lookups_during_restarts_and_redeploys) {
  cr_assert_eq(deploy("t1", "shop", "demo_app", NULL), 0, "%s", g_err);
  hammer h = {0};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, hammer_run, &h), 0);
  for (int round = 0; round < 5; round++) {
    px_ref f = resolve("t1", "shop", "flaky").ref;
    px_send(f, px_atom_of("crash"), px_nil());
    wait_new_ref("t1", "shop", "flaky", f);
    cr_assert_eq(deploy("t1", "side", "demo_app", fragile), 0, "%s", g_err);
    px_val v;
    cr_assert_eq(px__apps_status(g_apps, "t1", "shop", &v), 0);
    px_val_release(v);
  }
  atomic_store(&h.stop, true);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  cr_assert_eq(atomic_load(&h.bad), 0, "%s", px_err_name(atomic_load(&h.bad)));
  cr_assert_gt(atomic_load(&h.asks), 0);
  cr_assert_str_eq(status_of("t1", "shop"), "running");
}
