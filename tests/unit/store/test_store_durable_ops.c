/* The px_store ops of durable execution, without a runtime: journal
 * append/read/truncate, snapshots, stream listing and deletion, KV with
 * TTL, CAS and increment, reminders; and that a failing op (a taken seq,
 * a lost CAS) drops only its caller inside a group commit. */
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>

#include "store_test_util.h"

/* Strings the ops borrow, released when the test ends. */
static px_val kept[64];
static size_t nkept;
static px_val S(const char *s) {
  cr_assert_lt(nkept, 64);
  return kept[nkept++] = px_str(s);
}
static void release_kept(void) {
  while (nkept) px_val_release(kept[--nkept]);
}

static px_store_op jappend(const char *stream, uint64_t seq, const char *kind,
                           px_val v) {
  return (px_store_op){.kind = PX_STORE_JOURNAL_APPEND, .space = stream,
                       .id = seq, .key = kind, .value = v};
}

typedef struct entries {
  size_t n;
  uint64_t seq[64];
  char kind[64][16];
  px_val val[64];
} entries;

static int collect_entry(void *ud, uint64_t seq, const char *kind, px_val v,
                         int64_t ts) {
  entries *e = ud;
  cr_assert(ts > 1600000000000, "ts %lld", (long long)ts);
  cr_assert_lt(e->n, 64);
  e->seq[e->n] = seq;
  snprintf(e->kind[e->n], sizeof e->kind[0], "%s", kind);
  e->val[e->n++] = v;
  return 0;
}

static void entries_free(entries *e) {
  for (size_t i = 0; i < e->n; i++) px_val_release(e->val[i]);
  e->n = 0;
}

Test(store_durable, journal_append_read_truncate_snapshot) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  const char *st = "acme/ns/counter/k1";
  for (uint64_t i = 1; i <= 10; i++) {
    px_store_op op = jappend(st, i, i % 2 ? "msg" : "effect", px_int((int64_t)i));
    cr_assert_eq(px_store_apply(s, &op, 1), 0);
  }
  /* a taken seq is a conflict (a second writer of the stream) */
  px_store_op dup = jappend(st, 4, "msg", px_int(99));
  cr_assert_eq(px_store_apply(s, &dup, 1), PX_ECONFLICT);
  px_store_op zero = jappend(st, 0, "msg", px_int(99));
  cr_assert_eq(px_store_apply(s, &zero, 1), PX_EINVAL);

  entries e = {0};
  cr_assert_eq(px_store_journal_read(s, st, 6, collect_entry, &e), 0);
  cr_assert_eq(e.n, 4);
  cr_assert_eq(e.seq[0], 7);
  cr_assert_str_eq(e.kind[0], "msg");
  cr_assert_str_eq(e.kind[1], "effect");
  cr_assert(px_val_equal(e.val[3], px_int(10)));
  entries_free(&e);
  uint64_t last = 0;
  cr_assert_eq(px_store_journal_last(s, st, &last), 0);
  cr_assert_eq(last, 10);
  cr_assert_eq(px_store_journal_last(s, "nobody", &last), 0);
  cr_assert_eq(last, 0);

  uint64_t seq;
  px_val v;
  cr_assert_eq(px_store_snapshot_get(s, st, &seq, &v), PX_ENOTFOUND);
  /* checkpoints at 5 then 8, each truncating the journal up to it */
  px_store_op cp1[] = {
      {.kind = PX_STORE_SNAPSHOT_PUT, .space = st, .id = 5,
       .value = S("state@5")},
      {.kind = PX_STORE_JOURNAL_TRUNCATE, .space = st, .id = 5}};
  cr_assert_eq(px_store_apply(s, cp1, 2), 0);
  px_store_op cp2[] = {
      {.kind = PX_STORE_SNAPSHOT_PUT, .space = st, .id = 8,
       .value = S("state@8")},
      {.kind = PX_STORE_JOURNAL_TRUNCATE, .space = st, .id = 8}};
  cr_assert_eq(px_store_apply(s, cp2, 2), 0);
  cr_assert_eq(px_store_snapshot_get(s, st, &seq, &v), 0);
  cr_assert_eq(seq, 8);
  cr_assert(px_val_equal(v, S("state@8")));
  px_val_release(v);
  cr_assert_eq(px_store_snapshot_list(s, st, collect_entry, &e), 0);
  cr_assert_eq(e.n, 1, "older snapshots go with the truncation");
  entries_free(&e);
  cr_assert_eq(px_store_journal_read(s, st, 0, collect_entry, &e), 0);
  cr_assert_eq(e.n, 2);
  cr_assert_eq(e.seq[0], 9);
  entries_free(&e);
  cr_assert_eq(px_store_journal_last(s, st, &last), 0);
  cr_assert_eq(last, 10);

  px_store_close(s); /* all of it survives a reopen */
  s = store_open(d, NULL);
  cr_assert_eq(px_store_snapshot_get(s, st, &seq, &v), 0);
  cr_assert_eq(seq, 8);
  px_val_release(v);
  px_store_op gone = {.kind = PX_STORE_STREAM_DELETE, .space = st};
  cr_assert_eq(px_store_apply(s, &gone, 1), 0);
  cr_assert_eq(px_store_journal_last(s, st, &last), 0);
  cr_assert_eq(last, 0);
  cr_assert_eq(px_store_snapshot_get(s, st, &seq, &v), PX_ENOTFOUND);
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

