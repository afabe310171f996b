// mock_host.mjs - a throwaway stand-in for the node's wasm host, in Node.js,
// to smoke-test a guest module before the real host (src/wasm/) exists:
//   node examples/wasm/c/mock_host.mjs OUT.wasm
// It is NOT the node: one instance per actor, asks run synchronously,
// sleep returns at once, the key-value store and tuple space are in-memory
// maps, templates match exact values and nil only, and http_fetch answers
// the link "echo" itself. It drives the example protocol shared by the C,
// Go and AssemblyScript examples and exits 1 on the first mismatch.
import { readFileSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import assert from "node:assert/strict";

// ---- MessagePack (enough for the tests) ------------------------------------

function enc(v, out = []) {
  const u8 = (...b) => out.push(...b);
  const be = (n, bytes) => {
    for (let i = bytes - 1; i >= 0; i--) u8(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  };
  const len = (n, fix, fixmax, t8, t16, t32) => {
    if (n < fixmax) u8(fix | n);
    else if (t8 && n < 256) { u8(t8); be(n, 1); }
    else if (n < 65536) { u8(t16); be(n, 2); }
    else { u8(t32); be(n, 4); }
  };
  if (v === null || v === undefined) u8(0xc0);
  else if (v === true) u8(0xc3);
  else if (v === false) u8(0xc2);
  else if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) {
    const n = BigInt(v);
    if (n >= 0n) {
      if (n < 128n) u8(Number(n));
      else if (n < 256n) { u8(0xcc); be(n, 1); }
      else if (n < 65536n) { u8(0xcd); be(n, 2); }
      else if (n < 4294967296n) { u8(0xce); be(n, 4); }
      else { u8(0xcf); be(n, 8); }
    } else if (n >= -32n) u8(Number(n & 0xffn));
    else if (n >= -128n) { u8(0xd0); be(n & 0xffn, 1); }
    else if (n >= -32768n) { u8(0xd1); be(n & 0xffffn, 2); }
    else if (n >= -2147483648n) { u8(0xd2); be(n & 0xffffffffn, 4); }
    else { u8(0xd3); be(BigInt.asUintN(64, n), 8); }
  } else if (typeof v === "number") {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    u8(0xcb, ...b);
  } else if (typeof v === "string") {
    const b = Buffer.from(v, "utf8");
    len(b.length, 0xa0, 32, 0xd9, 0xda, 0xdb);
    u8(...b);
  } else if (v instanceof Uint8Array) {
    len(v.length, 0, 0, 0xc4, 0xc5, 0xc6);
    u8(...v);
  } else if (Array.isArray(v)) {
    len(v.length, 0x90, 16, 0, 0xdc, 0xdd);
    for (const x of v) enc(x, out);
  } else {
    const keys = Object.keys(v);
    len(keys.length, 0x80, 16, 0, 0xde, 0xdf);
    for (const k of keys) { enc(k, out); enc(v[k], out); }
  }
  return out;
}
const pack = (v) => Uint8Array.from(enc(v));

function unpack(bytes) {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let p = 0;
  const num = (big) => (big >= -(2n ** 53n) && big <= 2n ** 53n ? Number(big) : big);
  const str = (n) => { const s = b.toString("utf8", p, p + n); p += n; return s; };
  const bin = (n) => { const s = Uint8Array.from(b.subarray(p, p + n)); p += n; return s; };
  const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(one()); return a; };
  const map = (n) => { const o = {}; for (let i = 0; i < n; i++) { const k = one(); o[k] = one(); } return o; };
  function one() {
    const c = b[p++];
    if (c === undefined) throw new Error("truncated MessagePack");
    if (c <= 0x7f) return c;
    if (c >= 0xe0) return c - 256;
    if (c <= 0x8f) return map(c & 15);
    if (c <= 0x9f) return arr(c & 15);
    if (c <= 0xbf) return str(c & 31);
    const rd = (f, n) => { const v = b[f](p); p += n; return v; };
    switch (c) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return bin(rd("readUInt8", 1));
      case 0xc5: return bin(rd("readUInt16BE", 2));
      case 0xc6: return bin(rd("readUInt32BE", 4));
      case 0xca: return rd("readFloatBE", 4);
      case 0xcb: return rd("readDoubleBE", 8);
      case 0xcc: return rd("readUInt8", 1);
      case 0xcd: return rd("readUInt16BE", 2);
      case 0xce: return rd("readUInt32BE", 4);
      case 0xcf: return num(rd("readBigUInt64BE", 8));
      case 0xd0: return rd("readInt8", 1);
      case 0xd1: return rd("readInt16BE", 2);
      case 0xd2: return rd("readInt32BE", 4);
      case 0xd3: return num(rd("readBigInt64BE", 8));
      case 0xd9: return str(rd("readUInt8", 1));
      case 0xda: return str(rd("readUInt16BE", 2));
      case 0xdb: return str(rd("readUInt32BE", 4));
      case 0xdc: return arr(rd("readUInt16BE", 2));
      case 0xdd: return arr(rd("readUInt32BE", 4));
      case 0xde: return map(rd("readUInt16BE", 2));
      case 0xdf: return map(rd("readUInt32BE", 4));
      default: throw new Error("unsupported MessagePack byte 0x" + c.toString(16));
    }
  }
  const v = one();
  if (p !== b.length) throw new Error(`trailing bytes: ${b.length - p}`);
  return v;
}

