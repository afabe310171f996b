/* The group-commit writer: one thread per store takes every request
 * queued, applies them in one BEGIN IMMEDIATE ... COMMIT (one fsync), then
 * resumes their callers. Batching is natural: while a commit runs, the
 * queue fills, and the next commit takes it all. opts.max_batch_delay_us
 * adds a bounded wait to gather more.
 *
 * Without it, gathering is self-clocked: callers answered by one commit
 * usually come straight back with their next request, but only after the
 * writer has started the next commit, so a fixed set of busy callers would
 * split into two halves that alternate between commits. The writer
 * therefore waits for as many callers as its last commit had, for at most
 * half that commit's duration: a steady load rides whole commits, and a
 * load that fell away costs at most that half once. It waits inside the
 * open transaction, applying arrivals as they come (woken every
 * GATHER_STEP of them), so that the inserts overlap with the callers'
 * way back instead of following it (ts_durable, 64 writers: +20%).
 *
 * Callers are answered after the commit, outside the queue lock: a plain
 * thread through its condvar, a handler through its promise, an
 * asynchronous apply (store_async.h) by running its callback here.
 *
 * A caller whose ops fail (a duplicate put, a delete of a missing tuple, a
 * lost compare-and-set) must not fail the others: the batch is rolled back and replayed with one
 * savepoint per caller, so only that caller's ops are dropped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/stop_hooks.h"
#include "core/mem.h"
#include "plexspaces/metrics.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "store/store_impl.h"

/* Stop gathering (max_batch_delay_us) once this many ops are queued. */
#define GATHER_MAX_OPS 8192
/* A gathering writer is woken to apply arrivals every this many. */
#define GATHER_STEP 16
/* Longest self-clocked gather, whatever the last commit took. */
#define GATHER_CAP_NS 2000000ull
/* Small applies encode into arrays on the caller's stack. */
#define INLINE_OPS 4

static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void set_all(px__store_req *b, int rc) {
  for (; b; b = b->next) b->rc = rc;
}

/* Applies requests from r on, in the open transaction; false when one
 * failed (its rc says why; the batch must be replayed). */
static bool apply_list(px_store *s, px__store_req *r) {
  for (; r; r = r->next)
    if ((r->rc = px__store_apply_ops(s, r)) != 0) return false;
  return true;
}

/* Ends a batch whose transaction `began` (BEGIN succeeded) and whose
 * requests were applied while `ok`: commits, or replays it with a
 * savepoint per caller; sets every request's rc. */
static void end_batch(px_store *s, px__store_req *batch, bool began,
                      bool ok) {
  int rc;
  if (!began) goto io;
  if (ok) {
    rc = step_done(s->st[PX__ST_COMMIT]);
    if (rc != SQLITE_OK) goto io_rollback;
    atomic_fetch_add_explicit(&s->commits, 1, memory_order_relaxed);
    return;
  }
  /* Someone failed: replay with a savepoint per caller. */
  step_done(s->st[PX__ST_ROLLBACK]);
  px__store_tails_clear(s);
  rc = step_done(s->st[PX__ST_BEGIN]);
  if (rc != SQLITE_OK) goto io;
  set_all(batch, 0);
  for (px__store_req *r = batch; r; r = r->next) {
    if (step_done(s->st[PX__ST_SAVEPOINT]) != SQLITE_OK) goto io_rollback;
    r->rc = px__store_apply_ops(s, r);
    if (r->rc != 0) px__store_tails_clear(s);
    if (r->rc != 0 && step_done(s->st[PX__ST_ROLLBACK_TO]) != SQLITE_OK)
      goto io_rollback;
    if (step_done(s->st[PX__ST_RELEASE]) != SQLITE_OK) goto io_rollback;
  }
  rc = step_done(s->st[PX__ST_COMMIT]);
  if (rc != SQLITE_OK) goto io_rollback;
  atomic_fetch_add_explicit(&s->commits, 1, memory_order_relaxed);
  return;
io_rollback:
  px_log(PX_LOG_ERROR, "store", "commit failed: %s", sqlite3_errmsg(s->wdb));
  if (sqlite3_get_autocommit(s->wdb) == 0) step_done(s->st[PX__ST_ROLLBACK]);
  px__store_tails_clear(s);
  set_all(batch, PX_EIO);
  return;
io:
  px_log(PX_LOG_ERROR, "store", "begin failed: %s", sqlite3_errmsg(s->wdb));
  set_all(batch, PX_EIO);
}

static void free_enc(char **enc, size_t n);

