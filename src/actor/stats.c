/* Introspection: per-scope counters (type, tenant, namespace, label),
 * live actors, the ask-latency histogram. Hot counters are sharded per
 * worker (see px__stats_count); rarer ones (spawns, exits) are shared
 * atomics. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"
#include "plexspaces/core.h"

/* A slot counts one scope: (actor type, tenant, namespace, label). The
 * label is the user-facing type name (px_spawn_opts.label, a behaviour's
 * name); NULL means type->name. Slots are made at spawn and never
 * removed (until the next px_runtime_start), so an actor keeps its id for
 * life and counting a message stays one sharded increment. */
typedef struct type_slot {
  _Atomic(const px_actor_type *) type;
  _Atomic(px_atom) tenant, ns, label;
  _Atomic(uint64_t) spawned, exits_normal, exits_abnormal, exits_killed,
      restarts;
  _Atomic(int64_t) live;
  /* Drops counted by senders that are not workers (fix: px__stats_count
   * needs a worker shard, so an external sender's drops were lost). */
  _Atomic(uint64_t) drops_ext;
} type_slot;

/* Slot 0 is unused so that id 0 can mean "no type" (external proxies).
 * The last slot, "other", takes every scope that comes once the table is
 * full: a label explosion loses detail, not counts. */
#define OTHER (PX__MAX_TYPES - 1)
static type_slot types[PX__MAX_TYPES];
static _Atomic(int) ntypes = 1;
static _Atomic(bool) other_used;
/* Open-addressing index over the slots' keys, read without the lock: an
 * entry is published (release) after its slot is filled. */
#define INDEX_SIZE (2 * PX__MAX_TYPES)
static _Atomic(int) slot_index[INDEX_SIZE];
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(int64_t) live_total;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond = PTHREAD_COND_INITIALIZER;

/* Log-linear histogram: 8 sub-buckets per power of two of nanoseconds. */
#define HBUCKETS (64 * 8)
static _Atomic(uint64_t) hist[HBUCKETS];
static _Atomic(uint64_t) hist_count, hist_sum_ns;

void px__stats_init(void) {
  for (int i = 0; i < PX__MAX_TYPES; i++) {
    type_slot *t = &types[i];
    atomic_store(&t->type, NULL);
    atomic_store(&t->tenant, NULL);
    atomic_store(&t->ns, NULL);
    atomic_store(&t->label, NULL);
    atomic_store(&t->spawned, 0);
    atomic_store(&t->exits_normal, 0);
    atomic_store(&t->exits_abnormal, 0);
    atomic_store(&t->exits_killed, 0);
    atomic_store(&t->restarts, 0);
    atomic_store(&t->live, 0);
    atomic_store(&t->drops_ext, 0);
  }
  for (int i = 0; i < INDEX_SIZE; i++) atomic_store(&slot_index[i], 0);
  atomic_store(&ntypes, 1);
  atomic_store(&other_used, false);
  atomic_store(&live_total, 0);
  for (int i = 0; i < HBUCKETS; i++) atomic_store(&hist[i], 0);
  atomic_store(&hist_count, 0);
  atomic_store(&hist_sum_ns, 0);
}

static size_t key_hash(const px_actor_type *t, px_atom tenant, px_atom ns,
                       px_atom label) {
  uint64_t h = (uint64_t)(uintptr_t)t;
  h = (h ^ (uint64_t)(uintptr_t)tenant) * 0x9e3779b97f4a7c15ull;
  h = (h ^ (uint64_t)(uintptr_t)ns) * 0x9e3779b97f4a7c15ull;
  h = (h ^ (uint64_t)(uintptr_t)label) * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 32) & (INDEX_SIZE - 1);
}

static bool slot_is(int id, const px_actor_type *t, px_atom tenant,
                    px_atom ns, px_atom label) {
  type_slot *s = &types[id];
  return atomic_load_explicit(&s->type, memory_order_relaxed) == t &&
         atomic_load_explicit(&s->tenant, memory_order_relaxed) == tenant &&
         atomic_load_explicit(&s->ns, memory_order_relaxed) == ns &&
         atomic_load_explicit(&s->label, memory_order_relaxed) == label;
}

/* The index entry holding the key, or the empty entry where it would go. */
static size_t probe(const px_actor_type *t, px_atom tenant, px_atom ns,
                    px_atom label, int *id) {
  size_t h = key_hash(t, tenant, ns, label);
  for (;; h = (h + 1) & (INDEX_SIZE - 1)) {
    /* acquire: pairs with the release that published the entry. */
    *id = atomic_load_explicit(&slot_index[h], memory_order_acquire);
    if (!*id || slot_is(*id, t, tenant, ns, label)) return h;
  }
}

