/* kill -9 torture of durable workflows (issue 4, Proof): workflows of
 * many steps run in a node that is killed with SIGKILL at random moments
 * and restarted, again and again, then run to the end.
 *
 * Every step records each execution attempt (workflow, step, attempt,
 * boot) and applies its effect under its idempotency key, both in an
 * external SQLite file (effects.db, not the node's store), in one
 * transaction, before its result is journaled. At the end:
 *  - every workflow completed, with the result its steps' journaled values
 *    add up to (replay fed back the right values);
 *  - every effect exists exactly once;
 *  - a step that ran successfully more than once did so only across a
 *    kill that landed between its attempt and its journal record: its
 *    earlier successful attempt is in a killed boot, in which that
 *    workflow attempted nothing after it, and no step ever succeeded
 *    twice within one boot. The test counts these re-runs;
 *  - the node's database passes PRAGMA integrity_check.
 *
 * PX_TORTURE_KILLS sets the number of kills (default 100; bench/run
 * dur_torture runs 2,000). Workflows and steps scale with it. */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "../../unit/store/store_test_util.h"
#include "plexspaces/workflow.h"

static int g_workflows = 24;
static int g_steps = 60;
static int g_boot;      /* this child's boot number (the round) */
static int g_pipe = -1; /* progress bytes to the parent */
static sqlite3 *g_fx;   /* effects.db, shared by the workers under g_fx_mu
                           (a transaction spans several calls; nothing in
                           it parks) */
static pthread_mutex_t g_fx_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the node (a child process) ----------------------------------------- */

static void progress(char c) {
  if (write(g_pipe, &c, 1) != 1) _exit(3);
}

static int wf_index(px_wf *wf) { return atoi(px_wf_id(wf) + 1); }

static void fx_exec(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(g_fx, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "effects.db: %s: %s\n", sql, err);
    _exit(7);
  }
}

/* Step i of workflow w: one transaction in effects.db records the attempt
 * and applies the effect (INSERT OR IGNORE on the idempotency key); steps
 * with i % 7 == 3 fail their first attempt, to run through retries. */
static int step_fn(px_wf *wf, void *ud, px_val *out) {
  int i = (int)(intptr_t)ud;
  int w = wf_index(wf);
  uint32_t attempt = px_wf_attempt(wf);
  bool fail = i % 7 == 3 && attempt == 1;
  char key[256];
  if (px_wf_idempotency_key(wf, key, sizeof key) <= 0) _exit(8);
  char sql[512];
  pthread_mutex_lock(&g_fx_mu);
  fx_exec("BEGIN IMMEDIATE");
  int dup = 0;
  if (!fail) {
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO effects(key, wf, step) VALUES('%s', %d, "
             "%d)",
             key, w, i);
    fx_exec(sql);
    dup = sqlite3_changes(g_fx) == 0;
  }
  snprintf(sql, sizeof sql,
           "INSERT INTO attempts(kind, wf, step, attempt, boot, ok, dup) "
           "VALUES('attempt', %d, %d, %u, %d, %d, %d)",
           w, i, attempt, g_boot, !fail, dup);
  fx_exec(sql);
  fx_exec("COMMIT");
  pthread_mutex_unlock(&g_fx_mu);
  progress('p');
  if (fail) return PX_EIO; /* retryable */
  *out = px_int((int64_t)w * 1000 + i);
  return 0;
}

static const px_retry_policy fast_retry = {
    .max_attempts = 5, .initial_interval_ms = 1, .backoff = 2.0,
    .max_interval_ms = 4};

static int64_t expected_sum(int w) {
  int64_t s = 0;
  for (int i = 0; i < g_steps; i++) s += (int64_t)w * 1000 + i;
  return s;
}

