/* The durability facet's way back: restore the newest snapshot, replay the
 * journal after it through the user's handler, and serve side effects from
 * the journal while doing so (include/plexspaces/durable.h). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "facet/durable_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "store/store_async.h"

/* ---- reading the journal ------------------------------------------------- */

typedef struct reader {
  px__durable *d;
  size_t cap;
  uint64_t last; /* last seq read, to name where a read failed */
} reader;

static int keep_entry(void *ud, uint64_t seq, const char *kind, px_val value,
                      int64_t ts_ms) {
  (void)ts_ms;
  reader *r = ud;
  r->last = seq;
  int k = !kind                             ? -1
          : strcmp(kind, PX__DUR_K_MSG) == 0   ? PX__DUR_E_MSG
          : strcmp(kind, PX__DUR_K_FX) == 0    ? PX__DUR_E_FX
          : strcmp(kind, PX__DUR_K_CRASH) == 0 ? PX__DUR_E_CRASH
                                               : -1;
  if (k < 0) {
    px_val_release(value); /* a kind of a newer version: not ours */
    return 0;
  }
  px__durable *d = r->d;
  if (d->nlog == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 64;
    d->log = px__xrealloc(d->log, r->cap * sizeof *d->log);
  }
  d->log[d->nlog++] = (px__dur_entry){seq, k, value};
  return 0;
}

/* An entry of the right shape: msg = [type, payload, was_ask], fx = [name,
 * rc, value]. */
static bool well_formed(const px__dur_entry *e) {
  px_val v = e->value;
  if (e->kind == PX__DUR_E_CRASH) return true; /* informative only */
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) != 3) return false;
  if (e->kind == PX__DUR_E_MSG)
    return px_typeof(px_at(v, 0)) == PX_T_ATOM &&
           px_typeof(px_at(v, 2)) == PX_T_BOOL;
  return px_typeof(px_at(v, 0)) == PX_T_STR &&
         px_typeof(px_at(v, 1)) == PX_T_INT;
}

static _Noreturn void corrupt(px__durable *d, uint64_t seq, int rc) {
  px_log(PX_LOG_ERROR, "durable", "%s: journal unreadable at seq %llu (%s)",
         d->id, (unsigned long long)seq, rc ? px_strerror(rc) : "malformed");
  px_exit_self(px_arr(2, px_atomv(px__dur_a()->journal_corrupt),
                      px_int((int64_t)seq)));
  __builtin_unreachable();
}

void px__dur_replay_free(px__durable *d) {
  if (d->replay_msg) px_message_free(d->replay_msg);
  d->replay_msg = NULL;
  for (size_t i = 0; i < d->nlog; i++) px_val_release(d->log[i].value);
  free(d->log);
  d->log = NULL;
  d->nlog = 0;
  d->fx = NULL;
  d->nfx = d->fx_pos = 0;
}

/* ---- restore and replay -------------------------------------------------- */

static void load_snapshot(px__durable *d) {
  uint64_t seq = 0;
  px_val saved;
  int rc = px_store_snapshot_get(d->o.store, d->id, &seq, &saved);
  if (rc == PX_ENOTFOUND) return;
  if (rc) corrupt(d, 0, rc);
  rc = d->o.decode(saved, px__dur_user_state(d));
  px_val_release(saved);
  if (rc) corrupt(d, seq, rc < 0 ? rc : 0);
  d->ckpt_seq = seq;
}

static uint64_t done_mark(px__durable *d) {
  px_val v;
  if (px_store_kv_get(d->o.store, d->id, PX__DUR_DONE_KEY, &v, NULL) != 0)
    return 0;
  uint64_t seq = px_typeof(v) == PX_T_INT && v.u.i > 0 ? (uint64_t)v.u.i : 0;
  px_val_release(v);
  return seq;
}

/* Replays log[i], a message whose effects are log[i+1 .. i+1+nfx). */
static void replay_one(px__durable *d, size_t i, size_t nfx, bool complete) {
  px_val v = d->log[i].value;
  d->fx = d->log + i + 1;
  d->nfx = nfx;
  d->fx_pos = 0;
  d->fx_strict = complete;
  d->replay_msg = px__message_new(px_at(v, 0).u.a,
                                  px_val_retain(px_at(v, 1)),
                                  px_at(v, 2).u.b ? 1 : 0);
  px__set_send_mode(complete ? PX__FSEND_MUTE : PX__FSEND_COUNT);
  d->replaying = true;
  d->in_msg = true;
  px__take_sent();
  d->type->handle(d->hdr.state, d->replay_msg);
  d->in_msg = false;
  d->replaying = false;
  px__set_send_mode(PX__FSEND_COUNT);
  /* Complete now: no send of it is to be made again. */
  if (!complete && px__take_sent() > 0) px__dur_mark_done(d, d->log[i].seq);
  if (d->fx_pos < d->nfx && complete)
    px_log(PX_LOG_WARN, "durable",
           "%s: replay of seq %llu used %zu of %zu recorded side effects",
           d->id, (unsigned long long)d->log[i].seq, d->fx_pos, d->nfx);
  px_message_free(d->replay_msg);
  d->replay_msg = NULL;
  d->fx = NULL;
  d->nfx = d->fx_pos = 0;
  d->replayed++;
}

