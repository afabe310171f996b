/* Durable operations whose caller is killed while parked in the store: the
 * operation still completes in memory as if the caller had returned (a
 * write appears, a take removes, a commit applies, a renew takes effect),
 * and the store agrees after a reopen. Also: a memory-space tuple handed to
 * a taker that died before collecting it comes back with its seq and
 * lease.
 *
 * Determinism without sleeps:
 *  - the store's writer is held by a second SQLite connection holding the
 *    write lock (BEGIN IMMEDIATE): the writer's own BEGIN IMMEDIATE waits
 *    (up to its 10 s busy timeout) until the test rolls back, so the
 *    caller is still parked in the store when it is killed;
 *  - a durable space's reaper is held, when a test needs it held, by the
 *    store too: it parks there deleting a tuple expired for that purpose,
 *    queued behind the killed caller's ops, so the writer answers the
 *    caller before the reaper can see its __DOWN__;
 *  - a memory space's reaper is held by a watcher with a one-message
 *    blocking mailbox that does not read it: the reaper parks sending it
 *    ts_expired notifications (of tuples expired for that purpose) until
 *    the watcher resumes; messages sent to the reaper meanwhile (a monitor
 *    request, a __DOWN__) wait behind. That suite runs one worker: a
 *    sender resumed from a full mailbox on another worker than it parked
 *    on races in the runtime's send_msg (w->sends, seen by TSan).
 * A dead caller's operation is completed either by the reaper (it saw the
 * __DOWN__ after the store answered) or by the store's writer (the
 * reaper marked it orphaned first); each test runs both orders. */
#include <sqlite3.h>

#include "../../unit/store/store_test_util.h"
#include "ts_agent.h"

static char *g_dir;
static px_store *g_st;

static void dd_setup(void) {
  ts_setup();
  g_dir = tmpdir_new();
  g_st = store_open(g_dir, NULL);
  px_space_set_store(g_st);
}

static void dd_teardown(void) {
  ts_teardown();
  px_space_set_store(NULL);
  px_store_close(g_st);
  tmpdir_free(g_dir);
}

TestSuite(durable_death, .init = dd_setup, .fini = dd_teardown,
          .timeout = 60);

#define KEY "default/default/d"

static px_space *open_d(void) {
  px_space *s = NULL;
  cr_assert_eq(px_space_open(NULL, NULL, "d", PX_SPACE_DURABLE, &s), 0);
  return s;
}

static px_val tup(const char *k, int64_t i) {
  return px_arr(2, px_str(k), px_int(i));
}

static px_val tmpl_k(const char *k) { return px_arr(2, px_str(k), px_nil()); }

static size_t count_k(px_space *s, const char *k) {
  size_t n;
  cr_assert_eq(px_ts_count(s, tmpl_k(k), &n), 0);
  return n;
}

/* Stored rows, leaving out the tuples expired to hold the reaper (their
 * deletes are issued in the background). */
static size_t stored_rows(void) {
  collected c = scan_all(g_st, KEY);
  size_t n = 0;
  for (size_t i = 0; i < c.n; i++)
    if (strcmp(px_str_ptr(px_at(c.vals[i], 0)), "zz") != 0) n++;
  collected_free(&c);
  return n;
}

static int64_t stored_expiry(uint64_t id) {
  collected c = scan_all(g_st, KEY);
  int64_t e = -1;
  for (size_t i = 0; i < c.n; i++)
    if (c.ids[i] == id) e = c.exp[i];
  collected_free(&c);
  return e;
}

