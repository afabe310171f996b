/* libFuzzer driver for the MessagePack decoder. Not built by default:
 *   clang -fsanitize=fuzzer,address,undefined -DPX_BUILDING_LIBRARY \
 *     -D_GNU_SOURCE -Iinclude -Isrc \
 *     src/core/{val,atom,msgpack,json,error,mem,log}.c \
 *     tests/fuzz/fuzz_msgpack.c -lmsgpackc -ljansson -lpthread -lm \
 *     -o fuzz_msgpack
 * Build with -DPX_FUZZ_STANDALONE (any compiler) to get a main() that runs
 * the files named on the command line once each, for reproducing crashes.
 *
 * Every input must decode or fail cleanly; whatever decodes must encode and
 * decode again to an equal value. */
#include <stdint.h>
#include <stdlib.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/val.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  px_val v;
  int rc = px_msgpack_decode(data, size, &v);
  if (rc != 0) {
    if (rc != PX_EDECODE && rc != PX_ENOMEM)
      px_panic("decode returned unexpected %s", px_err_name(rc));
    return 0;
  }
  char *buf;
  size_t n;
  if (px_msgpack_encode(v, &buf, &n) != 0)
    px_panic("a decoded value failed to encode");
  px_val again;
  if (px_msgpack_decode(buf, n, &again) != 0)
    px_panic("an encoded value failed to decode");
  if (!px_val_equal(v, again) || px_val_compare(v, again) != 0 ||
      px_val_hash(v) != px_val_hash(again))
    px_panic("round trip changed the value");
  char text[256];
  px_val_format(v, text, sizeof text);
  free(buf);
  px_val_release(again);
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
