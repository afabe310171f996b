/* The supervisor actor (SEMANTICS.md section C). It traps exits, keeps its
 * children in start order, and acts on each child's __EXIT__ according to
 * the child's restart type (R-C-6..R-C-8) and its strategy (R-C-10..13),
 * charging every restart decision to the intensity window (R-C-15).
 *
 * Start functions and shutdowns park the supervisor's handler in a
 * selective receive, so other requests wait in the mailbox, in order; a
 * failed restart is retried through the mailbox (R-C-17) so that those
 * requests are served between attempts. */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/runtime.h"
#include "supervise/sup.h"

typedef struct sup {
  px_sup_flags f;
  px__sup_child *kids; /* start order (simple_one_for_one: instances) */
  size_t n, cap;
  px__sup_child tmpl;  /* simple_one_for_one: the template */
  px__sup_window win;
  px_ref parent;
  uint64_t next_key;
  px_val doomed;       /* set when init failed: the reason to exit with */
  px__sup_scratch scratch; /* a shutdown in progress (see sup.h) */
} sup;

static bool simple(const sup *s) {
  return s->f.strategy == PX_SUP_SIMPLE_ONE_FOR_ONE;
}

/* ---- the children table ------------------------------------------------------ */

static px__sup_child *add_kid(sup *s, const px__sup_child *c) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->kids = px__xrealloc(s->kids, s->cap * sizeof *s->kids);
  }
  px__sup_child *k = &s->kids[s->n++];
  *k = *c;
  k->key = ++s->next_key;
  return k;
}

static void remove_kid(sup *s, px__sup_child *k) {
  size_t i = (size_t)(k - s->kids);
  px__sup_child_clear(k);
  memmove(k, k + 1, (s->n - i - 1) * sizeof *k);
  s->n--;
}

static px__sup_child *by_ref(sup *s, px_ref r) {
  for (size_t i = 0; i < s->n; i++)
    if (!px_ref_is_nil(s->kids[i].ref) && px_ref_eq(s->kids[i].ref, r))
      return &s->kids[i];
  return NULL;
}

static px__sup_child *by_id(sup *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->kids[i].id, id) == 0) return &s->kids[i];
  return NULL;
}

static px__sup_child *by_key(sup *s, uint64_t key) {
  for (size_t i = 0; i < s->n; i++)
    if (s->kids[i].key == key) return &s->kids[i];
  return NULL;
}

/* ---- starting and stopping children ------------------------------------------ */

/* Runs the child's start function. 0: running; PX_EIGNORE: not running;
 * else the start failed and was reported. */
static int start_kid(px__sup_child *k) {
  px_ref ref = px_ref_nil();
  int rc = k->start(k->args, &ref);
  k->restarting = false;
  if (rc == 0) {
    k->ref = ref;
    return 0;
  }
  k->ref = px_ref_nil();
  if (rc != PX_EIGNORE) {
    px_val why = px_arr(2, px_atomv(px_a()->error), px_int(rc));
    px__sup_report(PX_SUP_REPORT_START_ERROR, px_self(), k, why);
    px_val_release(why);
  }
  return rc;
}

static void stop_one(sup *s, px__sup_child *k) {
  if (!px_ref_is_nil(k->ref)) px__sup_stop_children(&s->scratch, &k, 1);
}

/* Stops every child: reverse start order, or all at once for
 * simple_one_for_one (R-C-13, R-C-16). */
static void stop_all(sup *s) {
  if (simple(s)) {
    px__sup_child **all = px__xcalloc(s->n ? s->n : 1, sizeof *all);
    s->scratch.all = all;
    for (size_t i = 0; i < s->n; i++) all[i] = &s->kids[i];
    px__sup_stop_children(&s->scratch, all, s->n);
    free(all);
    s->scratch.all = NULL;
    return;
  }
  for (size_t i = s->n; i-- > 0;) stop_one(s, &s->kids[i]);
}

/* Stops the children and exits. Never returns. */
static _Noreturn void shut_down(sup *s, px_val reason) {
  stop_all(s);
  px_exit_self(reason);
  px_panic("px_exit_self returned in a supervisor");
}

/* ---- restarts ---------------------------------------------------------------- */

