/* Shared definitions for every public header: the export macro and the
 * small set of includes the API relies on. */
#ifndef PLEXSPACES_COMMON_H
#define PLEXSPACES_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(PX_BUILDING_LIBRARY)
#define PX_API __attribute__((visibility("default")))
#else
#define PX_API
#endif

#ifdef __cplusplus
#define PX_EXTERN_C_BEGIN extern "C" {
#define PX_EXTERN_C_END }
#else
#define PX_EXTERN_C_BEGIN
#define PX_EXTERN_C_END
#endif

#endif
