/* The durability facet: spawn, the live message path and checkpoints
 * (include/plexspaces/durable.h says what it promises).
 *
 * A durable actor runs a wrapper px_actor_type (one per user type, with the
 * user's name and stack size, so introspection and stats still show the
 * user's type). The wrapper's state is the px__durable record, attached to
 * the actor at spawn through the actor core's facet hook (src/actor/
 * facet.h), which also frees it at exit, whatever kind of exit. The
 * wrapper's init runs the user's init, then restores and replays
 * (durable_replay.c); its handle journals each message, then runs the
 * user's handle. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "behavior/beh.h"
#include "facet/durable_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"
#include "store/store_async.h"

/* ---- atoms --------------------------------------------------------------- */

static px__dur_atoms atoms;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;

static void atoms_init(void) {
  atoms.tick = px_atom_of("__durable_tick__");
  atoms.deactivate = px_atom_of("__durable_deactivate__");
  atoms.conflict = px_atom_of("conflict");
  atoms.journal_corrupt = px_atom_of("journal_corrupt");
  atoms.journal_failed = px_atom_of("journal_failed");
  atoms.idle = px_atom_of("idle");
}

const px__dur_atoms *px__dur_a(void) {
  pthread_once(&atoms_once, atoms_init);
  return &atoms;
}

px_val px__dur_idle_reason(void) {
  return px_arr(2, px_atomv(px_a()->shutdown), px_atomv(px__dur_a()->idle));
}

/* ---- the record ---------------------------------------------------------- */

static void dur_destroy(px__facet *f) {
  px__durable *d = (px__durable *)f;
  if (d->tick) px_cancel_timer(d->tick);
  px_val_release(d->pending);
  px__dur_replay_free(d);
  free(d->id);
  free(d);
}

px__durable *px__dur_self(void) {
  px__facet *f = px__self_facet();
  /* Other facets may exist: ours is recognised by its destructor. */
  return f && f->destroy == dur_destroy ? (px__durable *)f : NULL;
}

void *px__dur_user_state(px__durable *d) {
  return d->gen_server ? px_gen_server_user_state(d->hdr.state)
                       : d->hdr.state;
}

_Noreturn void px__dur_conflict(px__durable *d) {
  px_log(PX_LOG_ERROR, "durable",
         "%s: another live actor writes this journal; exiting", d->id);
  px_exit_self(px_arr(2, px_atomv(px__dur_a()->conflict), px_str(d->id)));
  __builtin_unreachable();
}

/* ---- journal writes ------------------------------------------------------ */

/* px_store_apply with `held` parked in d->pending meanwhile (see there);
 * returns it in *back. */
static int apply_holding(px__durable *d, const px_store_op *ops, size_t n,
                         px_val held, px_val *back) {
  d->pending = held;
  int rc = px_store_apply(d->o.store, ops, n);
  *back = d->pending;
  d->pending = px_nil();
  return rc;
}

int px__dur_append(px__durable *d, const char *kind, px_val value,
                   px_val *back) {
  px_store_op op = {0};
  op.kind = PX_STORE_JOURNAL_APPEND;
  op.space = d->id;
  op.id = d->seq + 1;
  op.key = kind;
  op.value = value; /* the store encodes it before parking */
  int rc = apply_holding(d, &op, 1, value, back);
  if (rc == PX_ECONFLICT) {
    px_val_release(*back);
    *back = px_nil();
    px__dur_conflict(d);
  }
  if (rc == 0) d->seq++;
  return rc;
}

static void done_written(void *ud, int rc) {
  /* Nothing to do: a lost mark only means that the message's sends are
   * made again if it is the last one replayed (at least once). */
  (void)ud;
  (void)rc;
}

void px__dur_mark_crash(px__durable *d, px_val reason) {
  char buf[256];
  px_val_format(reason, buf, sizeof buf);
  px_store_op op = {0};
  op.kind = PX_STORE_JOURNAL_APPEND;
  op.space = d->id;
  op.id = d->seq + 1;
  op.key = PX__DUR_K_CRASH;
  op.value = px_str(buf);
  /* Queued before the exit is announced, so the next activation's store
   * barrier sees it. A taken seq (a second writer) just fails. */
  px__store_apply_cb(d->o.store, &op, 1, done_written, NULL);
  px_val_release(op.value);
}

