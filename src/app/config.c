/* app-config.toml: parsing and checking (PLEXSPACES.md 2.19), with every
 * error naming the file, the line and the key, e.g.
 *   app-config.toml:14: supervisor.children[1].restart: expected
 *   permanent, transient or temporary, got "sometimes"
 * Unknown keys are errors: a typo must not pass silently. What needs the
 * library (is the actor_type registered, does behavior_kind match) is
 * checked at deploy, with the lines kept here. */
/* Messages and paths are cut at their buffer's size on purpose (a path too
 * long is caught where it is used). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/toml.h"

typedef struct pos {
  char *path;
  int line;
} pos;

typedef struct ctx {
  const char *fname;
  pos *pos;
  size_t npos, cappos;
  bool oom;
  char *err;
  size_t errcap;
} ctx;

static void on_pos(void *ud, const char *path, int line) {
  ctx *c = ud;
  if (c->oom) return;
  if (c->npos == c->cappos) {
    size_t cap = c->cappos ? c->cappos * 2 : 32;
    pos *p = realloc(c->pos, cap * sizeof *p);
    if (!p) {
      c->oom = true;
      return;
    }
    c->pos = p;
    c->cappos = cap;
  }
  char *s = strdup(path);
  if (!s) {
    c->oom = true;
    return;
  }
  c->pos[c->npos].path = s;
  c->pos[c->npos++].line = line;
}

/* The line of `path`; a key that is missing is reported at its table. */
static int line_of(const ctx *c, const char *path) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", path);
  for (;;) {
    for (size_t i = 0; i < c->npos; i++)
      if (!strcmp(c->pos[i].path, buf)) return c->pos[i].line;
    char *dot = strrchr(buf, '.'), *br = strrchr(buf, '[');
    char *cut = dot > br ? dot : br;
    if (!cut) return 1;
    *cut = 0;
  }
}

__attribute__((format(printf, 3, 4))) static int fail(ctx *c,
                                                      const char *path,
                                                      const char *fmt, ...) {
  char why[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errcap, "%s:%d: %s: %s", c->fname, line_of(c, path),
           path, why);
  return PX_EINVAL;
}

static const char *type_name(px_val v) {
  switch (px_typeof(v)) {
    case PX_T_STR: return "a string";
    case PX_T_INT: return "an integer";
    case PX_T_DOUBLE: return "a float";
    case PX_T_BOOL: return "a boolean";
    case PX_T_ARRAY: return "an array";
    case PX_T_MAP: return "a table";
    default: return "a value of another type";
  }
}

/* Rejects keys of `map` not in `known` (NULL-terminated). */
static int check_keys(ctx *c, px_val map, const char *path,
                      const char *const *known) {
  for (size_t i = 0; i < px_len(map); i++) {
    const char *k = px_str_ptr(px_map_key_at(map, i));
    bool ok = false;
    for (const char *const *q = known; *q && !ok; q++) ok = !strcmp(*q, k);
    if (ok) continue;
    char list[256] = "";
    size_t o = 0;
    for (const char *const *q = known; *q && o < sizeof list; q++) {
      int w = snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", *q);
      if (w > 0) o += (size_t)w;
    }
    char kp[512];
    snprintf(kp, sizeof kp, "%s%s%s", path, *path ? "." : "", k);
    return fail(c, kp, "unknown key (expected one of: %s)", list);
  }
  return 0;
}

static void key_path(char *out, size_t cap, const char *path,
                     const char *key) {
  snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
}

/* An optional string; *found says whether it was there. */
static int get_str(ctx *c, px_val map, const char *path, const char *key,
                   char *out, size_t cap, bool *found) {
  px_val v = px_gets(map, key);
  if (found) *found = !px_is_nil(v);
  if (px_is_nil(v)) return 0;
  char kp[512];
  key_path(kp, sizeof kp, path, key);
  if (px_typeof(v) != PX_T_STR)
    return fail(c, kp, "expected a string, got %s", type_name(v));
  if (px_str_len(v) >= cap)
    return fail(c, kp, "longer than %zu bytes", cap - 1);
  memcpy(out, px_str_ptr(v), px_str_len(v) + 1);
  return 0;
}

