/* What the HTTP layer reads: the list and status of a tenant's apps, the
 * target directory (resolve), workflow type names and the live actors.
 *
 * Resolve is on the hot path of every HTTP ask: it reads the in-memory
 * table under a read lock (apps are few; children per app are few) and
 * checks a child's liveness on the actor table directly, so it never
 * sends a message. Another tenant's app is never visible: every lookup
 * matches the tenant first. */
/* Messages and paths are cut at their buffer's size on purpose (a path too
 * long is caught where it is used). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"

static const char *tenant_or_default(const char *t) {
  return t && *t ? t : "default";
}

/* Under the lock (read or write). */
static px__app *find(px_apps *a, const char *tenant, const char *id) {
  if (!id) return NULL;
  tenant = tenant_or_default(tenant);
  for (px__app *p = a->head; p; p = p->next)
    if (!strcmp(p->id, id) && !strcmp(p->tenant, tenant)) return p;
  return NULL;
}

const char *px__app_status_name(int st) {
  switch (st) {
    case PX__APP_RUNNING: return "running";
    case PX__APP_FAILED: return "failed";
    case PX__APP_STOPPED: return "stopped";
    default: return "starting";
  }
}

static px_val summary(const px__app *p) {
  return px_map(5, px_str("application_id"), px_str(p->id), px_str("name"),
                px_str(p->name), px_str("version"), px_str(p->version),
                px_str("namespace"), px_str(p->id), px_str("status"),
                px_str(px__app_status_name(p->status)));
}

int px__apps_list(px_apps *a, const char *tenant, px_val *out) {
  *out = px_array_new(4);
  tenant = tenant_or_default(tenant);
  pthread_rwlock_rdlock(&a->lock);
  for (px__app *p = a->head; p; p = p->next)
    if (!strcmp(p->tenant, tenant)) px_array_push(out, summary(p));
  pthread_rwlock_unlock(&a->lock);
  return 0;
}

static const char *kid_state(const px__app_kid *k) {
  if (px_ref_is_nil(k->ref)) return "not_started";
  return px__lookup(k->ref) ? "running" : "stopped";
}

static px_val ref_str(px_ref r) {
  if (px_ref_is_nil(r)) return px_nil();
  return px_ref_val(r);
}

int px__apps_status(px_apps *a, const char *tenant,
                    const char *application_id, px_val *out) {
  *out = px_nil();
  pthread_rwlock_rdlock(&a->lock);
  px__app *p = find(a, tenant, application_id);
  if (!p) {
    pthread_rwlock_unlock(&a->lock);
    return PX_ENOTFOUND;
  }
  px_val v = summary(p);
  px_val kids = px_array_new(p->cfg.nchildren);
  px_val vt = px_array_new(0), wt = px_array_new(0);
  for (size_t i = 0; i < p->cfg.nchildren; i++) {
    const px__app_child *c = &p->cfg.children[i];
    /* A failed build may have stopped before this kid was made. */
    const px__app_kid *k =
        i < p->nkids && p->kids[i].ent ? &p->kids[i] : NULL;
    int kind = k ? k->ent->kind : c->behavior;
    px_val e = px_map(4, px_str("name"), px_str(c->name), px_str("actor_type"),
                      px_str(c->actor_type), px_str("behavior_kind"),
                      px_str(kind ? px__app_kind_name(kind) : "unknown"),
                      px_str("restart"),
                      px_str(px__app_restart_name(c->restart)));
    if (k && !k->supervised) {
      px_val t = px_map(2, px_str("actor_type"), px_str(c->actor_type),
                        px_str("registered_as"), px_str(k->qname));
      px_array_push(kind == PX_APP_WORKFLOW ? &wt : &vt, t);
      px_map_puts(&e, "state", px_str(kind == PX_APP_WORKFLOW
                                          ? "workflow_type"
                                          : "virtual_type"));
    } else {
      px_map_puts(&e, "state", px_str(k ? kid_state(k) : "not_started"));
      px_map_puts(&e, "actor_id", k ? ref_str(k->ref) : px_nil());
      px_map_puts(&e, "restarts",
                  px_int(k && k->starts ? (int64_t)k->starts - 1 : 0));
    }
    px_array_push(&kids, e);
  }
  px_val sup = px_map(
      4, px_str("strategy"), px_str(px__app_strategy_name(p->cfg.strategy)),
      px_str("max_restarts"), px_int(p->cfg.max_restarts),
      px_str("max_restart_window_seconds"), px_int(p->cfg.window_s),
      px_str("children"), kids);
  px_map_puts(&v, "supervisor", sup);
  px_map_puts(&v, "virtual_types", vt);
  px_map_puts(&v, "workflow_types", wt);
  px_val links = px_array_new(p->cfg.nlinks);
  for (size_t i = 0; i < p->cfg.nlinks; i++) {
    const px__app_link *l = &p->cfg.links[i];
    px_array_push(
        &links,
        px_map(4, px_str("name"), px_str(l->name), px_str("base_url"),
               px_str(l->base_url), px_str("timeout_secs"),
               px_int(l->timeout_secs), px_str("retry_policy"),
               px_map(2, px_str("max_attempts"), px_int(l->max_attempts),
                      px_str("initial_delay_ms"),
                      px_int(l->initial_delay_ms))));
  }
  px_map_puts(&v, "service_links", links);
  if (p->error[0]) px_map_puts(&v, "error", px_str(p->error));
  pthread_rwlock_unlock(&a->lock);
  *out = v;
  return 0;
}

