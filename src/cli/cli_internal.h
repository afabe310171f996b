/* What the CLI's files share: the parsed command line, the HTTP helper and
 * the output helpers. Internal to src/cli. */
#ifndef PX_CLI_CLI_INTERNAL_H
#define PX_CLI_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "plexspaces/val.h"

/* Process exit codes. PX_CLI_HUMAN is no exit code: px__cli_fetch returns
 * it when the caller has a successful reply to print for a person. */
enum { PX_CLI_OK = 0, PX_CLI_FAIL = 1, PX_CLI_USAGE = 2, PX_CLI_HUMAN = -1 };

#define PX_CLI_MAX_POS 8
#define PX_CLI_MAX_OPTS 12
#define PX_CLI_PATH_MAX 4096
#define PX_CLI_TOKEN_MAX 8192 /* as PX_AUTH_MAX_TOKEN */

typedef struct px_cli px_cli;

/* One command: its options, its usage text, and the function running it
 * once the command line is parsed. */
typedef struct px_cli_cmd {
  const char *name;
  int (*run)(px_cli *c);
  /* The command's own options, NULL-terminated: "--x=" takes a value,
   * "--x" is a switch. --node, --json and --help are global. */
  const char *const *opts;
  const char *usage; /* synopsis, description and examples */
  int min_pos;       /* fewer positional arguments: print usage, exit 2 */
} px_cli_cmd;

/* A parsed command line. */
struct px_cli {
  const px_cli_cmd *cmd;
  char what[48];       /* "ask", "ts read", ...: prefixes messages */
  char node[1024];     /* base URL of the node, without a trailing slash */
  const char *token;   /* $PLEXSPACES_TOKEN trimmed, or NULL */
  char token_buf[PX_CLI_TOKEN_MAX + 1];
  bool json;           /* --json: print the node's raw reply */
  const char *pos[PX_CLI_MAX_POS]; /* positional arguments (borrowed) */
  int npos;
  const char *val[PX_CLI_MAX_OPTS]; /* value of cmd->opts[i], or NULL;
                                       "" for a switch that is set */
  CURL *curl;          /* one handle for the whole run (px__cli_curl) */
};

/* ---- command line ------------------------------------------------------- */

/** The value of option `name` ("--timeout"), or NULL when not given. A
 *  switch that is given has the value "". */
const char *px__cli_opt(const px_cli *c, const char *name);
/** Prints "plexspaces WHAT: message" and the command's synopsis hint on
 *  stderr; returns PX_CLI_USAGE. */
int px__cli_usage_error(const px_cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** An option that means nothing for this command is an error, not
 *  silently dropped: the usage error "<opt> does not apply <where>" for the
 *  first of the NULL-terminated options that was given, else PX_CLI_OK. */
int px__cli_refuse(const px_cli *c, const char *where, ...);
/** Prints "plexspaces WHAT: message" on stderr; returns PX_CLI_FAIL. */
int px__cli_fail(const px_cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Parses `text`, the command-line argument described by `what` ("the
 *  payload"), as JSON into *out (a new value). On malformed JSON prints
 *  which argument is wrong and why, and returns PX_CLI_USAGE. */
int px__cli_json_arg(const px_cli *c, const char *what, const char *text,
                     px_val *out);
/** Parses a non-negative integer option value; PX_CLI_USAGE with a
 *  message when malformed. *out is left alone when the option is absent. */
int px__cli_int_opt(const px_cli *c, const char *name, int64_t max,
                    int64_t *out);

/* ---- HTTP --------------------------------------------------------------- */

typedef struct px_cli_req {
  const char *method;       /* "GET", "POST", "DELETE" */
  const char *path;         /* escaped, from the leading '/', may have a
                               query string */
  const char *body;         /* NULL: no body */
  size_t body_len;
  const char *content_type; /* of body; NULL = application/json */
  curl_mime *mime;          /* a multipart body instead (owned by caller) */
  long timeout_s;           /* the whole exchange; 0 = 30 s */
} px_cli_req;

/** The whole-exchange timeout for a request the node may hold for up to
 *  blocking_s seconds (an ask, a blocking take, a status wait): that plus
 *  a margin for the network, and never less than the default. */
long px__cli_blocking_timeout(long blocking_s);

typedef struct px_cli_reply {
  long status;   /* HTTP status */
  char *body;    /* malloc'd, NUL-terminated */
  size_t len;
  px_val json;   /* the body decoded, or nil when it is not JSON */
} px_cli_reply;

/** The run's curl handle (created on first use; px__cli_main frees it). */
CURL *px__cli_curl(px_cli *c);
/** Sends `rq` to the node. Returns 0 and fills *out when the node answered
 *  (with any status; free with px__cli_reply_free), or PX_CLI_FAIL after
 *  printing why the node could not be reached. */
int px__cli_http(px_cli *c, const px_cli_req *rq, px_cli_reply *out);
void px__cli_reply_free(px_cli_reply *r);
/** px__cli_http plus what every command does with a reply: a failure
 *  status prints the node's message on stderr; --json prints the raw body
 *  on stdout. Returns PX_CLI_HUMAN with *out filled when the caller has a
 *  2xx reply to print for a person (free it with px__cli_reply_free);
 *  otherwise the exit code, with nothing left to free. */
int px__cli_fetch(px_cli *c, const px_cli_req *rq, px_cli_reply *out);
/** The message of an error reply: its "error" or "error_message" field,
 *  else its text, else "HTTP <status>". Borrowed from r (or static). */
const char *px__cli_reply_message(const px_cli_reply *r, char *buf,
                                  size_t cap);

/** Writes prefix, then each NULL-terminated segment percent-escaped and
 *  preceded by '/', into buf. Returns PX_CLI_OK, or PX_CLI_USAGE (too
 *  long) / PX_CLI_FAIL (out of memory) with a message. */
int px__cli_path(px_cli *c, char *buf, size_t cap, const char *prefix, ...);
/** Appends "?key=escaped" or "&key=escaped" to the path in buf. */
int px__cli_query(px_cli *c, char *buf, size_t cap, const char *key,
                  const char *value);

/* ---- output ------------------------------------------------------------- */

/** Prints `v` as compact JSON and a newline on `f`. */
void px__cli_print_json(FILE *f, px_val v);
/** A field of a reply object as text for a table cell: strings as they
 *  are, nil as "-", anything else as JSON. Caller frees the result. */
char *px__cli_text(px_val map, const char *key);
/** Prints rows of `ncol` cells (row 0 the header) with aligned columns,
 *  `indent` before each row. Frees nothing. */
void px__cli_table(FILE *f, const char *indent, size_t ncol, size_t nrow,
                   char *const *cells);

/* ---- commands ----------------------------------------------------------- */

int px__cli_deploy(px_cli *c);
int px__cli_undeploy(px_cli *c);
int px__cli_apps(px_cli *c);
int px__cli_actors(px_cli *c);
int px__cli_ask(px_cli *c);
int px__cli_tell(px_cli *c);
int px__cli_stop(px_cli *c);
int px__cli_ts(px_cli *c);
int px__cli_workflow(px_cli *c);
int px__cli_journal(px_cli *c);
int px__cli_status(px_cli *c);
int px__cli_token(px_cli *c);

#endif