static int get_name(ctx *c, px_val map, const char *path, const char *key,
                    char *out, bool *found) {
  int rc = get_str(c, map, path, key, out, PX__APP_NAME_MAX, found);
  if (rc || !*found) return rc;
  if (px__app_name_ok(out)) return 0;
  char kp[512];
  key_path(kp, sizeof kp, path, key);
  return fail(c, kp,
              "\"%s\" is not a valid name (1 to 63 of A-Z a-z 0-9 _ . -)",
              out);
}

/* An optional integer in [min, max]. */
static int get_int(ctx *c, px_val map, const char *path, const char *key,
                   int64_t min, int64_t max, int64_t *out, bool *found) {
  px_val v = px_gets(map, key);
  if (found) *found = !px_is_nil(v);
  if (px_is_nil(v)) return 0;
  char kp[512];
  key_path(kp, sizeof kp, path, key);
  if (px_typeof(v) != PX_T_INT)
    return fail(c, kp, "expected an integer, got %s", type_name(v));
  if (v.u.i < min && min == 0)
    return fail(c, kp, "must not be negative, got %lld", (long long)v.u.i);
  if (v.u.i < min)
    return fail(c, kp, "must be at least %lld, got %lld", (long long)min,
                (long long)v.u.i);
  if (v.u.i > max)
    return fail(c, kp, "must be at most %lld, got %lld", (long long)max,
                (long long)v.u.i);
  *out = v.u.i;
  return 0;
}

static int get_table(ctx *c, px_val map, const char *path, const char *key,
                     px_val *out) {
  *out = px_gets(map, key);
  if (px_is_nil(*out) || px_typeof(*out) == PX_T_MAP) return 0;
  char kp[512];
  key_path(kp, sizeof kp, path, key);
  return fail(c, kp, "expected a table, got %s", type_name(*out));
}

/* An array of tables (nil when absent). */
static int get_tables(ctx *c, px_val map, const char *path, const char *key,
                      px_val *out) {
  *out = px_gets(map, key);
  if (px_is_nil(*out)) return 0;
  char kp[512];
  key_path(kp, sizeof kp, path, key);
  if (px_typeof(*out) != PX_T_ARRAY)
    return fail(c, kp, "expected an array of tables, got %s",
                type_name(*out));
  for (size_t i = 0; i < px_len(*out); i++) {
    if (px_typeof(px_at(*out, i)) == PX_T_MAP) continue;
    char ip[600];
    snprintf(ip, sizeof ip, "%s[%zu]", kp, i);
    return fail(c, ip, "expected a table, got %s",
                type_name(px_at(*out, i)));
  }
  return 0;
}

/* ---- names of enum values ------------------------------------------------ */

static const char *const kind_names[] = {"",         "Actor",   "GenServer",
                                         "GenFSM",   "GenEvent", "Workflow"};

const char *px__app_kind_name(int kind) {
  return kind >= PX_APP_ACTOR && kind <= PX_APP_WORKFLOW ? kind_names[kind]
                                                         : "?";
}

const char *px__app_strategy_name(px_sup_strategy s) {
  return s == PX_SUP_ONE_FOR_ALL    ? "one_for_all"
         : s == PX_SUP_REST_FOR_ONE ? "rest_for_one"
                                    : "one_for_one";
}

const char *px__app_restart_name(px_sup_restart r) {
  return r == PX_SUP_TRANSIENT   ? "transient"
         : r == PX_SUP_TEMPORARY ? "temporary"
                                 : "permanent";
}

/* ---- facets -------------------------------------------------------------- */

