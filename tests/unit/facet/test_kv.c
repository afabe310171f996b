/* Per-actor KV (include/plexspaces/kv.h): each operation, TTL through an
 * absolute expiry already in the past (no waiting on the clock), CAS
 * create-only and increment under 8 racing threads, tenant isolation,
 * argument checks, and use from inside a handler. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/tmpdir.h"
#include "plexspaces/px.h"

static char *g_dir;
static px_store *g_st;

/* SYNC_NORMAL: the races below make thousands of commits */
static void kv_setup(void) {
  g_dir = tmpdir_new();
  px_store_opts o = {.sync = PX_STORE_SYNC_NORMAL};
  g_st = store_open(g_dir, &o);
}

static void kv_teardown(void) {
  px_store_close(g_st);
  tmpdir_free(g_dir);
}

TestSuite(kv, .init = kv_setup, .fini = kv_teardown, .timeout = 60);

static px_kv *open_kv(const char *tenant, const char *owner) {
  px_kv *kv = NULL;
  cr_assert_eq(px_kv_open(g_st, tenant, "ns", owner, &kv), 0);
  return kv;
}

static void expect_val(px_kv *kv, const char *key, px_val want) {
  px_val got;
  int rc = px_kv_get(kv, key, &got);
  cr_assert_eq(rc, 0, "get %s: %s", key, px_err_name(rc));
  cr_assert(px_val_equal(got, want), "get %s: wrong value", key);
  px_val_release(got);
  px_val_release(want);
}

static void expect_missing(px_kv *kv, const char *key) {
  px_val got;
  cr_assert_eq(px_kv_get(kv, key, &got), PX_ENOTFOUND, "%s present", key);
  cr_assert(px_is_nil(got));
}

Test(kv, put_get_overwrite_delete) {
  px_kv *kv = open_kv("t", "counter/1");
  cr_assert_str_eq(px_kv_scope(kv), "t/ns/counter/1");
  expect_missing(kv, "k");
  px_val v = px_map(1, px_str("a"), px_arr(2, px_int(1), px_str("x")));
  cr_assert_eq(px_kv_put(kv, "k", px_val_retain(v), 0), 0);
  expect_val(kv, "k", v); /* releases v */
  cr_assert_eq(px_kv_put(kv, "k", px_int(7), 0), 0);
  expect_val(kv, "k", px_int(7));
  cr_assert_eq(px_kv_delete(kv, "k"), 0);
  expect_missing(kv, "k");
  cr_assert_eq(px_kv_delete(kv, "k"), 0, "delete is idempotent");
  cr_assert_eq(px_kv_delete(kv, "never"), 0);
  px_kv_close(kv);
}

typedef struct listed {
  size_t n;
  char keys[8][32];
  int64_t ints[8];
  int stop_after;
} listed;

static int list_cb(void *ud, const char *key, px_val v, int64_t exp) {
  (void)exp;
  listed *l = ud;
  cr_assert_lt(l->n, 8);
  snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
  l->ints[l->n] = px_typeof(v) == PX_T_INT ? v.u.i : -1;
  l->n++;
  px_val_release(v);
  return l->stop_after && (int)l->n == l->stop_after ? 42 : 0;
}

Test(kv, list_by_prefix_in_key_order) {
  px_kv *kv = open_kv("t", "o");
  const char *keys[] = {"user:b", "user:a", "order:1", "user_x", "users"};
  for (int i = 0; i < 5; i++)
    cr_assert_eq(px_kv_put(kv, keys[i], px_int(i), 0), 0);
  listed l = {0};
  cr_assert_eq(px_kv_list(kv, "user:", list_cb, &l), 0);
  cr_assert_eq(l.n, 2);
  cr_assert_str_eq(l.keys[0], "user:a");
  cr_assert_eq(l.ints[0], 1);
  cr_assert_str_eq(l.keys[1], "user:b");
  memset(&l, 0, sizeof l);
  /* '_' is a literal, not a one-character wildcard */
  cr_assert_eq(px_kv_list(kv, "user_", list_cb, &l), 0);
  cr_assert_eq(l.n, 1);
  cr_assert_str_eq(l.keys[0], "user_x");
  memset(&l, 0, sizeof l);
  cr_assert_eq(px_kv_list(kv, NULL, list_cb, &l), 0);
  cr_assert_eq(l.n, 5);
  cr_assert_str_eq(l.keys[0], "order:1");
  memset(&l, 0, sizeof l);
  l.stop_after = 2;
  cr_assert_eq(px_kv_list(kv, "", list_cb, &l), 42, "callback stops scan");
  cr_assert_eq(l.n, 2);
  px_kv_close(kv);
}

