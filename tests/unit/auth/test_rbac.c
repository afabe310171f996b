/* Tests for role-based access control: built-in roles, configured roles
 * (operation patterns, namespaces, the union of several roles), is_admin,
 * mode none, refusal of unknown operations, and the role configuration's
 * errors. One test goes end to end: TOML -> minted token -> verify ->
 * decision. */
#include "auth/auth_internal.h"
#include "auth_test.h"

TestSuite(rbac, .init = auth_setup, .fini = auth_teardown);

#define HS "mode = \"jwt\"\nhs256_secret_env = \"" TEST_SECRET_ENV "\"\n"

static const char *const k_all[] = {
    "actor.ask",       "actor.tell",      "actor.stop",      "actor.list",
    "app.deploy",      "app.undeploy",    "app.list",        "space.read",
    "space.write",     "space.take",      "space.count",     "workflow.start",
    "workflow.signal", "workflow.query",  "workflow.status", "workflow.cancel",
    "journal.read",    "metrics.read",    "node.status",
};
#define NALL (sizeof k_all / sizeof k_all[0])

/* An identity with the given roles (NULL-terminated). */
static px_auth_identity who(bool admin, ...) {
  px_auth_identity id = {0};
  snprintf(id.tenant, sizeof id.tenant, "acme");
  id.admin = admin;
  va_list ap;
  va_start(ap, admin);
  for (const char *r; (r = va_arg(ap, const char *)) != NULL;)
    snprintf(id.roles[id.nroles++], sizeof id.roles[0], "%s", r);
  va_end(ap);
  return id;
}

static size_t count_allowed(const px_auth *a, const px_auth_identity *id,
                            const char *ns) {
  size_t n = 0;
  for (size_t i = 0; i < NALL; i++) n += px__auth_allowed(a, id, ns, k_all[i]);
  return n;
}

Test(rbac, builtin_roles) {
  px_auth *a = auth_of(HS);
  px_auth_identity admin = who(false, "admin", NULL);
  px_auth_identity dev = who(false, "developer", NULL);
  px_auth_identity reader = who(false, "reader", NULL);
  px_auth_identity nobody = who(false, NULL);
  px_auth_identity stranger = who(false, "root", "superuser", NULL);
  cr_assert_eq(count_allowed(a, &admin, "shop"), NALL);
  cr_assert_eq(count_allowed(a, &admin, NULL), NALL);
  cr_assert_eq(count_allowed(a, &dev, "shop"), NALL - 2);
  cr_assert_not(px__auth_allowed(a, &dev, "shop", "app.deploy"));
  cr_assert_not(px__auth_allowed(a, &dev, "shop", "app.undeploy"));
  cr_assert(px__auth_allowed(a, &dev, "shop", "workflow.cancel"));
  const char *reads[] = {"actor.list",      "app.list",       "space.read",
                         "space.count",     "workflow.status", "workflow.query",
                         "journal.read",    "node.status"};
  cr_assert_eq(count_allowed(a, &reader, "shop"), 8);
  for (size_t i = 0; i < 8; i++)
    cr_assert(px__auth_allowed(a, &reader, "shop", reads[i]), "%s", reads[i]);
  cr_assert_not(px__auth_allowed(a, &reader, "shop", "space.write"));
  cr_assert_not(px__auth_allowed(a, &reader, "shop", "actor.ask"));
  cr_assert_not(px__auth_allowed(a, &reader, NULL, "metrics.read"));
  cr_assert_eq(count_allowed(a, &nobody, "shop"), 0);
  cr_assert_eq(count_allowed(a, &stranger, "shop"), 0);
  cr_assert_not(px__auth_allowed(a, NULL, "shop", "actor.list"));
  px__auth_free(a);
}

Test(rbac, is_admin_grants_everything) {
  px_auth *a = auth_of(HS "[[auth.roles]]\nname = \"r\"\n"
                          "operations = [\"actor.list\"]\n");
  px_auth_identity admin = who(true, NULL);
  cr_assert_eq(count_allowed(a, &admin, "any"), NALL);
  cr_assert_eq(count_allowed(a, &admin, NULL), NALL);
  px__auth_free(a);
}

