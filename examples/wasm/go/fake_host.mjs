// A fake plexspaces host in Node.js for trying a guest module without a
// node: the ABI v1 imports over in-memory kv and tuple space, WASI from
// node:wasi, and the example app's protocol checked call by call.
//   node examples/wasm/go/fake_host.mjs OUT.wasm
// (asks are served synchronously by the other instance; timers, links and
// monitors are stubs; memory has no limit unless the module declares one.)
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import assert from 'node:assert/strict';

// --- tiny msgpack ---
function enc(v, out = []) {
  const u8 = (...b) => out.push(...b);
  if (v === null || v === undefined) u8(0xc0);
  else if (v === true) u8(0xc3); else if (v === false) u8(0xc2);
  else if (typeof v === 'number' && Number.isInteger(v)) {
    if (v >= 0 && v < 128) u8(v); else if (v < 0 && v >= -32) u8(v & 0xff);
    else { const b = Buffer.alloc(9); b[0] = 0xd3; b.writeBigInt64BE(BigInt(v), 1); u8(...b); }
  } else if (typeof v === 'number') { const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(v, 1); u8(...b); }
  else if (typeof v === 'string') { const s = Buffer.from(v); if (s.length < 32) u8(0xa0 | s.length); else { u8(0xda, s.length >> 8, s.length & 255); } u8(...s); }
  else if (v instanceof Uint8Array) { u8(0xc4, v.length); u8(...v); }
  else if (Array.isArray(v)) { u8(0x90 | v.length); v.forEach(x => enc(x, out)); }
  else if (v.atom) { const s = Buffer.from(v.atom); u8(0xc7, s.length, 1); u8(...s); }
  else { const ks = Object.keys(v); u8(0x80 | ks.length); ks.forEach(k => { enc(k, out); enc(v[k], out); }); }
  return out;
}
const E = v => Uint8Array.from(enc(v));
function dec(b) {
  let i = 0; b = Buffer.from(b);
  const str = n => { const s = b.subarray(i, i + n).toString(); i += n; return s; };
  const arr = n => { const a = []; for (let k = 0; k < n; k++) a.push(one()); return a; };
  const map = n => { const m = {}; for (let k = 0; k < n; k++) { const key = one(); m[key] = one(); } return m; };
  function one() {
    const c = b[i++];
    if (c < 0x80) return c; if (c >= 0xe0) return c - 256;
    if ((c & 0xf0) === 0x80) return map(c & 15); if ((c & 0xf0) === 0x90) return arr(c & 15);
    if ((c & 0xe0) === 0xa0) return str(c & 31);
    switch (c) {
      case 0xc0: return null; case 0xc2: return false; case 0xc3: return true;
      case 0xc4: { const n = b[i++]; const r = b.subarray(i, i + n); i += n; return { bin: Buffer.from(r).toString() }; }
      case 0xcc: return b[i++]; case 0xcd: { const v = b.readUInt16BE(i); i += 2; return v; }
      case 0xce: { const v = b.readUInt32BE(i); i += 4; return v; }
      case 0xcf: { const v = b.readBigUInt64BE(i); i += 8; return Number(v); }
      case 0xd0: return b.readInt8(i++); case 0xd1: { const v = b.readInt16BE(i); i += 2; return v; }
      case 0xd2: { const v = b.readInt32BE(i); i += 4; return v; }
      case 0xd3: { const v = b.readBigInt64BE(i); i += 8; return Number(v); }
      case 0xca: { const v = b.readFloatBE(i); i += 4; return v; }
      case 0xcb: { const v = b.readDoubleBE(i); i += 8; return v; }
      case 0xd9: return str(b[i++]); case 0xda: { const n = b.readUInt16BE(i); i += 2; return str(n); }
      case 0xdc: { const n = b.readUInt16BE(i); i += 2; return arr(n); }
      case 0xde: { const n = b.readUInt16BE(i); i += 2; return map(n); }
    }
    throw new Error('dec code ' + c.toString(16));
  }
  return one();
}

