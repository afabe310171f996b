// The plexspaces WASM example app in AssemblyScript: one module, three roles
// ("counter", "agent", "crasher"), the same protocol as the C and Go
// examples so one test suite drives all three. Built by build.sh.
//
// Error replies are {"error": NAME}, NAME a status name ("not_found",
// "timeout", "no_proc", ...) or "invalid" for a payload without the fields
// a message needs; the handler then returns 1 (error).

import {
  Actor, Message, Value, actorType,
  HANDLED, ERR_CONFLICT, ERR_NOT_FOUND, ERR_TIMEOUT, LOG_INFO, LOG_WARN,
  selfId, spawn, ask, askRaw, sleep, log, nowMs, random, metricsAdd,
  kvIncrement, kvPut, kvGet, tsWriteIfAbsent, tsReplace, tsRead, httpFetch,
  Result, statusName,
} from "@plexspaces/sdk-as";

// The ABI exports (px_init, px_handle, ...).
export * from "@plexspaces/sdk-as/exports";

// ---- WASI stdout ---------------------------------------------------------------

@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: i32, iovs: usize, iovsLen: i32, nwritten: usize): i32;

// One iovec (ptr, len) and the count fd_write writes back.
const IOVEC: usize = memory.data(8, 4);
const NWRITTEN: usize = memory.data(4, 4);

/** Writes `s` and a newline to stdout (fd 1). */
function printStdout(s: string): void {
  const b = String.UTF8.encode(s + "\n");
  store<u32>(IOVEC, <u32>changetype<usize>(b));
  store<u32>(IOVEC, <u32>b.byteLength, 4);
  fd_write(1, IOVEC, 1, NWRITTEN);
}

// ---- role "counter" ------------------------------------------------------------

class Counter extends Actor {
  count: i64 = 0;

  init(args: Value): i32 {
    this.count = args.getInt("start", 0);
    return 0;
  }

  getState(): Value | null {
    return countReply(this.count);
  }

  setState(state: Value): i32 {
    const c = state.get("count");
    if (!c || !c.isInt) return -4; // ERR_INVALID
    this.count = c.asInt();
    return 0;
  }
}

function countReply(n: i64): Value {
  return Value.map().setInt("count", n);
}

actorType("counter", (): Actor => new Counter())
  .call("add", (self: Actor, m: Message): i32 => {
    const c = self as Counter;
    const n = m.payload.get("n");
    if (!n || !n.isInt) return m.error("invalid");
    c.count += n.asInt();
    return m.reply(countReply(c.count));
  })
  .cast("add", (self: Actor, m: Message): i32 => {
    const c = self as Counter;
    c.count += m.payload.getInt("n", 0);
    return HANDLED;
  })
  .call("get", (self: Actor, m: Message): i32 => m.reply(countReply((self as Counter).count)));

// ---- role "agent" --------------------------------------------------------------

class Agent extends Actor {
  name: string = "agent";
  me: string = "";

  init(args: Value): i32 {
    this.name = args.getStr("name", "agent");
    const id = selfId();
    this.me = id.ok ? id.value : this.id;
    const tmpl = agentTemplate(this.name);
    const tuple = Value.array().push(Value.str("agent")).push(Value.str(this.name)).push(Value.str(this.me));
    const st = tsWriteIfAbsent(tmpl, tuple, 0);
    if (st.code == ERR_CONFLICT) {
      // Registered by a previous incarnation: point the entry at this one.
      const r = tsReplace(tmpl, tuple, 0);
      if (!r.ok) log(LOG_WARN, "agent " + this.name + ": ts_replace failed: " + r.name);
    } else if (!st.ok) {
      log(LOG_WARN, "agent " + this.name + ": ts_write_if_absent failed: " + st.name);
    }
    return 0;
  }
}

function agentTemplate(name: string): Value {
  return Value.array().push(Value.str("agent")).push(Value.str(name)).push(Value.nil());
}

/** The id an agent registered under `name`; ERR_NOT_FOUND when none. */
function lookupAgent(name: string): Result<string> {
  const r = tsRead(agentTemplate(name), 0);
  if (!r.ok) {
    // Nothing matching with timeout 0 may come back as either status.
    const code = r.code == ERR_TIMEOUT ? ERR_NOT_FOUND : r.code;
    return new Result<string>(code, "");
  }
  const id = r.value.at(2);
  if (!id || !id.isStr) return new Result<string>(ERR_NOT_FOUND, "");
  return new Result<string>(0, id.asStr());
}

/** ask `id` and reply {"reply": <its reply>}, or fail {"error": <status name>}. */
function askAndReply(m: Message, id: string, type: string, payload: Value | null): i32 {
  const p = payload ? payload.encode() : Value.nil().encode();
  const r = askRaw(id, type, p, 2000);
  if (!r.ok) return m.error(statusName(r.code));
  // The peer's reply goes back as it was encoded.
  return m.reply(Value.map().set("reply", Value.raw(r.value)));
}

/** The string field `key` of the payload, or null when missing. */
function field(m: Message, key: string): string | null {
  const v = m.payload.get(key);
  return v && v.isStr ? v.asStr() : null;
}

function okReply(): Value {
  return Value.map().setBool("ok", true);
}

