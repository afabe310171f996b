// Drives the example module under node with a small mock of the node's
// "plexspaces" imports (ABI version 1), until the real wasmtime host can run
// it. Not a substitute for the host's tests: it checks the guest side
// (exports, MessagePack, the result protocol, handlers).
//   ./build.sh build/app.wasm && node --test test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode, decode, ExtensionCodec } from "@msgpack/msgpack";

const here = dirname(fileURLToPath(import.meta.url));
const wasmPath = process.env.PX_AS_WASM || join(here, "..", "build", "app.wasm");
if (!process.env.PX_AS_WASM || !existsSync(wasmPath)) {
  execFileSync(join(here, "..", "build.sh"), [wasmPath], { stdio: "inherit" });
}
const module = new WebAssembly.Module(readFileSync(wasmPath));

const ERR = { NOT_FOUND: -2, INVALID: -4, NO_PROC: -7, CONFLICT: -9, REMOTE: -10 };

const codec = new ExtensionCodec();
const enc = (v) => encode(v, { extensionCodec: codec, forceIntegerToFloat: false });
const dec = (b) => decode(b, { extensionCodec: codec, useBigInt64: false });

/** One mock node: actors by id, a KV map, a tuple list, logs, stdout. */
class Node {
  constructor() {
    this.actors = new Map();
    this.kv = new Map();
    this.tuples = [];
    this.logs = [];
    this.stdout = "";
    this.next = 1;
  }

  start(role, args) {
    const id = `<0.${this.next++}.1>`;
    const a = new Instance(this, id);
    const rc = a.init({ role, actor_type: role, id, args: args ?? {} });
    if (rc !== 0) throw new Error(`init ${role} failed: ${rc}`);
    this.actors.set(id, a);
    return a;
  }
}

function match(tmpl, tuple) {
  if (!Array.isArray(tuple) || tmpl.length !== tuple.length) return false;
  return tmpl.every((f, i) => f === null || JSON.stringify(f) === JSON.stringify(tuple[i]));
}

