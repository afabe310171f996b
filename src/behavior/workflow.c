/* Workflows, outside view (issue 4; the contract is in workflow.h): type
 * registration, the table of open executions, and the calls made from
 * outside an execution: start, signal/cancel/pause/resume (inbox
 * appends), query, status, wait, recover. The execution itself is in
 * workflow_run.c.
 *
 * Inbox sequence numbers are handed out under the table mutex from the
 * entry (initialised from the stream's last seq when the entry is made),
 * and the append happens after unlocking, so two concurrent signals may
 * commit in either order; the execution delivers in seq order what it
 * has seen and journals which seq each receive consumed, so replay does
 * not depend on that timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/stop_hooks.h"
#include "store/store_async.h"
#include "behavior/workflow_internal.h"
#include "core/mem.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"

px__wf_global px__wf_g = {.mu = PTHREAD_MUTEX_INITIALIZER};
#define G px__wf_g

static px__wf_atoms atoms;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;
static void atoms_init(void) {
  atoms.go = px_atom_of("__wf_go__");
  atoms.in = px_atom_of("__wf_in__");
  atoms.query = px_atom_of("__wf_query__");
  atoms.tick = px_atom_of("__wf_tick__");
}
const px__wf_atoms *px__wf_a(void) {
  pthread_once(&atoms_once, atoms_init);
  return &atoms;
}

const char *px_wf_status_name(px_wf_status s) {
  switch (s) {
  case PX_WF_RUNNING: return "running";
  case PX_WF_PAUSED: return "paused";
  case PX_WF_COMPLETED: return "completed";
  case PX_WF_FAILED: return "failed";
  case PX_WF_CANCELLED: return "cancelled";
  }
  return "?";
}

static int64_t realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t px__wf_now_ms(void) {
  return atomic_load_explicit(&G.base_ms, memory_order_relaxed) +
         (int64_t)px_clock_ms();
}

void px__wf_clock_set(int64_t wall_ms) {
  atomic_store_explicit(&G.base_ms, wall_ms - (int64_t)px_clock_ms(),
                        memory_order_relaxed);
}

px_val px__wf_index_val(const char *type, px_wf_status st, px_val result) {
  return px_map(3, px_str("type"), px_str(type), px_str("status"),
                px_int(st), px_str("result"), px_val_retain(result));
}

/* ---- the table ---------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static px__wf_entry *lookup_locked(const char *key) {
  if (!G.tab_cap) return NULL;
  px__wf_entry *e = G.tab[hash_str(key) & (G.tab_cap - 1)];
  while (e && strcmp(e->key, key)) e = e->hnext;
  return e;
}

static void insert_locked(px__wf_entry *e) {
  if (G.tab_n + 1 > G.tab_cap * 3 / 4) {
    size_t nc = G.tab_cap ? G.tab_cap * 2 : 64;
    px__wf_entry **nt = px__xcalloc(nc, sizeof *nt);
    for (size_t i = 0; i < G.tab_cap; i++)
      for (px__wf_entry *x = G.tab[i], *n; x; x = n) {
        n = x->hnext;
        uint64_t b = hash_str(x->key) & (nc - 1);
        x->hnext = nt[b];
        nt[b] = x;
      }
    free(G.tab);
    G.tab = nt;
    G.tab_cap = nc;
  }
  uint64_t b = hash_str(e->key) & (G.tab_cap - 1);
  e->hnext = G.tab[b];
  G.tab[b] = e;
  G.tab_n++;
}

static void remove_locked(px__wf_entry *e) {
  px__wf_entry **pp = &G.tab[hash_str(e->key) & (G.tab_cap - 1)];
  while (*pp && *pp != e) pp = &(*pp)->hnext;
  if (*pp) {
    *pp = e->hnext;
    G.tab_n--;
  }
  e->hnext = NULL;
}

static void entry_free(px__wf_entry *e) {
  pthread_mutex_destroy(&e->in_mu);
  free(e->key);
  free(e->stream);
  free(e->inbox);
  free(e->names);
  free(e->waiters);
  free(e->swait);
  free(e);
}

void px__wf_unref_locked(px__wf_entry *e) {
  if (--e->refs == 0) entry_free(e);
}

static px__wf_type *type_find_locked(const char *name) {
  for (px__wf_type *t = G.types; t; t = t->next)
    if (t->registered && !strcmp(t->def->name, name)) return t;
  return NULL;
}

/* A new entry (refs 1: the table's), inserted. */
static px__wf_entry *entry_new_locked(const char *tenant, const char *ns,
                                      const char *id, px__wf_type *type,
                                      int status) {
  px__wf_entry *e = px__xcalloc(1, sizeof *e);
  size_t lt = strlen(tenant), ln = strlen(ns), li = strlen(id);
  e->names = px__xmalloc(lt + ln + li + 3);
  memcpy(e->names, tenant, lt + 1);
  memcpy(e->names + lt + 1, ns, ln + 1);
  memcpy(e->names + lt + ln + 2, id, li + 1);
  e->tenant = e->names;
  e->ns = e->names + lt + 1;
  e->id = e->names + lt + ln + 2;
  size_t kl = lt + ln + li + 3;
  e->key = px__xmalloc(kl);
  snprintf(e->key, kl, "%s/%s/%s", tenant, ns, id);
  e->stream = px__xmalloc(kl + 3);
  snprintf(e->stream, kl + 3, "wf/%s", e->key);
  e->inbox = px__xmalloc(kl + 5);
  snprintf(e->inbox, kl + 5, "wfin/%s", e->key);
  e->type = type;
  e->status = status;
  e->refs = 1;
  pthread_mutex_init(&e->in_mu, NULL);
  insert_locked(e);
  return e;
}

