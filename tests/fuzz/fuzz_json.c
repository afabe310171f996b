/* libFuzzer driver for the JSON decoder. Not built by default:
 *   clang -fsanitize=fuzzer,address,undefined -DPX_BUILDING_LIBRARY \
 *     -D_GNU_SOURCE -Iinclude -Isrc \
 *     src/core/{val,atom,msgpack,json,error,mem,log}.c \
 *     tests/fuzz/fuzz_json.c -lmsgpackc -ljansson -lpthread -lm -o fuzz_json
 * Build with -DPX_FUZZ_STANDALONE (any compiler) to get a main() that runs
 * the files named on the command line once each, for reproducing crashes.
 *
 * Every input must decode or fail cleanly with a message; whatever decodes
 * must survive JSON -> value -> JSON -> value unchanged and also round-trip
 * through MessagePack. */
#include <stdint.h>
#include <stdlib.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/val.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(px_val v, bool json) {
  char *buf;
  size_t n;
  int rc =
      json ? px_json_encode(v, &buf, &n) : px_msgpack_encode(v, &buf, &n);
  if (rc != 0)
    px_panic("a decoded value failed to encode: %s", px_err_name(rc));
  px_val again;
  rc = json ? px_json_decode(buf, n, &again, NULL, 0)
            : px_msgpack_decode(buf, n, &again);
  if (rc != 0)
    px_panic("an encoded value failed to decode: %s", px_err_name(rc));
  if (!px_val_equal(v, again) || px_val_hash(v) != px_val_hash(again))
    px_panic("round trip changed the value");
  free(buf);
  px_val_release(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  px_val v;
  char err[128];
  int rc = px_json_decode((const char *)data, size, &v, err, sizeof err);
  if (rc != 0) {
    if (rc != PX_EDECODE && rc != PX_ENOMEM)
      px_panic("decode returned unexpected %s", px_err_name(rc));
    if (err[0] == 0) px_panic("decode failed without a message");
    return 0;
  }
  check_round_trip(v, true);
  check_round_trip(v, false);
  px_val_release(v);
  return 0;
}

#ifdef PX_FUZZ_STANDALONE
#include <stdio.h>

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) {
      perror(argv[i]);
      return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  return 0;
}
#endif