static void note_restart(px__sup_child *k) {
  const px_actor_type *t = px__sup_child_stats_type(k);
  if (t) px_stats_note_restart(t);
}

/* Starts k again; on failure marks it restarting and queues a retry
 * (R-C-17). Returns false on failure. */
static bool restart_or_retry(sup *s, px__sup_child *k) {
  int rc = start_kid(k);
  if (rc == 0) note_restart(k);
  if (rc == 0 || rc == PX_EIGNORE) return true;
  k->restarting = true;
  px_send(px_self(), px__sup_a()->retry, px_int((int64_t)k->key));
  (void)s;
  return false;
}

/* Stops the children from index `from` to the end, last first; temporary
 * ones are forgotten (R-C-8, R-C-11, R-C-12). `keep` is the failed child,
 * already stopped. Returns keep's index after removals. */
static size_t stop_tail(sup *s, size_t from, size_t keep) {
  for (size_t i = s->n; i-- > from;) {
    if (i == keep) continue;
    stop_one(s, &s->kids[i]);
    if (s->kids[i].restart == PX_SUP_TEMPORARY) {
      remove_kid(s, &s->kids[i]);
      if (i < keep) keep--;
    }
  }
  return keep;
}

/* One restart decision for k, by strategy. */
static void do_restart(sup *s, px__sup_child *k) {
  size_t idx = (size_t)(k - s->kids);
  switch (s->f.strategy) {
  case PX_SUP_ONE_FOR_ONE:
  case PX_SUP_SIMPLE_ONE_FOR_ONE:
    restart_or_retry(s, k);
    return;
  case PX_SUP_ONE_FOR_ALL:
    stop_tail(s, 0, idx);
    idx = 0;
    break;
  case PX_SUP_REST_FOR_ONE:
    idx = stop_tail(s, idx, idx);
    break;
  }
  for (size_t i = idx; i < s->n; i++)
    if (!restart_or_retry(s, &s->kids[i])) return;
}

/* R-C-15/16: charge one restart; past the intensity, give up. */
static void restart(sup *s, px__sup_child *k) {
  int64_t now_s = (int64_t)(px_clock_ms() / 1000);
  if (px__sup_window_add(&s->win, now_s, s->f.intensity, s->f.period)) {
    px__sup_report(PX_SUP_REPORT_MAX_INTENSITY, px_self(), k,
                   px_atomv(px__sup_a()->reached_max_restart_intensity));
    k->ref = px_ref_nil();
    k->restarting = false;
    shut_down(s, px_atomv(px_a()->shutdown));
  }
  do_restart(s, k);
}

/* R-C-28/29: a significant child ended for good. */
static void significant_ended(sup *s) {
  bool go = s->f.auto_shutdown == PX_SUP_AUTO_ANY_SIGNIFICANT;
  if (s->f.auto_shutdown == PX_SUP_AUTO_ALL_SIGNIFICANT) {
    go = true;
    for (size_t i = 0; i < s->n; i++)
      if (s->kids[i].significant &&
          (!px_ref_is_nil(s->kids[i].ref) || s->kids[i].restarting))
        go = false;
  }
  if (!go) return;
  px__sup_report(PX_SUP_REPORT_AUTO_SHUTDOWN, px_self(), NULL,
                 px_atomv(px_a()->shutdown));
  shut_down(s, px_atomv(px_a()->shutdown));
}

static void child_exited(sup *s, px__sup_child *k, px_val reason) {
  bool normal = px_reason_is_normal(reason);
  /* R-C-9: abnormal exits, and any exit of a permanent child. */
  if (!normal || k->restart == PX_SUP_PERMANENT)
    px__sup_report(PX_SUP_REPORT_CHILD_TERMINATED, px_self(), k, reason);
  k->ref = px_ref_nil();
  if (k->restart == PX_SUP_TEMPORARY ||
      (k->restart == PX_SUP_TRANSIENT && normal)) {
    bool sig = k->significant;
    /* R-C-7/8: a temporary spec goes; a transient one stays undefined,
     * except that simple_one_for_one keeps no stopped instances. */
    if (k->restart == PX_SUP_TEMPORARY || simple(s)) remove_kid(s, k);
    if (sig) significant_ended(s);
    return;
  }
  restart(s, k);
}

