/*
 * Hierarchical timing wheel, hand-written on purpose.
 *
 * Why hand-written: no packaged C library gives us what the timer service
 * needs, which is an *intrusive* timer node (no allocation per timer) with
 * O(1) add and O(1) cancel, in a hierarchical wheel that holds a million
 * pending timers in bounded memory. libuv and libev keep timers in binary
 * heaps (O(log n) insert and cancel, and the loop owns them); libevent's
 * min-heap is the same; Linux's timer wheel is kernel-only code.
 *
 * How it works:
 *
 * - Ticks are milliseconds in a uint64_t. Level k (0..5) has 64 slots, each
 *   2^(6k) ticks wide, so level 0 is exact to the tick and the six levels
 *   span 2^36 ticks (~795 days). Each level has a uint64_t occupancy bitmap.
 *   Later dues go on one overflow list.
 *
 * - A timer due at `d` when the wheel is at tick `now` (d > now) goes to the
 *   level of the highest 6-bit digit in which d and now differ, at slot
 *   digit_k(d). Hence every timer at level k shares all digits above k with
 *   now and has a larger digit k; in particular a level-0 slot holds timers
 *   of exactly one due tick, every level-k timer is due before every
 *   level-(k+1) timer, and within a level lower slots are due earlier.
 *   Dues at or before now go on a "ready" list, fired on the next advance.
 *
 * - Each list is doubly linked with its head in the wheel, and the node
 *   stores its list index, so removal is O(1) and clears the bitmap bit when
 *   a slot empties. Each list also keeps a lower bound of its dues (the
 *   minimum inserted since it was last empty); removals leave it a valid,
 *   possibly early, bound.
 *
 * - The earliest pending due is therefore the bound of the lowest occupied
 *   slot of the lowest non-empty level, found with one count-trailing-zeros
 *   per level: next_due() is O(levels).
 *
 * - advance(now) first fires the ready list, then repeatedly jumps straight
 *   to the next event tick E (as above, exact when the wheel holds no stale
 *   bound), detaches every slot that the move from the old tick to E passes
 *   over (a rotated bit range per level, so O(levels) plus the timers moved)
 *   and re-files each detached timer relative to E. Those due at E land on
 *   the "firing" list and are fired; the rest cascade to lower levels. Empty
 *   time costs nothing, so a gap of hours or years is as cheap as one tick,
 *   and each timer cascades at most once per level. Timers fire in due order
 *   because events are visited in increasing tick order. Finally the wheel
 *   cascades to `now` itself (firing nothing) so that the placement rule
 *   holds for the new current tick.
 *
 * - Fired timers are unlinked before the callback runs, and the firing list
 *   is just another wheel list, so callbacks may add or remove any timer,
 *   including ones about to fire in the same tick. Timers a callback adds
 *   at or before the current tick go on the ready list and wait for the next
 *   advance, so re-adding with period 0 cannot loop.
 */
#include "runtime/wheel.h"

#include <string.h>

#define BITS PX_WHEEL_SLOT_BITS
#define SLOTS PX_WHEEL_SLOTS
#define SLOT_MASK ((uint64_t)SLOTS - 1)
#define LEVELS PX_WHEEL_LEVELS
/* Dues that differ from now in bit 36 or above go to the overflow list. */
#define TOP_BITS (LEVELS * BITS)

/* List indices: 0..LEVELS*SLOTS-1 are the slots (level * SLOTS + slot). */
#define L_OVERFLOW ((uint32_t)(LEVELS * SLOTS))
#define L_READY (L_OVERFLOW + 1)
#define L_FIRING (L_OVERFLOW + 2)

_Static_assert(PX_WHEEL_SLOTS == 64, "the occupancy bitmaps are uint64_t");
_Static_assert(TOP_BITS < 64, "too many levels for 64-bit ticks");
_Static_assert(PX_WHEEL_LISTS == L_FIRING + 1, "list count mismatch");

static inline uint64_t rotl64(uint64_t x, unsigned r) {
  r &= 63;
  return (x << r) | (x >> ((64 - r) & 63));
}

/* Pushes t at the head of list idx; does not touch w->count. */
static void list_push(px_wheel *w, px_wtimer *t, uint32_t idx) {
  px_wtimer *h = w->head[idx];
  t->prev = NULL;
  t->next = h;
  if (h) h->prev = t;
  w->head[idx] = t;
  t->level_slot = idx + 1;
  if (t->due < w->min_due[idx]) w->min_due[idx] = t->due;
  if (idx < L_OVERFLOW)
    w->occupied[idx / SLOTS] |= UINT64_C(1) << (idx % SLOTS);
}

/* Unlinks a pending t from its list; does not touch w->count. */
static void list_unlink(px_wheel *w, px_wtimer *t) {
  uint32_t idx = t->level_slot - 1;
  if (t->prev)
    t->prev->next = t->next;
  else
    w->head[idx] = t->next;
  if (t->next) t->next->prev = t->prev;
  if (!w->head[idx]) {
    w->min_due[idx] = UINT64_MAX;
    if (idx < L_OVERFLOW)
      w->occupied[idx / SLOTS] &= ~(UINT64_C(1) << (idx % SLOTS));
  }
  t->next = t->prev = NULL;
  t->level_slot = 0;
}

/* Empties list idx and returns its old head; the timers keep their stale
 * links and list index until they are re-filed. */
