/* The apps' families in /metrics, computed at render time from the app
 * list: deployed apps by tenant and status, and the live activations of
 * every app's virtual types (labelled with the app's own type name, not
 * the qualified name the runtime registers). */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "plexspaces/metrics.h"
#include "plexspaces/virtual.h"

static void collect(void *ud, px_metrics_writer *w) {
  px_apps *a = ud;
  pthread_rwlock_rdlock(&a->lock);
  px_metrics_family(w, "plexspaces_apps_deployed",
                    "Deployed applications by tenant and status",
                    PX_METRIC_GAUGE);
  for (px__app *app = a->head; app; app = app->next) {
    /* One sample per (tenant, status): count the ones written before. */
    bool seen = false;
    for (px__app *p = a->head; p != app && !seen; p = p->next)
      seen = strcmp(p->tenant, app->tenant) == 0 && p->status == app->status;
    if (seen) continue;
    double n = 0;
    for (px__app *p = app; p; p = p->next)
      n += strcmp(p->tenant, app->tenant) == 0 && p->status == app->status;
    px_metrics_sample(w,
                      (const char *[]){"tenant", app->tenant, "status",
                                       px__app_status_name(app->status), NULL},
                      n);
  }
  px_metrics_family(w, "plexspaces_virtual_actors_active",
                    "Live activations of each app's virtual actor types",
                    PX_METRIC_GAUGE);
  for (px__app *app = a->head; app; app = app->next)
    for (size_t i = 0; i < app->nkids; i++) {
      const px__app_kid *k = &app->kids[i];
      if (k->supervised || !k->registered || k->ent->kind == PX_APP_WORKFLOW)
        continue;
      px_metrics_sample(
          w,
          (const char *[]){"tenant", app->tenant, "namespace", app->id,
                           "actor_type", k->cfg->actor_type, NULL},
          (double)px_virtual_active_count(k->qname));
    }
  pthread_rwlock_unlock(&a->lock);
}

void px__apps_metrics_start(px_apps *a) {
  px_metrics_add_collector(collect, a);
}

void px__apps_metrics_stop(px_apps *a) {
  px_metrics_remove_collector(collect, a);
}
