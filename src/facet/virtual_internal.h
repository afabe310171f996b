/* Internals of the virtual-actor facet, shared by virtual.c (registry and
 * API), virtual_dir.c (the directory: entries, activation, deactivation,
 * LRU) and virtual_act.c (the wrapper type every activation runs, the
 * self table, the idle sweeper). Nothing here is public.
 *
 * Locking. Each type has a mutex `mu` for everything slow (state changes,
 * scopes, LRU heaps, wait queues) and 64 striped rwlocks over its hash
 * table. The send path to an active key takes one stripe's read lock,
 * finds the entry and pushes the message while holding it; every state
 * change takes `mu` and then the stripe's write lock (never two stripes at
 * once). So a message sent to an active entry is in the activation's
 * mailbox before any deactivation request can be, and everything sent
 * after the entry left `active` waits in its pending queue. */
#ifndef PX_FACET_VIRTUAL_INTERNAL_H
#define PX_FACET_VIRTUAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "plexspaces/actor.h"
#include "plexspaces/durable.h"
#include "plexspaces/virtual.h"

#define PX__V_STRIPES 64

typedef enum px__vstate {
  PX__VS_WAITING = 0, /* over the cap: waits for a slot, no actor */
  PX__VS_ACTIVATING,  /* an activator is spawning it */
  PX__VS_ACTIVE,      /* ref is the activation; sends go straight to it */
  PX__VS_DEACTIVATING /* asked to exit; new messages wait */
} px__vstate;

typedef enum px__vkind {
  PX__VP_SEND = 0, /* a plain message */
  PX__VP_ASK,      /* an ask answered to (from, corr), a promise */
  PX__VP_REF,      /* a ref request: the promise gets the ref */
  PX__VP_TOUCH,    /* activate only (eager keys) */
} px__vkind;

/* A message waiting in the directory for the next activation. */
typedef struct px__vpend {
  struct px__vpend *next;
  uint8_t kind; /* px__vkind */
  px_atom type;
  px_val payload; /* owned */
  px_ref from;
  uint64_t corr;
} px__vpend;

struct px__vtype;
struct px__vscope;

typedef struct px__ventry {
  struct px__ventry *next; /* hash chain */
  struct px__vscope *scope;
  uint64_t hash;
  px_ref ref;        /* the activation (active, deactivating) */
  uint8_t state;     /* px__vstate; written under mu + stripe write lock */
  uint8_t dead_early; /* the activation exited while still activating */
  _Atomic(uint8_t) started; /* the activation's init began (terminate
                               will run); set by the activation */
  uint32_t epoch;    /* which activation of the key this is */
  uint32_t heap_ix;  /* position in the scope's LRU heap, or NONE */
  uint64_t stamp;    /* LRU heap key (mu) */
  _Atomic(uint64_t) last_use; /* LRU tick of the last use */
  _Atomic(uint64_t) last_ms;  /* runtime clock of the last activity */
  _Atomic(uint64_t) keep_until; /* no idle collection before (R-H-6) */
  px_val dead_reason;         /* with dead_early */
  px__vpend *ph, *pt;         /* pending messages, oldest first */
  struct px__ventry *wnext;   /* the scope's wait queue */
  size_t keylen;
  char key[];
} px__ventry;

#define PX__V_NONE UINT32_MAX

/* One (tenant, namespace) of a type: the cap, the LRU and the waiters. */
typedef struct px__vscope {
  struct px__vscope *next;
  struct px__vtype *vt;
  px_atom tenant, ns;
  size_t resident; /* activating + active + deactivating (mu) */
  size_t peak;     /* highest resident seen (tests) */
  size_t ndeact;   /* deactivating: slots about to free (mu) */
  size_t nwait;
  px__ventry *wh, *wt;
  px__ventry **heap; /* active entries, min stamp first (mu) */
  uint32_t nheap, capheap;
  _Atomic(uint64_t) tick; /* LRU clock, advanced by uses */
} px__vscope;

typedef struct px__vstripe {
  _Alignas(64) pthread_rwlock_t lk;
  px__ventry **b;
  uint32_t mask;
  uint32_t n;
} px__vstripe;