/* An answer the writer owes once the store lock is released: a promise
 * to resolve, or an asynchronous apply's callback to run. */
typedef struct pending_reply {
  px_promise p;
  px__store_done_fn done_fn;
  void *done_ud;
  int rc;
  int64_t result;
} pending_reply;

static struct timespec deadline_in(uint64_t ns) {
  uint64_t t = px_now_ns() + ns;
  struct timespec dl = {(time_t)(t / 1000000000ull),
                        (long)(t % 1000000000ull)};
  return dl;
}

/* The fixed max_batch_delay_us gathering (s->mu held, queue not empty),
 * before the transaction begins. */
static void gather_fixed(px_store *s) {
  struct timespec dl =
      deadline_in((uint64_t)s->opts.max_batch_delay_us * 1000u);
  while (s->queued_ops < GATHER_MAX_OPS && !s->closing)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
}

/* Takes the whole queue (s->mu held); *tail gets its last request. */
static px__store_req *take_queue(px_store *s, px__store_req **tail,
                                 size_t *n) {
  px__store_req *q = s->head;
  *tail = s->tail;
  *n += s->queued_callers;
  s->head = s->tail = NULL;
  s->queued_ops = 0;
  s->queued_callers = 0;
  return q;
}

/* Self-clocked gathering (see top), inside the open transaction: the
 * requests that arrive are applied as they come, so the inserts overlap
 * with the callers' way back. Waits for `want` callers in all, for at
 * most `wait_ns`. Returns false when an apply failed. */
static bool gather_applying(px_store *s, px__store_req **tail, size_t *have,
                            size_t want, uint64_t wait_ns) {
  struct timespec dl = deadline_in(wait_ns);
  pthread_mutex_lock(&s->mu);
  while (*have < want && !s->closing) {
    if (!s->head) {
      s->gather_target = want - *have;
      int w = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
      s->gather_target = 0;
      if (!s->head && w == ETIMEDOUT) break;
      if (!s->head) continue;
    }
    px__store_req *more_tail;
    px__store_req *more = take_queue(s, &more_tail, have);
    pthread_mutex_unlock(&s->mu);
    (*tail)->next = more;
    *tail = more_tail;
    if (!apply_list(s, more)) return false;
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return true;
}

static void *writer_main(void *arg) {
  px_store *s = arg;
  /* Resolved once per writer; recording is then two lock-free updates. */
  static const double ops_bounds[] = {1,   2,   4,    8,    16,   32,  64,
                                      128, 256, 512, 1024, 2048, 4096};
  px_metric *m_commit = px_metrics_histogram(
      "plexspaces_store_commit_duration_seconds",
      "Group-commit transactions of the store, fsync included.", NULL, NULL,
      0);
  px_metric *m_batch = px_metrics_histogram(
      "plexspaces_store_commit_batch_size", "Operations per store commit.",
      NULL, ops_bounds, sizeof ops_bounds / sizeof ops_bounds[0]);
  pending_reply *replies = NULL;
  size_t rcap = 0;
  size_t last_callers = 0; /* callers of the previous commit */
  uint64_t last_ns = 0;    /* and how long it took, answers included */
  for (;;) {
    pthread_mutex_lock(&s->mu);
    if (s->in_batch) { /* the last batch is answered: tell quiesce_all */
      s->in_batch = false;
      pthread_cond_broadcast(&s->idle);
    }
    /* Idle: delete expired KV entries (at most once a second) and dead
     * journal entries (a window at a time), between batches; then wait
     * for work. */
    if (!s->head && !s->closing &&
        px_now_ns() - s->last_sweep_ns >= 1000000000ull) {
      s->last_sweep_ns = px_now_ns();
      pthread_mutex_unlock(&s->mu);
      px__store_sweep_kv(s);
      pthread_mutex_lock(&s->mu);
    }
    while (!s->head && !s->closing && s->truncs) {
      pthread_mutex_unlock(&s->mu);
      int failed = px__store_compact_step(s);
      pthread_mutex_lock(&s->mu);
      if (failed) break; /* logged; the next idle moment tries again */
    }
    while (!s->head && !s->closing) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->head) { /* closing, and everything is drained */
      pthread_mutex_unlock(&s->mu);
      break;
    }
    bool fixed = s->opts.max_batch_delay_us > 0;
    if (fixed && !s->closing) gather_fixed(s);
    px__store_req *tail;
    size_t have = 0;
    px__store_req *batch = take_queue(s, &tail, &have);
    s->in_batch = true;
    pthread_mutex_unlock(&s->mu);
    uint64_t t0 = px_now_ns();

    bool began = step_done(s->st[PX__ST_BEGIN]) == SQLITE_OK;
    bool ok = began && apply_list(s, batch);
    if (ok && !fixed && last_callers >= 2 && have < last_callers) {
      uint64_t wait =
          last_ns / 2 < GATHER_CAP_NS ? last_ns / 2 : GATHER_CAP_NS;
      ok = gather_applying(s, &tail, &have, last_callers, wait);
    }
    end_batch(s, batch, began, ok);
    px_metric_observe(m_commit, (double)(px_now_ns() - t0) / 1e9);

    uint64_t nops = 0, ncallers = 0;
    size_t nrep = 0;
    for (px__store_req *r = batch; r; r = r->next) {
      ncallers++;
      if (r->rc == 0) nops += r->n;
      if (r->heap) nrep++;
    }
    px_metric_observe(m_batch, (double)nops);
    atomic_fetch_add_explicit(&s->ops, nops, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->callers, ncallers, memory_order_relaxed);
    last_callers = (size_t)ncallers;
    if (nrep > rcap) {
      size_t nc = rcap ? rcap : 64;
      while (nc < nrep) nc *= 2;
      pending_reply *nr = realloc(replies, nc * sizeof *nr);
      if (!nr) px_panic("store: out of memory");
      replies = nr;
      rcap = nc;
    }
    /* Wake the blocked threads under the lock (a request is gone the
     * moment its caller sees done); note the promises and callbacks, then
     * answer them without touching the requests again. */
    nrep = 0;
    pthread_mutex_lock(&s->mu);
    for (px__store_req *r = batch, *next; r; r = next) {
      next = r->next;
      if (r->appends) s->appends_pending--;
      if (r->heap) {
        replies[nrep].p = r->promise;
        replies[nrep].done_fn = r->done_fn;
        replies[nrep].done_ud = r->done_ud;
        replies[nrep].rc = r->rc;
        replies[nrep].result = r->result;
        nrep++;
        free_enc(r->enc, 2 * r->n);
        free(r); /* one block with its ops (enqueue_heap) */
      } else {
        r->done = true;
        pthread_cond_signal(&r->cv);
      }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < nrep; i++) {
      if (replies[i].done_fn)
        replies[i].done_fn(replies[i].done_ud, replies[i].rc);
      else if (replies[i].rc == 0)
        px_reply_to(replies[i].p, px_int(replies[i].result));
      else
        px_reply_error_to(replies[i].p, px_int(replies[i].rc));
    }
    last_ns = px_now_ns() - t0;
  }
  free(replies);
  return NULL;
}

