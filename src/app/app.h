/* The node's application manager: deploys, persists, starts, stops and
 * lists apps, and resolves HTTP targets to actors (the interface the node
 * and the HTTP layer use; PLEXSPACES.md 2.16 and 2.19).
 *
 * Threads: every px__apps_* function may be called from any plain thread
 * (the HTTP server's), concurrently; never from an actor handler of an
 * app's own tree. */
#ifndef PX_APP_APP_H
#define PX_APP_APP_H

#include <stddef.h>

#include "plexspaces/actor.h"
#include "plexspaces/store.h"
#include "plexspaces/val.h"

typedef struct px_apps px_apps;

typedef struct px_apps_opts {
  const char *data_dir; /* required: apps live in data_dir/apps/, loaded
                           library copies in data_dir/apps/.libs/ */
  px_store *store;      /* the node's store: durability facets and
                           workflows need it (NULL: such apps are refused) */
} px_apps_opts;

/** Opens the app manager: loads and starts every app persisted under
 *  data_dir/apps/ (deployed earlier through the API, or dropped there by
 *  hand as <dir>/app-config.toml + <dir>/app.so: then the tenant is the
 *  config's tenant_id, else "default", and application_id is <dir>). One
 *  app failing to start is logged and reported by status ("error"); it
 *  does not stop the others or the node. Call after px_runtime_start and
 *  once the store is open; call px_workflow_recover after it. 0, or
 *  PX_EINVAL / PX_EIO with err when the data directory is unusable. */
int px__apps_open(const px_apps_opts *o, px_apps **out, char *err,
                  size_t errcap);

/** Stops every app in reverse start order (graceful: each tree is stopped
 *  as px_sup_stop does, its virtual and workflow types unregistered) and
 *  frees the manager. Persisted apps stay on disk. NULL is a no-op. */
void px__apps_close(px_apps *a);

typedef struct px_app_deploy_req {
  const char *tenant;         /* NULL or "" = "default" */
  const char *application_id; /* required; also the namespace */
  const char *name;           /* NULL = application_id */
  const char *version;        /* NULL = the config's version, else 1.0.0 */
  const char *config;         /* app-config.toml text */
  size_t config_len;
  const char *config_name;    /* for messages; NULL = "app-config.toml" */
  const void *lib;            /* the library bytes (ELF magic checked) */
  size_t lib_len;
} px_app_deploy_req;

/** Deploys an app. Everything is validated before anything starts: the
 *  names, the config (errors read "app-config.toml:LINE: path: reason"),
 *  the library (format, ABI version, px_app_init, every actor_type the
 *  config names registered with a matching behavior_kind). Deploying an
 *  existing (tenant, application_id) replaces it: the new app is fully
 *  validated first (a bad one leaves the old running), then the old is
 *  undeployed and the new one started. On success the app is persisted
 *  under data_dir/apps/ (started again by the next px__apps_open) and
 *  running. Errors: PX_EINVAL with err (bad names, config, library),
 *  PX_EINIT with err (validated, but the tree failed to start: nothing
 *  stays deployed, the previous version is gone), PX_EIO. */
int px__apps_deploy(px_apps *a, const px_app_deploy_req *r, char *err,
                    size_t errcap);

/** Undeploys (graceful stop, types unregistered, files removed). 0 or
 *  PX_ENOTFOUND (unknown, or another tenant's). */
int px__apps_undeploy(px_apps *a, const char *tenant,
                      const char *application_id);

/** [{application_id, name, version, namespace, status}] of the tenant's
 *  apps, in deploy order; status is "running", "failed" or "stopped". *out
 *  is a new value. */
int px__apps_list(px_apps *a, const char *tenant, px_val *out);

/** The list entry plus "supervisor": {strategy, max_restarts,
 *  max_restart_window_seconds, children: [{name, actor_type,
 *  behavior_kind, restart, state, actor_id, restarts}]},
 *  "virtual_types": [{actor_type, registered_as}], "workflow_types":
 *  [{actor_type, registered_as}], "service_links": [...], and "error"
 *  when failed. PX_ENOTFOUND for another tenant's app. */
int px__apps_status(px_apps *a, const char *tenant,
                    const char *application_id, px_val *out);

/* What a target is (px_app_target.behavior). */
enum {
  PX_APP_ACTOR = 1, /* plain actor */
  PX_APP_GEN_SERVER,
  PX_APP_GEN_FSM,
  PX_APP_GEN_EVENT,
  PX_APP_WORKFLOW,
};

/* px_app_target.kind */
enum { PX_APP_TARGET_REF = 1, PX_APP_TARGET_VIRTUAL };

/** A resolved target. How the HTTP layer delivers to it:
 *   - kind REF: ask = px_ask(ref, atom(op), payload, timeout, &reply) --
 *     for a GenServer or GenFSM any ask is a call (handle_call / the
 *     state's call event), for a plain actor its handle gets msg->corr != 0
 *     and answers with px_reply; tell = px_send(ref, atom(op), payload) --
 *     a GenServer/GenFSM sees it as an info (handle_info / an info event),
 *     a plain actor as a message. A GenEvent manager: tell =
 *     px_gen_event_notify(ref, atom(op), payload); an ask has no meaning
 *     (answer 400).
 *   - kind VIRTUAL: px_virtual_ask_in(tenant, ns, vtype, key, ...) and
 *     px_virtual_send_in(...) with vtype (the qualified registered name)
 *     and key; a virtual GenServer sees asks as calls, sends as infos.
 *   - behavior WORKFLOW is never resolved here: use
 *     px__apps_workflow_type. */
typedef struct px_app_target {
  int kind;
  px_ref ref;
  char vtype[256];
  char key[256];
  int behavior;
} px_app_target;

/** Resolves an HTTP target inside (tenant, ns):
 *   "type"     -> a live child of that actor_type (round-robin over the
 *                 app's running children of the type), else the virtual
 *                 actor (type, "default");
 *   "type:key" -> the child named key of that type, else the virtual
 *                 actor (type, key).
 *  0 with *out, PX_ENOTFOUND (unknown ns/type/child, another tenant's, or
 *  no live child yet), PX_EINVAL (malformed target). Cheap: an in-memory
 *  lookup under a read lock, no message to any supervisor. */
int px__apps_resolve(px_apps *a, const char *tenant, const char *ns,
                     const char *target, px_app_target *out);

/** The registered (qualified) workflow type name of (tenant, ns, type),
 *  for px_workflow_start_in & co. 0, PX_ENOTFOUND, PX_ERANGE (cap). */
int px__apps_workflow_type(px_apps *a, const char *tenant, const char *ns,
                           const char *type, char *out, size_t cap);

/** Live supervised actors of the tenant's apps (ns NULL = all):
 *  [{actor_id, actor_type, name, namespace, application_id,
 *  mailbox_depth}]. Virtual activations and workflow executions are not
 *  listed. */
int px__apps_actors(px_apps *a, const char *tenant, const char *ns,
                    px_val *out);

#endif
