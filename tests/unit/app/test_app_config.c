/* app-config.toml: defaults, every field, and every error with its line
 * and reason (src/app/config.c), plus the TOML key positions it relies
 * on (px_toml_parse_ex). */
#include <criterion/criterion.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/toml.h"

static char err[1024];

static px__app_config parse_ok(const char *text) {
  px__app_config c;
  int rc = px__app_config_parse(text, strlen(text), NULL, &c, err, sizeof err);
  cr_assert_eq(rc, 0, "parse failed: %s", err);
  return c;
}

/* Parses `text`, which must fail with exactly `want`. */
static void parse_bad(const char *text, const char *want) {
  px__app_config c;
  int rc = px__app_config_parse(text, strlen(text), "app-config.toml", &c,
                                err, sizeof err);
  px__app_config_free(&c);
  cr_assert_eq(rc, PX_EINVAL, "accepted: %s", text);
  cr_assert_str_eq(err, want);
}

Test(app_config, empty_config_takes_the_defaults) {
  px__app_config c = parse_ok("");
  cr_assert_str_eq(c.version, "1.0.0");
  cr_assert_eq(c.strategy, PX_SUP_ONE_FOR_ONE);
  cr_assert_eq(c.max_restarts, 10);
  cr_assert_eq(c.window_s, 60);
  cr_assert_eq(c.nchildren, 0);
  cr_assert_eq(c.nlinks, 0);
  px__app_config_free(&c);
}

Test(app_config, every_field) {
  px__app_config c = parse_ok(
      "version = \"2.1.0\"\n"
      "tenant_id = \"acme\"\n"
      "name = \"shop\"\n"
      "namespace = \"ignored\"\n"
      "[supervisor]\n"
      "strategy = \"rest_for_one\"\n"
      "max_restarts = 3\n"
      "max_restart_window_seconds = 7\n"
      "[[supervisor.children]]\n"
      "id = \"c1\"\n"
      "type = \"counter\"\n"
      "role = \"leader\"\n"
      "restart = \"transient\"\n"
      "shutdown_timeout_seconds = 2\n"
      "behavior_kind = \"GenServer\"\n"
      "args = { start = 5, label = \"x\" }\n"
      "[[supervisor.children]]\n"
      "name = \"acct\"\n"
      "actor_type = \"account\"\n"
      "restart = \"temporary\"\n"
      "facets = [\n"
      "  { type = \"virtual_actor\", priority = 10, config = { "
      "idle_timeout_seconds = 30, max_active = 100, activation = \"eager\", "
      "eager_keys = [\"a\", \"b\"] } },\n"
      "  { type = \"durability\", config = { checkpoint_every = 5, "
      "checkpoint_interval_seconds = 9, mode = \"state\" } },\n"
      "]\n"
      "[[service_links]]\n"
      "name = \"payments\"\n"
      "base_url = \"https://pay.example.com\"\n"
      "timeout_secs = 12\n"
      "retry_policy = { max_attempts = 4, initial_delay_ms = 250 }\n");
  cr_assert_str_eq(c.version, "2.1.0");
  cr_assert_str_eq(c.tenant_id, "acme");
  cr_assert_eq(c.strategy, PX_SUP_REST_FOR_ONE);
  cr_assert_eq(c.max_restarts, 3);
  cr_assert_eq(c.window_s, 7);
  cr_assert_eq(c.nchildren, 2);
  px__app_child *a = &c.children[0], *b = &c.children[1];
  cr_assert_str_eq(a->name, "c1");
  cr_assert_str_eq(a->actor_type, "counter");
  cr_assert_str_eq(a->role, "leader");
  cr_assert_eq(a->restart, PX_SUP_TRANSIENT);
  cr_assert_eq(a->shutdown_ms, 2000);
  cr_assert_eq(a->behavior, PX_APP_GEN_SERVER);
  cr_assert_eq(px_gets(a->args, "start").u.i, 5);
  cr_assert_str_eq(px_str_ptr(px_gets(a->args, "label")), "x");
  cr_assert_eq(a->type_line, 11);
  cr_assert_eq(a->kind_line, 15);
  cr_assert_eq(a->line, 9);
  cr_assert_not(a->is_virtual);
  cr_assert_str_eq(b->name, "acct");
  cr_assert_str_eq(b->role, "worker");
  cr_assert_eq(b->restart, PX_SUP_TEMPORARY);
  cr_assert_eq(b->behavior, 0);
  cr_assert(b->is_virtual);
  cr_assert_eq(b->idle_timeout_ms, 30000);
  cr_assert_eq(b->max_active, 100);
  cr_assert_eq(b->activation, PX_ACTIVATE_EAGER);
  cr_assert_str_eq(b->eager_keys[0], "a");
  cr_assert_str_eq(b->eager_keys[1], "b");
  cr_assert_null(b->eager_keys[2]);
  cr_assert(b->durable);
  cr_assert_eq(b->checkpoint_every, 5);
  cr_assert_eq(b->checkpoint_interval_ms, 9000);
  cr_assert(b->state_only);
  cr_assert_eq(b->durable_line, 23);
  cr_assert_eq(c.nlinks, 1);
  cr_assert_str_eq(c.links[0].name, "payments");
  cr_assert_str_eq(c.links[0].base_url, "https://pay.example.com");
  cr_assert_eq(c.links[0].timeout_secs, 12);
  cr_assert_eq(c.links[0].max_attempts, 4);
  cr_assert_eq(c.links[0].initial_delay_ms, 250);
  px__app_config_free(&c);
}

