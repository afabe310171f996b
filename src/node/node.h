/* The node program: configuration, lifecycle, HTTP surface. Internal. */
#ifndef PX_NODE_NODE_H
#define PX_NODE_NODE_H

const char *px__node_version(void);

#endif
