/* Metrics: the registry's API semantics, the text exposition (parsed back
 * and checked by promtool), and the runtime's families for real actors. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/px.h"
#include "support/tmpdir.h"

#define WAIT_MS 10000
#define WAIT_UNTIL(cond)                                                 \
  do {                                                                   \
    uint64_t wu_t0_ = px_now_ms();                                       \
    while (!(cond)) {                                                    \
      cr_assert(px_now_ms() - wu_t0_ < WAIT_MS, "timed out: %s", #cond); \
      sched_yield();                                                     \
    }                                                                    \
  } while (0)

static char *render(void) {
  char *out = NULL;
  size_t len = 0;
  cr_assert_eq(px_metrics_render(&out, &len), 0);
  cr_assert(out);
  cr_assert_eq(strlen(out), len);
  return out;
}

/* True when `line` is one whole line of text. */
static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
  return false;
}

#define ASSERT_LINE(text, line) \
  cr_assert(has_line(text, line), "missing line: %s\n---\n%s", line, text)

/* ---- API semantics ------------------------------------------------------- */

Test(metrics, counter_gauge_histogram_by_name) {
  cr_assert_eq(px_metrics_add("app_requests_total", "method=GET,code=200", 2),
               0);
  /* Same series whatever the order of the labels. */
  cr_assert_eq(px_metrics_add("app_requests_total", "code=200,method=GET", 1),
               0);
  cr_assert_eq(px_metrics_add("app_requests_total", "code=500,method=GET", 1),
               0);
  cr_assert_eq(px_metrics_set("app_queue_depth", NULL, 7.5), 0);
  cr_assert_eq(px_metrics_set("app_queue_depth", NULL, -2), 0);
  cr_assert_eq(px_metrics_observe("app_latency_seconds", "route=/x", 0.003),
               0);
  cr_assert_eq(px_metrics_describe("app_requests_total", "Requests served."),
               0);
  char *t = render();
  ASSERT_LINE(t, "# HELP app_requests_total Requests served.");
  ASSERT_LINE(t, "# TYPE app_requests_total counter");
  ASSERT_LINE(t, "app_requests_total{code=\"200\",method=\"GET\"} 3");
  ASSERT_LINE(t, "app_requests_total{code=\"500\",method=\"GET\"} 1");
  ASSERT_LINE(t, "# TYPE app_queue_depth gauge");
  ASSERT_LINE(t, "app_queue_depth -2");
  ASSERT_LINE(t, "# TYPE app_latency_seconds histogram");
  ASSERT_LINE(t, "app_latency_seconds_bucket{route=\"/x\",le=\"0.0025\"} 0");
  ASSERT_LINE(t, "app_latency_seconds_bucket{route=\"/x\",le=\"0.005\"} 1");
  ASSERT_LINE(t, "app_latency_seconds_count{route=\"/x\"} 1");
  /* The series in sorted order: code="200" before code="500". */
  cr_assert(strstr(t, "code=\"200\"") < strstr(t, "code=\"500\""));
  free(t);
}

Test(metrics, first_use_fixes_the_kind) {
  cr_assert_eq(px_metrics_add("k_total", NULL, 1), 0);
  cr_assert_eq(px_metrics_set("k_total", NULL, 1), PX_EINVAL);
  cr_assert_eq(px_metrics_observe("k_total", NULL, 1), PX_EINVAL);
  cr_assert_null(px_metrics_gauge("k_total", NULL, NULL));
  cr_assert_null(px_metrics_histogram("k_total", NULL, NULL, NULL, 0));
  cr_assert_not_null(px_metrics_counter("k_total", NULL, "a=b"));
  /* A histogram's buckets are fixed too. */
  double b1[] = {1, 2}, b2[] = {1, 3};
  cr_assert_not_null(px_metrics_histogram("h_seconds", NULL, NULL, b1, 2));
  cr_assert_null(px_metrics_histogram("h_seconds", NULL, "x=y", b2, 2));
  cr_assert_not_null(px_metrics_histogram("h_seconds", NULL, "x=y", NULL, 0));
  cr_assert_eq(px_metrics_observe("h_seconds", NULL, 1.5), 0);
  /* A described family takes its kind at first use. */
  cr_assert_eq(px_metrics_describe("d_total", "described"), 0);
  cr_assert_eq(px_metrics_add("d_total", NULL, 1), 0);
  char *t = render();
  ASSERT_LINE(t, "# HELP d_total described");
  ASSERT_LINE(t, "k_total 1");
  ASSERT_LINE(t, "h_seconds_bucket{le=\"2\"} 1");
  free(t);
}

