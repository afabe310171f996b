/* The CLI's front: the command table, the command line, usage texts, and
 * the small output helpers every command shares.
 *
 * A command line is `plexspaces [GLOBAL...] COMMAND [ARGS and OPTIONS]`,
 * where the global flags (--node URL, --json, --help) may also come
 * anywhere after the command, and "--" ends the options. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "plexspaces/error.h"

#define DEFAULT_NODE "http://127.0.0.1:8080"

/* ---- the commands ------------------------------------------------------- */

static const char *const DEPLOY_OPTS[] = {
    "--app=", "--config=", "--lib=", "--wasm=", "--name=", "--version=",
    NULL};
static const char *const UNDEPLOY_OPTS[] = {"--app=", NULL};
static const char *const ACTORS_OPTS[] = {"--ns=", NULL};
static const char *const ASK_OPTS[] = {"--timeout=", NULL};
static const char *const TS_OPTS[] = {"--timeout-ms=", "--ttl-ms=", "--all",
                                      NULL};
static const char *const WF_OPTS[] = {"--id=", "--input=", "--wait-ms=",
                                      NULL};
static const char *const JOURNAL_OPTS[] = {"--ns=", NULL};
static const char *const TOKEN_OPTS[] = {
    "--tenant=", "--roles=",    "--sub=",        "--ttl=",
    "--issuer=", "--audience=", "--secret-env=", NULL};
static const char *const NO_OPTS[] = {NULL};