static int virtual_facet(ctx *c, px_val cfg, const char *path,
                         px__app_child *ch) {
  static const char *const known[] = {"idle_timeout_seconds", "max_active",
                                      "activation", "eager_keys", NULL};
  int rc = check_keys(c, cfg, path, known);
  int64_t v;
  bool found;
  ch->is_virtual = true;
  if (!rc)
    rc = get_int(c, cfg, path, "idle_timeout_seconds", 0, INT64_MAX / 1000,
                 &v, &found);
  /* 0 seconds: never deactivated when idle. */
  if (!rc && found) ch->idle_timeout_ms = v ? v * 1000 : -1;
  if (!rc) rc = get_int(c, cfg, path, "max_active", 0, INT32_MAX, &v, &found);
  if (!rc && found) ch->max_active = (size_t)v;
  char act[16] = "lazy";
  if (!rc) rc = get_str(c, cfg, path, "activation", act, sizeof act, &found);
  char kp[512];
  if (rc) return rc;
  if (!strcmp(act, "eager")) {
    ch->activation = PX_ACTIVATE_EAGER;
  } else if (strcmp(act, "lazy")) {
    key_path(kp, sizeof kp, path, "activation");
    return fail(c, kp, "expected \"lazy\" or \"eager\", got \"%s\"", act);
  }
  px_val keys = px_gets(cfg, "eager_keys");
  if (px_is_nil(keys)) return 0;
  key_path(kp, sizeof kp, path, "eager_keys");
  if (ch->activation != PX_ACTIVATE_EAGER)
    return fail(c, kp, "eager_keys needs activation = \"eager\"");
  if (px_typeof(keys) != PX_T_ARRAY)
    return fail(c, kp, "expected an array of strings, got %s",
                type_name(keys));
  ch->eager_keys = calloc(px_len(keys) + 1, sizeof *ch->eager_keys);
  if (!ch->eager_keys) return PX_ENOMEM;
  for (size_t i = 0; i < px_len(keys); i++) {
    px_val k = px_at(keys, i);
    if (px_typeof(k) != PX_T_STR || !px_str_len(k)) {
      char ip[600];
      snprintf(ip, sizeof ip, "%s[%zu]", kp, i);
      return fail(c, ip, "expected a non-empty string, got %s",
                  px_typeof(k) == PX_T_STR ? "\"\"" : type_name(k));
    }
    if (!(ch->eager_keys[i] = strdup(px_str_ptr(k)))) return PX_ENOMEM;
  }
  return 0;
}

static int durability_facet(ctx *c, px_val cfg, const char *path,
                            px__app_child *ch) {
  static const char *const known[] = {
      "checkpoint_every", "checkpoint_interval_seconds", "mode", NULL};
  int rc = check_keys(c, cfg, path, known);
  int64_t v;
  bool found;
  ch->durable = true;
  if (!rc)
    rc = get_int(c, cfg, path, "checkpoint_every", 0, UINT32_MAX, &v, &found);
  if (!rc && found) ch->checkpoint_every = (uint32_t)v;
  if (!rc)
    rc = get_int(c, cfg, path, "checkpoint_interval_seconds", 0,
                 INT64_MAX / 1000, &v, &found);
  if (!rc && found) ch->checkpoint_interval_ms = v * 1000;
  char mode[16] = "journal";
  if (!rc) rc = get_str(c, cfg, path, "mode", mode, sizeof mode, &found);
  if (rc) return rc;
  if (!strcmp(mode, "state")) {
    ch->state_only = true;
  } else if (strcmp(mode, "journal")) {
    char kp[512];
    key_path(kp, sizeof kp, path, "mode");
    return fail(c, kp, "expected \"journal\" or \"state\", got \"%s\"", mode);
  }
  return 0;
}

