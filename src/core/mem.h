/* Internal allocation helpers. Runtime-internal allocations never return
 * NULL: on failure they call the OOM handler, which aborts by default
 * (px_set_oom_handler replaces it). Parsers of external input use plain
 * malloc and return PX_ENOMEM instead. */
#ifndef PX_CORE_MEM_H
#define PX_CORE_MEM_H

#include <stddef.h>

void *px__xmalloc(size_t n);
void *px__xcalloc(size_t count, size_t n);
void *px__xrealloc(void *p, size_t n);
char *px__xstrndup(const char *s, size_t n);
/* Called when an internal allocation of n bytes fails; never returns. */
_Noreturn void px__oom(size_t n);

#endif
