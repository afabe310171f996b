//go:build !wasip1

package px

import "unsafe"

// Off WebAssembly (go vet, go test on the build machine) every host import
// answers ERR_NOT_SUPPORTED and now_ms reads 0, except reply, which keeps
// a copy of the reply in testReply for the package's tests.

var _ unsafe.Pointer

func hostSend(to unsafe.Pointer, toLen uint32, typ unsafe.Pointer, typLen uint32, payload unsafe.Pointer, payloadLen uint32) int32 {
	return int32(ErrNotSupported)
}

func hostAsk(to unsafe.Pointer, toLen uint32, typ unsafe.Pointer, typLen uint32, payload unsafe.Pointer, payloadLen uint32, timeoutMs int64) int32 {
	return int32(ErrNotSupported)
}

// testReply is the last reply passed to hostReply (nil before any).
var testReply []byte

func hostReply(payload unsafe.Pointer, payloadLen uint32) int32 {
	testReply = append([]byte(nil), unsafe.Slice((*byte)(payload), payloadLen)...)
	return 0
}

func hostSelfID() int32 { return int32(ErrNotSupported) }

func hostSpawn(role unsafe.Pointer, roleLen uint32, args unsafe.Pointer, argsLen uint32) int32 {
	return int32(ErrNotSupported)
}

func hostStop(id unsafe.Pointer, idLen uint32) int32 { return int32(ErrNotSupported) }

func hostLink(id unsafe.Pointer, idLen uint32) int32 { return int32(ErrNotSupported) }

func hostUnlink(id unsafe.Pointer, idLen uint32) int32 { return int32(ErrNotSupported) }

func hostMonitor(id unsafe.Pointer, idLen uint32) int64 { return int64(ErrNotSupported) }

func hostDemonitor(ref int64) int32 { return int32(ErrNotSupported) }

func hostSendAfter(delayMs int64, typ unsafe.Pointer, typLen uint32, payload unsafe.Pointer, payloadLen uint32) int64 {
	return int64(ErrNotSupported)
}

func hostCancelTimer(timer int64) int32 { return int32(ErrNotSupported) }

func hostSleep(ms int64) int32 { return int32(ErrNotSupported) }

func hostLog(level int32, msg unsafe.Pointer, msgLen uint32) int32 { return int32(ErrNotSupported) }

func hostNowMs() int64 { return 0 }

func hostRandom(buf unsafe.Pointer, bufLen uint32) int32 { return int32(ErrNotSupported) }

func hostMetricsAdd(name unsafe.Pointer, nameLen uint32, delta float64) int32 {
	return int32(ErrNotSupported)
}

func hostResultRead(buf unsafe.Pointer, bufLen uint32) int32 { return int32(ErrNotSupported) }

func hostKvGet(key unsafe.Pointer, keyLen uint32) int32 { return int32(ErrNotSupported) }

func hostKvPut(key unsafe.Pointer, keyLen uint32, value unsafe.Pointer, valueLen uint32, ttlMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostKvDelete(key unsafe.Pointer, keyLen uint32) int32 { return int32(ErrNotSupported) }

func hostKvList(prefix unsafe.Pointer, prefixLen uint32) int32 { return int32(ErrNotSupported) }

func hostKvCas(key unsafe.Pointer, keyLen uint32, expected unsafe.Pointer, expectedLen uint32, value unsafe.Pointer, valueLen uint32, ttlMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostKvIncrement(key unsafe.Pointer, keyLen uint32, delta int64, out unsafe.Pointer) int32 {
	return int32(ErrNotSupported)
}

func hostKvTTL(key unsafe.Pointer, keyLen uint32) int64 { return int64(ErrNotSupported) }

func hostTsWrite(tuple unsafe.Pointer, tupleLen uint32, ttlMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostTsRead(tmpl unsafe.Pointer, tmplLen uint32, timeoutMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostTsTake(tmpl unsafe.Pointer, tmplLen uint32, timeoutMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostTsReadAll(tmpl unsafe.Pointer, tmplLen uint32, limit int32) int32 {
	return int32(ErrNotSupported)
}

func hostTsCount(tmpl unsafe.Pointer, tmplLen uint32) int64 { return int64(ErrNotSupported) }

func hostTsWriteIfAbsent(tmpl unsafe.Pointer, tmplLen uint32, tuple unsafe.Pointer, tupleLen uint32, ttlMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostTsReplace(tmpl unsafe.Pointer, tmplLen uint32, tuple unsafe.Pointer, tupleLen uint32, timeoutMs int64) int32 {
	return int32(ErrNotSupported)
}

func hostHTTPFetch(link unsafe.Pointer, linkLen uint32, method unsafe.Pointer, methodLen uint32, path unsafe.Pointer, pathLen uint32, body unsafe.Pointer, bodyLen uint32) int32 {
	return int32(ErrNotSupported)
}