class Instance {
  constructor(node, id) {
    this.node = node;
    this.id = id;
    this.result = new Uint8Array(0);
    this.replyBytes = null;
    const self = this;
    const mem = () => new Uint8Array(self.exports.memory.buffer);
    const bytes = (p, n) => mem().slice(p, p + n);
    const str = (p, n) => new TextDecoder().decode(bytes(p, n));
    const val = (p, n) => dec(bytes(p, n));
    const setResult = (b) => {
      self.result = b;
      return b.length;
    };
    const setValue = (v) => setResult(enc(v));
    const kv = node.kv;
    const imports = {
      plexspaces: {
        send: (to, tl, ty, tyl, p, pl) => {
          const a = node.actors.get(str(to, tl));
          if (!a) return ERR.NO_PROC;
          a.handle(2, self.id, str(ty, tyl), bytes(p, pl));
          return 0;
        },
        ask: (to, tl, ty, tyl, p, pl, _timeout) => {
          const a = node.actors.get(str(to, tl));
          if (!a) return ERR.NO_PROC;
          const [rc, reply] = a.handle(1, self.id, str(ty, tyl), bytes(p, pl));
          self.result = reply ?? enc(null);
          return rc === 1 ? ERR.REMOTE : self.result.length;
        },
        reply: (p, pl) => {
          self.replyBytes = bytes(p, pl);
          return 0;
        },
        self_id: () => setResult(new TextEncoder().encode(self.id)),
        spawn: (r, rl, a, al) => setResult(new TextEncoder().encode(node.start(str(r, rl), al ? val(a, al) : {}).id)),
        stop: () => 0, link: () => 0, unlink: () => 0,
        monitor: () => 1n, demonitor: () => 0,
        send_after: () => 7n, cancel_timer: () => 0, sleep: () => 0,
        log: (lvl, p, n) => {
          node.logs.push([lvl, str(p, n)]);
          return 0;
        },
        now_ms: () => BigInt(Date.now()),
        random: (p, n) => {
          mem().fill(0xab, p, p + n);
          return 0;
        },
        metrics_add: (p, n, d) => (typeof d === "number" && /^[a-z0-9_]{1,64}$/.test(str(p, n)) ? 0 : ERR.INVALID),
        result_read: (p, n) => {
          const k = Math.min(n, self.result.length);
          mem().set(self.result.subarray(0, k), p);
          return k;
        },
        kv_get: (k, kl) => (kv.has(str(k, kl)) ? setResult(kv.get(str(k, kl))) : ERR.NOT_FOUND),
        kv_put: (k, kl, v, vl) => {
          kv.set(str(k, kl), bytes(v, vl));
          return 0;
        },
        kv_delete: (k, kl) => (kv.delete(str(k, kl)), 0),
        kv_list: (p, pl) => setValue([...kv.keys()].filter((k) => k.startsWith(str(p, pl))).sort()),
        kv_cas: () => 0,
        kv_increment: (k, kl, d, out) => {
          const key = str(k, kl);
          const cur = kv.has(key) ? BigInt(dec(kv.get(key))) : 0n;
          const nv = cur + d;
          kv.set(key, enc(Number(nv)));
          new DataView(self.exports.memory.buffer).setBigInt64(out, nv, true);
          return 0;
        },
        kv_ttl: () => 0n,
        ts_write: (t, tl) => (node.tuples.push(val(t, tl)), 0),
        ts_read: (m, ml) => {
          const t = node.tuples.find((x) => match(val(m, ml), x));
          return t ? setValue(t) : ERR.NOT_FOUND;
        },
        ts_take: () => ERR.NOT_FOUND,
        ts_read_all: (m, ml) => setValue(node.tuples.filter((x) => match(val(m, ml), x))),
        ts_count: () => BigInt(node.tuples.length),
        ts_write_if_absent: (m, ml, t, tl) => {
          if (node.tuples.some((x) => match(val(m, ml), x))) return ERR.CONFLICT;
          node.tuples.push(val(t, tl));
          return 0;
        },
        ts_replace: (m, ml, t, tl) => {
          const i = node.tuples.findIndex((x) => match(val(m, ml), x));
          if (i < 0) return ERR.NOT_FOUND;
          const old = node.tuples[i];
          node.tuples[i] = val(t, tl);
          return setValue(old);
        },
        http_fetch: (l, ll, m, ml, p, pl) => {
          if (str(l, ll) !== "web") return -5;
          return setValue({ status: 200, body: new TextEncoder().encode(`${str(m, ml)} ${str(p, pl)}`) });
        },
      },
      wasi_snapshot_preview1: {
        fd_write: (fd, iovs, n, nw) => {
          const dv = new DataView(self.exports.memory.buffer);
          let total = 0;
          for (let i = 0; i < n; i++) {
            const p = dv.getUint32(iovs + 8 * i, true);
            const l = dv.getUint32(iovs + 8 * i + 4, true);
            if (fd === 1) node.stdout += str(p, l);
            total += l;
          }
          dv.setUint32(nw, total, true);
          return 0;
        },
      },
    };
    this.exports = new WebAssembly.Instance(module, imports).exports;
  }

  /** Copies bytes into a px_alloc buffer, runs fn(ptr, len), frees it. */
  withBuf(b, fn) {
    const p = this.exports.px_alloc(b.length);
    assert.notEqual(p, 0);
    new Uint8Array(this.exports.memory.buffer).set(b, p);
    try {
      return fn(p, b.length);
    } finally {
      this.exports.px_free(p, b.length);
    }
  }

  init(v) {
    return this.withBuf(enc(v), (p, n) => this.exports.px_init(p, n));
  }

  handle(kind, from, type, payloadBytes) {
    this.replyBytes = null;
    const f = new TextEncoder().encode(from);
    const t = new TextEncoder().encode(type);
    const rc = this.withBuf(f, (fp, fl) =>
      this.withBuf(t, (tp, tl) => this.withBuf(payloadBytes, (pp, pl) => this.exports.px_handle(kind, fp, fl, tp, tl, pp, pl))),
    );
    return [rc, this.replyBytes];
  }

  call(type, payload = {}) {
    const [rc, reply] = this.handle(1, "", type, enc(payload));
    return { rc, value: reply ? dec(reply) : null };
  }

  cast(type, payload = {}) {
    return this.handle(2, "", type, enc(payload))[0];
  }

