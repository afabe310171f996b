/* The demo app: a C app library the node deploys with app-config.toml
 * (`make run`), and the fixture of the app and HTTP tests.
 *
 *   counter         GenServer: inc, add {n}, get -> {"value": N}; args
 *                   start (first value), fail_init (refuse to start)
 *   greeter         plain actor: hello {name} -> {"greeting": "hello, NAME"};
 *                   slow {ms, mark} writes ("slow_started", mark) to the
 *                   "events" space when mark is given, sleeps ms, then
 *                   answers {"slept": ms} (for timeout and shutdown tests)
 *   flaky           plain actor: crash -> exits (the supervisor restarts
 *                   it), ping -> {"pong": true}
 *   registry_agent  plain actor: at init writes ("agent", name, role) into
 *                   the "agents" tuple space of its tenant/namespace (if
 *                   absent); whoami -> {name, role, tenant, namespace}
 *   account         plain actor, virtual and durable (state mode):
 *                   deposit {amount}, balance -> {"balance": N}
 *   order           workflow: steps reserve, charge, then waits for the
 *                   signal "approve", then ship; query "progress"
 *   turnstile       GenFSM (locked/unlocked): coin, push, state ->
 *                   {"state": S}
 *   audit           GenEvent manager with a handler counting the events
 *
 * Message types are atoms named by the op; payloads are maps (decoded
 * JSON). Built with -shared -fPIC and not linked with libplexspaces: the
 * node provides the px_* symbols. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/px.h"

PX_APP_EXPORT const uint32_t px_app_abi_version = PX_APP_ABI_VERSION;

static int64_t int_field(px_val map, const char *key, int64_t dflt) {
  px_val v = px_gets(map, key);
  return px_typeof(v) == PX_T_INT ? v.u.i : dflt;
}

static const char *str_field(px_val map, const char *key, const char *dflt) {
  const char *s = px_str_ptr(px_gets(map, key));
  return s ? s : dflt;
}

static bool is_op(px_atom type, const char *op) {
  return !strcmp(px_atom_name(type), op);
}

/* ---- counter: GenServer ---------------------------------------------------- */

static px_gs_result counter_init(px_val args, void **state, px_gs_out *out) {
  /* args.fail_init: a start that fails, for the tests. */
  if (px_typeof(px_gets(args, "fail_init")) == PX_T_BOOL &&
      px_gets(args, "fail_init").u.b)
    return px_gs_stop(out, px_str("init refused"));
  int64_t *n = malloc(sizeof *n);
  if (!n) return px_gs_stop(out, px_atom_val("enomem"));
  *n = int_field(args, "start", 0);
  *state = n;
  return PX_GS_OK;
}

static px_gs_result counter_call(void *state, px_atom type, px_val payload,
                                 px_from from, px_gs_out *out) {
  int64_t *n = state;
  if (is_op(type, "inc")) (*n)++;
  else if (is_op(type, "add")) *n += int_field(payload, "n", 0);
  else if (!is_op(type, "get"))
    return px_gs_error(out, px_strf("unknown op %s", px_atom_name(type)));
  return px_gs_reply(out, px_map(1, px_str("value"), px_int(*n)));
}

/* A tell (HTTP POST) is an info: inc and add work as tells too. */
static px_gs_result counter_info(void *state, px_atom type, px_val payload,
                                 px_gs_out *out) {
  int64_t *n = state;
  if (is_op(type, "inc")) (*n)++;
  else if (is_op(type, "add")) *n += int_field(payload, "n", 0);
  return PX_GS_OK;
}

static const px_gen_server counter = {
    .name = "counter",
    .init = counter_init,
    .handle_call = counter_call,
    .handle_info = counter_info,
    .free_state = free,
};

/* Opens a space of the caller's tenant/namespace as the node's HTTP layer
 * does: durable when the node has a store, else in memory; whichever kind
 * it already has. */
static int open_space(const char *name, px_space **out) {
  int rc = px_space_open(px_self_tenant(), px_self_namespace(), name,
                         PX_SPACE_DURABLE, out);
  if (rc == PX_ENOTSUP || rc == PX_EEXIST)
    rc = px_space_open(px_self_tenant(), px_self_namespace(), name,
                       PX_SPACE_MEMORY, out);
  return rc;
}

/* ---- greeter: plain actor ---------------------------------------------------- */

typedef struct greeter_state {
  px_space *events; /* opened on the first slow with a mark; held so a
                       memory space keeps its tuples */
} greeter_state;

static int greeter_init(px_val args, void **state) {
  *state = calloc(1, sizeof(greeter_state));
  return *state ? 0 : PX_ENOMEM;
}