/* ---- init and the boot value ------------------------------------------------- */

/* boot = [flags, [spec, ...]]. Decodes into s (kids not started). */
static int boot_decode(px_val boot, sup *s) {
  memset(s, 0, sizeof *s);
  s->tmpl.args = px_nil();
  s->doomed = px_nil();
  px_val specs = px_at(boot, 1);
  if (px_typeof(boot) != PX_T_ARRAY || px_typeof(specs) != PX_T_ARRAY ||
      px__sup_flags_decode(px_at(boot, 0), &s->f))
    return PX_EINVAL;
  size_t n = px_len(specs);
  if (simple(s) && n != 1) return PX_EINVAL;
  for (size_t i = 0; i < n; i++) {
    px__sup_child c;
    int rc = px__sup_spec_decode(px_at(specs, i), &c);
    if (!rc) rc = px__sup_spec_check(&c, &s->f);
    if (!rc && !simple(s) && by_id(s, c.id)) rc = PX_EINVAL;
    if (rc) {
      px__sup_child_clear(&c);
      return rc;
    }
    if (simple(s))
      s->tmpl = c;
    else
      add_kid(s, &c);
  }
  return 0;
}

static void sup_free(sup *s) {
  px__sup_scratch_free(&s->scratch);
  for (size_t i = 0; i < s->n; i++) px__sup_child_clear(&s->kids[i]);
  free(s->kids);
  px__sup_child_clear(&s->tmpl);
  px__sup_window_free(&s->win);
  px_val_release(s->doomed);
  free(s);
}

/* args = [boot, parent] (borrowed). */
static int sup_init(px_val args, void **state) {
  sup *s = px__xmalloc(sizeof *s);
  *state = s; /* set first: terminate frees it whatever happens next */
  int rc = boot_decode(px_at(args, 0), s);
  px_val_ref(px_at(args, 1), &s->parent);
  if (rc) return rc; /* the caller validated; only a forged boot gets here */
  /* R-C-1: left to right. */
  for (size_t i = 0; i < s->n; i++) {
    px__sup_child *k = &s->kids[i];
    rc = start_kid(k);
    if (rc == PX_EIGNORE && k->restart == PX_SUP_TEMPORARY) {
      remove_kid(s, k); /* R-C-5 */
      i--;
    } else if (rc && rc != PX_EIGNORE) {
      /* R-C-4: undo in reverse order, then fail without taking the
       * caller down (it learns from its monitor). */
      px_val why = px_arr(3, px_atomv(px__sup_a()->failed_to_start_child),
                          px_str(k->id), px_int(rc));
      px_unlink(s->parent);
      stop_all(s);
      /* Exit from the handler, not from init: the runtime leaks the init
       * message when init calls px_exit_self (reported). Nobody else knows
       * this supervisor yet, so nothing can come in between. */
      s->doomed = px_arr(2, px_atomv(px_a()->shutdown), why);
      px_send(px_self(), px__sup_a()->stop, px_nil());
      return 0;
    }
  }
  px_send(s->parent, px__sup_a()->ack, px_nil());
  return 0;
}

static void sup_terminate(void *state, px_val reason) {
  if (state) sup_free(state);
}

/* ---- requests ------------------------------------------------------------------ */

static void reply_err(const px_message *m, int code, px_val detail) {
  px_reply_error(m, px_arr(2, px_int(code), detail));
}

static px_val ref_or_nil(px_ref r) {
  return px_ref_is_nil(r) ? px_nil() : px_ref_val(r);
}

static void on_start_child(sup *s, const px_message *m) {
  px__sup_child c;
  if (simple(s)) {
    reply_err(m, PX_ESIMPLEONEFORONE, px_nil());
    return;
  }
  int rc = px__sup_spec_decode(m->payload, &c);
  if (!rc) rc = px__sup_spec_check(&c, &s->f);
  if (rc) {
    px__sup_child_clear(&c);
    {
    reply_err(m, rc, px_nil());
    return;
  }
  }
  px__sup_child *old = by_id(s, c.id);
  if (old) {
    px__sup_child_clear(&c);
    /* R-C-23 */
    if (!px_ref_is_nil(old->ref))
      {
    reply_err(m, PX_EALREADYSTARTED, px_ref_val(old->ref));
    return;
  }
    {
    reply_err(m, PX_EALREADYPRESENT, px_nil());
    return;
  }
  }
  px__sup_child *k = add_kid(s, &c);
  rc = start_kid(k);
  if (rc && (rc != PX_EIGNORE || k->restart == PX_SUP_TEMPORARY)) {
    remove_kid(s, k);
    if (rc != PX_EIGNORE) {
    reply_err(m, rc, px_nil());
    return;
  }
  }
  px_reply(m, rc ? px_nil() : px_ref_val(k->ref));
}

