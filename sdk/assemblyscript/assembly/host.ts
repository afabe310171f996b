// Wrappers for every host import of ABI version 1. AssemblyScript has no
// exceptions that can be caught (a throw aborts, which traps the actor), so
// errors come back as values: a `Status` (code 0 = OK, negative = the ABI's
// status) or a `Result<T>` (a Status with a value, meaningful when `ok`).
// Functions documented "-> result" fetch their bytes with result_read
// before returning, so callers never see the result protocol.

import * as px from "./imports";
import { Value, bytesToString, stringToBytes } from "./msgpack";

// ---- status codes -----------------------------------------------------------

export const OK: i32 = 0;
export const ERR_INTERNAL: i32 = -1;
export const ERR_NOT_FOUND: i32 = -2;
export const ERR_TIMEOUT: i32 = -3;
export const ERR_INVALID: i32 = -4;
export const ERR_NOT_PERMITTED: i32 = -5;
export const ERR_RESOURCE: i32 = -6;
export const ERR_NO_PROC: i32 = -7;
export const ERR_NOT_SUPPORTED: i32 = -8;
export const ERR_CONFLICT: i32 = -9;
export const ERR_REMOTE: i32 = -10;

/**
 * The short name of a status: "ok", "internal", "not_found", "timeout",
 * "invalid", "not_permitted", "resource", "no_proc", "not_supported",
 * "conflict", "remote" (the doc's ERR_* names, lower case, without "err_";
 * "unknown" for any other negative code).
 */
export function statusName(code: i64): string {
  if (code >= 0) return "ok";
  switch (<i32>code) {
    case ERR_INTERNAL: return "internal";
    case ERR_NOT_FOUND: return "not_found";
    case ERR_TIMEOUT: return "timeout";
    case ERR_INVALID: return "invalid";
    case ERR_NOT_PERMITTED: return "not_permitted";
    case ERR_RESOURCE: return "resource";
    case ERR_NO_PROC: return "no_proc";
    case ERR_NOT_SUPPORTED: return "not_supported";
    case ERR_CONFLICT: return "conflict";
    case ERR_REMOTE: return "remote";
    default: return "unknown";
  }
}

/** The outcome of a host call that produces no value. */
export class Status {
  constructor(public code: i32) {}

  get ok(): bool {
    return this.code >= 0;
  }

  /** statusName(code): "ok", "not_found", ... */
  get name(): string {
    return statusName(this.code);
  }
}

/**
 * The outcome of a host call that produces a value. `value` is meaningful
 * when `ok`; for `ask` failing with ERR_REMOTE it is the peer's error value.
 */
export class Result<T> extends Status {
  constructor(code: i32, public value: T) {
    super(code);
  }
}

/** An HTTP response from http_fetch. */
export class HttpResponse {
  constructor(public status: i32, public body: Uint8Array) {}

  /** The body as UTF-8 text. */
  text(): string {
    return bytesToString(this.body);
  }
}

// ---- helpers ------------------------------------------------------------------

const EMPTY = new Uint8Array(0);

// Scratch space for kv_increment's i64 out-parameter.
const I64_OUT: usize = memory.data(8, 8);

/** Encodes a payload; null is nil. */
function enc(v: Value | null): Uint8Array {
  return v ? v.encode() : Value.nil().encode();
}

/** Copies the instance's result (`n` bytes) into a new array. */
export function readResult(n: i32): Uint8Array {
  if (n <= 0) return new Uint8Array(0);
  const b = new Uint8Array(n);
  const got = px.result_read(b.dataStart, n);
  if (got < n) return got > 0 ? b.slice(0, got) : new Uint8Array(0);
  return b;
}

/** Fetches a result holding a value. */
function valueResult(n: i32): Result<Value> {
  if (n < 0) return new Result<Value>(n, Value.nil());
  const v = Value.decode(readResult(n));
  if (!v) return new Result<Value>(ERR_INVALID, Value.nil());
  return new Result<Value>(OK, v);
}