// ---- the mock node ---------------------------------------------------------

const OK = 0, NOT_FOUND = -2, TIMEOUT = -3, INVALID = -4, NOT_PERMITTED = -5,
  NO_PROC = -7, CONFLICT = -9, REMOTE = -10;

const wasmPath = process.argv[2];
if (!wasmPath) { console.error("usage: node mock_host.mjs MODULE.wasm"); process.exit(2); }
const module = new WebAssembly.Module(readFileSync(wasmPath));

const actors = new Map(); // id -> actor
const kv = new Map();     // key -> bytes
let space = [];           // [{tuple (decoded), bytes}]
const metrics = new Map();
const stdout = [];
const logs = [];
let nextId = 1;
const queue = []; // casts from send, delivered after the top-level message

const same = (a, b) => Buffer.compare(Buffer.from(pack(a)), Buffer.from(pack(b))) === 0;
const matches = (tmpl, t) => Array.isArray(t) && tmpl.length === t.length &&
  tmpl.every((f, i) => f === null || same(f, t[i]));

function newActor(role, actorType, args) {
  const id = `<0.${nextId++}.1>`;
  const a = { id, role, result: null, reply: null, inCall: false };
  const mem = () => new Uint8Array(a.inst.exports.memory.buffer);
  const bytes = (p, n) => {
    if (p < 0 || n < 0 || p + n > mem().length) throw new RangeError("out of bounds");
    return Uint8Array.from(mem().subarray(p, p + n));
  };
  const text = (p, n) => Buffer.from(bytes(p, n)).toString("utf8");
  const setResult = (u8) => { a.result = u8; return u8.length; };
  const guard = (f) => (...xs) => { try { return f(...xs); } catch (e) { if (e instanceof RangeError) return INVALID; throw e; } };
  const host = {
    send: guard((t, tl, y, yl, p, pl) => {
      const to = actors.get(text(t, tl));
      if (!to) return NO_PROC;
      queue.push([to, 2, a.id, text(y, yl), bytes(p, pl)]);
      return OK;
    }),
    ask: guard((t, tl, y, yl, p, pl, _timeout) => {
      const to = actors.get(text(t, tl));
      if (!to) return NO_PROC;
      if (to === a) return TIMEOUT;
      const [rc, reply] = deliver(to, 1, a.id, text(y, yl), bytes(p, pl));
      if (rc === "trap") return NO_PROC;
      if (rc === 1) { a.result = reply; return REMOTE; }
      return setResult(reply);
    }),
    reply: guard((p, n) => { if (!a.inCall) return INVALID; a.reply = bytes(p, n); return OK; }),
    self_id: () => setResult(Buffer.from(a.id)),
    spawn: guard((r, rl, p, pl) => {
      const child = newActor(text(r, rl), text(r, rl), pl ? unpack(bytes(p, pl)) : {});
      if (child.initRc !== 0) return INVALID;
      return setResult(Buffer.from(child.id));
    }),
    stop: guard((p, n) => (actors.delete(text(p, n)) ? OK : NO_PROC)),
    link: () => OK, unlink: () => OK,
    monitor: () => 1n, demonitor: () => OK,
    send_after: () => 1n, cancel_timer: () => NOT_FOUND,
    sleep: () => OK,
    log: guard((lvl, p, n) => { logs.push([lvl, text(p, n)]); return OK; }),
    now_ms: () => BigInt(Date.now()),
    random: guard((p, n) => { if (n > 65536) return INVALID; randomFillSync(mem(), p, n); return OK; }),
    metrics_add: guard((p, n, d) => {
      const name = text(p, n);
      if (!/^[a-z0-9_]{1,64}$/.test(name)) return INVALID;
      metrics.set(name, (metrics.get(name) || 0) + d);
      return OK;
    }),
    result_read: guard((p, n) => {
      const r = a.result || new Uint8Array(0);
      const k = Math.min(n, r.length);
      bytes(p, n); // bounds check
      mem().set(r.subarray(0, k), p);
      return k;
    }),
    kv_get: guard((p, n) => { const v = kv.get(text(p, n)); return v ? setResult(v) : NOT_FOUND; }),
    kv_put: guard((k, kl, v, vl, _ttl) => { unpack(bytes(v, vl)); kv.set(text(k, kl), bytes(v, vl)); return OK; }),
    kv_delete: guard((k, kl) => { kv.delete(text(k, kl)); return OK; }),
    kv_list: guard((k, kl) => { const pre = text(k, kl); return setResult(pack([...kv.keys()].filter((x) => x.startsWith(pre)).sort())); }),
    kv_cas: guard((k, kl, e, el, v, vl, _ttl) => {
      const key = text(k, kl), cur = kv.get(key);
      const ok = el === 0 ? !cur : cur && Buffer.compare(Buffer.from(cur), Buffer.from(bytes(e, el))) === 0;
      if (!ok) return CONFLICT;
      kv.set(key, bytes(v, vl));
      return OK;
    }),
    kv_increment: guard((k, kl, delta, out) => {
      const key = text(k, kl);
      const cur = kv.has(key) ? BigInt(unpack(kv.get(key))) : 0n;
      const v = cur + delta;
      kv.set(key, pack(v));
      new DataView(a.inst.exports.memory.buffer).setBigInt64(out, v, true);
      return OK;
    }),
    kv_ttl: guard((k, kl) => (kv.has(text(k, kl)) ? 0n : BigInt(NOT_FOUND))),
    ts_write: guard((p, n, _ttl) => { space.push(unpack(bytes(p, n))); return OK; }),
    ts_read: guard((p, n, _t) => { const m = unpack(bytes(p, n)); const t = space.find((x) => matches(m, x)); return t ? setResult(pack(t)) : (_t === 0n ? NOT_FOUND : TIMEOUT); }),
    ts_take: guard((p, n, _t) => { const m = unpack(bytes(p, n)); const i = space.findIndex((x) => matches(m, x)); if (i < 0) return NOT_FOUND; const [t] = space.splice(i, 1); return setResult(pack(t)); }),
    ts_read_all: guard((p, n, lim) => { const m = unpack(bytes(p, n)); return setResult(pack(space.filter((x) => matches(m, x)).slice(0, lim || 1000))); }),
    ts_count: guard((p, n) => { const m = unpack(bytes(p, n)); return BigInt(space.filter((x) => matches(m, x)).length); }),
    ts_write_if_absent: guard((m, ml, t, tl, _ttl) => {
      const tmpl = unpack(bytes(m, ml));
      if (space.some((x) => matches(tmpl, x))) return CONFLICT;
      space.push(unpack(bytes(t, tl)));
      return OK;
    }),
    ts_replace: guard((m, ml, t, tl, _timeout) => {
      const tmpl = unpack(bytes(m, ml));
      const i = space.findIndex((x) => matches(tmpl, x));
      if (i < 0) return NOT_FOUND;
      const old = space[i];
      space[i] = unpack(bytes(t, tl));
      return setResult(pack(old));
    }),
    http_fetch: guard((l, ll, m, ml, p, pl, _b, _bl) => {
      if (text(l, ll) !== "echo") return NOT_PERMITTED;
      return setResult(pack({ status: 200, body: Buffer.from(`${text(m, ml)} ${text(p, pl)}`) }));
    }),
  };
  const wasi = new Proxy({
    fd_write: (fd, iovs, n, nwritten) => {
      const dv = new DataView(a.inst.exports.memory.buffer);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const p = dv.getUint32(iovs + 8 * i, true), l = dv.getUint32(iovs + 8 * i + 4, true);
        stdout.push(text(p, l));
        total += l;
      }
      dv.setUint32(nwritten, total, true);
      return 0;
    },
    fd_fdstat_get: (_fd, p) => { mem().fill(0, p, p + 24); mem()[p] = 2; return 0; },
    proc_exit: (c) => { throw new Error(`proc_exit ${c}`); },
  }, { get: (t, k) => t[k] || (() => 8 /* EBADF */) });
  a.inst = new WebAssembly.Instance(module, { plexspaces: host, wasi_snapshot_preview1: wasi });
  if (a.inst.exports._initialize) a.inst.exports._initialize();
  assert.equal(a.inst.exports.px_abi_version(), 1);
  a.call = (buf, f) => {
    const ex = a.inst.exports;
    const p = ex.px_alloc(buf.length);
    assert.notEqual(p, 0);
    mem().set(buf, p);
    try { return f(p, buf.length); } finally { ex.px_free(p, buf.length); }
  };
  a.initRc = a.call(pack({ role, actor_type: actorType, id, args }), (p, n) => a.inst.exports.px_init(p, n));
  if (a.initRc === 0) actors.set(id, a);
  return a;
}