static const px_cli_cmd CMDS[] = {
    {"status", px__cli_status, NO_OPTS,
     "usage: plexspaces status [--node URL] [--json]\n"
     "  Checks the node's health and prints its version, readiness, worker\n"
     "  and actor counts and the caller's applications.\n"
     "example:\n"
     "  plexspaces status --node http://10.0.0.5:8080\n",
     0},
    {"deploy", px__cli_deploy, DEPLOY_OPTS,
     "usage: plexspaces deploy --app NAME --config app.toml "
     "(--lib app.so | --wasm app.wasm)\n"
     "                         [--name N] [--version V]\n"
     "  Uploads an application (its config and its library) and starts it\n"
     "  in namespace NAME; a running app of that name is replaced.\n"
     "  --name defaults to NAME, --version to 1.0.0.\n"
     "example:\n"
     "  plexspaces deploy --app shop --config app-config.toml "
     "--lib ./demo_app.so\n",
     0},
    {"undeploy", px__cli_undeploy, UNDEPLOY_OPTS,
     "usage: plexspaces undeploy NAME   (or --app NAME)\n"
     "  Stops an application gracefully and removes it from the node.\n"
     "example:\n"
     "  plexspaces undeploy shop\n",
     0},
    {"apps", px__cli_apps, NO_OPTS,
     "usage: plexspaces apps [NAME]\n"
     "  Lists the applications, or shows one with its supervision tree.\n"
     "examples:\n"
     "  plexspaces apps\n"
     "  plexspaces apps shop\n",
     0},
    {"actors", px__cli_actors, ACTORS_OPTS,
     "usage: plexspaces actors [--ns NS]\n"
     "  Lists the live supervised actors (of one namespace with --ns).\n"
     "example:\n"
     "  plexspaces actors --ns shop\n",
     0},
    {"ask", px__cli_ask, ASK_OPTS,
     "usage: plexspaces ask NS TARGET OP [JSON] [--timeout SECONDS]\n"
     "  Sends OP to an actor and prints its answer. TARGET is an actor type\n"
     "  (\"counter\"), or TYPE:KEY for a named child or a virtual actor.\n"
     "  JSON is an object of arguments (default {}); \"op\" is added.\n"
     "examples:\n"
     "  plexspaces ask shop counter get\n"
     "  plexspaces ask shop counter add '{\"n\": 5}'\n"
     "  plexspaces ask shop account:alice deposit '{\"amount\": 10}' "
     "--timeout 10\n",
     3},
    {"tell", px__cli_tell, NO_OPTS,
     "usage: plexspaces tell NS TARGET OP [JSON]\n"
     "  Sends OP to an actor without waiting for an answer.\n"
     "example:\n"
     "  plexspaces tell shop counter inc\n",
     3},
    {"stop", px__cli_stop, NO_OPTS,
     "usage: plexspaces stop NS TARGET\n"
     "  Stops an actor (a supervised one is restarted by its supervisor;\n"
     "  a virtual one is deactivated).\n"
     "example:\n"
     "  plexspaces stop shop flaky\n",
     2},
    {"ts", px__cli_ts, TS_OPTS,
     "usage: plexspaces ts write NS SPACE TUPLE [--ttl-ms N]\n"
     "       plexspaces ts read|take NS SPACE TEMPLATE [--timeout-ms N] "
     "[--all]\n"
     "       plexspaces ts count NS SPACE TEMPLATE\n"
     "  The tuple space SPACE of namespace NS. A tuple is a JSON array; in\n"
     "  a template null is a wildcard and {\"$type\":\"int\"} matches any\n"
     "  int. read and take exit with 1 and \"no matching tuple\" when\n"
     "  nothing matches within --timeout-ms (default 0: do not wait).\n"
     "examples:\n"
     "  plexspaces ts write shop jobs '[\"job\", 1, \"pending\"]'\n"
     "  plexspaces ts take shop jobs '[\"job\", {\"$type\":\"int\"}, null]' "
     "--timeout-ms 5000\n"
     "  plexspaces ts count shop jobs '[\"job\", null, null]'\n",
     1},
    {"workflow", px__cli_workflow, WF_OPTS,
     "usage: plexspaces workflow start NS TYPE [--id ID] [--input JSON]\n"
     "       plexspaces workflow status NS ID [--wait-ms N]\n"
     "       plexspaces workflow signal NS ID NAME [JSON]\n"
     "       plexspaces workflow query NS ID NAME\n"
     "       plexspaces workflow cancel NS ID\n"
     "  Durable workflows: start one, read its status (--wait-ms waits up\n"
     "  to N ms for it to end), signal it, query it, cancel it.\n"
     "examples:\n"
     "  plexspaces workflow start shop order --id o-1 --input "
     "'{\"item\": \"book\"}'\n"
     "  plexspaces workflow signal shop o-1 approve\n"
     "  plexspaces workflow status shop o-1 --wait-ms 5000\n",
     1},
    {"journal", px__cli_journal, JOURNAL_OPTS,
     "usage: plexspaces journal show --node URL NS ACTOR  (or --ns NS "
     "ACTOR)\n"
     "  Prints the journal of a durable actor or workflow as the node has\n"
     "  it. ACTOR is wf:ID (a workflow), TYPE:KEY (a virtual actor) or a\n"
     "  child name. Without --node or --ns, `journal show|list --data DIR`\n"
     "  reads a data directory directly.\n"
     "example:\n"
     "  plexspaces journal show --node http://127.0.0.1:8080 shop wf:o-1\n",
     1},
    {"token", px__cli_token, TOKEN_OPTS,
     "usage: plexspaces token --tenant T [--roles a,b] [--sub S] "
     "[--ttl SECONDS]\n"
     "                        [--issuer I] [--audience A] "
     "[--secret-env VAR]\n"
     "  Mints a development HS256 token offline, signed with the secret in\n"
     "  $VAR (default PLEXSPACES_JWT_SECRET, at least 32 bytes); --ttl\n"
     "  defaults to 86400. Send it with PLEXSPACES_TOKEN.\n"
     "example:\n"
     "  export PLEXSPACES_TOKEN=$(plexspaces token --tenant acme "
     "--roles developer)\n",
     0},
};

#define NCMDS (sizeof CMDS / sizeof CMDS[0])

static const px_cli_cmd *find_cmd(const char *name) {
  for (size_t i = 0; name && i < NCMDS; i++)
    if (strcmp(CMDS[i].name, name) == 0) return &CMDS[i];
  return NULL;
}