void px__dur_mark_done(px__durable *d, uint64_t seq) {
  px_store_op op = {0};
  op.kind = PX_STORE_KV_PUT;
  op.space = d->id;
  op.key = PX__DUR_DONE_KEY;
  op.value = px_int((int64_t)seq);
  px__store_apply_cb(d->o.store, &op, 1, done_written, NULL);
}

int px__dur_checkpoint(px__durable *d) {
  /* Without a journal, a snapshot's seq only orders snapshots. */
  uint64_t seq = d->o.no_journal ? d->seq + 1 : d->seq;
  px_val st = d->o.encode(px__dur_user_state(d));
  px_store_op ops[2] = {{0}, {0}};
  ops[0].kind = PX_STORE_SNAPSHOT_PUT;
  ops[0].space = d->id;
  ops[0].id = seq;
  ops[0].value = st;
  ops[1].kind = PX_STORE_JOURNAL_TRUNCATE; /* auto-truncate */
  ops[1].space = d->id;
  ops[1].id = seq;
  int rc = apply_holding(d, ops, 2, st, &st);
  px_val_release(st);
  if (rc) {
    px_log(PX_LOG_ERROR, "durable", "%s: checkpoint at %llu failed: %s",
           d->id, (unsigned long long)seq, px_strerror(rc));
    return rc;
  }
  d->seq = seq;
  d->ckpt_seq = seq;
  d->since = 0;
  return 0;
}

/* ---- the wrapper type ---------------------------------------------------- */

static int dur_init(px_val args, void **state) {
  px__durable *d = px__dur_self();
  if (!d) return PX_EINVAL; /* not spawned by px_spawn_durable */
  *state = d;
  /* The user's init writes the state px_self_state() returns. */
  int rc = d->type->init ? d->type->init(args, &d->hdr.state) : 0;
  if (rc) return rc;
  px__dur_restore(d); /* exits the actor if the journal is unreadable */
  /* Sends are counted: only a message that sent needs a done mark. */
  if (!d->o.no_journal) px__set_send_mode(PX__FSEND_COUNT);
  if (d->o.checkpoint_interval_ms > 0)
    d->tick = px_send_interval(d->o.checkpoint_interval_ms, px_self(),
                               px__dur_a()->tick, px_nil());
  return 0;
}

/* Messages of the runtime and of behaviors (__EXIT__, __DOWN__,
 * __gen_stop__, ...) concern this incarnation only: not journaled. A
 * GenServer cast is a user message in an envelope. */
static bool journaled(px_atom type) {
  const char *n = px_atom_name(type);
  return n[0] != '_' || n[1] != '_' || type == px__beh_a()->cast;
}

static void after_message(px__durable *d, uint64_t seq, bool sent) {
  if (++d->since >= d->o.checkpoint_every) {
    px__dur_checkpoint(d);
    return;
  }
  /* The done mark tells a replay that this message's sends were made. A
   * later message proves that too, so it is skipped when something is
   * queued, and when there was no send to suppress. */
  if (sent && !px__self_mail_pending()) px__dur_mark_done(d, seq);
}

static void deactivate(px__durable *d, px_val reason) {
  if (d->since > 0 || d->seq > d->ckpt_seq) px__dur_checkpoint(d);
  if (px_is_nil(reason)) reason = px__dur_idle_reason();
  if (d->gen_server) {
    /* An orderly stop, so the server's terminate runs (OTP: a stop
     * request); it exits with the reason. The message is kept in the
     * record, which frees it, as the handler does not return. */
    d->replay_msg = px__message_new(px__beh_a()->stop, reason, 0);
    d->type->handle(d->hdr.state, d->replay_msg);
  }
  px_exit_self(reason);
}

static void dur_handle(void *state, const px_message *m) {
  px__durable *d = state;
  const px__dur_atoms *A = px__dur_a();
  if (!m->corr && m->type == A->tick) {
    if (d->since > 0) px__dur_checkpoint(d);
    return;
  }
  if (!m->corr && m->type == A->deactivate)
    deactivate(d, px_val_retain(m->payload));
  if (d->o.no_journal || !journaled(m->type)) {
    d->type->handle(d->hdr.state, m);
    if (d->o.no_journal && journaled(m->type)) after_message(d, 0, false);
    return;
  }
  px_val entry = px_arr(3, px_atomv(m->type), px_val_retain(m->payload),
                        px_bool(m->corr != 0));
  int rc = px__dur_append(d, PX__DUR_K_MSG, entry, &entry);
  px_val_release(entry);
  if (rc) {
    /* Not journaled, so not handled: it would be lost at replay. */
    px_log(PX_LOG_WARN, "durable", "%s: message %s not journaled: %s", d->id,
           px_atom_name(m->type), px_strerror(rc));
    if (m->corr)
      px_reply_error(m, px_arr(2, px_atomv(A->journal_failed),
                               px_atom_val(px_err_name(rc))));
    return;
  }
  uint64_t seq = d->seq;
  px__take_sent(); /* counts from zero */
  d->in_msg = true;
  d->type->handle(d->hdr.state, m);
  d->in_msg = false;
  after_message(d, seq, px__take_sent() > 0);
}

