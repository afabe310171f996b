// GenServer-style actors: handlers registered by message type (call, cast
// and info separately), per role. One module hosts several actor types;
// px_init picks the registration by the init payload's "role" (exact
// match), then by its "actor_type".
//
//   class Counter extends Actor {
//     count: i64 = 0;
//     init(args: Value): i32 { this.count = args.getInt("start"); return 0; }
//     getState(): Value | null { return Value.map().setInt("count", this.count); }
//     setState(s: Value): i32 { this.count = s.getInt("count"); return 0; }
//   }
//   actorType("counter", (): Actor => new Counter())
//     .call("get", (self: Actor, m: Message): i32 =>
//       m.reply(Value.map().setInt("count", (self as Counter).count)));
//
// AssemblyScript closures cannot capture locals, so a handler receives the
// actor instance and casts it to its own class.

import { Value } from "./msgpack";
import * as host from "./host";

export const KIND_CALL: i32 = 1;
export const KIND_CAST: i32 = 2;
export const KIND_INFO: i32 = 3;

/** px_handle return values. */
export const HANDLED: i32 = 0;
export const FAILED: i32 = 1;
export const STOP: i32 = 2;

/** One message delivered to px_handle. */
export class Message {
  constructor(
    public kind: i32,
    /** The sender's actor id ("" when not an actor). */
    public from: string,
    public type: string,
    /** The payload decoded (nil when empty or malformed). */
    public payload: Value,
    /** The payload's MessagePack bytes, as received (a copy). */
    public raw: Uint8Array,
  ) {}

  get isCall(): bool {
    return this.kind == KIND_CALL;
  }

  /** Replies `v` (if a call) and returns HANDLED. */
  reply(v: Value): i32 {
    if (this.kind == KIND_CALL) host.reply(v);
    return HANDLED;
  }

  /** Replies encoded bytes (if a call; empty means nil) and returns HANDLED. */
  replyRaw(bytes: Uint8Array): i32 {
    if (this.kind == KIND_CALL) {
      if (bytes.length == 0) host.reply(null);
      else host.replyRaw(bytes);
    }
    return HANDLED;
  }

  /** Sets `v` as the error value (if a call) and returns FAILED. */
  fail(v: Value): i32 {
    if (this.kind == KIND_CALL) host.reply(v);
    return FAILED;
  }

  /** fail({"error": name}). */
  error(name: string): i32 {
    return this.fail(Value.map().setStr("error", name));
  }

  /** Replies `v` (if a call; null: no reply) and returns STOP. */
  stop(v: Value | null = null): i32 {
    if (v && this.kind == KIND_CALL) host.reply(v);
    return STOP;
  }
}

/** A handler: returns HANDLED, FAILED or STOP (see Message helpers). */
export type Handler = (self: Actor, msg: Message) => i32;

/** Base class of actors. Override what you need. */
export class Actor {
  /** From the init payload. */
  id: string = "";
  role: string = "";
  actorType: string = "";

  /** Called by px_init with the child's args (a map). Non-zero fails the start. */
  init(args: Value): i32 {
    return 0;
  }

  /** The state as a value for px_get_state; null = no state. */
  getState(): Value | null {
    return null;
  }

  /** Replaces the state from px_set_state; 0 = accepted. */
  setState(state: Value): i32 {
    return host.ERR_NOT_SUPPORTED;
  }
}

/** An actor type: its factory and handlers. */
export class ActorType {
  calls: Map<string, Handler> = new Map<string, Handler>();
  casts: Map<string, Handler> = new Map<string, Handler>();
  infos: Map<string, Handler> = new Map<string, Handler>();

  constructor(
    public role: string,
    /** "" matches any actor_type. */
    public actorType: string,
    public factory: () => Actor,
  ) {}

  call(type: string, h: Handler): ActorType {
    this.calls.set(type, h);
    return this;
  }

  cast(type: string, h: Handler): ActorType {
    this.casts.set(type, h);
    return this;
  }

  info(type: string, h: Handler): ActorType {
    this.infos.set(type, h);
    return this;
  }
}

const registry = new Array<ActorType>();

/**
 * Registers an actor type for `role` (and, if given, only for that
 * `actorType`). Call it from the module's top level.
 */
export function actorType(role: string, factory: () => Actor, actorType: string = ""): ActorType {
  const t = new ActorType(role, actorType, factory);
  registry.push(t);
  return t;
}