Test(kv, ttl_expired_entries_are_invisible_at_once) {
  px_kv *kv = open_kv("t", "o");
  int64_t past = px_wall_ms() - 1;
  cr_assert_eq(px_kv_put_at(kv, "gone", px_int(1), past), 0);
  expect_missing(kv, "gone");
  int64_t left = 5;
  cr_assert_eq(px_kv_ttl(kv, "gone", &left), PX_ENOTFOUND);
  listed l = {0};
  cr_assert_eq(px_kv_list(kv, "", list_cb, &l), 0);
  cr_assert_eq(l.n, 0, "list hides expired entries");
  /* an expired key counts as absent for CAS create-only and increment */
  cr_assert_eq(px_kv_cas(kv, "gone", NULL, px_int(9), 0), 0);
  expect_val(kv, "gone", px_int(9));
  cr_assert_eq(px_kv_put_at(kv, "n", px_int(100), past), 0);
  int64_t n = 0;
  cr_assert_eq(px_kv_incr(kv, "n", 5, &n), 0);
  cr_assert_eq(n, 5, "increment of an expired key starts from 0");
  /* a CAS expecting the expired value fails: it is gone */
  cr_assert_eq(px_kv_put_at(kv, "e", px_int(3), past), 0);
  px_val three = px_int(3);
  cr_assert_eq(px_kv_cas(kv, "e", &three, px_int(4), 0), PX_ECONFLICT);
  px_kv_close(kv);
}

Test(kv, ttl_reports_time_left_and_zero_for_none) {
  px_kv *kv = open_kv("t", "o");
  cr_assert_eq(px_kv_put(kv, "a", px_int(1), 60000), 0);
  int64_t left = 0;
  cr_assert_eq(px_kv_ttl(kv, "a", &left), 0);
  cr_assert(left > 50000 && left <= 60000, "left %lld", (long long)left);
  expect_val(kv, "a", px_int(1));
  cr_assert_eq(px_kv_put(kv, "b", px_int(1), 0), 0);
  cr_assert_eq(px_kv_ttl(kv, "b", &left), 0);
  cr_assert_eq(left, 0);
  cr_assert_eq(px_kv_ttl(kv, "none", &left), PX_ENOTFOUND);
  /* a plain put replaces the expiry */
  cr_assert_eq(px_kv_put(kv, "a", px_int(2), 0), 0);
  cr_assert_eq(px_kv_ttl(kv, "a", &left), 0);
  cr_assert_eq(left, 0);
  px_kv_close(kv);
}

Test(kv, cas_create_only_and_compare) {
  px_kv *kv = open_kv("t", "o");
  cr_assert_eq(px_kv_cas(kv, "k", NULL, px_str("v1"), 0), 0);
  cr_assert_eq(px_kv_cas(kv, "k", NULL, px_str("v2"), 0), PX_ECONFLICT);
  px_val wrong = px_str("nope"), right = px_str("v1");
  cr_assert_eq(px_kv_cas(kv, "k", &wrong, px_str("v3"), 0), PX_ECONFLICT);
  expect_val(kv, "k", px_str("v1"));
  cr_assert_eq(px_kv_cas(kv, "k", &right, px_str("v4"), 0), 0);
  expect_val(kv, "k", px_str("v4"));
  cr_assert_eq(px_kv_cas(kv, "k", &right, px_str("v5"), 0), PX_ECONFLICT,
               "the old value no longer matches");
  cr_assert_eq(px_kv_cas(kv, "missing", &right, px_str("x"), 0),
               PX_ECONFLICT, "an expected value needs the key to exist");
  expect_missing(kv, "missing");
  px_val_release(wrong);
  px_val_release(right);
  px_kv_close(kv);
}