static int facets(ctx *c, px_val list, const char *path, px__app_child *ch) {
  static const char *const known[] = {"type", "priority", "config", NULL};
  for (size_t i = 0; i < px_len(list); i++) {
    px_val f = px_at(list, i);
    char fp[600], type[32];
    snprintf(fp, sizeof fp, "%s.facets[%zu]", path, i);
    bool found;
    int64_t prio;
    px_val cfg;
    int rc = check_keys(c, f, fp, known);
    if (!rc) rc = get_str(c, f, fp, "type", type, sizeof type, &found);
    if (!rc && !found) rc = fail(c, fp, "missing type");
    if (!rc)
      rc = get_int(c, f, fp, "priority", INT32_MIN, INT32_MAX, &prio, NULL);
    if (!rc) rc = get_table(c, f, fp, "config", &cfg);
    if (rc) return rc;
    char cp[640], tp[640];
    snprintf(cp, sizeof cp, "%s.config", fp);
    snprintf(tp, sizeof tp, "%s.type", fp);
    bool own = px_is_nil(cfg);
    if (own) cfg = px_map_new(0);
    if (!strcmp(type, "virtual_actor")) {
      rc = ch->is_virtual ? fail(c, tp, "virtual_actor given twice")
                          : virtual_facet(c, cfg, cp, ch);
    } else if (!strcmp(type, "durability")) {
      ch->durable_line = line_of(c, fp);
      rc = ch->durable ? fail(c, tp, "durability given twice")
                       : durability_facet(c, cfg, cp, ch);
    } else {
      rc = fail(c, tp,
                "unknown facet type \"%s\" (known: virtual_actor, "
                "durability)",
                type);
    }
    if (own) px_val_release(cfg);
    if (rc) return rc;
  }
  return 0;
}

/* ---- children ------------------------------------------------------------ */

static int child(ctx *c, px_val t, const char *path, px__app_child *ch) {
  static const char *const known[] = {
      "name",          "id",   "actor_type", "type",
      "role",          "restart", "shutdown_timeout_seconds",
      "behavior_kind", "args", "facets",     NULL};
  ch->line = line_of(c, path);
  int rc = check_keys(c, t, path, known);
  bool has_name = false, has_id = false, has_type = false, has_legacy = false;
  char id[PX__APP_NAME_MAX];
  if (!rc) rc = get_name(c, t, path, "name", ch->name, &has_name);
  if (!rc) rc = get_name(c, t, path, "id", id, &has_id);
  if (!rc && has_name && has_id)
    return fail(c, path, "give name or id, not both");
  if (has_id) memcpy(ch->name, id, sizeof id);
  if (!rc) rc = get_name(c, t, path, "actor_type", ch->actor_type, &has_type);
  if (!rc && !has_type)
    rc = get_name(c, t, path, "type", ch->actor_type, &has_legacy);
  if (rc) return rc;
  if (has_type && !px_is_nil(px_gets(t, "type")))
    return fail(c, path, "give actor_type or the older type, not both");
  if (!has_type && !has_legacy) return fail(c, path, "missing actor_type");
  char kp[512];
  key_path(kp, sizeof kp, path, has_type ? "actor_type" : "type");
  ch->type_line = line_of(c, kp);
  if (!has_name && !has_id) memcpy(ch->name, ch->actor_type, sizeof ch->name);
  bool found;
  strcpy(ch->role, "worker");
  if ((rc = get_str(c, t, path, "role", ch->role, sizeof ch->role, &found)))
    return rc;
  char s[32];
  if ((rc = get_str(c, t, path, "restart", s, sizeof s, &found))) return rc;
  if (found) {
    if (!strcmp(s, "permanent")) ch->restart = PX_SUP_PERMANENT;
    else if (!strcmp(s, "transient")) ch->restart = PX_SUP_TRANSIENT;
    else if (!strcmp(s, "temporary")) ch->restart = PX_SUP_TEMPORARY;
    else {
      key_path(kp, sizeof kp, path, "restart");
      return fail(c, kp,
                  "expected permanent, transient or temporary, got \"%s\"",
                  s);
    }
  }
  int64_t v;
  if ((rc = get_int(c, t, path, "shutdown_timeout_seconds", 0,
                    INT64_MAX / 1000, &v, &found)))
    return rc;
  if (found) ch->shutdown_ms = v ? v * 1000 : PX_SUP_BRUTAL_KILL;
  if ((rc = get_str(c, t, path, "behavior_kind", s, sizeof s, &found)))
    return rc;
  if (found) {
    key_path(kp, sizeof kp, path, "behavior_kind");
    ch->kind_line = line_of(c, kp);
    for (int k = PX_APP_ACTOR; k <= PX_APP_WORKFLOW; k++)
      if (!strcmp(s, kind_names[k])) ch->behavior = k;
    if (!ch->behavior)
      return fail(c, kp,
                  "expected GenServer, GenEvent, GenFSM, Workflow or Actor, "
                  "got \"%s\"",
                  s);
  }
  px_val args;
  if ((rc = get_table(c, t, path, "args", &args))) return rc;
  ch->args = px_val_retain(args);
  px_val fl = px_gets(t, "facets");
  if (px_is_nil(fl)) return 0;
  if ((rc = get_tables(c, t, path, "facets", &fl))) return rc;
  return facets(c, fl, path, ch);
}