typedef struct names {
  size_t n;
  char name[8][64];
} names;

static int collect_name(void *ud, const char *name) {
  names *n = ud;
  cr_assert_lt(n->n, 8);
  snprintf(n->name[n->n++], 64, "%s", name);
  return 0;
}

Test(store_durable, streams_by_prefix) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  const char *ids[] = {"wf/t1/a", "wf/t1/b", "wf/t2/a", "wf/t1"};
  for (int i = 0; i < 4; i++) {
    px_store_op op = jappend(ids[i], 1, "start", px_nil());
    cr_assert_eq(px_store_apply(s, &op, 1), 0);
  }
  px_store_op snap = {.kind = PX_STORE_SNAPSHOT_PUT, .space = "wf/t1/c",
                      .id = 3, .value = px_int(1)};
  cr_assert_eq(px_store_apply(s, &snap, 1), 0);
  names n = {0};
  cr_assert_eq(px_store_streams(s, "wf/t1/", collect_name, &n), 0);
  cr_assert_eq(n.n, 3);
  cr_assert_str_eq(n.name[0], "wf/t1/a");
  cr_assert_str_eq(n.name[1], "wf/t1/b");
  cr_assert_str_eq(n.name[2], "wf/t1/c");
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

static px_store_op kv(px_store_op_kind k, const char *key, px_val v,
                      int64_t exp) {
  return (px_store_op){.kind = k, .space = "acme/ns/owner", .key = key,
                       .value = v, .expiry_ms = exp};
}

typedef struct kvs {
  size_t n;
  char key[8][32];
  px_val val[8];
} kvs;

static int collect_kv(void *ud, const char *key, px_val v, int64_t exp) {
  kvs *k = ud;
  (void)exp;
  cr_assert_lt(k->n, 8);
  snprintf(k->key[k->n], 32, "%s", key);
  k->val[k->n++] = v;
  return 0;
}

Test(store_durable, kv_put_get_list_ttl_delete) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  int64_t now = px_wall_ms();
  px_store_op ops[] = {
      kv(PX_STORE_KV_PUT, "user:1", S("ann"), 0),
      kv(PX_STORE_KV_PUT, "user:2", S("bob"), now + 3600000),
      kv(PX_STORE_KV_PUT, "user:3", S("old"), now - 1), /* expired */
      kv(PX_STORE_KV_PUT, "zzz", px_int(1), 0),
  };
  cr_assert_eq(px_store_apply(s, ops, 4), 0);
  px_val v;
  int64_t exp = -1;
  cr_assert_eq(px_store_kv_get(s, "acme/ns/owner", "user:2", &v, &exp), 0);
  cr_assert(px_val_equal(v, S("bob")));
  cr_assert_eq(exp, now + 3600000);
  px_val_release(v);
  cr_assert_eq(px_store_kv_get(s, "acme/ns/owner", "user:3", &v, NULL),
               PX_ENOTFOUND, "an expired entry is invisible");
  cr_assert_eq(px_store_kv_get(s, "other/ns/owner", "user:1", &v, NULL),
               PX_ENOTFOUND, "scopes are separate");
  kvs k = {0};
  cr_assert_eq(px_store_kv_list(s, "acme/ns/owner", "user:", collect_kv, &k),
               0);
  cr_assert_eq(k.n, 2);
  cr_assert_str_eq(k.key[0], "user:1");
  cr_assert_str_eq(k.key[1], "user:2");
  for (size_t i = 0; i < k.n; i++) px_val_release(k.val[i]);
  px_store_op del[] = {kv(PX_STORE_KV_DEL, "user:1", px_nil(), 0),
                       kv(PX_STORE_KV_DEL, "never", px_nil(), 0)};
  cr_assert_eq(px_store_apply(s, del, 2), 0, "deleting a missing key is fine");
  cr_assert_eq(px_store_kv_get(s, "acme/ns/owner", "user:1", &v, NULL),
               PX_ENOTFOUND);
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