/* Polls a state (no sleep: the state is what is waited for). */
#define WAIT_UNTIL(cond)                                                     \
  for (long i_ = 0; !(cond); i_++) {                                         \
    cr_assert(i_ < 200000000L, "never: %s", #cond);                          \
    sched_yield();                                                           \
  }

/* ---- the agent: one durable operation per message -------------------------- */

/* payload: [op, space, a1, a2, reply_to]; replies "res" [rc, value] (it
 * never does when killed in the store). */
static void dagent_handle(void *state, const px_message *m) {
  (void)state;
  px_val p = m->payload;
  const char *op = px_atom_name(px_at(p, 0).u.a);
  px_space *s = (px_space *)(intptr_t)px_at(p, 1).u.i;
  px_val a1 = px_val_retain(px_at(p, 2));
  px_val a2 = px_val_retain(px_at(p, 3));
  px_ref to;
  px_val_ref(px_at(p, 4), &to);
  px_val out = px_nil();
  int rc = PX_EINVAL;
  if (!strcmp(op, "write")) {
    uint64_t lease = 0;
    rc = px_ts_write(s, a1, a2.u.i, &lease);
    out = px_int((int64_t)lease);
    a1 = px_nil();
  } else if (!strcmp(op, "wia")) {
    rc = px_ts_write_if_absent(s, a1, a2, 0);
    a1 = a2 = px_nil();
  } else if (!strcmp(op, "take")) {
    rc = px_ts_take(s, a1, a2.u.i, &out);
    a1 = px_nil();
  } else if (!strcmp(op, "take_all")) {
    rc = px_ts_take_all(s, a1, 0, &out);
    a1 = px_nil();
  } else if (!strcmp(op, "cancel")) {
    rc = px_ts_cancel(s, (uint64_t)a1.u.i);
  } else if (!strcmp(op, "renew")) {
    rc = px_ts_renew(s, (uint64_t)a1.u.i, a2.u.i);
  } else if (!strcmp(op, "commit")) {
    /* a txn that writes a1 and takes a match of a2, then commits */
    px_ts_txn *t;
    px_ts_begin(s, &t);
    px_ts_write_tx(t, a1, 0);
    rc = px_ts_take_tx(t, a2, 0, &out);
    px_val_release(out);
    out = px_nil();
    a1 = a2 = px_nil();
    if (rc == 0) rc = px_ts_commit(t);
  }
  px_val_release(a1);
  px_val_release(a2);
  px_send(to, px_atom_of("res"), px_arr(2, px_int(rc), out));
}

static const px_actor_type dagent_t = {"dd_agent", 0, NULL, dagent_handle,
                                       NULL};

static px_ref dagent_op(const char *op, px_space *s, px_val a1, px_val a2) {
  px_ref a;
  cr_assert_eq(px_spawn(&dagent_t, px_nil(), NULL, &a), 0);
  px_send(a, px_atom_of("op"),
          px_arr(5, px_atom_val(op), px_int((int64_t)(intptr_t)s), a1, a2,
                 px_ref_val(px_self())));
  return a;
}

static bool is_down(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_a()->down_msg;
}

/* Kills `a` and waits for its __DOWN__ here. */
static void kill_wait(px_ref a) {
  px_monitor(a);
  px_exit(a, px_atom_val("kill"));
  px_message *m;
  cr_assert_eq(px_receive(is_down, NULL, 10000, &m), 0);
  px_message_free(m);
}

/* ---- holding the store's writer ---------------------------------------------- */

static sqlite3 *writer_hold(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/plexspaces.db", g_dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
               SQLITE_OK);
  return db;
}

static void writer_release(sqlite3 *db) {
  cr_assert_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

/* ---- holding the reaper ------------------------------------------------------ */

static void holder_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type != px_atom_of("hold")) return; /* ts_expired: read and dropped */
  px_ref to;
  px_val_ref(m->payload, &to);
  px_promise p = px_promise_new();
  px_send(to, px_atom_of("held"),
          px_arr(2, px_ref_val(p.to), px_int((int64_t)p.corr)));
  px_val v;
  px_promise_await(p, -1, &v); /* its mailbox fills meanwhile */
  px_val_release(v);
}

static const px_actor_type holder_t = {"dd_holder", 0, NULL, holder_handle,
                                       NULL};

static bool is_held(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("held");
}

/* Makes the reaper of s park until reaper_resume: it will be sending the
 * ts_expired notifications of three tuples expired now to a watcher whose
 * one-message mailbox stays full. Whatever is sent to the reaper after
 * this returns waits behind those expiries (the clock delivers their
 * timers before it returns). */
static px_promise reaper_hold(px_space *s) {
  px_ref h;
  px_spawn_opts o = {.mailbox_cap = 1, .mailbox_policy = PX_MBOX_BLOCK};
  cr_assert_eq(px_spawn(&holder_t, px_nil(), &o, &h), 0);
  px_send(h, px_atom_of("hold"), px_ref_val(px_self()));
  px_message *m;
  cr_assert_eq(px_receive(is_held, NULL, 10000, &m), 0);
  px_promise p;
  px_val_ref(px_at(m->payload, 0), &p.to);
  p.corr = (uint64_t)px_at(m->payload, 1).u.i;
  px_message_free(m);
  cr_assert_eq(px_ts_watch(s, tmpl_k("zz"), PX_TS_EXPIRED, h, NULL), 0);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(px_ts_write(s, tup("zz", i), 10, NULL), 0);
  px_clock_advance(10);
  return p;
}