Test(app_config, child_defaults) {
  px__app_config c =
      parse_ok("[[supervisor.children]]\nactor_type = \"greeter\"\n");
  px__app_child *a = &c.children[0];
  cr_assert_str_eq(a->name, "greeter"); /* the type names it */
  cr_assert_str_eq(a->role, "worker");
  cr_assert_eq(a->restart, PX_SUP_PERMANENT);
  cr_assert_eq(a->shutdown_ms, 0);
  cr_assert(px_is_nil(a->args));
  cr_assert_not(a->durable);
  cr_assert_not(a->is_virtual);
  px__app_config_free(&c);
}

Test(app_config, facet_defaults) {
  px__app_config c = parse_ok(
      "[[supervisor.children]]\nactor_type = \"a\"\n"
      "facets = [{ type = \"virtual_actor\" }, { type = \"durability\" }]\n");
  px__app_child *a = &c.children[0];
  cr_assert_eq(a->idle_timeout_ms, 0); /* the runtime's default */
  cr_assert_eq(a->activation, PX_ACTIVATE_LAZY);
  cr_assert_null(a->eager_keys);
  cr_assert_not(a->state_only);
  cr_assert_eq(a->checkpoint_every, 0);
  px__app_config_free(&c);
}

Test(app_config, syntax_errors_have_line_and_column) {
  parse_bad("version = \"1\"\n[supervisor\n",
            "app-config.toml:2:12: expected ']' to close a table header");
}

Test(app_config, bad_restart) {
  parse_bad("[supervisor]\n"
            "[[supervisor.children]]\n"
            "actor_type = \"a\"\n"
            "[[supervisor.children]]\n"
            "actor_type = \"b\"\n"
            "\n"
            "restart = \"sometimes\"\n",
            "app-config.toml:7: supervisor.children[1].restart: expected "
            "permanent, transient or temporary, got \"sometimes\"");
}

Test(app_config, unknown_keys_are_named) {
  parse_bad("verison = \"1\"\n",
            "app-config.toml:1: verison: unknown key (expected one of: "
            "version, tenant_id, name, namespace, seed_nodes, supervisor, "
            "service_links, applications)");
  parse_bad("[supervisor]\nstratgy = \"one_for_all\"\n",
            "app-config.toml:2: supervisor.stratgy: unknown key (expected "
            "one of: strategy, max_restarts, max_restart_window_seconds, "
            "children)");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\nrestrat = 1\n",
            "app-config.toml:3: supervisor.children[0].restrat: unknown key "
            "(expected one of: name, id, actor_type, type, role, restart, "
            "shutdown_timeout_seconds, behavior_kind, args, facets)");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "facets = [{ type = \"durability\", config = { mode = "
            "\"state\", every = 3 } }]\n",
            "app-config.toml:3: supervisor.children[0].facets[0].config."
            "every: unknown key (expected one of: checkpoint_every, "
            "checkpoint_interval_seconds, mode)");
}

Test(app_config, missing_actor_type_points_at_the_child) {
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n\n"
            "[[supervisor.children]]\nname = \"x\"\n",
            "app-config.toml:4: supervisor.children[1]: missing actor_type");
}