px_promise *px__wf_close_locked(px__wf_entry *e, size_t *nwait) {
  px_promise *w = e->waiters;
  *nwait = e->nwait;
  e->waiters = NULL;
  e->nwait = e->capwait = 0;
  if (lookup_locked(e->key) == e) {
    remove_locked(e);
    e->refs--; /* the table's; never the last: the caller holds one */
  }
  return w;
}

void px__wf_resolve(px_promise *w, size_t n, px_wf_status st,
                    px_val result) {
  for (size_t i = 0; i < n; i++)
    px_reply_to(w[i], px_arr(2, px_int(st), px_val_retain(result)));
}

/* The runtime is stopping, every actor is dead and the stores have
 * answered what they held: forget the table and the registrations (the
 * types' records stay, for a later runtime). An entry still referenced
 * by a caller in the middle of a wait or an inbox append lives until
 * that caller lets go. */
static void at_stop(void) {
  pthread_mutex_lock(&G.mu);
  for (size_t i = 0; i < G.tab_cap; i++)
    for (px__wf_entry *e = G.tab[i], *n; e; e = n) {
      n = e->hnext;
      e->hnext = NULL;
      px__wf_unref_locked(e);
    }
  free(G.tab);
  G.tab = NULL;
  G.tab_cap = G.tab_n = 0;
  for (px__wf_type *t = G.types; t; t = t->next) t->registered = false;
  G.store = NULL;
  G.live = false;
  pthread_mutex_unlock(&G.mu);
}

/* ---- names -------------------------------------------------------------- */

static bool name_ok(const char *s) {
  if (!s || !*s) return false;
  size_t n = strnlen(s, PX__WF_NAME_MAX + 1);
  return n <= PX__WF_NAME_MAX && !memchr(s, '/', n);
}

/* Resolves the scope: NULL = the caller's, "default" when it has none.
 * An actor with a tenant reaches only its own tenant's executions, as
 * with tuple spaces; system actors and plain threads reach any. */
static int scope(const char **tenant, const char **ns, const char *id) {
  const char *mine = px_self_tenant();
  if (!*tenant) *tenant = mine ? mine : "default";
  else if (mine && strcmp(mine, *tenant)) return PX_EPERM;
  if (!*ns) *ns = px_self_namespace();
  if (!*ns) *ns = "default";
  if (!name_ok(*tenant) || !name_ok(*ns) || !name_ok(id)) return PX_EINVAL;
  return 0;
}

