/* Internals of workflows (include/plexspaces/workflow.h), shared by
 * workflow.c (the registry of types and executions, the public calls made
 * from outside an execution) and workflow_run.c (the execution's actor:
 * replay, commands, waits).
 *
 * Registry. One process-wide table, under one mutex, of the executions
 * that are open and known in memory (started here, recovered, or touched
 * by a signal/wait while down). A closed execution leaves the table: its
 * status is then read from the store's index. Entries are reference
 * counted (the table, the execution's actor, callers in the middle of an
 * inbox append or a wait), all under the mutex. */
#ifndef PX_BEHAVIOR_WORKFLOW_INTERNAL_H
#define PX_BEHAVIOR_WORKFLOW_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "plexspaces/actor.h"
#include "plexspaces/store.h"
#include "plexspaces/workflow.h"

/* The KV scope of the index of executions, and of the set of open ones
 * (key -> type name; what px_workflow_recover lists, so a restart costs
 * the open executions, not every execution ever run). */
#define PX__WF_INDEX "sys/workflows"
#define PX__WF_OPEN "sys/workflows-open"
/* Longest id, tenant or namespace. */
#define PX__WF_NAME_MAX 200

/* A registered type. Kept for the life of the process (the runtime's
 * statistics may name its actor type), reused when registered again. */
typedef struct px__wf_type {
  const px_workflow_type *def;
  px_actor_type at; /* the execution actor's type */
  bool registered;  /* in this runtime */
  struct px__wf_type *next;
} px__wf_type;

/* Entry status beyond px_wf_status: reserved by a start whose journal
 * write is under way. */
#define PX__WF_STARTING 0

typedef struct px__wf_entry {
  char *key;        /* "<tenant>/<ns>/<id>": index key */
  char *stream;     /* "wf/<key>": the command journal */
  char *inbox;      /* "wfin/<key>": external events */
  const char *tenant, *ns, *id; /* point into `names` */
  char *names;
  px__wf_type *type; /* NULL: not registered in this runtime */
  int status;        /* PX__WF_STARTING or PX_WF_RUNNING */
  bool paused;
  px_ref actor;      /* the live execution actor, or nil */
  pthread_mutex_t in_mu; /* hands out inbox seqs and queues their
                            appends in that order (never under mu) */
  uint64_t in_seq;   /* the last inbox seq handed out: under in_mu (set
                        under mu when the entry is made) */
  int conflicts;     /* activations that lost a journal seq (ECONFLICT) */
  px_promise *waiters;  /* px_workflow_wait callers: resolved at close */
  size_t nwait, capwait;
  px_promise *swait;    /* inbox appends waiting for a start under way:
                           resolved when it is durable or failed */
  size_t nswait, capswait;
  int refs;
  struct px__wf_entry *hnext;
} px__wf_entry;

/* Globals, under `mu`. */
typedef struct px__wf_global {
  pthread_mutex_t mu;
  px_store *store;
  px__wf_type *types;
  px__wf_entry **tab;
  size_t tab_cap, tab_n;
  /* workflow clock = base_ms + px_clock_ms(); read without mu (relaxed:
   * a lone value, set once per runtime and by tests) */
  _Atomic int64_t base_ms;
  bool live;       /* a type was registered in this runtime */
} px__wf_global;

extern px__wf_global px__wf_g;

/* Atoms of the execution actor's messages. */
typedef struct px__wf_atoms {
  px_atom go;    /* start run (sent to self at init) */
  px_atom in;    /* [seq, kind, name, payload]: an inbox entry was added */
  px_atom query; /* ask: [name, args] */
  px_atom tick;  /* token: a wait's deadline timer */
} px__wf_atoms;
const px__wf_atoms *px__wf_a(void);

/* The workflow clock in wall-clock ms (see workflow.h, Time). */
int64_t px__wf_now_ms(void);
/* Tests: makes the workflow clock read `wall_ms` now (it then moves with
 * the runtime clock), e.g. to carry virtual time across a restart. */
void px__wf_clock_set(int64_t wall_ms);

/* Drops a reference; frees the entry at zero. Under mu. */
void px__wf_unref_locked(px__wf_entry *e);
/* Removes an open entry from the table (under mu) and returns the
 * waiters' promises for the caller to resolve once unlocked (caller owns
 * the array, free with free()). */
px_promise *px__wf_close_locked(px__wf_entry *e, size_t *nwait);
/* Resolves close waiters with [status, result] (result borrowed). */
void px__wf_resolve(px_promise *w, size_t n, px_wf_status st, px_val result);

/* Spawns the execution actor of an open entry whose type is known and
 * sets e->actor (the actor takes its reference in init). Under mu. */
int px__wf_spawn_locked(px__wf_entry *e);

/* The index value {type, status, result} (new value). */
px_val px__wf_index_val(const char *type, px_wf_status st, px_val result);

/* The execution actor's callbacks (workflow_run.c). */
int px__wf_actor_init(px_val args, void **state);
void px__wf_actor_handle(void *state, const px_message *msg);
void px__wf_actor_terminate(void *state, px_val reason);

#endif