static void greeter_slow(greeter_state *g, const px_message *m) {
  int64_t ms = int_field(m->payload, "ms", 0);
  const char *mark = px_str_ptr(px_gets(m->payload, "mark"));
  if (mark && (g->events || open_space("events", &g->events) == 0))
    px_ts_write(g->events, px_arr(2, px_str("slow_started"), px_str(mark)),
                0, NULL);
  if (ms > 0) px_sleep(ms);
  if (m->corr) px_reply(m, px_map(1, px_str("slept"), px_int(ms)));
}

static void greeter_handle(void *state, const px_message *m) {
  if (is_op(m->type, "slow"))
    greeter_slow(state, m);
  else if (m->corr && is_op(m->type, "hello"))
    px_reply(m, px_map(1, px_str("greeting"),
                       px_strf("hello, %s",
                               str_field(m->payload, "name", "world"))));
  else if (m->corr)
    px_reply_error(m, px_strf("unknown op %s", px_atom_name(m->type)));
}

static void greeter_terminate(void *state, px_val reason) {
  greeter_state *g = state;
  if (g && g->events) px_space_close(g->events);
  free(g);
}

static const px_actor_type greeter = {.name = "greeter",
                                      .init = greeter_init,
                                      .handle = greeter_handle,
                                      .terminate = greeter_terminate};

/* ---- flaky: crashes on demand ------------------------------------------------ */

static void flaky_handle(void *state, const px_message *m) {
  if (is_op(m->type, "crash")) px_exit_self(px_atom_val("boom"));
  if (m->corr) px_reply(m, px_map(1, px_str("pong"), px_bool(true)));
}

static const px_actor_type flaky = {.name = "flaky", .handle = flaky_handle};

/* ---- registry_agent: announces itself in the tuple space ------------------- */

typedef struct agent {
  char name[64], role[64];
  px_space *space; /* held while the agent lives: a memory space lasts as
                      long as someone has it open */
} agent;

static int agent_init(px_val args, void **state) {
  agent *a = calloc(1, sizeof *a);
  if (!a) return PX_ENOMEM;
  snprintf(a->name, sizeof a->name, "%s", str_field(args, "name", "agent"));
  snprintf(a->role, sizeof a->role, "%s", str_field(args, "role", "worker"));
  *state = a;
  int rc = open_space("agents", &a->space);
  if (rc) return rc;
  /* A restart finds its own entry already there: that is fine. */
  rc = px_ts_write_if_absent(
      a->space, px_arr(3, px_str("agent"), px_str(a->name), px_nil()),
      px_arr(3, px_str("agent"), px_str(a->name), px_str(a->role)), 0);
  return rc == PX_EEXIST ? 0 : rc;
}

static void agent_handle(void *state, const px_message *m) {
  agent *a = state;
  if (m->corr && is_op(m->type, "whoami"))
    px_reply(m, px_map(4, px_str("name"), px_str(a->name), px_str("role"),
                       px_str(a->role), px_str("tenant"),
                       px_str(px_self_tenant() ? px_self_tenant() : ""),
                       px_str("namespace"),
                       px_str(px_self_namespace() ? px_self_namespace()
                                                  : "")));
  else if (m->corr)
    px_reply_error(m, px_strf("unknown op %s", px_atom_name(m->type)));
}

static void agent_terminate(void *state, px_val reason) {
  agent *a = state;
  if (a && a->space) px_space_close(a->space);
  free(a);
}

static void free_state(void *state, px_val reason) { free(state); }

static const px_actor_type registry_agent = {.name = "registry_agent",
                                             .init = agent_init,
                                             .handle = agent_handle,
                                             .terminate = agent_terminate};

/* ---- account: virtual, durable ---------------------------------------------- */

static int account_init(px_val args, void **state) {
  int64_t *b = calloc(1, sizeof *b);
  if (!b) return PX_ENOMEM;
  *state = b;
  return 0;
}

static void account_handle(void *state, const px_message *m) {
  int64_t *b = state;
  if (is_op(m->type, "deposit")) *b += int_field(m->payload, "amount", 0);
  else if (!is_op(m->type, "balance")) {
    if (m->corr)
      px_reply_error(m, px_strf("unknown op %s", px_atom_name(m->type)));
    return;
  }
  if (m->corr) px_reply(m, px_map(1, px_str("balance"), px_int(*b)));
}

static px_val account_encode(const void *state) {
  return px_int(*(const int64_t *)state);
}

static int account_decode(px_val saved, void *state) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  *(int64_t *)state = saved.u.i;
  return 0;
}

static const px_actor_type account = {.name = "account",
                                      .init = account_init,
                                      .handle = account_handle,
                                      .terminate = free_state};

/* ---- order: workflow -------------------------------------------------------- */

static int step_reserve(px_wf *wf, void *ud, px_val *out) {
  *out = px_str("reserved");
  return 0;
}