static px_wtimer *list_take(px_wheel *w, uint32_t idx) {
  px_wtimer *h = w->head[idx];
  w->head[idx] = NULL;
  w->min_due[idx] = UINT64_MAX;
  if (idx < L_OVERFLOW)
    w->occupied[idx / SLOTS] &= ~(UINT64_C(1) << (idx % SLOTS));
  return h;
}

/* The list a timer due at `due` belongs to, relative to w->now; `expired`
 * is used when due <= w->now. */
static uint32_t list_for(const px_wheel *w, uint64_t due, uint32_t expired) {
  if (due <= w->now) return expired;
  unsigned hi = 63u - (unsigned)__builtin_clzll(due ^ w->now);
  unsigned lvl = hi / BITS;
  if (lvl >= LEVELS) return L_OVERFLOW;
  return (uint32_t)(lvl * SLOTS + ((due >> (lvl * BITS)) & SLOT_MASK));
}

/* Earliest tick at which the wheel (not the ready/firing lists) needs
 * attention: at or before the earliest due there, and > w->now. Returns
 * false if the wheel and the overflow list are empty. */
static bool next_event(const px_wheel *w, uint64_t *tick) {
  for (unsigned k = 0; k < LEVELS; k++) {
    uint64_t occ = w->occupied[k];
    if (occ) {
      unsigned s = (unsigned)__builtin_ctzll(occ);
      *tick = w->min_due[k * SLOTS + s];
      return true;
    }
  }
  if (w->head[L_OVERFLOW]) {
    *tick = w->min_due[L_OVERFLOW];
    return true;
  }
  return false;
}

/* Moves the wheel from w->now to e (e > w->now, e <= every due in the
 * wheel), re-filing every timer in a slot the move passes over. Timers due
 * at or before e go on the firing list. */
static void step_to(px_wheel *w, uint64_t e) {
  uint64_t cur = w->now;
  /* Take the passed-over lists first and re-file afterwards: a timer may be
   * re-filed into a slot that is also being taken. One pass per timer. */
  px_wtimer *taken[LEVELS * SLOTS + 1];
  size_t nt = 0;
  for (unsigned k = 0; k < LEVELS; k++) {
    uint64_t c = cur >> (k * BITS), n = e >> (k * BITS);
    if (c == n) break; /* higher digits are equal too */
    uint64_t el = n - c, pass;
    if (el >= SLOTS)
      pass = ~UINT64_C(0);
    else
      pass = rotl64((UINT64_C(1) << el) - 1, (unsigned)((c + 1) & SLOT_MASK));
    pass &= w->occupied[k];
    while (pass) {
      unsigned s = (unsigned)__builtin_ctzll(pass);
      pass &= pass - 1;
      taken[nt++] = list_take(w, (uint32_t)(k * SLOTS + s));
    }
  }
  if ((cur >> TOP_BITS) != (e >> TOP_BITS) && w->head[L_OVERFLOW])
    taken[nt++] = list_take(w, L_OVERFLOW);
  w->now = e;
  for (size_t i = 0; i < nt; i++) {
    px_wtimer *t = taken[i], *nx;
    for (; t; t = nx) {
      nx = t->next;
      list_push(w, t, list_for(w, t->due, L_FIRING));
    }
  }
}

/* Fires everything on the firing list; callbacks may change the list. */
static size_t drain(px_wheel *w, px_wheel_fire_fn fire, void *ud) {
  size_t n = 0;
  px_wtimer *t;
  while ((t = w->head[L_FIRING]) != NULL) {
    list_unlink(w, t);
    w->count--;
    n++;
    fire(t, ud);
  }
  return n;
}

void px__wheel_init(px_wheel *w, uint64_t now) {
  memset(w, 0, sizeof *w);
  w->now = now;
  for (size_t i = 0; i < PX_WHEEL_LISTS; i++) w->min_due[i] = UINT64_MAX;
}

void px__wheel_add(px_wheel *w, px_wtimer *t, uint64_t due) {
  if (t->level_slot)
    list_unlink(w, t);
  else
    w->count++;
  t->due = due;
  list_push(w, t, list_for(w, due, L_READY));
}

void px__wheel_remove(px_wheel *w, px_wtimer *t) {
  if (!t->level_slot) return;
  list_unlink(w, t);
  w->count--;
}

bool px__wheel_pending(const px_wtimer *t) { return t->level_slot != 0; }

size_t px__wheel_advance(px_wheel *w, uint64_t now, px_wheel_fire_fn fire,
                         void *ud) {
  if (w->advancing) return 0;
  if (now < w->now) now = w->now;
  w->advancing = true;
  px_wtimer *t;
  while ((t = w->head[L_READY]) != NULL) {
    list_unlink(w, t);
    list_push(w, t, L_FIRING);
  }
  size_t n = drain(w, fire, ud);
  uint64_t e;
  while (next_event(w, &e) && e <= now) {
    step_to(w, e);
    n += drain(w, fire, ud);
  }
  /* Every pending due is now > `now`, but a slot may start at or before
   * `now` (its bound lies inside it), so move by cascading, not assignment:
   * this fires nothing and keeps the placement invariant. */
  if (now > w->now) step_to(w, now);
  w->advancing = false;
  return n;
}

uint64_t px__wheel_next_due(const px_wheel *w) {
  uint64_t e = UINT64_MAX;
  if (!next_event(w, &e)) e = UINT64_MAX;
  if (w->min_due[L_READY] < e) e = w->min_due[L_READY];
  if (w->min_due[L_FIRING] < e) e = w->min_due[L_FIRING];
  return e;
}

size_t px__wheel_count(const px_wheel *w) { return w->count; }