/**
 * Fetches a result holding an actor id. The doc makes ids strings (raw
 * UTF-8); a MessagePack-encoded string is accepted too, told apart by its
 * header (0xa0-0xbf cannot start UTF-8, and str8 must match the length).
 */
function idResult(n: i32): Result<string> {
  if (n < 0) return new Result<string>(n, "");
  const b = readResult(n);
  if (b.length > 0) {
    const h = <u32>b[0];
    if (h >= 0xa0 && h <= 0xbf && <i32>(h & 0x1f) == b.length - 1) {
      return new Result<string>(OK, bytesToString(b.subarray(1)));
    }
    if (h == 0xd9 && b.length >= 2 && <i32>b[1] == b.length - 2) {
      return new Result<string>(OK, bytesToString(b.subarray(2)));
    }
  }
  return new Result<string>(OK, bytesToString(b));
}

function i64Result(r: i64): Result<i64> {
  return r < 0 ? new Result<i64>(<i32>r, 0) : new Result<i64>(OK, r);
}

// ---- actors -------------------------------------------------------------------

/** Tells `to` a message. */
export function send(to: string, type: string, payload: Value | null = null): Status {
  return sendRaw(to, type, enc(payload));
}

/** Tells `to` a message whose payload is already encoded. */
export function sendRaw(to: string, type: string, payload: Uint8Array): Status {
  const t = stringToBytes(to);
  const ty = stringToBytes(type);
  return new Status(px.send(t.dataStart, t.length, ty.dataStart, ty.length, payload.dataStart, payload.length));
}

/**
 * Asks `to` and waits for the reply (`timeoutMs <= 0`: 5000). On
 * ERR_REMOTE the value is the peer's error value.
 */
export function ask(to: string, type: string, payload: Value | null = null, timeoutMs: i64 = 5000): Result<Value> {
  const r = askRaw(to, type, enc(payload), timeoutMs);
  if (r.code != OK && r.code != ERR_REMOTE) return new Result<Value>(r.code, Value.nil());
  const v = Value.decode(r.value);
  if (!v) return new Result<Value>(r.code == ERR_REMOTE ? ERR_REMOTE : ERR_INVALID, Value.nil());
  return new Result<Value>(r.code, v);
}

/** ask with encoded payload; the value is the reply's encoded bytes. */
export function askRaw(to: string, type: string, payload: Uint8Array, timeoutMs: i64 = 5000): Result<Uint8Array> {
  const t = stringToBytes(to);
  const ty = stringToBytes(type);
  const n = px.ask(t.dataStart, t.length, ty.dataStart, ty.length, payload.dataStart, payload.length, timeoutMs);
  if (n >= 0) return new Result<Uint8Array>(OK, readResult(n));
  if (n == ERR_REMOTE) {
    // The result holds the peer's error value; its length is not returned,
    // so read it in growing chunks until result_read copies less than asked.
    return new Result<Uint8Array>(ERR_REMOTE, readWholeResult());
  }
  return new Result<Uint8Array>(n, EMPTY);
}

/** Reads a result whose length is unknown (after ERR_REMOTE). */
export function readWholeResult(): Uint8Array {
  let cap = 256;
  while (true) {
    const b = new Uint8Array(cap);
    const got = px.result_read(b.dataStart, cap);
    if (got < 0) return new Uint8Array(0);
    if (got < cap) return b.slice(0, got);
    if (cap >= (1 << 26)) return b;
    cap <<= 2;
  }
}

/** Sets the reply of the current call. */
export function reply(payload: Value | null): Status {
  return replyRaw(enc(payload));
}

/** Sets the reply of the current call from encoded bytes. */
export function replyRaw(payload: Uint8Array): Status {
  return new Status(px.reply(payload.dataStart, payload.length));
}

/** This actor's id. */
export function selfId(): Result<string> {
  return idResult(px.self_id());
}

/** Starts another actor of this module with `role`; its id. Not linked or supervised. */
export function spawn(role: string, args: Value | null = null): Result<string> {
  const r = stringToBytes(role);
  const a = args ? args.encode() : EMPTY;
  return idResult(px.spawn(r.dataStart, r.length, a.dataStart, a.length));
}

