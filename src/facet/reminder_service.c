/* The reminder service: one system actor per store that fires the stored
 * reminders (include/plexspaces/reminder.h).
 *
 * It keeps every reminder of the store in memory (loaded at start) and one
 * volatile runtime timer, armed for the nearest due time; a generation
 * number in the timer's message makes a stale tick (one whose timer was
 * replaced but already queued) harmless. Due times are on the wall clock
 * (px__reminder_now): the timer is only a wake-up, and on waking the
 * service compares due times with the clock, re-arming if the runtime's
 * monotonic clock ran ahead of the wall clock.
 *
 * A tick: every reminder due by now is delivered (px__reminder_deliver,
 * which activates the virtual actor), then all the resulting writes
 * (periodic: next due; one-shot or last occurrence: delete) are applied in
 * one px_store_apply. Deliver-then-write is what makes a one-shot reminder
 * at-least-once across a crash; see the header for periodic ticks.
 *
 * The table is an unsorted array scanned for the minimum and searched by
 * name: O(n) per set, cancel and tick, fine for thousands of reminders
 * per store (10,000 due at once load and deliver in ~0.07 s); a
 * heap and a hash would be the next step. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "facet/reminder_internal.h"
#include "plexspaces/actor.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"

typedef struct rem {
  char *owner, *name;
  px_val payload; /* owned: the user's payload */
  int64_t due, period, left;
  int64_t retry_at; /* > 0: the last delivery failed, try again then */
  bool gone; /* deleted during this tick, freed after the write */
} rem;

/* A delivery that fails (e.g. PX_ENOTFOUND: the virtual type is not
 * registered yet, as at a node's start) is tried again this much later,
 * in memory only: the stored due time stays, so a restart tries too. */
#define RETRY_MS 1000

/* When the service must next look at r. */
static int64_t wake_of(const rem *r) {
  return r->retry_at ? r->retry_at : r->due;
}

typedef struct svc {
  px_store *store;
  rem *v;
  size_t n, cap;
  bool armed;     /* a tick for `armed_due` is on its way */
  int64_t armed_due;
  px_tref timer;  /* 0 when the tick was sent directly */
  uint64_t gen;   /* of the tick on its way */
  /* A tick's writes, kept here and not on the handler's stack so that a
   * kill while parked in the store leaks nothing (terminate frees them). */
  px_store_op *ops;
  px_val *vals;
  size_t nops, cap_ops;
} svc;

/* ---- registry of services, one per store ----------------------------------- */

typedef struct reg {
  px_store *store;
  px_ref ref;
  svc *state; /* NULL until init has run */
} reg;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static reg g_reg[16];
static size_t g_nreg;

static reg *reg_find(px_store *s) {
  for (size_t i = 0; i < g_nreg; i++)
    if (g_reg[i].store == s) return &g_reg[i];
  return NULL;
}

static void reg_remove(px_store *s, px_ref ref) {
  pthread_mutex_lock(&g_mu);
  reg *r = reg_find(s);
  if (r && px_ref_eq(r->ref, ref)) *r = g_reg[--g_nreg];
  pthread_mutex_unlock(&g_mu);
}

bool px__reminder_service(px_store *s, px_ref *out) {
  pthread_mutex_lock(&g_mu);
  reg *r = reg_find(s);
  if (r) *out = r->ref;
  pthread_mutex_unlock(&g_mu);
  return r != NULL;
}

/* ---- the table ------------------------------------------------------------- */


static rem *rem_find(svc *sv, const char *owner, const char *name) {
  for (size_t i = 0; i < sv->n; i++)
    if (!strcmp(sv->v[i].owner, owner) && !strcmp(sv->v[i].name, name))
      return &sv->v[i];
  return NULL;
}

static void rem_free(rem *r) {
  free(r->owner);
  free(r->name);
  px_val_release(r->payload);
}

static void rem_drop(svc *sv, size_t i) {
  rem_free(&sv->v[i]);
  sv->v[i] = sv->v[--sv->n];
}

/* Adds or replaces (by owner and name; `fresh`: known to be absent, as
 * at load, where the store gives each (owner, name) once). Takes
 * ownership of payload. */