Test(rbac, configured_patterns) {
  px_auth *a = auth_of(HS "[[auth.roles]]\nname = \"spaces\"\n"
                          "operations = [\"space.*\", \"actor.ask\"]\n"
                          "[[auth.roles]]\nname = \"ops\"\n"
                          "operations = [\"*\"]\n");
  px_auth_identity sp = who(false, "spaces", NULL);
  cr_assert(px__auth_allowed(a, &sp, "shop", "space.read"));
  cr_assert(px__auth_allowed(a, &sp, "shop", "space.take"));
  cr_assert(px__auth_allowed(a, &sp, "shop", "actor.ask"));
  cr_assert_not(px__auth_allowed(a, &sp, "shop", "actor.tell"));
  cr_assert_not(px__auth_allowed(a, &sp, "shop", "workflow.start"));
  cr_assert_eq(count_allowed(a, &sp, "shop"), 5);
  px_auth_identity ops = who(false, "ops", NULL);
  cr_assert_eq(count_allowed(a, &ops, "shop"), NALL);
  /* Configured roles replace the built-in ones. */
  px_auth_identity dev = who(false, "developer", "admin", NULL);
  cr_assert_eq(count_allowed(a, &dev, "shop"), 0);
  px__auth_free(a);
}

Test(rbac, pattern_matching) {
  cr_assert(px__auth_pattern_match("*", "space.read"));
  cr_assert(px__auth_pattern_match("space.*", "space.read"));
  cr_assert_not(px__auth_pattern_match("space.*", "space."));
  cr_assert_not(px__auth_pattern_match("space.*", "spaces.read"));
  cr_assert_not(px__auth_pattern_match("space.*", "space"));
  cr_assert(px__auth_pattern_match("space.read", "space.read"));
  cr_assert_not(px__auth_pattern_match("space.read", "space.reader"));
  cr_assert_not(px__auth_pattern_match("space*", "space.read"));
}

Test(rbac, namespaces_and_the_union_of_roles) {
  px_auth *a = auth_of(HS "[[auth.roles]]\nname = \"shop-writer\"\n"
                          "operations = [\"space.write\"]\n"
                          "namespaces = [\"shop\", \"shop-eu\"]\n"
                          "[[auth.roles]]\nname = \"watcher\"\n"
                          "operations = [\"node.status\", \"space.read\"]\n"
                          "namespaces = [\"*\"]\n");
  px_auth_identity w = who(false, "shop-writer", NULL);
  cr_assert(px__auth_allowed(a, &w, "shop", "space.write"));
  cr_assert(px__auth_allowed(a, &w, "shop-eu", "space.write"));
  cr_assert_not(px__auth_allowed(a, &w, "shop2", "space.write"));
  cr_assert_not(px__auth_allowed(a, &w, "sho", "space.write"));
  cr_assert_not(px__auth_allowed(a, &w, "billing", "space.write"));
  cr_assert_not(px__auth_allowed(a, &w, "shop", "space.read"));
  /* A node-wide operation needs a role covering every namespace. */
  cr_assert_not(px__auth_allowed(a, &w, NULL, "space.write"));
  px_auth_identity both = who(false, "watcher", "shop-writer", NULL);
  cr_assert(px__auth_allowed(a, &both, "billing", "space.read"));
  cr_assert(px__auth_allowed(a, &both, "shop", "space.write"));
  cr_assert(px__auth_allowed(a, &both, NULL, "node.status"));
  cr_assert_not(px__auth_allowed(a, &both, "billing", "space.write"));
  px__auth_free(a);
}

