/* Supervisor reports (R-C-9 "logged", R-C-20 shutdown_error, L-19's
 * distinct reached_max_restart_intensity). They go to one replaceable
 * sink so that tests and applications can observe them as data; by
 * default they are logged. */
#include <pthread.h>
#include <stdio.h>

#include "plexspaces/core.h"
#include "supervise/sup.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static px_sup_report_fn sink;
static void *sink_ud;

void px_sup_set_reporter(px_sup_report_fn fn, void *ud) {
  pthread_mutex_lock(&lock);
  sink = fn;
  sink_ud = ud;
  pthread_mutex_unlock(&lock);
}

static const char *const kind_names[] = {
    [PX_SUP_REPORT_CHILD_TERMINATED] = "child_terminated",
    [PX_SUP_REPORT_START_ERROR] = "start_error",
    [PX_SUP_REPORT_SHUTDOWN_ERROR] = "shutdown_error",
    [PX_SUP_REPORT_MAX_INTENSITY] = "reached_max_restart_intensity",
    [PX_SUP_REPORT_AUTO_SHUTDOWN] = "auto_shutdown",
};

void px__sup_report(px_sup_report_kind kind, px_ref sup,
                    const px__sup_child *child, px_val reason) {
  px_sup_report r = {kind, kind_names[kind], sup,
                     child ? child->id : "",
                     child ? child->ref : px_ref_nil(), reason};
  /* Read the sink under the lock but call it outside, so a sink may
   * itself replace the reporter. */
  pthread_mutex_lock(&lock);
  px_sup_report_fn fn = sink;
  void *ud = sink_ud;
  pthread_mutex_unlock(&lock);
  if (fn) {
    fn(&r, ud);
    return;
  }
  char sb[48], cb[48], rb[256];
  px_ref_format(sup, sb, sizeof sb);
  px_ref_format(r.child, cb, sizeof cb);
  px_val_format(reason, rb, sizeof rb);
  px_log(PX_LOG_ERROR, "supervise", "%s: supervisor %s child '%s' %s: %s",
         r.kind_name, sb, r.child_id, cb, rb);
}