int px__apps_resolve(px_apps *a, const char *tenant, const char *ns,
                     const char *target, px_app_target *out) {
  memset(out, 0, sizeof *out);
  if (!target || !*target) return PX_EINVAL;
  const char *colon = strchr(target, ':');
  size_t tl = colon ? (size_t)(colon - target) : strlen(target);
  const char *key = colon ? colon + 1 : NULL;
  if (!tl || tl >= PX__APP_NAME_MAX || (key && (!*key || strlen(key) >=
                                                              sizeof out->key)))
    return PX_EINVAL;
  int rc = PX_ENOTFOUND;
  pthread_rwlock_rdlock(&a->lock);
  px__app *p = find(a, tenant, ns);
  const px__app_kid *virt = NULL;
  size_t live = 0;
  for (size_t i = 0; p && i < p->nkids; i++) {
    const px__app_kid *k = &p->kids[i];
    if (!k->ent || strlen(k->cfg->actor_type) != tl ||
        memcmp(k->cfg->actor_type, target, tl))
      continue;
    if (!k->supervised) {
      if (k->cfg->is_virtual && k->registered) virt = k;
      continue;
    }
    if (!px__lookup(k->ref)) continue;
    if (key && !strcmp(k->cfg->name, key)) {
      out->kind = PX_APP_TARGET_REF;
      out->ref = k->ref;
      out->behavior = k->ent->kind;
      rc = 0;
      break;
    }
    if (!key) live++;
  }
  if (rc && p && !key && live) {
    /* Round-robin: the n-th live child of the type, n turning. relaxed:
     * a lone counter; fairness needs no ordering. */
    size_t n = atomic_fetch_add_explicit(&p->rr, 1, memory_order_relaxed) %
               live;
    for (size_t i = 0; i < p->nkids; i++) {
      const px__app_kid *k = &p->kids[i];
      if (!k->supervised || !k->ent || strlen(k->cfg->actor_type) != tl ||
          memcmp(k->cfg->actor_type, target, tl) || !px__lookup(k->ref))
        continue;
      if (n-- == 0) {
        out->kind = PX_APP_TARGET_REF;
        out->ref = k->ref;
        out->behavior = k->ent->kind;
        rc = 0;
        break;
      }
    }
  }
  if (rc && virt) {
    out->kind = PX_APP_TARGET_VIRTUAL;
    out->behavior = virt->ent->kind;
    snprintf(out->vtype, sizeof out->vtype, "%s", virt->qname);
    snprintf(out->key, sizeof out->key, "%s", key ? key : "default");
    rc = 0;
  }
  pthread_rwlock_unlock(&a->lock);
  return rc;
}

int px__apps_workflow_type(px_apps *a, const char *tenant, const char *ns,
                           const char *type, char *out, size_t cap) {
  int rc = PX_ENOTFOUND;
  pthread_rwlock_rdlock(&a->lock);
  px__app *p = find(a, tenant, ns);
  for (size_t i = 0; p && type && i < p->nkids; i++) {
    const px__app_kid *k = &p->kids[i];
    if (!k->ent || k->ent->kind != PX_APP_WORKFLOW || !k->registered ||
        strcmp(k->cfg->actor_type, type))
      continue;
    rc = (size_t)snprintf(out, cap, "%s", k->qname) >= cap ? PX_ERANGE : 0;
    break;
  }
  pthread_rwlock_unlock(&a->lock);
  return rc;
}

int px__apps_actors(px_apps *a, const char *tenant, const char *ns,
                    px_val *out) {
  *out = px_array_new(8);
  tenant = tenant_or_default(tenant);
  pthread_rwlock_rdlock(&a->lock);
  for (px__app *p = a->head; p; p = p->next) {
    if (strcmp(p->tenant, tenant) || (ns && strcmp(p->id, ns))) continue;
    for (size_t i = 0; i < p->nkids; i++) {
      const px__app_kid *k = &p->kids[i];
      px_actor_info info;
      if (!k->ent || !k->supervised || px_ref_is_nil(k->ref) ||
          px_actor_info_get(k->ref, &info) != 0)
        continue;
      px_array_push(
          out, px_map(6, px_str("actor_id"), px_ref_val(k->ref),
                      px_str("actor_type"), px_str(k->cfg->actor_type),
                      px_str("name"), px_str(k->cfg->name),
                      px_str("namespace"), px_str(p->id),
                      px_str("application_id"), px_str(p->id),
                      px_str("mailbox_depth"),
                      px_int((int64_t)info.mailbox_depth)));
    }
  }
  pthread_rwlock_unlock(&a->lock);
  return 0;
}
