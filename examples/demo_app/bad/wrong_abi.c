/* Test fixture: an app library built for another app ABI; deploying it
 * must be refused before its px_app_init runs. */
#include "plexspaces/app.h"

PX_APP_EXPORT const uint32_t px_app_abi_version = PX_APP_ABI_VERSION + 100;

PX_APP_EXPORT int px_app_init(px_app_registry *r) {
  (void)r;
  return 0;
}
