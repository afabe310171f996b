/* Tests for atom interning: identity, names, growth of the table and
 * concurrent interning and lookup. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "plexspaces/val.h"

Test(atom, same_name_gives_same_atom) {
  px_atom a = px_atom_of("same_name");
  cr_assert_not_null(a);
  cr_assert_eq(px_atom_of("same_name"), a);
  cr_assert_eq(px_atom_ofn("same_name", 9), a);
}

Test(atom, different_names_give_different_atoms) {
  cr_assert_neq(px_atom_of("left"), px_atom_of("right"));
  cr_assert_neq(px_atom_of("ab"), px_atom_of("abc"));
  cr_assert_neq(px_atom_of("Ok"), px_atom_of("ok"));
}

Test(atom, name_is_nul_terminated_copy_with_length) {
  char buf[] = "volatile";
  px_atom a = px_atom_of(buf);
  buf[0] = 'X';
  cr_assert_str_eq(px_atom_name(a), "volatile");
  cr_assert_eq(px_atom_len(a), 8);
  cr_assert_eq(px_atom_name(a)[8], '\0');
}

Test(atom, ofn_reads_only_len_bytes) {
  const char text[] = {'k', 'e', 'y', 'X'}; /* not NUL-terminated */
  px_atom a = px_atom_ofn(text, 3);
  cr_assert_str_eq(px_atom_name(a), "key");
  cr_assert_eq(a, px_atom_of("key"));
}

Test(atom, embedded_nul_is_part_of_the_name) {
  px_atom a = px_atom_ofn("a\0b", 3);
  cr_assert_neq(a, px_atom_of("a"));
  cr_assert_eq(px_atom_len(a), 3);
  cr_assert_eq(memcmp(px_atom_name(a), "a\0b", 4), 0);
  cr_assert_eq(px_atom_ofn("a\0b", 3), a);
}

Test(atom, empty_name_is_an_atom) {
  px_atom a = px_atom_of("");
  cr_assert_eq(px_atom_len(a), 0);
  cr_assert_str_eq(px_atom_name(a), "");
  cr_assert_eq(px_atom_ofn(NULL, 0), a);
}

Test(atom, find_does_not_intern) {
  cr_assert_null(px_atom_find("never_interned_before", 21));
  cr_assert_null(px_atom_find("never_interned_before", 21));
  px_atom a = px_atom_of("never_interned_before");
  cr_assert_eq(px_atom_find("never_interned_before", 21), a);
  cr_assert_null(px_atom_find("never_interned_befor", 20));
}

Test(atom, table_grows_and_keeps_every_atom) {
  enum { N = 20000 };
  static px_atom atoms[N];
  char name[32];
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "grow_%d", i);
    atoms[i] = px_atom_of(name);
  }
  for (int i = 0; i < N; i++) {
    int len = snprintf(name, sizeof name, "grow_%d", i);
    cr_assert_eq(px_atom_find(name, (size_t)len), atoms[i], "%s", name);
    cr_assert_str_eq(px_atom_name(atoms[i]), name);
    if (i) cr_assert_neq(atoms[i], atoms[i - 1]);
  }
}

Test(atom, atom_values_compare_by_identity) {
  px_val a = px_atom_val("tag");
  cr_assert(px_is_atom(a, px_atom_of("tag")));
  cr_assert(px_val_equal(a, px_atomv(px_atom_ofn("tag!", 3))));
}

enum { THREADS = 8, NAMES = 3000 };

typedef struct intern_arg {
  int id;
  px_atom got[NAMES];
} intern_arg;

static void *intern_worker(void *p) {
  intern_arg *a = p;
  char name[32];
  /* Each thread walks the names in a different order, interleaving finds
   * with inserts that grow the table. */
  for (int k = 0; k < NAMES; k++) {
    int i = (k * 7 + a->id * 389) % NAMES;
    int len = snprintf(name, sizeof name, "race_%d", i);
    px_atom found = px_atom_find(name, (size_t)len);
    a->got[i] = px_atom_of(name);
    if (found && found != a->got[i]) a->got[i] = NULL; /* flag a mismatch */
  }
  return NULL;
}

Test(atom, concurrent_interning_agrees_on_identity) {
  static intern_arg args[THREADS];
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t].id = t;
    cr_assert_eq(pthread_create(&th[t], NULL, intern_worker, &args[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  char name[32];
  for (int i = 0; i < NAMES; i++) {
    snprintf(name, sizeof name, "race_%d", i);
    px_atom want = px_atom_of(name);
    for (int t = 0; t < THREADS; t++)
      cr_assert_eq(args[t].got[i], want, "thread %d, %s", t, name);
  }
}
