/* Workflows, inside view: the execution actor, replay and the commands
 * (contract in workflow.h, outside view in workflow.c).
 *
 * The actor's first message (__wf_go__, sent to itself at init) loads the
 * command journal and the inbox, then calls run on the actor's coroutine;
 * when run returns the outcome is journaled with the index update and the
 * actor exits. Everything the writer thread may read later is copied by
 * px_store_apply before it parks, so nothing of ours on the coroutine
 * stack outlives a kill.
 *
 * Journal entries (stream "wf/<key>", kind -> value):
 *   start    {type, input [, inbox_skip, inbox_carry]}  seq 1, written by
 *            start, or by a continue-as-new (which replaces the journal)
 *   step     [name, result]                a step that succeeded
 *   stepfail [name, code, error, attempts] a step that gave up
 *   attempt  [name, attempt, code, error, due]  a failed attempt with a
 *                                          retry due at `due` (wall ms)
 *   timer    deadline                      a sleep
 *   now      ms;  random  bits
 *   recvwait [filter, deadline]            a receive that had to wait
 *   recv     [filter, inbox seq or 0]      what a receive got (0: timeout)
 *   cancel   nil                           where run observed a cancel
 *   status   [status, result]              the outcome (closes it)
 * A command is one entry, or for a step its attempts and the final entry,
 * for a receive its recvwait and recv; a cancel entry may end a step, a
 * sleep or a receive that was waiting.
 *
 * Replay walks the loaded entries with a cursor; a command whose entries
 * are all there returns what they say, one cut off at the tail goes on
 * live from where it was (a retry's due time, a sleep's or receive's
 * deadline). Live commands drain the inbox notifications first (cancel,
 * pause and signals that arrived), and park for a pause. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behavior/workflow_internal.h"
#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"
#include "store/store_async.h"

#define G px__wf_g

enum {
  J_UNKNOWN = 0,
  J_START,
  J_STEP,
  J_STEPFAIL,
  J_ATTEMPT,
  J_TIMER,
  J_NOW,
  J_RANDOM,
  J_RECVWAIT,
  J_RECV,
  J_CANCEL,
  J_STATUS,
  J_NKINDS
};
static const char *const JK[J_NKINDS] = {
    "?",     "start",  "step",     "stepfail", "attempt", "timer",
    "now",   "random", "recvwait", "recv",     "cancel",  "status"};

/* What a person calls the command an entry belongs to. */
static const char *group_name(int kind) {
  switch (kind) {
  case J_STEP:
  case J_STEPFAIL:
  case J_ATTEMPT: return "step";
  case J_TIMER: return "sleep";
  case J_RECVWAIT:
  case J_RECV: return "receive";
  default: return JK[kind];
  }
}

enum { CTX_NONE = 0, CTX_RUN, CTX_STEP, CTX_QUERY };

/* Longest wait any command takes (about 100 years): longer ones are cut
 * to it, so deadline arithmetic never overflows. */
#define MAX_WAIT_MS (100LL * 366 * 86400000)

static int64_t clamp_wait(int64_t ms) {
  return ms < 0 ? 0 : ms > MAX_WAIT_MS ? MAX_WAIT_MS : ms;
}

typedef struct jent {
  uint64_t seq;
  int kind;
  px_val v; /* owned */
} jent;

typedef struct sig {
  uint64_t seq;
  px_val name, payload; /* owned */
} sig;

struct px_wf {
  px__wf_entry *e; /* holds a reference (the actor's) */
  const px_workflow_type *def;
  px_store *store;
  px_ref self;
  /* the journal as loaded, and the replay cursor: cur < nj = replaying */
  jent *j;
  size_t nj, capj, cur;
  uint64_t next_seq; /* the seq of the next append */
  /* the inbox: unconsumed signals in seq order, every seq seen */
  sig *pend;
  size_t npend, cappend;
  uint64_t *seen;
  size_t nseen, capseen;
  bool cancel_req, cancel_done, paused;
  uint64_t pause_seq, cancel_seq;
  /* after a continue-as-new: inbox seqs up to in_skip belong to earlier
   * runs, except those in the start entry's carry list */
  uint64_t in_skip;
  px_val in_carry; /* borrowed from the start entry: an array of seqs */
  px_val can_input; /* set by px_wf_continue_as_new, owned */
  bool can;
  /* a sticky failure: PX_ENONDETERMINISM (fail_val says where) or a store
   * error (the execution stops and stays open) */
  int fail_rc;
  px_val fail_val;
  int ctx;
  uint32_t attempt;  /* in a step function */
  uint64_t step_seq; /* in a step function */
  uint64_t rng;      /* jitter only: never journaled */
  uint64_t tick_token; /* the current wait's (see wait_for) */
  void *user;
  /* values handed to run (live step results, received signals): run
   * borrows them, so a kill that abandons run's stack leaks nothing */
  px_val *kept;
  size_t nkept, capkept;
  /* queries that came before run started, answered at its first wait */
  px_from *early_from;
  px_val *early_args; /* [name, args], owned */
  size_t nearly, capearly;
  /* values of a store apply we are parked in: a kill there leaves them
   * to wf_free, not to the abandoned stack */
  px_val parked[2];
  int nparked;
  bool running; /* run was entered */
  bool done;    /* no crash status at terminate */
};

