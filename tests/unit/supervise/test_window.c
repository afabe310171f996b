/* Unit tests for the restart intensity window (R-C-15). */
#include <criterion/criterion.h>

#include "supervise/window.h"

Test(window, intensity_n_tolerates_n_and_dies_on_n_plus_one) {
  px__sup_window w = {0};
  for (int i = 0; i < 3; i++) cr_assert(!px__sup_window_add(&w, 10, 3, 5));
  cr_assert(px__sup_window_add(&w, 10, 3, 5));
  px__sup_window_free(&w);
}

Test(window, intensity_zero_dies_on_the_first) {
  px__sup_window w = {0};
  cr_assert(px__sup_window_add(&w, 0, 0, 5));
  px__sup_window_free(&w);
}

Test(window, window_is_inclusive) {
  px__sup_window w = {0};
  cr_assert(!px__sup_window_add(&w, 0, 1, 5));
  cr_assert(px__sup_window_add(&w, 5, 1, 5), "t=0 >= 5-5 is kept");
  px__sup_window_free(&w);
}

Test(window, older_entries_are_dropped) {
  px__sup_window w = {0};
  cr_assert(!px__sup_window_add(&w, 0, 1, 5));
  cr_assert(!px__sup_window_add(&w, 6, 1, 5), "t=0 < 6-5 is dropped");
  cr_assert_eq(w.total, 1);
  cr_assert(px__sup_window_add(&w, 11, 1, 5), "t=6 >= 11-5 is kept");
  px__sup_window_free(&w);
}

Test(window, bursts_take_one_run) {
  px__sup_window w = {0};
  for (int i = 0; i < 100000; i++) px__sup_window_add(&w, 7, 1 << 30, 5);
  cr_assert_eq(w.n, 1);
  cr_assert_eq(w.total, 100000);
  cr_assert(px__sup_window_add(&w, 13, 0, 5), "1 restart > intensity 0");
  cr_assert_eq(w.total, 1, "the burst at 7 left the window at 13");
  px__sup_window_free(&w);
}