// kind, from, type, payload bytes -> [rc | "trap", reply bytes]
function deliver(a, kind, from, type, payload) {
  const ex = a.inst.exports;
  const fromB = Buffer.from(from), typeB = Buffer.from(type);
  const all = Buffer.concat([fromB, typeB, Buffer.from(payload)]);
  a.reply = null;
  a.inCall = kind === 1;
  let rc;
  try {
    rc = a.call(all, (p) => ex.px_handle(kind, p, fromB.length, p + fromB.length, typeB.length,
      p + fromB.length + typeB.length, payload.length));
  } catch (e) {
    if (!(e instanceof WebAssembly.RuntimeError)) throw e;
    a.inCall = false;
    actors.delete(a.id);
    return ["trap", e.message];
  }
  a.inCall = false;
  const reply = a.reply || pack(null);
  return [rc, reply];
}

const drain = () => { while (queue.length) deliver(...queue.shift()); };
const call = (a, type, payload = null) => {
  const [rc, reply] = deliver(a, 1, "", type, pack(payload));
  drain();
  return rc === "trap" ? { trap: reply } : { rc, v: unpack(reply) };
};
const cast = (a, type, payload) => { const rc = deliver(a, 2, "", type, pack(payload))[0]; drain(); return rc; };
const state = (a) => {
  const r = BigInt.asUintN(64, a.inst.exports.px_get_state());
  if (r === 0n) return undefined;
  const p = Number(r >> 32n), n = Number(r & 0xffffffffn);
  return unpack(new Uint8Array(a.inst.exports.memory.buffer).slice(p, p + n));
};
const ok = (a, type, payload, want) => {
  const got = call(a, type, payload);
  assert.deepEqual(got, { rc: 0, v: want }, `${a.role} ${type}`);
  return got.v;
};
const err = (a, type, payload, reason) =>
  assert.deepEqual(call(a, type, payload), { rc: 1, v: { error: reason } }, `${a.role} ${type}`);