Test(kv, incr_creates_adds_and_checks_type) {
  px_kv *kv = open_kv("t", "o");
  int64_t n = 0;
  cr_assert_eq(px_kv_incr(kv, "c", 3, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(px_kv_incr(kv, "c", -10, &n), 0);
  cr_assert_eq(n, -7);
  expect_val(kv, "c", px_int(-7));
  cr_assert_eq(px_kv_incr(kv, "c", 1, NULL), 0);
  expect_val(kv, "c", px_int(-6));
  cr_assert_eq(px_kv_put(kv, "s", px_str("text"), 0), 0);
  cr_assert_eq(px_kv_incr(kv, "s", 1, &n), PX_ETYPE);
  expect_val(kv, "s", px_str("text"));
  cr_assert_eq(px_kv_put(kv, "max", px_int(INT64_MAX), 0), 0);
  cr_assert_eq(px_kv_incr(kv, "max", 1, &n), PX_ERANGE);
  expect_val(kv, "max", px_int(INT64_MAX));
  /* a live entry keeps its expiry across increments */
  cr_assert_eq(px_kv_put(kv, "t", px_int(1), 60000), 0);
  cr_assert_eq(px_kv_incr(kv, "t", 1, &n), 0);
  int64_t left = 0;
  cr_assert_eq(px_kv_ttl(kv, "t", &left), 0);
  cr_assert(left > 50000, "left %lld", (long long)left);
  px_kv_close(kv);
}

Test(kv, tenants_never_see_each_other) {
  px_kv *a = open_kv("acme", "user/1");
  px_kv *b = open_kv("beta", "user/1");
  cr_assert_eq(px_kv_put(a, "secret", px_str("A"), 0), 0);
  expect_missing(b, "secret");
  listed l = {0};
  cr_assert_eq(px_kv_list(b, "", list_cb, &l), 0);
  cr_assert_eq(l.n, 0);
  cr_assert_eq(px_kv_cas(b, "secret", NULL, px_str("B"), 0), 0,
               "b's key is its own");
  cr_assert_eq(px_kv_delete(b, "secret"), 0);
  expect_val(a, "secret", px_str("A"));
  /* a tenant may not forge another's scope through '/' */
  px_kv *x = NULL;
  cr_assert_eq(px_kv_open(g_st, "beta/ns", "user", "1", &x), PX_EINVAL);
  cr_assert_eq(px_kv_open(g_st, "beta", "ns/user", "1", &x), PX_EINVAL);
  cr_assert_null(x);
  px_kv_close(a);
  px_kv_close(b);
}

Test(kv, bad_arguments_get_clear_errors) {
  px_kv *kv = open_kv("t", "o"), *x = NULL;
  px_val v;
  cr_assert_eq(px_kv_open(NULL, "t", "n", "o", &x), PX_EINVAL);
  cr_assert_eq(px_kv_open(g_st, "", "n", "o", &x), PX_EINVAL);
  cr_assert_eq(px_kv_open(g_st, "t", "", "o", &x), PX_EINVAL);
  cr_assert_eq(px_kv_open(g_st, "t", "n", "", &x), PX_EINVAL);
  cr_assert_eq(px_kv_open(g_st, "t", "n", NULL, &x), PX_EINVAL);
  cr_assert_eq(px_kv_get(kv, "", &v), PX_EINVAL);
  cr_assert_eq(px_kv_get(kv, NULL, &v), PX_EINVAL);
  cr_assert_eq(px_kv_get(NULL, "k", &v), PX_EINVAL);
  cr_assert_eq(px_kv_put(kv, "", px_int(1), 0), PX_EINVAL);
  cr_assert_eq(px_kv_put(kv, "k", px_int(1), -1), PX_EINVAL);
  cr_assert_eq(px_kv_put(kv, "k", px_int(1), INT64_MAX), PX_EINVAL);
  cr_assert_eq(px_kv_put_at(kv, "k", px_int(1), -5), PX_EINVAL);
  cr_assert_eq(px_kv_delete(kv, ""), PX_EINVAL);
  cr_assert_eq(px_kv_incr(kv, "", 1, NULL), PX_EINVAL);
  cr_assert_eq(px_kv_cas(kv, "", NULL, px_int(1), 0), PX_EINVAL);
  cr_assert_eq(px_kv_list(kv, "", NULL, NULL), PX_EINVAL);
  char big_key[PX_KV_MAX_KEY + 2];
  memset(big_key, 'k', sizeof big_key - 1);
  big_key[sizeof big_key - 1] = '\0';
  cr_assert_eq(px_kv_put(kv, big_key, px_int(1), 0), PX_EINVAL);
  big_key[PX_KV_MAX_KEY] = '\0'; /* exactly the limit is fine */
  cr_assert_eq(px_kv_put(kv, big_key, px_int(1), 0), 0);
  char *blob = calloc(1, PX_KV_MAX_VALUE + 1);
  px_val huge = px_bin(blob, PX_KV_MAX_VALUE + 1);
  free(blob);
  cr_assert_eq(px_kv_put(kv, "big", px_val_retain(huge), 0), PX_ERANGE);
  cr_assert_eq(px_kv_cas(kv, "big", NULL, huge, 0), PX_ERANGE);
  expect_missing(kv, "big");
  px_kv_close(kv);
  px_kv_close(NULL);
}

/* ---- races ------------------------------------------------------------------ */

typedef struct racer {
  px_kv *kv;
  int id;
  int rc;
  pthread_barrier_t *go;
} racer;

static void *cas_racer(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(r->go);
  r->rc = px_kv_cas(r->kv, "leader", NULL, px_int(r->id), 0);
  return NULL;
}

Test(kv, cas_create_only_race_has_one_winner) {
  px_kv *kv = open_kv("t", "o");
  for (int round = 0; round < 5; round++) {
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 8);
    pthread_t th[8];
    racer r[8];
    for (int i = 0; i < 8; i++) {
      r[i] = (racer){kv, i, 1, &go};
      pthread_create(&th[i], NULL, cas_racer, &r[i]);
    }
    int wins = 0, winner = -1;
    for (int i = 0; i < 8; i++) {
      pthread_join(th[i], NULL);
      if (r[i].rc == 0) {
        wins++;
        winner = i;
      } else {
        cr_assert_eq(r[i].rc, PX_ECONFLICT, "%s", px_err_name(r[i].rc));
      }
    }
    pthread_barrier_destroy(&go);
    cr_assert_eq(wins, 1, "round %d: %d winners", round, wins);
    expect_val(kv, "leader", px_int(winner));
    cr_assert_eq(px_kv_delete(kv, "leader"), 0);
  }
  px_kv_close(kv);
}

static void *incr_racer(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(r->go);
  for (int i = 0; i < 1000 && r->rc == 0; i++)
    r->rc = px_kv_incr(r->kv, "hits", 1, NULL);
  return NULL;
}

Test(kv, incr_from_8_threads_loses_nothing) {
  px_kv *kv = open_kv("t", "o");
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, 8);
  pthread_t th[8];
  racer r[8];
  for (int i = 0; i < 8; i++) {
    r[i] = (racer){kv, i, 0, &go};
    pthread_create(&th[i], NULL, incr_racer, &r[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(r[i].rc, 0, "%s", px_err_name(r[i].rc));
  }
  pthread_barrier_destroy(&go);
  expect_val(kv, "hits", px_int(8000));
  px_kv_close(kv);
}

/* ---- from handlers ------------------------------------------------------------ */

/* One actor per message: opens its scope with the caller's tenant (NULL),
 * increments, replies with the new value. */
static void kv_actor_handle(void *state, const px_message *m) {
  (void)state;
  px_kv *kv = NULL;
  int rc = px_kv_open(g_st, NULL, NULL, "actor", &kv);
  int64_t n = -1;
  if (rc == 0) rc = px_kv_incr(kv, "n", 1, &n);
  px_kv *self = NULL;
  int self_rc = px_kv_self(g_st, &self);
  px_kv_close(self);
  px_reply(m, px_arr(4, px_int(rc), px_int(n),
                     px_str(kv ? px_kv_scope(kv) : ""), px_int(self_rc)));
  px_kv_close(kv);
}

static const px_actor_type kv_actor = {.name = "kv_actor",
                                       .handle = kv_actor_handle};

Test(kv, handlers_park_on_writes_and_use_their_tenant) {
  px_runtime_opts o = {.workers = 2};
  cr_assert_eq(px_runtime_start(&o), 0);
  px_kv *x = NULL;
  cr_assert_eq(px_kv_self(g_st, &x), PX_ENOTACTOR);
  px_spawn_opts so = {.tenant = "acme", .ns = "shop"};
  px_ref a[4];
  for (int i = 0; i < 4; i++)
    cr_assert_eq(px_spawn(&kv_actor, px_nil(), &so, &a[i]), 0);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 4; i++) {
      px_val rep;
      cr_assert_eq(px_ask(a[i], px_atom_of("go"), px_nil(), 10000, &rep), 0);
      cr_assert_eq(px_at(rep, 0).u.i, 0);
      cr_assert_eq(px_at(rep, 1).u.i, round * 4 + i + 1);
      cr_assert_str_eq(px_str_ptr(px_at(rep, 2)), "acme/shop/actor");
      /* no durable id: not a virtual actor's activation */
      cr_assert_eq(px_at(rep, 3).u.i, PX_ENOTSUP);
      px_val_release(rep);
    }
  }
  px_runtime_stop();
}

