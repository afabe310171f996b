package px

import (
	"runtime"
	"unsafe"
)

// Go wrappers of every host import. A negative status comes back as a
// Status error (ErrRemote from Ask as a *RemoteError carrying the error
// value); "→ result" bytes are fetched with result_read before returning.
// Arguments that are values take any Go value and encode it as
// MessagePack (a Raw is passed through as it is).

// Log levels for Log.
const (
	LevelDebug int32 = 0
	LevelInfo  int32 = 1
	LevelWarn  int32 = 2
	LevelError int32 = 3
)

func bytesPtr(b []byte) (unsafe.Pointer, uint32) {
	if len(b) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

func strPtr(s string) (unsafe.Pointer, uint32) {
	if len(s) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

// maxResult bounds how far readUnsizedResult grows its buffer.
const maxResult = 16 << 20

// readResult fetches the instance's result, whose length the host has
// just returned as n (or a negative status).
func readResult(n int32) ([]byte, error) {
	if n < 0 {
		return nil, Status(n)
	}
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	got := hostResultRead(unsafe.Pointer(&buf[0]), uint32(n))
	runtime.KeepAlive(buf)
	if got < 0 {
		return nil, Status(got)
	}
	return buf[:got], nil
}

// readUnsizedResult fetches a result whose length the host did not tell
// (the error value of an ask that ended in ERR_REMOTE): result_read copies
// min(len, n) bytes, so the buffer grows until a read leaves room over.
func readUnsizedResult() []byte {
	for size := 4096; size <= maxResult; size *= 4 {
		buf := make([]byte, size)
		got := hostResultRead(unsafe.Pointer(&buf[0]), uint32(size))
		runtime.KeepAlive(buf)
		if got < 0 {
			return nil
		}
		if int(got) < size {
			return buf[:got]
		}
	}
	return nil
}

func encodeArg(v any) ([]byte, error) {
	b, err := Marshal(v)
	if err != nil {
		return nil, ErrInvalid
	}
	return b, nil
}

// ---- actors ----

// Send tells the actor `to` a message (a cast).
func Send(to, msgType string, payload any) error {
	p, err := encodeArg(payload)
	if err != nil {
		return err
	}
	tp, tl := strPtr(to)
	yp, yl := strPtr(msgType)
	pp, pl := bytesPtr(p)
	rc := hostSend(tp, tl, yp, yl, pp, pl)
	runtime.KeepAlive(to)
	runtime.KeepAlive(msgType)
	runtime.KeepAlive(p)
	return check(rc)
}

// Ask calls the actor `to` and waits for its reply, at most timeoutMs
// milliseconds (<= 0: the host's 5000). An error reply comes back as a
// *RemoteError holding the error value.
func Ask(to, msgType string, payload any, timeoutMs int64) (Raw, error) {
	p, err := encodeArg(payload)
	if err != nil {
		return nil, err
	}
	tp, tl := strPtr(to)
	yp, yl := strPtr(msgType)
	pp, pl := bytesPtr(p)
	rc := hostAsk(tp, tl, yp, yl, pp, pl, timeoutMs)
	runtime.KeepAlive(to)
	runtime.KeepAlive(msgType)
	runtime.KeepAlive(p)
	if rc == int32(ErrRemote) {
		return nil, &RemoteError{Value: Raw(readUnsizedResult())}
	}
	b, err := readResult(rc)
	return Raw(b), err
}

// Reply sets the reply of the current call. Handlers normally return
// their reply instead (see Reply and Ok); this is the raw import.
func ReplyNow(payload any) error {
	p, err := encodeArg(payload)
	if err != nil {
		return err
	}
	pp, pl := bytesPtr(p)
	rc := hostReply(pp, pl)
	runtime.KeepAlive(p)
	return check(rc)
}

// SelfID is this actor's id.
func SelfID() (string, error) {
	b, err := readResult(hostSelfID())
	return string(b), err
}

// Spawn starts another actor of this module with that role; args is a map
// or nil (no args). It is neither linked nor supervised.
func Spawn(role string, args any) (string, error) {
	var a []byte
	if args != nil {
		var err error
		if a, err = encodeArg(args); err != nil {
			return "", err
		}
	}
	rp, rl := strPtr(role)
	ap, al := bytesPtr(a)
	rc := hostSpawn(rp, rl, ap, al)
	runtime.KeepAlive(role)
	runtime.KeepAlive(a)
	b, err := readResult(rc)
	return string(b), err
}

func idCall(fn func(unsafe.Pointer, uint32) int32, id string) error {
	p, l := strPtr(id)
	rc := fn(p, l)
	runtime.KeepAlive(id)
	return check(rc)
}

// Stop stops an actor with reason shutdown.
func Stop(id string) error { return idCall(hostStop, id) }

// Link links this actor with id (Erlang links).
func Link(id string) error { return idCall(hostLink, id) }

// Unlink removes a link.
func Unlink(id string) error { return idCall(hostUnlink, id) }

// Monitor monitors id; its DOWN arrives as an info message "DOWN".
func Monitor(id string) (int64, error) {
	p, l := strPtr(id)
	rc := hostMonitor(p, l)
	runtime.KeepAlive(id)
	return check64(rc)
}

// Demonitor removes a monitor.
func Demonitor(ref int64) error { return check(hostDemonitor(ref)) }

// SendAfter sends this actor an info message after delayMs; the timer id.
func SendAfter(delayMs int64, msgType string, payload any) (int64, error) {
	p, err := encodeArg(payload)
	if err != nil {
		return 0, err
	}
	yp, yl := strPtr(msgType)
	pp, pl := bytesPtr(p)
	rc := hostSendAfter(delayMs, yp, yl, pp, pl)
	runtime.KeepAlive(msgType)
	runtime.KeepAlive(p)
	return check64(rc)
}

// CancelTimer cancels a SendAfter timer (ErrNotFound if it fired).
func CancelTimer(timer int64) error { return check(hostCancelTimer(timer)) }

// Sleep parks the actor for ms milliseconds.
func Sleep(ms int64) error { return check(hostSleep(ms)) }

// ---- utilities ----

// Log writes msg to the node log at a level (LevelDebug..LevelError).
func Log(level int32, msg string) error {
	p, l := strPtr(msg)
	rc := hostLog(level, p, l)
	runtime.KeepAlive(msg)
	return check(rc)
}

// NowMs is the wall clock in ms since the Unix epoch.
func NowMs() int64 { return hostNowMs() }

// maxRandom is the most bytes one random call fills.
const maxRandom = 65536

// Random fills buf with random bytes from the host.
func Random(buf []byte) error {
	for off := 0; off < len(buf); off += maxRandom {
		chunk := buf[off:min(off+maxRandom, len(buf))]
		p, l := bytesPtr(chunk)
		rc := hostRandom(p, l)
		runtime.KeepAlive(buf)
		if rc < 0 {
			return Status(rc)
		}
	}
	return nil
}

// RandomBytes is n random bytes from the host.
func RandomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if err := Random(b); err != nil {
		return nil, err
	}
	return b, nil
}

// MetricsAdd adds delta to the app's counter name ([a-z0-9_]{1,64}).
func MetricsAdd(name string, delta float64) error {
	p, l := strPtr(name)
	rc := hostMetricsAdd(p, l, delta)
	runtime.KeepAlive(name)
	return check(rc)
}

// ResultRead is the raw result_read import: it copies the current result
// into buf and returns the bytes copied. The wrappers above already call
// it; an app needs it only to re-read a result.
func ResultRead(buf []byte) (int, error) {
	p, l := bytesPtr(buf)
	rc := hostResultRead(p, l)
	runtime.KeepAlive(buf)
	if rc < 0 {
		return 0, Status(rc)
	}
	return int(rc), nil
}

// ---- key-value store ----

// KVGet is the value of key (ErrNotFound when missing or expired).
func KVGet(key string) (Raw, error) {
	p, l := strPtr(key)
	rc := hostKvGet(p, l)
	runtime.KeepAlive(key)
	b, err := readResult(rc)
	return Raw(b), err
}

// KVPut stores value under key; ttlMs 0 means no expiry.
func KVPut(key string, value any, ttlMs int64) error {
	v, err := encodeArg(value)
	if err != nil {
		return err
	}
	kp, kl := strPtr(key)
	vp, vl := bytesPtr(v)
	rc := hostKvPut(kp, kl, vp, vl, ttlMs)
	runtime.KeepAlive(key)
	runtime.KeepAlive(v)
	return check(rc)
}

// KVDelete removes key (a missing key is fine).
func KVDelete(key string) error { return idCall(hostKvDelete, key) }

// KVList is the live keys with that prefix, in order.
func KVList(prefix string) ([]string, error) {
	p, l := strPtr(prefix)
	rc := hostKvList(p, l)
	runtime.KeepAlive(prefix)
	b, err := readResult(rc)
	if err != nil {
		return nil, err
	}
	var keys []string
	if err := Unmarshal(b, &keys); err != nil {
		return nil, ErrInvalid
	}
	return keys, nil
}

// KVCas writes value only if the entry equals expected; expected == nil
// means "only if absent" (compare with a stored nil through KVCasRaw with
// Raw{0xc0}). ErrConflict otherwise.
func KVCas(key string, expected, value any, ttlMs int64) error {
	var e []byte
	if expected != nil {
		var err error
		if e, err = encodeArg(expected); err != nil {
			return err
		}
	}
	v, err := encodeArg(value)
	if err != nil {
		return err
	}
	return KVCasRaw(key, e, v, ttlMs)
}

// KVCasRaw is KVCas with encoded values; an empty expected means absent.
func KVCasRaw(key string, expected, value Raw, ttlMs int64) error {
	kp, kl := strPtr(key)
	ep, el := bytesPtr(expected)
	vp, vl := bytesPtr(value)
	rc := hostKvCas(kp, kl, ep, el, vp, vl, ttlMs)
	runtime.KeepAlive(key)
	runtime.KeepAlive(expected)
	runtime.KeepAlive(value)
	return check(rc)
}

// KVIncrement adds delta to the integer at key atomically; the new value.
func KVIncrement(key string, delta int64) (int64, error) {
	out := new(int64)
	p, l := strPtr(key)
	rc := hostKvIncrement(p, l, delta, unsafe.Pointer(out))
	runtime.KeepAlive(key)
	runtime.KeepAlive(out)
	if rc < 0 {
		return 0, Status(rc)
	}
	return *out, nil
}

// KVTTL is the ms left for key, 0 when it never expires.
func KVTTL(key string) (int64, error) {
	p, l := strPtr(key)
	rc := hostKvTTL(p, l)
	runtime.KeepAlive(key)
	return check64(rc)
}

// ---- tuple space ----

// Tuple timeouts: TryOnce does not wait, Forever waits forever.
const (
	TryOnce int64 = 0
	Forever int64 = -1
)

// TSWrite writes a tuple (an array); ttlMs 0 means no expiry.
func TSWrite(tuple any, ttlMs int64) error {
	t, err := encodeArg(tuple)
	if err != nil {
		return err
	}
	p, l := bytesPtr(t)
	rc := hostTsWrite(p, l, ttlMs)
	runtime.KeepAlive(t)
	return check(rc)
}

func tsTemplateCall(fn func(unsafe.Pointer, uint32, int64) int32, tmpl any, timeoutMs int64) (Raw, error) {
	t, err := encodeArg(tmpl)
	if err != nil {
		return nil, err
	}
	p, l := bytesPtr(t)
	rc := fn(p, l, timeoutMs)
	runtime.KeepAlive(t)
	b, err := readResult(rc)
	return Raw(b), err
}

// TSRead is a copy of a tuple matching tmpl (ErrTimeout when none came).
func TSRead(tmpl any, timeoutMs int64) (Raw, error) {
	return tsTemplateCall(hostTsRead, tmpl, timeoutMs)
}

// TSTake removes and returns a tuple matching tmpl.
func TSTake(tmpl any, timeoutMs int64) (Raw, error) {
	return tsTemplateCall(hostTsTake, tmpl, timeoutMs)
}

// TSReadAll is an array of every match (at most limit, 0 = 1000).
func TSReadAll(tmpl any, limit int32) (Raw, error) {
	t, err := encodeArg(tmpl)
	if err != nil {
		return nil, err
	}
	p, l := bytesPtr(t)
	rc := hostTsReadAll(p, l, limit)
	runtime.KeepAlive(t)
	b, err := readResult(rc)
	return Raw(b), err
}

// TSCount is the number of tuples matching tmpl.
func TSCount(tmpl any) (int64, error) {
	t, err := encodeArg(tmpl)
	if err != nil {
		return 0, err
	}
	p, l := bytesPtr(t)
	rc := hostTsCount(p, l)
	runtime.KeepAlive(t)
	return check64(rc)
}

// TSWriteIfAbsent writes tuple only if nothing matches tmpl (ErrConflict
// otherwise).
func TSWriteIfAbsent(tmpl, tuple any, ttlMs int64) error {
	m, err := encodeArg(tmpl)
	if err != nil {
		return err
	}
	t, err := encodeArg(tuple)
	if err != nil {
		return err
	}
	mp, ml := bytesPtr(m)
	tp, tl := bytesPtr(t)
	rc := hostTsWriteIfAbsent(mp, ml, tp, tl, ttlMs)
	runtime.KeepAlive(m)
	runtime.KeepAlive(t)
	return check(rc)
}

// TSReplace takes one match of tmpl and writes tuple atomically; the
// tuple taken.
func TSReplace(tmpl, tuple any, timeoutMs int64) (Raw, error) {
	m, err := encodeArg(tmpl)
	if err != nil {
		return nil, err
	}
	t, err := encodeArg(tuple)
	if err != nil {
		return nil, err
	}
	mp, ml := bytesPtr(m)
	tp, tl := bytesPtr(t)
	rc := hostTsReplace(mp, ml, tp, tl, timeoutMs)
	runtime.KeepAlive(m)
	runtime.KeepAlive(t)
	b, err := readResult(rc)
	return Raw(b), err
}

// ---- service links ----

// HTTPResponse is http_fetch's result.
type HTTPResponse struct {
	Status int    `msgpack:"status"`
	Body   []byte `msgpack:"body"`
}

// HTTPFetch sends an HTTP request through the app's service link `link`.
func HTTPFetch(link, method, path string, body []byte) (*HTTPResponse, error) {
	lp, ll := strPtr(link)
	mp, ml := strPtr(method)
	pp, pl := strPtr(path)
	bp, bl := bytesPtr(body)
	rc := hostHTTPFetch(lp, ll, mp, ml, pp, pl, bp, bl)
	runtime.KeepAlive(link)
	runtime.KeepAlive(method)
	runtime.KeepAlive(path)
	runtime.KeepAlive(body)
	b, err := readResult(rc)
	if err != nil {
		return nil, err
	}
	var r HTTPResponse
	if err := Unmarshal(b, &r); err != nil {
		return nil, ErrInvalid
	}
	return &r, nil
}