static char *key_of(const char *tenant, const char *ns, const char *id) {
  size_t kl = strlen(tenant) + strlen(ns) + strlen(id) + 3;
  char *k = px__xmalloc(kl);
  snprintf(k, kl, "%s/%s/%s", tenant, ns, id);
  return k;
}

/* Reads the index: 0 with *status, *type (new string value, may be NULL)
 * and *result (new, may be NULL), or PX_ENOTFOUND. */
static int index_get(const char *key, px_wf_status *status, px_val *type,
                     px_val *result) {
  px_val v;
  int rc = px_store_kv_get(G.store, PX__WF_INDEX, key, &v, NULL);
  if (rc) return rc;
  px_val st = px_gets(v, "status");
  if (px_typeof(st) != PX_T_INT) {
    px_val_release(v);
    return PX_EDECODE;
  }
  *status = (px_wf_status)st.u.i;
  if (type) *type = px_val_retain(px_gets(v, "type"));
  if (result) *result = px_val_retain(px_gets(v, "result"));
  px_val_release(v);
  return 0;
}

/* The entry of an open execution: the table's, or one made from the index
 * for an execution that is open but not in memory. NULL when there is no
 * open execution (or on a store error, in *rc). Under mu. */
static px__wf_entry *open_entry_locked(const char *tenant, const char *ns,
                                       const char *id, const char *key,
                                       int *rc) {
  px__wf_entry *e = lookup_locked(key);
  if (e) return e;
  px_wf_status st;
  px_val type;
  *rc = index_get(key, &st, &type, NULL);
  if (*rc) return NULL;
  if (st != PX_WF_RUNNING) {
    px_val_release(type);
    *rc = PX_ENOTFOUND;
    return NULL;
  }
  const char *tn = px_str_ptr(type);
  e = entry_new_locked(tenant, ns, id, tn ? type_find_locked(tn) : NULL,
                       PX_WF_RUNNING);
  px_val_release(type);
  uint64_t last = 0;
  *rc = px_store_journal_last(G.store, e->inbox, &last);
  if (*rc) {
    remove_locked(e);
    px__wf_unref_locked(e);
    return NULL;
  }
  e->in_seq = last;
  return e;
}

/* Spawns the execution actor of an entry (under mu). */
int px__wf_spawn_locked(px__wf_entry *e) {
  px_spawn_opts so = {0};
  so.tenant = e->tenant;
  so.ns = e->ns;
  px_ref r;
  /* The actor takes its reference in init: one killed before init never
   * runs terminate. The entry stays meanwhile (the table holds it while
   * it is open, and only its actor closes it). */
  int rc = px_spawn(&e->type->at, px_int((int64_t)(intptr_t)e), &so, &r);
  if (rc) return rc;
  e->actor = r;
  return 0;
}

/* ---- registration and recovery ----------------------------------------- */

int px_workflow_unregister(const char *name) {
  if (!name) return PX_ENOTFOUND;
  pthread_mutex_lock(&G.mu);
  px__wf_type *t = type_find_locked(name);
  if (t) t->registered = false;
  pthread_mutex_unlock(&G.mu);
  return t ? 0 : PX_ENOTFOUND;
}

int px_workflow_register(const px_workflow_type *t, px_store *s) {
  if (!t || !s || !t->name || !*t->name || !t->run) return PX_EINVAL;
  px__wf_a();
  pthread_mutex_lock(&G.mu);
  if (G.store && G.store != s) {
    pthread_mutex_unlock(&G.mu);
    return PX_EINVAL;
  }
  px__wf_type *found = NULL;
  for (px__wf_type *x = G.types; x; x = x->next) {
    if (x->registered && !strcmp(x->def->name, t->name) && x->def != t) {
      pthread_mutex_unlock(&G.mu);
      return PX_EEXIST;
    }
    if (x->def == t) found = x;
  }
  if (!found) {
    found = px__xcalloc(1, sizeof *found);
    found->def = t;
    found->at.name = t->name;
    found->at.stack_size = t->stack_size;
    found->at.init = px__wf_actor_init;
    found->at.handle = px__wf_actor_handle;
    found->at.terminate = px__wf_actor_terminate;
    found->next = G.types;
    G.types = found;
  }
  found->registered = true;
  if (!G.live) {
    G.live = true;
    G.store = s;
    /* The workflow clock: the wall clock now, moving with the runtime's
     * (virtual or real) clock from here on. */
    atomic_store_explicit(&G.base_ms,
                          realtime_ms() - (int64_t)px_clock_ms(),
                          memory_order_relaxed);
    px__runtime_at_stop(at_stop);
  }
  /* Entries made while the type was unknown learn it now. */
  for (size_t i = 0; i < G.tab_cap; i++)
    for (px__wf_entry *e = G.tab[i]; e; e = e->hnext)
      if (!e->type) {
        px_val ty;
        px_wf_status st;
        if (!index_get(e->key, &st, &ty, NULL)) {
          if (px_str_ptr(ty) && !strcmp(px_str_ptr(ty), t->name))
            e->type = found;
          px_val_release(ty);
        }
      }
  pthread_mutex_unlock(&G.mu);
  return 0;
}

