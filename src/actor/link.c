/* Links, monitors and exit signals (SEMANTICS.md section B). Each side of a
 * link or monitor is owned by its actor and changed only by that actor, in
 * its own turn: requests travel as signals through the mailbox, so they are
 * ordered with the messages of the same sender (R-A-4). */
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"

static _Atomic(uint64_t) mref_seq;

px_mref px__new_mref(void) {
  return atomic_fetch_add_explicit(&mref_seq, 1, memory_order_relaxed) + 1;
}

px__actor_ext *px__ext(px__actor *a) {
  if (!a->ext) a->ext = px__xcalloc(1, sizeof *a->ext);
  return a->ext;
}

#define GROW(arr, n, cap)                                \
  do {                                                   \
    if ((n) == (cap)) {                                  \
      (cap) = (cap) ? (cap) * 2 : 4;                     \
      (arr) = px__xrealloc((arr), (cap) * sizeof *(arr)); \
    }                                                    \
  } while (0)

bool px__links_has(px__actor *a, px_ref r) {
  if (!a->ext) return false;
  for (uint32_t i = 0; i < a->ext->nlinks; i++)
    if (px_ref_eq(a->ext->links[i], r)) return true;
  return false;
}

void px__links_add(px__actor *a, px_ref r) {
  if (px__links_has(a, r)) return;
  px__actor_ext *e = px__ext(a);
  GROW(e->links, e->nlinks, e->caplinks);
  e->links[e->nlinks++] = r;
}

bool px__links_del(px__actor *a, px_ref r) {
  if (!a->ext) return false;
  px__actor_ext *e = a->ext;
  for (uint32_t i = 0; i < e->nlinks; i++)
    if (px_ref_eq(e->links[i], r)) {
      e->links[i] = e->links[--e->nlinks];
      return true;
    }
  return false;
}

void px__monitors_add(px__actor *a, px_mref m, px_ref target) {
  px__actor_ext *e = px__ext(a);
  GROW(e->monitors, e->nmonitors, e->capmonitors);
  e->monitors[e->nmonitors++] = (px__watcher){m, target};
}

bool px__monitors_del(px__actor *a, px_mref m, px_ref *target) {
  if (!a->ext) return false;
  px__actor_ext *e = a->ext;
  for (uint32_t i = 0; i < e->nmonitors; i++)
    if (e->monitors[i].mref == m) {
      if (target) *target = e->monitors[i].watcher;
      e->monitors[i] = e->monitors[--e->nmonitors];
      return true;
    }
  return false;
}

px_val px__exit_payload(px_ref from, px_val reason) {
  return px_map(2, px_atomv(px__atoms.exit_from), px_ref_val(from),
                px_atomv(px__atoms.exit_reason), reason);
}

px_val px__down_payload(px_ref from, px_mref mref, px_val reason) {
  return px_map(3, px_atomv(px__atoms.down_from), px_ref_val(from),
                px_atomv(px__atoms.monitor_ref), px_int((int64_t)mref),
                px_atomv(px__atoms.down_reason), reason);
}

/* The decision table of R-B-6..R-B-8. Takes ownership of m. */
int px__on_exit_signal(px__actor *a, px__msg *m, px_val *reason) {
  bool linked = (m->aux & 1) != 0;
  bool forced = (m->aux & 2) != 0;
  px_ref from = m->pub.from;
  px_val r = m->pub.payload;
  px_ref self = px__self_ref(a);
  /* An external thread cannot be killed: its proxy always traps. */
  bool external = atomic_load_explicit(&a->external, memory_order_relaxed);
  bool trapping = (a->flags & PX__AF_TRAP) || external;
  if (linked) {
    /* R-B-6: an exit over a link that is no longer active is dropped. The
     * partner is gone either way, so the link is too. */
    if (!px__links_del(a, from)) {
      px__msg_free(m);
      return 0;
    }
  }
  if (forced && !external) {
    *reason = px_val_retain(r);
    px__msg_free(m);
    return 1;
  }
  if (!linked && !external && px_is_atom(r, px__atoms.kill)) {
    /* R-B-7a, R-B-10: untrappable; partners will see `killed`. */
    px__msg_free(m);
    *reason = px_atomv(px__atoms.killed);
    return 1;
  }
  if (trapping) {
    /* R-B-8: becomes the message __EXIT__ {exit_from, exit_reason}. */
    m->pub.payload = px__exit_payload(from, r);
    m->pub.type = px__atoms.exit_msg;
    m->kind = PX__MK_EXITMSG;
    px__inbox_push(a, m);
    return 0;
  }
  if (px_is_atom(r, px__atoms.normal)) {
    /* R-B-6 / R-B-7c: normal kills only when sent by the actor itself. */
    bool self_sent = px_ref_eq(from, self);
    px__msg_free(m);
    if (!self_sent) return 0;
    *reason = px_atomv(px__atoms.normal);
    return 1;
  }
  *reason = px_val_retain(r);
  px__msg_free(m);
  return 1;
}

