/* Loading app libraries. A loader turns library bytes into a filled
 * registry; the C loader below dlopens a shared object, the WebAssembly
 * loader hands a module to the WASM host (src/wasm).
 *
 * The bytes are first written to <libdir>/<sha256>.so, named by content:
 * dlopen caches handles by path, so a changed library must get a new path
 * to be loaded afresh, and an unchanged one loaded again reuses its
 * handle. Libraries are never dlclosed: after an undeploy, code of the old
 * version may still be on a stack (a terminate running, a workflow parked
 * in a step), and an actor type's callbacks must outlive the runtime. */
/* Messages and paths are cut at their buffer's size on purpose (a path too
 * long is caught where it is used). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/error.h"
#ifndef PX_HAVE_WASM
#define PX_HAVE_WASM 0
#endif
#if PX_HAVE_WASM
#include "wasm/wasm.h"
#endif

/* ---- files ------------------------------------------------------------- */

int px__app_write_file(const char *path, const void *data, size_t len) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return PX_EIO;
  const char *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      close(fd);
      unlink(tmp);
      return PX_EIO;
    }
    p += w;
    len -= (size_t)w;
  }
  /* Written in full and synced before the rename: a crash leaves the old
   * file or the new one, never half of one. */
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
    unlink(tmp);
    return PX_EIO;
  }
  return 0;
}

int px__app_read_file(const char *path, char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? PX_ENOTFOUND : PX_EIO;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (n < cap) break;
    char *nb = realloc(buf, cap * 2 + 1);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  bool bad = ferror(f) || !buf;
  fclose(f);
  if (bad) {
    free(buf);
    return PX_EIO;
  }
  buf[n] = 0;
  *data = buf;
  *len = n;
  return 0;
}

int px__app_lib_store(const char *libdir, const void *bytes, size_t len,
                      const char *ext, char *path, size_t cap, char *err,
                      size_t errcap) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (!EVP_Digest(bytes, len, md, &mdlen, EVP_sha256(), NULL)) {
    snprintf(err, errcap, "cannot hash the library");
    return PX_EIO;
  }
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned i = 0; i < mdlen; i++) sprintf(hex + 2 * i, "%02x", md[i]);
  if ((size_t)snprintf(path, cap, "%s/%s.%s", libdir, hex, ext) >= cap) {
    snprintf(err, errcap, "data directory path too long");
    return PX_EIO;
  }
  struct stat st;
  if (stat(path, &st) == 0 && (size_t)st.st_size == len) return 0;
  if (px__app_write_file(path, bytes, len) != 0) {
    snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
    return PX_EIO;
  }
  return 0;
}

/* ---- the C loader -------------------------------------------------------- */

static bool elf_accepts(const void *bytes, size_t len) {
  return len >= 4 && !memcmp(bytes, "\x7f" "ELF", 4);
}

static int elf_load(const char *path, const px__app_config *cfg,
                    px_app_registry *r, char *err, size_t errcap) {
  (void)cfg; /* the library registers its types itself */
  /* RTLD_NOW: a missing px_* symbol is reported here, not as a crash at
   * the first call. RTLD_LOCAL: two apps may define the same symbols. */
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(err, errcap, "cannot load the library: %s", e ? e : "?");
    return PX_EINVAL;
  }
  const uint32_t *abi = dlsym(h, "px_app_abi_version");
  if (!abi) {
    snprintf(err, errcap,
             "the library does not export px_app_abi_version (build it "
             "against include/plexspaces/app.h, ABI %u)",
             PX_APP_ABI_VERSION);
    return PX_EINVAL;
  }
  if (*abi != PX_APP_ABI_VERSION) {
    snprintf(err, errcap,
             "the library was built for app ABI %u, this node speaks ABI %u",
             *abi, PX_APP_ABI_VERSION);
    return PX_EINVAL;
  }
  px_app_init_fn init;
  /* The ISO C way to turn dlsym's object pointer into a function. */
  void *sym = dlsym(h, "px_app_init");
  memcpy(&init, &sym, sizeof init);
  if (!init) {
    snprintf(err, errcap, "the library does not export px_app_init");
    return PX_EINVAL;
  }
  int rc = init(r);
  if (r->rc) {
    snprintf(err, errcap, "px_app_init: %s", r->err);
    return PX_EINVAL;
  }
  if (rc) {
    snprintf(err, errcap, "px_app_init failed: %s", px_err_name(rc));
    return PX_EINVAL;
  }
  return 0;
}

/* ---- the WebAssembly loader ---------------------------------------------- */

#if PX_HAVE_WASM
/* Every child of the config becomes a WASM GenServer of the module, run
 * as its role; the module itself is compiled (or reloaded compiled) and
 * checked by the WASM host. */
static int wasm_load(const char *path, const px__app_config *cfg,
                     px_app_registry *r, char *err, size_t errcap) {
  char *bytes;
  size_t len;
  if (px__app_read_file(path, &bytes, &len)) {
    snprintf(err, errcap, "cannot read %s", path);
    return PX_EIO;
  }
  px__wasm_module *m;
  int rc = px__wasm_module_load(bytes, len, &m, err, errcap);
  free(bytes);
  if (rc) return rc;
  px__wasm_link *links = calloc(cfg->nlinks ? cfg->nlinks : 1,
                                sizeof *links);
  if (!links) return PX_ENOMEM;
  for (size_t i = 0; i < cfg->nlinks; i++) {
    const px__app_link *l = &cfg->links[i];
    links[i] = (px__wasm_link){.name = l->name,
                               .base_url = l->base_url,
                               .timeout_ms = l->timeout_secs * 1000,
                               .max_attempts = l->max_attempts,
                               .initial_delay_ms = l->initial_delay_ms};
  }
  for (size_t i = 0; i < cfg->nchildren && !rc; i++) {
    const px__app_child *c = &cfg->children[i];
    if (c->behavior && c->behavior != PX_APP_GEN_SERVER) {
      snprintf(err, errcap, "child %s: WASM actors are GenServers; "
               "behavior_kind %s is not available to them", c->name,
               px__app_kind_name(c->behavior));
      rc = PX_EINVAL;
      break;
    }
    if (px__app_registry_find(r, c->actor_type)) continue;
    const px_gen_server *gs = px__wasm_actor_type(
        m, c->actor_type, c->role, cfg->nlinks ? links : NULL, cfg->nlinks);
    if (!gs) rc = PX_ENOMEM;
    if (!rc) rc = px_app_register_gen_server(r, c->actor_type, gs);
    if (!rc)
      rc = px_app_register_codec(r, c->actor_type, px__wasm_encode_state,
                                 px__wasm_decode_state);
    if (rc && !*err)
      snprintf(err, errcap, "child %s: %s", c->name, r->err[0] ? r->err
                                                   : px_strerror(rc));
  }
  free(links); /* the types keep copies */
  return rc;
}
#endif

static const px__app_loader loaders[] = {
    {.kind = "c", .ext = "so", .accepts = elf_accepts, .load = elf_load},
#if PX_HAVE_WASM
    {.kind = "wasm", .ext = "wasm", .accepts = px__wasm_is_module,
     .load = wasm_load},
#endif
};

const px__app_loader *px__app_loader_for(const void *bytes, size_t len,
                                         char *err, size_t errcap) {
  for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++)
    if (loaders[i].accepts(bytes, len)) return &loaders[i];
  snprintf(err, errcap,
           "the app library is neither an ELF shared object (a C app built "
           "with -shared -fPIC) nor a WebAssembly module%s",
           PX_HAVE_WASM ? "" : " (this node is built without WebAssembly)");
  return NULL;
}