static void reaper_resume(px_promise p) { px_reply_to(p, px_nil()); }

/* ---- the kill ------------------------------------------------------------------ */

/* The agent `a` is (about to be) parked in the store of s with the writer
 * held by db: kills it, lets the store answer, and waits until its
 * operation is completed in memory. reaper_first: the reaper sees the
 * __DOWN__ before the store answers (the writer's callback completes);
 * else the store answers first (the reaper completes): the reaper is then
 * parked in the store behind the agent, deleting the tuple that
 * case_start wrote with a 10 ms lease. */
static void kill_in_store(px_space *s, px_ref a, sqlite3 *db,
                          bool reaper_first) {
  WAIT_UNTIL(px__ts_inflight(s) == 1);
  wait_parked(a);
  if (!reaper_first) {
    px_clock_advance(10); /* expired: the reaper deletes it */
    wait_parked(s->reaper);
  }
  kill_wait(a);
  if (reaper_first) {
    WAIT_UNTIL(px__ts_owned(s) == 0); /* orphaned by the reaper */
    cr_assert_eq(px__ts_inflight(s), 1, "nobody completes it before the store");
  }
  writer_release(db);
  WAIT_UNTIL(px__ts_inflight(s) == 0);
  cr_assert(no_result_now(), "the killed agent never answered");
}

/* Opens the space for a case (see kill_in_store). */
static px_space *case_start(bool reaper_first) {
  px_space *s = open_d();
  if (!reaper_first)
    cr_assert_eq(px_ts_write(s, tup("zz", 0), 10, NULL), 0);
  return s;
}

/* ---- the cases ------------------------------------------------------------------- */

static void write_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("write", s, tup("w", 1), px_int(0));
  kill_in_store(s, a, db, reaper_first);
  cr_assert_eq(count_k(s, "w"), 1, "the write appeared");
  cr_assert_eq(px__ts_stored(s), 1);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count_k(s, "w"), 1, "and it is in the store");
  px_space_close(s);
}

Test(durable_death, write_reaper_first) { write_case(true); }
Test(durable_death, write_store_first) { write_case(false); }

static void wia_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("wia", s, tmpl_k("k"), tup("k", 1));
  kill_in_store(s, a, db, reaper_first);
  cr_assert_eq(count_k(s, "k"), 1, "the tuple became visible");
  cr_assert_eq(px__ts_stored(s), 1);
  cr_assert_eq(px_ts_write_if_absent(s, tmpl_k("k"), tup("k", 2), 0),
               PX_EEXIST);
  px_val v;
  cr_assert_eq(px_ts_take(s, tmpl_k("k"), 0, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 1);
  px_val_release(v);
  cr_assert_eq(px_ts_write_if_absent(s, tmpl_k("k"), tup("k", 3), 0), 0,
               "nothing pending blocks a later write_if_absent");
  px_space_close(s);
  s = open_d();
  cr_assert_eq(px_ts_read(s, tmpl_k("k"), 0, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 3);
  px_val_release(v);
  cr_assert_eq(stored_rows(), 1);
  px_space_close(s);
}

Test(durable_death, write_if_absent_reaper_first) { wia_case(true); }
Test(durable_death, write_if_absent_store_first) { wia_case(false); }

/* The tuple is found at once: reserved while its delete is in flight. */
static void take_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  cr_assert_eq(px_ts_write(s, tup("t", 1), 0, NULL), 0);
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("take", s, tmpl_k("t"), px_int(0));
  kill_in_store(s, a, db, reaper_first);
  cr_assert_eq(count_k(s, "t"), 0, "the take removed it");
  cr_assert_eq(px__ts_stored(s), 0);
  cr_assert_eq(stored_rows(), 0);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count_k(s, "t"), 0);
  px_space_close(s);
}

Test(durable_death, take_reaper_first) { take_case(true); }
Test(durable_death, take_store_first) { take_case(false); }

/* The taker was blocked, and is handed the tuple (here by an abort that
 * gives it back): it persists the delete of a node already out of the
 * space. */
