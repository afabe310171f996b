/* The command-line client of a node: `plexspaces deploy|apps|ask|ts|...`.
 * Every command but `token` talks to a running node over its HTTP/JSON
 * API (libcurl); `token` mints a development JWT offline. Internal to the
 * node program: src/main.c dispatches to it.
 *
 * Exit codes: 0 success, 1 a failure reported by the node or the network
 * (the node's message goes to stderr), 2 a usage error (bad flag, missing
 * or malformed argument). */
#ifndef PX_CLI_CLI_H
#define PX_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

/** True when `name` (argv[1]) is a command handled by px__cli_main.
 *  "journal" is not one: its offline form stays in main.c, see
 *  px__cli_journal_is_online. NULL gives false. */
bool px__cli_is_command(const char *name);

/** True when `plexspaces journal ...` (argv as main got it) is the online
 *  form, which asks a node (--node or --ns given, and no --data); main.c
 *  then hands the whole argv to px__cli_main. */
bool px__cli_journal_is_online(int argc, char **argv);

/** Runs the command argv[1] with its arguments (argv as main got it) and
 *  returns the process exit code. Writes results to stdout and errors to
 *  stderr. Not reentrant: call once per process. */
int px__cli_main(int argc, char **argv);

/** Writes the synopsis of the client commands to `f` (for main.c's usage
 *  text and `plexspaces help`). */
void px__cli_usage(FILE *f);

#endif
