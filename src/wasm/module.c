/* Modules: checked, compiled once, kept compiled.
 *
 * A deploy hands us the module's bytes. Everything docs/wasm-abi.md
 * promises to check is checked here, before the app exists, with a
 * message naming what is wrong: the magic and version (a component is
 * named as such), the size, wasmtime's validation, every export and its
 * signature, every import against the host's table, and the ABI version
 * the module reports (which needs one throwaway instance).
 *
 * The compiled code is kept in cache_dir/<sha256>-<settings>.cwasm behind
 * our own header and checksum: wasmtime checks that an artifact matches
 * the engine, but not that its bytes are intact, and it trusts what it
 * reloads (the code runs as is). So a torn or altered file is detected
 * here and compiled afresh, and files are written to a temporary name and
 * renamed, so a crash never leaves half an artifact under the real one. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "wasm/wasm_internal.h"

#define CACHE_MAGIC "PXCWASM1"
#define CACHE_HEADER (8 + 32) /* magic, sha256 of the rest */

static void sha256(const void *b, size_t n, unsigned char out[32]) {
  unsigned len = 32;
  EVP_Digest(b, n, out, &len, EVP_sha256(), NULL);
}

static void hex(const unsigned char *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

bool px__wasm_is_module(const void *bytes, size_t len) {
  return len >= 4 && !memcmp(bytes, "\0asm", 4);
}

/* ---- the compiled-code cache --------------------------------------------- */

static void cache_path(const char *hexsum, char *out, size_t cap) {
  unsigned char s[32];
  char sh[65];
  sha256(px__wasm.settings, strlen(px__wasm.settings), s);
  hex(s, 4, sh);
  snprintf(out, cap, "%s/%s-%s.cwasm", px__wasm.o.cache_dir, hexsum, sh);
}

static bool read_all(const char *path, unsigned char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = fstat(fd, &st) == 0 && st.st_size > CACHE_HEADER;
  unsigned char *b = ok ? malloc((size_t)st.st_size) : NULL;
  size_t got = 0;
  while (b && got < (size_t)st.st_size) {
    ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (!b || got != (size_t)st.st_size) {
    free(b);
    return false;
  }
  *out = b;
  *len = got;
  return true;
}

static wasmtime_module_t *cache_load(const char *path) {
  unsigned char *b;
  size_t n;
  if (!read_all(path, &b, &n)) return NULL;
  unsigned char sum[32];
  sha256(b + CACHE_HEADER, n - CACHE_HEADER, sum);
  wasmtime_module_t *m = NULL;
  if (!memcmp(b, CACHE_MAGIC, 8) && !memcmp(b + 8, sum, 32)) {
    wasmtime_error_t *e = wasmtime_module_deserialize(
        px__wasm.engine, b + CACHE_HEADER, n - CACHE_HEADER, &m);
    if (e) {
      wasmtime_error_delete(e);
      m = NULL;
    }
  } else {
    px_log(PX_LOG_WARN, "wasm", "compiled module %s is damaged; compiling "
           "it again", path);
  }
  free(b);
  return m;
}

static void cache_store(const char *path, wasmtime_module_t *m) {
  wasm_byte_vec_t code;
  wasmtime_error_t *e = wasmtime_module_serialize(m, &code);
  if (e) {
    wasmtime_error_delete(e);
    return;
  }
  mkdir(px__wasm.o.cache_dir, 0755);
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  unsigned char head[CACHE_HEADER];
  memcpy(head, CACHE_MAGIC, 8);
  sha256(code.data, code.size, head + 8);
  const void *parts[2] = {head, code.data};
  size_t lens[2] = {CACHE_HEADER, code.size};
  for (int i = 0; ok && i < 2; i++) {
    const char *p = parts[i];
    size_t left = lens[i];
    while (ok && left) {
      ssize_t w = write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      ok = w > 0;
      if (ok) {
        p += w;
        left -= (size_t)w;
      }
    }
  }
  if (fd >= 0) ok = fsync(fd) == 0 && close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    px_log(PX_LOG_WARN, "wasm", "cannot keep the compiled module in %s: %s",
           path, strerror(errno));
  }
  wasm_byte_vec_delete(&code);
}

/* ---- checks -------------------------------------------------------------- */

typedef struct want {
  const char *name;
  const char *sig;
  bool optional;
} want;

static const want exports[] = {
    {"px_abi_version", ":i", false},
    {"px_alloc", "i:i", false},
    {"px_free", "ii:", false},
    {"px_init", "ii:i", false},
    {"px_handle", "iiiiiii:i", false},
    {"px_get_state", ":I", false},
    {"px_set_state", "ii:i", false},
    {"_initialize", ":", true},
};

static char kind_char(wasm_valkind_t k) {
  switch (k) {
    case WASM_I32: return 'i';
    case WASM_I64: return 'I';
    case WASM_F32: return 'f';
    case WASM_F64: return 'F';
    default: return '?';
  }
}

/* "params:results" of a function type. */
static void sig_of(const wasm_functype_t *ft, char *out, size_t cap) {
  const wasm_valtype_vec_t *p = wasm_functype_params(ft);
  const wasm_valtype_vec_t *r = wasm_functype_results(ft);
  size_t n = 0;
  for (size_t i = 0; i < p->size && n + 2 < cap; i++)
    out[n++] = kind_char(wasm_valtype_kind(p->data[i]));
  out[n++] = ':';
  for (size_t i = 0; i < r->size && n + 1 < cap; i++)
    out[n++] = kind_char(wasm_valtype_kind(r->data[i]));
  out[n] = 0;
}

static void pretty(const char *sig, char *out, size_t cap) {
  /* "ii:i" -> "(i32, i32) -> i32" for messages people read */
  size_t n = 0;
  n += (size_t)snprintf(out + n, cap - n, "(");
  bool first = true;
  for (const char *c = sig; *c && n < cap; c++) {
    if (*c == ':') {
      n += (size_t)snprintf(out + n, cap - n, ")%s", c[1] ? " -> " : "");
      first = true;
      continue;
    }
    const char *t = *c == 'i' ? "i32" : *c == 'I' ? "i64"
                  : *c == 'F' ? "f64" : *c == 'f' ? "f32" : "?";
    n += (size_t)snprintf(out + n, cap - n, "%s%s", first ? "" : ", ", t);
    first = false;
  }
}

static bool name_is(const wasm_name_t *n, const char *s) {
  size_t len = strlen(s);
  return n->size == len && !memcmp(n->data, s, len);
}

/* Whether extern type et is not a function of signature `want`; if so,
 * both are spelled out for the message (want_txt, got_txt: 80 bytes). */
static bool sig_differs(const wasm_externtype_t *et, const char *want,
                        char *want_txt, char *got_txt) {
  const wasm_functype_t *ft = wasm_externtype_as_functype_const(et);
  char got[32] = "";
  if (ft) sig_of(ft, got, sizeof got);
  if (ft && !strcmp(got, want)) return false;
  pretty(want, want_txt, 80);
  if (ft) pretty(got, got_txt, 80);
  else snprintf(got_txt, 80, "something that is not a function");
  return true;
}

static int check_exports(wasmtime_module_t *m, bool *has_initialize,
                         char *err, size_t errcap) {
  wasm_exporttype_vec_t ex;
  wasmtime_module_exports(m, &ex);
  int rc = 0;
  bool memory = false;
  for (size_t w = 0; w < sizeof exports / sizeof exports[0] && !rc; w++) {
    const want *x = &exports[w];
    bool found = false;
    for (size_t i = 0; i < ex.size && !found; i++) {
      if (!name_is(wasm_exporttype_name(ex.data[i]), x->name)) continue;
      found = true;
      char a[80], b[80];
      if (sig_differs(wasm_exporttype_type(ex.data[i]), x->sig, a, b)) {
        snprintf(err, errcap, "export %s has the wrong type: the ABI wants "
                 "a function %s, the module has %s", x->name, a, b);
        rc = PX_EINVAL;
      }
    }
    if (!found && !x->optional) {
      snprintf(err, errcap, "the module does not export %s (see "
               "docs/wasm-abi.md; build it with a plexspaces guest SDK)",
               x->name);
      rc = PX_EINVAL;
    }
  }
  for (size_t i = 0; i < ex.size; i++) {
    const wasm_name_t *n = wasm_exporttype_name(ex.data[i]);
    if (name_is(n, "_initialize")) *has_initialize = true;
    if (name_is(n, "memory") &&
        wasm_externtype_kind(wasm_exporttype_type(ex.data[i])) ==
            WASM_EXTERN_MEMORY)
      memory = true;
  }
  if (!rc && !memory) {
    snprintf(err, errcap, "the module does not export its memory as "
             "\"memory\"");
    rc = PX_EINVAL;
  }
  wasm_exporttype_vec_delete(&ex);
  return rc;
}

static int check_imports(wasmtime_module_t *m, bool *needs_wasi, char *err,
                         size_t errcap) {
  wasm_importtype_vec_t im;
  wasmtime_module_imports(m, &im);
  int rc = 0;
  for (size_t i = 0; i < im.size && !rc; i++) {
    const wasm_name_t *mod = wasm_importtype_module(im.data[i]);
    const wasm_name_t *name = wasm_importtype_name(im.data[i]);
    int ml = (int)mod->size, nl = (int)name->size;
    if (name_is(mod, "wasi_snapshot_preview1")) {
      /* the linker names any WASI function it lacks */
      if (!name_is(name, "fd_write")) *needs_wasi = true;
      continue;
    }
    if (!name_is(mod, "plexspaces")) {
      snprintf(err, errcap, "the module imports %.*s.%.*s: only "
               "\"plexspaces\" and \"wasi_snapshot_preview1\" functions "
               "are provided", ml, mod->data, nl, name->data);
      rc = PX_EINVAL;
      break;
    }
    const px__wasm_import *imp = px__wasm_import_find(name->data,
                                                      name->size);
    if (!imp) {
      snprintf(err, errcap, "the module imports plexspaces.%.*s, which ABI "
               "%d does not have (see docs/wasm-abi.md)", nl, name->data,
               PX__WASM_ABI_VERSION);
      rc = PX_EINVAL;
      break;
    }
    char a[80], b[80];
    if (sig_differs(wasm_importtype_type(im.data[i]), imp->sig, a, b)) {
      snprintf(err, errcap, "import plexspaces.%s has the wrong type: the "
               "host provides %s, the module expects %s", imp->name, a, b);
      rc = PX_EINVAL;
    }
  }
  wasm_importtype_vec_delete(&im);
  return rc;
}

/* ---- loading ------------------------------------------------------------- */

static int check_header(const unsigned char *b, size_t len, char *err,
                        size_t errcap) {
  if (!px__wasm_is_module(b, len)) {
    snprintf(err, errcap, "not a WebAssembly module (it does not start with "
             "the magic bytes \\0asm)");
    return PX_EINVAL;
  }
  if (len < 8 || b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0) {
    if (len >= 8 && b[6] == 1 && b[7] == 0)
      snprintf(err, errcap, "this is a WebAssembly component; the node runs "
               "core modules (docs/wasm-abi.md)");
    else
      snprintf(err, errcap, "unsupported WebAssembly binary version");
    return PX_EINVAL;
  }
  if (len > px__wasm.o.max_module_bytes) {
    snprintf(err, errcap, "the module is %zu bytes; this node accepts at "
             "most %zu ([wasm] max_module_bytes)", len,
             px__wasm.o.max_module_bytes);
    return PX_EINVAL;
  }
  return 0;
}

void px__wasm_module_free(px__wasm_module *m) {
  wasmtime_instance_pre_delete(m->pre);
  wasmtime_module_delete(m->module);
  free(m);
}

/* Asks a throwaway instance (a type without an actor_type: started,
 * asked, never given px_init) its ABI version. */
static int check_abi(px__wasm_module *mod, char *err, size_t errcap) {
  px__wasm_type probe = {.mod = mod};
  px__wasm_inst *in = NULL;
  px_val reason = px_nil();
  int rc = px__wasm_inst_new(&probe, px_nil(), &in, &reason);
  if (!rc) {
    px__wasm_inst_free(in);
    return 0;
  }
  char why[512] = "";
  if (!px_is_nil(reason)) px_val_format(reason, why, sizeof why);
  snprintf(err, errcap, "the module failed to start: %s",
           *why ? why : px_strerror(rc));
  px_val_release(reason);
  return PX_EINVAL;
}

static px__wasm_module *find_loaded(const char *hexsum) {
  for (px__wasm_module *m = px__wasm.modules; m; m = m->next)
    if (!strcmp(m->hex, hexsum)) return m;
  return NULL;
}

int px__wasm_module_load(const void *bytes, size_t len,
                         px__wasm_module **out, char *err, size_t errcap) {
  if (!px__wasm_running()) {
    snprintf(err, errcap, "this node runs without WebAssembly");
    return PX_ENOTSUP;
  }
  int rc = check_header(bytes, len, err, errcap);
  if (!rc) rc = px__wasm_tls_ready(err, errcap);
  if (rc) return rc;
  unsigned char sum[32];
  char hexsum[65];
  sha256(bytes, len, sum);
  hex(sum, 32, hexsum);
  pthread_mutex_lock(&px__wasm.mu);
  px__wasm_module *have = find_loaded(hexsum);
  pthread_mutex_unlock(&px__wasm.mu);
  if (have) {
    *out = have;
    return 0;
  }
  char path[4096] = "";
  wasmtime_module_t *m = NULL;
  if (px__wasm.o.cache_dir) {
    cache_path(hexsum, path, sizeof path);
    m = cache_load(path);
  }
  bool compiled = false;
  if (m)
    px_log(PX_LOG_INFO, "wasm", "module %.12s: compiled code loaded from the "
           "cache", hexsum);
  if (!m) {
    uint64_t t0 = px_now_ns();
    wasmtime_error_t *e = wasmtime_module_validate(px__wasm.engine, bytes,
                                                   len);
    if (!e) e = wasmtime_module_new(px__wasm.engine, bytes, len, &m);
    if (e) {
      char *s = px__wasm_error_text(e);
      snprintf(err, errcap, "the module is not valid WebAssembly: %s",
               s ? s : "?");
      free(s);
      return PX_EINVAL;
    }
    compiled = true;
    px_log(PX_LOG_INFO, "wasm", "module %.12s: %zu bytes compiled in %.0f ms",
           hexsum, len, (double)(px_now_ns() - t0) / 1e6);
  }
  bool has_initialize = false, needs_wasi = false;
  if ((rc = check_exports(m, &has_initialize, err, errcap)) ||
      (rc = check_imports(m, &needs_wasi, err, errcap))) {
    wasmtime_module_delete(m);
    return rc;
  }
  wasmtime_instance_pre_t *pre = NULL;
  wasmtime_error_t *e =
      wasmtime_linker_instantiate_pre(px__wasm.linker, m, &pre);
  if (e) {
    char *s = px__wasm_error_text(e);
    snprintf(err, errcap, "the module cannot be linked: %s", s ? s : "?");
    free(s);
    wasmtime_module_delete(m);
    return PX_EINVAL;
  }
  px__wasm_module *mod = calloc(1, sizeof *mod);
  if (!mod) {
    wasmtime_instance_pre_delete(pre);
    wasmtime_module_delete(m);
    return PX_ENOMEM;
  }
  memcpy(mod->hex, hexsum, sizeof mod->hex);
  mod->module = m;
  mod->pre = pre;
  mod->has_initialize = has_initialize;
  mod->needs_wasi = needs_wasi;
  /* A module reloaded from the cache passed this when it was compiled
   * (it is kept only then), so only a fresh compile is asked. */
  if (compiled && (rc = check_abi(mod, err, errcap))) {
    px__wasm_module_free(mod);
    return rc;
  }
  if (compiled && px__wasm.o.cache_dir) cache_store(path, m);
  pthread_mutex_lock(&px__wasm.mu);
  if ((have = find_loaded(hexsum))) { /* a concurrent deploy won */
    pthread_mutex_unlock(&px__wasm.mu);
    px__wasm_module_free(mod);
    *out = have;
    return 0;
  }
  mod->next = px__wasm.modules;
  px__wasm.modules = mod;
  pthread_mutex_unlock(&px__wasm.mu);
  *out = mod;
  return 0;
}