Test(store_durable, kv_cas_and_incr) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op create = kv(PX_STORE_KV_CAS, "lock", S("me"), 0);
  create.expect_absent = true;
  cr_assert_eq(px_store_apply(s, &create, 1), 0);
  cr_assert_eq(px_store_apply(s, &create, 1), PX_ECONFLICT,
               "create-only on an existing key");
  px_store_op swap = kv(PX_STORE_KV_CAS, "lock", S("you"), 0);
  swap.expected = S("nobody");
  cr_assert_eq(px_store_apply(s, &swap, 1), PX_ECONFLICT);
  swap.expected = S("me");
  cr_assert_eq(px_store_apply(s, &swap, 1), 0);
  px_val v;
  cr_assert_eq(px_store_kv_get(s, "acme/ns/owner", "lock", &v, NULL), 0);
  cr_assert(px_val_equal(v, S("you")));
  px_val_release(v);
  /* an expired entry counts as absent for create-only */
  px_store_op stale = kv(PX_STORE_KV_PUT, "lease", S("x"),
                         px_wall_ms() - 5);
  cr_assert_eq(px_store_apply(s, &stale, 1), 0);
  px_store_op take = kv(PX_STORE_KV_CAS, "lease", S("y"), 0);
  take.expect_absent = true;
  cr_assert_eq(px_store_apply(s, &take, 1), 0);

  px_store_op inc = kv(PX_STORE_KV_INCR, "n", px_nil(), 0);
  inc.i64 = 5;
  int64_t res = 0;
  cr_assert_eq(px_store_apply_result(s, &inc, 1, &res), 0);
  cr_assert_eq(res, 5, "a missing key counts as 0");
  inc.i64 = -7;
  cr_assert_eq(px_store_apply_result(s, &inc, 1, &res), 0);
  cr_assert_eq(res, -2);
  px_store_op notint = kv(PX_STORE_KV_INCR, "lock", px_nil(), 0);
  notint.i64 = 1;
  cr_assert_eq(px_store_apply_result(s, &notint, 1, &res), PX_ETYPE);
  cr_assert_eq(px_store_kv_get(s, "acme/ns/owner", "n", &v, NULL), 0);
  cr_assert(px_val_equal(v, px_int(-2)));
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

/* 8 threads race: each CAS-creates one key and increments a counter 200
 * times; exactly one creation wins and no increment is lost, whatever
 * the group commits mix. */
typedef struct racer {
  px_store *s;
  int won;
} racer;

static void *race(void *arg) {
  racer *r = arg;
  px_store_op c = kv(PX_STORE_KV_CAS, "only", px_int(1), 0);
  c.expect_absent = true;
  r->won = px_store_apply(r->s, &c, 1) == 0;
  for (int i = 0; i < 200; i++) {
    px_store_op inc = kv(PX_STORE_KV_INCR, "count", px_nil(), 0);
    inc.i64 = 1;
    cr_assert_eq(px_store_apply(r->s, &inc, 1), 0);
  }
  return NULL;
}

Test(store_durable, cas_create_race_and_concurrent_incr) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  pthread_t t[8];
  racer r[8];
  for (int i = 0; i < 8; i++) {
    r[i] = (racer){s, 0};
    pthread_create(&t[i], NULL, race, &r[i]);
  }
  int won = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    won += r[i].won;
  }
  cr_assert_eq(won, 1);
  px_val v;
  cr_assert_eq(px_store_kv_get(s, "acme/ns/owner", "count", &v, NULL), 0);
  cr_assert(px_val_equal(v, px_int(1600)));
  px_store_stats st;
  px_store_get_stats(s, &st);
  cr_assert_lt(st.commits, st.callers, "group commit shared fsyncs");
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

typedef struct rems {
  size_t n;
  char owner[4][32], name[4][16];
  int64_t due[4], period[4];
  px_val payload[4];
} rems;

