/*
 * Hierarchical timing wheel: an intrusive, allocation-free timer queue with
 * O(1) add and O(1) cancel. Hand-written on purpose: no packaged C library
 * provides one (see wheel.c for why and for how it works).
 *
 * This header stands alone: it depends only on libc headers, never on the
 * rest of the runtime, so it can be unit-tested and fuzzed in isolation.
 *
 * Not thread-safe: one owner (the timer service) drives a wheel.
 */
#ifndef PX_RUNTIME_WHEEL_H
#define PX_RUNTIME_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** log2 of the slots per level. */
#define PX_WHEEL_SLOT_BITS 6
/** Slots per level; one uint64_t occupancy bitmap covers a level. */
#define PX_WHEEL_SLOTS (1u << PX_WHEEL_SLOT_BITS)
/** Levels; together they span 2^36 ticks (about 795 days at 1 ms). */
#define PX_WHEEL_LEVELS 6
/** Slot lists plus the overflow, ready and firing lists. */
#define PX_WHEEL_LISTS (PX_WHEEL_LEVELS * PX_WHEEL_SLOTS + 3)

/**
 * Intrusive timer node. Embed it in a larger struct and get back to the
 * container with offsetof. It must be zero-initialised (`= {0}`, calloc or
 * memset) before its first use; after that the wheel keeps it consistent.
 * All fields are private to the wheel except `due`, which is read-only for
 * the user and holds the tick passed to the last px__wheel_add().
 */
typedef struct px_wtimer {
  struct px_wtimer *next, *prev; /* private: slot list links */
  uint64_t due;                  /* read-only: due tick (ms) */
  uint32_t level_slot;           /* private: list index + 1; 0 = idle */
} px_wtimer;

typedef struct px_wheel px_wheel;

/**
 * The wheel. Defined here so users can embed it (no allocation is needed);
 * it is about 6 KiB regardless of how many timers are pending.
 */
struct px_wheel {
  /* read-only: the current tick. Outside px__wheel_advance() it is the
   * `now` of the last init/advance; inside a fire callback it is the tick
   * whose timers are being fired. */
  uint64_t now;
  /* read-only: pending timers. */
  size_t count;
  /* private */
  uint64_t occupied[PX_WHEEL_LEVELS]; /* bit s set <=> slot s non-empty */
  px_wtimer *head[PX_WHEEL_LISTS];    /* list heads (no sentinels) */
  uint64_t min_due[PX_WHEEL_LISTS];   /* lower bound of dues in each list */
  bool advancing;                     /* inside px__wheel_advance() */
};

/**
 * Called for each expired timer. The timer is already unlinked (not pending)
 * when this runs, so it may be freed, re-added (intervals) or left alone.
 * It may add or remove any timer of the same wheel, but must not call
 * px__wheel_advance() or px__wheel_init() on it.
 */
typedef void (*px_wheel_fire_fn)(px_wtimer *t, void *ud);

/**
 * Initialises an empty wheel whose current tick is `now`. Allocates nothing;
 * there is no matching free (just stop using the memory once no timer
 * is pending, or after discarding the pending ones).
 */
void px__wheel_init(px_wheel *w, uint64_t now);

/**
 * Schedules `t` to fire at tick `due`; O(1). A timer that is already pending
 * is rescheduled. If `due <= w->now` the timer fires on the next
 * px__wheel_advance() (even when this is called from a fire callback: it is
 * never fired by the advance that is running, so a zero-period interval
 * cannot loop forever). The wheel does not take ownership: `t` must stay
 * valid, and must not move, while it is pending.
 */
void px__wheel_add(px_wheel *w, px_wtimer *t, uint64_t due);

/** Cancels `t`; O(1). A no-op if `t` is not pending. */
void px__wheel_remove(px_wheel *w, px_wtimer *t);

/** Returns true if `t` is scheduled and has not fired or been removed. */
bool px__wheel_pending(const px_wtimer *t);

/**
 * Moves the wheel to tick `now` and fires, exactly once each, every pending
 * timer with `due <= now`; none fires before its due tick. Timers fire in
 * order of due tick (any order within one tick); timers that were already
 * past due when added fire first. Time is assumed monotonic: a `now` below
 * w->now is treated as w->now. Empty stretches of time are skipped through
 * the occupancy bitmaps, so a jump of hours or years costs only the cascades
 * of the timers it passes, never one step per tick. A timer added from a
 * callback with a due tick that this call passes over (and after the tick
 * being fired) also fires during this call. Returns the number fired.
 * Must not be called from a fire callback (it returns 0 if it is).
 */
size_t px__wheel_advance(px_wheel *w, uint64_t now, px_wheel_fire_fn fire,
                         void *ud);

/**
 * Returns a tick at or before the earliest pending due tick, UINT64_MAX if
 * no timer is pending; O(levels). The result is exact unless the earliest
 * timer of its slot has been removed, in which case it is an earlier bound
 * (advancing to it then just cascades and fires nothing). If timers are
 * past due it is at or below w->now.
 */
uint64_t px__wheel_next_due(const px_wheel *w);

/** Returns the number of pending timers. */
size_t px__wheel_count(const px_wheel *w);

#endif /* PX_RUNTIME_WHEEL_H */
