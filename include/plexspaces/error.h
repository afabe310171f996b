/* Error codes. Every fallible call returns 0 on success or a negative PX_E*
 * code; results go out through out-parameters. The codes, their names and
 * their messages come from one table so they can never drift apart. */
#ifndef PLEXSPACES_ERROR_H
#define PLEXSPACES_ERROR_H

#include "common.h"

PX_EXTERN_C_BEGIN

/* X(NAME, "message a person can act on") */
#define PX_ERRNO_MAP(X)                                                       \
  X(EINVAL, "invalid argument")                                               \
  X(ENOMEM, "out of memory")                                                  \
  X(ENOPROC, "no such actor (it never existed or has exited)")               \
  X(ETIMEDOUT, "timed out")                                                   \
  X(EEXIST, "already exists")                                                 \
  X(ENOTFOUND, "not found")                                                   \
  X(EBADNAME, "name is not registered")                                       \
  X(ENAMETAKEN, "name is already registered to another actor")               \
  X(EHASNAME, "actor already has a registered name")                          \
  X(ENOTACTOR, "call is only valid inside an actor handler")                 \
  X(EMAILBOXFULL, "mailbox is full and its policy rejects the message")      \
  X(EDECODE, "malformed encoded data")                                        \
  X(EENCODE, "value cannot be encoded")                                       \
  X(ETYPE, "value has the wrong type")                                        \
  X(ERANGE, "value out of range")                                             \
  X(EEXITED, "the target exited before replying")                             \
  X(ESTOPPED, "the runtime is stopping")                                      \
  X(EALREADYSTARTED, "child is already started")                              \
  X(EALREADYPRESENT, "child spec is present but not running")                \
  X(ERUNNING, "child is running")                                             \
  X(ERESTARTING, "child is restarting")                                       \
  X(ESIMPLEONEFORONE, "operation not valid for simple_one_for_one")           \
  X(EINIT, "init failed")                                                     \
  X(EIGNORE, "start was ignored")                                             \
  X(EBADREPLY, "handler returned an invalid result")                          \
  X(EHANDLER, "handler reported an error")                                    \
  X(EDEADLOCK, "call to self would deadlock")                                 \
  X(ENOTSUP, "operation not supported")                                       \
  X(EIO, "input/output error")                                              \
  X(EPERM, "not permitted for the caller's tenant or role")                 \
  X(ECONFLICT, "stored value changed (compare-and-set or journal position)") \
  X(ENONDETERMINISM, "replay diverged from the journal (code changed?)")    \
  X(ECANCELLED, "cancelled")                                                  \
  X(EFAILED, "the workflow or step failed")

typedef enum px_errno {
  PX_OK = 0,
#define PX__ERR_ENUM(name, msg) PX_##name,
  PX__ERR_FIRST = -1000,
  PX_ERRNO_MAP(PX__ERR_ENUM)
#undef PX__ERR_ENUM
  PX__ERR_LAST
} px_errno;

/** Returns a static, human-readable message for `err` (0 or a PX_E* code).
 *  Unknown codes give "unknown error". Thread-safe. */
PX_API const char *px_strerror(int err);

/** Returns the code's name without the prefix, e.g. "ETIMEDOUT". */
PX_API const char *px_err_name(int err);

PX_EXTERN_C_END

#endif