static void on_start_child_args(sup *s, const px_message *m) {
  if (!simple(s)) {
    reply_err(m, PX_EINVAL, px_nil());
    return;
  }
  /* R-C-13: the template's args with the extra ones appended. */
  px__sup_child c = s->tmpl;
  px_val base = s->tmpl.args;
  size_t nb = px_typeof(base) == PX_T_ARRAY ? px_len(base) : 0;
  size_t ne = px_typeof(m->payload) == PX_T_ARRAY ? px_len(m->payload) : 0;
  c.args = px_array_new(nb + ne);
  for (size_t i = 0; i < nb; i++)
    px_array_push(&c.args, px_val_retain(px_at(base, i)));
  for (size_t i = 0; i < ne; i++)
    px_array_push(&c.args, px_val_retain(px_at(m->payload, i)));
  int rc = start_kid(&c);
  if (rc) {
    px__sup_child_clear(&c);
    if (rc != PX_EIGNORE) {
    reply_err(m, rc, px_nil());
    return;
  }
    {
      px_reply(m, px_nil());
      return;
    }
  }
  px__sup_child *k = add_kid(s, &c);
  px_reply(m, px_ref_val(k->ref));
}

static px__sup_child *find_id(sup *s, const px_message *m) {
  if (simple(s)) {
    reply_err(m, PX_ESIMPLEONEFORONE, px_nil());
    return NULL;
  }
  const char *id = px_str_ptr(m->payload);
  px__sup_child *k = id ? by_id(s, id) : NULL;
  if (!k) reply_err(m, PX_ENOTFOUND, px_nil());
  return k;
}

static void on_terminate_child(sup *s, const px_message *m) {
  px__sup_child *k = find_id(s, m);
  if (!k) return;
  /* R-C-18/24/30: no restart, no intensity charge, no auto_shutdown. */
  stop_one(s, k);
  k->restarting = false;
  if (k->restart == PX_SUP_TEMPORARY) remove_kid(s, k);
  px_reply(m, px_nil());
}

static void on_terminate_ref(sup *s, const px_message *m) {
  px_ref r;
  px__sup_child *k = NULL;
  if (simple(s) && px_val_ref(m->payload, &r)) k = by_ref(s, r);
  if (!k) {
    reply_err(m, PX_ENOTFOUND, px_nil());
    return;
  }
  stop_one(s, k);
  remove_kid(s, k);
  px_reply(m, px_nil());
}

/* restart_child and delete_child act only on a stopped child (R-C-24);
 * otherwise they answer running / restarting. */
static bool stopped_or_reply(const px__sup_child *k, const px_message *m) {
  if (!px_ref_is_nil(k->ref)) {
    reply_err(m, PX_ERUNNING, px_nil());
    return false;
  }
  if (k->restarting) {
    reply_err(m, PX_ERESTARTING, px_nil());
    return false;
  }
  return true;
}

static void on_restart_child(sup *s, const px_message *m) {
  px__sup_child *k = find_id(s, m);
  if (!k) return;
  if (!stopped_or_reply(k, m)) return;
  int rc = start_kid(k);
  if (rc && rc != PX_EIGNORE) {
    reply_err(m, rc, px_nil());
    return;
  }
  px_reply(m, ref_or_nil(k->ref));
}

static void on_delete_child(sup *s, const px_message *m) {
  px__sup_child *k = find_id(s, m);
  if (!k) return;
  if (!stopped_or_reply(k, m)) return;
  remove_kid(s, k);
  px_reply(m, px_nil());
}