// --- host ---
const mod = new WebAssembly.Module(readFileSync(process.argv[2]));
const kv = new Map(); let tuples = []; const actors = new Map(); let nextId = 1;
const logs = []; const metrics = {};
const S = { NOT_FOUND: -2, TIMEOUT: -3, INVALID: -4, NO_PROC: -7, CONFLICT: -9, REMOTE: -10 };
const match = (t, tm) => t.length === tm.length && tm.every((f, k) => f === null || f === t[k]);

function spawn(role, actorType, args) {
  const id = `<0.${nextId++}.1>`;
  const a = { id, result: new Uint8Array(0), reply: null };
  const wasi = new WASI({ version: 'preview1', returnOnExit: false });
  const mem = () => new Uint8Array(a.inst.exports.memory.buffer);
  const rd = (p, n) => mem().slice(p, p + n);
  const rs = (p, n) => Buffer.from(rd(p, n)).toString();
  const setRes = bytes => { a.result = Uint8Array.from(bytes); return a.result.length; };
  const host = {
    send(tp, tl, yp, yl, pp, pl) { const t = actors.get(rs(tp, tl)); if (!t) return S.NO_PROC; t.call(2, a.id, rs(yp, yl), rd(pp, pl)); return 0; },
    ask(tp, tl, yp, yl, pp, pl, to) {
      const t = actors.get(rs(tp, tl)); if (!t) return S.NO_PROC;
      const [rc, rep] = t.call(1, a.id, rs(yp, yl), rd(pp, pl));
      setRes(rep); return rc === 0 ? rep.length : S.REMOTE;
    },
    reply(p, n) { a.reply = rd(p, n); return 0; },
    self_id() { return setRes(Buffer.from(a.id)); },
    spawn(rp, rl, ap, al) { const r = rs(rp, rl); const x = spawn(r, r, al ? dec(rd(ap, al)) : {}); return setRes(Buffer.from(x.id)); },
    stop: () => 0, link: () => 0, unlink: () => 0, monitor: () => 1n, demonitor: () => 0, send_after: () => 1n, cancel_timer: () => 0,
    sleep(ms) { return 0; },
    log(l, p, n) { logs.push([l, rs(p, n)]); return 0; },
    now_ms: () => BigInt(Date.now()),
    random(p, n) { mem().fill(7, p, p + n); return 0; },
    metrics_add(p, n, d) { metrics[rs(p, n)] = (metrics[rs(p, n)] || 0) + d; return 0; },
    result_read(p, n) { const k = Math.min(n, a.result.length); mem().set(a.result.subarray(0, k), p); return k; },
    kv_get(p, n) { const v = kv.get(rs(p, n)); if (!v) return S.NOT_FOUND; return setRes(v); },
    kv_put(p, n, vp, vl, ttl) { kv.set(rs(p, n), rd(vp, vl)); return 0; },
    kv_delete(p, n) { kv.delete(rs(p, n)); return 0; },
    kv_list(p, n) { return setRes(E([...kv.keys()].filter(k => k.startsWith(rs(p, n))).sort())); },
    kv_cas: () => 0,
    kv_increment(p, n, d, out) { const k = rs(p, n); const cur = kv.has(k) ? dec(kv.get(k)) : 0; const nv = cur + Number(d); kv.set(k, E(nv)); new DataView(a.inst.exports.memory.buffer).setBigInt64(out, BigInt(nv), true); return 0; },
    kv_ttl: () => 0n,
    ts_write(p, n) { tuples.push(dec(rd(p, n))); return 0; },
    ts_read(p, n) { const tm = dec(rd(p, n)); const t = tuples.find(t => match(t, tm)); if (!t) return S.TIMEOUT; return setRes(E(t)); },
    ts_take: () => S.TIMEOUT, ts_read_all: () => setRes(E([])), ts_count: () => 0n,
    ts_write_if_absent(mp, ml, tp, tl) { const tm = dec(rd(mp, ml)); if (tuples.some(t => match(t, tm))) return S.CONFLICT; tuples.push(dec(rd(tp, tl))); return 0; },
    ts_replace(mp, ml, tp, tl) { const tm = dec(rd(mp, ml)); const k = tuples.findIndex(t => match(t, tm)); if (k < 0) return S.TIMEOUT; const old = tuples[k]; tuples[k] = dec(rd(tp, tl)); return setRes(E(old)); },
    http_fetch(lp, ll, mp, ml, pp, pl) { if (rs(lp, ll) !== 'web') return -5; return setRes(E({ status: 200, body: Buffer.from('hello ' + rs(mp, ml) + ' ' + rs(pp, pl)) })); },
  };
  a.inst = new WebAssembly.Instance(mod, { plexspaces: host, wasi_snapshot_preview1: { ...wasi.wasiImport, proc_exit(c) { console.log('proc_exit called', c); throw new Error('exit ' + c); } } });
  wasi.initialize(a.inst);
  const X = a.inst.exports;
  const put = bytes => { const p = X.px_alloc(bytes.length); mem().set(bytes, p); return [p, bytes.length]; };
  a.call = (kind, from, type, payload) => {
    a.reply = null;
    const [fp, fl] = put(Buffer.from(from)), [tp, tl] = put(Buffer.from(type)), [pp, pl] = put(payload);
    const rc = X.px_handle(kind, fp, fl, tp, tl, pp, pl);
    X.px_free(fp, fl); X.px_free(tp, tl); X.px_free(pp, pl);
    return [rc, a.reply ?? E(null)];
  };
  a.c = (type, payload = {}) => { const [rc, r] = a.call(1, 'test', type, E(payload)); return [rc, dec(r)]; };
  const [ip, il] = put(E({ role, actor_type: actorType, id, args }));
  const rc = X.px_init(ip, il); X.px_free(ip, il);
  if (rc !== 0) throw new Error('init failed ' + rc);
  actors.set(id, a);
  return a;
}

