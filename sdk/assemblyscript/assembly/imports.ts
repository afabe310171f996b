// The raw host imports of ABI version 1 (docs/wasm-abi.md, module
// "plexspaces"). Pointers and lengths are i32 (usize/i32 on wasm32), the
// 64-bit arguments and results are i64, metrics_add's delta is f64.
// Application code uses the wrappers in host.ts instead.

// ---- actors ----

@external("plexspaces", "send")
export declare function send(to: usize, toLen: i32, type: usize, typeLen: i32, payload: usize, payloadLen: i32): i32;

@external("plexspaces", "ask")
export declare function ask(to: usize, toLen: i32, type: usize, typeLen: i32, payload: usize, payloadLen: i32, timeoutMs: i64): i32;

@external("plexspaces", "reply")
export declare function reply(payload: usize, payloadLen: i32): i32;

@external("plexspaces", "self_id")
export declare function self_id(): i32;

@external("plexspaces", "spawn")
export declare function spawn(role: usize, roleLen: i32, args: usize, argsLen: i32): i32;

@external("plexspaces", "stop")
export declare function stop(id: usize, idLen: i32): i32;

@external("plexspaces", "link")
export declare function link(id: usize, idLen: i32): i32;

@external("plexspaces", "unlink")
export declare function unlink(id: usize, idLen: i32): i32;

@external("plexspaces", "monitor")
export declare function monitor(id: usize, idLen: i32): i64;

@external("plexspaces", "demonitor")
export declare function demonitor(ref: i64): i32;

@external("plexspaces", "send_after")
export declare function send_after(delayMs: i64, type: usize, typeLen: i32, payload: usize, payloadLen: i32): i64;

@external("plexspaces", "cancel_timer")
export declare function cancel_timer(timer: i64): i32;

@external("plexspaces", "sleep")
export declare function sleep(ms: i64): i32;

// ---- utilities ----

@external("plexspaces", "log")
export declare function log(level: i32, msg: usize, msgLen: i32): i32;

@external("plexspaces", "now_ms")
export declare function now_ms(): i64;

@external("plexspaces", "random")
export declare function random(buf: usize, len: i32): i32;

@external("plexspaces", "metrics_add")
export declare function metrics_add(name: usize, nameLen: i32, delta: f64): i32;

@external("plexspaces", "result_read")
export declare function result_read(buf: usize, len: i32): i32;

// ---- key-value store ----

@external("plexspaces", "kv_get")
export declare function kv_get(key: usize, keyLen: i32): i32;

@external("plexspaces", "kv_put")
export declare function kv_put(key: usize, keyLen: i32, value: usize, valueLen: i32, ttlMs: i64): i32;

@external("plexspaces", "kv_delete")
export declare function kv_delete(key: usize, keyLen: i32): i32;

@external("plexspaces", "kv_list")
export declare function kv_list(prefix: usize, prefixLen: i32): i32;

@external("plexspaces", "kv_cas")
export declare function kv_cas(key: usize, keyLen: i32, expected: usize, expectedLen: i32, value: usize, valueLen: i32, ttlMs: i64): i32;

@external("plexspaces", "kv_increment")
export declare function kv_increment(key: usize, keyLen: i32, delta: i64, out: usize): i32;

@external("plexspaces", "kv_ttl")
export declare function kv_ttl(key: usize, keyLen: i32): i64;

// ---- tuple space ----

@external("plexspaces", "ts_write")
export declare function ts_write(tuple: usize, tupleLen: i32, ttlMs: i64): i32;

@external("plexspaces", "ts_read")
export declare function ts_read(tmpl: usize, tmplLen: i32, timeoutMs: i64): i32;

@external("plexspaces", "ts_take")
export declare function ts_take(tmpl: usize, tmplLen: i32, timeoutMs: i64): i32;

@external("plexspaces", "ts_read_all")
export declare function ts_read_all(tmpl: usize, tmplLen: i32, limit: i32): i32;

@external("plexspaces", "ts_count")
export declare function ts_count(tmpl: usize, tmplLen: i32): i64;

@external("plexspaces", "ts_write_if_absent")
export declare function ts_write_if_absent(tmpl: usize, tmplLen: i32, tuple: usize, tupleLen: i32, ttlMs: i64): i32;

@external("plexspaces", "ts_replace")
export declare function ts_replace(tmpl: usize, tmplLen: i32, tuple: usize, tupleLen: i32, timeoutMs: i64): i32;

// ---- service links ----

@external("plexspaces", "http_fetch")
export declare function http_fetch(link: usize, linkLen: i32, method: usize, methodLen: i32, path: usize, pathLen: i32, body: usize, bodyLen: i32): i32;