typedef struct keylist {
  char **k;
  size_t n, cap;
} keylist;

static int collect_open(void *ud, const char *key, px_val v, int64_t exp) {
  (void)exp;
  keylist *l = ud;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->k = px__xrealloc(l->k, l->cap * sizeof *l->k);
  }
  l->k[l->n++] = px__xstrndup(key, strlen(key));
  px_val_release(v);
  return 0;
}

int px_workflow_recover(size_t *n_out) {
  if (n_out) *n_out = 0;
  pthread_mutex_lock(&G.mu);
  px_store *s = G.store;
  pthread_mutex_unlock(&G.mu);
  if (!s) return PX_EINVAL;
  keylist l = {0};
  int rc = px_store_kv_list(s, PX__WF_OPEN, "", collect_open, &l);
  size_t n = 0;
  for (size_t i = 0; i < l.n; i++) {
    char *k = l.k[i];
    char *a = strchr(k, '/');
    char *b = a ? strchr(a + 1, '/') : NULL;
    if (!rc && b) {
      *a = *b = 0;
      pthread_mutex_lock(&G.mu);
      int erc = 0;
      char *key = key_of(k, a + 1, b + 1);
      px__wf_entry *e = open_entry_locked(k, a + 1, b + 1, key, &erc);
      free(key);
      px_actor_info ai;
      /* an actor killed before its init left its ref behind */
      if (e && !px_ref_is_nil(e->actor) &&
          px_actor_info_get(e->actor, &ai) == PX_ENOPROC)
        e->actor = px_ref_nil();
      if (e && e->type && e->type->registered &&
          e->status == PX_WF_RUNNING && px_ref_is_nil(e->actor)) {
        int src = px__wf_spawn_locked(e);
        if (!src) n++;
        else rc = src;
      }
      pthread_mutex_unlock(&G.mu);
    }
    free(k);
  }
  free(l.k);
  if (n_out) *n_out = n;
  return rc;
}

/* ---- writes for callers that may be killed while they wait ------------- */

/* A start or an inbox append is finished by whoever completes its store
 * apply: the store's writer thread, after the commit. The caller only
 * waits for the answer, so a handler killed while parked leaves nothing
 * half done (no entry stuck "starting", no reference or value on its
 * abandoned stack). */
enum { REC_START, REC_INBOX };
typedef struct wf_rec {
  int kind;
  px__wf_entry *e; /* a reference */
  px_promise p;
  uint64_t seq;    /* inbox */
  char ikind[8];   /* inbox: signal, cancel, pause, resume */
  px_val name, payload; /* inbox notification, owned */
} wf_rec;