static rem *rem_upsert(svc *sv, const char *owner, const char *name,
                       px_val payload, int64_t due, int64_t period,
                       int64_t left, bool fresh) {
  rem *r = fresh ? NULL : rem_find(sv, owner, name);
  if (r) {
    px_val_release(r->payload);
  } else {
    if (sv->n == sv->cap) {
      sv->cap = sv->cap ? sv->cap * 2 : 16;
      sv->v = px__xrealloc(sv->v, sv->cap * sizeof *sv->v);
    }
    r = &sv->v[sv->n++];
    r->owner = px__xstrndup(owner, strlen(owner));
    r->name = px__xstrndup(name, strlen(name));
  }
  r->payload = payload;
  r->due = due;
  r->period = period;
  r->left = left;
  r->retry_at = 0;
  r->gone = false;
  return r;
}

/* Arms the wake-up for the nearest due time (or disarms). */
static void schedule(svc *sv) {
  if (sv->n == 0) {
    if (sv->timer) (void)px_cancel_timer(sv->timer);
    sv->timer = 0;
    sv->armed = false;
    return;
  }
  int64_t min = wake_of(&sv->v[0]);
  for (size_t i = 1; i < sv->n; i++)
    if (wake_of(&sv->v[i]) < min) min = wake_of(&sv->v[i]);
  if (sv->armed && sv->armed_due == min) return;
  if (sv->timer) (void)px_cancel_timer(sv->timer);
  sv->timer = 0;
  sv->gen++;
  sv->armed = true;
  sv->armed_due = min;
  /* The timer counts from the timer clock's "now" when it is added: if
   * the reminder clock moved between reading it and adding the timer (a
   * test's virtual clock jumps), the timer would be late by that much, so
   * it is armed again from the new "now". */
  for (;;) {
    int64_t now = px__reminder_now();
    int64_t delay = min - now;
    if (delay <= 0) { /* due already: no timer (a virtual clock would wait) */
      px_send(px_self(), px__rem_tick, px_int((int64_t)sv->gen));
      return;
    }
    sv->timer = px_send_after(delay, px_self(), px__rem_tick,
                              px_int((int64_t)sv->gen));
    if (px__reminder_now() == now) return;
    (void)px_cancel_timer(sv->timer);
    sv->timer = 0;
  }
}

/* ---- loading ---------------------------------------------------------------- */

static int load_one(void *ud, const char *owner, const char *name,
                    px_val stored, int64_t due, int64_t period) {
  svc *sv = ud;
  px_val p;
  int64_t left;
  px__reminder_unwrap(stored, &p, &left);
  rem_upsert(sv, owner, name, px_val_retain(p), due, period, left, true);
  px_val_release(stored);
  return 0;
}

/* ---- a tick ------------------------------------------------------------------ */

static void op_push(svc *sv, px_store_op op, px_val owned) {
  if (sv->nops == sv->cap_ops) {
    sv->cap_ops = sv->cap_ops ? sv->cap_ops * 2 : 16;
    sv->ops = px__xrealloc(sv->ops, sv->cap_ops * sizeof *sv->ops);
    sv->vals = px__xrealloc(sv->vals, sv->cap_ops * sizeof *sv->vals);
  }
  sv->vals[sv->nops] = owned;
  sv->ops[sv->nops++] = op;
}

static void ops_clear(svc *sv) {
  for (size_t i = 0; i < sv->nops; i++) px_val_release(sv->vals[i]);
  sv->nops = 0;
}

static int by_due(const void *a, const void *b) {
  const rem *x = *(rem *const *)a, *y = *(rem *const *)b;
  return (x->due > y->due) - (x->due < y->due);
}