int px__stats_slot(const px_actor_type *t, px_atom tenant, px_atom ns,
                   px_atom label) {
  int id;
  probe(t, tenant, ns, label, &id);
  if (id) return id;
  pthread_mutex_lock(&types_lock);
  size_t h = probe(t, tenant, ns, label, &id);
  if (!id) {
    int n = atomic_load_explicit(&ntypes, memory_order_relaxed);
    if (n < OTHER) {
      id = n;
      type_slot *s = &types[id];
      atomic_store_explicit(&s->type, t, memory_order_relaxed);
      atomic_store_explicit(&s->tenant, tenant, memory_order_relaxed);
      atomic_store_explicit(&s->ns, ns, memory_order_relaxed);
      atomic_store_explicit(&s->label, label, memory_order_relaxed);
      /* release: a reader that sees the count or the entry sees the key. */
      atomic_store_explicit(&ntypes, n + 1, memory_order_release);
      atomic_store_explicit(&slot_index[h], id, memory_order_release);
    } else {
      id = OTHER;
      if (!atomic_load_explicit(&other_used, memory_order_relaxed)) {
        atomic_store_explicit(&types[OTHER].label, px_atom_of("other"),
                              memory_order_relaxed);
        atomic_store_explicit(&other_used, true, memory_order_release);
      }
    }
  }
  pthread_mutex_unlock(&types_lock);
  return id;
}

void px__stats_spawned(int id) {
  if (!id) return;
  atomic_fetch_add_explicit(&types[id].spawned, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&types[id].live, 1, memory_order_relaxed);
}

void px__stats_drop(int type_id) {
  px__worker *w = px__sched_worker();
  if (w) {
    px__stats_count(w, type_id, PX__C_DROPS);
  } else if (type_id > 0 && type_id < PX__MAX_TYPES) {
    atomic_fetch_add_explicit(&types[type_id].drops_ext, 1,
                              memory_order_relaxed);
  }
}

void px__stats_exit(int id, px_val reason) {
  if (id <= 0) return;
  type_slot *t = &types[id];
  atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
  if (px_is_atom(reason, px__atoms.killed) ||
      px_is_atom(reason, px__atoms.kill))
    atomic_fetch_add_explicit(&t->exits_killed, 1, memory_order_relaxed);
  else if (px_reason_is_normal(reason))
    atomic_fetch_add_explicit(&t->exits_normal, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&t->exits_abnormal, 1, memory_order_relaxed);
}

/* Supervisors name only the type: the restart goes to the slot of that
 * type in the supervisor's scope (children inherit it), the first one if
 * several labels share the type. */
void px_stats_note_restart(const px_actor_type *type) {
  px__actor *me = px__current(false);
  px_atom tenant = me ? me->tenant : NULL, ns = me ? me->ns : NULL;
  int n = atomic_load_explicit(&ntypes, memory_order_acquire), id = 0;
  for (int i = 1; i < n && !id; i++)
    if (atomic_load_explicit(&types[i].type, memory_order_relaxed) == type &&
        atomic_load_explicit(&types[i].tenant, memory_order_relaxed) ==
            tenant &&
        atomic_load_explicit(&types[i].ns, memory_order_relaxed) == ns)
      id = i;
  if (!id) id = px__stats_slot(type, tenant, ns, NULL);
  atomic_fetch_add_explicit(&types[id].restarts, 1, memory_order_relaxed);
}

void px__stats_live(int delta) {
  int64_t v = atomic_fetch_add_explicit(&live_total, delta,
                                        memory_order_acq_rel) + delta;
  if (v == 0) {
    pthread_mutex_lock(&live_lock);
    pthread_cond_broadcast(&live_cond);
    pthread_mutex_unlock(&live_lock);
  }
}

size_t px__stats_live_count(void) {
  int64_t v = atomic_load_explicit(&live_total, memory_order_acquire);
  return v > 0 ? (size_t)v : 0;
}

size_t px_actors_count(void) { return px__stats_live_count(); }

int px_runtime_wait_empty(int64_t timeout_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (timeout_ms >= 0) {
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
  }
  int rc = 0;
  pthread_mutex_lock(&live_lock);
  while (atomic_load_explicit(&live_total, memory_order_acquire) > 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&live_cond, &live_lock);
    } else if (pthread_cond_timedwait(&live_cond, &live_lock, &ts) != 0) {
      rc = atomic_load(&live_total) > 0 ? PX_ETIMEDOUT : 0;
      break;
    }
  }
  pthread_mutex_unlock(&live_lock);
  return rc;
}

/* ---- per-scope statistics ----------------------------------------------- */