Test(rbac, unknown_operations_fail_closed) {
  px_auth *a = auth_of(HS);
  px_auth_identity admin = who(true, "admin", NULL);
  cr_assert_not(px__auth_allowed(a, &admin, "shop", "actor.aks"));
  cr_assert_not(px__auth_allowed(a, &admin, "shop", ""));
  cr_assert_not(px__auth_allowed(a, &admin, "shop", NULL));
  cr_assert_not(px__auth_operation_known("space"));
  cr_assert(px__auth_operation_known("journal.read"));
  px__auth_free(a);
  px_auth *none = auth_of("mode = \"none\"\n");
  cr_assert_not(px__auth_allowed(none, NULL, "shop", "actor.aks"));
  px__auth_free(none);
}

Test(rbac, mode_none_allows_every_operation) {
  px_auth *a = auth_of("mode = \"none\"\n");
  cr_assert_not(px__auth_enabled(a));
  cr_assert_eq(count_allowed(a, NULL, "shop"), NALL);
  cr_assert_eq(count_allowed(a, NULL, NULL), NALL);
  px_auth_identity nobody = who(false, NULL);
  cr_assert_eq(count_allowed(a, &nobody, "x"), NALL);
  px__auth_free(a);
  cr_assert_eq(count_allowed(NULL, NULL, "shop"), NALL);
}

Test(rbac, role_configuration_errors) {
  config_bad(HS "[[auth.roles]]\nname = \"r\"\noperations = [\"actor.aks\"]\n",
             "auth.roles[0].operations: \"actor.aks\" matches no operation");
  config_bad(HS "[[auth.roles]]\nname = \"r\"\noperations = [\"space*\"]\n",
             "matches no operation");
  config_bad(HS "[[auth.roles]]\nname = \"r\"\noperations = []\n",
             "auth.roles[0].operations: must be a non-empty array");
  config_bad(HS "[[auth.roles]]\nname = \"r\"\n",
             "auth.roles[0].operations");
  config_bad(HS "[[auth.roles]]\noperations = [\"*\"]\n",
             "auth.roles[0].name: required");
  config_bad(HS "[[auth.roles]]\nname = \"a b\"\noperations = [\"*\"]\n",
             "auth.roles[0].name");
  config_bad(HS "[[auth.roles]]\nname = \"r\"\noperations = [\"*\"]\n"
                "[[auth.roles]]\nname = \"r\"\noperations = [\"*\"]\n",
             "auth.roles[1].name: role \"r\" is defined twice");
  config_bad(HS "[[auth.roles]]\nname = \"r\"\noperations = [\"*\"]\n"
                "namespaces = [\"\"]\n",
             "auth.roles[0].namespaces");
  config_bad(HS "[[auth.roles]]\nname = \"r\"\noperations = [\"*\"]\n"
                "namespace = [\"shop\"]\n",
             "auth.roles[0].namespace: unknown key");
  config_bad(HS "roles = \"admin\"\n", "auth.roles: must be a non-empty array");
  config_bad(HS "roles = [1]\n", "auth.roles[0]: must be a table");
}

/* From the TOML a node reads to the decision the HTTP layer makes. */
Test(rbac, end_to_end_from_a_minted_token) {
  px_auth *a = auth_of(HS "[[auth.roles]]\nname = \"shop-dev\"\n"
                          "operations = [\"actor.*\", \"workflow.*\"]\n"
                          "namespaces = [\"shop\"]\n");
  const char *roles[] = {"shop-dev"};
  char *tok = NULL;
  cr_assert_eq(px__auth_mint_hs256(TEST_SECRET, strlen(TEST_SECRET), "acme",
                                   "ann", roles, 1, 60, NULL, NULL, &tok),
               0);
  px_auth_identity id;
  char err[256];
  cr_assert_eq(px__auth_verify(a, tok, &id, err, sizeof err), PX_AUTH_OK,
               "%s", err);
  free(tok);
  cr_assert(px__auth_allowed(a, &id, "shop", "actor.ask"));
  cr_assert(px__auth_allowed(a, &id, "shop", "workflow.signal"));
  cr_assert_not(px__auth_allowed(a, &id, "shop", "space.write"));
  cr_assert_not(px__auth_allowed(a, &id, "billing", "actor.ask"));
  cr_assert_not(px__auth_allowed(a, &id, "shop", "app.deploy"));
  px__auth_free(a);
}