/* The in-memory side of a finished write; returns the caller's result. */
static int rec_finish(wf_rec *r, int rc) {
  px__wf_entry *e = r->e;
  px_ref actor = px_ref_nil();
  px_promise *sw = NULL;
  size_t nsw = 0;
  pthread_mutex_lock(&G.mu);
  if (r->kind == REC_START) {
    sw = e->swait;
    nsw = e->nswait;
    e->swait = NULL;
    e->nswait = e->capswait = 0;
    if (rc) {
      if (lookup_locked(e->key) == e) {
        remove_locked(e);
        e->refs--; /* the table's; ours goes below */
      }
    } else {
      e->status = PX_WF_RUNNING;
      /* A failed spawn (the runtime is stopping) leaves the execution
       * open in the store: px_workflow_recover resumes it. */
      rc = px__wf_spawn_locked(e);
    }
  } else if (!rc) {
    actor = e->actor;
    if (!strcmp(r->ikind, "pause")) e->paused = true;
    if (!strcmp(r->ikind, "resume")) e->paused = false;
  }
  px__wf_unref_locked(e);
  pthread_mutex_unlock(&G.mu);
  for (size_t i = 0; i < nsw; i++) px_reply_to(sw[i], px_nil());
  free(sw);
  if (!px_ref_is_nil(actor)) {
    px_send(actor, px__wf_a()->in,
            px_arr(4, px_int((int64_t)r->seq), px_str(r->ikind), r->name,
                   r->payload));
  } else {
    px_val_release(r->name);
    px_val_release(r->payload);
  }
  return rc;
}

static void rec_done(void *ud, int rc) {
  wf_rec *r = ud;
  px_promise p = r->p;
  rc = rec_finish(r, rc);
  free(r);
  px_reply_to(p, px_int(rc));
}

/* Queues ops for r (taken over; the store copies the ops and values
 * before it returns, and may finish r before that). 0 or the error, with
 * r finished. */
static int rec_queue(px_store *s, const px_store_op *ops, size_t n,
                     wf_rec *r, px_promise *p) {
  *p = r->p = px_promise_new();
  int rc = px__store_apply_cb(s, ops, n, rec_done, r);
  if (rc) {
    rec_finish(r, rc);
    free(r);
  }
  return rc;
}

/* Waits for a queued write's answer. */
static int rec_wait(px_promise p) {
  px_val v;
  int rc = px_promise_await(p, -1, &v);
  if (rc == 0) rc = (int)v.u.i;
  px_val_release(v);
  return rc;
}

/* ---- start ------------------------------------------------------------- */

/* *input is released (and set nil) before parking; the caller releases
 * it on the paths that return earlier. */
static int inbox_put(const char *tenant, const char *ns, const char *id,
                     const char *kind, const char *name, px_val *payload);

/* With sig (signal-with-start): a new execution gets the signal as inbox
 * seq 1 in the same write as its start; an open one gets it appended.
 * *sig_payload is taken like *input. */