static const char *label_of(const type_slot *t) {
  px_atom l = atomic_load_explicit(&t->label, memory_order_relaxed);
  const px_actor_type *ty = atomic_load_explicit(&t->type, memory_order_relaxed);
  return l ? px_atom_name(l) : ty && ty->name ? ty->name : "?";
}

static const char *atom_str(px_atom a) { return a ? px_atom_name(a) : NULL; }

static void fill_slot(int i, px_type_stats *s, const uint64_t *depth) {
  type_slot *t = &types[i];
  memset(s, 0, sizeof *s);
  s->type = label_of(t);
  s->tenant = atom_str(atomic_load_explicit(&t->tenant, memory_order_relaxed));
  s->ns = atom_str(atomic_load_explicit(&t->ns, memory_order_relaxed));
  s->spawned = atomic_load(&t->spawned);
  s->exits_normal = atomic_load(&t->exits_normal);
  s->exits_abnormal = atomic_load(&t->exits_abnormal);
  s->exits_killed = atomic_load(&t->exits_killed);
  s->restarts = atomic_load(&t->restarts);
  int64_t live = atomic_load(&t->live);
  s->live = live > 0 ? (uint64_t)live : 0;
  for (int w = 0; w < px__sched_nworkers(); w++) {
    px__worker *wk = px__sched_worker_at(w);
    s->messages += __atomic_load_n(&wk->type_counters[i][PX__C_MESSAGES],
                                   __ATOMIC_RELAXED);
    s->errors +=
        __atomic_load_n(&wk->type_counters[i][PX__C_ERRORS], __ATOMIC_RELAXED);
    s->mailbox_drops +=
        __atomic_load_n(&wk->type_counters[i][PX__C_DROPS], __ATOMIC_RELAXED);
  }
  s->mailbox_drops += atomic_load(&t->drops_ext);
  s->errors += s->exits_abnormal;
  s->mailbox_depth = depth[i];
}

/* Queued messages of the live actors, summed per slot. */
static uint64_t *depths(void) {
  uint64_t *d = px__xcalloc(PX__MAX_TYPES, sizeof *d);
  uint32_t n = px__table_size();
  for (uint32_t i = 0; i < n; i++) {
    px__actor *a = px__table_at(i);
    uint32_t gen = atomic_load_explicit(&a->gen, memory_order_acquire);
    if (!(gen & 1) || atomic_load_explicit(&a->external, memory_order_relaxed))
      continue;
    int id = __atomic_load_n(&a->type_id, __ATOMIC_RELAXED);
    uint64_t in = atomic_load_explicit(&a->mb_in, memory_order_relaxed);
    uint64_t o = atomic_load_explicit(&a->mb_out, memory_order_relaxed);
    if (id > 0 && id < PX__MAX_TYPES && in > o) d[id] += in - o;
  }
  return d;
}

static int cmp_str(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "");
}

static int cmp_scope(const void *x, const void *y) {
  const px_type_stats *a = x, *b = y;
  int c = cmp_str(a->tenant, b->tenant);
  if (!c) c = cmp_str(a->ns, b->ns);
  return c ? c : strcmp(a->type, b->type);
}

static void merge(px_type_stats *into, const px_type_stats *s) {
  into->spawned += s->spawned;
  into->messages += s->messages;
  into->errors += s->errors;
  into->exits_normal += s->exits_normal;
  into->exits_abnormal += s->exits_abnormal;
  into->exits_killed += s->exits_killed;
  into->restarts += s->restarts;
  into->live += s->live;
  into->mailbox_drops += s->mailbox_drops;
  into->mailbox_depth += s->mailbox_depth;
}

/* Every slot, merged per (tenant, ns, name) -- or per name when !scoped --
 * and sorted; copies up to cap, returns how many there are. */
static size_t gather(px_type_stats *out, size_t cap, bool scoped) {
  int n = atomic_load_explicit(&ntypes, memory_order_acquire);
  bool other = atomic_load_explicit(&other_used, memory_order_acquire);
  px_type_stats *rows = px__xmalloc((size_t)(n + 1) * sizeof *rows);
  uint64_t *depth = depths();
  size_t k = 0;
  for (int i = 1; i < n; i++) fill_slot(i, &rows[k++], depth);
  if (other) fill_slot(OTHER, &rows[k++], depth);
  free(depth);
  for (size_t i = 0; i < k && !scoped; i++) rows[i].tenant = rows[i].ns = NULL;
  qsort(rows, k, sizeof *rows, cmp_scope);
  size_t m = 0;
  for (size_t i = 0; i < k; i++) {
    if (m && cmp_scope(&rows[m - 1], &rows[i]) == 0)
      merge(&rows[m - 1], &rows[i]);
    else
      rows[m++] = rows[i];
  }
  if (out) memcpy(out, rows, (m < cap ? m : cap) * sizeof *rows);
  free(rows);
  return m;
}