void px__cli_usage(FILE *f) {
  fprintf(f,
          "client commands (they talk to a node: --node URL, default "
          "$PLEXSPACES_NODE or\n"
          DEFAULT_NODE "; a token is taken from $PLEXSPACES_TOKEN; --json "
          "prints the\n"
          "node's raw JSON reply):\n"
          "       plexspaces status      health, version and apps of the "
          "node\n"
          "       plexspaces deploy --app NAME --config app.toml "
          "(--lib x.so | --wasm x.wasm)\n"
          "       plexspaces undeploy NAME\n"
          "       plexspaces apps [NAME] the applications, or one app's "
          "supervision tree\n"
          "       plexspaces actors [--ns NS]\n"
          "       plexspaces ask NS TARGET OP [JSON] [--timeout S]\n"
          "       plexspaces tell NS TARGET OP [JSON]\n"
          "       plexspaces stop NS TARGET\n"
          "       plexspaces ts write|read|take|count NS SPACE JSON\n"
          "       plexspaces workflow start|status|signal|query|cancel NS "
          "...\n"
          "       plexspaces journal show --node URL NS ACTOR\n"
          "       plexspaces token --tenant T [--roles a,b]   mint a "
          "development JWT\n"
          "       plexspaces help [COMMAND]   usage and examples of a "
          "command\n");
}

/* ---- the command line --------------------------------------------------- */

static bool is_global_flag(const char *a) {
  return strcmp(a, "--node") == 0 || strncmp(a, "--node=", 7) == 0 ||
         strcmp(a, "--json") == 0 || strcmp(a, "--help") == 0 ||
         strcmp(a, "-h") == 0;
}

bool px__cli_is_command(const char *name) {
  if (!name) return false;
  /* --help alone stays main.c's: it knows the node commands too. */
  if (strcmp(name, "help") == 0 || strcmp(name, "--json") == 0 ||
      strcmp(name, "--node") == 0 || strncmp(name, "--node=", 7) == 0)
    return true;
  const px_cli_cmd *cmd = find_cmd(name);
  return cmd && strcmp(name, "journal") != 0;
}

bool px__cli_journal_is_online(int argc, char **argv) {
  bool online = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (strcmp(a, "--data") == 0 || strncmp(a, "--data=", 7) == 0)
      return false;
    if (strcmp(a, "--node") == 0 || strncmp(a, "--node=", 7) == 0 ||
        strcmp(a, "--ns") == 0 || strncmp(a, "--ns=", 5) == 0)
      online = true;
  }
  return online;
}

/* Index of option `name` (with its dashes, without '=') in cmd->opts. */
static int opt_index(const px_cli_cmd *cmd, const char *name, size_t len,
                     bool *takes_value) {
  for (int i = 0; cmd->opts[i]; i++) {
    const char *o = cmd->opts[i];
    size_t olen = strlen(o);
    bool value = o[olen - 1] == '=';
    if (value) olen--;
    if (olen == len && memcmp(o, name, len) == 0) {
      *takes_value = value;
      return i;
    }
  }
  return -1;
}

const char *px__cli_opt(const px_cli *c, const char *name) {
  bool value;
  int i = opt_index(c->cmd, name, strlen(name), &value);
  return i < 0 ? NULL : c->val[i];
}

static void vreport(const px_cli *c, const char *fmt, va_list ap) {
  fprintf(stderr, "plexspaces %s: ", c->what);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int px__cli_usage_error(const px_cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(c, fmt, ap);
  va_end(ap);
  fprintf(stderr, "run `plexspaces help %s` for usage and examples\n",
          c->cmd->name);
  return PX_CLI_USAGE;
}

int px__cli_refuse(const px_cli *c, const char *where, ...) {
  va_list ap;
  va_start(ap, where);
  const char *opt;
  while ((opt = va_arg(ap, const char *)) && !px__cli_opt(c, opt)) {
  }
  va_end(ap);
  if (!opt) return PX_CLI_OK;
  return px__cli_usage_error(c, "%s does not apply %s", opt, where);
}

int px__cli_fail(const px_cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(c, fmt, ap);
  va_end(ap);
  return PX_CLI_FAIL;
}

int px__cli_json_arg(const px_cli *c, const char *what, const char *text,
                     px_val *out) {
  char err[256] = "";
  if (px_json_decode(text, strlen(text), out, err, sizeof err) == 0)
    return PX_CLI_OK;
  return px__cli_usage_error(c, "%s is not valid JSON: %s (got '%.60s%s')",
                             what, *err ? err : "malformed", text,
                             strlen(text) > 60 ? "..." : "");
}

int px__cli_int_opt(const px_cli *c, const char *name, int64_t max,
                    int64_t *out) {
  const char *s = px__cli_opt(c, name);
  if (!s) return PX_CLI_OK;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < 0 || v > max)
    return px__cli_usage_error(c, "%s expects an integer from 0 to %lld, got "
                               "'%s'", name, (long long)max, s);
  *out = v;
  return PX_CLI_OK;
}

