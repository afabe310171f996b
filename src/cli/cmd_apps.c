/* deploy, undeploy, apps: the applications of the caller's tenant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"

#define DEPLOY_TIMEOUT_S 120L

/* ---- deploy ------------------------------------------------------------- */

typedef struct file_buf {
  char *data;
  size_t len;
} file_buf;

/* Reads the whole file named by option `opt`; PX_CLI_USAGE when it cannot
 * be read or is empty (the node would refuse it anyway). */
static int read_file(const px_cli *c, const char *opt, const char *path,
                     file_buf *out) {
  out->data = NULL;
  out->len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return px__cli_usage_error(c, "cannot read %s %s: %s", opt, path,
                               strerror(errno));
  size_t cap = 0;
  int rc = PX_CLI_OK;
  for (;;) {
    if (out->len == cap) {
      size_t ncap = cap ? cap * 2 : 64 * 1024;
      char *p = realloc(out->data, ncap);
      if (!p) {
        rc = px__cli_fail(c, "out of memory reading %s", path);
        break;
      }
      out->data = p;
      cap = ncap;
    }
    size_t n = fread(out->data + out->len, 1, cap - out->len, f);
    out->len += n;
    if (n == 0) {
      if (ferror(f))
        rc = px__cli_usage_error(c, "cannot read %s %s: %s", opt, path,
                                 strerror(errno));
      break;
    }
  }
  fclose(f);
  if (!rc && out->len == 0)
    rc = px__cli_usage_error(c, "%s %s is empty", opt, path);
  if (rc) {
    free(out->data);
    out->data = NULL;
  }
  return rc;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash && slash[1] ? slash + 1 : path;
}

static bool add_text(curl_mime *m, const char *name, const char *value) {
  curl_mimepart *p = curl_mime_addpart(m);
  return p && curl_mime_name(p, name) == CURLE_OK &&
         curl_mime_data(p, value, CURL_ZERO_TERMINATED) == CURLE_OK;
}

static bool add_file(curl_mime *m, const char *name, const char *path,
                     const file_buf *fb) {
  curl_mimepart *p = curl_mime_addpart(m);
  return p && curl_mime_name(p, name) == CURLE_OK &&
         curl_mime_data(p, fb->data, fb->len) == CURLE_OK &&
         curl_mime_filename(p, base_name(path)) == CURLE_OK &&
         curl_mime_type(p, "application/octet-stream") == CURLE_OK;
}

int px__cli_deploy(px_cli *c) {
  const char *app = px__cli_opt(c, "--app");
  const char *config = px__cli_opt(c, "--config");
  const char *lib = px__cli_opt(c, "--lib");
  const char *wasm = px__cli_opt(c, "--wasm");
  const char *name = px__cli_opt(c, "--name");
  const char *version = px__cli_opt(c, "--version");
  if (!app && c->npos == 1) app = c->pos[0];
  else if (c->npos > 0)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[0]);
  if (!app || !*app) return px__cli_usage_error(c, "--app NAME is required");
  if (!config)
    return px__cli_usage_error(c, "--config app.toml is required");
  if (!lib == !wasm)
    return px__cli_usage_error(c, "give exactly one of --lib x.so and "
                               "--wasm x.wasm");
  if (!name || !*name) name = app;
  if (!version || !*version) version = "1.0.0";

  file_buf cfg, code;
  int rc = read_file(c, "--config", config, &cfg);
  if (rc) return rc;
  rc = read_file(c, lib ? "--lib" : "--wasm", lib ? lib : wasm, &code);
  if (rc) {
    free(cfg.data);
    return rc;
  }
  CURL *h = px__cli_curl(c);
  curl_mime *m = h ? curl_mime_init(h) : NULL;
  bool ok = m && add_text(m, "application_id", app) &&
            add_text(m, "name", name) && add_text(m, "version", version) &&
            add_file(m, "config", config, &cfg) &&
            add_file(m, lib ? "lib" : "wasm", lib ? lib : wasm, &code);
  /* curl_mime_data copied the bytes. */
  free(cfg.data);
  free(code.data);
  if (!ok) {
    curl_mime_free(m);
    return px__cli_fail(c, "out of memory building the upload");
  }
  px_cli_req rq = {.method = "POST",
                   .path = "/api/v1/applications/deploy",
                   .mime = m,
                   .timeout_s = DEPLOY_TIMEOUT_S};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  curl_mime_free(m);
  if (rc != PX_CLI_HUMAN) return rc;
  px_val success = px_gets(r.json, "success");
  if (success.type == PX_T_BOOL && !success.u.b) {
    char buf[512];
    rc = px__cli_fail(c, "deploy of %s failed: %s", app,
                      px__cli_reply_message(&r, buf, sizeof buf));
    px__cli_reply_free(&r);
    return rc;
  }
  char *status = px__cli_text(r.json, "status");
  printf("deployed %s (%s %s): %s\n", app, name, version,
         status ? status : "?");
  free(status);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