Test(metrics, bad_input_is_refused) {
  const char *bad_names[] = {"", "1abc", "a-b", "a b", "é", NULL};
  for (int i = 0; bad_names[i]; i++) {
    cr_assert_eq(px_metrics_add(bad_names[i], NULL, 1), PX_EINVAL, "%s",
                 bad_names[i]);
    cr_assert_null(px_metrics_counter(bad_names[i], NULL, NULL));
  }
  cr_assert_eq(px_metrics_add(NULL, NULL, 1), PX_EINVAL);
  cr_assert_eq(px_metrics_add("ok:name_total", NULL, 1), 0);
  /* Any UTF-8 is a fine label value. */
  cr_assert_eq(px_metrics_add("ok_total", "city=Zürich,sym=€,e=\xf0\x9f\x98\x80",
                              1),
               0);
  cr_assert_eq(px_metrics_describe("ok_total", "bad \xff help"), PX_EINVAL);
  const char *bad_labels[] = {"k",   "k=v,", "1k=v",    "__k=v", "k=v=w",
                              "=v",  ",",    "k=a,k=b", "a-b=c", "k=v,,j=w",
                              "k=\xff", "k=\xc0\x80", "k=\xed\xa0\x80",
                              "k=\xe2\x82", NULL};
  for (int i = 0; bad_labels[i]; i++)
    cr_assert_eq(px_metrics_add("ok_total", bad_labels[i], 1), PX_EINVAL,
                 "labels %s", bad_labels[i]);
  cr_assert_eq(px_metrics_observe("ok_seconds", "le=1", 1), PX_EINVAL);
  cr_assert_eq(px_metrics_add("ok_total", NULL, -1), PX_EINVAL);
  cr_assert_eq(px_metrics_add("ok_total", NULL, NAN), PX_EINVAL);
  cr_assert_eq(px_metrics_add("ok_total", NULL, INFINITY), PX_EINVAL);
  cr_assert_eq(px_metrics_observe("ok_seconds", NULL, NAN), PX_EINVAL);
  double unsorted[] = {2, 1}, inf[] = {1, INFINITY};
  cr_assert_null(px_metrics_histogram("u_seconds", NULL, NULL, unsorted, 2));
  cr_assert_null(px_metrics_histogram("u_seconds", NULL, NULL, inf, 2));
  cr_assert_null(px_metrics_histogram("u_seconds", NULL, NULL, unsorted, 0));
  /* The runtime's own names are not for applications. */
  cr_assert_eq(px_metrics_add("plexspaces_actor_messages_total", NULL, 1),
               PX_EINVAL);
  cr_assert_eq(px_metrics_describe("plexspaces_timers", "x"), PX_EINVAL);
  cr_assert_eq(px_metrics_describe("x_total", NULL), PX_EINVAL);
  /* Handles: NULL and the wrong kind are ignored, not crashes. */
  px_metric_add(NULL, 1);
  px_metric_observe(NULL, 1);
  px_metric *g = px_metrics_gauge("g_value", NULL, NULL);
  px_metric_add(g, 5);
  px_metric_observe(g, 5);
  px_metric *c = px_metrics_counter("c_total", NULL, NULL);
  px_metric_add(c, -3);
  px_metric_add(c, NAN);
  px_metric_set(c, 9);
  char *t = render();
  ASSERT_LINE(t, "g_value 0");
  ASSERT_LINE(t, "c_total 0");
  free(t);
  cr_assert_eq(px_metrics_render(NULL, NULL), PX_EINVAL);
}

