/* The registry an app library fills from px_app_init: actor type names
 * and their definitions, checked as they come in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/error.h"

px_app_registry *px__app_registry_new(void) {
  return calloc(1, sizeof(px_app_registry));
}

void px__app_registry_free(px_app_registry *r) {
  if (!r) return;
  free(r->e);
  free(r);
}

const px__app_entry *px__app_registry_find(const px_app_registry *r,
                                           const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->e[i].name, name)) return &r->e[i];
  return NULL;
}

void px__app_registry_names(const px_app_registry *r, char *buf, size_t cap) {
  size_t o = 0;
  if (cap) buf[0] = 0;
  for (size_t i = 0; i < r->n && o < cap; i++) {
    int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", r->e[i].name);
    if (w > 0) o += (size_t)w;
  }
  if (!r->n) snprintf(buf, cap, "none");
}

/* Keeps the first error: that is the one the deploy reports. */
static int reject(px_app_registry *r, int rc, const char *name,
                  const char *why) {
  if (!r->rc) {
    r->rc = rc;
    snprintf(r->err, sizeof r->err, "actor type \"%s\": %s",
             name ? name : "(null)", why);
  }
  return rc;
}

static int add(px_app_registry *r, const char *name, int kind,
               const void *def) {
  if (!r) return PX_EINVAL;
  if (!name || !px__app_name_ok(name))
    return reject(r, PX_EINVAL, name,
                  "not a valid name (1 to 63 of A-Z a-z 0-9 _ . -)");
  if (!def) return reject(r, PX_EINVAL, name, "no definition given");
  if (px__app_registry_find(r, name))
    return reject(r, PX_EEXIST, name, "registered twice");
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    px__app_entry *e = realloc(r->e, cap * sizeof *e);
    if (!e) return reject(r, PX_ENOMEM, name, "out of memory");
    r->e = e;
    r->cap = cap;
  }
  px__app_entry *e = &r->e[r->n++];
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  e->kind = kind;
  e->def = def;
  return 0;
}

int px_app_register_actor(px_app_registry *r, const char *actor_type,
                          const px_actor_type *t) {
  if (r && t && !t->handle)
    return reject(r, PX_EINVAL, actor_type, "px_actor_type without handle");
  return add(r, actor_type, PX_APP_ACTOR, t);
}

int px_app_register_gen_server(px_app_registry *r, const char *actor_type,
                               const px_gen_server *gs) {
  if (r && gs && !gs->init)
    return reject(r, PX_EINVAL, actor_type, "px_gen_server without init");
  return add(r, actor_type, PX_APP_GEN_SERVER, gs);
}

int px_app_register_gen_fsm(px_app_registry *r, const char *actor_type,
                            const px_gen_fsm *fsm) {
  return add(r, actor_type, PX_APP_GEN_FSM, fsm);
}

int px_app_register_gen_event(px_app_registry *r, const char *actor_type,
                              const px_event_handler *handler) {
  return add(r, actor_type, PX_APP_GEN_EVENT, handler);
}

int px_app_register_workflow(px_app_registry *r, const px_workflow_type *wf) {
  if (r && wf && !wf->run)
    return reject(r, PX_EINVAL, wf->name, "px_workflow_type without run");
  return add(r, wf ? wf->name : NULL, PX_APP_WORKFLOW, wf);
}

int px_app_register_codec(px_app_registry *r, const char *actor_type,
                          px_val (*encode)(const void *state),
                          int (*decode)(px_val saved, void *state)) {
  if (!r) return PX_EINVAL;
  if (!encode || !decode)
    return reject(r, PX_EINVAL, actor_type, "codec needs encode and decode");
  px__app_entry *e =
      actor_type ? (px__app_entry *)px__app_registry_find(r, actor_type)
                 : NULL;
  if (!e)
    return reject(r, PX_ENOTFOUND, actor_type,
                  "codec for a type not registered (register the type "
                  "first)");
  if (e->kind != PX_APP_ACTOR && e->kind != PX_APP_GEN_SERVER)
    return reject(r, PX_EINVAL, actor_type,
                  "codecs are for plain actors and GenServers (the kinds "
                  "that can be durable)");
  e->encode = encode;
  e->decode = decode;
  return 0;
}
