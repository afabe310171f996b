/* px_metrics_render: the registry, the runtime's families and the extra
 * collectors, one render at a time (the render lock also lets
 * px_metrics_remove_collector promise that fn is no longer running). */
#include <pthread.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "plexspaces/error.h"

#define MAX_COLLECTORS 64

typedef struct collector {
  px_metrics_collector fn;
  void *ud;
} collector;

static pthread_mutex_t render_mu = PTHREAD_MUTEX_INITIALIZER;
static collector collectors[MAX_COLLECTORS];
static int ncollectors;

int px_metrics_add_collector(px_metrics_collector fn, void *ud) {
  if (!fn) return PX_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&render_mu);
  for (int i = 0; i < ncollectors; i++)
    if (collectors[i].fn == fn && collectors[i].ud == ud) rc = PX_EEXIST;
  if (!rc && ncollectors == MAX_COLLECTORS) rc = PX_ERANGE;
  if (!rc) collectors[ncollectors++] = (collector){fn, ud};
  pthread_mutex_unlock(&render_mu);
  return rc;
}

int px_metrics_remove_collector(px_metrics_collector fn, void *ud) {
  int rc = PX_ENOTFOUND;
  pthread_mutex_lock(&render_mu);
  for (int i = 0; i < ncollectors; i++)
    if (collectors[i].fn == fn && collectors[i].ud == ud) {
      /* Keep the order: of two collectors writing one series, the
       * earlier one wins. */
      memmove(&collectors[i], &collectors[i + 1],
              (size_t)(ncollectors - i - 1) * sizeof *collectors);
      ncollectors--;
      rc = 0;
      break;
    }
  pthread_mutex_unlock(&render_mu);
  return rc;
}

int px_metrics_render(char **out, size_t *len) {
  if (!out) return PX_EINVAL;
  pthread_mutex_lock(&render_mu);
  px_metrics_writer *w = px__metrics_writer_new();
  px__metrics_registry_collect(w);
  px__metrics_runtime_collect(w);
  for (int i = 0; i < ncollectors; i++) collectors[i].fn(collectors[i].ud, w);
  *out = px__metrics_writer_finish(w, len);
  pthread_mutex_unlock(&render_mu);
  return 0;
}