static inline bool replaying(const px_wf *wf) { return wf->cur < wf->nj; }

/* ---- loading ------------------------------------------------------------- */

static int kind_of(const char *k) {
  for (int i = 1; i < J_NKINDS; i++)
    if (!strcmp(JK[i], k)) return i;
  return J_UNKNOWN;
}

static int journal_cb(void *ud, uint64_t seq, const char *kind, px_val v,
                      int64_t ts) {
  (void)ts;
  px_wf *wf = ud;
  if (wf->nj == wf->capj) {
    wf->capj = wf->capj ? wf->capj * 2 : 16;
    wf->j = px__xrealloc(wf->j, wf->capj * sizeof *wf->j);
  }
  wf->j[wf->nj++] = (jent){seq, kind_of(kind), v};
  return 0;
}

static bool seen_add(px_wf *wf, uint64_t seq) {
  size_t lo = 0, hi = wf->nseen;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (wf->seen[mid] < seq) lo = mid + 1;
    else hi = mid;
  }
  if (lo < wf->nseen && wf->seen[lo] == seq) return false;
  if (wf->nseen == wf->capseen) {
    wf->capseen = wf->capseen ? wf->capseen * 2 : 16;
    wf->seen = px__xrealloc(wf->seen, wf->capseen * sizeof *wf->seen);
  }
  memmove(wf->seen + lo + 1, wf->seen + lo,
          (wf->nseen - lo) * sizeof *wf->seen);
  wf->seen[lo] = seq;
  wf->nseen++;
  return true;
}

/* An inbox entry (values borrowed), from the load or a notification;
 * each seq counts once. */
static bool carried(const px_wf *wf, uint64_t seq) {
  for (size_t i = 0; i < px_len(wf->in_carry); i++)
    if ((uint64_t)px_at(wf->in_carry, i).u.i == seq) return true;
  return false;
}

static void inbox_add(px_wf *wf, uint64_t seq, const char *kind,
                      px_val name, px_val payload) {
  if (!seen_add(wf, seq)) return;
  if (seq <= wf->in_skip && !carried(wf, seq)) return; /* an earlier run's */
  if (!strcmp(kind, "signal")) {
    if (wf->npend == wf->cappend) {
      wf->cappend = wf->cappend ? wf->cappend * 2 : 8;
      wf->pend = px__xrealloc(wf->pend, wf->cappend * sizeof *wf->pend);
    }
    size_t i = wf->npend;
    while (i > 0 && wf->pend[i - 1].seq > seq) i--;
    memmove(wf->pend + i + 1, wf->pend + i,
            (wf->npend - i) * sizeof *wf->pend);
    wf->pend[i] = (sig){seq, px_val_retain(name), px_val_retain(payload)};
    wf->npend++;
  } else if (!strcmp(kind, "cancel")) {
    if (!wf->cancel_req) wf->cancel_seq = seq;
    wf->cancel_req = true;
  } else if (!strcmp(kind, "pause") || !strcmp(kind, "resume")) {
    if (seq > wf->pause_seq) {
      wf->pause_seq = seq;
      wf->paused = kind[0] == 'p';
    }
  }
}

static int inbox_cb(void *ud, uint64_t seq, const char *kind, px_val v,
                    int64_t ts) {
  (void)ts;
  inbox_add(ud, seq, kind, px_at(v, 0), px_at(v, 1));
  px_val_release(v);
  return 0;
}

/* Keeps v (owned) until the execution ends; returns it borrowed. */
static px_val keep(px_wf *wf, px_val v) {
  if (px_typeof(v) < PX_T_STR) return v;
  if (wf->nkept == wf->capkept) {
    wf->capkept = wf->capkept ? wf->capkept * 2 : 16;
    wf->kept = px__xrealloc(wf->kept, wf->capkept * sizeof *wf->kept);
  }
  wf->kept[wf->nkept++] = v;
  return v;
}

/* ---- failures and appends ------------------------------------------------ */

static int fail(px_wf *wf, int rc, px_val why) {
  if (!wf->fail_rc) {
    wf->fail_rc = rc;
    wf->fail_val = why;
    char buf[256];
    px_val_format(why, buf, sizeof buf);
    px_log(PX_LOG_WARN, "workflow", "%s: %s", wf->e->key, buf);
  } else {
    px_val_release(why);
  }
  return wf->fail_rc;
}

static const char *entry_name(const jent *e) {
  switch (e->kind) {
  case J_STEP:
  case J_STEPFAIL:
  case J_ATTEMPT:
  case J_RECVWAIT:
  case J_RECV: return px_str_ptr(px_at(e->v, 0));
  default: return NULL;
  }
}

/* The journal holds something else than the command asked for at the
 * cursor: fail the execution, naming both. */
static int nde(px_wf *wf, const char *want, const char *want_name) {
  const jent *e = &wf->j[wf->cur];
  const char *en = entry_name(e);
  char have[160], asked[160];
  snprintf(have, sizeof have, "%s%s%s%s", group_name(e->kind),
           en ? " '" : "", en ? en : "", en ? "'" : "");
  if (want)
    snprintf(asked, sizeof asked, "code asked for %s%s%s%s", want,
             want_name ? " '" : "", want_name ? want_name : "",
             want_name ? "'" : "");
  else
    snprintf(asked, sizeof asked, "code returned");
  return fail(wf, PX_ENONDETERMINISM,
              px_strf("non-determinism at seq %llu: journal has %s, %s",
                      (unsigned long long)e->seq, have, asked));
}

