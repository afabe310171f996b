/* Running one app: its keeper actor, its supervision tree, its virtual and
 * workflow types.
 *
 * Every actor of an app must run in the app's tenant and namespace. Spawns
 * inherit both from the spawner, so the tree is started from a keeper
 * actor spawned with them: the supervisor inherits them from the keeper,
 * and each child from the supervisor. The keeper traps exits and is linked
 * only to the app's supervisor, so an app whose supervisor gives up (max
 * restart intensity) is marked failed and nothing else is touched.
 *
 * Each child's start function records the ref it started in the app's
 * directory entry (a restart replaces it), so resolving a target never
 * asks the supervisor. */
/* Messages and paths are cut at their buffer's size on purpose (a path too
 * long is caught where it is used). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"

/* ---- workflow type copies ----------------------------------------------- */

/* A workflow type is registered under its qualified name, from a copy of
 * the library's definition. The workflow registry keeps pointers to
 * definitions for the life of the process, so the copies live as long:
 * one per qualified name, reused (run and query updated) when the app is
 * deployed again. Reachable from here, so leak checkers see them as
 * live. */
typedef struct wf_copy {
  px_workflow_type t;
  char name[PX__APP_QNAME_MAX];
  struct wf_copy *next;
} wf_copy;

static pthread_mutex_t wf_mu = PTHREAD_MUTEX_INITIALIZER;
static wf_copy *wf_copies;

static const px_workflow_type *wf_copy_of(const char *qname,
                                          const px_workflow_type *def) {
  pthread_mutex_lock(&wf_mu);
  wf_copy *c = wf_copies;
  while (c && strcmp(c->name, qname)) c = c->next;
  if (!c) {
    c = calloc(1, sizeof *c);
    if (c) {
      snprintf(c->name, sizeof c->name, "%s", qname);
      c->next = wf_copies;
      wf_copies = c;
    }
  }
  /* Written only when the code changed (a new library version): an
   * execution of the old one may be reading its copy right now. */
  if (c && (c->t.run != def->run || c->t.query != def->query ||
            c->t.stack_size != def->stack_size || c->t.name != c->name)) {
    c->t = *def;
    c->t.name = c->name;
  }
  pthread_mutex_unlock(&wf_mu);
  return c ? &c->t : NULL;
}

/* ---- child start functions ---------------------------------------------- */

static void record(px__app_kid *k, px_ref r) {
  pthread_rwlock_wrlock(&k->app->mgr->lock);
  k->ref = r;
  k->starts++;
  pthread_rwlock_unlock(&k->app->mgr->lock);
}

/* The args map every init gets (an empty map when the config has none). */
static px_val init_args(const px__app_kid *k) {
  return px_is_nil(k->cfg->args) ? px_map_new(0)
                                 : px_val_retain(k->cfg->args);
}

/* A behavior whose init does not return in this time fails its start, so
 * a stuck init fails the deploy instead of hanging it (and every deploy
 * after it). */
#define START_TIMEOUT_MS 30000

/* Runs inside the supervisor: args is the kid (px_int of its address). */
static int kid_start(px_val args, px_ref *out) {
  px__app_kid *k = (px__app_kid *)(intptr_t)args.u.i;
  px_spawn_opts so = {.link = true, .parent = px_self()};
  px_gen_start_opts go = {.timeout_ms = START_TIMEOUT_MS};
  int rc;
  switch (k->ent->kind) {
    case PX_APP_ACTOR:
      rc = k->cfg->durable
               ? px_spawn_durable(k->ent->def, init_args(k), k->qname,
                                  &k->dur, &so, out)
               : px_spawn(k->ent->def, init_args(k), &so, out);
      break;
    case PX_APP_GEN_SERVER:
      rc = k->cfg->durable
               ? px_spawn_durable(px_gen_server_type(),
                                  px_gen_server_args(k->ent->def,
                                                     init_args(k)),
                                  k->qname, &k->dur, &so, out)
               : px_gen_server_start_link(k->ent->def, init_args(k), &go,
                                          out);
      break;
    case PX_APP_GEN_FSM:
      rc = px_gen_fsm_start_link(k->ent->def, init_args(k), &go, out);
      break;
    case PX_APP_GEN_EVENT: {
      rc = px_gen_event_start_link(&go, out);
      if (rc) break;
      px_val e = px_nil();
      rc = px_gen_event_add_handler(*out, k->ent->def, px_nil(),
                                    init_args(k), &e);
      px_val_release(e);
      if (rc) {
        /* Killed, not stopped: a normal exit of a child the supervisor
         * has not recorded yet must not look like a clean stop. */
        px_unlink(*out);
        px_exit(*out, px_atomv(px_a()->kill));
      }
      break;
    }
    default:
      rc = PX_EINVAL;
  }
  if (rc == 0) {
    record(k, *out);
  } else {
    pthread_rwlock_wrlock(&k->app->mgr->lock);
    snprintf(k->app->start_err, sizeof k->app->start_err,
             "child \"%s\" (%s %s) failed to start: %s", k->cfg->name,
             px__app_kind_name(k->ent->kind), k->cfg->actor_type,
             px_err_name(rc));
    pthread_rwlock_unlock(&k->app->mgr->lock);
  }
  return rc;
}

