/* The app manager: deploy, undeploy, persistence under data_dir/apps/, and
 * start-up of the persisted apps.
 *
 * On disk an app is a directory data_dir/apps/<tenant>~<application_id>
 * holding app-config.toml, the library (app.so) and app.json ({tenant,
 * application_id, name, version}). A directory dropped by hand needs only
 * the first two; it is named by its application_id. Loaded libraries are
 * content-addressed copies in data_dir/apps/.libs/ (see loader.c); they
 * are kept after an undeploy (another app may use the same bytes, and a
 * loaded library is never unloaded). */
/* Messages and paths are cut at their buffer's size on purpose (a path too
 * long is caught where it is used). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"

/* ---- building an app ------------------------------------------------------ */

static void app_free(px__app *app) {
  if (!app) return;
  px__app_config_free(&app->cfg);
  px__app_registry_free(app->reg);
  free(app->kids);
  free(app);
}

/* Checks the config against the library and fills the kids. */
static int build_kids(px__app *app, const char *fname, char *err,
                      size_t errcap) {
  size_t n = app->cfg.nchildren;
  app->kids = calloc(n ? n : 1, sizeof *app->kids);
  if (!app->kids) return PX_ENOMEM;
  app->nkids = n;
  for (size_t i = 0; i < n; i++) {
    const px__app_child *c = &app->cfg.children[i];
    px__app_kid *k = &app->kids[i];
    k->app = app;
    k->index = i;
    k->cfg = c;
    k->ent = px__app_registry_find(app->reg, c->actor_type);
    if (!k->ent) {
      char names[256];
      px__app_registry_names(app->reg, names, sizeof names);
      snprintf(err, errcap,
               "%s:%d: supervisor.children[%zu].actor_type: \"%s\" is not "
               "registered by the library (registered: %s)",
               fname, c->type_line, i, c->actor_type, names);
      return PX_EINVAL;
    }
    int kind = k->ent->kind;
    if (c->behavior && c->behavior != kind) {
      snprintf(err, errcap,
               "%s:%d: supervisor.children[%zu].behavior_kind: %s, but the "
               "library registered \"%s\" as a %s",
               fname, c->kind_line, i, px__app_kind_name(c->behavior),
               c->actor_type, px__app_kind_name(kind));
      return PX_EINVAL;
    }
    bool facet = c->is_virtual || c->durable;
    if (facet && kind != PX_APP_ACTOR && kind != PX_APP_GEN_SERVER) {
      snprintf(err, errcap,
               "%s:%d: supervisor.children[%zu].facets: a %s cannot be %s "
               "(only plain actors and GenServers)",
               fname, c->line, i, px__app_kind_name(kind),
               c->is_virtual ? "a virtual actor" : "durable");
      return PX_EINVAL;
    }
    if (c->durable && !k->ent->encode) {
      snprintf(err, errcap,
               "%s:%d: supervisor.children[%zu].facets: durability needs "
               "the state codec, and the library registers none for \"%s\" "
               "(px_app_register_codec)",
               fname, c->durable_line, i, c->actor_type);
      return PX_EINVAL;
    }
    if ((c->durable || kind == PX_APP_WORKFLOW) && !app->mgr->store) {
      snprintf(err, errcap,
               "%s:%d: supervisor.children[%zu]: %s needs the node's store, "
               "and this node has none",
               fname, c->line, i,
               kind == PX_APP_WORKFLOW ? "a workflow" : "durability");
      return PX_EINVAL;
    }
    k->supervised = !c->is_virtual && kind != PX_APP_WORKFLOW;
    /* Virtual and workflow types are named per app; a durable child's
     * stream is named per child. Both stay the same across restarts. */
    snprintf(k->qname, sizeof k->qname, "%s/%s/%s", app->tenant, app->id,
             k->supervised ? c->name : c->actor_type);
    for (size_t j = 0; j < i && !k->supervised; j++)
      if (!app->kids[j].supervised && !strcmp(app->kids[j].qname, k->qname)) {
        snprintf(err, errcap,
                 "%s:%d: supervisor.children[%zu].actor_type: \"%s\" is "
                 "already a %s type of this app (children[%zu])",
                 fname, c->type_line, i, c->actor_type,
                 kind == PX_APP_WORKFLOW ? "workflow" : "virtual", j);
        return PX_EINVAL;
      }
    k->dur = (px_durable_opts){
        .store = app->mgr->store,
        .checkpoint_every = c->checkpoint_every,
        .checkpoint_interval_ms = c->checkpoint_interval_ms,
        .no_journal = c->state_only,
        .encode = k->ent->encode,
        .decode = k->ent->decode,
    };
  }
  return 0;
}