/* Appends one entry (takes ownership of v); durable on return. */
static int append(px_wf *wf, int kind, px_val v) {
  px_store_op op = {.kind = PX_STORE_JOURNAL_APPEND,
                    .space = wf->e->stream,
                    .id = wf->next_seq,
                    .value = v,
                    .key = JK[kind]};
  wf->parked[0] = v;
  wf->nparked = 1;
  int rc = px_store_apply(wf->store, &op, 1);
  wf->nparked = 0;
  px_val_release(v);
  if (rc)
    return fail(wf, rc,
                px_strf("journal append failed: %s", px_err_name(rc)));
  wf->next_seq++;
  return 0;
}

/* ---- waiting ------------------------------------------------------------- */

static bool match_ctl(const px_message *m, void *ud) {
  (void)ud;
  const px__wf_atoms *a = px__wf_a();
  return m->type == a->in || m->type == a->query || m->type == a->tick;
}

static bool match_in(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px__wf_a()->in;
}

/* Answers a query ([name, args], borrowed) to `from`. */
static void answer_query(px_wf *wf, px_from from, px_val p) {
  const char *name = px_str_ptr(px_at(p, 0));
  if (!wf->def->query || !name) {
    px_reply_error_to(from, px_arr(2, px_int(wf->def->query ? PX_EINVAL
                                                            : PX_ENOTSUP),
                                   px_nil()));
    return;
  }
  px_val out = px_nil();
  int saved = wf->ctx;
  wf->ctx = CTX_QUERY;
  int rc = wf->def->query(wf, name, px_at(p, 1), &out);
  wf->ctx = saved;
  if (rc == 0)
    px_reply_to(from, out);
  else
    px_reply_error_to(from, px_arr(2, px_int(rc), out));
}

static void serve_query(px_wf *wf, const px_message *m) {
  answer_query(wf, px_defer_reply(m), m->payload);
}

/* A query before run has parked once: kept for its first wait (the
 * answer must reflect a parked run, as documented). */
static void hold_query(px_wf *wf, const px_message *m) {
  if (wf->nearly == wf->capearly) {
    wf->capearly = wf->capearly ? wf->capearly * 2 : 4;
    wf->early_from =
        px__xrealloc(wf->early_from, wf->capearly * sizeof *wf->early_from);
    wf->early_args =
        px__xrealloc(wf->early_args, wf->capearly * sizeof *wf->early_args);
  }
  wf->early_from[wf->nearly] = px_defer_reply(m);
  wf->early_args[wf->nearly++] = px_val_retain(m->payload);
}

static void serve_early_queries(px_wf *wf) {
  for (size_t i = 0; i < wf->nearly; i++) {
    answer_query(wf, wf->early_from[i], wf->early_args[i]);
    px_val_release(wf->early_args[i]);
  }
  wf->nearly = 0;
}

static void handle_ctl(px_wf *wf, const px_message *m) {
  if (m->type == px__wf_a()->in) {
    px_val p = m->payload;
    const char *kind = px_str_ptr(px_at(p, 1));
    if (kind)
      inbox_add(wf, (uint64_t)px_at(p, 0).u.i, kind, px_at(p, 2),
                px_at(p, 3));
  } else if (m->type == px__wf_a()->query) {
    serve_query(wf, m);
  }
}

static bool cancel_pending(const px_wf *wf) {
  return wf->cancel_req && !wf->cancel_done;
}

/* Paused, and no cancel requested (a cancel beats a pause, also for the
 * cleanup run does after it). */
static bool held(const px_wf *wf) { return wf->paused && !wf->cancel_req; }

/* Parks until ready(wf, ud) holds (when given) or the deadline (wall ms,
 * -1 none) passes, serving notifications and queries. While paused,
 * neither counts. Returns 0 (ready), PX_ETIMEDOUT, or PX_ECANCELLED (a
 * cancel waits to be delivered; the caller journals it).
 *
 * The deadline is a timer message armed before anything is answered in
 * the wait, not a receive timeout: a receive timeout is armed relative to
 * the clock when the receive starts, so a clock that moves between our
 * reading it and that start (a test advancing a virtual clock right after
 * a query's answer) would push the wake-up late. Ticks of earlier waits
 * carry an older token and are dropped. */
typedef bool (*ready_fn)(px_wf *wf, const void *ud);
static int wait_for(px_wf *wf, int64_t deadline, ready_fn ready,
                    const void *ud) {
  uint64_t token = ++wf->tick_token;
  int64_t armed = -1; /* the deadline a pending tick is for */
  px_tref tref = 0;
  int rc;
  for (;;) {
    if (cancel_pending(wf)) {
      rc = PX_ECANCELLED;
      break;
    }
    if (!held(wf)) {
      if (ready && ready(wf, ud)) {
        rc = 0;
        break;
      }
      if (deadline >= 0) {
        int64_t now = px__wf_now_ms();
        if (now >= deadline) {
          rc = PX_ETIMEDOUT;
          break;
        }
        if (armed != deadline) {
          tref = px_send_after(deadline - now, wf->self, px__wf_a()->tick,
                               px_int((int64_t)token));
          armed = deadline;
        }
      }
    }
    serve_early_queries(wf);
    px_message *m;
    rc = px_receive(match_ctl, NULL, -1, &m);
    if (rc) break;
    if (m->type == px__wf_a()->tick) {
      /* ours: re-armed above if the deadline is still ahead */
      if ((uint64_t)m->payload.u.i == token) armed = -1;
    } else {
      handle_ctl(wf, m);
    }
    px_message_free(m);
  }
  if (armed >= 0) px_cancel_timer(tref);
  return rc;
}