const pages = a => a.inst.exports.memory.buffer.byteLength / 65536;
const c = spawn('counter', 'counter', { start: 5 });
assert.deepEqual(c.c('add', { n: 3 }), [0, { count: 8 }]);
c.call(2, '', 'add', E({ n: 2 }));
assert.deepEqual(c.c('get'), [0, { count: 10 }]);
assert.deepEqual(c.c('nope'), [1, { error: 'unknown_call' }]);
const st = c.inst.exports.px_get_state(); const sp = Number(st >> 32n), sl = Number(st & 0xffffffffn);
assert.deepEqual(dec(new Uint8Array(c.inst.exports.memory.buffer).slice(sp, sp + sl)), { count: 10 });
{ const b = E({ count: 77 }); const p = c.inst.exports.px_alloc(b.length); new Uint8Array(c.inst.exports.memory.buffer).set(b, p);
  assert.equal(c.inst.exports.px_set_state(p, b.length), 0); }
assert.deepEqual(c.c('get'), [0, { count: 77 }]);
assert.equal(c.inst.exports.px_abi_version(), 1);
const c0 = spawn('counter', 'counter', {});
assert.deepEqual(c0.c('get'), [0, { count: 0 }]);

const ag = spawn('agent', 'agent', { name: 'alpha' });
assert.deepEqual(ag.c('whoami'), [0, { name: 'alpha', id: ag.id }]);
const ag2 = spawn('agent', 'agent', { name: 'alpha' }); // re-registration replaces
assert.deepEqual(ag.c('lookup', { name: 'alpha' }), [0, { id: ag2.id }]);
assert.equal(tuples.length, 1);
assert.deepEqual(ag.c('lookup', { name: 'zz' }), [1, { error: 'not_found' }]);
const beta = spawn('agent', 'agent', { name: 'beta' });
assert.deepEqual(ag.c('ask_peer', { name: 'beta', type: 'whoami', payload: {} }), [0, { reply: { name: 'beta', id: beta.id } }]);
assert.deepEqual(ag.c('ask_peer', { name: 'beta', type: 'lookup', payload: { name: 'qq' } }), [1, { error: 'remote' }]);
assert.deepEqual(ag.c('ask_peer', { name: 'gone', type: 'whoami', payload: {} }), [1, { error: 'not_found' }]);
assert.deepEqual(ag.c('kv_incr', { key: 'k', by: 5 }), [0, { value: 5 }]);
assert.deepEqual(ag.c('kv_incr', { key: 'k', by: -7 }), [0, { value: -2 }]);
assert.deepEqual(ag.c('kv_put', { key: 'x', value: [1, 'two', { three: 3.5 }] }), [0, { ok: true }]);
assert.deepEqual(ag.c('kv_get', { key: 'x' }), [0, { value: [1, 'two', { three: 3.5 }] }]);
assert.deepEqual(ag.c('kv_get', { key: 'nope' }), [1, { error: 'not_found' }]);
assert.deepEqual(ag.c('sleep', { ms: 10 }), [0, { slept: 10 }]);
const big = { a: [1, 2, { b: null, c: true }], s: 'x'.repeat(300), f: -1.25, n: -100000 };
assert.deepEqual(ag.c('echo', big), [0, big]);
{ const raw = E('plain'); const [rc, r] = ag.call(1, 'x', 'echo', raw); assert.equal(rc, 0); assert.deepEqual([...r], [...raw]); }
const info = ag.c('info'); assert.equal(info[0], 0); assert.equal(info[1].random_len, 16); assert.ok(Math.abs(info[1].now_ms - Date.now()) < 5000);
assert.deepEqual(ag.c('log', { msg: 'hello from go' }), [0, { ok: true }]);
assert.deepEqual(logs.at(-1), [1, 'hello from go']);
assert.deepEqual(ag.c('metric', { name: 'jobs', delta: 2.5 }), [0, { ok: true }]); assert.equal(metrics.jobs, 2.5);
assert.deepEqual(ag.c('fetch', { link: 'web', path: '/p' }), [0, { status: 200, body: 'hello GET /p' }]);
assert.deepEqual(ag.c('fetch', { link: 'nope', path: '/p' }), [1, { error: 'not_permitted' }]);
const sc = ag.c('spawn_counter'); assert.equal(sc[0], 0);
assert.deepEqual(ag.c('ask_id', { id: sc[1].id, type: 'add', payload: { n: 1 } }), [0, { reply: { count: 101 } }]);
assert.deepEqual(ag.c('ask_id', { id: '<9.9.9>', type: 'get', payload: {} }), [1, { error: 'no_proc' }]);

const cr = spawn('crasher', 'crasher', {});
assert.deepEqual(cr.c('ping'), [0, { pong: true, starts: 1 }]);
const cr2 = spawn('crasher', 'crasher', {});
assert.deepEqual(cr2.c('ping'), [0, { pong: true, starts: 2 }]);
assert.deepEqual(cr.c('grow', { mb: 8 }), [0, { ok: true }]);
assert.throws(() => cr.c('crash'), WebAssembly.RuntimeError);
assert.throws(() => spawn('nobody', 'x', {}), /init failed -2/);
assert.deepEqual(ag.c('metric', { name: 'jobs', delta: 3 }), [0, { ok: true }]); assert.equal(metrics.jobs, 5.5);
assert.deepEqual(ag.c('kv_incr', { key: 'k' }), [0, { value: -1 }]);
assert.deepEqual(ag.c('lookup', 5), [1, { error: 'invalid' }]);
console.log('fake host: all checks passed');