static void fire_due(svc *sv) {
  int64_t now = px__reminder_now();
  size_t nd = 0;
  for (size_t i = 0; i < sv->n; i++) nd += wake_of(&sv->v[i]) <= now;
  if (nd == 0) return;
  /* deliver in due order; pointers stay valid: nothing is added or
   * removed from the array until the writes are done */
  rem **due = px__xmalloc(nd * sizeof *due);
  nd = 0;
  for (size_t i = 0; i < sv->n; i++)
    if (wake_of(&sv->v[i]) <= now) due[nd++] = &sv->v[i];
  qsort(due, nd, sizeof *due, by_due);
  for (size_t i = 0; i < nd; i++) {
    rem *r = due[i];
    px_val msg = px_map(4, px_str("name"), px_str(r->name), px_str("payload"),
                        px_val_retain(r->payload), px_str("due_ms"),
                        px_int(r->due), px_str("fired_ms"), px_int(now));
    px_atom type = strcmp(r->name, PX__ALARM_NAME) ? px__rem_fired
                                                   : px__rem_alarm;
    int rc = px__reminder_deliver(r->owner, type, msg);
    if (rc) {
      if (!r->retry_at) /* once per failing streak, not every retry */
        px_log(PX_LOG_WARN, "reminder", "%s/%s: delivery failed (%s), "
               "retrying every %d ms", r->owner, r->name, px_err_name(rc),
               RETRY_MS);
      r->retry_at = now + RETRY_MS;
      continue;
    }
    r->retry_at = 0;
    px_store_op op = {.space = r->owner, .key = r->name};
    if (r->period > 0 && r->left != 1) {
      if (r->left > 1) r->left--;
      r->due = px__reminder_next_due(r->due, r->period, now);
      px_val stored = px__reminder_wrap(px_val_retain(r->payload), r->left);
      op.kind = PX_STORE_REMINDER_PUT;
      op.value = stored;
      op.expiry_ms = r->due;
      op.i64 = r->period;
      op_push(sv, op, stored);
    } else {
      r->gone = true;
      op.kind = PX_STORE_REMINDER_DEL;
      op_push(sv, op, px_nil());
    }
  }
  free(due);
  if (sv->nops == 0) return;
  int rc = px_store_apply(sv->store, sv->ops, sv->nops);
  if (rc)
    px_log(PX_LOG_ERROR, "reminder", "storing %zu fired reminders failed: %s "
           "(they may fire again after a restart)", sv->nops,
           px_err_name(rc));
  ops_clear(sv);
  for (size_t i = sv->n; i-- > 0;)
    if (sv->v[i].gone) rem_drop(sv, i);
}

/* ---- the actor ---------------------------------------------------------------- */

static int svc_init(px_val args, void **state) {
  svc *sv = px__xcalloc(1, sizeof *sv);
  sv->store = (px_store *)(intptr_t)args.u.i;
  int rc = px_store_reminders(sv->store, load_one, sv);
  if (rc) {
    px_log(PX_LOG_ERROR, "reminder", "loading reminders failed: %s",
           px_err_name(rc));
    for (size_t i = 0; i < sv->n; i++) rem_free(&sv->v[i]);
    free(sv->v);
    free(sv);
    reg_remove((px_store *)(intptr_t)args.u.i, px_self());
    return rc;
  }
  /* R-H-18: periodic ticks missed while no service ran are skipped; a
   * one-shot reminder that came due meanwhile stays due (fires at once) */
  int64_t now = px__reminder_now();
  for (size_t i = 0; i < sv->n; i++) {
    rem *r = &sv->v[i];
    if (r->period > 0 && r->due <= now)
      r->due = px__reminder_next_due(r->due, r->period, now);
  }
  pthread_mutex_lock(&g_mu);
  reg *g = reg_find(sv->store);
  if (g) g->state = sv;
  pthread_mutex_unlock(&g_mu);
  schedule(sv);
  *state = sv;
  return 0;
}

