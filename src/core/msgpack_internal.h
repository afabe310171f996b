/* Internal MessagePack helpers for the other subsystems. */
#ifndef PX_CORE_MSGPACK_INTERNAL_H
#define PX_CORE_MSGPACK_INTERNAL_H

#include <stddef.h>

#include "plexspaces/val.h"

/* Packs v into buf, which holds exactly n bytes, n being what
 * px_msgpack_size said of v: for a caller that needed the size first
 * anyway (to make room), so that the size pass is not run twice. */
void px__msgpack_pack_sized(px_val v, void *buf, size_t n);

#endif
