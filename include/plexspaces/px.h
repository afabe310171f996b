/* The umbrella header: everything a C user of libplexspaces needs. */
#ifndef PLEXSPACES_PX_H
#define PLEXSPACES_PX_H

#include "actor.h"
#include "app.h"
#include "common.h"
#include "core.h"
#include "durable.h"
#include "error.h"
#include "gen_event.h"
#include "gen_fsm.h"
#include "gen_server.h"
#include "kv.h"
#include "metrics.h"
#include "reminder.h"
#include "runtime.h"
#include "space.h"
#include "store.h"
#include "supervisor.h"
#include "toml.h"
#include "val.h"
#include "virtual.h"
#include "workflow.h"

#endif