static void take_handed_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  cr_assert_eq(px_ts_write(s, tup("h", 1), 0, NULL), 0);
  px_ts_txn *tx;
  cr_assert_eq(px_ts_begin(s, &tx), 0);
  px_val v;
  cr_assert_eq(px_ts_take_tx(tx, tmpl_k("h"), 0, &v), 0);
  px_val_release(v);
  px_ref a = dagent_op("take", s, tmpl_k("h"), px_int(-1));
  wait_waiters(s, 1);
  sqlite3 *db = writer_hold();
  cr_assert_eq(px_ts_abort(tx), 0); /* offered to the blocked agent */
  kill_in_store(s, a, db, reaper_first);
  cr_assert_eq(count_k(s, "h"), 0, "the take removed it");
  cr_assert_eq(px__ts_stored(s), 0);
  cr_assert_eq(stored_rows(), 0);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count_k(s, "h"), 0);
  px_space_close(s);
}

Test(durable_death, take_handed_reaper_first) { take_handed_case(true); }
Test(durable_death, take_handed_store_first) { take_handed_case(false); }

static void take_all_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(px_ts_write(s, tup("a", i), 0, NULL), 0);
  cr_assert_eq(px_ts_write(s, tup("b", 9), 0, NULL), 0);
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("take_all", s, tmpl_k("a"), px_nil());
  kill_in_store(s, a, db, reaper_first);
  cr_assert_eq(count_k(s, "a"), 0, "take_all removed them all");
  cr_assert_eq(count_k(s, "b"), 1);
  cr_assert_eq(px__ts_stored(s), 1);
  cr_assert_eq(stored_rows(), 1);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count_k(s, "a"), 0);
  cr_assert_eq(count_k(s, "b"), 1);
  px_space_close(s);
}

Test(durable_death, take_all_reaper_first) { take_all_case(true); }
Test(durable_death, take_all_store_first) { take_all_case(false); }

static void cancel_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  uint64_t lease;
  cr_assert_eq(px_ts_write(s, tup("c", 1), 3600000, &lease), 0);
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("cancel", s, px_int((int64_t)lease), px_nil());
  kill_in_store(s, a, db, reaper_first);
  cr_assert_eq(count_k(s, "c"), 0, "the cancel removed it");
  cr_assert_eq(px__ts_stored(s), 0);
  cr_assert_eq(stored_rows(), 0);
  cr_assert_eq(px_ts_cancel(s, lease), PX_ENOTFOUND);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count_k(s, "c"), 0);
  px_space_close(s);
}

Test(durable_death, cancel_reaper_first) { cancel_case(true); }
Test(durable_death, cancel_store_first) { cancel_case(false); }

/* The lease of 1 s is renewed to 5 s by the killed agent: the tuple
 * outlives the old lease and expires at the new one, in memory and after a
 * reopen. */
static void renew_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  uint64_t lease;
  cr_assert_eq(px_ts_write(s, tup("r", 1), 1000, &lease), 0);
  uint64_t wall0 = px__ts_wall_ms();
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("renew", s, px_int((int64_t)lease), px_int(5000));
  kill_in_store(s, a, db, reaper_first);
  int64_t e = stored_expiry(lease);
  cr_assert_geq(e, (int64_t)wall0 + 5000, "the store has the new expiry");
  cr_assert_leq(e, (int64_t)px__ts_wall_ms() + 5000);
  px_clock_advance(2000);
  cr_assert_eq(count_k(s, "r"), 1, "the old lease no longer applies");
  px_clock_advance(3100);
  cr_assert_eq(count_k(s, "r"), 0, "expired at the new lease");
  cr_assert_eq(px__ts_stored(s), 0);
  /* and its row is deleted in the background, as any expired tuple's */
  WAIT_UNTIL(stored_rows() == 0);
  px_space_close(s);
}

Test(durable_death, renew_reaper_first) { renew_case(true); }
Test(durable_death, renew_store_first) { renew_case(false); }

