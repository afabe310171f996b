/* The asynchronous apply of the px_store, for internal users (the durable
 * tuple space) whose completion must not depend on the caller's life. */
#ifndef PX_STORE_ASYNC_H
#define PX_STORE_ASYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "plexspaces/store.h"

/* Called once per queued apply, by the writer thread after its commit (rc
 * 0) or failure (a PX error, nothing applied), outside every store lock.
 * It may take other locks and send messages, but must not call back into
 * the store synchronously (px_store_apply would wait for this very
 * thread). The store stays open while it runs. */
typedef void (*px__store_done_fn)(void *ud, int rc);

/** Queues ops like px_store_apply (they and their values are copied and
 *  encoded before it returns) and returns at once: 0 when queued (then
 *  `done` runs exactly once, possibly before this returns, on the writer
 *  thread), or an error (then `done` never runs). */
int px__store_apply_cb(px_store *s, const px_store_op *ops, size_t n,
                       px__store_done_fn done, void *ud);

/** True while some apply holding a journal append is queued or being
 *  committed. A durable actor that starts on a stream whose previous
 *  writer may have died with an append in flight waits for the queue
 *  (an apply acts as a barrier) only then. */
bool px__store_appends_pending(px_store *s);

#endif