static void dur_terminate(void *state, px_val reason) {
  px__durable *d = state;
  if (!d) return;
  /* The handler of a journaled message ended the actor (px_exit_self: a
   * crash or a stop; or a stack overflow): mark the message so that no
   * replay runs it again. An exit signal (a kill, a shutdown) is not the
   * message's doing: it is replayed (at least once). A completed message
   * that ends the actor only in replay is left alone: the mark would not
   * follow it. */
  bool own = d->hdr.exited_itself ||
             px_is_atom(reason, px_a()->stack_overflow);
  if (own && d->in_msg && !d->o.no_journal &&
      (!d->replaying || !d->fx_strict))
    px__dur_mark_crash(d, reason);
  if (d->type->terminate) d->type->terminate(d->hdr.state, reason);
}

/* One wrapper per user type, made on first use and kept for the life of
 * the process (types outlive the runtime). */
typedef struct wrap {
  const px_actor_type *user;
  px_actor_type w;
} wrap;

static struct {
  pthread_mutex_t lock;
  wrap **v;
  size_t n, cap;
} wraps = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const px_actor_type *wrapper_of(const px_actor_type *t) {
  pthread_mutex_lock(&wraps.lock);
  const px_actor_type *found = NULL;
  for (size_t i = 0; i < wraps.n && !found; i++)
    if (wraps.v[i]->user == t) found = &wraps.v[i]->w;
  if (!found) {
    if (wraps.n == wraps.cap) {
      wraps.cap = wraps.cap ? wraps.cap * 2 : 8;
      wraps.v = px__xrealloc(wraps.v, wraps.cap * sizeof *wraps.v);
    }
    wrap *w = px__xcalloc(1, sizeof *w);
    w->user = t;
    w->w.name = t->name ? t->name : "durable";
    w->w.stack_size = t->stack_size;
    w->w.init = dur_init;
    w->w.handle = dur_handle;
    w->w.terminate = dur_terminate;
    wraps.v[wraps.n++] = w;
    found = &w->w;
  }
  pthread_mutex_unlock(&wraps.lock);
  return found;
}

/* ---- API ----------------------------------------------------------------- */

int px_spawn_durable(const px_actor_type *type, px_val args, const char *id,
                     const px_durable_opts *o, const px_spawn_opts *opts,
                     px_ref *out) {
  if (!type || !type->handle || !id || !*id || !o || !o->store ||
      !o->encode || !o->decode || o->checkpoint_interval_ms < 0) {
    px_val_release(args);
    return PX_EINVAL;
  }
  px__durable *d = px__xcalloc(1, sizeof *d);
  d->hdr.destroy = dur_destroy;
  d->type = type;
  d->gen_server = type == px_gen_server_type();
  d->o = *o;
  if (!d->o.checkpoint_every) d->o.checkpoint_every = 1000;
  d->id = px__xstrndup(id, strlen(id));
  return px__spawn_facet(wrapper_of(type), args, opts, &d->hdr, out);
}

int px_durable_deactivate(px_ref ref, px_val reason) {
  px_actor_info info;
  if (px_actor_info_get(ref, &info) != 0) {
    px_val_release(reason);
    return PX_ENOPROC;
  }
  return px_send(ref, px__dur_a()->deactivate, reason);
}

bool px_is_replaying(void) {
  px__durable *d = px__dur_self();
  return d && d->replaying;
}

uint64_t px_durable_seq(void) {
  px__durable *d = px__dur_self();
  return d ? d->seq : 0;
}

int px_durable_checkpoint(void) {
  px__durable *d = px__dur_self();
  if (!d) return PX_ENOTACTOR;
  if (d->replaying) return 0;
  return px__dur_checkpoint(d);
}