/* put/note_put: [owner, name, stored, due, period]; del: [owner, name] */
static void svc_handle(void *state, const px_message *m) {
  svc *sv = state;
  px_val p = m->payload;
  if (m->type == px__rem_tick) {
    if (p.type == PX_T_INT && (uint64_t)p.u.i == sv->gen) {
      sv->armed = false;
      sv->timer = 0;
      fire_due(sv);
    }
    schedule(sv);
    return;
  }
  if (m->type == px__rem_ping) {
    px_reply(m, px_int(0));
    return;
  }
  const char *owner = px_str_ptr(px_at(p, 0));
  const char *name = px_str_ptr(px_at(p, 1));
  if (!owner || !name) return; /* not ours */
  int rc = 0;
  if (m->type == px__rem_put || m->type == px__rem_note_put) {
    px_val stored = px_at(p, 2);
    int64_t due = px_at(p, 3).u.i, period = px_at(p, 4).u.i;
    if (m->type == px__rem_put) {
      px_store_op op = {.kind = PX_STORE_REMINDER_PUT, .space = owner,
                        .key = name, .value = stored, .expiry_ms = due,
                        .i64 = period};
      rc = px_store_apply(sv->store, &op, 1);
    }
    if (rc == 0) {
      px_val pl;
      int64_t left;
      px__reminder_unwrap(stored, &pl, &left);
      rem_upsert(sv, owner, name, px_val_retain(pl), due, period, left,
                 false);
    }
  } else if (m->type == px__rem_del || m->type == px__rem_note_del) {
    if (m->type == px__rem_del) {
      px_store_op op = {.kind = PX_STORE_REMINDER_DEL, .space = owner,
                        .key = name};
      rc = px_store_apply(sv->store, &op, 1);
    }
    rem *r = rc == 0 ? rem_find(sv, owner, name) : NULL;
    if (r) rem_drop(sv, (size_t)(r - sv->v));
  } else {
    return;
  }
  if (m->corr) px_reply(m, px_int(rc));
  schedule(sv);
}

static void svc_terminate(void *state, px_val reason) {
  (void)reason;
  svc *sv = state;
  if (!sv) return;
  if (sv->timer) (void)px_cancel_timer(sv->timer);
  pthread_mutex_lock(&g_mu);
  reg *g = reg_find(sv->store);
  if (g && g->state == sv) *g = g_reg[--g_nreg];
  pthread_mutex_unlock(&g_mu);
  for (size_t i = 0; i < sv->n; i++) rem_free(&sv->v[i]);
  ops_clear(sv);
  free(sv->ops);
  free(sv->vals);
  free(sv->v);
  free(sv);
}

static const px_actor_type svc_type = {
    .name = "px_reminders",
    .init = svc_init,
    .handle = svc_handle,
    .terminate = svc_terminate,
};

int px_reminders_start(px_store *s) {
  if (!s) return PX_EINVAL;
  px__reminder_atoms();
  pthread_mutex_lock(&g_mu);
  int rc = 0;
  px_ref ref = px_ref_nil();
  if (reg_find(s)) {
    rc = PX_EEXIST;
  } else if (g_nreg == sizeof g_reg / sizeof *g_reg) {
    rc = PX_ENOMEM; /* one service per open store; 16 stores is plenty */
  } else {
    /* registered under the lock before init can run, so a set racing
     * with the start either reaches the service or is loaded by it */
    rc = px_spawn(&svc_type, px_int((int64_t)(intptr_t)s), NULL, &ref);
    if (rc == 0) g_reg[g_nreg++] = (reg){s, ref, NULL};
  }
  pthread_mutex_unlock(&g_mu);
  if (rc) return rc;
  /* Wait for init: a store that cannot be read is the caller's error,
   * not only a log line. A failed init exits with [init_failed, Code]. */
  px_val reply = px_nil();
  rc = px_ask(ref, px__rem_ping, px_nil(), -1, &reply);
  if (rc == PX_ENOPROC) {
    px_val code = px_at(reply, 1);
    rc = code.type == PX_T_INT && code.u.i < 0 ? (int)code.u.i : PX_EIO;
    reg_remove(s, ref);
  }
  px_val_release(reply);
  return rc;
}

static bool is_down(const px_message *m, void *ud) {
  px_mref want = *(px_mref *)ud;
  return m->type == px_a()->down_msg &&
         (px_mref)px_get(m->payload, px_atomv(px_a()->monitor_ref)).u.i ==
             want;
}

void px_reminders_stop(px_store *s) {
  px_ref ref;
  if (!px__reminder_service(s, &ref)) return;
  if (px_in_actor() && px_ref_eq(ref, px_self())) return;
  px_mref mref = px_monitor(ref);
  px_exit(ref, px_atomv(px_a()->shutdown));
  px_message *m = NULL;
  if (px_receive(is_down, &mref, -1, &m) == 0) px_message_free(m);
  reg_remove(s, ref); /* if it died before its init registered its state */
}