/* ---- types ---------------------------------------------------------------- */

static void set_error(px__app *app, const char *fmt, const char *detail) {
  pthread_rwlock_wrlock(&app->mgr->lock);
  snprintf(app->error, sizeof app->error, fmt, detail);
  pthread_rwlock_unlock(&app->mgr->lock);
}

/* Resolve reads `registered` under the directory lock. */
static void set_registered(px__app_kid *k, bool on) {
  pthread_rwlock_wrlock(&k->app->mgr->lock);
  k->registered = on;
  pthread_rwlock_unlock(&k->app->mgr->lock);
}

static int register_types(px__app *app, char *err, size_t errcap) {
  for (size_t i = 0; i < app->nkids; i++) {
    px__app_kid *k = &app->kids[i];
    int rc = 0;
    if (k->ent->kind == PX_APP_WORKFLOW) {
      const px_workflow_type *t = wf_copy_of(k->qname, k->ent->def);
      rc = t ? px_workflow_register(t, app->mgr->store) : PX_ENOMEM;
    } else if (k->cfg->is_virtual) {
      const px__app_child *c = k->cfg;
      px_virtual_opts vo = {
          .idle_timeout_ms = c->idle_timeout_ms,
          .activation = c->activation,
          .eager_keys = (const char *const *)c->eager_keys,
          .max_active = c->max_active,
          .durable = c->durable ? &k->dur : NULL,
          .name = k->qname,
      };
      rc = k->ent->kind == PX_APP_GEN_SERVER
               ? px_virtual_register(px_gen_server_type(),
                                     px_gen_server_args(k->ent->def,
                                                        init_args(k)),
                                     &vo)
               : px_virtual_register(k->ent->def, init_args(k), &vo);
    } else {
      continue;
    }
    /* An eager key that failed to activate leaves the type registered. */
    if (rc == 0 || (k->cfg->is_virtual && rc != PX_EEXIST && rc != PX_EINVAL &&
                    rc != PX_ESTOPPED && rc != PX_ENOMEM))
      set_registered(k, true);
    if (rc) {
      snprintf(err, errcap, "%s: cannot register %s type \"%s\": %s",
               k->cfg->name,
               k->ent->kind == PX_APP_WORKFLOW ? "workflow" : "virtual",
               k->qname, px_err_name(rc));
      return rc;
    }
  }
  return 0;
}

static void unregister_types(px__app *app) {
  for (size_t i = 0; i < app->nkids; i++) {
    px__app_kid *k = &app->kids[i];
    if (!k->registered) continue;
    /* Out of the directory first: no new lookup hands out the type. */
    set_registered(k, false);
    if (k->ent->kind == PX_APP_WORKFLOW)
      px_workflow_unregister(k->qname);
    else
      px_virtual_unregister(k->qname);
  }
}

/* ---- the keeper ------------------------------------------------------------- */

static px_atom A_START, A_STOP;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;

static void atoms_init(void) {
  A_START = px_atom_of("app_start");
  A_STOP = px_atom_of("app_stop");
}

static int keeper_init(px_val args, void **state) {
  *state = (void *)(intptr_t)args.u.i;
  return 0;
}

