/* Test fixture: an app library that reports the ABI but has no
 * px_app_init; deploying it must be refused. */
#include "plexspaces/app.h"

PX_APP_EXPORT const uint32_t px_app_abi_version = PX_APP_ABI_VERSION;