Test(metrics, label_values_and_help_are_escaped) {
  cr_assert_eq(px_metrics_add("esc_total", "path=a\"b\\c\nd", 1), 0);
  cr_assert_eq(px_metrics_describe("esc_total", "line one\nback\\slash"), 0);
  char *t = render();
  ASSERT_LINE(t, "esc_total{path=\"a\\\"b\\\\c\\nd\"} 1");
  ASSERT_LINE(t, "# HELP esc_total line one\\nback\\\\slash");
  free(t);
}

Test(metrics, series_cap_refuses_new_series_only) {
  char labels[32];
  int made = 0, rc = 0;
  for (int i = 0; i < PX_METRICS_MAX_SERIES + 10; i++) {
    snprintf(labels, sizeof labels, "id=%d", i);
    rc = px_metrics_add("exploding_total", labels, 1);
    if (rc) break;
    made++;
  }
  cr_assert_eq(rc, PX_ERANGE);
  cr_assert_eq(made, PX_METRICS_MAX_SERIES);
  cr_assert_null(px_metrics_gauge("other_value", NULL, NULL));
  /* Existing series still count. */
  cr_assert_eq(px_metrics_add("exploding_total", "id=7", 1), 0);
  char *t = render();
  ASSERT_LINE(t, "exploding_total{id=\"7\"} 2");
  free(t);
}

Test(metrics, histogram_buckets_are_cumulative) {
  px_metric *h = px_metrics_histogram("lat_seconds", "Latency.", "op=get",
                                      NULL, 0);
  cr_assert_not_null(h);
  double vs[] = {0.0001, 0.003, 0.003, 7, 100};
  for (int i = 0; i < 5; i++) px_metric_observe(h, vs[i]);
  char *t = render();
  /* A value equal to a bound falls in that bucket ("le"). */
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"0.0001\"} 1");
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"0.00025\"} 1");
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"0.0025\"} 1");
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"0.005\"} 3");
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"5\"} 3");
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"10\"} 4");
  ASSERT_LINE(t, "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 5");
  ASSERT_LINE(t, "lat_seconds_count{op=\"get\"} 5");
  ASSERT_LINE(t, "lat_seconds_sum{op=\"get\"} 107.0061");
  free(t);
}

/* ---- concurrency ----------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 20000

static px_metric *conc_counter, *conc_hist;

static void *hammer(void *arg) {
  (void)arg;
  for (int i = 0; i < PER_THREAD; i++) {
    px_metric_add(conc_counter, 1);
    /* Dyadic values: their sum is exact in any order. */
    px_metric_observe(conc_hist, (i % 2) ? 0.5 : 0.001953125);
    if (i % 20 == 0) px_metrics_add("conc_byname_total", "t=x", 0.5);
  }
  return NULL;
}

Test(metrics, concurrent_updates_sum_exactly) {
  conc_counter = px_metrics_counter("conc_total", NULL, NULL);
  conc_hist = px_metrics_histogram("conc_seconds", NULL, NULL, NULL, 0);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, hammer, NULL), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  char *t = render();
  char line[128];
  snprintf(line, sizeof line, "conc_total %d", THREADS * PER_THREAD);
  ASSERT_LINE(t, line);
  snprintf(line, sizeof line, "conc_byname_total{t=\"x\"} %d",
           THREADS * PER_THREAD / 40);
  ASSERT_LINE(t, line);
  snprintf(line, sizeof line, "conc_seconds_bucket{le=\"0.0025\"} %d",
           THREADS * PER_THREAD / 2);
  ASSERT_LINE(t, line);
  snprintf(line, sizeof line, "conc_seconds_count %d", THREADS * PER_THREAD);
  ASSERT_LINE(t, line);
  snprintf(line, sizeof line, "conc_seconds_sum %.2f",
           THREADS * PER_THREAD / 2 * (0.5 + 0.001953125));
  ASSERT_LINE(t, line);
  free(t);
}

