/* Internals of the app manager shared by its files: the parsed
 * app-config.toml (config.c), the registry a library fills (registry.c),
 * the loaders that turn library bytes into a filled registry (loader.c;
 * the .wasm loader of issue 6 slots in beside the C one), and the child
 * start functions (child.c). Not part of the API. */
#ifndef PX_APP_INTERNAL_H
#define PX_APP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/app.h"
#include "plexspaces/durable.h"
#include "plexspaces/supervisor.h"
#include "plexspaces/virtual.h"

#define PX__APP_NAME_MAX 64 /* names, terminator included */

/* True for [A-Za-z0-9_.-]{1,63}, not "." or "..": safe as a path
 * component, a namespace and a stream id part. */
bool px__app_name_ok(const char *s);

/* ---- app-config.toml ---------------------------------------------------- */

typedef struct px__app_child {
  char name[PX__APP_NAME_MAX];
  char actor_type[PX__APP_NAME_MAX];
  char role[PX__APP_NAME_MAX];
  px_sup_restart restart;
  int64_t shutdown_ms;  /* 0 = supervisor default */
  int behavior;         /* PX_APP_* or 0 = as registered */
  px_val args;          /* map (owned); nil when absent */
  /* facets */
  bool is_virtual;
  int64_t idle_timeout_ms;
  size_t max_active;
  px_activation activation;
  char **eager_keys;    /* NULL-terminated (owned), eager only */
  bool durable;
  uint32_t checkpoint_every;
  int64_t checkpoint_interval_ms;
  bool state_only;      /* mode = "state" */
  /* where it was written, for errors found against the library */
  int line, type_line, kind_line, durable_line;
} px__app_child;

typedef struct px__app_link {
  char name[PX__APP_NAME_MAX];
  char *base_url;
  int64_t timeout_secs;
  int64_t max_attempts, initial_delay_ms;
} px__app_link;

typedef struct px__app_config {
  char version[32];
  char tenant_id[PX__APP_NAME_MAX];
  px_sup_strategy strategy;
  int max_restarts;
  int window_s;
  px__app_child *children;
  size_t nchildren;
  px__app_link *links;
  size_t nlinks;
} px__app_config;

/* Parses and checks app-config.toml text. 0, PX_EINVAL with err =
 * "<fname>:<line>: <path>: <reason>", or PX_ENOMEM. *c is zeroed first;
 * free it with px__app_config_free either way. */
int px__app_config_parse(const char *text, size_t len, const char *fname,
                         px__app_config *c, char *err, size_t errcap);
void px__app_config_free(px__app_config *c);

const char *px__app_kind_name(int kind);        /* "GenServer", ... */
const char *px__app_strategy_name(px_sup_strategy s);
const char *px__app_restart_name(px_sup_restart r);

/* ---- the registry a library fills --------------------------------------- */

typedef struct px__app_entry {
  char name[PX__APP_NAME_MAX];
  int kind;        /* PX_APP_* */
  const void *def; /* px_actor_type, px_gen_server, px_gen_fsm,
                      px_event_handler or px_workflow_type */
  px_val (*encode)(const void *state);
  int (*decode)(px_val saved, void *state);
} px__app_entry;

struct px_app_registry {
  px__app_entry *e;
  size_t n, cap;
  int rc;          /* the first registration error */
  char err[256];
};

px_app_registry *px__app_registry_new(void);
void px__app_registry_free(px_app_registry *r);
const px__app_entry *px__app_registry_find(const px_app_registry *r,
                                           const char *name);
/* "a, b, c" of the registered names into buf. */
void px__app_registry_names(const px_app_registry *r, char *buf, size_t cap);

/* ---- loaders -------------------------------------------------------------- */

typedef struct px__app_loader {
  const char *kind; /* "c", "wasm" */
  const char *ext;  /* of the content-addressed copy: "so", "wasm" */
  bool (*accepts)(const void *bytes, size_t len);
  /* Loads the library stored at `path` and fills r with the actor types
   * the app's config names. */
  int (*load)(const char *path, const px__app_config *cfg,
              px_app_registry *r, char *err, size_t errcap);
} px__app_loader;

/* The loader for these bytes, or NULL (err says what is expected). */
const px__app_loader *px__app_loader_for(const void *bytes, size_t len,
                                         char *err, size_t errcap);

/* Writes bytes to libdir/<sha256>.<ext> unless already there (dlopen
 * caches by path: a changed library gets a new path and a fresh handle)
 * and gives that path. 0 or PX_EIO with err. */
int px__app_lib_store(const char *libdir, const void *bytes, size_t len,
                      const char *ext, char *path, size_t cap, char *err,
                      size_t errcap);

/* ---- deployed apps ------------------------------------------------------ */

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define PX__APP_QNAME_MAX 200 /* "<tenant>/<ns>/<actor_type>" */

enum { PX__APP_STARTING = 0, PX__APP_RUNNING, PX__APP_FAILED,
       PX__APP_STOPPED };

typedef struct px__app px__app;

/* One child of the config, with what it became. */
typedef struct px__app_kid {
  px__app *app;
  size_t index;                /* in app->cfg.children */
  const px__app_child *cfg;
  const px__app_entry *ent;
  bool supervised;             /* a child of the tree (not a virtual or
                                  workflow type) */
  char qname[PX__APP_QNAME_MAX]; /* registered virtual/workflow name, or
                                    the durable stream id */
  bool registered;             /* the virtual/workflow type is in */
  px_durable_opts dur;
  px_ref ref;                  /* the running child: under mgr->lock */
  uint32_t starts;             /* under mgr->lock */
} px__app_kid;

struct px__app {
  px_apps *mgr;
  char tenant[PX__APP_NAME_MAX], id[PX__APP_NAME_MAX];
  char name[128], version[32];
  char dir[PATH_MAX];          /* data_dir/apps/<tenant>~<id> */
  px__app_config cfg;
  px_app_registry *reg;
  px__app_kid *kids;
  size_t nkids;
  int status;                  /* PX__APP_*: under mgr->lock */
  char error[512];             /* under mgr->lock */
  char start_err[256];         /* the last child start that failed: under
                                  mgr->lock */
  px_ref keeper;               /* the actor owning the tree */
  px_ref sup;
  atomic_bool stopping;
  _Atomic uint32_t rr;         /* round-robin over children of a type */
  px__app *next;
};

struct px_apps {
  char data_dir[PATH_MAX - 64];
  char apps_dir[PATH_MAX];
  char lib_dir[PATH_MAX];
  px_store *store;
  pthread_rwlock_t lock;  /* the list, refs, statuses */
  pthread_mutex_t op_mu;  /* one deploy / undeploy at a time */
  px__app *head;          /* deploy order */
};

/* Starts a validated app: its keeper actor (in the app's tenant and
 * namespace) registers the virtual and workflow types and starts the
 * supervisor. On failure everything it did is undone and err says why. */
int px__app_tree_start(px__app *app, char *err, size_t errcap);
/* Stops the tree, unregisters the types, ends the keeper. */
void px__app_tree_stop(px__app *app);

/* "starting", "running", "failed", "stopped" (dir.c). */
const char *px__app_status_name(int status);
/* The apps' /metrics families (metrics.c), from open to close. */
void px__apps_metrics_start(px_apps *a);
void px__apps_metrics_stop(px_apps *a);

/* ---- files ---------------------------------------------------------------- */

int px__app_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file (malloc'd, NUL-terminated). 0, PX_ENOTFOUND, PX_EIO. */
int px__app_read_file(const char *path, char **data, size_t *len);

#endif