static int collect_rem(void *ud, const char *owner, const char *name,
                       px_val payload, int64_t due, int64_t period) {
  rems *r = ud;
  cr_assert_lt(r->n, 4);
  snprintf(r->owner[r->n], 32, "%s", owner);
  snprintf(r->name[r->n], 16, "%s", name);
  r->due[r->n] = due;
  r->period[r->n] = period;
  r->payload[r->n++] = payload;
  return 0;
}

Test(store_durable, reminders_put_replace_delete) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op ops[] = {
      {.kind = PX_STORE_REMINDER_PUT, .space = "t/n/cart/7", .key = "tick",
       .value = S("p1"), .expiry_ms = 1000, .i64 = 60000},
      {.kind = PX_STORE_REMINDER_PUT, .space = "t/n/cart/7", .key = "once",
       .value = px_nil(), .expiry_ms = 2000},
      {.kind = PX_STORE_REMINDER_PUT, .space = "t/n/cart/7", .key = "tick",
       .value = S("p2"), .expiry_ms = 3000, .i64 = 1000},
  };
  cr_assert_eq(px_store_apply(s, ops, 3), 0);
  rems r = {0};
  cr_assert_eq(px_store_reminders(s, collect_rem, &r), 0);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.name[0], "once");
  cr_assert_eq(r.period[0], 0);
  cr_assert_str_eq(r.name[1], "tick");
  cr_assert_eq(r.due[1], 3000, "a second put by name replaces");
  cr_assert_eq(r.period[1], 1000);
  cr_assert(px_val_equal(r.payload[1], S("p2")));
  for (size_t i = 0; i < r.n; i++) px_val_release(r.payload[i]);
  px_store_op del = {.kind = PX_STORE_REMINDER_DEL, .space = "t/n/cart/7",
                     .key = "once"};
  cr_assert_eq(px_store_apply(s, &del, 1), 0);
  r.n = 0;
  cr_assert_eq(px_store_reminders(s, collect_rem, &r), 0);
  cr_assert_eq(r.n, 1);
  px_val_release(r.payload[0]);
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

/* A caller whose append hits a taken seq fails alone: the others in the
 * same commit land. Threads start together so their applies share
 * commits (the writer takes whatever is queued). */
typedef struct appender {
  px_store *s;
  int idx;
  int rc;
} appender;

static void *append_one(void *arg) {
  appender *a = arg;
  char stream[32];
  /* even threads write distinct streams, odd ones all take seq 1 of
   * "shared": exactly one of them wins */
  if (a->idx % 2 == 0)
    snprintf(stream, sizeof stream, "own/%d", a->idx);
  else
    snprintf(stream, sizeof stream, "shared");
  px_store_op op = jappend(stream, 1, "msg", px_int(a->idx));
  a->rc = px_store_apply(a->s, &op, 1);
  return NULL;
}

Test(store_durable, conflicting_append_fails_alone) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  pthread_t t[16];
  appender a[16];
  for (int i = 0; i < 16; i++) {
    a[i] = (appender){s, i, -1};
    pthread_create(&t[i], NULL, append_one, &a[i]);
  }
  int shared_ok = 0;
  for (int i = 0; i < 16; i++) {
    pthread_join(t[i], NULL);
    if (i % 2 == 0)
      cr_assert_eq(a[i].rc, 0);
    else {
      cr_assert(a[i].rc == 0 || a[i].rc == PX_ECONFLICT);
      shared_ok += a[i].rc == 0;
    }
  }
  cr_assert_eq(shared_ok, 1);
  uint64_t last;
  for (int i = 0; i < 16; i += 2) {
    char stream[32];
    snprintf(stream, sizeof stream, "own/%d", i);
    cr_assert_eq(px_store_journal_last(s, stream, &last), 0);
    cr_assert_eq(last, 1);
  }
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

Test(store_durable, rejects_malformed_ops) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op nokey = {.kind = PX_STORE_KV_PUT, .space = "a/b/c"};
  cr_assert_eq(px_store_apply(s, &nokey, 1), PX_EINVAL);
  px_store_op nokind = {.kind = PX_STORE_JOURNAL_APPEND, .space = "a", .id = 1};
  cr_assert_eq(px_store_apply(s, &nokind, 1), PX_EINVAL);
  px_store_op bad = {.kind = (px_store_op_kind)99, .space = "a", .key = "k"};
  cr_assert_eq(px_store_apply(s, &bad, 1), PX_EINVAL);
  px_store_close(s);
  tmpdir_free(d);
  release_kept();
}