/* ---- collectors -------------------------------------------------------- */

static int collected;

static void app_collector(void *ud, px_metrics_writer *w) {
  collected++;
  cr_assert_eq(px_metrics_family(w, "node_apps", "Apps deployed.",
                                 PX_METRIC_GAUGE),
               0);
  px_metrics_sample(w, (const char *[]){"app", (const char *)ud, NULL}, 1);
  /* Values may hold what the string syntax cannot. */
  px_metrics_sample(w, (const char *[]){"app", "a,b=c", NULL}, 2);
  /* Written twice: the first value wins. */
  px_metrics_sample(w, (const char *[]){"app", "a,b=c", NULL}, 3);
  /* Bad input is refused without harm. */
  cr_assert_eq(px_metrics_family(w, "bad name", NULL, PX_METRIC_GAUGE),
               PX_EINVAL);
  cr_assert_eq(px_metrics_sample(w, NULL, 1), PX_EINVAL);
  cr_assert_eq(px_metrics_family(w, "node_hist", NULL, PX_METRIC_HISTOGRAM),
               0);
  double b[] = {1, 2};
  uint64_t c[] = {1, 2, 3};
  cr_assert_eq(px_metrics_sample_histogram(w, NULL, b, c, 2, 9.5), 0);
  cr_assert_eq(px_metrics_sample(w, NULL, 1), PX_EINVAL);
  cr_assert_eq(px_metrics_sample_histogram(
                   w, (const char *[]){"le", "1", NULL}, b, c, 2, 1),
               PX_EINVAL);
  /* The same family again with another kind: dropped at render. */
  px_metrics_family(w, "node_apps", NULL, PX_METRIC_COUNTER);
  px_metrics_sample(w, (const char *[]){"app", "zzz", NULL}, 1);
}

Test(metrics, collectors_add_families) {
  cr_assert_eq(px_metrics_add_collector(app_collector, "shop"), 0);
  cr_assert_eq(px_metrics_add_collector(app_collector, "shop"), PX_EEXIST);
  char *t = render();
  cr_assert_eq(collected, 1);
  ASSERT_LINE(t, "# TYPE node_apps gauge");
  ASSERT_LINE(t, "node_apps{app=\"shop\"} 1");
  ASSERT_LINE(t, "node_apps{app=\"a,b=c\"} 2");
  cr_assert_null(strstr(t, "zzz"));
  ASSERT_LINE(t, "node_hist_bucket{le=\"1\"} 1");
  ASSERT_LINE(t, "node_hist_bucket{le=\"2\"} 3");
  ASSERT_LINE(t, "node_hist_bucket{le=\"+Inf\"} 6");
  ASSERT_LINE(t, "node_hist_count 6");
  ASSERT_LINE(t, "node_hist_sum 9.5");
  free(t);
  cr_assert_eq(px_metrics_remove_collector(app_collector, "shop"), 0);
  cr_assert_eq(px_metrics_remove_collector(app_collector, "shop"),
               PX_ENOTFOUND);
  t = render();
  cr_assert_eq(collected, 1);
  cr_assert_null(strstr(t, "node_apps"));
  free(t);
}

/* ---- the runtime's families ---------------------------------------------- */

static void check_exposition(const char *text);

static void counter_handle(void *state, const px_message *msg) {
  (void)state;
  if (msg->corr) px_reply(msg, px_int(1));
}
static const px_actor_type counter_t = {.name = "counter_impl",
                                        .handle = counter_handle};

static px_ref spawn_in(const char *tenant, const char *ns, const char *label) {
  px_spawn_opts o = {0};
  o.tenant = tenant;
  o.ns = ns;
  o.label = label;
  px_ref r;
  cr_assert_eq(px_spawn(&counter_t, px_nil(), &o, &r), 0);
  return r;
}