/** The registration for (role, actor_type): exact pair first, then the role's catch-all. */
function lookup(role: string, type: string): ActorType | null {
  let any: ActorType | null = null;
  for (let k = 0; k < registry.length; k++) {
    const t = unchecked(registry[k]);
    if (t.role != role) continue;
    if (t.actorType == type) return t;
    if (t.actorType == "" && !any) any = t;
  }
  return any;
}

let current: Actor | null = null;
let currentType: ActorType | null = null;
// The buffer px_get_state hands out: kept reachable until the next call.
let stateBuf: Uint8Array | null = null;

/** The running actor (null before px_init). */
export function self(): Actor | null {
  return current;
}

// ---- the exports of ABI version 1 (re-exported by the app's entry file) ----

export function px_abi_version(): i32 {
  return 1;
}

// Unmanaged memory: the GC never sees these blocks.
const MAX_ALLOC: i32 = (1 << 30) - 64;

export function px_alloc(size: i32): usize {
  if (size < 0 || size > MAX_ALLOC) return 0;
  // heap.alloc traps when memory cannot grow (AssemblyScript's allocator has
  // no failure return); the host sees a trap instead of 0 then.
  const n: i32 = size > 0 ? size : 1;
  return heap.alloc(<usize>n);
}

export function px_free(ptr: usize, size: i32): void {
  if (ptr != 0) heap.free(ptr);
}

export function px_init(ptr: usize, len: i32): i32 {
  stateBuf = null;
  const init = Value.decodeAt(ptr, len);
  if (!init || !init.isMap) {
    host.log(host.LOG_ERROR, "px_init: the init payload is not a map");
    return host.ERR_INVALID;
  }
  const role = init.getStr("role");
  const type = init.getStr("actor_type");
  let t = lookup(role, type);
  if (!t && role == "") t = lookup(type, type);
  if (!t) {
    host.log(host.LOG_ERROR, "px_init: no actor registered for role \"" + role + "\", actor_type \"" + type + "\"");
    return host.ERR_NOT_FOUND;
  }
  const a = t.factory();
  a.id = init.getStr("id");
  a.role = role;
  a.actorType = type;
  let args = init.get("args");
  if (!args || !args.isMap) args = Value.map();
  current = a;
  currentType = t;
  return a.init(args);
}

export function px_handle(kind: i32, fromPtr: usize, fromLen: i32, typePtr: usize, typeLen: i32, payloadPtr: usize, payloadLen: i32): i32 {
  stateBuf = null;
  const a = current;
  const t = currentType;
  const isCall = kind == KIND_CALL;
  if (!a || !t) {
    if (isCall) host.reply(Value.map().setStr("error", "not_initialized"));
    return FAILED;
  }
  const from = fromLen > 0 ? String.UTF8.decodeUnsafe(fromPtr, <usize>fromLen) : "";
  const type = typeLen > 0 ? String.UTF8.decodeUnsafe(typePtr, <usize>typeLen) : "";
  const raw = new Uint8Array(payloadLen > 0 ? payloadLen : 0);
  if (payloadLen > 0) memory.copy(raw.dataStart, payloadPtr, <usize>payloadLen);
  let payload = Value.decode(raw);
  if (!payload) payload = Value.nil();
  const msg = new Message(kind, from, type, payload, raw);

  const table = kind == KIND_CALL ? t.calls : kind == KIND_CAST ? t.casts : t.infos;
  if (!table.has(type)) {
    if (isCall) return msg.error("unknown_call");
    host.log(host.LOG_DEBUG, "no handler for " + (kind == KIND_CAST ? "cast" : "info") + " \"" + type + "\"");
    return HANDLED;
  }
  const h = table.get(type);
  return h(a, msg);
}

export function px_get_state(): i64 {
  stateBuf = null;
  const a = current;
  if (!a) return 0;
  const s = a.getState();
  if (!s) return 0;
  const b = s.encode();
  if (b.length == 0) return 0;
  stateBuf = b;
  return (<i64>(<u64>b.dataStart << 32)) | <i64>(<u32>b.length);
}

export function px_set_state(ptr: usize, len: i32): i32 {
  stateBuf = null;
  const a = current;
  if (!a) return host.ERR_INVALID;
  const v = Value.decodeAt(ptr, len);
  if (!v) return host.ERR_INVALID;
  return a.setState(v);
}
