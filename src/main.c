/* The plexspaces node program. Until the node server lands (HTTP API,
 * apps), it runs the demo application and the offline tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/durable.h"
#include "plexspaces/error.h"
#include "plexspaces/store.h"
#include "cli/cli.h"
#include "node/node.h"

int px_demo_main(int argc, char **argv);

static void usage(void) {
  fprintf(stderr,
          "usage: plexspaces start [--config node.toml] [--data DIR] "
          "[--listen HOST:PORT]\n"
          "                              run a node (HTTP API, apps, "
          "metrics)\n"
          "       plexspaces demo        run the demo app (actors under a "
          "supervisor)\n"
          "       plexspaces journal show [--data DIR] ID\n"
          "                              print the snapshots and journal of "
          "a durable\n"
          "                              actor or workflow (ID as in "
          "`journal list`)\n"
          "       plexspaces journal list [--data DIR] [PREFIX]\n"
          "                              list the durable streams\n"
          "       plexspaces version     print the version\n"
          "DIR defaults to $PLEXSPACES_DATA, else ./data. The journal "
          "commands only read:\n"
          "they work while a node runs on DIR.\n\n");
  px__cli_usage(stderr);
}

static int print_name(void *ud, const char *name) {
  (void)ud;
  printf("%s\n", name);
  return 0;
}

static int journal_main(int argc, char **argv) {
  const char *dir = getenv("PLEXSPACES_DATA");
  if (!dir || !*dir) dir = "./data";
  const char *cmd = argc > 1 ? argv[1] : NULL;
  const char *arg = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
      dir = argv[++i];
    else if (!arg && argv[i][0] != '-')
      arg = argv[i];
    else {
      fprintf(stderr, "plexspaces journal: unexpected argument '%s'\n",
              argv[i]);
      return 2;
    }
  }
  bool show = cmd && strcmp(cmd, "show") == 0;
  bool list = cmd && strcmp(cmd, "list") == 0;
  if ((!show && !list) || (show && !arg)) {
    usage();
    return 2;
  }
  char err[512];
  px_store *s;
  int rc = px_store_open_sqlite_reader(dir, &s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "plexspaces journal: %s\n", err);
    return 1;
  }
  rc = show ? px_journal_show(s, arg, stdout)
            : px_store_streams(s, arg ? arg : "", print_name, NULL);
  px_store_close(s);
  if (rc) {
    fprintf(stderr, "plexspaces journal: %s\n", px_strerror(rc));
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  if (strcmp(argv[1], "version") == 0) {
    printf("plexspaces %s\n", px__node_version());
    return 0;
  }
  if (strcmp(argv[1], "start") == 0)
    return px__node_start_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "demo") == 0) return px_demo_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "journal") == 0)
    return px__cli_journal_is_online(argc, argv)
               ? px__cli_main(argc, argv)
               : journal_main(argc - 1, argv + 1);
  if (px__cli_is_command(argv[1])) return px__cli_main(argc, argv);
  usage();
  return 2;
}