/* A positional argument, or an option? "-5" and "-" are arguments (a JSON
 * number, stdin by convention). */
static bool looks_like_option(const char *a) {
  return a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.';
}

static int set_node(px_cli *c, const char *url) {
  while (*url == ' ') url++;
  if (!*url) return px__cli_usage_error(c, "--node needs a URL");
  const char *scheme = strstr(url, "://") ? "" : "http://";
  size_t n = strlen(scheme) + strlen(url);
  if (n >= sizeof c->node)
    return px__cli_usage_error(c, "the --node URL is too long");
  snprintf(c->node, sizeof c->node, "%s%s", scheme, url);
  while (n > 0 && c->node[n - 1] == '/') c->node[--n] = 0;
  return PX_CLI_OK;
}

/* Parses argv[start..] (the command's word excluded) into c. Returns
 * PX_CLI_OK, or an exit code after a message. *help is set by --help. */
static int parse(px_cli *c, int argc, char **argv, int skip, bool *help) {
  bool only_pos = false;
  for (int i = 1; i < argc; i++) {
    if (i == skip) continue;
    const char *a = argv[i];
    if (!only_pos && strcmp(a, "--") == 0) {
      only_pos = true;
      continue;
    }
    if (only_pos || !looks_like_option(a)) {
      if (c->npos == PX_CLI_MAX_POS)
        return px__cli_usage_error(c, "too many arguments ('%s')", a);
      c->pos[c->npos++] = a;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const char *value = eq ? eq + 1 : NULL;
    if (len == 6 && memcmp(a, "--node", 6) == 0) {
      if (!value) {
        if (i + 1 >= argc) return px__cli_usage_error(c, "--node needs a URL");
        value = argv[++i];
      }
      int rc = set_node(c, value);
      if (rc) return rc;
      continue;
    }
    if (!eq && strcmp(a, "--json") == 0) {
      c->json = true;
      continue;
    }
    if (!eq && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
      *help = true;
      continue;
    }
    bool takes_value = false;
    int k = opt_index(c->cmd, a, len, &takes_value);
    if (k < 0)
      return px__cli_usage_error(c, "unknown option %.*s", (int)len, a);
    if (!takes_value) {
      if (eq) return px__cli_usage_error(c, "%.*s takes no value", (int)len, a);
      c->val[k] = "";
      continue;
    }
    if (!value) {
      if (i + 1 >= argc)
        return px__cli_usage_error(c, "%s needs a value", a);
      value = argv[++i];
    }
    c->val[k] = value;
  }
  return PX_CLI_OK;
}

static int help_main(int argc, char **argv, int at) {
  for (int i = at + 1; i < argc; i++) {
    if (looks_like_option(argv[i])) continue;
    const px_cli_cmd *cmd = find_cmd(argv[i]);
    if (!cmd) {
      fprintf(stderr, "plexspaces help: no command '%s'\n", argv[i]);
      px__cli_usage(stderr);
      return PX_CLI_USAGE;
    }
    fputs(cmd->usage, stdout);
    return PX_CLI_OK;
  }
  px__cli_usage(stdout);
  printf("node commands: plexspaces start | demo | version | journal "
         "show|list --data DIR\n(run `plexspaces` alone for their usage)\n");
  return PX_CLI_OK;
}

int px__cli_main(int argc, char **argv) {
  /* The command is the first word that is not a global flag (or the
   * value of --node). */
  int at = 1;
  while (at < argc && is_global_flag(argv[at])) {
    if (strcmp(argv[at], "--node") == 0) at++;
    at++;
  }
  if (at >= argc) {
    px__cli_usage(stderr);
    return PX_CLI_USAGE;
  }
  if (strcmp(argv[at], "help") == 0) return help_main(argc, argv, at);
  const px_cli_cmd *cmd = find_cmd(argv[at]);
  if (!cmd) {
    fprintf(stderr, "plexspaces: unknown command '%s'\n", argv[at]);
    px__cli_usage(stderr);
    return PX_CLI_USAGE;
  }

  px_cli c;
  memset(&c, 0, sizeof c);
  c.cmd = cmd;
  snprintf(c.what, sizeof c.what, "%s", cmd->name);
  const char *env_node = getenv("PLEXSPACES_NODE");
  int rc = set_node(&c, env_node && *env_node ? env_node : DEFAULT_NODE);
  if (rc) return rc;
  const char *token = getenv("PLEXSPACES_TOKEN");
  if (token) {
    /* A token read from a file may end with a line break: drop trailing
     * blanks, refuse anything else that cannot go into a header. */
    size_t n = strlen(token);
    while (n > 0 && strchr(" \t\r\n", token[n - 1])) n--;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)token[i] < 0x21 || token[i] == 0x7f) {
        fprintf(stderr, "plexspaces %s: PLEXSPACES_TOKEN contains a space "
                "or a control character: it must be one JWT\n", c.what);
        return PX_CLI_USAGE;
      }
    if (n >= sizeof c.token_buf) {
      fprintf(stderr, "plexspaces %s: PLEXSPACES_TOKEN is longer than %zu "
              "bytes\n", c.what, sizeof c.token_buf - 1);
      return PX_CLI_USAGE;
    }
    memcpy(c.token_buf, token, n);
    c.token_buf[n] = 0;
    if (n > 0) c.token = c.token_buf;
  }

  bool help = false;
  rc = parse(&c, argc, argv, at, &help);
  if (rc) return rc;
  if (help) {
    fputs(cmd->usage, stdout);
    return PX_CLI_OK;
  }
  if (c.npos < cmd->min_pos) {
    fputs(cmd->usage, stderr);
    return PX_CLI_USAGE;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "plexspaces %s: cannot initialise libcurl\n", c.what);
    return PX_CLI_FAIL;
  }
  rc = cmd->run(&c);
  if (c.curl) curl_easy_cleanup(c.curl);
  curl_global_cleanup();
  fflush(stdout);
  if (ferror(stdout)) {
    fprintf(stderr, "plexspaces %s: cannot write the output\n", c.what);
    return PX_CLI_FAIL;
  }
  return rc;
}