static int step_charge(px_wf *wf, void *ud, px_val *out) {
  *out = px_int(4200);
  return 0;
}

static int step_ship(px_wf *wf, void *ud, px_val *out) {
  *out = px_strf("parcel for %s", px_wf_id(wf));
  return 0;
}

/* The stage is kept as the execution's state pointer (an index + 1, not
 * an allocation: a run parked when the node stops is abandoned where it
 * is, so it must own no memory). */
static const char *const stages[] = {"reserving", "charging",
                                     "awaiting_approval", "shipping"};

static void set_stage(px_wf *wf, intptr_t i) {
  px_wf_set_state(wf, (void *)(i + 1));
}

static int order_run(px_wf *wf, px_val input, px_val *result) {
  set_stage(wf, 0);
  int rc = px_step(wf, "reserve", step_reserve, NULL, NULL, NULL);
  if (!rc) {
    set_stage(wf, 1);
    rc = px_step(wf, "charge", step_charge, NULL, NULL, NULL);
  }
  if (!rc) {
    set_stage(wf, 2);
    rc = px_wf_signal_recv(wf, "approve", -1, NULL, NULL);
  }
  px_val parcel = px_nil();
  if (!rc) {
    set_stage(wf, 3);
    rc = px_step(wf, "ship", step_ship, NULL, NULL, &parcel);
  }
  if (!rc) *result = px_map(1, px_str("shipped"), px_val_retain(parcel));
  return rc;
}

static int order_query(px_wf *wf, const char *name, px_val args,
                       px_val *out) {
  if (strcmp(name, "progress")) return PX_ENOTFOUND;
  intptr_t i = (intptr_t)px_wf_state(wf);
  *out = px_map(1, px_str("stage"), px_str(i ? stages[i - 1] : "starting"));
  return 0;
}

static const px_workflow_type order = {
    .name = "order", .run = order_run, .query = order_query};

/* ---- turnstile: GenFSM ------------------------------------------------------ */

static px_fsm_result turnstile_init(px_val args, void **data, px_fsm_tx *tx) {
  *data = NULL;
  return px_fsm_next(tx, px_atom_of("locked"));
}

static px_fsm_result turnstile_event(void *data, px_atom state,
                                     const px_fsm_event *ev, px_fsm_tx *tx) {
  if (ev->kind != PX_FSM_CALL && ev->kind != PX_FSM_INFO) return PX_FSM_KEEP;
  px_atom next = state;
  if (is_op(ev->type, "coin")) next = px_atom_of("unlocked");
  else if (is_op(ev->type, "push")) next = px_atom_of("locked");
  else if (!is_op(ev->type, "state") && ev->kind == PX_FSM_CALL)
    return px_fsm_error(tx, px_strf("unknown op %s", px_atom_name(ev->type)));
  if (ev->kind == PX_FSM_CALL)
    px_fsm_reply(tx, ev->from,
                 px_map(1, px_str("state"), px_str(px_atom_name(next))));
  return px_fsm_next(tx, next);
}

static const px_gen_fsm turnstile = {.name = "turnstile",
                                     .init = turnstile_init,
                                     .handle_event = turnstile_event};

/* ---- audit: GenEvent -------------------------------------------------------- */

static px_ev_result audit_init(px_val args, void **state, px_val *err) {
  int64_t *n = calloc(1, sizeof *n);
  if (!n) {
    *err = px_atom_val("enomem");
    return PX_EV_ERROR;
  }
  *state = n;
  return PX_EV_OK;
}

static px_ev_result audit_event(void *state, px_atom type, px_val payload,
                                px_val *err) {
  (*(int64_t *)state)++;
  return PX_EV_OK;
}

static const px_event_handler audit = {.name = "audit",
                                       .init = audit_init,
                                       .handle_event = audit_event,
                                       .free_state = free};

/* ---- the entry point ------------------------------------------------------ */

PX_APP_EXPORT int px_app_init(px_app_registry *r) {
  int rc = px_app_register_gen_server(r, "counter", &counter);
  if (!rc) rc = px_app_register_actor(r, "greeter", &greeter);
  if (!rc) rc = px_app_register_actor(r, "flaky", &flaky);
  if (!rc) rc = px_app_register_actor(r, "registry_agent", &registry_agent);
  if (!rc) rc = px_app_register_actor(r, "account", &account);
  if (!rc)
    rc = px_app_register_codec(r, "account", account_encode, account_decode);
  if (!rc) rc = px_app_register_workflow(r, &order);
  if (!rc) rc = px_app_register_gen_fsm(r, "turnstile", &turnstile);
  if (!rc) rc = px_app_register_gen_event(r, "audit", &audit);
  return rc;
}