/* N sends then one ask: per-sender order means all N were handled. */
static void send_n(px_ref r, int n) {
  for (int i = 0; i < n; i++)
    cr_assert_eq(px_send(r, px_atom_of("tick"), px_int(i)), 0);
  px_val v;
  cr_assert_eq(px_ask(r, px_atom_of("sync"), px_nil(), 5000, &v), 0);
  px_val_release(v);
}

static px_gs_result gs_init(px_val args, void **state, px_gs_out *out) {
  (void)args;
  (void)out;
  *state = NULL;
  return PX_GS_OK;
}
static const px_gen_server named_gs = {.name = "billing_server",
                                       .init = gs_init};

static uint64_t scope_killed(const char *tenant, const char *type) {
  px_type_stats s[64];
  size_t n = px_stats_scopes(s, 64);
  for (size_t i = 0; i < n && i < 64; i++)
    if (s[i].tenant && strcmp(s[i].tenant, tenant) == 0 &&
        strcmp(s[i].type, type) == 0)
      return s[i].exits_killed;
  return 0;
}

Test(metrics, runtime_families_follow_real_actors) {
  px_runtime_opts ro = {.workers = 2};
  cr_assert_eq(px_runtime_start(&ro), 0);
  px_ref a1 = spawn_in("acme", "prod", "worker");
  px_ref a2 = spawn_in("acme", "prod", "worker");
  px_ref b1 = spawn_in("beta", "dev", "worker");
  px_ref plain = spawn_in(NULL, NULL, NULL);
  send_n(a1, 10);
  send_n(a2, 5);
  send_n(b1, 3);
  send_n(plain, 1);
  px_ref gs;
  cr_assert_eq(px_gen_server_start(&named_gs, px_nil(), NULL, &gs), 0);
  px_tref tm = px_send_after(600000, a1, px_atom_of("later"), px_nil());

  uint64_t asks = px_stats_ask_count();
  cr_assert_geq(asks, 1); /* asks are sampled, the first one always */
  char *t = render();
  ASSERT_LINE(t, "plexspaces_actor_messages_total{actor_type=\"worker\","
                 "namespace=\"prod\",tenant=\"acme\"} 17");
  ASSERT_LINE(t, "plexspaces_actor_messages_total{actor_type=\"worker\","
                 "namespace=\"dev\",tenant=\"beta\"} 4");
  ASSERT_LINE(t, "plexspaces_actor_messages_total{actor_type=\"counter_impl\","
                 "namespace=\"\",tenant=\"\"} 2");
  ASSERT_LINE(t, "plexspaces_actor_spawns_total{actor_type=\"worker\","
                 "namespace=\"prod\",tenant=\"acme\"} 2");
  ASSERT_LINE(t, "plexspaces_actors_live{actor_type=\"worker\","
                 "namespace=\"prod\",tenant=\"acme\"} 2");
  ASSERT_LINE(t, "plexspaces_actor_mailbox_depth{actor_type=\"worker\","
                 "namespace=\"prod\",tenant=\"acme\"} 0");
  /* A GenServer is counted under its definition's name. */
  ASSERT_LINE(t, "plexspaces_actor_spawns_total{actor_type=\"billing_server\","
                 "namespace=\"\",tenant=\"\"} 1");
  cr_assert_null(strstr(t, "actor_type=\"gen_server\""));
  ASSERT_LINE(t, "plexspaces_timers 1");
  char line[96];
  snprintf(line, sizeof line, "plexspaces_ask_duration_seconds_count %llu",
           (unsigned long long)asks);
  ASSERT_LINE(t, line);
  ASSERT_LINE(t, "# TYPE plexspaces_ask_duration_seconds histogram");
  free(t);

  /* A kill shows as an exit of that scope, and the live gauge drops. */
  px_exit(b1, px_atomv(px_a()->kill));
  WAIT_UNTIL(scope_killed("beta", "worker") == 1);
  px_cancel_timer(tm);
  t = render();
  ASSERT_LINE(t, "plexspaces_actor_exits_total{actor_type=\"worker\","
                 "namespace=\"dev\",reason=\"killed\",tenant=\"beta\"} 1");
  ASSERT_LINE(t, "plexspaces_actor_exits_total{actor_type=\"worker\","
                 "namespace=\"dev\",reason=\"normal\",tenant=\"beta\"} 0");
  ASSERT_LINE(t, "plexspaces_actors_live{actor_type=\"worker\","
                 "namespace=\"dev\",tenant=\"beta\"} 0");
  ASSERT_LINE(t, "plexspaces_timers 0");
  free(t);

  /* px_stats_types still answers per type name, over every scope. */
  px_type_stats st[32];
  size_t n = px_stats_types(st, 32);
  bool found = false;
  for (size_t i = 0; i < n && i < 32; i++)
    if (strcmp(st[i].type, "worker") == 0) {
      found = true;
      cr_assert_eq(st[i].spawned, 3);
      cr_assert_eq(st[i].messages, 21);
      cr_assert_null(st[i].tenant);
    }
  cr_assert(found);
  px_runtime_stop();
}