static int start(const char *tenant, const char *ns, const char *type,
                 const char *id, px_val *input, const px_wf_start_opts *opts,
                 const char *sig, px_val *sig_payload) {
  px_wf_start_opts o = {0};
  if (opts) o = *opts;
  if (o.attached_out) *o.attached_out = false;
  if (!type || (sig && !*sig)) return PX_EINVAL;
  int src = scope(&tenant, &ns, id);
  if (src) return src;
  char *key = key_of(tenant, ns, id);
  pthread_mutex_lock(&G.mu);
  px__wf_type *t = G.store ? type_find_locked(type) : NULL;
  if (!t) {
    pthread_mutex_unlock(&G.mu);
    free(key);
    return G.store ? PX_ENOTFOUND : PX_EINVAL;
  }
  px_wf_status st = 0;
  px_val oldtype = px_nil();
  int rc = lookup_locked(key) ? 0 : index_get(key, &st, &oldtype, NULL);
  bool reuse = false;
  if (rc == 0) {
    if (lookup_locked(key) || st == PX_WF_RUNNING) {
      /* open (R-I-1) */
      rc = PX_EEXIST;
      if (o.on_open == PX_WF_CONFLICT_USE_EXISTING) {
        rc = 0;
        if (o.attached_out) *o.attached_out = true;
      }
      px_val_release(oldtype);
      pthread_mutex_unlock(&G.mu);
      free(key);
      if (rc == 0 && sig)
        rc = inbox_put(tenant, ns, id, "signal", sig, sig_payload);
      return rc;
    }
    px_val_release(oldtype);
    if (o.on_closed == PX_WF_REUSE_REJECT ||
        (o.on_closed == PX_WF_REUSE_ALLOW_FAILED &&
         st == PX_WF_COMPLETED)) {
      pthread_mutex_unlock(&G.mu);
      free(key);
      return PX_EEXIST;
    }
    reuse = true;
  } else if (rc != PX_ENOTFOUND) {
    pthread_mutex_unlock(&G.mu);
    free(key);
    return rc;
  }
  px__wf_entry *e = entry_new_locked(tenant, ns, id, t, PX__WF_STARTING);
  e->refs++; /* the write's */
  if (sig) e->in_seq = 1; /* others append after the start (swait) */
  px_store *s = G.store;
  pthread_mutex_unlock(&G.mu);
  free(key);

  px_val start = px_map(2, px_str("type"), px_str(type), px_str("input"),
                        *input);
  *input = px_nil();
  px_val idx = px__wf_index_val(type, PX_WF_RUNNING, px_nil());
  px_store_op ops[6];
  size_t n = 0;
  if (reuse) {
    ops[n++] = (px_store_op){.kind = PX_STORE_STREAM_DELETE,
                             .space = e->stream};
    ops[n++] = (px_store_op){.kind = PX_STORE_STREAM_DELETE,
                             .space = e->inbox};
  }
  ops[n++] = (px_store_op){.kind = PX_STORE_JOURNAL_APPEND,
                           .space = e->stream, .id = 1, .value = start,
                           .key = "start"};
  ops[n++] = (px_store_op){.kind = PX_STORE_KV_PUT, .space = PX__WF_INDEX,
                           .key = e->key, .value = idx};
  ops[n++] = (px_store_op){.kind = PX_STORE_KV_PUT, .space = PX__WF_OPEN,
                           .key = e->key, .value = px_gets(idx, "type")};
  px_val sv = px_nil();
  if (sig) {
    sv = px_arr(2, px_str(sig), *sig_payload);
    *sig_payload = px_nil();
    ops[n++] = (px_store_op){.kind = PX_STORE_JOURNAL_APPEND,
                             .space = e->inbox, .id = 1, .value = sv,
                             .key = "signal"};
  }
  wf_rec *r = px__xcalloc(1, sizeof *r);
  r->kind = REC_START;
  r->e = e;
  px_promise p;
  rc = rec_queue(s, ops, n, r, &p);
  /* Released before we park: a kill there leaves nothing of ours. */
  px_val_release(start);
  px_val_release(idx);
  px_val_release(sv);
  return rc ? rc : rec_wait(p);
}

int px_workflow_start_in(const char *tenant, const char *ns,
                         const char *type, const char *id, px_val input,
                         const px_wf_start_opts *opts) {
  int rc = start(tenant, ns, type, id, &input, opts, NULL, NULL);
  px_val_release(input);
  return rc;
}

int px_workflow_signal_with_start_in(const char *tenant, const char *ns,
                                     const char *type, const char *id,
                                     px_val input, const char *name,
                                     px_val payload,
                                     const px_wf_start_opts *opts) {
  px_wf_start_opts o = {0};
  if (opts) o = *opts;
  o.on_open = PX_WF_CONFLICT_USE_EXISTING;
  int rc = name ? start(tenant, ns, type, id, &input, &o, name, &payload)
                : PX_EINVAL;
  px_val_release(input);
  px_val_release(payload);
  return rc;
}

/* ---- the inbox: signal, cancel, pause, resume ---------------------------- */

/* *payload is taken (set nil) before parking; the caller releases it on
 * the paths that return earlier. */
