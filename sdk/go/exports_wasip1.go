//go:build wasip1

package px

import "unsafe"

// The module's exports (docs/wasm-abi.md, "Guest exports"). Go's
// c-shared build adds `_initialize` and `memory` itself.

// buffers holds every px_alloc buffer until px_free, so the GC keeps it.
var buffers = map[uint32][]byte{}

//go:wasmexport px_abi_version
func pxAbiVersion() int32 { return ABIVersion }

//go:wasmexport px_alloc
func pxAlloc(size int32) int32 {
	if size < 0 {
		return 0
	}
	// A zero-size request still gets a distinct, valid address.
	b := make([]byte, max(size, 1))
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	buffers[p] = b
	return int32(p)
}

//go:wasmexport px_free
func pxFree(ptr int32, size int32) {
	delete(buffers, uint32(ptr))
}

// hostBytes is a copy of (ptr, len), a buffer the host passed in: it
// lies inside a px_alloc buffer, found without turning an integer into a
// pointer.
func hostBytes(ptr, n int32) []byte {
	if n <= 0 || ptr == 0 {
		return nil
	}
	start, end := uint32(ptr), uint32(ptr)+uint32(n)
	if b, ok := buffers[start]; ok && end-start <= uint32(len(b)) {
		return append([]byte(nil), b[:n]...)
	}
	for base, b := range buffers {
		if base <= start && end <= base+uint32(len(b)) {
			return append([]byte(nil), b[start-base:end-base]...)
		}
	}
	Log(LevelError, "a buffer passed in is not from px_alloc")
	return nil
}

//go:wasmexport px_init
func pxInit(ptr, n int32) int32 {
	kept = nil
	return start(hostBytes(ptr, n))
}

//go:wasmexport px_handle
func pxHandle(kind, fromPtr, fromLen, typePtr, typeLen, payloadPtr, payloadLen int32) int32 {
	kept = nil
	return handle(kind, string(hostBytes(fromPtr, fromLen)),
		string(hostBytes(typePtr, typeLen)), hostBytes(payloadPtr, payloadLen))
}

//go:wasmexport px_get_state
func pxGetState() int64 {
	kept = nil
	if current == nil {
		return 0
	}
	b, err := current.getState()
	if err != nil {
		Log(LevelError, "px_get_state: "+err.Error())
		return 0
	}
	if len(b) == 0 {
		return 0
	}
	keep(b) // valid until the next export runs
	return int64(uint64(uint32(uintptr(unsafe.Pointer(&b[0]))))<<32 | uint64(uint32(len(b))))
}

//go:wasmexport px_set_state
func pxSetState(ptr, n int32) int32 {
	kept = nil
	if current == nil {
		return int32(ErrInvalid)
	}
	if err := current.setState(hostBytes(ptr, n)); err != nil {
		Log(LevelError, "px_set_state: "+err.Error())
		return int32(ErrInvalid)
	}
	return 0
}
