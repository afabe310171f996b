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
  char **enc;     /* encoded values (TUPLE_PUT), NULL for other kinds */
  size_t *enc_len;
  int rc;         /* result, set by the writer */
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
  PX__ST_COUNT
};

struct px_store {
  char *dir;
  int lock_fd;
  px_store_opts opts;
  sqlite3 *wdb; /* writer connection: the writer thread only */
  sqlite3_stmt *st[PX__ST_COUNT];
  sqlite3 *rdb; /* read connection for scans, under rmu */
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
  pthread_cond_t idle; /* close waits here for waiters to leave */

  _Atomic uint64_t commits, ops, callers;
};

/* writer.c */
int px__store_writer_start(px_store *s, char *errbuf, size_t errcap);
void px__store_writer_stop(px_store *s);

#endif