static int inbox_put(const char *tenant, const char *ns, const char *id,
                     const char *kind, const char *name, px_val *payload) {
  int src = scope(&tenant, &ns, id);
  if (src) return src;
  char key[3 * PX__WF_NAME_MAX + 3]; /* the stack: we may park below */
  snprintf(key, sizeof key, "%s/%s/%s", tenant, ns, id);
  pthread_mutex_lock(&G.mu);
  int rc = 0;
  px__wf_entry *e;
  /* A start under way: wait until it is durable (or failed), holding
   * nothing while parked; then look again. */
  while (G.store && (e = open_entry_locked(tenant, ns, id, key, &rc)) &&
         e->status == PX__WF_STARTING) {
    px_promise p = px_promise_new();
    if (e->nswait == e->capswait) {
      e->capswait = e->capswait ? e->capswait * 2 : 4;
      e->swait = px__xrealloc(e->swait, e->capswait * sizeof *e->swait);
    }
    e->swait[e->nswait++] = p;
    pthread_mutex_unlock(&G.mu);
    px_val v;
    px_promise_await(p, -1, &v);
    px_val_release(v);
    pthread_mutex_lock(&G.mu);
  }
  if (!G.store) {
    pthread_mutex_unlock(&G.mu);
    return PX_EINVAL;
  }
  if (!e) {
    pthread_mutex_unlock(&G.mu);
    return rc;
  }
  e->refs++; /* the write's */
  px_store *s = G.store;
  pthread_mutex_unlock(&G.mu);

  px_val v = name ? px_arr(2, px_str(name), px_val_retain(*payload))
                  : px_nil();
  px_store_op op = {.kind = PX_STORE_JOURNAL_APPEND, .space = e->inbox,
                    .value = v, .key = kind};
  wf_rec *r = px__xcalloc(1, sizeof *r);
  r->kind = REC_INBOX;
  r->e = e;
  snprintf(r->ikind, sizeof r->ikind, "%s", kind);
  r->name = name ? px_str(name) : px_nil();
  r->payload = *payload;
  *payload = px_nil();
  px_promise p;
  /* Seqs are queued in the order they are handed out, so the store sees
   * each stream's appends in seq order (queueing does not block). */
  pthread_mutex_lock(&e->in_mu);
  op.id = r->seq = ++e->in_seq;
  rc = rec_queue(s, &op, 1, r, &p);
  pthread_mutex_unlock(&e->in_mu);
  px_val_release(v);
  return rc ? rc : rec_wait(p);
}

int px_workflow_signal_in(const char *tenant, const char *ns, const char *id,
                          const char *name, px_val payload) {
  int rc = !name || !*name
               ? PX_EINVAL
               : inbox_put(tenant, ns, id, "signal", name, &payload);
  px_val_release(payload);
  return rc;
}

int px_workflow_cancel_in(const char *tenant, const char *ns,
                          const char *id) {
  px_val none = px_nil();
  return inbox_put(tenant, ns, id, "cancel", NULL, &none);
}

int px_workflow_pause_in(const char *tenant, const char *ns,
                         const char *id) {
  px_val none = px_nil();
  return inbox_put(tenant, ns, id, "pause", NULL, &none);
}

int px_workflow_resume_in(const char *tenant, const char *ns,
                          const char *id) {
  px_val none = px_nil();
  return inbox_put(tenant, ns, id, "resume", NULL, &none);
}

/* ---- query, status, wait ------------------------------------------------ */

/* The actor to ask about an open execution, or why there is none. */
static int query_target(const char *key, px_ref *actor) {
  pthread_mutex_lock(&G.mu);
  px__wf_entry *e = G.store ? lookup_locked(key) : NULL;
  int rc = 0;
  if (!e) {
    px_wf_status st;
    rc = G.store ? index_get(key, &st, NULL, NULL) : PX_EINVAL;
    if (!rc) rc = st == PX_WF_RUNNING ? PX_ENOPROC : PX_ENOTFOUND;
  } else if (e->type && !e->type->def->query) {
    rc = PX_ENOTSUP;
  } else {
    *actor = e->actor;
    if (px_ref_is_nil(*actor)) rc = PX_ENOPROC;
  }
  pthread_mutex_unlock(&G.mu);
  return rc;
}