/* ---- undeploy ----------------------------------------------------------- */

int px__cli_undeploy(px_cli *c) {
  const char *app = px__cli_opt(c, "--app");
  if (app && c->npos > 0)
    return px__cli_usage_error(c, "give the app either as NAME or as "
                               "--app NAME, not both");
  if (!app && c->npos == 1) app = c->pos[0];
  if (c->npos > 1)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[1]);
  if (!app) {
    fputs(c->cmd->usage, stderr);
    return PX_CLI_USAGE;
  }
  char path[PX_CLI_PATH_MAX];
  int rc = px__cli_path(c, path, sizeof path, "/api/v1/applications", app,
                        NULL);
  if (rc) return rc;
  px_cli_req rq = {.method = "DELETE", .path = path, .timeout_s = 120};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  printf("undeployed %s\n", app);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

/* ---- apps --------------------------------------------------------------- */

static const char *const LIST_COLS[] = {"application_id", "name", "version",
                                        "namespace", "status"};
#define NLIST (sizeof LIST_COLS / sizeof LIST_COLS[0])

static int print_list(px_val apps) {
  size_t n = px_len(apps);
  if (apps.type != PX_T_ARRAY || n == 0) {
    printf("no applications\n");
    return PX_CLI_OK;
  }
  char **cells = calloc((n + 1) * NLIST, sizeof *cells);
  if (!cells) return PX_CLI_FAIL;
  static const char *const head[NLIST] = {"APPLICATION", "NAME", "VERSION",
                                          "NAMESPACE", "STATUS"};
  for (size_t k = 0; k < NLIST; k++) cells[k] = (char *)head[k];
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < NLIST; k++)
      cells[(i + 1) * NLIST + k] = px__cli_text(px_at(apps, i), LIST_COLS[k]);
  px__cli_table(stdout, "", NLIST, n + 1, cells);
  for (size_t i = NLIST; i < (n + 1) * NLIST; i++) free(cells[i]);
  free(cells);
  return PX_CLI_OK;
}

/* One line per child, drawn as a tree under `prefix`; a child with its
 * own "children" (a nested supervisor) is drawn below it. */