static int supervisor(ctx *c, px_val sup, px__app_config *cfg) {
  static const char *const known[] = {"strategy", "max_restarts",
                                      "max_restart_window_seconds",
                                      "children", NULL};
  const char *path = "supervisor";
  int rc = check_keys(c, sup, path, known);
  char s[32];
  bool found;
  if (!rc) rc = get_str(c, sup, path, "strategy", s, sizeof s, &found);
  if (rc) return rc;
  if (found) {
    if (!strcmp(s, "one_for_one")) cfg->strategy = PX_SUP_ONE_FOR_ONE;
    else if (!strcmp(s, "one_for_all")) cfg->strategy = PX_SUP_ONE_FOR_ALL;
    else if (!strcmp(s, "rest_for_one")) cfg->strategy = PX_SUP_REST_FOR_ONE;
    else
      return fail(c, "supervisor.strategy",
                  "expected one_for_one, one_for_all or rest_for_one, got "
                  "\"%s\"",
                  s);
  }
  int64_t v;
  if ((rc = get_int(c, sup, path, "max_restarts", 0, INT32_MAX, &v, &found)))
    return rc;
  if (found) cfg->max_restarts = (int)v;
  if ((rc = get_int(c, sup, path, "max_restart_window_seconds", 1, INT32_MAX,
                    &v, &found)))
    return rc;
  if (found) cfg->window_s = (int)v;
  px_val kids;
  if ((rc = get_tables(c, sup, path, "children", &kids))) return rc;
  size_t n = px_is_nil(kids) ? 0 : px_len(kids);
  if (!n) return 0;
  cfg->children = calloc(n, sizeof *cfg->children);
  if (!cfg->children) return PX_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    char cp[64];
    snprintf(cp, sizeof cp, "supervisor.children[%zu]", i);
    cfg->nchildren = i + 1;
    if ((rc = child(c, px_at(kids, i), cp, &cfg->children[i]))) return rc;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(cfg->children[j].name, cfg->children[i].name))
        return fail(c, cp,
                    "child name \"%s\" is used twice (children[%zu] has it)",
                    cfg->children[i].name, j);
  }
  return 0;
}

/* ---- service links ------------------------------------------------------- */

static int links(ctx *c, px_val list, px__app_config *cfg) {
  static const char *const known[] = {"name", "base_url", "timeout_secs",
                                      "retry_policy", NULL};
  static const char *const rknown[] = {"max_attempts", "initial_delay_ms",
                                       NULL};
  size_t n = px_len(list);
  if (!n) return 0;
  cfg->links = calloc(n, sizeof *cfg->links);
  if (!cfg->links) return PX_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    px_val t = px_at(list, i);
    px__app_link *l = &cfg->links[i];
    cfg->nlinks = i + 1;
    char lp[64], url[512];
    snprintf(lp, sizeof lp, "service_links[%zu]", i);
    bool found, has_url;
    l->timeout_secs = 30;
    l->max_attempts = 3;
    l->initial_delay_ms = 100;
    int rc = check_keys(c, t, lp, known);
    if (!rc) rc = get_name(c, t, lp, "name", l->name, &found);
    if (!rc && !found) rc = fail(c, lp, "missing name");
    if (!rc) rc = get_str(c, t, lp, "base_url", url, sizeof url, &has_url);
    if (!rc && !has_url) rc = fail(c, lp, "missing base_url");
    if (!rc && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
      char kp[96];
      snprintf(kp, sizeof kp, "%s.base_url", lp);
      rc = fail(c, kp, "expected an http:// or https:// URL, got \"%s\"",
                url);
    }
    if (!rc)
      rc = get_int(c, t, lp, "timeout_secs", 1, 86400, &l->timeout_secs,
                   NULL);
    px_val rp;
    if (!rc) rc = get_table(c, t, lp, "retry_policy", &rp);
    if (!rc && !px_is_nil(rp)) {
      char rpp[96];
      snprintf(rpp, sizeof rpp, "%s.retry_policy", lp);
      rc = check_keys(c, rp, rpp, rknown);
      if (!rc)
        rc = get_int(c, rp, rpp, "max_attempts", 1, 1000, &l->max_attempts,
                     NULL);
      if (!rc)
        rc = get_int(c, rp, rpp, "initial_delay_ms", 0, 3600000,
                     &l->initial_delay_ms, NULL);
    }
    if (rc) return rc;
    if (!(l->base_url = strdup(url))) return PX_ENOMEM;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(cfg->links[j].name, l->name))
        return fail(c, lp, "service link \"%s\" is defined twice", l->name);
  }
  return 0;
}