actorType("agent", (): Actor => new Agent())
  .call("whoami", (self: Actor, m: Message): i32 => {
    const a = self as Agent;
    return m.reply(Value.map().setStr("name", a.name).setStr("id", a.me));
  })
  .call("lookup", (self: Actor, m: Message): i32 => {
    const name = field(m, "name");
    if (name === null) return m.error("invalid");
    const r = lookupAgent(name);
    if (!r.ok) return m.error(r.name);
    return m.reply(Value.map().setStr("id", r.value));
  })
  .call("ask_peer", (self: Actor, m: Message): i32 => {
    const name = field(m, "name");
    const type = field(m, "type");
    if (name === null || type === null) return m.error("invalid");
    const r = lookupAgent(name);
    if (!r.ok) return m.error(r.name);
    return askAndReply(m, r.value, type, m.payload.get("payload"));
  })
  .call("ask_id", (self: Actor, m: Message): i32 => {
    const id = field(m, "id");
    const type = field(m, "type");
    if (id === null || type === null) return m.error("invalid");
    return askAndReply(m, id, type, m.payload.get("payload"));
  })
  .call("spawn_counter", (self: Actor, m: Message): i32 => {
    const r = spawn("counter", Value.map().setInt("start", 100));
    if (!r.ok) return m.error(r.name);
    return m.reply(Value.map().setStr("id", r.value));
  })
  .call("kv_incr", (self: Actor, m: Message): i32 => {
    const key = field(m, "key");
    if (key === null) return m.error("invalid");
    const r = kvIncrement(key, m.payload.getInt("by", 1));
    if (!r.ok) return m.error(r.name);
    return m.reply(Value.map().setInt("value", r.value));
  })
  .call("kv_put", (self: Actor, m: Message): i32 => {
    const key = field(m, "key");
    if (key === null) return m.error("invalid");
    let v = m.payload.get("value");
    if (!v) v = Value.nil();
    const st = kvPut(key, v, 0);
    if (!st.ok) return m.error(st.name);
    return m.reply(okReply());
  })
  .call("kv_get", (self: Actor, m: Message): i32 => {
    const key = field(m, "key");
    if (key === null) return m.error("invalid");
    const r = kvGet(key);
    if (!r.ok) return m.error(r.name);
    return m.reply(Value.map().set("value", r.value));
  })
  .call("sleep", (self: Actor, m: Message): i32 => {
    const ms = m.payload.getInt("ms", 0);
    const st = sleep(ms);
    if (!st.ok) return m.error(st.name);
    return m.reply(Value.map().setInt("slept", ms));
  })
  .call("echo", (self: Actor, m: Message): i32 => m.replyRaw(m.raw))
  .call("info", (self: Actor, m: Message): i32 => {
    const r = random(16);
    if (!r.ok) return m.error(r.name);
    return m.reply(Value.map().setInt("now_ms", nowMs()).setInt("random_len", r.value.length));
  })
  .call("log", (self: Actor, m: Message): i32 => {
    const s = field(m, "msg");
    if (s === null) return m.error("invalid");
    log(LOG_INFO, s);
    printStdout(s);
    return m.reply(okReply());
  })
  .call("metric", (self: Actor, m: Message): i32 => {
    const name = field(m, "name");
    if (name === null) return m.error("invalid");
    const st = metricsAdd(name, m.payload.getFloat("delta", 0));
    if (!st.ok) return m.error(st.name);
    return m.reply(okReply());
  })
  .call("fetch", (self: Actor, m: Message): i32 => {
    const link = field(m, "link");
    const path = field(m, "path");
    if (link === null || path === null) return m.error("invalid");
    const r = httpFetch(link, "GET", path, null);
    if (!r.ok) return m.error(r.name);
    const resp = r.value;
    return m.reply(Value.map().setInt("status", resp.status).setStr("body", resp.text()));
  });

// ---- role "crasher" ------------------------------------------------------------

class Crasher extends Actor {
  starts: i64 = -1;

  init(args: Value): i32 {
    const r = kvIncrement("crasher_starts", 1);
    this.starts = r.ok ? r.value : -1; // -1: no key-value store on this node
    return 0;
  }
}

// "spin" loops until spinStop is set, which only happens if the 64-bit
// counter wraps and the clock reads 0: never, and the optimiser cannot know
// that (the loop calls the host), so the loop stays.
let spinCount: i64 = 0;
let spinStop: bool = false;

// Pages "grow" took from memory.grow directly (see below), reused by later calls.
let grownBase: usize = 0;
let grownPages: i32 = 0;

actorType("crasher", (): Actor => new Crasher())
  .call("ping", (self: Actor, m: Message): i32 =>
    m.reply(Value.map().setBool("pong", true).setInt("starts", (self as Crasher).starts)))
  .call("crash", (self: Actor, m: Message): i32 => {
    unreachable();
    return HANDLED;
  })
  .call("spin", (self: Actor, m: Message): i32 => {
    while (!spinStop) {
      spinCount++;
      if (spinCount == 0) spinStop = (nowMs() == 0);
    }
    return m.reply(Value.map().setInt("spun", spinCount));
  })
  .call("grow", (self: Actor, m: Message): i32 => {
    // Memory limit test. The pages come from memory.grow itself, not the
    // allocator (whose failure is a trap): past the node's max_memory_bytes
    // memory.grow returns -1 and the reply is {"ok": false}; the actor lives
    // on. Pages that were granted are touched (one write per 4 KiB) and kept
    // for later "grow" calls; the allocator keeps working above them.
    const mb = m.payload.getInt("mb", 0);
    if (mb < 0 || mb > 4096) return m.reply(Value.map().setBool("ok", false));
    const pages = <i32>mb * 16;
    if (pages > grownPages) {
      const before = memory.grow(pages);
      if (before < 0) return m.reply(Value.map().setBool("ok", false));
      grownBase = <usize>before << 16;
      grownPages = pages;
    }
    const end = grownBase + (<usize>pages << 16);
    for (let p = grownBase; p < end; p += 4096) store<u8>(p, 1);
    return m.reply(Value.map().setBool("ok", true));
  });