Test(metrics, too_many_scopes_share_the_other_slot) {
  cr_assert_eq(px_runtime_start(NULL), 0);
  enum { N = 4200 }; /* more labels than there are slots */
  char label[32];
  for (int i = 0; i < N; i++) {
    snprintf(label, sizeof label, "label_%d", i);
    spawn_in("t", "n", label);
  }
  px_type_stats *st = malloc(8192 * sizeof *st);
  size_t n = px_stats_types(st, 8192);
  cr_assert_lt(n, 4096);
  uint64_t spawned = 0, other = 0;
  for (size_t i = 0; i < n; i++) {
    spawned += st[i].spawned;
    if (strcmp(st[i].type, "other") == 0) other = st[i].spawned;
  }
  /* Nothing is lost: the overflow is counted under "other". */
  cr_assert_eq(spawned, N);
  cr_assert_gt(other, N - 4096);
  free(st);
  char *t = render();
  cr_assert(strstr(t, "actor_type=\"other\""));
  check_exposition(t);
  free(t);
  px_runtime_stop();
}

Test(metrics, space_and_store_families) {
  char *dir = tmpdir_new();
  px_store *store = store_open(dir, NULL);
  px_store_op op = {.kind = PX_STORE_KV_PUT,
                    .space = "t/n/o",
                    .key = "k",
                    .value = px_int(1)};
  cr_assert_eq(px_store_apply(store, &op, 1), 0);
  cr_assert_eq(px_store_apply(store, &op, 1), 0);

  cr_assert_eq(px_runtime_start(NULL), 0);
  px_space *sp;
  cr_assert_eq(px_space_open(NULL, NULL, "m", PX_SPACE_MEMORY, &sp), 0);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(px_ts_write(sp, px_arr(2, px_int(1), px_int(i)), 0, NULL), 0);
  px_val out;
  cr_assert_eq(px_ts_take(sp, px_arr(2, px_int(1), px_nil()), 0, &out), 0);
  px_val_release(out);
  size_t cnt;
  cr_assert_eq(px_ts_count(sp, px_arr(2, px_int(1), px_nil()), &cnt), 0);
  cr_assert_eq(cnt, 2);
  px_space_close(sp);

  char *t = render();
  ASSERT_LINE(t, "plexspaces_space_operations_total{op=\"write\"} 3");
  ASSERT_LINE(t, "plexspaces_space_operations_total{op=\"take\"} 1");
  ASSERT_LINE(t, "plexspaces_space_operations_total{op=\"count\"} 1");
  ASSERT_LINE(t, "plexspaces_space_operations_total{op=\"read\"} 0");
  ASSERT_LINE(t, "plexspaces_store_commit_duration_seconds_count 2");
  ASSERT_LINE(t, "plexspaces_store_commit_batch_size_bucket{le=\"1\"} 2");
  ASSERT_LINE(t, "plexspaces_store_commit_batch_size_sum 2");
  free(t);
  px_runtime_stop();
  px_store_close(store);
  tmpdir_free(dir);
}