static int torture_run(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  int64_t sum = 0;
  for (int i = 0; i < g_steps; i++) {
    if (i % 20 == 10) { /* a durable timer now and then */
      int rc = px_wf_sleep(wf, 1);
      if (rc) return rc;
    }
    char name[32];
    snprintf(name, sizeof name, "s%d", i);
    px_val out = px_nil();
    int rc = px_step(wf, name, step_fn, (void *)(intptr_t)i, &fast_retry,
                     &out);
    if (rc) {
      px_val_release(out);
      return rc;
    }
    sum += out.u.i;
    px_val_release(out);
    /* px_step returned: the step's record is durable. Note that in the
     * same sequence as the attempts, so the parent can tell whether a
     * re-run came after a record (a bug) or before one. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO attempts(kind, wf, step, boot) SELECT 'recorded', "
             "%d, %d, %d WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE "
             "kind='recorded' AND wf=%d AND step=%d)",
             wf_index(wf), i, g_boot, wf_index(wf), i);
    pthread_mutex_lock(&g_fx_mu);
    fx_exec(sql);
    pthread_mutex_unlock(&g_fx_mu);
  }
  *result = px_int(sum);
  return 0;
}

static const px_workflow_type torture_t = {.name = "torture",
                                           .run = torture_run};

static void fx_open(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/effects.db", dir);
  if (sqlite3_open_v2(path, &g_fx,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_FULLMUTEX,
                      NULL) != SQLITE_OK)
    _exit(7);
  sqlite3_busy_timeout(g_fx, 10000);
  fx_exec("PRAGMA journal_mode=WAL");
  fx_exec("PRAGMA synchronous=NORMAL"); /* a process kill loses nothing */
  fx_exec("CREATE TABLE IF NOT EXISTS effects(key TEXT PRIMARY KEY, "
          "wf INTEGER, step INTEGER)");
  /* one sequence (id) for attempts and records, so they can be ordered */
  fx_exec("CREATE TABLE IF NOT EXISTS attempts(id INTEGER PRIMARY KEY "
          "AUTOINCREMENT, kind TEXT, wf INTEGER, step INTEGER, attempt "
          "INTEGER, boot INTEGER, ok INTEGER DEFAULT 0, dup INTEGER DEFAULT "
          "0)");
  fx_exec("CREATE INDEX IF NOT EXISTS attempts_step ON attempts(wf, step, "
          "kind)");
}

/* Starts (or resumes) the node, then waits for every workflow. The final
 * boot checks the outcomes and exits 0; a killed one never gets there. */
static _Noreturn void node_main(const char *dir, bool final) {
  fx_open(dir);
  px_runtime_opts o = {.workers = 2};
  if (px_runtime_start(&o) != 0) _exit(2);
  char node_dir[4096], err[512];
  snprintf(node_dir, sizeof node_dir, "%s/node", dir);
  px_store *st;
  if (px_store_open_sqlite(node_dir, NULL, &st, err, sizeof err) != 0) {
    fprintf(stderr, "open: %s\n", err);
    _exit(2);
  }
  if (px_workflow_register(&torture_t, st) != 0) _exit(2);
  if (px_workflow_recover(NULL) != 0) _exit(2);
  px_wf_start_opts so = {.on_open = PX_WF_CONFLICT_USE_EXISTING,
                         .on_closed = PX_WF_REUSE_REJECT};
  for (int w = 0; w < g_workflows; w++) {
    char id[32];
    snprintf(id, sizeof id, "w%d", w);
    int rc = px_workflow_start("torture", id, px_int(w), &so);
    if (rc != 0 && rc != PX_EEXIST) _exit(9);
  }
  int bad = 0;
  for (int w = 0; w < g_workflows; w++) {
    char id[32];
    snprintf(id, sizeof id, "w%d", w);
    px_wf_status s;
    px_val res = px_nil();
    if (px_workflow_wait(id, -1, &s, &res) != 0) _exit(10);
    if (s != PX_WF_COMPLETED || res.type != PX_T_INT ||
        res.u.i != expected_sum(w)) {
      fprintf(stderr, "%s: status %s, result %lld (want %lld)\n", id,
              px_wf_status_name(s),
              res.type == PX_T_INT ? (long long)res.u.i : -1LL,
              (long long)expected_sum(w));
      bad++;
    }
    px_val_release(res);
  }
  progress('D');
  if (!final) pause(); /* the parent kills us anyway */
  px_runtime_stop();
  px_store_close(st);
  sqlite3_close(g_fx);
  _exit(bad ? 11 : 0);
}

/* ---- the parent --------------------------------------------------------- */

static int64_t q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
               sqlite3_errmsg(db));
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Forks a node for boot `boot`; returns its pid and the read end. */
static pid_t fork_node(const char *dir, int boot, bool final, int *rd) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    g_pipe = p[1];
    g_boot = boot;
    node_main(dir, final);
  }
  close(p[1]);
  *rd = p[0];
  return pid;
}