static void print_children(px_val kids, const char *prefix, int depth) {
  static const char *const cols[] = {"name", "actor_type", "state",
                                     "actor_id"};
  enum { NC = 4 };
  size_t n = kids.type == PX_T_ARRAY ? px_len(kids) : 0;
  if (n == 0 || depth > 16) return;
  char **cells = calloc(n * NC, sizeof *cells);
  if (!cells) return;
  size_t w[NC] = {0};
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < NC; k++) {
      char *s = px__cli_text(px_at(kids, i), cols[k]);
      cells[i * NC + k] = s;
      if (s && strlen(s) > w[k]) w[k] = strlen(s);
    }
  for (size_t i = 0; i < n; i++) {
    px_val kid = px_at(kids, i);
    bool last = i + 1 == n;
    char line[1024];
    size_t at = 0;
    for (size_t k = 0; k < NC && at < sizeof line; k++) {
      const char *s = cells[i * NC + k] ? cells[i * NC + k] : "?";
      at += (size_t)snprintf(line + at, sizeof line - at, "%-*s  ",
                             (int)w[k], s);
    }
    px_val restarts = px_gets(kid, "restarts");
    if (restarts.type == PX_T_INT && at < sizeof line)
      at += (size_t)snprintf(line + at, sizeof line - at, "restarts %lld",
                             (long long)restarts.u.i);
    if (at >= sizeof line) at = sizeof line - 1;
    while (at > 0 && line[at - 1] == ' ') at--;
    line[at] = 0;
    printf("%s%s %s\n", prefix, last ? "└─" : "├─", line);
    px_val sub = px_gets(kid, "children");
    if (sub.type == PX_T_ARRAY) {
      char next[256];
      snprintf(next, sizeof next, "%s%s", prefix, last ? "   " : "│  ");
      print_children(sub, next, depth + 1);
    }
  }
  for (size_t i = 0; i < n * NC; i++) free(cells[i]);
  free(cells);
}

static void print_types(px_val types, const char *label) {
  size_t n = types.type == PX_T_ARRAY ? px_len(types) : 0;
  if (n == 0) return;
  printf("%s:", label);
  for (size_t i = 0; i < n; i++) {
    char *t = px__cli_text(px_at(types, i), "actor_type");
    printf("%s %s", i ? "," : "", t ? t : "?");
    free(t);
  }
  printf("\n");
}

static int print_app(px_val app) {
  char *id = px__cli_text(app, "application_id");
  char *name = px__cli_text(app, "name");
  char *version = px__cli_text(app, "version");
  char *ns = px__cli_text(app, "namespace");
  char *status = px__cli_text(app, "status");
  printf("%s: %s (%s %s, namespace %s)\n", id ? id : "?",
         status ? status : "?", name ? name : "?", version ? version : "?",
         ns ? ns : "?");
  free(id), free(name), free(version), free(ns), free(status);
  px_val err = px_gets(app, "error");
  if (err.type == PX_T_STR) printf("error: %s\n", px_str_ptr(err));
  px_val sup = px_gets(app, "supervisor");
  if (sup.type == PX_T_MAP) {
    char *strategy = px__cli_text(sup, "strategy");
    printf("supervisor %s", strategy ? strategy : "?");
    free(strategy);
    px_val mr = px_gets(sup, "max_restarts");
    px_val win = px_gets(sup, "max_restart_window_seconds");
    if (mr.type == PX_T_INT && win.type == PX_T_INT)
      printf(" (at most %lld restarts in %lld s)", (long long)mr.u.i,
             (long long)win.u.i);
    printf("\n");
    px_val kids = px_gets(sup, "children");
    if (px_len(kids) == 0) printf("└─ (no children)\n");
    print_children(kids, "", 0);
  }
  print_types(px_gets(app, "virtual_types"), "virtual types");
  print_types(px_gets(app, "workflow_types"), "workflow types");
  return PX_CLI_OK;
}

int px__cli_apps(px_cli *c) {
  if (c->npos > 1)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[1]);
  char path[PX_CLI_PATH_MAX];
  int rc = c->npos == 1
               ? px__cli_path(c, path, sizeof path, "/api/v1/applications",
                              c->pos[0], NULL)
               : px__cli_path(c, path, sizeof path, "/api/v1/applications",
                              NULL);
  if (rc) return rc;
  px_cli_req rq = {.method = "GET", .path = path};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  rc = c->npos == 1 ? print_app(r.json)
                    : print_list(px_gets(r.json, "applications"));
  px__cli_reply_free(&r);
  return rc;
}
