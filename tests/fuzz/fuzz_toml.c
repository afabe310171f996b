/* libFuzzer driver for the TOML parser and the app-config schema on top of
 * it. Not built by default:
 *   clang -fsanitize=fuzzer,address,undefined -DPX_BUILDING_LIBRARY \
 *     -D_GNU_SOURCE -Iinclude -Isrc \
 *     src/core/*.c src/app/config.c tests/fuzz/fuzz_toml.c \
 *     -lmsgpackc -ljansson -lpthread -lm -o fuzz_toml
 * (src/app/config.c needs only the core.) Build with -DPX_FUZZ_STANDALONE
 * (any compiler) to get a main() that runs the files named on the command
 * line once each, for reproducing crashes.
 *
 * Every input must parse or fail cleanly with a line and a reason; what
 * parses must encode to JSON; the app-config check must accept or reject
 * it with a message, never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  px_val v;
  px_toml_error err;
  int rc = px_toml_parse((const char *)data, size, &v, &err);
  if (rc == 0) {
    char *json;
    size_t n;
    /* Non-finite floats are valid TOML but not JSON. */
    int erc = px_json_encode(v, &json, &n);
    if (erc == 0) free(json);
    else if (erc != PX_EENCODE) px_panic("encode: %s", px_err_name(erc));
    px_val_release(v);
  } else if (rc == PX_EDECODE && (err.line < 1 || !err.reason[0])) {
    px_panic("a TOML error without a line or reason");
  }
  px__app_config c;
  char msg[512] = "";
  rc = px__app_config_parse((const char *)data, size, "app-config.toml", &c,
                            msg, sizeof msg);
  px__app_config_free(&c);
  if (rc && !msg[0]) px_panic("an app-config error without a message");
  return 0;
}

#ifdef PX_FUZZ_STANDALONE
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) continue;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  return 0;
}
#endif