Test(workflow_torture, kill9_exactly_once, .timeout = 1200) {
  int kills = 100;
  const char *k = getenv("PX_TORTURE_KILLS");
  if (k && atoi(k) > 0) kills = atoi(k);
  /* about 15 steps of work per kill, so kills land all through the run */
  g_workflows = kills < 200 ? 24 : kills / 8;
  g_steps = kills * 15 / g_workflows;
  if (g_steps < 20) g_steps = 20;
  char *dir = tmpdir_new();
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  fprintf(stderr, "torture: %d kills, %d workflows x %d steps in %s\n", kills,
          g_workflows, g_steps, dir);

  int done_early = 0, boot = 0;
  for (; boot < kills; boot++) {
    int rd;
    pid_t pid = fork_node(dir, boot, false, &rd);
    /* kill after 0..24 step attempts, and a few microseconds more */
    int want = rand() % 25, seen = 0;
    char c = 0;
    while (seen < want && read(rd, &c, 1) == 1 && c != 'D') seen++;
    if (c == 'D') done_early++;
    struct timespec jitter = {0, (long)(rand() % 300) * 1000};
    nanosleep(&jitter, NULL); /* where in the next step the kill lands */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(rd);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "boot %d ended by itself (status 0x%x) before the kill", boot,
              status);
  }
  /* the last boot runs everything to the end and checks the results */
  int rd;
  pid_t pid = fork_node(dir, boot, true, &rd);
  char c;
  while (read(rd, &c, 1) == 1) {
  }
  close(rd);
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "final boot failed (status 0x%x)", status);

  char path[4096];
  snprintf(path, sizeof path, "%s/effects.db", dir);
  sqlite3 *fx;
  cr_assert_eq(sqlite3_open(path, &fx), SQLITE_OK);
  int64_t total = (int64_t)g_workflows * g_steps;
  cr_assert_eq(q1(fx, "SELECT count(*) FROM effects"), total,
               "every effect exists, once");
  cr_assert_eq(q1(fx, "SELECT count(*) FROM (SELECT DISTINCT wf, step FROM "
                      "effects)"),
               total);
  cr_assert_eq(q1(fx, "SELECT count(*) FROM (SELECT 1 FROM attempts WHERE "
                      "ok=1 GROUP BY wf, step, boot HAVING count(*)>1)"),
               0, "no step succeeded twice within one boot");
  cr_assert_eq(q1(fx, "SELECT count(*) FROM attempts WHERE kind='recorded'"),
               total, "every step's record was seen");
  /* A re-run is a successful attempt b after an earlier successful
   * attempt a of the same step. The proof that each one is explained by
   * a kill between a and its journal record: no 'recorded' note of that
   * step precedes b (px_step had not returned before the kill), and a
   * lies in a killed boot (not the final one) in which its workflow
   * attempted nothing after it. */
  char q[1024];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM attempts b JOIN attempts a ON a.wf=b.wf AND "
           "a.step=b.step AND a.kind='attempt' AND a.ok=1 AND a.id<b.id "
           "WHERE b.kind='attempt' AND b.ok=1 AND (EXISTS (SELECT 1 FROM "
           "attempts r WHERE r.kind='recorded' AND r.wf=b.wf AND "
           "r.step=b.step AND r.id<b.id) OR a.boot>=%d OR EXISTS (SELECT 1 "
           "FROM attempts c WHERE c.kind='attempt' AND c.wf=a.wf AND "
           "c.boot=a.boot AND c.id>a.id))",
           boot);
  cr_assert_eq(q1(fx, q), 0,
               "a step re-ran without a kill between its attempt and record");
  int64_t reruns = q1(fx, "SELECT count(*) FROM attempts b WHERE "
                          "b.kind='attempt' AND b.ok=1 AND EXISTS (SELECT 1 "
                          "FROM attempts a WHERE a.kind='attempt' AND a.ok=1 "
                          "AND a.wf=b.wf AND a.step=b.step AND a.id<b.id)");
  int64_t dups = q1(fx, "SELECT count(*) FROM attempts WHERE dup=1");
  cr_assert_eq(dups, reruns, "each re-run met its effect already applied");
  cr_assert_leq(reruns, (int64_t)kills * g_workflows);
  int64_t attempts =
      q1(fx, "SELECT count(*) FROM attempts WHERE kind='attempt'");
  sqlite3_close(fx);

  snprintf(path, sizeof path, "%s/node/plexspaces.db", dir);
  sqlite3 *node;
  cr_assert_eq(sqlite3_open(path, &node), SQLITE_OK);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(node, "PRAGMA integrity_check", -1, &st,
                                  NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  sqlite3_close(node);
  fprintf(stderr,
          "torture: %d kills (%d after all had completed), %lld steps, "
          "%lld attempts, %lld re-runs of a step whose record the kill "
          "pre-empted\n",
          kills, done_early, (long long)total, (long long)attempts,
          (long long)reruns);
  cr_assert_lt(done_early, kills / 2, "most kills landed mid-run");
  tmpdir_free(dir);
}