/* ---- the exposition as a whole ------------------------------------------ */

/* Checks the structure: every sample follows its family's HELP and TYPE,
 * families come once and sorted, histogram buckets rise to +Inf = count. */
static void check_exposition(const char *text) {
  char *copy = strdup(text), *save = NULL;
  char fam[256] = "", prev_fam[256] = "", type[32] = "";
  bool helped = false;
  double last_bucket = -1, inf_bucket = -1;
  for (char *line = strtok_r(copy, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char name[256], kind[32];
    if (sscanf(line, "# HELP %255s", name) == 1) {
      cr_assert(strcmp(name, prev_fam) > 0, "families out of order: %s", line);
      snprintf(prev_fam, sizeof prev_fam, "%s", name);
      snprintf(fam, sizeof fam, "%s", name);
      helped = true;
      type[0] = 0;
      last_bucket = -1;
      continue;
    }
    if (sscanf(line, "# TYPE %255s %31s", name, kind) == 2) {
      cr_assert(helped && strcmp(name, fam) == 0, "TYPE without HELP: %s",
                line);
      snprintf(type, sizeof type, "%s", kind);
      continue;
    }
    cr_assert(line[0] != '#', "unexpected comment: %s", line);
    cr_assert(type[0], "sample before TYPE: %s", line);
    cr_assert(strncmp(line, fam, strlen(fam)) == 0, "sample %s outside %s",
              line, fam);
    const char *sp = strrchr(line, ' ');
    cr_assert(sp, "no value: %s", line);
    char *end;
    double v = strtod(sp + 1, &end);
    cr_assert(*end == 0, "bad value: %s", line);
    if (strcmp(type, "histogram") != 0) continue;
    const char *suffix = line + strlen(fam);
    if (strncmp(suffix, "_bucket", 7) == 0) {
      if (last_bucket >= 0)
        cr_assert(v >= last_bucket, "buckets fall: %s", line);
      last_bucket = v;
      if (strstr(line, "le=\"+Inf\"")) inf_bucket = v, last_bucket = -1;
    } else if (strncmp(suffix, "_count", 6) == 0) {
      cr_assert_eq(v, inf_bucket, "count != +Inf bucket: %s", line);
    }
  }
  free(copy);
}

static void promtool_ok(const char *text) {
  char *dir = tmpdir_new();
  char path[512];
  snprintf(path, sizeof path, "%s/metrics.txt", dir);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs(text, f);
  fclose(f);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
  FILE *p = popen(cmd, "r");
  cr_assert(p, "cannot run promtool");
  char out[4096] = "";
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  int st = pclose(p);
  tmpdir_free(dir);
  cr_assert_eq(st, 0, "promtool check metrics failed (%d):\n%s\n---\n%s", st,
               out, text);
}

Test(metrics, exposition_is_valid_prometheus_text) {
  cr_assert_eq(px_runtime_start(NULL), 0);
  px_ref a = spawn_in("acme", "prod", "worker");
  send_n(a, 3);
  px_metrics_add("shop_orders_total", "status=paid", 4);
  px_metrics_describe("shop_orders_total", "Orders by status.");
  px_metrics_set("shop_cart_items", "region=eu,tier=\"gold\"", 3.25);
  px_metrics_observe("shop_checkout_duration_seconds", NULL, 0.02);
  px_metrics_add_collector(app_collector, "shop");
  char *t = render();
  check_exposition(t);
  promtool_ok(t);
  free(t);
  px_runtime_stop();
}

Test(metrics, empty_registry_renders_runtime_families) {
  /* No runtime: still a valid exposition, counts at zero. */
  char *t = render();
  check_exposition(t);
  ASSERT_LINE(t, "plexspaces_ask_duration_seconds_count 0");
  promtool_ok(t);
  free(t);
}