Test(app_config, wrong_types) {
  parse_bad("version = 2\n",
            "app-config.toml:1: version: expected a string, got an integer");
  parse_bad("[supervisor]\nmax_restarts = \"ten\"\n",
            "app-config.toml:2: supervisor.max_restarts: expected an "
            "integer, got a string");
  parse_bad("supervisor = 1\n",
            "app-config.toml:1: supervisor: expected a table, got an "
            "integer");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\nargs = [1]\n",
            "app-config.toml:3: supervisor.children[0].args: expected a "
            "table, got an array");
  parse_bad("[supervisor]\nchildren = [1]\n",
            "app-config.toml:2: supervisor.children[0]: expected a table, "
            "got an integer");
}

Test(app_config, bad_enums) {
  parse_bad("[supervisor]\nstrategy = \"all_for_one\"\n",
            "app-config.toml:2: supervisor.strategy: expected one_for_one, "
            "one_for_all or rest_for_one, got \"all_for_one\"");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "behavior_kind = \"GenStage\"\n",
            "app-config.toml:3: supervisor.children[0].behavior_kind: "
            "expected GenServer, GenEvent, GenFSM, Workflow or Actor, got "
            "\"GenStage\"");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "facets = [{ type = \"virtual_actor\", config = { activation = "
            "\"sometimes\" } }]\n",
            "app-config.toml:3: supervisor.children[0].facets[0].config."
            "activation: expected \"lazy\" or \"eager\", got \"sometimes\"");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "facets = [{ type = \"durability\", config = { mode = \"wal\" } "
            "}]\n",
            "app-config.toml:3: supervisor.children[0].facets[0].config."
            "mode: expected \"journal\" or \"state\", got \"wal\"");
}

Test(app_config, unknown_facet_lists_the_known_ones) {
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "[[supervisor.children.facets]]\ntype = \"memoize\"\n",
            "app-config.toml:4: supervisor.children[0].facets[0].type: "
            "unknown facet type \"memoize\" (known: virtual_actor, "
            "durability)");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "[[supervisor.children.facets]]\npriority = 1\n",
            "app-config.toml:3: supervisor.children[0].facets[0]: missing "
            "type");
}

Test(app_config, numbers_out_of_range) {
  parse_bad("[supervisor]\nmax_restarts = -1\n",
            "app-config.toml:2: supervisor.max_restarts: must not be "
            "negative, got -1");
  parse_bad("[supervisor]\nmax_restart_window_seconds = 0\n",
            "app-config.toml:2: supervisor.max_restart_window_seconds: must "
            "be at least 1, got 0");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "shutdown_timeout_seconds = -5\n",
            "app-config.toml:3: supervisor.children[0]."
            "shutdown_timeout_seconds: must not be negative, got -5");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "facets = [{ type = \"virtual_actor\", config = { max_active = "
            "-3 } }]\n",
            "app-config.toml:3: supervisor.children[0].facets[0].config."
            "max_active: must not be negative, got -3");
}

Test(app_config, names_and_duplicates) {
  parse_bad("[[supervisor.children]]\nactor_type = \"a/b\"\n",
            "app-config.toml:2: supervisor.children[0].actor_type: \"a/b\" "
            "is not a valid name (1 to 63 of A-Z a-z 0-9 _ . -)");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "[[supervisor.children]]\nactor_type = \"a\"\n",
            "app-config.toml:3: supervisor.children[1]: child name \"a\" is "
            "used twice (children[0] has it)");
  parse_bad("[[supervisor.children]]\nname = \"x\"\nid = \"y\"\n"
            "actor_type = \"a\"\n",
            "app-config.toml:1: supervisor.children[0]: give name or id, not "
            "both");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "facets = [{ type = \"durability\" }, { type = \"durability\" "
            "}]\n",
            "app-config.toml:3: supervisor.children[0].facets[1].type: "
            "durability given twice");
  parse_bad("[[supervisor.children]]\nactor_type = \"a\"\n"
            "facets = [{ type = \"virtual_actor\", config = { eager_keys = "
            "[\"k\"] } }]\n",
            "app-config.toml:3: supervisor.children[0].facets[0].config."
            "eager_keys: eager_keys needs activation = \"eager\"");
}

