//go:build wasip1

package px

import "unsafe"

// The host imports of docs/wasm-abi.md, module "plexspaces", one for one.
// Pointers are unsafe.Pointer and lengths uint32 (both i32 in WebAssembly).

//go:wasmimport plexspaces send
func hostSend(to unsafe.Pointer, toLen uint32, typ unsafe.Pointer, typLen uint32, payload unsafe.Pointer, payloadLen uint32) int32

//go:wasmimport plexspaces ask
func hostAsk(to unsafe.Pointer, toLen uint32, typ unsafe.Pointer, typLen uint32, payload unsafe.Pointer, payloadLen uint32, timeoutMs int64) int32

//go:wasmimport plexspaces reply
func hostReply(payload unsafe.Pointer, payloadLen uint32) int32

//go:wasmimport plexspaces self_id
func hostSelfID() int32

//go:wasmimport plexspaces spawn
func hostSpawn(role unsafe.Pointer, roleLen uint32, args unsafe.Pointer, argsLen uint32) int32

//go:wasmimport plexspaces stop
func hostStop(id unsafe.Pointer, idLen uint32) int32

//go:wasmimport plexspaces link
func hostLink(id unsafe.Pointer, idLen uint32) int32

//go:wasmimport plexspaces unlink
func hostUnlink(id unsafe.Pointer, idLen uint32) int32

//go:wasmimport plexspaces monitor
func hostMonitor(id unsafe.Pointer, idLen uint32) int64

//go:wasmimport plexspaces demonitor
func hostDemonitor(ref int64) int32

//go:wasmimport plexspaces send_after
func hostSendAfter(delayMs int64, typ unsafe.Pointer, typLen uint32, payload unsafe.Pointer, payloadLen uint32) int64

//go:wasmimport plexspaces cancel_timer
func hostCancelTimer(timer int64) int32

//go:wasmimport plexspaces sleep
func hostSleep(ms int64) int32

//go:wasmimport plexspaces log
func hostLog(level int32, msg unsafe.Pointer, msgLen uint32) int32

//go:wasmimport plexspaces now_ms
func hostNowMs() int64

//go:wasmimport plexspaces random
func hostRandom(buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport plexspaces metrics_add
func hostMetricsAdd(name unsafe.Pointer, nameLen uint32, delta float64) int32

//go:wasmimport plexspaces result_read
func hostResultRead(buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport plexspaces kv_get
func hostKvGet(key unsafe.Pointer, keyLen uint32) int32

//go:wasmimport plexspaces kv_put
func hostKvPut(key unsafe.Pointer, keyLen uint32, value unsafe.Pointer, valueLen uint32, ttlMs int64) int32

//go:wasmimport plexspaces kv_delete
func hostKvDelete(key unsafe.Pointer, keyLen uint32) int32

//go:wasmimport plexspaces kv_list
func hostKvList(prefix unsafe.Pointer, prefixLen uint32) int32

//go:wasmimport plexspaces kv_cas
func hostKvCas(key unsafe.Pointer, keyLen uint32, expected unsafe.Pointer, expectedLen uint32, value unsafe.Pointer, valueLen uint32, ttlMs int64) int32

//go:wasmimport plexspaces kv_increment
func hostKvIncrement(key unsafe.Pointer, keyLen uint32, delta int64, out unsafe.Pointer) int32

//go:wasmimport plexspaces kv_ttl
func hostKvTTL(key unsafe.Pointer, keyLen uint32) int64

//go:wasmimport plexspaces ts_write
func hostTsWrite(tuple unsafe.Pointer, tupleLen uint32, ttlMs int64) int32

//go:wasmimport plexspaces ts_read
func hostTsRead(tmpl unsafe.Pointer, tmplLen uint32, timeoutMs int64) int32

//go:wasmimport plexspaces ts_take
func hostTsTake(tmpl unsafe.Pointer, tmplLen uint32, timeoutMs int64) int32

//go:wasmimport plexspaces ts_read_all
func hostTsReadAll(tmpl unsafe.Pointer, tmplLen uint32, limit int32) int32

//go:wasmimport plexspaces ts_count
func hostTsCount(tmpl unsafe.Pointer, tmplLen uint32) int64

//go:wasmimport plexspaces ts_write_if_absent
func hostTsWriteIfAbsent(tmpl unsafe.Pointer, tmplLen uint32, tuple unsafe.Pointer, tupleLen uint32, ttlMs int64) int32

//go:wasmimport plexspaces ts_replace
func hostTsReplace(tmpl unsafe.Pointer, tmplLen uint32, tuple unsafe.Pointer, tupleLen uint32, timeoutMs int64) int32

//go:wasmimport plexspaces http_fetch
func hostHTTPFetch(link unsafe.Pointer, linkLen uint32, method unsafe.Pointer, methodLen uint32, path unsafe.Pointer, pathLen uint32, body unsafe.Pointer, bodyLen uint32) int32