/* ---- output ------------------------------------------------------------- */

void px__cli_print_json(FILE *f, px_val v) {
  char *text;
  size_t len;
  if (px_json_encode(v, &text, &len) == 0) {
    fwrite(text, 1, len, f);
    free(text);
  } else {
    char buf[512];
    px_val_format(v, buf, sizeof buf);
    fputs(buf, f);
  }
  fputc('\n', f);
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

char *px__cli_text(px_val map, const char *key) {
  px_val v = px_gets(map, key);
  char buf[64];
  switch (px_typeof(v)) {
    case PX_T_NIL:
      return xstrdup("-");
    case PX_T_STR:
      return xstrdup(px_str_ptr(v));
    case PX_T_INT:
      snprintf(buf, sizeof buf, "%lld", (long long)v.u.i);
      return xstrdup(buf);
    case PX_T_BOOL:
      return xstrdup(v.u.b ? "yes" : "no");
    default: {
      char *text;
      size_t len;
      if (px_json_encode(v, &text, &len) == 0) return text;
      return xstrdup("?");
    }
  }
}

/* Display width of a UTF-8 string: its code points. */
static size_t width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

void px__cli_table(FILE *f, const char *indent, size_t ncol, size_t nrow,
                   char *const *cells) {
  size_t w[16] = {0};
  if (ncol > 16) ncol = 16;
  for (size_t r = 0; r < nrow; r++)
    for (size_t k = 0; k < ncol; k++) {
      const char *s = cells[r * ncol + k] ? cells[r * ncol + k] : "?";
      if (width(s) > w[k]) w[k] = width(s);
    }
  for (size_t r = 0; r < nrow; r++) {
    fputs(indent, f);
    for (size_t k = 0; k < ncol; k++) {
      const char *s = cells[r * ncol + k] ? cells[r * ncol + k] : "?";
      fputs(s, f);
      if (k + 1 < ncol)
        fprintf(f, "%*s", (int)(w[k] - width(s) + 2), "");
    }
    fputc('\n', f);
  }
}