Test(app_config, service_links) {
  parse_bad("[[service_links]]\nname = \"p\"\n",
            "app-config.toml:1: service_links[0]: missing base_url");
  parse_bad("[[service_links]]\nname = \"p\"\nbase_url = \"ftp://x\"\n",
            "app-config.toml:3: service_links[0].base_url: expected an "
            "http:// or https:// URL, got \"ftp://x\"");
  parse_bad("[[service_links]]\nname = \"p\"\nbase_url = \"http://x\"\n"
            "retry_policy = { max_attempts = 0 }\n",
            "app-config.toml:4: service_links[0].retry_policy.max_attempts: "
            "must be at least 1, got 0");
  px__app_config c = parse_ok("[[service_links]]\nname = \"p\"\n"
                              "base_url = \"http://x\"\n");
  cr_assert_eq(c.links[0].timeout_secs, 30);
  cr_assert_eq(c.links[0].max_attempts, 3);
  px__app_config_free(&c);
}

/* Every prefix of a full config (cut anywhere, mid-token included) either
 * parses or fails with a message naming the file; nothing crashes or
 * leaks (run under ASan). */
Test(app_config, every_truncation_fails_cleanly) {
  const char *full =
      "version = \"1.0.0\"\n[supervisor]\nstrategy = \"one_for_all\"\n"
      "[[supervisor.children]]\nname = \"c\"\nactor_type = \"counter\"\n"
      "args = { start = 1, tags = [\"a\", \"b\"] }\n"
      "facets = [{ type = \"virtual_actor\", config = { activation = "
      "\"eager\", eager_keys = [\"k1\"] } }, { type = \"durability\" }]\n"
      "[[service_links]]\nname = \"p\"\nbase_url = \"http://x\"\n";
  size_t n = strlen(full);
  for (size_t len = 0; len <= n; len++) {
    px__app_config c;
    int rc = px__app_config_parse(full, len, NULL, &c, err, sizeof err);
    cr_assert(rc == 0 || rc == PX_EINVAL, "len %zu: %d", len, rc);
    if (rc) cr_assert(!strncmp(err, "app-config.toml:", 16), "%s", err);
    px__app_config_free(&c);
  }
}

/* ---- px_toml_parse_ex ------------------------------------------------------- */

typedef struct seen {
  char paths[32][64];
  int lines[32];
  int n;
} seen;

static void on_pos(void *ud, const char *path, int line) {
  seen *s = ud;
  if (s->n < 32) {
    snprintf(s->paths[s->n], 64, "%s", path);
    s->lines[s->n++] = line;
  }
}

static int line_of(const seen *s, const char *path) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->paths[i], path)) return s->lines[i];
  return -1;
}

Test(toml_positions, every_key_and_item_with_its_line) {
  const char *t = "a = 1\n"
                  "# comment\n"
                  "[t]\n"
                  "x.y = \"s\"\n"
                  "arr = [\n  1,\n  2,\n]\n"
                  "[[aot]]\n"
                  "k = true\n"
                  "[[aot]]\n"
                  "k = false\n"
                  "m = \"\"\"\nline\n\"\"\"\n"
                  "z = 0\n";
  seen s = {0};
  px_val v;
  px_toml_error e;
  cr_assert_eq(px_toml_parse_ex(t, strlen(t), &v, &e, on_pos, &s), 0);
  cr_assert_eq(line_of(&s, "a"), 1);
  cr_assert_eq(line_of(&s, "t"), 3);
  cr_assert_eq(line_of(&s, "t.x"), 4);
  cr_assert_eq(line_of(&s, "t.x.y"), 4);
  cr_assert_eq(line_of(&s, "t.arr"), 5);
  cr_assert_eq(line_of(&s, "t.arr[0]"), 6);
  cr_assert_eq(line_of(&s, "t.arr[1]"), 7);
  cr_assert_eq(line_of(&s, "aot[0]"), 9);
  cr_assert_eq(line_of(&s, "aot[0].k"), 10);
  cr_assert_eq(line_of(&s, "aot[1]"), 11);
  cr_assert_eq(line_of(&s, "aot[1].k"), 12);
  cr_assert_eq(line_of(&s, "aot[1].m"), 13);
  cr_assert_eq(line_of(&s, "aot[1].z"), 16);
  px_val_release(v);
}

Test(toml_positions, no_callback_on_a_syntax_error) {
  seen s = {0};
  px_val v;
  px_toml_error e;
  cr_assert_eq(px_toml_parse_ex("a = 1\nb = \n", 11, &v, &e, on_pos, &s),
               PX_EDECODE);
  cr_assert_eq(s.n, 0);
  cr_assert_eq(e.line, 2);
  cr_assert(px_is_nil(v));
}