/* Open stores, for quiesce_all. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static px_store **open_stores;
static size_t nopen, capopen;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

/* A px_runtime_stop hook: every actor is dead; wait until each writer has
 * answered what it holds or has queued (answers to dead actors are
 * dropped), so that none answers after the actor table is freed. */
static void quiesce_all(void) {
  pthread_mutex_lock(&open_mu);
  for (size_t i = 0; i < nopen; i++) {
    px_store *s = open_stores[i];
    pthread_mutex_lock(&s->mu);
    while (s->head || s->in_batch) pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
  }
  pthread_mutex_unlock(&open_mu);
}

static void register_hook(void) { px__runtime_at_stop(quiesce_all); }

static void open_add(px_store *s) {
  pthread_once(&hook_once, register_hook);
  pthread_mutex_lock(&open_mu);
  if (nopen == capopen) {
    capopen = capopen ? capopen * 2 : 4;
    open_stores = px__xrealloc(open_stores, capopen * sizeof *open_stores);
  }
  open_stores[nopen++] = s;
  pthread_mutex_unlock(&open_mu);
}

static void open_del(px_store *s) {
  pthread_mutex_lock(&open_mu);
  for (size_t i = 0; i < nopen; i++)
    if (open_stores[i] == s) {
      open_stores[i] = open_stores[--nopen];
      break;
    }
  if (nopen == 0) {
    free(open_stores);
    open_stores = NULL;
    capopen = 0;
  }
  pthread_mutex_unlock(&open_mu);
}

int px__store_writer_start(px_store *s, char *errbuf, size_t errcap) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&s->idle, NULL);
  pthread_mutex_init(&s->mu, NULL);
  if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    if (errbuf && errcap) snprintf(errbuf, errcap, "cannot start the writer");
    return PX_ENOMEM;
  }
  open_add(s);
  return 0;
}