/* The txn writes x2 and takes x1; its commit's owner is killed. */
static void commit_case(bool reaper_first) {
  px_space *s = case_start(reaper_first);
  cr_assert_eq(px_ts_write(s, tup("x", 1), 0, NULL), 0);
  sqlite3 *db = writer_hold();
  px_ref a = dagent_op("commit", s, tup("x", 2),
                       px_arr(2, px_str("x"), px_int(1)));
  kill_in_store(s, a, db, reaper_first);
  px_val v;
  cr_assert_eq(px_ts_read_all(s, tmpl_k("x"), 0, &v), 0);
  cr_assert_eq(px_len(v), 1, "the commit applied");
  cr_assert_eq(px_at(px_at(v, 0), 1).u.i, 2);
  px_val_release(v);
  cr_assert_eq(px__ts_stored(s), 1);
  cr_assert_eq(stored_rows(), 1);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(px_ts_take(s, tmpl_k("x"), 0, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 2);
  px_val_release(v);
  cr_assert_eq(count_k(s, "x"), 0);
  px_space_close(s);
}

Test(durable_death, commit_reaper_first) { commit_case(true); }
Test(durable_death, commit_store_first) { commit_case(false); }

/* ---- memory space: a tuple handed to a taker that died ------------------------- */

static void mem_setup(void) {
  px_runtime_opts o = {.workers = 1, .virtual_clock = true}; /* see top */
  cr_assert_eq(px_runtime_start(&o), 0);
}

TestSuite(memory_death, .init = mem_setup, .fini = ts_teardown,
          .timeout = 60);

static bool is_expired(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("ts_expired");
}

/* A taker of ["m", 2] is killed while blocked; before the (held) reaper
 * learns of it, ["m", 2] is written between ["m", 1] and ["m", 3] with a
 * lease of `ttl`, and handed to the dead taker. The reaper then restores
 * it; `late` ms pass before that. */
static px_space *handed_to_dead(const char *name, int64_t ttl, uint64_t late,
                                uint64_t *lease) {
  px_space *s = NULL;
  cr_assert_eq(px_space_open(NULL, NULL, name, PX_SPACE_MEMORY, &s), 0);
  cr_assert_eq(px_ts_watch(s, tmpl_k("m"), PX_TS_EXPIRED, px_self(), NULL),
               0);
  px_promise hold = reaper_hold(s);
  cr_assert_eq(px_ts_write(s, tup("m", 1), 0, NULL), 0);
  px_ref a = dagent_op("take", s, tup("m", 2), px_int(-1));
  wait_waiters(s, 1);
  kill_wait(a);
  cr_assert_eq(px_ts_write(s, tup("m", 2), ttl, lease), 0);
  cr_assert_eq(px__ts_waiters(s), 0, "handed to the dead taker");
  cr_assert_eq(count_k(s, "m"), 1);
  cr_assert_eq(px_ts_write(s, tup("m", 3), 0, NULL), 0);
  px_clock_advance(late);
  reaper_resume(hold);
  return s;
}

Test(memory_death, restore_keeps_seq_and_lease) {
  uint64_t lease;
  px_space *s = handed_to_dead("m1", 1000, 100, &lease);
  WAIT_UNTIL(count_k(s, "m") == 3); /* restored by the reaper */
  px_val v;
  cr_assert_eq(px_ts_read_all(s, tmpl_k("m"), 0, &v), 0);
  cr_assert_eq(px_len(v), 3);
  for (size_t i = 0; i < 3; i++)
    cr_assert_eq(px_at(px_at(v, i), 1).u.i, (int64_t)i + 1,
                 "back in its place by seq");
  px_val_release(v);
  /* its lease id and expiry are the original ones: 900 ms are left */
  px_clock_advance(899);
  cr_assert_eq(count_k(s, "m"), 3);
  px_clock_advance(1);
  cr_assert_eq(count_k(s, "m"), 2);
  px_message *m;
  cr_assert_eq(px_receive(is_expired, NULL, 10000, &m), 0);
  cr_assert_eq(px_at(px_gets(m->payload, "tuple"), 1).u.i, 2);
  px_message_free(m);
  cr_assert_eq(px_ts_cancel(s, lease), PX_ENOTFOUND);
  px_space_close(s);
}

Test(memory_death, restore_keeps_lease_id) {
  uint64_t lease;
  px_space *s = handed_to_dead("m2", 1000, 0, &lease);
  WAIT_UNTIL(count_k(s, "m") == 3); /* restored by the reaper */
  cr_assert_eq(px_ts_cancel(s, lease), 0, "the lease id still names it");
  cr_assert_eq(count_k(s, "m"), 2);
  px_space_close(s);
}

Test(memory_death, restore_after_expiry_expires) {
  uint64_t lease;
  px_space *s = handed_to_dead("m3", 50, 60, &lease);
  px_message *m;
  cr_assert_eq(px_receive(is_expired, NULL, 10000, &m), 0);
  cr_assert_eq(px_at(px_gets(m->payload, "tuple"), 1).u.i, 2);
  px_message_free(m);
  cr_assert_eq(count_k(s, "m"), 2);
  cr_assert_eq(px__ts_stored(s), 2);
  px_space_close(s);
}
