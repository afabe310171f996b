/* The registry an app library fills (src/app/registry.c): what it accepts,
 * and that the first refusal is the one a deploy reports. */
#include <criterion/criterion.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/error.h"

static void handle(void *state, const px_message *m) {}
static const px_actor_type plain = {.name = "plain", .handle = handle};
static const px_actor_type no_handle = {.name = "broken"};

static px_gs_result gs_init(px_val args, void **state, px_gs_out *out) {
  return PX_GS_OK;
}
static const px_gen_server gs = {.name = "gs", .init = gs_init};

static int run(px_wf *wf, px_val input, px_val *result) { return 0; }
static const px_workflow_type wf = {.name = "flow", .run = run};
static const px_workflow_type wf_bad = {.name = "bad/flow", .run = run};

static px_val enc(const void *s) { return px_nil(); }
static int dec(px_val v, void *s) { return 0; }

Test(app_registry, registers_and_finds_each_kind) {
  px_app_registry *r = px__app_registry_new();
  cr_assert_eq(px_app_register_actor(r, "a", &plain), 0);
  cr_assert_eq(px_app_register_gen_server(r, "g", &gs), 0);
  cr_assert_eq(px_app_register_workflow(r, &wf), 0);
  cr_assert_eq(px_app_register_codec(r, "g", enc, dec), 0);
  const px__app_entry *e = px__app_registry_find(r, "g");
  cr_assert_not_null(e);
  cr_assert_eq(e->kind, PX_APP_GEN_SERVER);
  cr_assert_eq(e->encode, enc);
  cr_assert_eq(px__app_registry_find(r, "flow")->kind, PX_APP_WORKFLOW);
  cr_assert_null(px__app_registry_find(r, "nope"));
  char names[64];
  px__app_registry_names(r, names, sizeof names);
  cr_assert_str_eq(names, "a, g, flow");
  cr_assert_eq(r->rc, 0);
  px__app_registry_free(r);
}

Test(app_registry, refusals_keep_the_first_error) {
  px_app_registry *r = px__app_registry_new();
  cr_assert_eq(px_app_register_actor(r, "a:b", &plain), PX_EINVAL);
  cr_assert_eq(px_app_register_actor(r, "a", &plain), 0);
  cr_assert_eq(px_app_register_actor(r, "a", &plain), PX_EEXIST);
  cr_assert_eq(r->rc, PX_EINVAL);
  cr_assert_str_eq(r->err, "actor type \"a:b\": not a valid name (1 to 63 "
                           "of A-Z a-z 0-9 _ . -)");
  px__app_registry_free(r);

  r = px__app_registry_new();
  cr_assert_eq(px_app_register_actor(r, "x", &no_handle), PX_EINVAL);
  cr_assert_str_eq(r->err, "actor type \"x\": px_actor_type without handle");
  px__app_registry_free(r);

  r = px__app_registry_new();
  cr_assert_eq(px_app_register_codec(r, "later", enc, dec), PX_ENOTFOUND);
  cr_assert(strstr(r->err, "register the type first"));
  px__app_registry_free(r);

  r = px__app_registry_new();
  cr_assert_eq(px_app_register_workflow(r, &wf), 0);
  cr_assert_eq(px_app_register_codec(r, "flow", enc, dec), PX_EINVAL);
  cr_assert_eq(px_app_register_workflow(r, &wf_bad), PX_EINVAL);
  cr_assert_eq(px_app_register_workflow(r, NULL), PX_EINVAL);
  cr_assert_eq(px_app_register_gen_fsm(r, "f", NULL), PX_EINVAL);
  cr_assert_eq(px_app_register_actor(NULL, "a", &plain), PX_EINVAL);
  px__app_registry_free(r);
}