/* From a handler the apply parks the actor, and the increment's result
 * comes back through the writer's promise. */
static px_store *g_store;

static void incr_handle(void *st, const px_message *m) {
  (void)st;
  px_store_op inc = {.kind = PX_STORE_KV_INCR, .space = "h/n/o", .key = "c",
                     .i64 = m->payload.u.i};
  int64_t res = -1;
  int rc = px_store_apply_result(g_store, &inc, 1, &res);
  px_reply(m, rc ? px_int(rc) : px_int(res));
}

Test(store_durable, incr_result_from_a_parked_handler) {
  char *d = tmpdir_new();
  g_store = store_open(d, NULL);
  cr_assert_eq(px_runtime_start(NULL), 0);
  static const px_actor_type t = {.name = "incr", .handle = incr_handle};
  px_ref a;
  cr_assert_eq(px_spawn(&t, px_nil(), NULL, &a), 0);
  px_val r;
  cr_assert_eq(px_ask(a, px_atom_of("inc"), px_int(40), 5000, &r), 0);
  cr_assert(px_val_equal(r, px_int(40)));
  cr_assert_eq(px_ask(a, px_atom_of("inc"), px_int(2), 5000, &r), 0);
  cr_assert(px_val_equal(r, px_int(42)));
  px_runtime_stop();
  px_store_close(g_store);
  tmpdir_free(d);
}

/* A reader (for tools: `plexspaces journal show`) opens a store a running
 * node holds, sees what is committed, and cannot write. */
Test(store_durable, reader_open_beside_the_writer) {
  char *d = tmpdir_new();
  px_store *r;
  char err[512];
  cr_assert_eq(px_store_open_sqlite_reader(d, &r, err, sizeof err),
               PX_ENOTFOUND);
  px_store *s = store_open(d, NULL);
  px_store_op op = jappend("acme/ns/t/k", 1, "msg", px_int(7));
  cr_assert_eq(px_store_apply(s, &op, 1), 0);
  cr_assert_eq(px_store_open_sqlite_reader(d, &r, err, sizeof err), 0, "%s",
               err);
  entries e = {0};
  cr_assert_eq(px_store_journal_read(r, "acme/ns/t/k", 0, collect_entry, &e),
               0);
  cr_assert_eq(e.n, 1);
  entries_free(&e);
  op.id = 2;
  cr_assert_eq(px_store_apply(r, &op, 1), PX_ENOTSUP);
  cr_assert_eq(px_store_apply(s, &op, 1), 0, "the writer goes on");
  cr_assert_eq(px_store_journal_read(r, "acme/ns/t/k", 0, collect_entry, &e),
               0);
  cr_assert_eq(e.n, 2, "the reader sees later commits");
  entries_free(&e);
  px_store_close(r);
  px_store_close(s);
  tmpdir_free(d);
}