typedef struct px__vtype {
  char *name;
  _Atomic(bool) registered;
  /* Read by activators under mu (a re-registration changes them). */
  const px_actor_type *user;
  px_actor_type wtype; /* the wrapper every activation runs (made at the
                          first registration, then only read) */
  px_val args;
  int64_t idle_ms; /* < 0: never */
  size_t max_active;
  bool durable;
  bool gen_server;      /* user == px_gen_server_type() */
  px_durable_opts udur; /* the user's */
  px_durable_opts wdur; /* encode/decode unwrap the activation record */
  px_ref sweeper;
  pthread_mutex_t mu;
  px__vscope *scopes;
  px__vstripe stripes[PX__V_STRIPES];
} px__vtype;

/* The record of one activation: the wrapper type's state. */
typedef struct px__vwrap {
  px__vtype *vt;
  px__ventry *e;
  uint32_t epoch;
  bool inited; /* the user's init returned 0 */
  const px_actor_type *user;
  void *ustate;
  px_ref self;
  char *id;  /* "tenant/ns/type/key" */
  char *key; /* into id */
  bool gen_server, durable;
  px_message *stop_msg; /* a GenServer's orderly stop, freed at exit */
} px__vwrap;

typedef struct px__vatoms {
  px_atom deact, sweep, sync, virtual_error, init_failed, dflt;
} px__vatoms;
const px__vatoms *px__v_atoms(void);
/* A new [shutdown, idle]. */
px_val px__v_idle_reason(void);
/* A new [virtual_error, rc]: what a pending ask gets when no activation
 * could be made for it. */
px_val px__v_error_reason(int rc);

/* ---- virtual.c ---- */
px__vtype *px__v_find(const char *name);

/* ---- virtual_dir.c ---- */
/* Routes one message (or ref request / touch) to (scope, key) of vt.
 * Takes ownership of payload. For PX__VP_REF on an active key *ref_out is
 * set at once and *ready is true; otherwise the promise (from, corr) gets
 * it. Returns 0 or an error (payload released). */
int px__v_route(px__vtype *vt, px_atom tenant, px_atom ns, const char *key,
                size_t keylen, px__vkind kind, px_atom type, px_val payload,
                px_ref from, uint64_t corr, px_ref *ref_out, bool *ready);
/* An activation of e (epoch) exited with reason; init_ok: its init had
 * returned 0. Called from the wrapper's terminate. */
void px__v_exited(px__vtype *vt, px__ventry *e, uint32_t epoch,
                  px_val reason, bool init_ok);
/* Deactivates every active entry idle since before now - idle_ms. */
void px__v_sweep(px__vtype *vt, uint64_t now);
/* DeactivateOnIdle for one key: 0 or PX_ENOTFOUND. */
int px__v_deactivate_key(px__vtype *vt, px_atom tenant, px_atom ns,
                         const char *key, size_t keylen);
/* Unregister: deactivates every activation, drops waiting messages. */
/* Deactivates every activation (and fails every waiter); returns the
 * refs of those deactivating (malloc'd, *n of them) for the caller to
 * wait on. */
px_ref *px__v_shutdown_all(px__vtype *vt, size_t *n);
/* Frees every entry and scope (runtime stop, every actor dead). */
void px__v_free_dir(px__vtype *vt);
size_t px__v_resident(px__vtype *vt);
/* Highest resident count of any scope since registration (tests). */
size_t px__v_peak(const char *type);
/* Marks activity on e: LRU tick and idle clock. */
void px__v_touch(px__ventry *e);

/* ---- virtual_act.c ---- */
extern const px_actor_type px__v_sweeper_type;
void px__v_wrap_type(px__vtype *vt); /* fills vt->wtype */
px_val px__v_encode(const void *state);
int px__v_decode(px_val saved, void *state);
void px__v_self_free_all(void);
/* Test hook: returns once the sweeper has handled every tick due so far
 * (an ask to it queued behind them). 0 or an error. */
int px__v_sweeper_sync(const char *type);

#endif