static bool always(px_wf *wf, const void *ud) {
  (void)wf;
  (void)ud;
  return true;
}

static int deliver_cancel(px_wf *wf) {
  int rc = append(wf, J_CANCEL, px_nil());
  if (rc) return rc;
  wf->cancel_done = true;
  return PX_ECANCELLED;
}

/* A cancel entry at the cursor ends the command being replayed. */
static bool replay_cancel(px_wf *wf) {
  if (replaying(wf) && wf->j[wf->cur].kind == J_CANCEL) {
    wf->cur++;
    wf->cancel_done = true;
    return true;
  }
  return false;
}

/* The start of a blocking command (step, sleep, receive). */
static int cmd_begin(px_wf *wf) {
  if (!wf || wf->ctx != CTX_RUN) return PX_EINVAL;
  if (wf->fail_rc) return wf->fail_rc;
  if (replaying(wf)) return replay_cancel(wf) ? PX_ECANCELLED : 0;
  px_message *m;
  while (px_receive(match_in, NULL, 0, &m) == 0) {
    handle_ctl(wf, m);
    px_message_free(m);
  }
  if (held(wf)) {
    int rc = wait_for(wf, -1, always, NULL);
    if (rc && rc != PX_ECANCELLED) return rc;
  }
  if (cancel_pending(wf)) return deliver_cancel(wf);
  return 0;
}

/* ---- steps --------------------------------------------------------------- */

typedef struct policy {
  uint32_t max;
  int64_t initial, max_interval;
  double backoff, jitter;
  const int *nonretry;
  size_t nnonretry;
} policy;

static policy resolve_policy(const px_retry_policy *r) {
  px_retry_policy z = {0};
  if (!r) r = &z;
  policy p;
  p.max = r->max_attempts ? r->max_attempts : 10;
  p.initial =
      r->initial_interval_ms > 0 ? clamp_wait(r->initial_interval_ms) : 1000;
  p.backoff = r->backoff >= 1.0 ? r->backoff : 2.0;
  p.max_interval =
      clamp_wait(r->max_interval_ms > 0 ? r->max_interval_ms
                                        : p.initial > MAX_WAIT_MS / 100
                                            ? MAX_WAIT_MS
                                            : 100 * p.initial);
  p.jitter = r->jitter > 0 ? (r->jitter > 1 ? 1 : r->jitter) : 0;
  p.nonretry = r->non_retryable;
  p.nnonretry = r->non_retryable ? r->n_non_retryable : 0;
  return p;
}

