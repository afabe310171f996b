/* Tests for error codes, names and messages. */
#include <criterion/criterion.h>
#include <string.h>

#include "plexspaces/error.h"

Test(error, zero_is_success) {
  cr_assert_str_eq(px_strerror(0), "success");
  cr_assert_str_eq(px_err_name(0), "OK");
  cr_assert_eq(PX_OK, 0);
}

Test(error, every_code_maps_to_its_table_entry) {
#define CHECK(name, msg)                                  \
  cr_assert_str_eq(px_err_name(PX_##name), #name);        \
  cr_assert_str_eq(px_strerror(PX_##name), msg);          \
  cr_assert_lt(PX_##name, 0, "%s must be negative", #name);
  PX_ERRNO_MAP(CHECK)
#undef CHECK
}

Test(error, codes_are_distinct) {
  static const int codes[] = {
#define CODE(name, msg) PX_##name,
      PX_ERRNO_MAP(CODE)
#undef CODE
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) cr_assert_neq(codes[i], codes[j]);
}

Test(error, known_examples) {
  cr_assert_str_eq(px_err_name(PX_ETIMEDOUT), "ETIMEDOUT");
  cr_assert_str_eq(px_strerror(PX_EDECODE), "malformed encoded data");
  cr_assert_str_eq(px_strerror(PX_ENOMEM), "out of memory");
}

Test(error, unknown_codes) {
  int bad[] = {1, 12345, -1, PX__ERR_FIRST, PX__ERR_LAST, -99999};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_str_eq(px_strerror(bad[i]), "unknown error", "code %d", bad[i]);
    cr_assert_str_eq(px_err_name(bad[i]), "UNKNOWN", "code %d", bad[i]);
  }
}