void px__store_writer_stop(px_store *s) {
  open_del(s);
  pthread_mutex_lock(&s->mu);
  s->closing = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->writer, NULL);
  /* Every request is answered; let the woken threads leave s->mu before
   * it goes away. */
  pthread_mutex_lock(&s->mu);
  while (s->waiters) pthread_cond_wait(&s->idle, &s->mu);
  pthread_mutex_unlock(&s->mu);
  pthread_cond_destroy(&s->idle);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
}

/* ---- px_store_apply ------------------------------------------------------- */

static void free_enc(char **enc, size_t n) {
  for (size_t i = 0; i < n; i++) free(enc[i]);
}

/* Encodes the values (and a CAS's expected value) on the caller's
 * thread: the writer only runs SQL. enc and enc_len hold 2n slots. */
static int encode_all(const px_store_op *ops, size_t n, char **enc,
                      size_t *enc_len) {
  for (size_t i = 0; i < 2 * n; i++) {
    enc[i] = NULL;
    enc_len[i] = 0;
  }
  for (size_t i = 0; i < n; i++) {
    int rc = 0;
    if (px__store_op_has_value(ops[i].kind))
      rc = px_msgpack_encode(ops[i].value, &enc[i], &enc_len[i]);
    if (!rc && ops[i].kind == PX_STORE_KV_CAS && !ops[i].expect_absent)
      rc = px_msgpack_encode(ops[i].expected, &enc[n + i], &enc_len[n + i]);
    if (rc) {
      free_enc(enc, 2 * n);
      return rc;
    }
  }
  return 0;
}

/* Whether a set holds a journal append (see appends_pending); found
 * before the queue lock is taken. */
static bool has_append(const px_store_op *ops, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ops[i].kind == PX_STORE_JOURNAL_APPEND) return true;
  return false;
}

/* Queues r; false if the store is closing. Called with s->mu held. */
static bool enqueue_locked(px_store *s, px__store_req *r) {
  if (s->closing) return false;
  bool first = !s->head;
  if (s->tail)
    s->tail->next = r;
  else
    s->head = r;
  s->tail = r;
  s->queued_ops += r->n;
  s->queued_callers++;
  if (r->appends) s->appends_pending++;
  /* Wake the writer only when it has a reason to look: the first request
   * when it idles; while it gathers, every GATHER_STEP callers (to apply
   * them as they come) and the count it waits for; a full fixed-delay
   * batch. */
  size_t t = s->gather_target;
  bool wake = t ? s->queued_callers >= t || s->queued_callers % GATHER_STEP == 0
                : first;
  if (wake || s->queued_ops >= GATHER_MAX_OPS) pthread_cond_signal(&s->cv);
  return true;
}

/* A heap request: the request, a copy of the ops and their strings live in
 * one block that the writer frees (a handler killed while parked abandons
 * its stack, so nothing the writer reads may live there). Queued, or an
 * error and nothing queued. */
static int enqueue_heap(px_store *s, const px_store_op *ops, size_t n,
                        px_promise p, px__store_done_fn done_fn,
                        void *done_ud) {
  size_t strs = 0;
  for (size_t i = 0; i < n; i++) {
    strs += strlen(ops[i].space) + 1;
    if (ops[i].key) strs += strlen(ops[i].key) + 1;
  }
  size_t sz = sizeof(px__store_req) + n * sizeof(px_store_op) +
              2 * n * sizeof(char *) + 2 * n * sizeof(size_t) + strs;
  px__store_req *r = calloc(1, sz);
  if (!r) return PX_ENOMEM;
  px_store_op *cops = (px_store_op *)(r + 1);
  char **enc = (char **)(cops + n);
  size_t *enc_len = (size_t *)(enc + 2 * n);
  char *str = (char *)(enc_len + 2 * n);
  int rc = encode_all(ops, n, enc, enc_len);
  if (rc) {
    free(r);
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    cops[i] = ops[i];
    cops[i].value = px_nil(); /* encoded already */
    cops[i].expected = px_nil();
    size_t l = strlen(ops[i].space) + 1;
    memcpy(str, ops[i].space, l);
    cops[i].space = str;
    str += l;
    if (ops[i].key) {
      l = strlen(ops[i].key) + 1;
      memcpy(str, ops[i].key, l);
      cops[i].key = str;
      str += l;
    }
  }
  r->ops = cops;
  r->n = n;
  r->enc = enc;
  r->enc_len = enc_len;
  r->heap = true;
  r->appends = has_append(ops, n);
  r->promise = p;
  r->done_fn = done_fn;
  r->done_ud = done_ud;
  pthread_mutex_lock(&s->mu);
  bool ok = enqueue_locked(s, r);
  pthread_mutex_unlock(&s->mu);
  if (!ok) {
    free_enc(enc, 2 * n);
    free(r);
    return PX_ESTOPPED;
  }
  return 0;
}