static bool retryable(const policy *p, int code) {
  if (code == PX_EFAILED) return false;
  for (size_t i = 0; i < p->nnonretry; i++)
    if (p->nonretry[i] == code) return false;
  return true;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* The wait after failed attempt n (>= 1). */
static int64_t backoff_ms(px_wf *wf, const policy *p, uint32_t n) {
  double d = (double)p->initial * pow(p->backoff, (double)(n - 1));
  if (d > (double)p->max_interval) d = (double)p->max_interval;
  if (p->jitter > 0) {
    double u = (double)(xorshift(&wf->rng) >> 11) / 9007199254740992.0;
    d -= d * p->jitter * u;
  }
  return d > (double)MAX_WAIT_MS ? MAX_WAIT_MS : (int64_t)d;
}

static bool is_step_kind(int k) {
  return k == J_STEP || k == J_STEPFAIL || k == J_ATTEMPT;
}

int px_step(px_wf *wf, const char *name, px_step_fn fn, void *ud,
            const px_retry_policy *retry, px_val *out) {
  px_val ignored;
  if (!out) out = &ignored; /* the result is not wanted */
  *out = px_nil();
  if (!name || !*name || !fn) return PX_EINVAL;
  int rc = cmd_begin(wf);
  if (rc) return rc;
  uint32_t attempt = 1;
  int64_t due = -1;
  wf->step_seq = replaying(wf) ? wf->j[wf->cur].seq : wf->next_seq;
  while (replaying(wf)) {
    jent *e = &wf->j[wf->cur];
    if (!is_step_kind(e->kind) || strcmp(entry_name(e) ? entry_name(e) : "",
                                         name))
      return nde(wf, "step", name);
    wf->cur++;
    if (e->kind == J_STEP) {
      *out = px_at(e->v, 1);
      return 0;
    }
    if (e->kind == J_STEPFAIL) {
      *out = px_at(e->v, 2);
      return PX_EFAILED;
    }
    attempt = (uint32_t)px_at(e->v, 1).u.i + 1;
    due = px_at(e->v, 4).u.i;
    if (replay_cancel(wf)) return PX_ECANCELLED;
  }
  policy p = resolve_policy(retry);
  for (;;) {
    if (due >= 0) {
      rc = wait_for(wf, due, NULL, NULL);
      if (rc == PX_ECANCELLED) return deliver_cancel(wf);
      if (rc != PX_ETIMEDOUT) return fail(wf, rc, px_strf("wait: %s",
                                                          px_err_name(rc)));
    }
    px_val v = px_nil();
    wf->ctx = CTX_STEP;
    wf->attempt = attempt;
    int frc = fn(wf, ud, &v);
    wf->ctx = CTX_RUN;
    wf->attempt = 0;
    keep(wf, v); /* ours before we park in the append */
    if (frc == 0) {
      rc = append(wf, J_STEP, px_arr(2, px_str(name), px_val_retain(v)));
      if (rc) return rc;
      *out = v;
      return 0;
    }
    if (px_is_nil(v))
      v = keep(wf, px_strf("%s: %s", px_err_name(frc), px_strerror(frc)));
    if (!retryable(&p, frc) || (p.max != PX_RETRY_UNLIMITED &&
                                attempt >= p.max)) {
      rc = append(wf, J_STEPFAIL,
                  px_arr(4, px_str(name), px_int(frc), px_val_retain(v),
                         px_int(attempt)));
      if (rc) return rc;
      *out = v;
      return PX_EFAILED;
    }
    due = px__wf_now_ms() + backoff_ms(wf, &p, attempt);
    rc = append(wf, J_ATTEMPT,
                px_arr(5, px_str(name), px_int(attempt), px_int(frc),
                       px_val_retain(v), px_int(due)));
    if (rc) return rc;
    attempt++;
  }
}

/* ---- sleep --------------------------------------------------------------- */

int px_wf_sleep(px_wf *wf, int64_t ms) {
  int rc = cmd_begin(wf);
  if (rc) return rc;
  int64_t deadline;
  if (replaying(wf)) {
    jent *e = &wf->j[wf->cur];
    if (e->kind != J_TIMER) return nde(wf, "sleep", NULL);
    wf->cur++;
    deadline = e->v.u.i;
    /* Anything after it means the sleep ended (or was cancelled). */
    if (replay_cancel(wf)) return PX_ECANCELLED;
    if (replaying(wf)) return 0;
  } else {
    deadline = px__wf_now_ms() + clamp_wait(ms);
    rc = append(wf, J_TIMER, px_int(deadline));
    if (rc) return rc;
    if (ms <= 0) return 0;
  }
  rc = wait_for(wf, deadline, NULL, NULL);
  if (rc == PX_ETIMEDOUT) return 0;
  if (rc == PX_ECANCELLED) return deliver_cancel(wf);
  return fail(wf, rc, px_strf("wait: %s", px_err_name(rc)));
}

/* ---- signals ------------------------------------------------------------- */

static bool name_eq(const char *a, const char *b) {
  return a == b || (a && b && !strcmp(a, b));
}

static long find_pending(const px_wf *wf, const char *name) {
  for (size_t i = 0; i < wf->npend; i++)
    if (!name || name_eq(px_str_ptr(wf->pend[i].name), name)) return (long)i;
  return -1;
}

static bool has_pending(px_wf *wf, const void *name) {
  return find_pending(wf, name) >= 0;
}

static void take_pending(px_wf *wf, size_t i, px_val *name_out,
                         px_val *payload) {
  sig s = wf->pend[i];
  memmove(wf->pend + i, wf->pend + i + 1,
          (wf->npend - i - 1) * sizeof *wf->pend);
  wf->npend--;
  keep(wf, s.name);
  keep(wf, s.payload);
  if (name_out) *name_out = s.name;
  if (payload) *payload = s.payload;
}

/* A journaled receive: the signal it consumed (seq 0: it timed out). */
static int recv_replayed(px_wf *wf, const jent *e, px_val *name_out,
                         px_val *payload) {
  uint64_t seq = (uint64_t)px_at(e->v, 1).u.i;
  if (seq == 0) return PX_ETIMEDOUT;
  for (size_t i = 0; i < wf->npend; i++)
    if (wf->pend[i].seq == seq) {
      take_pending(wf, i, name_out, payload);
      return 0;
    }
  return fail(wf, PX_ENONDETERMINISM,
              px_strf("journal seq %llu received inbox seq %llu, which the "
                      "inbox does not hold",
                      (unsigned long long)e->seq, (unsigned long long)seq));
}

static int recv_live(px_wf *wf, const char *name, px_val *name_out,
                     px_val *payload) {
  long i = find_pending(wf, name);
  int rc = append(wf, J_RECV,
                  px_arr(2, name ? px_str(name) : px_nil(),
                         px_int((int64_t)wf->pend[i].seq)));
  if (rc) return rc;
  take_pending(wf, (size_t)i, name_out, payload);
  return 0;
}

int px_wf_signal_recv(px_wf *wf, const char *name, int64_t timeout_ms,
                      px_val *name_out, px_val *payload) {
  if (name_out) *name_out = px_nil();
  if (payload) *payload = px_nil();
  if (name && !*name) return PX_EINVAL;
  int rc = cmd_begin(wf);
  if (rc) return rc;
  int64_t deadline = -1;
  if (replaying(wf)) {
    jent *e = &wf->j[wf->cur];
    if ((e->kind != J_RECV && e->kind != J_RECVWAIT) ||
        !name_eq(entry_name(e), name))
      return nde(wf, "receive", name);
    wf->cur++;
    if (e->kind == J_RECV) return recv_replayed(wf, e, name_out, payload);
    deadline = px_at(e->v, 1).u.i;
    if (replay_cancel(wf)) return PX_ECANCELLED;
    if (replaying(wf)) {
      jent *r = &wf->j[wf->cur];
      if (r->kind != J_RECV || !name_eq(entry_name(r), name))
        return nde(wf, "receive", name);
      wf->cur++;
      return recv_replayed(wf, r, name_out, payload);
    }
  } else {
    if (has_pending(wf, name)) return recv_live(wf, name, name_out, payload);
    if (timeout_ms == 0) {
      rc = append(wf, J_RECV,
                  px_arr(2, name ? px_str(name) : px_nil(), px_int(0)));
      return rc ? rc : PX_ETIMEDOUT;
    }
    if (timeout_ms > 0) {
      deadline = px__wf_now_ms() + clamp_wait(timeout_ms);
      rc = append(wf, J_RECVWAIT,
                  px_arr(2, name ? px_str(name) : px_nil(),
                         px_int(deadline)));
      if (rc) return rc;
    }
  }
  rc = wait_for(wf, deadline, has_pending, name);
  if (rc == 0) return recv_live(wf, name, name_out, payload);
  if (rc == PX_ETIMEDOUT) {
    rc = append(wf, J_RECV,
                px_arr(2, name ? px_str(name) : px_nil(), px_int(0)));
    return rc ? rc : PX_ETIMEDOUT;
  }
  if (rc == PX_ECANCELLED) return deliver_cancel(wf);
  return fail(wf, rc, px_strf("wait: %s", px_err_name(rc)));
}

/* ---- now and random ------------------------------------------------------ */

/* A recorded value: the journaled one, or `live` journaled now. */
static int64_t recorded(px_wf *wf, int kind, int64_t live) {
  if (!wf || wf->ctx != CTX_RUN || wf->fail_rc) return 0;
  if (replaying(wf)) {
    jent *e = &wf->j[wf->cur];
    if (e->kind != kind) {
      nde(wf, JK[kind], NULL);
      return 0;
    }
    wf->cur++;
    return e->v.u.i;
  }
  return append(wf, kind, px_int(live)) ? 0 : live;
}

int64_t px_wf_now(px_wf *wf) {
  return recorded(wf, J_NOW, px__wf_now_ms());
}

uint64_t px_wf_random(px_wf *wf) {
  uint64_t r = 0;
  if (wf && !replaying(wf)) {
    r = xorshift(&wf->rng);
    r ^= (uint64_t)px_now_ns() * 0x9E3779B97F4A7C15ull;
  }
  return (uint64_t)recorded(wf, J_RANDOM, (int64_t)r);
}

/* ---- continue-as-new ----------------------------------------------------- */

int px_wf_continue_as_new(px_wf *wf, px_val input) {
  if (!wf || wf->ctx != CTX_RUN || wf->can) {
    px_val_release(input);
    return PX_EINVAL;
  }
  if (wf->fail_rc) {
    px_val_release(input);
    return wf->fail_rc;
  }
  wf->can = true;
  wf->can_input = input;
  return 0;
}

/* ---- context ------------------------------------------------------------- */

const char *px_wf_id(px_wf *wf) { return wf ? wf->e->id : NULL; }
const char *px_wf_tenant(px_wf *wf) { return wf ? wf->e->tenant : NULL; }
const char *px_wf_namespace(px_wf *wf) { return wf ? wf->e->ns : NULL; }
void px_wf_set_state(px_wf *wf, void *state) {
  if (wf) wf->user = state;
}
void *px_wf_state(px_wf *wf) { return wf ? wf->user : NULL; }
bool px_wf_is_replaying(px_wf *wf) { return wf && replaying(wf); }

int px_wf_idempotency_key(px_wf *wf, char *buf, size_t cap) {
  if (!wf || wf->ctx != CTX_STEP) return PX_EINVAL;
  return snprintf(buf, cap, "%s/%llu", wf->e->key,
                  (unsigned long long)wf->step_seq);
}

uint32_t px_wf_attempt(px_wf *wf) {
  return wf && wf->ctx == CTX_STEP ? wf->attempt : 0;
}

/* ---- the actor ----------------------------------------------------------- */

int px__wf_actor_init(px_val args, void **state) {
  px_wf *wf = px__xcalloc(1, sizeof *wf);
  wf->e = (px__wf_entry *)(intptr_t)args.u.i;
  wf->def = wf->e->type->def;
  pthread_mutex_lock(&G.mu);
  wf->store = G.store;
  wf->e->refs++; /* the actor's, dropped in terminate */
  pthread_mutex_unlock(&G.mu);
  wf->self = px_self();
  wf->rng = (uint64_t)px_now_ns() | 1;
  wf->fail_val = px_nil();
  *state = wf;
  px_send(wf->self, px__wf_a()->go, px_nil());
  return 0;
}

static void wf_free(px_wf *wf) {
  for (size_t i = 0; i < wf->nj; i++) px_val_release(wf->j[i].v);
  free(wf->j);
  for (size_t i = 0; i < wf->npend; i++) {
    px_val_release(wf->pend[i].name);
    px_val_release(wf->pend[i].payload);
  }
  free(wf->pend);
  free(wf->seen);
  for (size_t i = 0; i < wf->nkept; i++) px_val_release(wf->kept[i]);
  for (int i = 0; i < wf->nparked; i++) px_val_release(wf->parked[i]);
  /* held queries: their askers get PX_ENOPROC from the exit */
  for (size_t i = 0; i < wf->nearly; i++) px_val_release(wf->early_args[i]);
  free(wf->early_from);
  free(wf->early_args);
  free(wf->kept);
  px_val_release(wf->fail_val);
  px_val_release(wf->can_input);
  free(wf);
}

/* Journals the outcome with the index update, then closes the entry and
 * answers the waiters. Takes ownership of result. */
static void close_with(px_wf *wf, px_wf_status st, px_val result) {
  keep(wf, result);
  px_val sv = px_arr(2, px_int(st), px_val_retain(result));
  px_val idx = px__wf_index_val(wf->def->name, st, result);
  px_store_op ops[3] = {
      {.kind = PX_STORE_JOURNAL_APPEND, .space = wf->e->stream,
       .id = wf->next_seq, .value = sv, .key = JK[J_STATUS]},
      {.kind = PX_STORE_KV_PUT, .space = PX__WF_INDEX, .key = wf->e->key,
       .value = idx},
      {.kind = PX_STORE_KV_DEL, .space = PX__WF_OPEN, .key = wf->e->key}};
  wf->parked[0] = sv;
  wf->parked[1] = idx;
  wf->nparked = 2;
  int rc = px_store_apply(wf->store, ops, 3);
  wf->nparked = 0;
  px_val_release(sv);
  px_val_release(idx);
  if (rc) {
    px_log(PX_LOG_ERROR, "workflow", "%s: cannot record its outcome: %s",
           wf->e->key, px_err_name(rc));
    return;
  }
  pthread_mutex_lock(&G.mu);
  size_t n;
  px_promise *w = px__wf_close_locked(wf->e, &n);
  pthread_mutex_unlock(&G.mu);
  px__wf_resolve(w, n, st, result);
  free(w);
}

/* Replaces the journal with a new start entry (the input run handed to
 * px_wf_continue_as_new) in one apply, then hands the execution to a
 * fresh actor, which starts run over on it. Inbox entries this run has
 * seen stay behind, except the signals it did not receive, a cancel it
 * was not given and the newest pause/resume: they carry over. */
static void continue_as_new(px_wf *wf) {
  px__wf_entry *e = wf->e;
  uint64_t skip = wf->nseen ? wf->seen[wf->nseen - 1] : 0;
  px_val carry = px_array_new(wf->npend + 2);
  for (size_t i = 0; i < wf->npend; i++)
    px_array_push(&carry, px_int((int64_t)wf->pend[i].seq));
  if (cancel_pending(wf))
    px_array_push(&carry, px_int((int64_t)wf->cancel_seq));
  if (wf->pause_seq) px_array_push(&carry, px_int((int64_t)wf->pause_seq));
  px_val start = px_map(4, px_str("type"), px_str(wf->def->name),
                        px_str("input"), wf->can_input, px_str("inbox_skip"),
                        px_int((int64_t)skip), px_str("inbox_carry"), carry);
  wf->can_input = px_nil();
  px_store_op ops[2] = {
      {.kind = PX_STORE_STREAM_DELETE, .space = e->stream},
      {.kind = PX_STORE_JOURNAL_APPEND, .space = e->stream, .id = 1,
       .value = start, .key = JK[J_START]}};
  wf->parked[0] = start;
  wf->nparked = 1;
  int rc = px_store_apply(wf->store, ops, 2);
  wf->nparked = 0;
  px_val_release(start);
  if (rc) {
    fail(wf, rc, px_strf("continue-as-new failed: %s", px_err_name(rc)));
    return; /* stays open: a recover replays the old journal */
  }
  pthread_mutex_lock(&G.mu);
  if (px_ref_eq(e->actor, wf->self)) {
    e->actor = px_ref_nil();
    px__wf_spawn_locked(e);
  }
  pthread_mutex_unlock(&G.mu);
}

static void run_execution(px_wf *wf) {
  px__wf_entry *e = wf->e;
  int rc = px_store_journal_read(wf->store, e->stream, 0, journal_cb, wf);
  if (!rc && wf->nj > 0 && wf->j[0].kind == J_START) {
    px_val skip = px_gets(wf->j[0].v, "inbox_skip");
    wf->in_skip = px_typeof(skip) == PX_T_INT ? (uint64_t)skip.u.i : 0;
    wf->in_carry = px_gets(wf->j[0].v, "inbox_carry");
  }
  if (!rc) rc = px_store_journal_read(wf->store, e->inbox, 0, inbox_cb, wf);
  if (rc) {
    px_log(PX_LOG_ERROR, "workflow", "%s: cannot load: %s", e->key,
           px_err_name(rc));
    return; /* stays open for a later recover */
  }
  pthread_mutex_lock(&G.mu);
  e->paused = wf->paused;
  pthread_mutex_unlock(&G.mu);
  if (wf->nj == 0 || wf->j[0].kind != J_START) {
    close_with(wf, PX_WF_FAILED, px_str("the journal has no start entry"));
    return;
  }
  wf->next_seq = wf->j[wf->nj - 1].seq + 1;
  if (wf->j[wf->nj - 1].kind == J_STATUS) return; /* closed already */
  wf->cur = 1;
  px_val input = wf->j[0].v;
  px_val result = px_nil();
  wf->ctx = CTX_RUN;
  wf->running = true;
  rc = wf->def->run(wf, px_gets(input, "input"), &result);
  wf->ctx = CTX_NONE;
  if (wf->fail_rc && wf->fail_rc != PX_ENONDETERMINISM) {
    px_val_release(result); /* a store error: stays open */
    return;
  }
  if (!wf->fail_rc && replaying(wf)) nde(wf, NULL, NULL);
  if (!wf->fail_rc && rc == 0 && wf->can) {
    px_val_release(result);
    continue_as_new(wf);
    return;
  }
  if (wf->fail_rc) {
    px_val_release(result);
    result = wf->fail_val;
    wf->fail_val = px_nil();
    close_with(wf, PX_WF_FAILED, result);
    return;
  }
  px_wf_status st = rc == 0               ? PX_WF_COMPLETED
                    : rc == PX_ECANCELLED ? PX_WF_CANCELLED
                                          : PX_WF_FAILED;
  if (st == PX_WF_FAILED && px_is_nil(result))
    result = px_strf("%s: %s", px_err_name(rc), px_strerror(rc));
  close_with(wf, st, result);
}

void px__wf_actor_handle(void *state, const px_message *msg) {
  px_wf *wf = state;
  if (msg->type == px__wf_a()->go && !wf->running) {
    run_execution(wf);
    wf->done = true;
    if (wf->fail_rc == PX_ECONFLICT) {
      /* Our journal seq was taken: a write of a killed earlier activation
       * landed after we loaded. A fresh activation replays it (bounded:
       * anything else writing this stream is a bug, not a race). */
      pthread_mutex_lock(&G.mu);
      px__wf_entry *e = wf->e;
      if (px_ref_eq(e->actor, wf->self) && e->status == PX_WF_RUNNING &&
          e->conflicts++ < 3) {
        e->actor = px_ref_nil();
        px__wf_spawn_locked(e);
      }
      pthread_mutex_unlock(&G.mu);
    }
    px_exit_self(px_atomv(px_a()->normal));
    return;
  }
  /* Before run starts (a notification or query queued ahead of go). */
  if (msg->type == px__wf_a()->query)
    hold_query(wf, msg);
  else
    handle_ctl(wf, msg);
}

typedef struct crash_rec {
  px__wf_entry *e; /* the actor's reference, handed over */
  px_val result;
} crash_rec;

static void crash_recorded(void *ud, int rc) {
  crash_rec *c = ud;
  size_t n = 0;
  px_promise *w = NULL;
  pthread_mutex_lock(&G.mu);
  if (rc == 0) w = px__wf_close_locked(c->e, &n);
  px__wf_unref_locked(c->e);
  pthread_mutex_unlock(&G.mu);
  px__wf_resolve(w, n, PX_WF_FAILED, c->result);
  free(w);
  px_val_release(c->result);
  free(c);
}

static bool is_down_reason(px_val r) {
  const px_atoms *a = px_a();
  return px_is_atom(r, a->kill) || px_is_atom(r, a->killed) ||
         px_reason_is_normal(r);
}

/* Runs whatever the reason. A crash of run (not a kill: a killed execution
 * is down and will be recovered) fails the execution; terminate must not
 * block, so the outcome is written asynchronously. */
void px__wf_actor_terminate(void *state, px_val reason) {
  px_wf *wf = state;
  px__wf_entry *e = wf->e;
  bool crash = wf->running && !wf->done && !is_down_reason(reason);
  pthread_mutex_lock(&G.mu);
  if (px_ref_eq(e->actor, wf->self)) e->actor = px_ref_nil();
  if (!crash) px__wf_unref_locked(e);
  pthread_mutex_unlock(&G.mu);
  if (crash) {
    char buf[160];
    px_val_format(reason, buf, sizeof buf);
    crash_rec *c = px__xmalloc(sizeof *c);
    c->e = e;
    c->result = px_strf("run crashed: %s", buf);
    px_log(PX_LOG_WARN, "workflow", "%s: run crashed: %s", e->key, buf);
    px_val sv = px_arr(2, px_int(PX_WF_FAILED), px_val_retain(c->result));
    px_val idx = px__wf_index_val(wf->def->name, PX_WF_FAILED, c->result);
    px_store_op ops[3] = {
        {.kind = PX_STORE_JOURNAL_APPEND, .space = e->stream,
         .id = wf->next_seq, .value = sv, .key = JK[J_STATUS]},
        {.kind = PX_STORE_KV_PUT, .space = PX__WF_INDEX, .key = e->key,
         .value = idx},
        {.kind = PX_STORE_KV_DEL, .space = PX__WF_OPEN, .key = e->key}};
    int rc = px__store_apply_cb(wf->store, ops, 3, crash_recorded, c);
    px_val_release(sv);
    px_val_release(idx);
    if (rc) crash_recorded(c, rc);
  }
  wf_free(wf);
}