/* A virtual actor's own scope is its id "tenant/ns/type/key". */
static void grain_kv_handle(void *state, const px_message *m) {
  (void)state;
  px_kv *kv = NULL;
  int rc = px_kv_self(g_st, &kv);
  int64_t n = -1;
  if (rc == 0) rc = px_kv_incr(kv, "visits", 1, &n);
  px_reply(m, px_arr(3, px_int(rc), px_int(n),
                     px_str(kv ? px_kv_scope(kv) : "")));
  px_kv_close(kv);
}

static const px_actor_type grain_kv = {.name = "kvgrain",
                                       .handle = grain_kv_handle};

Test(kv, a_virtual_actor_owns_the_scope_of_its_id) {
  px_runtime_opts o = {.workers = 2};
  cr_assert_eq(px_runtime_start(&o), 0);
  cr_assert_eq(px_virtual_register(&grain_kv, px_nil(), NULL), 0);
  for (int i = 1; i <= 3; i++) {
    px_val rep;
    cr_assert_eq(px_virtual_ask_in("acme", "shop", "kvgrain", "cart/7",
                                   px_atom_of("go"), px_nil(), 10000, &rep),
                 0);
    cr_assert_eq(px_at(rep, 0).u.i, 0, "%s",
                 px_err_name((int)px_at(rep, 0).u.i));
    cr_assert_eq(px_at(rep, 1).u.i, i);
    cr_assert_str_eq(px_str_ptr(px_at(rep, 2)), "acme/shop/kvgrain/cart/7");
    px_val_release(rep);
  }
  /* the same scope from outside, by tenant, namespace and "type/key" */
  px_kv *kv = NULL;
  cr_assert_eq(px_kv_open(g_st, "acme", "shop", "kvgrain/cart/7", &kv), 0);
  expect_val(kv, "visits", px_int(3));
  px_kv_close(kv);
  px_runtime_stop();
}
