/* Virtual actors (Orleans grains, SEMANTICS.md section H).
 *
 * A virtual actor is addressed by (type, key) inside a tenant and
 * namespace and exists logically forever: nobody spawns it. The first
 * message to an inactive key activates it (spawn, init, then when
 * durable the saved state restored into what init made and the journal
 * replayed, then the message); an activation unused for longer than
 * idle_timeout is deactivated (checkpoint when durable, then process exit
 * with reason [shutdown, idle], which links and supervisors treat as
 * normal). The node runs at most one activation per key, even when many
 * threads send the first message at once.
 *
 * Messages sent through this API are never lost to a deactivation: those
 * that arrive while an activation is being made or torn down wait in the
 * directory and go to the next activation in the order they came (per
 * sender FIFO holds across a re-activation, R-H-3). A message sent to the
 * raw ref of an activation (px_virtual_ref) is an ordinary send: it counts
 * as activity, but if the activation is deactivated before it arrives it
 * is dropped like any message to an exited actor.
 *
 * Activity (R-H-5): a message sent through this API, or one the
 * activation receives from another actor, keeps it alive. Its own
 * outgoing calls and its timer ticks (messages from the runtime) do not.
 *
 * Calls between activations are non-reentrant (R-H-13): A asking B while
 * B asks A waits until an ask times out. With max_active, the same holds
 * for a chain of asks among more keys of one scope than the cap: the new
 * activation waits for the least recently used one, which may be a
 * caller parked in the chain.
 *
 * Threads: every function may be called from a handler or from any other
 * thread. Inside an activation, px_self_state() returns the facet's
 * wrapper, not the type's state: use the state passed to handle. */
#ifndef PLEXSPACES_VIRTUAL_H
#define PLEXSPACES_VIRTUAL_H

#include "actor.h"
#include "common.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/* Declared in durable.h; a virtual type only carries a pointer to it. */
typedef struct px_durable_opts px_durable_opts;

typedef enum px_activation {
  PX_ACTIVATE_LAZY = 0, /* on the first message */
  PX_ACTIVATE_EAGER,    /* the eager_keys at registration, the rest lazy */
} px_activation;

/** Default idle_timeout_ms (PLEXSPACES idle_timeout 300 s). */
#define PX_VIRTUAL_IDLE_DEFAULT_MS 300000

typedef struct px_virtual_opts {
  int64_t idle_timeout_ms;        /* 0 = 300000; < 0 never idle-deactivated */
  px_activation activation;       /* eager: the keys in eager_keys are
                                     activated at registration, in the
                                     registering caller's scope */
  const char *const *eager_keys;  /* NULL-terminated, eager only; copied */
  size_t max_active;              /* per type and tenant/namespace on this
                                     node; 0 = no cap. Beyond it the least
                                     recently used activation is deactivated
                                     and the new one waits until it is gone,
                                     so at most max_active activations exist
                                     at any time */
  const px_durable_opts *durable; /* NULL: state is volatile (lost at
                                     deactivation); copied */
  const char *name;               /* register under this name instead of
                                     type->name (required for a GenServer:
                                     px_gen_server_type() is one type) */
} px_virtual_opts;

/** Registers a virtual type under type->name (or opts->name). `type` must
 *  outlive the runtime; `args` (taken) are the init args of every
 *  activation (each activation's init borrows them). opts may be NULL for
 *  the defaults. A GenServer is registered as px_gen_server_type() with
 *  px_gen_server_args(gs, args) and a name: asks are its calls, sends its
 *  infos; a deactivation is an orderly stop (its terminate runs with
 *  [shutdown, idle]), and durable encode/decode get the user's state.
 *  Returns 0, PX_EINVAL (no name or handle, bad options), PX_EEXIST (the
 *  name is registered), PX_ESTOPPED (no runtime), or an activation error
 *  of an eager key (the type stays registered). */
PX_API int px_virtual_register(const px_actor_type *type, px_val args,
                               const px_virtual_opts *opts);
