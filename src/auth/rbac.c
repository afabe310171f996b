/* Role-based access control: the operation vocabulary, the built-in roles
 * and the decision px__auth_allowed makes for one request. */
#include <string.h>

#include "auth/auth_internal.h"

static const char *const k_operations[] = {
    "actor.ask",       "actor.tell",      "actor.stop",      "actor.list",
    "app.deploy",      "app.undeploy",    "app.list",        "space.read",
    "space.write",     "space.take",      "space.count",     "workflow.start",
    "workflow.signal", "workflow.query",  "workflow.status", "workflow.cancel",
    "journal.read",    "metrics.read",    "node.status",     NULL,
};

/* Built-in roles, used when the configuration defines none. "developer"
 * is written as "everything but deploying", so it is a rule, not a list. */
static const char *const k_reader_ops[] = {
    "actor.list",      "app.list",       "space.read",   "space.count",
    "workflow.status", "workflow.query", "journal.read", "node.status",
    NULL,
};

bool px__auth_operation_known(const char *operation) {
  if (!operation) return false;
  for (size_t i = 0; k_operations[i]; i++)
    if (strcmp(k_operations[i], operation) == 0) return true;
  return false;
}

bool px__auth_pattern_match(const char *pattern, const char *name) {
  if (strcmp(pattern, "*") == 0) return true;
  size_t pl = strlen(pattern);
  if (pl >= 2 && strcmp(pattern + pl - 2, ".*") == 0)
    return strncmp(pattern, name, pl - 1) == 0 && name[pl - 1] != '\0';
  return strcmp(pattern, name) == 0;
}

bool px__auth_pattern_useful(const char *pattern) {
  for (size_t i = 0; k_operations[i]; i++)
    if (px__auth_pattern_match(pattern, k_operations[i])) return true;
  return false;
}

static bool builtin_grants(const char *role, const char *op) {
  if (strcmp(role, "admin") == 0) return true;
  if (strcmp(role, "developer") == 0)
    return strcmp(op, "app.deploy") != 0 && strcmp(op, "app.undeploy") != 0;
  if (strcmp(role, "reader") == 0) {
    for (size_t i = 0; k_reader_ops[i]; i++)
      if (strcmp(k_reader_ops[i], op) == 0) return true;
  }
  return false;
}

/* A node-wide operation (ns NULL) needs a role that spans every
 * namespace; naming "*" literally is the only way to say that. */
static bool role_covers_ns(const px__auth_role *r, const char *ns) {
  for (size_t i = 0; i < r->nns; i++) {
    if (strcmp(r->nss[i], "*") == 0) return true;
    if (ns && strcmp(r->nss[i], ns) == 0) return true;
  }
  return false;
}

static bool configured_grants(const px_auth *a, const char *role,
                              const char *ns, const char *op) {
  for (size_t i = 0; i < a->nroles; i++) {
    const px__auth_role *r = &a->roles[i];
    if (strcmp(r->name, role) != 0) continue;
    if (!role_covers_ns(r, ns)) return false;
    for (size_t j = 0; j < r->nops; j++)
      if (px__auth_pattern_match(r->ops[j], op)) return true;
    return false;
  }
  return false;
}

bool px__auth_allowed(const px_auth *a, const px_auth_identity *id,
                      const char *ns, const char *operation) {
  if (!px__auth_operation_known(operation)) return false;
  if (!px__auth_enabled(a)) return true;
  if (!id) return false;
  if (id->admin) return true;
  size_t n = id->nroles < PX_AUTH_MAX_ROLES ? id->nroles : PX_AUTH_MAX_ROLES;
  for (size_t i = 0; i < n; i++) {
    const char *role = id->roles[i];
    bool ok = a->roles ? configured_grants(a, role, ns, operation)
                       : builtin_grants(role, operation);
    if (ok) return true;
  }
  return false;
}