// ---- the example protocol ---------------------------------------------------

let checks = 0;
const t = (name, f) => { f(); checks++; };

const counter = newActor("counter", "counter", { start: 0 });
t("counter", () => {
  assert.equal(counter.initRc, 0);
  ok(counter, "get", null, { count: 0 });
  ok(counter, "add", { n: 5 }, { count: 5 });
  ok(counter, "add", { n: 300 }, { count: 305 });
  ok(counter, "add", { n: -100000 }, { count: -99695 });
  ok(counter, "add", { n: 2 ** 40 }, { count: 2 ** 40 - 99695 });
  ok(counter, "add", { n: -(2 ** 40) + 99695 }, { count: 0 });
  assert.equal(cast(counter, "add", { n: 7 }), 0);
  ok(counter, "get", null, { count: 7 });
  assert.deepEqual(state(counter), { count: 7 });
  const s = pack({ count: 42 });
  assert.equal(counter.call(s, (p, n) => counter.inst.exports.px_set_state(p, n)), 0);
  ok(counter, "get", null, { count: 42 });
  assert.notEqual(counter.call(pack([1]), (p, n) => counter.inst.exports.px_set_state(p, n)), 0);
  err(counter, "nope", null, "unknown_call");
  assert.equal(cast(counter, "nope", null), 0);
  const c2 = newActor("counter", "counter", { start: 9 });
  ok(c2, "get", null, { count: 9 });
  // long keys and strings: map16/str8 on the wire
  const big = { n: 1 };
  for (let i = 0; i < 40; i++) big["k".repeat(i + 1)] = "v".repeat(300);
  ok(counter, "add", big, { count: 43 });
});