typedef struct app_src {
  const char *tenant, *id, *name, *version;
  const char *config;
  size_t config_len;
  const char *config_name;
  const void *lib;
  size_t lib_len;
} app_src;

/* Parses, loads and checks; nothing starts. *out is set also on errors
 * once the names are known (so a failed persisted app can be shown). */
static int build(px_apps *a, const app_src *s, px__app **out, char *err,
                 size_t errcap) {
  *out = NULL;
  const char *tenant = s->tenant && *s->tenant ? s->tenant : "default";
  if (!px__app_name_ok(tenant)) {
    snprintf(err, errcap,
             "tenant \"%s\" is not a valid name (1 to 63 of A-Z a-z 0-9 _ . "
             "-)",
             tenant);
    return PX_EINVAL;
  }
  if (!s->id || !px__app_name_ok(s->id)) {
    snprintf(err, errcap,
             "application_id \"%s\" is not a valid name (1 to 63 of A-Z a-z "
             "0-9 _ . -)",
             s->id ? s->id : "");
    return PX_EINVAL;
  }
  if (s->name && strlen(s->name) >= sizeof((px__app *)0)->name) {
    snprintf(err, errcap, "name is longer than 127 bytes");
    return PX_EINVAL;
  }
  if (s->version && strlen(s->version) >= sizeof((px__app *)0)->version) {
    snprintf(err, errcap, "version is longer than 31 bytes");
    return PX_EINVAL;
  }
  px__app *app = calloc(1, sizeof *app);
  if (!app) return PX_ENOMEM;
  app->mgr = a;
  snprintf(app->tenant, sizeof app->tenant, "%s", tenant);
  snprintf(app->id, sizeof app->id, "%s", s->id);
  snprintf(app->name, sizeof app->name, "%s", s->name && *s->name ? s->name
                                                                  : s->id);
  snprintf(app->dir, sizeof app->dir, "%s/%s~%s", a->apps_dir, app->tenant,
           app->id);
  app->keeper = app->sup = px_ref_nil();
  *out = app;
  const char *fname = s->config_name ? s->config_name : "app-config.toml";
  int rc = px__app_config_parse(s->config ? s->config : "", s->config_len,
                                fname, &app->cfg, err, errcap);
  if (rc) return rc;
  snprintf(app->version, sizeof app->version, "%s",
           s->version && *s->version ? s->version : app->cfg.version);
  const px__app_loader *ld =
      px__app_loader_for(s->lib, s->lib ? s->lib_len : 0, err, errcap);
  if (!ld) return PX_EINVAL;
  char path[PATH_MAX];
  rc = px__app_lib_store(a->lib_dir, s->lib, s->lib_len, ld->ext, path,
                         sizeof path, err, errcap);
  if (rc) return rc;
  if (!(app->reg = px__app_registry_new())) return PX_ENOMEM;
  if ((rc = ld->load(path, &app->cfg, app->reg, err, errcap))) return rc;
  return build_kids(app, fname, err, errcap);
}

/* ---- the list ------------------------------------------------------------- */

static px__app *find_locked(px_apps *a, const char *tenant, const char *id) {
  for (px__app *p = a->head; p; p = p->next)
    if (!strcmp(p->tenant, tenant) && !strcmp(p->id, id)) return p;
  return NULL;
}

static void append(px_apps *a, px__app *app) {
  pthread_rwlock_wrlock(&a->lock);
  px__app **pp = &a->head;
  while (*pp) pp = &(*pp)->next;
  *pp = app;
  pthread_rwlock_unlock(&a->lock);
}

static void unlink_app(px_apps *a, px__app *app) {
  pthread_rwlock_wrlock(&a->lock);
  for (px__app **pp = &a->head; *pp; pp = &(*pp)->next)
    if (*pp == app) {
      *pp = app->next;
      break;
    }
  pthread_rwlock_unlock(&a->lock);
}

static void set_status(px__app *app, int st) {
  pthread_rwlock_wrlock(&app->mgr->lock);
  app->status = st;
  pthread_rwlock_unlock(&app->mgr->lock);
}

/* ---- files ---------------------------------------------------------------- */

static void remove_dir(const char *dir) {
  static const char *const files[] = {"app-config.toml", "app.so",
                                      "app.json", NULL};
  char p[PATH_MAX + 32];
  for (const char *const *f = files; *f; f++) {
    snprintf(p, sizeof p, "%s/%s", dir, *f);
    unlink(p);
  }
  rmdir(dir);
}