/** Unregisters the type and starts deactivating every activation (they
 *  exit with [shutdown, idle]; durable ones checkpoint first). Messages
 *  waiting in the directory are dropped, asks among them fail with
 *  PX_ENOTFOUND. Returns immediately; PX_ENOTFOUND if not registered. */
PX_API int px_virtual_unregister(const char *type);

/** Sends to (type, key) in the caller's tenant/namespace (px_self_tenant /
 *  px_self_namespace; "default" for both when the caller has none). The
 *  first message activates. Takes ownership of payload. Returns 0 once the
 *  message is queued (delivered to the activation or waiting for it), or
 *  PX_ENOTFOUND (type not registered), PX_EINVAL (bad key), PX_ESTOPPED,
 *  or the activation error when spawning failed at once. */
PX_API int px_virtual_send(const char *type, const char *key, px_atom msg,
                           px_val payload);
/** Asks (type, key) and waits up to timeout_ms (-1 = forever); takes
 *  ownership of payload; on 0 *reply is a new value. Errors as px_ask
 *  (PX_ETIMEDOUT, PX_EHANDLER with the error value, PX_ENOPROC with the
 *  exit reason if the activation died before answering, PX_EDEADLOCK for
 *  an ask to the caller's own activation), plus PX_EINIT when the
 *  activation's init failed (*reply = [init_failed, Code], R-H-2: the next
 *  message tries a fresh activation), PX_ENOTFOUND, PX_EINVAL,
 *  PX_ESTOPPED, or a durable load error. */
PX_API int px_virtual_ask(const char *type, const char *key, px_atom msg,
                          px_val payload, int64_t timeout_ms, px_val *reply);
/** The ref of the current activation of (type, key), activating it if
 *  needed (waits up to 30 s for a deactivation or a free slot). The ref
 *  names this activation only: a later deactivation makes it dead. */
PX_API int px_virtual_ref(const char *type, const char *key, px_ref *out);

/** The same with an explicit scope (the reminder service and the HTTP
 *  layer use these). NULL tenant or ns means "default". */
PX_API int px_virtual_send_in(const char *tenant, const char *ns,
                              const char *type, const char *key, px_atom msg,
                              px_val payload);
PX_API int px_virtual_ask_in(const char *tenant, const char *ns,
                             const char *type, const char *key, px_atom msg,
                             px_val payload, int64_t timeout_ms,
                             px_val *reply);
PX_API int px_virtual_ref_in(const char *tenant, const char *ns,
                             const char *type, const char *key, px_ref *out);

/** DeactivateOnIdle (R-H-6) for (type, key) in the caller's scope: the
 *  activation finishes the messages already queued to it (the current one
 *  included) and then deactivates; the next message makes a new
 *  activation. Returns 0, or PX_ENOTFOUND if the type is unknown or the
 *  key is not active. */
PX_API int px_virtual_deactivate(const char *type, const char *key);
PX_API int px_virtual_deactivate_in(const char *tenant, const char *ns,
                                    const char *type, const char *key);

/** DelayDeactivation (R-H-6), inside an activation: no idle collection
 *  for at least ms from now. It only extends an earlier delay; a negative
 *  ms cancels the extension (idle_timeout applies again). The LRU cap and
 *  explicit deactivation are not affected. Returns 0, or PX_ENOTACTOR
 *  outside an activation. */
PX_API int px_virtual_delay_deactivation(int64_t ms);

/** Activations of the type on this node, all scopes: those running plus
 *  those being made or torn down (never more than max_active per scope).
 *  0 for an unknown type. */
PX_API size_t px_virtual_active_count(const char *type);

/** Inside an activation: its key, and its id "tenant/ns/type/key" (the
 *  durable stream id and the owner of its reminders). NULL elsewhere. The
 *  strings live as long as the activation. */
PX_API const char *px_virtual_self_key(void);
PX_API const char *px_virtual_self_id(void);

PX_EXTERN_C_END

#endif
