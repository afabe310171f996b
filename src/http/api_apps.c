/* /api/v1/applications: deploy (multipart form), undeploy, list and status
 * of the caller's tenant's apps. The app manager (src/app) validates and
 * runs them; this file only moves the form into a deploy request. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "http/req.h"
#include "plexspaces/error.h"

static const px_form_field *field(const px_req *r, const char *name) {
  for (size_t i = 0; i < r->nfield; i++)
    if (strcmp(r->field[i].name, name) == 0) return &r->field[i];
  return NULL;
}

static const char *text_field(const px_req *r, const char *name) {
  const px_form_field *f = field(r, name);
  if (!f || !f->data || strlen(f->data) != f->len) return NULL;
  return f->data;
}

void px__api_app_deploy(px_req *r) {
  if (!r->post) {
    px__reply_error(r, 400, "deploy expects a multipart/form-data body with "
                    "application_id, name, version, config and lib (or "
                    "wasm)");
    return;
  }
  const char *id = text_field(r, "application_id");
  const char *name = text_field(r, "name");
  const char *version = text_field(r, "version");
  const px_form_field *config = field(r, "config");
  const px_form_field *lib = field(r, "lib");
  if (!id || !*id || !name || !*name || !config || !config->len) {
    px__reply_error(r, 400, "deploy needs the form fields application_id, "
                    "name and config (the app-config.toml text)");
    return;
  }
  const px_http_opts *o = px__http_opts(r->http);
  if (px__auth_enabled(o->auth) &&
      !px__auth_allowed(o->auth, &r->id, id, "app.deploy")) {
    px__reply_error(r, 403, "the token's roles do not allow app.deploy in "
                    "namespace %s", id);
    return;
  }
  /* A WebAssembly module comes in "wasm"; the loader tells the kinds
   * apart by their magic bytes, so either field may carry either. */
  const px_form_field *wasm = field(r, "wasm");
  if (wasm && lib) {
    px__reply_error(r, 400, "deploy takes one of \"lib\" (a C app "
                    "library) or \"wasm\" (a WebAssembly module), not both");
    return;
  }
  if (wasm) lib = wasm;
  if (!lib || !lib->len) {
    px__reply_error(r, 400, "deploy needs the app's code: a shared library "
                    "in the \"lib\" field or a WebAssembly module in "
                    "\"wasm\"");
    return;
  }
  px_app_deploy_req d = {
      .tenant = r->tenant,
      .application_id = id,
      .name = name,
      .version = version && *version ? version : NULL,
      .config = config->data,
      .config_len = config->len,
      .config_name = "app-config.toml",
      .lib = lib->data,
      .lib_len = lib->len,
  };
  char err[1024] = "";
  int rc = px__apps_deploy(o->apps, &d, err, sizeof err);
  if (rc) {
    int st = px__status_of(rc);
    px__reply_json(r, st == 200 ? 500 : st,
                   px_map(4, px_str("success"), px_bool(false),
                          px_str("application_id"), px_str(id),
                          px_str("status"), px_str("rejected"),
                          px_str("error"),
                          px_str(*err ? err : px_strerror(rc))));
    return;
  }
  px__reply_json(r, 200, px_map(4, px_str("success"), px_bool(true),
                                px_str("application_id"), px_str(id),
                                px_str("status"), px_str("running"),
                                px_str("error"), px_nil()));
}

void px__api_app_undeploy(px_req *r) {
  const char *id = r->seg[3];
  int rc = px__apps_undeploy(px__http_opts(r->http)->apps, r->tenant, id);
  if (rc) {
    if (px__status_of(rc) == 404)
      px__reply_error(r, 404, "no application \"%s\"", id);
    else
      px__reply_px_error(r, rc, "undeploy failed");
    return;
  }
  px__reply_json(r, 200, px_map(3, px_str("success"), px_bool(true),
                                px_str("application_id"), px_str(id),
                                px_str("status"), px_str("undeployed")));
}

void px__api_app_list(px_req *r) {
  px_val out;
  int rc = px__apps_list(px__http_opts(r->http)->apps, r->tenant, &out);
  if (rc) {
    px__reply_px_error(r, rc, "listing applications failed");
    return;
  }
  px__reply_json(r, 200, px_map(1, px_str("applications"), out));
}

void px__api_app_status(px_req *r) {
  const char *id = r->seg[3];
  px_val out;
  int rc = px__apps_status(px__http_opts(r->http)->apps, r->tenant, id, &out);
  if (rc) {
    if (px__status_of(rc) == 404)
      px__reply_error(r, 404, "no application \"%s\"", id);
    else
      px__reply_px_error(r, rc, "status failed");
    return;
  }
  px__reply_json(r, 200, out);
}