/** Stops an actor with reason `shutdown`. */
export function stop(id: string): Status {
  const b = stringToBytes(id);
  return new Status(px.stop(b.dataStart, b.length));
}

export function link(id: string): Status {
  const b = stringToBytes(id);
  return new Status(px.link(b.dataStart, b.length));
}

export function unlink(id: string): Status {
  const b = stringToBytes(id);
  return new Status(px.unlink(b.dataStart, b.length));
}

/** Monitors an actor; the monitor ref (> 0). A DOWN info message follows its exit. */
export function monitor(id: string): Result<i64> {
  const b = stringToBytes(id);
  return i64Result(px.monitor(b.dataStart, b.length));
}

export function demonitor(ref: i64): Status {
  return new Status(px.demonitor(ref));
}

/** Sends self an info message after `delayMs`; the timer id (> 0). */
export function sendAfter(delayMs: i64, type: string, payload: Value | null = null): Result<i64> {
  const ty = stringToBytes(type);
  const p = enc(payload);
  return i64Result(px.send_after(delayMs, ty.dataStart, ty.length, p.dataStart, p.length));
}

/** ERR_NOT_FOUND if the timer fired already. */
export function cancelTimer(timer: i64): Status {
  return new Status(px.cancel_timer(timer));
}

/** Parks the actor for `ms`. */
export function sleep(ms: i64): Status {
  return new Status(px.sleep(ms));
}

// ---- utilities ----------------------------------------------------------------

export const LOG_DEBUG: i32 = 0;
export const LOG_INFO: i32 = 1;
export const LOG_WARN: i32 = 2;
export const LOG_ERROR: i32 = 3;

/** Logs to the node log (0 debug, 1 info, 2 warn, 3 error). */
export function log(level: i32, msg: string): Status {
  const b = stringToBytes(msg);
  return new Status(px.log(level, b.dataStart, b.length));
}

/** Wall clock, ms since the Unix epoch. */
export function nowMs(): i64 {
  return px.now_ms();
}

/** `len` random bytes (at most 65536). */
export function random(len: i32): Result<Uint8Array> {
  if (len < 0) return new Result<Uint8Array>(ERR_INVALID, EMPTY);
  const b = new Uint8Array(len);
  const st = randomInto(b);
  return new Result<Uint8Array>(st.code, st.ok ? b : EMPTY);
}

/** Fills `buf` with random bytes (at most 65536). */
export function randomInto(buf: Uint8Array): Status {
  return new Status(px.random(buf.dataStart, buf.length));
}

/** Adds to the app counter `name` (`[a-z0-9_]{1,64}`). */
export function metricsAdd(name: string, delta: f64): Status {
  const b = stringToBytes(name);
  return new Status(px.metrics_add(b.dataStart, b.length, delta));
}

// ---- key-value store ----------------------------------------------------------

export function kvGet(key: string): Result<Value> {
  const k = stringToBytes(key);
  return valueResult(px.kv_get(k.dataStart, k.length));
}

/** `ttlMs = 0`: no expiry. */
export function kvPut(key: string, value: Value, ttlMs: i64 = 0): Status {
  const k = stringToBytes(key);
  const v = value.encode();
  return new Status(px.kv_put(k.dataStart, k.length, v.dataStart, v.length, ttlMs));
}

export function kvDelete(key: string): Status {
  const k = stringToBytes(key);
  return new Status(px.kv_delete(k.dataStart, k.length));
}

/** The live keys with `prefix`, in order. */
export function kvList(prefix: string): Result<Array<string>> {
  const k = stringToBytes(prefix);
  const r = valueResult(px.kv_list(k.dataStart, k.length));
  const keys = new Array<string>();
  if (!r.ok) return new Result<Array<string>>(r.code, keys);
  const arr = r.value;
  if (!arr.isArray) return new Result<Array<string>>(ERR_INVALID, keys);
  for (let i = 0; i < arr.length; i++) keys.push(arr.at(i)!.asStr());
  return new Result<Array<string>>(OK, keys);
}