void px__on_link(px__actor *a, px_ref from) { px__links_add(a, from); }
void px__on_unlink(px__actor *a, px_ref from) { px__links_del(a, from); }

void px__on_monitor(px__actor *a, px_ref from, px_mref mref) {
  px__actor_ext *e = px__ext(a);
  GROW(e->watchers, e->nwatchers, e->capwatchers);
  e->watchers[e->nwatchers++] = (px__watcher){mref, from};
}

void px__on_demonitor(px__actor *a, px_mref mref) {
  if (!a->ext) return;
  px__actor_ext *e = a->ext;
  for (uint32_t i = 0; i < e->nwatchers; i++)
    if (e->watchers[i].mref == mref) {
      e->watchers[i] = e->watchers[--e->nwatchers];
      return;
    }
}

bool px__on_down(px__actor *a, px_mref mref) {
  return px__monitors_del(a, mref, NULL);
}

void px__notify_exit(px__actor *a, px_ref self, px_val reason) {
  if (!a->ext) return;
  px__actor_ext *e = a->ext;
  for (uint32_t i = 0; i < e->nlinks; i++)
    px__signal(e->links[i], PX__MK_EXIT, self, NULL, px_val_retain(reason), 0,
               1);
  e->nlinks = 0;
  for (uint32_t i = 0; i < e->nwatchers; i++)
    px__signal(e->watchers[i].watcher, PX__MK_DOWN, self, px__atoms.down_msg,
               px__down_payload(self, e->watchers[i].mref,
                                px_val_retain(reason)),
               0, e->watchers[i].mref);
  e->nwatchers = 0;
  e->nmonitors = 0;
}

/* ---- API ----------------------------------------------------------------- */

/* Puts an __EXIT__ {to, noproc} message in the caller's own inbox. */
static void self_exit_noproc(px__actor *me, px_ref to) {
  px__msg *m = px__msg_new();
  m->kind = PX__MK_EXITMSG;
  m->pub.type = px__atoms.exit_msg;
  m->pub.from = to;
  m->pub.payload = px__exit_payload(to, px_atomv(px__atoms.noproc));
  px__inbox_push(me, m);
}

int px_link(px_ref to) {
  px__actor *me = px__current(true);
  if (!me) return PX_ENOTACTOR;
  px_ref self = px__self_ref(me);
  if (px_ref_eq(to, self)) return 0; /* R-B-1: linking to self: no-op */
  if (px__links_has(me, to)) return 0;
  px__links_add(me, to);
  if (!px__signal(to, PX__MK_LINK, self, NULL, px_nil(), 0, 0)) {
    /* Already dead: our deviation from OTP's quirk is a return code, plus
     * the message when trapping (R-B-3). A target that dies while the link
     * request is queued answers it with an exit signal instead. */
    px__links_del(me, to);
    if (me->flags & PX__AF_TRAP ||
        atomic_load_explicit(&me->external, memory_order_relaxed))
      self_exit_noproc(me, to);
    return PX_ENOPROC;
  }
  return 0;
}

int px_unlink(px_ref to) {
  px__actor *me = px__current(true);
  if (!me) return PX_ENOTACTOR;
  if (!px__links_del(me, to)) return 0;
  px__signal(to, PX__MK_UNLINK, px__self_ref(me), NULL, px_nil(), 0, 0);
  return 0;
}

px_mref px_monitor(px_ref to) {
  px__actor *me = px__current(true);
  if (!me) return 0;
  px_ref self = px__self_ref(me);
  px_mref m = px__new_mref();
  px__monitors_add(me, m, to);
  if (!px__signal(to, PX__MK_MONITOR, self, NULL, px_nil(), 0, m)) {
    /* R-B-12: an immediate __DOWN__ noproc. A target that dies while the
     * request is queued answers it with its own DOWN. */
    px__signal(self, PX__MK_DOWN, to, px__atoms.down_msg,
               px__down_payload(to, m, px_atomv(px__atoms.noproc)), 0, m);
  }
  return m;
}

static bool is_down_for(const px_message *msg, void *ud) {
  px__msg *m = PX__MSG_OF(msg);
  return m->kind == PX__MK_DOWN && m->aux == *(px_mref *)ud;
}

int px_demonitor(px_mref mref, bool flush) {
  px__actor *me = px__current(true);
  if (!me) return PX_ENOTACTOR;
  px_ref target;
  /* R-B-15: from now on a __DOWN__ for mref is dropped on arrival because
   * the mref is no longer held; the target forgets its watcher. */
  if (px__monitors_del(me, mref, &target))
    px__signal(target, PX__MK_DEMONITOR, px__self_ref(me), NULL, px_nil(), 0,
               mref);
  if (flush) {
    px__drain_or_die(me);
    px__msg *prev = NULL, *m = me->inbox_head;
    while (m) {
      px__msg *n = (px__msg *)atomic_load_explicit(&m->node.next,
                                                   memory_order_relaxed);
      if (is_down_for(&m->pub, &mref)) {
        px__inbox_remove(me, prev, m);
        px__msg_free(m);
      } else {
        prev = m;
      }
      m = n;
    }
  }
  return 0;
}