static int start_tree(px__app *app, char *err, size_t errcap) {
  int rc = register_types(app, err, errcap);
  if (rc) return rc;
  size_t n = 0;
  px_child_spec *specs = calloc(app->nkids ? app->nkids : 1, sizeof *specs);
  if (!specs) return PX_ENOMEM;
  for (size_t i = 0; i < app->nkids; i++) {
    px__app_kid *k = &app->kids[i];
    if (!k->supervised) continue;
    specs[n++] = (px_child_spec){
        .id = k->cfg->name,
        .start = kid_start,
        .args = px_int((int64_t)(intptr_t)k),
        .restart = k->cfg->restart,
        .shutdown = k->cfg->shutdown_ms,
    };
  }
  px_sup_flags fl = {.strategy = app->cfg.strategy,
                     .intensity = app->cfg.max_restarts,
                     .period = app->cfg.window_s};
  rc = px_sup_start_link(&fl, specs, n, &app->sup);
  free(specs);
  if (rc) {
    pthread_rwlock_rdlock(&app->mgr->lock);
    snprintf(err, errcap, "the supervision tree did not start: %s",
             app->start_err[0] ? app->start_err : px_err_name(rc));
    pthread_rwlock_unlock(&app->mgr->lock);
    app->sup = px_ref_nil();
  }
  return rc;
}

static void keeper_handle(void *state, const px_message *m) {
  px__app *app = state;
  if (m->type == A_START) {
    char err[512] = "";
    int rc = start_tree(app, err, sizeof err);
    if (rc) unregister_types(app);
    px_reply(m, px_arr(2, px_int(rc), px_str(err)));
    if (rc) px_exit_self(px_atomv(px_a()->normal));
  } else if (m->type == A_STOP) {
    /* relaxed: only this actor reads it (set here too, for a stop that
     * did not come through stop_app). */
    atomic_store_explicit(&app->stopping, true, memory_order_relaxed);
    if (!px_ref_is_nil(app->sup)) px_sup_stop(app->sup);
    unregister_types(app);
    px_reply(m, px_nil());
    px_exit_self(px_atomv(px_a()->normal));
  } else if (m->type == px_a()->exit_msg) {
    px_ref from;
    if (atomic_load_explicit(&app->stopping, memory_order_relaxed) ||
        !px_val_ref(px_gets(m->payload, "exit_from"), &from) ||
        !px_ref_eq(from, app->sup))
      return;
    /* The supervisor gave up: the app is failed, its types stay
     * registered until it is undeployed (the virtual actors and
     * workflows do not depend on the tree). */
    char reason[256];
    px_val_format(px_gets(m->payload, "exit_reason"), reason, sizeof reason);
    pthread_rwlock_wrlock(&app->mgr->lock);
    app->status = PX__APP_FAILED;
    snprintf(app->error, sizeof app->error,
             "the supervisor stopped: %s (more than %d restarts in %d s)",
             reason, app->cfg.max_restarts, app->cfg.window_s);
    pthread_rwlock_unlock(&app->mgr->lock);
    px_log(PX_LOG_ERROR, "app", "%s/%s: %s", app->tenant, app->id,
           app->error);
  }
}

static const px_actor_type keeper_type = {
    .name = "app_keeper",
    .init = keeper_init,
    .handle = keeper_handle,
};

int px__app_tree_start(px__app *app, char *err, size_t errcap) {
  pthread_once(&atoms_once, atoms_init);
  px_spawn_opts so = {.trap_exit = true, .tenant = app->tenant,
                      .ns = app->id};
  int rc = px_spawn(&keeper_type, px_int((int64_t)(intptr_t)app), &so,
                    &app->keeper);
  if (rc) {
    snprintf(err, errcap, "cannot start the app's keeper: %s",
             px_err_name(rc));
    return rc;
  }
  px_val r;
  rc = px_ask(app->keeper, A_START, px_nil(), -1, &r);
  if (rc == 0) {
    rc = (int)px_at(r, 0).u.i;
    if (rc) snprintf(err, errcap, "%s", px_str_ptr(px_at(r, 1)));
  } else {
    snprintf(err, errcap, "the app's keeper failed: %s", px_err_name(rc));
  }
  px_val_release(r);
  if (rc) {
    app->keeper = px_ref_nil();
    set_error(app, "%s", err);
  }
  return rc;
}

void px__app_tree_stop(px__app *app) {
  if (px_ref_is_nil(app->keeper)) return;
  px_val r;
  px_ask(app->keeper, A_STOP, px_nil(), -1, &r);
  px_val_release(r);
  app->keeper = px_ref_nil();
}
