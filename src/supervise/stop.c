/* The shutdown protocol (R-C-19..R-C-22). The supervisor watches a child
 * it stops through a monitor, never through the link: it monitors, then
 * unlinks (so a child that unlinked itself cannot hang it, and no stray
 * __EXIT__ follows), then sends the exit signal and waits for __DOWN__.
 *
 * Timeouts are runtime timers armed before the exit signal goes out, so
 * by the time a child can observe its shutdown the deadline is already on
 * the clock; with a virtual clock, a test that sees the child react may
 * advance time and know the kill follows. */
#include <stdlib.h>

#include "core/mem.h"
#include "plexspaces/runtime.h"
#include "supervise/sup.h"

typedef struct pending {
  px__sup_child *c;
  px_ref ref;
  px_mref mref;
  px_val reason;  /* how it ended; nil until known */
  bool early;     /* it had already exited before we asked */
  bool down;
} pending;

typedef struct wait_set {
  pending *p;
  size_t n;
  uint64_t seq;   /* names this shutdown's timer ticks */
} wait_set;

bool px__sup_exit_from(const px_message *m, px_ref *from) {
  px_val k = px_atomv(px_a()->exit_from);
  return px_val_ref(px_get(m->payload, k), from);
}

static bool is_exit_of(const px_message *m, void *ud) {
  px_ref from;
  return m->type == px_a()->exit_msg && px__sup_exit_from(m, &from) &&
         px_ref_eq(from, *(px_ref *)ud);
}

static pending *down_target(wait_set *ws, const px_message *m) {
  px_val mr = px_get(m->payload, px_atomv(px_a()->monitor_ref));
  if (px_typeof(mr) != PX_T_INT) return NULL;
  for (size_t i = 0; i < ws->n; i++)
    if (!ws->p[i].down && ws->p[i].mref == (px_mref)mr.u.i) return &ws->p[i];
  return NULL;
}

static bool is_ours(const px_message *m, void *ud) {
  wait_set *ws = ud;
  if (m->type == px_a()->down_msg) return down_target(ws, m) != NULL;
  if (m->type == px__sup_a()->tick)
    return px_typeof(px_at(m->payload, 0)) == PX_T_INT &&
           (uint64_t)px_at(m->payload, 0).u.i == ws->seq;
  return false;
}

/* R-C-20: what counts as a clean stop. A child that exits with `killed`
 * after brutal_kill is clean; `noproc` means it was already gone. */
static bool clean(const pending *p) {
  px_val r = p->reason;
  const px__sup_child *c = p->c;
  if (px_is_atom(r, px_a()->noproc)) return true;
  if (c->shutdown == PX_SUP_BRUTAL_KILL && !p->early &&
      px_is_atom(r, px_a()->killed))
    return true;
  if (px_is_atom(r, px_a()->shutdown)) return true;
  return c->restart != PX_SUP_PERMANENT && px_reason_is_normal(r);
}

static uint64_t tick_seq;

void px__sup_scratch_free(px__sup_scratch *sc) {
  pending *p = sc->pending;
  for (size_t i = 0; p && i < sc->npending; i++) px_val_release(p[i].reason);
  free(sc->pending);
  free(sc->timers);
  free(sc->all);
  *sc = (px__sup_scratch){0};
}

void px__sup_stop_children(px__sup_scratch *sc, px__sup_child **cs,
                           size_t n) {
  wait_set ws = {px__xcalloc(n ? n : 1, sizeof(pending)), 0,
                 __atomic_add_fetch(&tick_seq, 1, __ATOMIC_RELAXED)};
  sc->pending = ws.p;
  for (size_t i = 0; i < n; i++) {
    px__sup_child *c = cs[i];
    if (px_ref_is_nil(c->ref)) continue;
    pending *p = &ws.p[ws.n++];
    sc->npending = ws.n;
    p->c = c;
    p->ref = c->ref;
    p->reason = px_nil();
    p->mref = px_monitor(c->ref);
    px_unlink(c->ref);
    /* An __EXIT__ already queued means it died on its own first: keep that
     * reason (the __DOWN__ will only say noproc or repeat it). */
    px_message *m;
    if (px_receive(is_exit_of, &c->ref, 0, &m) == 0) {
      p->reason = px_val_retain(px_get(m->payload,
                                       px_atomv(px_a()->exit_reason)));
      p->early = true;
      px_message_free(m);
    }
  }
  /* One timer per distinct finite timeout (simple_one_for_one children all
   * share one), armed before any signal is sent. */
  px_tref *timers = px__xcalloc(ws.n ? ws.n : 1, sizeof *timers);
  sc->timers = timers;
  size_t ntimers = 0;
  for (size_t i = 0; i < ws.n; i++) {
    int64_t t = ws.p[i].c->shutdown;
    if (t <= 0 || ws.p[i].early) continue;
    bool seen = false;
    for (size_t j = 0; j < i; j++)
      if (ws.p[j].c->shutdown == t && !ws.p[j].early) seen = true;
    if (!seen)
      timers[ntimers++] =
          px_send_after(t, px_self(), px__sup_a()->tick,
                        px_arr(2, px_int((int64_t)ws.seq), px_int(t)));
  }
  for (size_t i = 0; i < ws.n; i++) {
    pending *p = &ws.p[i];
    if (p->early) continue;
    bool brutal = p->c->shutdown == PX_SUP_BRUTAL_KILL;
    px_exit(p->ref, px_atomv(brutal ? px_a()->kill : px_a()->shutdown));
  }
  size_t left = ws.n;
  while (left) {
    px_message *m;
    if (px_receive(is_ours, &ws, -1, &m) != 0) break; /* cannot happen */
    if (m->type == px_a()->down_msg) {
      pending *p = down_target(&ws, m);
      p->down = true;
      left--;
      if (!p->early)
        p->reason = px_val_retain(px_get(m->payload,
                                         px_atomv(px_a()->down_reason)));
    } else {
      /* R-C-20: the timeout passed; kill whoever still runs with it. */
      int64_t t = px_at(m->payload, 1).u.i;
      for (size_t i = 0; i < ws.n; i++)
        if (!ws.p[i].down && !ws.p[i].early && ws.p[i].c->shutdown == t)
          px_exit(ws.p[i].ref, px_atomv(px_a()->kill));
    }
    px_message_free(m);
  }
  for (size_t i = 0; i < ntimers; i++) px_cancel_timer(timers[i]);
  free(timers);
  sc->timers = NULL;
  for (size_t i = 0; i < ws.n; i++) {
    pending *p = &ws.p[i];
    if (!clean(p))
      px__sup_report(PX_SUP_REPORT_SHUTDOWN_ERROR, px_self(), p->c,
                     p->reason);
    p->c->ref = px_ref_nil();
    px_val_release(p->reason);
  }
  free(ws.p);
  sc->pending = NULL;
  sc->npending = 0;
}