static int64_t count_rows(const char *dir, const char *sql) {
  char path[4096];
  snprintf(path, sizeof path, "%s/plexspaces.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* Streams interleave in one append-only log; truncation and deletion
 * only mark entries dead, and the idle writer deletes them. A deleted
 * stream starts afresh; reads never see another stream's entries. */
Test(store_durable, interleaved_streams_truncate_delete_compact) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  const char *sn[3] = {"t/n/a", "t/n/b", "t/n/c"};
  for (uint64_t i = 1; i <= 10; i++)
    for (int k = 0; k < 3; k++) {
      px_store_op op = jappend(sn[k], i, "msg", px_int(k * 100 + (int)i));
      cr_assert_eq(px_store_apply(s, &op, 1), 0);
    }
  px_store_op ops[] = {
      {.kind = PX_STORE_JOURNAL_TRUNCATE, .space = "t/n/a", .id = 8},
      {.kind = PX_STORE_STREAM_DELETE, .space = "t/n/b"}};
  cr_assert_eq(px_store_apply(s, ops, 2), 0);
  entries e = {0};
  cr_assert_eq(px_store_journal_read(s, "t/n/a", 0, collect_entry, &e), 0);
  cr_assert_eq(e.n, 2);
  cr_assert_eq(e.seq[0], 9);
  cr_assert(px_val_equal(e.val[1], px_int(10)));
  entries_free(&e);
  cr_assert_eq(px_store_journal_read(s, "t/n/b", 0, collect_entry, &e), 0);
  cr_assert_eq(e.n, 0);
  uint64_t last;
  cr_assert_eq(px_store_journal_last(s, "t/n/b", &last), 0);
  cr_assert_eq(last, 0);
  /* b starts afresh at seq 1; a and c go on */
  px_store_op more[] = {jappend("t/n/b", 1, "start", px_int(-1)),
                        jappend("t/n/a", 11, "msg", px_int(11)),
                        jappend("t/n/c", 11, "msg", px_int(211))};
  cr_assert_eq(px_store_apply(s, more, 3), 0);
  px_store_op behind = jappend("t/n/a", 11, "msg", px_int(0));
  cr_assert_eq(px_store_apply(s, &behind, 1), PX_ECONFLICT);
  cr_assert_eq(px_store_journal_read(s, "t/n/b", 0, collect_entry, &e), 0);
  cr_assert_eq(e.n, 1);
  cr_assert_str_eq(e.kind[0], "start");
  entries_free(&e);
  cr_assert_eq(px_store_journal_read(s, "t/n/c", 5, collect_entry, &e), 0);
  cr_assert_eq(e.n, 6);
  for (size_t i = 0; i < e.n; i++) cr_assert_eq(e.seq[i], 6 + i);
  entries_free(&e);
  names nm = {0};
  cr_assert_eq(px_store_streams(s, "t/n/", collect_name, &nm), 0);
  cr_assert_eq(nm.n, 3);
  /* the idle writer deletes the 8 dead entries of a and 10 of old b */
  uint64_t t0 = px_now_ms();
  int64_t rows;
  while ((rows = count_rows(d, "SELECT count(*) FROM journal")) != 33 - 18 &&
         px_now_ms() - t0 < 10000)
    sched_yield();
  cr_assert_eq(rows, 15, "dead entries are deleted in the background");
  cr_assert_eq(px_store_journal_read(s, "t/n/a", 0, collect_entry, &e), 0);
  cr_assert_eq(e.n, 3);
  entries_free(&e);
  px_store_close(s);
  tmpdir_free(d);
}

/* Expired KV entries are invisible at once and deleted by the idle
 * writer (at most a second after it last swept). */
Test(store_durable, expired_kv_entries_are_swept) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  int64_t past = px_wall_ms() - 10;
  px_store_op ops[] = {kv(PX_STORE_KV_PUT, "gone1", px_int(1), past),
                       kv(PX_STORE_KV_PUT, "gone2", px_int(2), past),
                       kv(PX_STORE_KV_PUT, "stays", px_int(3), 0)};
  cr_assert_eq(px_store_apply(s, ops, 3), 0);
  uint64_t t0 = px_now_ms();
  int64_t rows;
  while ((rows = count_rows(d, "SELECT count(*) FROM kv")) != 1 &&
         px_now_ms() - t0 < 10000) {
    /* the writer sweeps when idle after work: give it some */
    px_store_op touch = kv(PX_STORE_KV_PUT, "stays", px_int(3), 0);
    cr_assert_eq(px_store_apply(s, &touch, 1), 0);
    sched_yield();
  }
  cr_assert_eq(rows, 1);
  px_store_close(s);
  tmpdir_free(d);
}

/* An apply that fails after an append in the same set leaves nothing,
 * not even in the writer's cache of stream tails: the same seq can be
 * appended next, and the chain reads right. */
Test(store_durable, failed_set_leaves_no_tail_behind) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op first = jappend("t/n/r", 1, "msg", px_int(1));
  cr_assert_eq(px_store_apply(s, &first, 1), 0);
  px_store_op bad[] = {jappend("t/n/r", 2, "msg", px_int(2)),
                       jappend("t/n/r", 2, "msg", px_int(99))};
  cr_assert_eq(px_store_apply(s, bad, 2), PX_ECONFLICT);
  uint64_t last;
  cr_assert_eq(px_store_journal_last(s, "t/n/r", &last), 0);
  cr_assert_eq(last, 1, "nothing of the failed set stays");
  px_store_op again[] = {jappend("t/n/r", 2, "msg", px_int(2)),
                         jappend("t/n/r", 3, "msg", px_int(3))};
  cr_assert_eq(px_store_apply(s, again, 2), 0);
  entries e = {0};
  cr_assert_eq(px_store_journal_read(s, "t/n/r", 0, collect_entry, &e), 0);
  cr_assert_eq(e.n, 3);
  for (size_t i = 0; i < 3; i++)
    cr_assert(px_val_equal(e.val[i], px_int((int64_t)i + 1)));
  entries_free(&e);
  px_store_close(s);
  tmpdir_free(d);
}