int px_workflow_query_in(const char *tenant, const char *ns, const char *id,
                         const char *name, px_val args, int64_t timeout_ms,
                         px_val *out) {
  int rc = !out || !name ? PX_EINVAL : scope(&tenant, &ns, id);
  if (out) *out = px_nil();
  if (rc) {
    px_val_release(args);
    return rc;
  }
  char key[3 * PX__WF_NAME_MAX + 3]; /* the stack: we park below */
  snprintf(key, sizeof key, "%s/%s/%s", tenant, ns, id);
  /* args are ours now. The request is kept across the ask for a retry:
   * a querier killed while parked leaks it (a small value; the store and
   * the execution are never left half-changed by a query). */
  px_val req = px_arr(2, px_str(name), args);
  /* An execution handed to a fresh actor (continue-as-new, a lost journal
   * seq) while we asked: ask the new one. */
  for (int tries = 0;; tries++) {
    px_ref actor = px_ref_nil();
    rc = query_target(key, &actor);
    if (rc) break;
    px_val reply;
    rc = px_ask(actor, px__wf_a()->query, px_val_retain(req), timeout_ms,
                &reply);
    if (rc == 0) {
      *out = reply;
      break;
    }
    if (rc == PX_EHANDLER) { /* [code, error value] */
      rc = (int)px_at(reply, 0).u.i;
      *out = px_val_retain(px_at(reply, 1));
      px_val_release(reply);
      break;
    }
    px_val_release(reply);
    if (rc != PX_ENOPROC) break;
    px_ref now = px_ref_nil();
    int trc = query_target(key, &now);
    if (trc) { /* closed meanwhile (not found), or down (no process) */
      rc = trc;
      break;
    }
    if (px_ref_eq(now, actor) || tries >= 8) break;
  }
  px_val_release(req);
  return rc;
}

int px_workflow_status_in(const char *tenant, const char *ns, const char *id,
                          px_wf_status *status, px_val *result) {
  if (result) *result = px_nil();
  if (!status) return PX_EINVAL;
  int src = scope(&tenant, &ns, id);
  if (src) return src;
  char *key = key_of(tenant, ns, id);
  pthread_mutex_lock(&G.mu);
  int rc = PX_EINVAL;
  px__wf_entry *e = G.store ? lookup_locked(key) : NULL;
  if (e) {
    *status = e->paused ? PX_WF_PAUSED : PX_WF_RUNNING;
    rc = 0;
  } else if (G.store) {
    rc = index_get(key, status, NULL, result);
  }
  pthread_mutex_unlock(&G.mu);
  free(key);
  return rc;
}

int px_workflow_wait_in(const char *tenant, const char *ns, const char *id,
                        int64_t timeout_ms, px_wf_status *status,
                        px_val *result) {
  if (result) *result = px_nil();
  if (!status) return PX_EINVAL;
  int src = scope(&tenant, &ns, id);
  if (src) return src;
  /* on the stack: nothing on the heap is ours while parked */
  char key[3 * PX__WF_NAME_MAX + 3];
  snprintf(key, sizeof key, "%s/%s/%s", tenant, ns, id);
  pthread_mutex_lock(&G.mu);
  if (!G.store) {
    pthread_mutex_unlock(&G.mu);
    return PX_EINVAL;
  }
  int rc = 0;
  px__wf_entry *e = open_entry_locked(tenant, ns, id, key, &rc);
  if (!e) {
    /* closed (or unknown): answer from the index */
    rc = rc == PX_ENOTFOUND ? index_get(key, status, NULL, result) : rc;
    pthread_mutex_unlock(&G.mu);
    return rc;
  }
  px_promise p = px_promise_new();
  if (e->nwait == e->capwait) {
    e->capwait = e->capwait ? e->capwait * 2 : 4;
    e->waiters = px__xrealloc(e->waiters, e->capwait * sizeof *e->waiters);
  }
  e->waiters[e->nwait++] = p;
  pthread_mutex_unlock(&G.mu);

  /* No reference is held while parked (a killed waiter would keep it):
   * the entry is found again by its key. */
  px_val v;
  rc = px_promise_await(p, timeout_ms, &v);
  pthread_mutex_lock(&G.mu);
  e = lookup_locked(key);
  for (size_t i = 0; e && i < e->nwait; i++)
    if (e->waiters[i].corr == p.corr && px_ref_eq(e->waiters[i].to, p.to)) {
      e->waiters[i] = e->waiters[--e->nwait];
      break;
    }
  pthread_mutex_unlock(&G.mu);
  if (rc == 0) {
    *status = (px_wf_status)px_at(v, 0).u.i;
    if (result) *result = px_val_retain(px_at(v, 1));
    px_val_release(v);
  } else if (rc == PX_EHANDLER) {
    px_val_release(v);
    rc = PX_EIO;
  }
  return rc;
}