static void on_which_children(sup *s, const px_message *m) {
  px_val list = px_array_new(s->n);
  for (size_t i = 0; i < s->n; i++) {
    px__sup_child *k = &s->kids[i];
    px_sup_child_state st = !px_ref_is_nil(k->ref) ? PX_SUP_CHILD_RUNNING
                            : k->restarting        ? PX_SUP_CHILD_RESTARTING
                                                   : PX_SUP_CHILD_UNDEFINED;
    px_array_push(&list, px_arr(4, px_str(k->id), px_int(st),
                                ref_or_nil(k->ref), px_int(k->type)));
  }
  px_reply(m, list);
}

static void on_count_children(sup *s, const px_message *m) {
  int64_t active = 0, sups = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (!px_ref_is_nil(s->kids[i].ref)) active++;
    if (s->kids[i].type == PX_SUP_SUPERVISOR) sups++;
  }
  px_reply(m, px_arr(4, px_int((int64_t)s->n), px_int(active), px_int(sups),
                     px_int((int64_t)s->n - sups)));
}

/* ---- the handler ---------------------------------------------------------------- */

static void on_exit_msg(sup *s, const px_message *m) {
  px_ref from;
  if (!px__sup_exit_from(m, &from)) return;
  px_val reason = px_get(m->payload, px_atomv(px_a()->exit_reason));
  /* The parent's exit (or its exit signal) ends the supervisor, children
   * first, with the same reason, as a gen_server does. */
  if (px_ref_eq(from, s->parent)) shut_down(s, px_val_retain(reason));
  px__sup_child *k = by_ref(s, from);
  if (k) child_exited(s, k, reason); /* R-C-3: unknown exits are ignored */
}

static void on_retry(sup *s, const px_message *m) {
  px__sup_child *k = by_key(s, (uint64_t)m->payload.u.i);
  /* Stopped or deleted meanwhile: nothing left to retry. */
  if (k && k->restarting) restart(s, k);
}

static void sup_handle(void *state, const px_message *m) {
  sup *s = state;
  const px__sup_atoms *a = px__sup_a();
  px_atom t = m->type;
  if (!px_is_nil(s->doomed)) {
    px_val r = s->doomed;
    s->doomed = px_nil();
    px_exit_self(r);
    return;
  }
  if (t == px_a()->exit_msg)
    on_exit_msg(s, m);
  else if (t == a->retry)
    on_retry(s, m);
  else if (t == a->stop)
    shut_down(s, px_atomv(px_a()->normal));
  else if (t == a->start_child)
    on_start_child(s, m);
  else if (t == a->start_child_args)
    on_start_child_args(s, m);
  else if (t == a->terminate_child)
    on_terminate_child(s, m);
  else if (t == a->terminate_ref)
    on_terminate_ref(s, m);
  else if (t == a->restart_child)
    on_restart_child(s, m);
  else if (t == a->delete_child)
    on_delete_child(s, m);
  else if (t == a->which_children)
    on_which_children(s, m);
  else if (t == a->count_children)
    on_count_children(s, m);
  else if (m->corr)
    reply_err(m, PX_ENOTSUP, px_nil());
  /* Anything else (late timer ticks, stray __DOWN__s) is dropped. */
}

const px_actor_type px__sup_type = {
    .name = "supervisor",
    .init = sup_init,
    .handle = sup_handle,
    .terminate = sup_terminate,
};

/* ---- starting a supervisor --------------------------------------------------------- */

int px__sup_start(px_val boot, px_ref *out) {
  /* Validate here so a bad spec is an error for the caller, and nothing
   * is spawned. */
  sup *probe = px__xmalloc(sizeof *probe);
  int rc = boot_decode(boot, probe);
  sup_free(probe);
  if (rc) return rc;
  px_ref self = px_self();
  px_mref mref = 0;
  px_spawn_opts o = {.link = true, .monitor = true, .mref_out = &mref,
                     .trap_exit = true, .parent = self};
  px_ref ref;
  rc = px_spawn(&px__sup_type, px_arr(2, px_val_retain(boot),
                                      px_ref_val(self)),
                &o, &ref);
  if (rc) return rc;
  rc = px__sup_await_init(ref, mref);
  if (rc) return PX_EINIT;
  *out = ref;
  return 0;
}