/** Writes `value` only if the entry equals `expected` (null: only if absent); ERR_CONFLICT otherwise. */
export function kvCas(key: string, expected: Value | null, value: Value, ttlMs: i64 = 0): Status {
  const k = stringToBytes(key);
  const e = expected ? expected.encode() : EMPTY;
  const v = value.encode();
  return new Status(px.kv_cas(k.dataStart, k.length, e.dataStart, e.length, v.dataStart, v.length, ttlMs));
}

/** Adds `delta` atomically; the new value. */
export function kvIncrement(key: string, delta: i64 = 1): Result<i64> {
  const k = stringToBytes(key);
  store<i64>(I64_OUT, 0);
  const st = px.kv_increment(k.dataStart, k.length, delta, I64_OUT);
  if (st < 0) return new Result<i64>(st, 0);
  return new Result<i64>(OK, load<i64>(I64_OUT));
}

/** Milliseconds left, 0 = never expires. */
export function kvTtl(key: string): Result<i64> {
  const k = stringToBytes(key);
  return i64Result(px.kv_ttl(k.dataStart, k.length));
}

// ---- tuple space --------------------------------------------------------------

export const TS_TRY_ONCE: i64 = 0;
export const TS_FOREVER: i64 = -1;

export function tsWrite(tuple: Value, ttlMs: i64 = 0): Status {
  const t = tuple.encode();
  return new Status(px.ts_write(t.dataStart, t.length, ttlMs));
}

/** A copy of a matching tuple (timeout 0: try once, -1: wait forever). */
export function tsRead(template: Value, timeoutMs: i64 = 0): Result<Value> {
  const t = template.encode();
  return valueResult(px.ts_read(t.dataStart, t.length, timeoutMs));
}

/** Removes and returns a matching tuple. */
export function tsTake(template: Value, timeoutMs: i64 = 0): Result<Value> {
  const t = template.encode();
  return valueResult(px.ts_take(t.dataStart, t.length, timeoutMs));
}

/** An array of every match (at most `limit`, 0 = 1000). */
export function tsReadAll(template: Value, limit: i32 = 0): Result<Value> {
  const t = template.encode();
  return valueResult(px.ts_read_all(t.dataStart, t.length, limit));
}

export function tsCount(template: Value): Result<i64> {
  const t = template.encode();
  return i64Result(px.ts_count(t.dataStart, t.length));
}

/** Writes `tuple` only if nothing matches `template`; ERR_CONFLICT otherwise. */
export function tsWriteIfAbsent(template: Value, tuple: Value, ttlMs: i64 = 0): Status {
  const m = template.encode();
  const t = tuple.encode();
  return new Status(px.ts_write_if_absent(m.dataStart, m.length, t.dataStart, t.length, ttlMs));
}

/** Takes one match and writes `tuple` atomically; the tuple taken. */
export function tsReplace(template: Value, tuple: Value, timeoutMs: i64 = 0): Result<Value> {
  const m = template.encode();
  const t = tuple.encode();
  return valueResult(px.ts_replace(m.dataStart, m.length, t.dataStart, t.length, timeoutMs));
}

// ---- service links ------------------------------------------------------------

/** An HTTP request through the `[[service_links]]` entry `link`. */
export function httpFetch(link: string, method: string, path: string, body: Uint8Array | null = null): Result<HttpResponse> {
  const l = stringToBytes(link);
  const m = stringToBytes(method);
  const p = stringToBytes(path);
  const b = body ? body : EMPTY;
  const r = valueResult(px.http_fetch(l.dataStart, l.length, m.dataStart, m.length, p.dataStart, p.length, b.dataStart, b.length));
  if (!r.ok) return new Result<HttpResponse>(r.code, new HttpResponse(0, EMPTY));
  const v = r.value;
  const bodyV = v.get("body");
  let bytes: Uint8Array = EMPTY;
  if (bodyV) {
    const bb = bodyV.asBytes();
    if (bb) bytes = bb;
  }
  return new Result<HttpResponse>(OK, new HttpResponse(<i32>v.getInt("status", 0), bytes));
}
