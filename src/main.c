/* The plexspaces node program. Until the node server lands (HTTP API,
 * apps, storage), `plexspaces demo` runs the demo application. */
#include <stdio.h>
#include <string.h>

int px_demo_main(int argc, char **argv);

static void usage(void) {
  fprintf(stderr,
          "usage: plexspaces demo        run the demo app (actors under a "
          "supervisor)\n"
          "       plexspaces version     print the version\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  if (strcmp(argv[1], "version") == 0) {
    printf("plexspaces 0.1.0\n");
    return 0;
  }
  if (strcmp(argv[1], "demo") == 0) return px_demo_main(argc - 1, argv + 1);
  usage();
  return 2;
}