t("bad input never traps", () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 3000; i++) {
    const n = rnd() % 40;
    const junk = Uint8Array.from({ length: n }, () => rnd() & 0xff);
    if (i % 3 === 0 && n) junk[0] = 0x80 | (rnd() & 15); // a fixmap head
    const [rc] = deliver(counter, 1, "", ["add", "get", "x"][i % 3], junk);
    assert.notEqual(rc, "trap", `payload ${Buffer.from(junk).toString("hex")}`);
  }
  for (const junk of [[], [0xc1], [0x81], [0xdf, 0xff, 0xff, 0xff, 0xff], [0x81, 0xa1, 0x6e]]) {
    const a = newActor("counter", "counter", {});
    assert.equal(a.call(Uint8Array.from(junk), (p, n) => a.inst.exports.px_init(p, n)) !== 0, true);
  }
});

const alpha = newActor("agent", "agent", { name: "alpha" });
const beta = newActor("agent", "agent", { name: "beta" });
t("agent", () => {
  assert.equal(alpha.initRc, 0);
  ok(alpha, "whoami", null, { name: "alpha", id: alpha.id });
  ok(alpha, "lookup", { name: "beta" }, { id: beta.id });
  err(alpha, "lookup", { name: "gamma" }, "not_found");
  ok(alpha, "ask_peer", { name: "beta", type: "whoami", payload: null }, { reply: { name: "beta", id: beta.id } });
  ok(alpha, "ask_peer", { name: "beta", type: "echo", payload: [1, "two", { three: 3.5 }] }, { reply: [1, "two", { three: 3.5 }] });
  err(alpha, "ask_peer", { name: "gamma", type: "whoami", payload: null }, "not_found");
  err(alpha, "ask_peer", { name: "beta", type: "lookup", payload: { name: "nobody" } }, "remote");
  ok(alpha, "kv_incr", { key: "k", by: 2 }, { value: 2 });
  ok(alpha, "kv_incr", { key: "k", by: 3 }, { value: 5 });
  ok(alpha, "kv_put", { key: "p", value: { deep: [1, 2] } }, { ok: true });
  ok(beta, "kv_get", { key: "p" }, { value: { deep: [1, 2] } });
  err(alpha, "kv_get", { key: "missing" }, "not_found");
  ok(alpha, "sleep", { ms: 5 }, { slept: 5 });
  const payload = { a: [1, -1, 1.5, true, false, null, "x".repeat(40)], b: new Uint8Array([1, 2, 3]) };
  ok(alpha, "echo", payload, payload);
  ok(alpha, "echo", "just a string", "just a string");
  const info = call(alpha, "info");
  assert.equal(info.rc, 0);
  assert.equal(info.v.random_len, 16);
  assert.ok(Math.abs(info.v.now_ms - Date.now()) < 5000);
  ok(alpha, "log", { msg: "hello from C" }, { ok: true });
  assert.ok(stdout.join("").includes("hello from C\n"), "stdout");
  assert.deepEqual(logs.at(-1), [1, "hello from C"]);
  ok(alpha, "metric", { name: "jobs_done", delta: 2.5 }, { ok: true });
  assert.equal(metrics.get("jobs_done"), 2.5);
  err(alpha, "metric", { name: "Bad Name", delta: 1 }, "invalid");
  ok(alpha, "fetch", { link: "echo", path: "/x?y=1" }, { status: 200, body: "GET /x?y=1" });
  err(alpha, "fetch", { link: "other", path: "/" }, "not_permitted");
  const sp = call(alpha, "spawn_counter", {});
  assert.equal(sp.rc, 0);
  ok(alpha, "ask_id", { id: sp.v.id, type: "get", payload: null }, { reply: { count: 100 } });
  ok(alpha, "ask_id", { id: sp.v.id, type: "add", payload: { n: 1 } }, { reply: { count: 101 } });
  err(alpha, "ask_id", { id: "<9.9.9>", type: "get", payload: null }, "no_proc");
  err(alpha, "nope", {}, "unknown_call");
  // a new incarnation of alpha takes the name over
  const alpha2 = newActor("agent", "agent", { name: "alpha" });
  ok(beta, "lookup", { name: "alpha" }, { id: alpha2.id });
  assert.equal(space.filter((x) => x[1] === "alpha").length, 1);
  const dflt = newActor("agent", "agent", {});
  ok(dflt, "whoami", null, { name: "agent", id: dflt.id });
});

t("crasher", () => {
  const c = newActor("crasher", "crasher", {});
  ok(c, "ping", null, { pong: true, starts: 1 });
  const c2 = newActor("crasher", "crasher", {});
  ok(c2, "ping", null, { pong: true, starts: 2 });
  ok(c, "grow", { mb: 8 }, { ok: true });
  ok(c, "grow", { mb: 5000 }, { ok: false });
  const r = call(c, "crash");
  assert.ok(r.trap && /unreachable/.test(r.trap), JSON.stringify(r));
});

t("roles", () => {
  assert.notEqual(newActor("nobody", "nobody", {}).initRc, 0);
  assert.deepEqual(logs.at(-1), [3, 'no actor for role "nobody", actor_type "nobody"']);
  // no role given by the config: the actor_type picks it
  const byType = newActor("worker", "counter", { start: 3 });
  assert.equal(byType.initRc, 0);
  ok(byType, "get", null, { count: 3 });
});

console.log(`mock host: ${checks} groups ok (${wasmPath})`);