/* ---- entry points -------------------------------------------------------- */

static int document(ctx *c, px_val doc, px__app_config *cfg) {
  static const char *const known[] = {
      "version",  "tenant_id",     "name",         "namespace",
      "seed_nodes", "supervisor", "service_links", "applications", NULL};
  int rc = check_keys(c, doc, "", known);
  bool found;
  char ignored[256];
  strcpy(cfg->version, "1.0.0");
  if (!rc)
    rc = get_str(c, doc, "", "version", cfg->version, sizeof cfg->version,
                 &found);
  if (!rc && found && !cfg->version[0])
    rc = fail(c, "version", "must not be empty");
  if (!rc) rc = get_name(c, doc, "", "tenant_id", cfg->tenant_id, &found);
  if (!rc) rc = get_str(c, doc, "", "name", ignored, sizeof ignored, NULL);
  if (!rc)
    rc = get_str(c, doc, "", "namespace", ignored, sizeof ignored, NULL);
  px_val sup, sl, apps;
  if (!rc) rc = get_table(c, doc, "", "supervisor", &sup);
  if (!rc) rc = get_tables(c, doc, "", "service_links", &sl);
  if (!rc) rc = get_table(c, doc, "", "applications", &apps);
  if (!rc && !px_is_nil(sup)) rc = supervisor(c, sup, cfg);
  if (!rc && !px_is_nil(sl)) rc = links(c, sl, cfg);
  return rc;
}

int px__app_config_parse(const char *text, size_t len, const char *fname,
                         px__app_config *cfg, char *err, size_t errcap) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_restarts = 10;
  cfg->window_s = 60;
  if (errcap) err[0] = 0;
  ctx c = {.fname = fname ? fname : "app-config.toml",
           .err = err,
           .errcap = errcap};
  px_toml_error te;
  px_val doc;
  int rc = px_toml_parse_ex(text, len, &doc, &te, on_pos, &c);
  if (rc == 0 && c.oom) rc = PX_ENOMEM;
  if (rc == PX_EDECODE) {
    snprintf(err, errcap, "%s:%d:%d: %s", c.fname, te.line, te.column,
             te.reason);
    rc = PX_EINVAL;
  } else if (rc == 0) {
    rc = document(&c, doc, cfg);
  }
  if (rc == PX_ENOMEM) snprintf(err, errcap, "%s: out of memory", c.fname);
  px_val_release(doc);
  for (size_t i = 0; i < c.npos; i++) free(c.pos[i].path);
  free(c.pos);
  return rc;
}

void px__app_config_free(px__app_config *cfg) {
  for (size_t i = 0; i < cfg->nchildren; i++) {
    px__app_child *ch = &cfg->children[i];
    px_val_release(ch->args);
    if (ch->eager_keys)
      for (char **k = ch->eager_keys; *k; k++) free(*k);
    free(ch->eager_keys);
  }
  free(cfg->children);
  for (size_t i = 0; i < cfg->nlinks; i++) free(cfg->links[i].base_url);
  free(cfg->links);
  memset(cfg, 0, sizeof *cfg);
}

bool px__app_name_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!n || n >= PX__APP_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
      return false;
  }
  return true;
}
