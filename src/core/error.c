/* Error names and messages, generated from the PX_ERRNO_MAP table in
 * error.h so that codes, names and messages cannot drift apart. */
#include "plexspaces/error.h"

const char *px_strerror(int err) {
  switch (err) {
  case PX_OK:
    return "success";
#define MESSAGE_CASE(name, msg) \
  case PX_##name:               \
    return msg;
    PX_ERRNO_MAP(MESSAGE_CASE)
#undef MESSAGE_CASE
  default:
    return "unknown error";
  }
}

const char *px_err_name(int err) {
  switch (err) {
  case PX_OK:
    return "OK";
#define NAME_CASE(name, msg) \
  case PX_##name:            \
    return #name;
    PX_ERRNO_MAP(NAME_CASE)
#undef NAME_CASE
  default:
    return "UNKNOWN";
  }
}
