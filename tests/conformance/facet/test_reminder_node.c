/* Reminders across a crash and on the real clock:
 *  - a node that dies between delivering a reminder and storing its
 *    progress (a child process _exits inside the delivery) delivers a
 *    one-shot reminder again after the restart (at least once), while a
 *    periodic reminder goes on with its schedule (that tick is not
 *    repeated: ticks are never replayed, R-H-18);
 *  - the default wall clock with real timers: a short reminder arrives,
 *    waited for with a timeout, never a sleep;
 *  - many threads registering at once while the service runs. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reminder_test_util.h"

static int to_test(const char *tenant, const char *ns, const char *type,
                   const char *key, px_atom msg, px_val payload) {
  (void)tenant, (void)ns, (void)type, (void)msg;
  return px_send(g_test, px_atom_of("fired"),
                 px_arr(2, px_str(key), payload));
}

/* The child's delivery: the process dies right after handing the message
 * over, before the service can store anything. */
static int die_delivering(const char *tenant, const char *ns,
                          const char *type, const char *key, px_atom msg,
                          px_val payload) {
  (void)tenant, (void)ns, (void)type, (void)key, (void)msg, (void)payload;
  _exit(7);
}

static void setup(void) {
  g_dir = tmpdir_new();
  px__reminder_set_deliver(to_test);
}

static void teardown(void) { tmpdir_free(g_dir); }

TestSuite(reminder_node, .init = setup, .fini = teardown, .timeout = 60);

static int count_cb(void *ud, const px_reminder_info *r) {
  (void)r;
  ++*(int *)ud;
  return 0;
}

static int stored_count(void) {
  int n = 0;
  cr_assert_eq(px_reminder_list(g_st, NULL, count_cb, &n), 0);
  return n;
}

/* Runs a node in a child process on the virtual clock, starting at `now`
 * and then advancing `advance` ms; it dies inside its first delivery.
 * Returns the child's exit status. */
static int crash_child(int64_t now, int64_t advance) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    px__reminder_set_deliver(die_delivering);
    px__reminder_set_clock(test_clock);
    px_runtime_opts o = {.workers = 2, .virtual_clock = true};
    if (px_runtime_start(&o)) _exit(2);
    atomic_store(&g_base, now - (int64_t)px_clock_ms());
    char err[256];
    if (px_store_open_sqlite(g_dir, NULL, &g_st, err, sizeof err)) _exit(3);
    if (px_reminders_start(g_st)) _exit(4);
    /* an ask: the service has loaded and scheduled before time moves */
    if (px_reminder_cancel(g_st, "s", "s", "s", "s", "x")) _exit(6);
    if (advance) px_clock_advance((uint64_t)advance);
    px_message *m;
    px_receive(NULL, NULL, 20000, &m); /* the delivery kills us first */
    _exit(5);
  }
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void node_up(int64_t now) {
  px__reminder_set_clock(test_clock);
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  atomic_store(&g_base, now - (int64_t)px_clock_ms());
  g_test = px_self();
  store_up();
  cr_assert_eq(px_reminders_start(g_st), 0);
}

static void node_down(void) {
  px_runtime_stop();
  px_store_close(g_st);
  g_st = NULL;
}

static void put_direct(const char *name, int64_t due, int64_t period) {
  store_up();
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "t",
                        .key = "k", .name = name, .due_at_ms = due,
                        .period_ms = period, .payload = px_int(1)};
  cr_assert_eq(px_reminder_set(g_st, &r), 0);
  px_store_close(g_st);
  g_st = NULL;
}

Test(reminder_node, a_one_shot_delivered_just_before_a_crash_fires_again) {
  put_direct("once", T0 + 1000, 0);
  cr_assert_eq(crash_child(T0 + 2000, 0), 7, "the child died delivering");
  node_up(T0 + 3000);
  px_message *m = expect_fire(); /* the same tick, once more */
  cr_assert_eq(px_gets(px_at(m->payload, 1), "due_ms").u.i, T0 + 1000);
  px_message_free(m);
  expect_no_fire();
  cr_assert_eq(stored_count(), 0);
  node_down();
}

typedef struct due_q {
  const char *name;
  int64_t due;
} due_q;

static int due_cb(void *ud, const px_reminder_info *r) {
  due_q *q = ud;
  if (!strcmp(r->name, q->name)) q->due = r->due_ms;
  return 0;
}

Test(reminder_node, a_periodic_tick_delivered_before_a_crash_is_not_repeated) {
  put_direct("tick", T0 + 1000, 1000);
  /* the child runs from +500 to +1000: that tick is delivered */
  cr_assert_eq(crash_child(T0 + 500, 500), 7);
  node_up(T0 + 1200);
  expect_no_fire();
  due_q q = {"tick", -1};
  cr_assert_eq(px_reminder_list(g_st, NULL, due_cb, &q), 0);
  cr_assert_eq(q.due, T0 + 1000, "the crash kept the old due time");
  cr_assert_eq(px_clock_advance(800), 0);
  px_message *m = expect_fire();
  cr_assert_eq(px_gets(px_at(m->payload, 1), "due_ms").u.i, T0 + 2000);
  px_message_free(m);
  node_down();
}

Test(reminder_node, real_wall_clock_and_real_timers) {
  px__reminder_set_clock(NULL);
  cr_assert_eq(px_runtime_start(NULL), 0);
  g_test = px_self();
  store_up();
  cr_assert_eq(px_reminders_start(g_st), 0);
  int64_t before = px_wall_ms();
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "t",
                        .key = "k", .name = "soon", .due_in_ms = 50};
  cr_assert_eq(px_reminder_set(g_st, &r), 0);
  px_message *m = expect_fire();
  px_val body = px_at(m->payload, 1);
  int64_t due = px_gets(body, "due_ms").u.i;
  int64_t fired = px_gets(body, "fired_ms").u.i;
  cr_assert(due >= before + 50 && fired >= due, "due %lld fired %lld",
            (long long)due, (long long)fired);
  px_message_free(m);
  px_runtime_stop();
  px_store_close(g_st);
}

typedef struct setter {
  int id;
  int rc;
} setter;

static void *set_many(void *arg) {
  setter *s = arg;
  for (int i = 0; i < 50 && s->rc == 0; i++) {
    char key[32], name[32];
    snprintf(key, sizeof key, "k%d", s->id);
    snprintf(name, sizeof name, "r%d", i);
    px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "t",
                          .key = key, .name = name,
                          .due_in_ms = 1000 + (i % 7) * 100};
    s->rc = px_reminder_set(g_st, &r);
  }
  return NULL;
}

Test(reminder_node, eight_threads_register_at_once_every_reminder_fires) {
  node_up(T0);
  pthread_t th[8];
  setter s[8];
  for (int i = 0; i < 8; i++) {
    s[i] = (setter){i, 0};
    pthread_create(&th[i], NULL, set_many, &s[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(s[i].rc, 0, "%s", px_err_name(s[i].rc));
  }
  cr_assert_eq(stored_count(), 400);
  cr_assert_eq(px_clock_advance(2000), 0);
  bool seen[8][50] = {{false}};
  for (int n = 0; n < 400; n++) {
    px_message *m = expect_fire();
    int k = atoi(px_str_ptr(px_at(m->payload, 0)) + 1);
    int i = atoi(px_str_ptr(px_gets(px_at(m->payload, 1), "name")) + 1);
    cr_assert(!seen[k][i], "k%d r%d fired twice", k, i);
    seen[k][i] = true;
    px_message_free(m);
  }
  expect_no_fire();
  cr_assert_eq(stored_count(), 0);
  node_down();
}