size_t px_stats_types(px_type_stats *out, size_t cap) {
  return gather(out, cap, false);
}

size_t px_stats_scopes(px_type_stats *out, size_t cap) {
  return gather(out, cap, true);
}

/* ---- ask latency ---------------------------------------------------------- */

static int bucket_of(uint64_t ns) {
  if (ns < 8) return (int)ns;
  int e = 63 - __builtin_clzll(ns);          /* ns in [2^e, 2^(e+1)) */
  int sub = (int)((ns >> (e - 3)) & 7);      /* 3 bits below the top */
  return (e - 2) * 8 + sub;
}

static uint64_t bucket_mid(int b) {
  if (b < 8) return (uint64_t)b;
  int e = b / 8 + 2, sub = b % 8;
  uint64_t lo = (1ull << e) + ((uint64_t)sub << (e - 3));
  return lo + (1ull << (e - 3)) / 2;
}

void px__stats_ask(uint64_t ns) {
  int b = bucket_of(ns);
  if (b >= HBUCKETS) b = HBUCKETS - 1;
  atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&hist_count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&hist_sum_ns, ns, memory_order_relaxed);
}

void px__stats_ask_export(const double *bounds, size_t nb, uint64_t *counts,
                          double *sum) {
  memset(counts, 0, (nb + 1) * sizeof *counts);
  size_t i = 0;
  /* Buckets rise with b, so the target bucket only moves forward; each
   * log-linear bucket goes by its midpoint (12.5% wide at most). */
  for (int b = 0; b < HBUCKETS; b++) {
    uint64_t c = atomic_load_explicit(&hist[b], memory_order_relaxed);
    if (!c) continue;
    double mid = (double)bucket_mid(b) / 1e9;
    while (i < nb && mid > bounds[i]) i++;
    counts[i] += c;
  }
  *sum = (double)atomic_load_explicit(&hist_sum_ns, memory_order_relaxed) / 1e9;
}

uint64_t px_stats_ask_count(void) { return atomic_load(&hist_count); }

uint64_t px_stats_ask_percentile(double p) {
  uint64_t n = atomic_load(&hist_count);
  if (!n) return 0;
  uint64_t want = (uint64_t)(p / 100.0 * (double)n);
  if (want >= n) want = n - 1;
  uint64_t seen = 0;
  for (int b = 0; b < HBUCKETS; b++) {
    seen += atomic_load_explicit(&hist[b], memory_order_relaxed);
    if (seen > want) return bucket_mid(b);
  }
  return bucket_mid(HBUCKETS - 1);
}

/* ---- live actors --------------------------------------------------------- */

bool px__registry_name_of(px_ref r, char *buf, size_t cap);

static bool fill_info(px__actor *a, px_actor_info *out) {
  uint32_t gen = atomic_load_explicit(&a->gen, memory_order_acquire);
  if (!(gen & 1) || atomic_load_explicit(&a->external, memory_order_relaxed))
    return false;
  px_ref r = px__ref_of(a, gen);
  out->ref = r;
  out->parent = a->parent;
  out->type = a->type && a->type->name ? a->type->name : "?";
  out->name[0] = 0;
  if (atomic_load_explicit(&a->has_name, memory_order_relaxed))
    px__registry_name_of(r, out->name, sizeof out->name);
  uint64_t in = atomic_load_explicit(&a->mb_in, memory_order_relaxed);
  uint64_t o = atomic_load_explicit(&a->mb_out, memory_order_relaxed);
  out->mailbox_depth = in > o ? (size_t)(in - o) : 0;
  uint8_t shown = atomic_load_explicit(&a->shown, memory_order_relaxed);
  out->trap_exit = (shown & PX__SHOWN_TRAP) != 0;
  out->parked = (shown & PX__SHOWN_PARKED) != 0;
  /* It may have died while we looked. */
  return atomic_load_explicit(&a->gen, memory_order_acquire) == gen;
}

size_t px_actors_list(px_actor_info *out, size_t cap) {
  uint32_t n = px__table_size();
  size_t k = 0, live = 0;
  for (uint32_t i = 0; i < n; i++) {
    px__actor *a = px__table_at(i);
    px_actor_info tmp;
    if (!fill_info(a, k < cap ? &out[k] : &tmp)) continue;
    live++;
    if (k < cap) k++;
  }
  return live;
}

int px_actor_info_get(px_ref ref, px_actor_info *out) {
  px__actor *a = px__lookup(ref);
  if (!a || !fill_info(a, out)) return PX_ENOPROC;
  return 0;
}