void px__dur_restore(px__durable *d) {
  /* A GenServer whose init failed has no user state: it exits on its
   * first message, with nothing to restore into. */
  if (d->gen_server && !px__dur_user_state(d)) return;
  /* A barrier: an earlier incarnation killed while parked in an append
   * left its write queued in the store. The writer applies in queue
   * order, so once this no-op is durable that write is visible; without
   * it, this incarnation would take the same seq and exit [conflict].
   * Needed only while some append is in flight. */
  if (px__store_appends_pending(d->o.store)) {
    px_store_op barrier = {0};
    barrier.kind = PX_STORE_KV_DEL;
    barrier.space = d->id;
    barrier.key = PX__DUR_BARRIER_KEY;
    int brc = px_store_apply(d->o.store, &barrier, 1);
    if (brc) corrupt(d, 0, brc);
  }
  load_snapshot(d);
  uint64_t last = 0;
  int rc = px_store_journal_last(d->o.store, d->id, &last);
  if (rc) corrupt(d, d->ckpt_seq, rc);
  d->seq = last > d->ckpt_seq ? last : d->ckpt_seq;
  if (d->o.no_journal) return;
  reader r = {d, 0, d->ckpt_seq};
  rc = px_store_journal_read(d->o.store, d->id, d->ckpt_seq, keep_entry, &r);
  if (rc) corrupt(d, r.last + 1, rc);
  /* Everything is checked before anything runs: a bad entry stops the
   * actor before it has done half a replay. */
  for (size_t i = 0; i < d->nlog; i++)
    if (!well_formed(&d->log[i])) corrupt(d, d->log[i].seq, 0);
  uint64_t done = done_mark(d);
  /* A mark beyond the stream's end outlived a deleted stream: stale. */
  if (done > d->seq) done = 0;
  for (size_t i = 0; i < d->nlog; i++) {
    if (d->log[i].kind != PX__DUR_E_MSG) continue; /* none before a msg */
    size_t next = i + 1, nfx = 0;
    bool crashed = false;
    for (; next < d->nlog && d->log[next].kind != PX__DUR_E_MSG; next++) {
      if (d->log[next].kind == PX__DUR_E_FX) nfx++;
      if (d->log[next].kind == PX__DUR_E_CRASH) crashed = true;
    }
    /* A message the actor died of is not handled again (a poison message
     * would crash every activation), as Erlang drops it. */
    if (crashed) continue;
    /* Complete: a later message was journaled, or its done mark stored. */
    bool complete = next < d->nlog || done >= d->log[i].seq;
    replay_one(d, i, nfx, complete);
    d->since++;
  }
  px__dur_replay_free(d);
}

/* ---- side effects -------------------------------------------------------- */

int px_side_effect(const char *name, px_effect_fn fn, void *ud, px_val *out) {
  if (!out) return PX_EINVAL;
  *out = px_nil();
  if (!name || !fn) return PX_EINVAL;
  px__durable *d = px__dur_self();
  if (!d || !d->in_msg || d->o.no_journal) return fn(ud, out);
  if (d->replaying && d->fx_pos < d->nfx) {
    px_val e = d->fx[d->fx_pos].value;
    if (strcmp(px_str_ptr(px_at(e, 0)), name) != 0) {
      px_log(PX_LOG_ERROR, "durable",
             "%s: replay of seq %llu: effect '%s' where '%s' was recorded",
             d->id, (unsigned long long)d->fx[d->fx_pos].seq, name,
             px_str_ptr(px_at(e, 0)));
      return PX_ENONDETERMINISM;
    }
    d->fx_pos++;
    *out = px_val_retain(px_at(e, 2));
    return (int)px_at(e, 1).u.i;
  }
  if (d->replaying && d->fx_strict) {
    px_log(PX_LOG_ERROR, "durable",
           "%s: replay made effect '%s' beyond the %zu recorded", d->id,
           name, d->nfx);
    return PX_ENONDETERMINISM;
  }
  px_val v = px_nil();
  int rc = fn(ud, &v);
  px_val e = px_arr(3, px_str(name), px_int(rc), v);
  int arc = px__dur_append(d, PX__DUR_K_FX, e, &e);
  if (arc == 0) *out = px_val_retain(px_at(e, 2));
  px_val_release(e);
  return arc ? arc : rc;
}
