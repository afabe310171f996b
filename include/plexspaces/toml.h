/* TOML 1.0.0 parser producing px_val trees.
 *
 * Hand-written on purpose: no C TOML library is packaged for Debian (only
 * C++ ones), and a config parser is small enough to own. It is checked
 * against the toml-test conformance data (tests/conformance/toml).
 *
 * Mapping:
 *   table, inline table  -> map with string keys, in the order written
 *   array                -> array
 *   string               -> string (valid UTF-8)
 *   integer              -> int (64-bit; out of range is an error)
 *   float                -> double (inf and nan included)
 *   boolean              -> bool
 *   offset date-time     -> map {"$datetime": "1979-05-27T07:32:00Z"}
 *   local date-time      -> map {"$datetime-local": "1979-05-27T07:32:00"}
 *   local date           -> map {"$date-local": "1979-05-27"}
 *   local time           -> map {"$time-local": "07:32:00"}
 * Date-time text is kept as written except that the separator becomes 'T'
 * and 'z'/'t' are upper-cased (RFC 3339 form). */
#ifndef PLEXSPACES_TOML_H
#define PLEXSPACES_TOML_H

#include "common.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/** Where and why a parse failed. `line` and `column` are 1-based; the
 *  column counts bytes. `reason` is a NUL-terminated sentence. */
typedef struct px_toml_error {
  int line;
  int column;
  char reason[160];
} px_toml_error;

/** Parses `len` bytes of TOML text (need not be NUL-terminated).
 *  Returns 0 and sets *out to a new map (the caller owns it; release with
 *  px_val_release) or returns PX_EDECODE for invalid TOML and PX_ENOMEM
 *  when memory runs out (PX_EINVAL if `text` is NULL with a non-zero
 *  `len`); then *out is nil and, if `err` is given, it says where and why
 *  (line 0 when the failure has no position, such as running out of
 *  memory). Never aborts on bad input. Inline arrays and tables may
 *  nest at most 128 deep and dotted keys have at most 128 parts.
 *  Thread-safe (no shared state). */
PX_API int px_toml_parse(const char *text, size_t len, px_val *out,
                         px_toml_error *err);

/** Called once per key and array item of a parsed document, parents
 *  before children, with its path and the 1-based line where it was
 *  written (for a table: its header or first dotted key; for an array of
 *  tables element: its [[header]]). Paths join keys with '.' and give
 *  array items as "[i]": "supervisor.children[1].restart". Keys are
 *  written as they are (a quoted key holding '.' is ambiguous); a path
 *  longer than 511 bytes is not reported. `path` is borrowed. */
typedef void (*px_toml_pos_fn)(void *ud, const char *path, int line);

/** px_toml_parse that also reports where every key is written, for
 *  config loaders whose semantic errors must name a line. The callback
 *  runs only when the parse succeeds, before this returns; cb may be
 *  NULL. */
PX_API int px_toml_parse_ex(const char *text, size_t len, px_val *out,
                            px_toml_error *err, px_toml_pos_fn cb, void *ud);

PX_EXTERN_C_END

#endif