  getState() {
    const packed = BigInt.asUintN(64, this.exports.px_get_state());
    if (packed === 0n) return null;
    const p = Number(packed >> 32n);
    const n = Number(packed & 0xffffffffn);
    return dec(new Uint8Array(this.exports.memory.buffer).slice(p, p + n));
  }

  setState(v) {
    return this.withBuf(enc(v), (p, n) => this.exports.px_set_state(p, n));
  }
}

test("exports and ABI version", () => {
  const names = WebAssembly.Module.exports(module).map((e) => e.name).sort();
  assert.deepEqual(names, ["memory", "px_abi_version", "px_alloc", "px_free", "px_get_state", "px_handle", "px_init", "px_set_state"]);
  for (const i of WebAssembly.Module.imports(module)) {
    assert.ok(i.module === "plexspaces" || i.module === "wasi_snapshot_preview1", `${i.module}.${i.name}`);
  }
  const n = new Node();
  assert.equal(n.start("counter").exports.px_abi_version(), 1);
});

test("counter", () => {
  const n = new Node();
  const c = n.start("counter", { start: 5 });
  assert.deepEqual(c.call("get"), { rc: 0, value: { count: 5 } });
  assert.deepEqual(c.call("add", { n: 3 }), { rc: 0, value: { count: 8 } });
  assert.equal(c.cast("add", { n: 2 }), 0);
  assert.deepEqual(c.call("get").value, { count: 10 });
  assert.deepEqual(c.getState(), { count: 10 });
  assert.equal(c.setState({ count: 42 }), 0);
  assert.deepEqual(c.call("get").value, { count: 42 });
  assert.notEqual(c.setState("nope"), 0);
  assert.deepEqual(c.call("nope"), { rc: 1, value: { error: "unknown_call" } });
  assert.deepEqual(c.call("add", { m: 1 }), { rc: 1, value: { error: "invalid" } });
  assert.deepEqual(n.start("counter").call("get").value, { count: 0 });
  // A big count round-trips as a 64-bit integer.
  assert.equal(c.setState({ count: 2 ** 40 }), 0);
  assert.deepEqual(c.call("add", { n: -1 }).value, { count: 2 ** 40 - 1 });
});

test("unknown role fails init", () => {
  const n = new Node();
  const a = new Instance(n, "<0.99.1>");
  assert.notEqual(a.init({ role: "nobody", actor_type: "nobody", id: "x", args: {} }), 0);
  assert.notEqual(a.withBuf(enc([1, 2]), (p, l) => a.exports.px_init(p, l)), 0);
});

