/* The node's version, one place for `plexspaces version`, /healthz and
 * the User-Agent of the CLI. */
#include "node/node.h"

const char *px__node_version(void) { return "0.1.0"; }
