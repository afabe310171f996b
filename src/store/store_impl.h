/* Internals of the SQLite px_store: the handle, the request queue of the
 * group-commit writer, and the schema. One writer thread owns the write
 * connection; scans use a separate read connection (WAL lets them run
 * alongside commits). */
#ifndef PX_STORE_IMPL_H
#define PX_STORE_IMPL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "plexspaces/actor.h"
#include "plexspaces/store.h"
#include "store/store_async.h"

/* PRAGMA application_id of every plexspaces database: "PXS1". */
#define PX__STORE_APP_ID 0x50585331

/* One px_store_apply call waiting in the queue. A plain thread's request
 * lives on its stack: the writer must not touch it after resolving it. A
 * handler's (promise) or an asynchronous apply's (done) is one heap block
 * that the writer frees. */
typedef struct px__store_req {
  struct px__store_req *next;
  const px_store_op *ops;
  size_t n;
  char **enc;     /* 2n encoded values: enc[i] op i's value, enc[n + i]
                     its expected value (KV_CAS); NULL where none */
  size_t *enc_len;
  int rc;         /* result, set by the writer */
  int64_t result; /* the last KV_INCR's new value, set by the writer */
  bool appends;   /* holds a JOURNAL_APPEND (counted in appends_pending) */
  /* how the caller is answered: a heap request resolves `promise`
   * (handler) or calls done_fn (asynchronous apply, see store_async.h);
   * a stack request is woken through the condvar below */
  bool heap;
  px_promise promise;
  px__store_done_fn done_fn;
  void *done_ud;
  bool done;
  pthread_cond_t cv;
} px__store_req;

enum {
  PX__ST_PUT,
  PX__ST_DEL,
  PX__ST_EXPIRY,
  PX__ST_BEGIN,
  PX__ST_COMMIT,
  PX__ST_ROLLBACK,
  PX__ST_SAVEPOINT,
  PX__ST_RELEASE,
  PX__ST_ROLLBACK_TO,
  PX__ST_STREAM_GET,
  PX__ST_STREAM_NEW,
  PX__ST_STREAM_TAIL,
  PX__ST_J_APPEND,
  PX__ST_J_TRUNC,
  PX__ST_SNAP_TRUNC,
  PX__ST_SNAP_PUT,
  PX__ST_J_DROP,
  PX__ST_SNAP_DROP,
  PX__ST_J_COMPACT,
  PX__ST_J_MAXG,
  PX__ST_KV_SWEEP,
  PX__ST_KV_PUT,
  PX__ST_KV_INSERT,
  PX__ST_KV_DEL,
  PX__ST_KV_DEL_EXPIRED,
  PX__ST_KV_SWAP,
  PX__ST_KV_GET,
  PX__ST_REM_PUT,
  PX__ST_REM_DEL,
  PX__ST_COUNT
};

struct px_store {
  char *dir;
  int lock_fd;
  px_store_opts opts;
  bool read_only; /* px_store_open_sqlite_reader: no lock, no writer */
  sqlite3 *wdb; /* writer connection: the writer thread only */
  sqlite3_stmt *st[PX__ST_COUNT];
  /* Read connections (read.c): a pool, so concurrent readers and a read
   * nested in a scan callback each get their own; rmu guards the list. */
  struct px__store_reader *readers;
  pthread_mutex_t rmu;

  pthread_t writer;
  pthread_mutex_t mu; /* queue, closing, request completion */
  pthread_cond_t cv;  /* the writer waits here for work */
  px__store_req *head, *tail;
  size_t queued_ops;
  size_t queued_callers;
  size_t gather_target; /* the writer waits for this many callers; 0: no */
  bool closing;
  bool in_batch;      /* the writer holds a batch it has not answered yet */
  size_t waiters;     /* plain threads blocked in px_store_apply */
  size_t appends_pending; /* requests with a journal append, queued or
                             in a batch, not answered yet */
  pthread_cond_t idle; /* close waits here for waiters to leave */

  _Atomic uint64_t commits, ops, callers;
  /* background deletion of dead journal entries (writer thread only) */
  uint64_t compact_from; /* next window of g to look at */
  uint64_t truncs;       /* truncations not yet covered by a full pass */
  uint64_t pass_truncs;  /* truncs when the current pass began */
  uint64_t last_sweep_ns; /* last deletion of expired KV entries */
  /* The writer's cache of stream tails (apply.c): saves an appending
   * caller the lookup of its stream row. Cleared whenever a transaction
   * or a caller's savepoint is rolled back. */
  struct px__tail *tails;
  size_t ntails;
};

/* apply.c: runs one request's ops in the writer's open transaction; 0 or
 * the PX error of the first failing op. */
int px__store_apply_ops(px_store *s, px__store_req *r);
/* Whether an op kind carries a value to encode, and an expected one. */
bool px__store_op_has_value(px_store_op_kind k);

/* sqlite.c: opens a connection with our settings (busy timeout,
 * extended codes); on failure *out is still set, for the message. */
int px__store_open_conn(const char *path, int flags, sqlite3 **out);

/* read.c */
struct px__store_reader;
int px__store_readers_init(px_store *s, char *errbuf, size_t errcap);
void px__store_readers_free(px_store *s);
const char *px__store_db_path(px_store *s, char *buf, size_t cap);

/* apply.c: forgets the cached stream tails (after any rollback), and
 * frees them (at close). */
void px__store_tails_clear(px_store *s);

/* apply.c: one step of the background journal compaction, in its own
 * transaction; the writer calls it while idle. 0, or PX_EIO. */
int px__store_compact_step(px_store *s);
/* apply.c: deletes up to a batch of expired KV entries, in its own
 * transaction (they are invisible already; this frees their space). */
int px__store_sweep_kv(px_store *s);

/* writer.c */
int px__store_writer_start(px_store *s, char *errbuf, size_t errcap);
void px__store_writer_stop(px_store *s);

#endif