test("agent", () => {
  const n = new Node();
  n.kv.clear();
  const a = n.start("agent", { name: "alpha" });
  assert.deepEqual(a.call("whoami").value, { name: "alpha", id: a.id });
  assert.deepEqual(n.tuples, [["agent", "alpha", a.id]]);
  // A second incarnation replaces the entry.
  const a2 = n.start("agent", { name: "alpha" });
  assert.deepEqual(n.tuples, [["agent", "alpha", a2.id]]);
  const b = n.start("agent", { name: "beta" });
  assert.deepEqual(b.call("lookup", { name: "alpha" }).value, { id: a2.id });
  assert.deepEqual(b.call("lookup", { name: "zed" }), { rc: 1, value: { error: "not_found" } });
  assert.deepEqual(b.call("lookup", {}), { rc: 1, value: { error: "invalid" } });
  assert.deepEqual(b.call("kv_get", { key: 1 }), { rc: 1, value: { error: "invalid" } });
  assert.deepEqual(n.start("agent").call("whoami").value.name, "agent");

  assert.deepEqual(b.call("ask_peer", { name: "alpha", type: "whoami", payload: {} }).value, {
    reply: { name: "alpha", id: a2.id },
  });
  assert.deepEqual(b.call("ask_peer", { name: "alpha", type: "nope", payload: null }), { rc: 1, value: { error: "remote" } });
  assert.deepEqual(b.call("ask_peer", { name: "zed", type: "whoami", payload: {} }), { rc: 1, value: { error: "not_found" } });

  assert.deepEqual(b.call("kv_incr", { key: "k", by: 5 }).value, { value: 5 });
  assert.deepEqual(b.call("kv_incr", { key: "k", by: -2 }).value, { value: 3 });
  assert.deepEqual(b.call("kv_put", { key: "p", value: { x: [1, "two", null, 2.5] } }).value, { ok: true });
  assert.deepEqual(b.call("kv_get", { key: "p" }).value, { value: { x: [1, "two", null, 2.5] } });
  assert.deepEqual(b.call("kv_get", { key: "missing" }), { rc: 1, value: { error: "not_found" } });
  assert.deepEqual(b.call("sleep", { ms: 3 }).value, { slept: 3 });

  const payload = { s: "héllo ✓", big: 2 ** 53 - 1, neg: -1234567890123, f: 0.125, bin: new Uint8Array([1, 2, 3]), nested: [[[]], {}], t: true };
  const [rc, raw] = b.handle(1, "", "echo", enc(payload));
  assert.equal(rc, 0);
  assert.deepEqual(raw, enc(payload));

  const [rc0, raw0] = b.handle(1, "", "echo", new Uint8Array(0));
  assert.equal(rc0, 0);
  assert.deepEqual(raw0, enc(null));

  const info = b.call("info").value;
  assert.equal(info.random_len, 16);
  assert.ok(Math.abs(info.now_ms - Date.now()) < 10000);

  assert.deepEqual(b.call("log", { msg: "hello out" }).value, { ok: true });
  assert.ok(n.logs.some(([l, m]) => l === 1 && m === "hello out"));
  assert.equal(n.stdout, "hello out\n");

  assert.deepEqual(b.call("metric", { name: "jobs_done", delta: 2.5 }).value, { ok: true });
  assert.deepEqual(b.call("metric", { name: "Bad Name", delta: 1 }), { rc: 1, value: { error: "invalid" } });

  assert.deepEqual(b.call("fetch", { link: "web", path: "/x" }).value, { status: 200, body: "GET /x" });
  assert.deepEqual(b.call("fetch", { link: "nope", path: "/" }), { rc: 1, value: { error: "not_permitted" } });

  const sp = b.call("spawn_counter", {}).value;
  assert.match(sp.id, /^<0\.\d+\.1>$/);
  assert.deepEqual(b.call("ask_id", { id: sp.id, type: "get", payload: {} }).value, { reply: { count: 100 } });
  assert.deepEqual(b.call("ask_id", { id: sp.id, type: "add", payload: { n: 1 } }).value, { reply: { count: 101 } });
  assert.deepEqual(b.call("ask_id", { id: "<9.9.9>", type: "get", payload: {} }), { rc: 1, value: { error: "no_proc" } });
  assert.equal(b.cast("whatever"), 0);
});

test("crasher", () => {
  const n = new Node();
  const c = n.start("crasher");
  assert.deepEqual(c.call("ping").value, { pong: true, starts: 1 });
  assert.throws(() => c.call("crash"), WebAssembly.RuntimeError);
  const c2 = n.start("crasher");
  assert.deepEqual(c2.call("ping").value, { pong: true, starts: 2 });
  assert.deepEqual(c2.call("grow", { mb: 2 }).value, { ok: true });
  assert.deepEqual(c2.call("grow", { mb: 1 }).value, { ok: true });
  assert.deepEqual(c2.call("grow", { mb: 100000 }).value, { ok: false });
  assert.deepEqual(c2.call("ping").value, { pong: true, starts: 2 });
  // "spin" never returns: not run here (node has no CPU limit to stop it).
});

test("malformed payload", () => {
  const n = new Node();
  const c = n.start("counter");
  // A payload that is not MessagePack decodes as nil: handlers still run.
  const [rc] = c.handle(1, "", "get", new Uint8Array([0xc1]));
  assert.equal(rc, 0);
});

test("random bytes never trap the decoder", () => {
  const n = new Node();
  const c = n.start("counter", { start: 1 });
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let i = 0; i < 3000; i++) {
    const b = new Uint8Array(1 + (rnd() % 40)).map(() => rnd() & 0xff);
    if (i % 3 === 0) b[0] = [0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xdb, 0xc9][rnd() % 7];
    c.handle(1, "", "get", b);
    const p = c.withBuf(b, (ptr, len) => c.exports.px_set_state(ptr, len));
    assert.ok(p === 0 || p < 0);
  }
  assert.equal(typeof c.call("get").value.count, "number");
});