static int persist(px__app *app, const app_src *s, char *err, size_t errcap) {
  if (mkdir(app->dir, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errcap, "cannot create %s: %s", app->dir, strerror(errno));
    return PX_EIO;
  }
  px_val meta = px_map(4, px_str("tenant"), px_str(app->tenant),
                       px_str("application_id"), px_str(app->id),
                       px_str("name"), px_str(app->name), px_str("version"),
                       px_str(app->version));
  char *json = NULL;
  size_t jl = 0;
  int rc = px_json_encode(meta, &json, &jl);
  px_val_release(meta);
  char p[PATH_MAX + 32];
  if (!rc) {
    snprintf(p, sizeof p, "%s/app-config.toml", app->dir);
    rc = px__app_write_file(p, s->config, s->config_len);
  }
  if (!rc) {
    snprintf(p, sizeof p, "%s/app.so", app->dir);
    rc = px__app_write_file(p, s->lib, s->lib_len);
  }
  if (!rc) {
    /* Last: a directory without it is not an API deploy. */
    snprintf(p, sizeof p, "%s/app.json", app->dir);
    rc = px__app_write_file(p, json, jl);
  }
  free(json);
  if (rc) {
    snprintf(err, errcap, "cannot write the app under %s", app->dir);
    remove_dir(app->dir);
    return PX_EIO;
  }
  return 0;
}

/* ---- deploy / undeploy ------------------------------------------------------ */

static void stop_app(px__app *app) {
  /* relaxed: the keeper reads it after the stop ask that follows, and a
   * message orders it. */
  atomic_store_explicit(&app->stopping, true, memory_order_relaxed);
  px__app_tree_stop(app);
  set_status(app, PX__APP_STOPPED);
}

int px__apps_deploy(px_apps *a, const px_app_deploy_req *r, char *err,
                    size_t errcap) {
  if (errcap) err[0] = 0;
  if (!a || !r) return PX_EINVAL;
  app_src s = {r->tenant, r->application_id, r->name, r->version,
               r->config, r->config_len, r->config_name, r->lib,
               r->lib_len};
  px__app *app;
  pthread_mutex_lock(&a->op_mu);
  int rc = build(a, &s, &app, err, errcap);
  if (rc) {
    pthread_mutex_unlock(&a->op_mu);
    app_free(app);
    return rc;
  }
  /* Valid: the old version goes, the new one comes. */
  pthread_rwlock_rdlock(&a->lock);
  px__app *old = find_locked(a, app->tenant, app->id);
  pthread_rwlock_unlock(&a->lock);
  if (old) {
    unlink_app(a, old);
    stop_app(old);
    remove_dir(old->dir);
    app_free(old);
  }
  if ((rc = persist(app, &s, err, errcap)) == 0) {
    append(a, app);
    rc = px__app_tree_start(app, err, errcap);
    if (rc) {
      unlink_app(a, app);
      remove_dir(app->dir);
      rc = PX_EINIT;
    } else {
      set_status(app, PX__APP_RUNNING);
    }
  }
  pthread_mutex_unlock(&a->op_mu);
  if (rc) app_free(app);
  return rc;
}

int px__apps_undeploy(px_apps *a, const char *tenant,
                      const char *application_id) {
  if (!a || !application_id) return PX_ENOTFOUND;
  pthread_mutex_lock(&a->op_mu);
  pthread_rwlock_rdlock(&a->lock);
  px__app *app = find_locked(a, tenant && *tenant ? tenant : "default",
                             application_id);
  pthread_rwlock_unlock(&a->lock);
  if (app) {
    unlink_app(a, app);
    stop_app(app);
    remove_dir(app->dir);
    app_free(app);
  }
  pthread_mutex_unlock(&a->op_mu);
  return app ? 0 : PX_ENOTFOUND;
}

/* ---- open / close ------------------------------------------------------------ */

/* Loads and starts the app in apps_dir/<ent>; failures are kept as a
 * failed app when its names are known, and logged. */
