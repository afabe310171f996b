/* C applications: shared libraries the node loads at run time (issue 5,
 * PLEXSPACES.md 2.16 and 2.19).
 *
 * An app is a supervision tree in a namespace, owned by a tenant, described
 * by an app-config.toml and backed by a library that names the actor types
 * the config may use. The library is built with `-shared -fPIC` and is NOT
 * linked with libplexspaces: the node program exports the whole px_* API,
 * and the library's undefined px_* symbols bind to it at load time.
 *
 * A library exports two symbols:
 *
 *   const uint32_t px_app_abi_version = PX_APP_ABI_VERSION;
 *   int px_app_init(px_app_registry *r);
 *
 * (PX_APP_EXPORT marks them visible when the library is built with hidden
 * visibility.) The node checks px_app_abi_version first (missing or
 * different: the deploy is refused), then calls px_app_init once per load,
 * from a plain thread, before anything of the app starts. px_app_init
 * registers actor types under the names app-config.toml uses as
 * `actor_type`, and returns 0 (anything else refuses the deploy). Every
 * definition passed in must live as long as the process (static objects):
 * a library is never unloaded, because its code may still be on an
 * actor's stack after an undeploy.
 *
 * Names are per app: two apps may both register "counter". The node
 * qualifies what is global in the runtime (virtual and workflow type
 * names become "<tenant>/<namespace>/<actor_type>"). */
#ifndef PLEXSPACES_APP_H
#define PLEXSPACES_APP_H

#include "actor.h"
#include "common.h"
#include "gen_event.h"
#include "gen_fsm.h"
#include "gen_server.h"
#include "val.h"
#include "workflow.h"

PX_EXTERN_C_BEGIN

/** The ABI an app library is built against; bumped whenever the structs
 *  and calls an app uses change incompatibly. */
#define PX_APP_ABI_VERSION 1u

/** Makes a library's px_app_init / px_app_abi_version visible. */
#define PX_APP_EXPORT __attribute__((visibility("default")))

/** What px_app_init fills (opaque; valid only during px_app_init). */
typedef struct px_app_registry px_app_registry;

/** The entry point a library exports. */
typedef int (*px_app_init_fn)(px_app_registry *r);

/* Every register call returns 0, PX_EINVAL (NULL or empty name, missing
 * callbacks, a name longer than 63 bytes or holding '/' or ':'), or
 * PX_EEXIST (the name is registered already in this registry). The first
 * error is also kept and refuses the deploy, with the name in the
 * message. */

/** A plain actor. Its init receives the child's `args` table (a map; nil
 *  when the config has none). It starts asynchronously: a failing init is
 *  a crash the supervisor sees. */
PX_API int px_app_register_actor(px_app_registry *r, const char *actor_type,
                                 const px_actor_type *t);
/** A GenServer (behavior_kind GenServer): init gets the args map. */
PX_API int px_app_register_gen_server(px_app_registry *r,
                                      const char *actor_type,
                                      const px_gen_server *gs);
/** A GenFSM (behavior_kind GenFSM): init gets the args map. */
PX_API int px_app_register_gen_fsm(px_app_registry *r, const char *actor_type,
                                   const px_gen_fsm *fsm);
/** A GenEvent manager (behavior_kind GenEvent) started with `handler`
 *  installed (id nil, init args = the child's args map). */
PX_API int px_app_register_gen_event(px_app_registry *r,
                                     const char *actor_type,
                                     const px_event_handler *handler);
/** A workflow type (behavior_kind Workflow): wf->name is the actor_type
 *  the config names; the node registers a copy under the qualified
 *  name. */
PX_API int px_app_register_workflow(px_app_registry *r,
                                    const px_workflow_type *wf);
/** The state codec of an actor type registered above, required by its
 *  `durability` facet: encode gives the state as a new px_val, decode
 *  restores it into what init made (non-zero = corrupt). For a GenServer
 *  they see the user's state. */
PX_API int px_app_register_codec(px_app_registry *r, const char *actor_type,
                                 px_val (*encode)(const void *state),
                                 int (*decode)(px_val saved, void *state));

PX_EXTERN_C_END

#endif