/* From a handler: the handler parks; the writer answers after the
 * commit. */
static int apply_parked(px_store *s, const px_store_op *ops, size_t n,
                        px_promise p, int64_t *result) {
  int rc = enqueue_heap(s, ops, n, p, NULL, NULL);
  if (rc) return rc;
  px_val v;
  int ar = px_promise_await(p, -1, &v);
  rc = (ar == PX_EHANDLER && v.type == PX_T_INT) ? (int)v.u.i : ar;
  if (ar == 0 && v.type == PX_T_INT) *result = v.u.i;
  px_val_release(v);
  return rc;
}

/* From a plain thread (with or without a runtime): block on a condvar;
 * everything stays on this thread's stack. */
static int apply_blocking(px_store *s, const px_store_op *ops, size_t n,
                          int64_t *result) {
  char *enc_inline[2 * INLINE_OPS];
  size_t len_inline[2 * INLINE_OPS];
  char **enc = enc_inline;
  size_t *enc_len = len_inline;
  if (n > INLINE_OPS) {
    enc = malloc(2 * n * sizeof *enc);
    enc_len = malloc(2 * n * sizeof *enc_len);
    if (!enc || !enc_len) {
      free(enc);
      free(enc_len);
      return PX_ENOMEM;
    }
  }
  int rc = encode_all(ops, n, enc, enc_len);
  if (rc == 0) {
    px__store_req r;
    memset(&r, 0, sizeof r);
    r.ops = ops;
    r.n = n;
    r.enc = enc;
    r.enc_len = enc_len;
    r.appends = has_append(ops, n);
    pthread_cond_init(&r.cv, NULL);
    pthread_mutex_lock(&s->mu);
    if (!enqueue_locked(s, &r)) {
      rc = PX_ESTOPPED;
    } else {
      s->waiters++;
      while (!r.done) pthread_cond_wait(&r.cv, &s->mu);
      rc = r.rc;
      *result = r.result;
      if (--s->waiters == 0 && s->closing) pthread_cond_signal(&s->idle);
    }
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&r.cv);
    free_enc(enc, 2 * n);
  }
  if (enc != enc_inline) {
    free(enc);
    free(enc_len);
  }
  return rc;
}

static bool ops_valid(const px_store_op *ops, size_t n) {
  for (size_t i = 0; i < n; i++) {
    px_store_op_kind k = ops[i].kind;
    if (!ops[i].space || k < PX_STORE_TUPLE_PUT || k > PX_STORE_REMINDER_DEL)
      return false;
    bool keyed = k == PX_STORE_JOURNAL_APPEND || k >= PX_STORE_KV_PUT;
    if (keyed && !ops[i].key) return false;
  }
  return true;
}

bool px__store_appends_pending(px_store *s) {
  pthread_mutex_lock(&s->mu);
  bool any = s->appends_pending > 0;
  pthread_mutex_unlock(&s->mu);
  return any;
}

int px__store_apply_cb(px_store *s, const px_store_op *ops, size_t n,
                       px__store_done_fn done, void *ud) {
  if (!s || !n || !ops || !done || !ops_valid(ops, n)) return PX_EINVAL;
  if (s->read_only) return PX_ENOTSUP;
  return enqueue_heap(s, ops, n, (px_promise){px_ref_nil(), 0}, done, ud);
}

int px_store_apply_result(px_store *s, const px_store_op *ops, size_t n,
                          int64_t *result) {
  int64_t res = 0;
  int rc;
  if (!s || (n && !ops))
    rc = PX_EINVAL;
  else if (n == 0)
    rc = 0;
  else if (!ops_valid(ops, n))
    rc = PX_EINVAL;
  else if (s->read_only)
    rc = PX_ENOTSUP;
  else {
    px_promise p = {px_ref_nil(), 0};
    if (px_in_actor()) p = px_promise_new();
    rc = p.corr ? apply_parked(s, ops, n, p, &res)
                : apply_blocking(s, ops, n, &res);
  }
  if (result) *result = rc == 0 ? res : 0;
  return rc;
}

int px_store_apply(px_store *s, const px_store_op *ops, size_t n) {
  return px_store_apply_result(s, ops, n, NULL);
}