static void open_one(px_apps *a, const char *ent) {
  char dir[PATH_MAX], p[PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/%s", a->apps_dir, ent);
  char *cfg = NULL, *lib = NULL, *meta = NULL;
  size_t cl = 0, ll = 0, ml = 0;
  char err[1024] = "";
  snprintf(p, sizeof p, "%s/app-config.toml", dir);
  int rc = px__app_read_file(p, &cfg, &cl);
  if (rc == PX_ENOTFOUND) return; /* not an app directory */
  snprintf(p, sizeof p, "%s/app.so", dir);
  if (!rc && (rc = px__app_read_file(p, &lib, &ll)))
    snprintf(err, sizeof err, "%s: cannot read app.so", dir);
  snprintf(p, sizeof p, "%s/app.json", dir);
  px_val m = px_nil();
  if (px__app_read_file(p, &meta, &ml) == 0)
    px_json_decode(meta, ml, &m, NULL, 0);
  /* By hand: the directory names the app, the config its tenant. */
  char tenant[PX__APP_NAME_MAX] = "";
  px__app_config pre;
  if (px_typeof(m) != PX_T_MAP &&
      px__app_config_parse(cfg ? cfg : "", cl, "app-config.toml", &pre, NULL,
                           0) == 0)
    snprintf(tenant, sizeof tenant, "%s", pre.tenant_id);
  if (px_typeof(m) != PX_T_MAP) px__app_config_free(&pre);
  app_src s = {
      .tenant = px_typeof(m) == PX_T_MAP ? px_str_ptr(px_gets(m, "tenant"))
                                         : tenant,
      .id = px_typeof(m) == PX_T_MAP
                ? px_str_ptr(px_gets(m, "application_id"))
                : ent,
      .name = px_str_ptr(px_gets(m, "name")),
      .version = px_str_ptr(px_gets(m, "version")),
      .config = cfg, .config_len = cl, .config_name = "app-config.toml",
      .lib = lib, .lib_len = ll};
  px__app *app = NULL;
  if (!rc) rc = build(a, &s, &app, err, sizeof err);
  if (app) {
    pthread_rwlock_rdlock(&a->lock);
    bool dup = find_locked(a, app->tenant, app->id) != NULL;
    pthread_rwlock_unlock(&a->lock);
    if (dup) {
      px_log(PX_LOG_ERROR, "app", "%s: not started: %s/%s is deployed twice "
             "(another directory has it)", dir, app->tenant, app->id);
      app_free(app);
      app = NULL;
      rc = 0;
    }
  }
  if (app) {
    /* The app keeps the directory it was found in. */
    snprintf(app->dir, sizeof app->dir, "%s", dir);
    append(a, app);
    if (!rc) rc = px__app_tree_start(app, err, sizeof err);
    pthread_rwlock_wrlock(&a->lock);
    app->status = rc ? PX__APP_FAILED : PX__APP_RUNNING;
    if (rc) snprintf(app->error, sizeof app->error, "%s", err);
    pthread_rwlock_unlock(&a->lock);
  }
  if (rc) px_log(PX_LOG_ERROR, "app", "%s: not started: %s", dir, err);
  px_val_release(m);
  free(cfg);
  free(lib);
  free(meta);
}

static int entcmp(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

int px__apps_open(const px_apps_opts *o, px_apps **out, char *err,
                  size_t errcap) {
  *out = NULL;
  if (!o || !o->data_dir || !*o->data_dir) {
    snprintf(err, errcap, "no data directory");
    return PX_EINVAL;
  }
  px_apps *a = calloc(1, sizeof *a);
  if (!a) return PX_ENOMEM;
  if ((size_t)snprintf(a->data_dir, sizeof a->data_dir, "%s", o->data_dir) >=
      sizeof a->data_dir) {
    free(a);
    snprintf(err, errcap, "data directory path too long");
    return PX_EINVAL;
  }
  snprintf(a->apps_dir, sizeof a->apps_dir, "%s/apps", a->data_dir);
  snprintf(a->lib_dir, sizeof a->lib_dir, "%s/apps/.libs", a->data_dir);
  a->store = o->store;
  const char *dirs[] = {a->data_dir, a->apps_dir, a->lib_dir};
  for (int i = 0; i < 3; i++)
    if (mkdir(dirs[i], 0755) != 0 && errno != EEXIST) {
      snprintf(err, errcap, "cannot create %s: %s", dirs[i], strerror(errno));
      free(a);
      return PX_EIO;
    }
  pthread_rwlock_init(&a->lock, NULL);
  pthread_mutex_init(&a->op_mu, NULL);
  /* Sorted, so start order (and so stop order) does not depend on the
   * file system. */
  DIR *d = opendir(a->apps_dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) break;
      names = nn;
    }
    if ((names[n] = strdup(e->d_name))) n++;
  }
  if (d) closedir(d);
  if (n) qsort(names, n, sizeof *names, entcmp);
  for (size_t i = 0; i < n; i++) {
    open_one(a, names[i]);
    free(names[i]);
  }
  free(names);
  px__apps_metrics_start(a);
  *out = a;
  return 0;
}

void px__apps_close(px_apps *a) {
  if (!a) return;
  px__apps_metrics_stop(a);
  pthread_mutex_lock(&a->op_mu);
  for (;;) {
    /* The last deployed first. */
    pthread_rwlock_rdlock(&a->lock);
    px__app *last = a->head;
    while (last && last->next) last = last->next;
    pthread_rwlock_unlock(&a->lock);
    if (!last) break;
    unlink_app(a, last);
    stop_app(last);
    app_free(last);
  }
  pthread_mutex_unlock(&a->op_mu);
  pthread_mutex_destroy(&a->op_mu);
  pthread_rwlock_destroy(&a->lock);
  free(a);
}
