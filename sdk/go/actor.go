// Package px is the Go SDK for plexspaces WebAssembly actors (ABI version
// 1, docs/wasm-abi.md). Build the app with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o app.wasm .
//
// An app registers one Behavior per role (and optionally per actor_type)
// from an init function or main's package init; the SDK provides the
// module's exports (px_init, px_handle, px_get_state, ...), picks the
// behavior from the init payload, dispatches each message to the handler
// registered for its type, and round-trips the state S through MessagePack
// for px_get_state/px_set_state.
//
//	type counter struct{ Count int64 `msgpack:"count"` }
//
//	func init() {
//		px.Register("counter", "", px.Behavior[counter]{
//			Call: map[string]px.Handler[counter]{
//				"get": func(a *px.Actor[counter], m *px.Msg) px.Reply {
//					return px.Ok(px.Map{"count": a.State.Count})
//				},
//			},
//		})
//	}
package px

import "fmt"

// ABIVersion is the ABI this SDK implements (px_abi_version).
const ABIVersion = 1

// Kind is a message's kind.
type Kind int32

const (
	KindCall Kind = 1 // an ask: the caller waits for the reply
	KindCast Kind = 2 // a tell
	KindInfo Kind = 3 // a timer, a monitor's DOWN
)

// Msg is one message. Payload is its MessagePack value, a copy the
// handler may keep.
type Msg struct {
	Kind    Kind
	From    string // the sender's actor id; empty when not an actor
	Type    string
	Payload Raw
}

// Decode decodes the payload into v (a pointer).
func (m *Msg) Decode(v any) error { return Unmarshal(m.Payload, v) }

// Reply is what a handler returns: a px_handle code and, for a call, the
// reply value.
type Reply struct {
	code     int32
	value    any
	hasValue bool
}

// Ok: handled; for a call, v is the reply.
func Ok(v any) Reply { return Reply{code: 0, value: v, hasValue: true} }

// NoReply: handled with no reply value (a call gets nil, or the value
// already given to ReplyNow).
func NoReply() Reply { return Reply{code: 0} }

// Error: failed; a caller gets an error whose value is v. The actor lives.
func Error(v any) Reply { return Reply{code: 1, value: v, hasValue: true} }

// ErrorName is Error(Map{"error": name}).
func ErrorName(name string) Reply { return Error(Map{"error": name}) }

// ErrorOf is an error reply {"error": "<status name>"} for err, as from a
// failed host call (e.g. {"error": "not_found"}).
func ErrorOf(err error) Reply { return ErrorName(StatusName(err)) }

// StopWith: the reply v (if a call) is sent, then the actor stops normally.
func StopWith(v any) Reply { return Reply{code: 2, value: v, hasValue: true} }

// Actor is one running actor of a behavior with state S.
type Actor[S any] struct {
	ID        string // from the init payload
	Role      string
	ActorType string
	Args      Raw // the child's args map (an empty map when none)
	State     S
}

// Handler handles one message type.
type Handler[S any] func(a *Actor[S], m *Msg) Reply

// Behavior is the code of one role: an init function and handlers by
// message type, separately for calls, casts and infos.
//
// A call whose type has no handler gets the error reply
// {"error": "unknown_call"}; a cast or info without a handler is logged at
// debug level and dropped.
//
// The state S travels as MessagePack for px_get_state/px_set_state:
// by default S itself is encoded (use `msgpack:"name"` tags on a struct to
// make it a map) and px_set_state decodes into a zero S. EncodeState and
// DecodeState replace that when set.
type Behavior[S any] struct {
	Init        func(a *Actor[S]) error
	Call        map[string]Handler[S]
	Cast        map[string]Handler[S]
	Info        map[string]Handler[S]
	EncodeState func(a *Actor[S]) (any, error)
	DecodeState func(a *Actor[S], state Raw) error
}

// instance is what the exports drive: the behavior of this instance's
// actor, with its state type hidden.
type instance interface {
	handle(m *Msg) int32
	getState() ([]byte, error)
	setState(b []byte) error
}

type factory func(id, role, actorType string, args Raw) (instance, error)

var (
	registry = map[[2]string]factory{}
	current  instance
)

// Register makes b the behavior of role (exact match). actorType "" is
// any actor type; a registration for the exact (role, actorType) wins over
// the one with "".
func Register[S any](role, actorType string, b Behavior[S]) {
	registry[[2]string{role, actorType}] = func(id, r, t string, args Raw) (instance, error) {
		a := &runner[S]{b: b, a: &Actor[S]{ID: id, Role: r, ActorType: t, Args: args}}
		if b.Init != nil {
			if err := b.Init(a.a); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
}

type runner[S any] struct {
	b Behavior[S]
	a *Actor[S]
}

func (r *runner[S]) handle(m *Msg) int32 {
	var table map[string]Handler[S]
	switch m.Kind {
	case KindCall:
		table = r.b.Call
	case KindCast:
		table = r.b.Cast
	default:
		table = r.b.Info
	}
	h := table[m.Type]
	if h == nil {
		if m.Kind == KindCall {
			return finish(m, ErrorName("unknown_call"))
		}
		Log(LevelDebug, fmt.Sprintf("no handler for message %q (kind %d): dropped", m.Type, m.Kind))
		return 0
	}
	return finish(m, h(r.a, m))
}

// finish passes a call's reply to the host and gives px_handle's code.
func finish(m *Msg, rep Reply) int32 {
	if m.Kind != KindCall || !rep.hasValue {
		return rep.code
	}
	b, err := Marshal(rep.value)
	if err != nil {
		Log(LevelError, "reply of "+m.Type+" does not encode: "+err.Error())
		b, _ = Marshal(Map{"error": "bad_reply"})
		rep.code = 1
	}
	p, l := bytesPtr(b)
	hostReply(p, l)
	keep(b)
	return rep.code
}

// keep holds b until the next export starts (the host reads replies and
// state after the export returns).
var kept []byte

func keep(b []byte) { kept = b }

func (r *runner[S]) getState() ([]byte, error) {
	var v any = r.a.State
	if r.b.EncodeState != nil {
		var err error
		if v, err = r.b.EncodeState(r.a); err != nil {
			return nil, err
		}
	}
	return Marshal(v)
}

func (r *runner[S]) setState(b []byte) error {
	if r.b.DecodeState != nil {
		return r.b.DecodeState(r.a, Raw(b))
	}
	var s S
	if err := Unmarshal(b, &s); err != nil {
		return err
	}
	r.a.State = s
	return nil
}

// initPayload is px_init's value.
type initPayload struct {
	Role      string `msgpack:"role"`
	ActorType string `msgpack:"actor_type"`
	ID        string `msgpack:"id"`
	Args      Raw    `msgpack:"args"`
}

// start is px_init: decode the payload, pick the behavior, run its Init.
func start(payload []byte) int32 {
	current = nil
	var p initPayload
	if err := Unmarshal(payload, &p); err != nil {
		Log(LevelError, "px_init: bad payload: "+err.Error())
		return int32(ErrInvalid)
	}
	if p.Role == "" {
		p.Role = p.ActorType
	}
	if len(p.Args) == 0 || p.Args[0] == 0xc0 {
		p.Args = Raw{0x80} // an empty map
	}
	f := registry[[2]string{p.Role, p.ActorType}]
	if f == nil {
		f = registry[[2]string{p.Role, ""}]
	}
	if f == nil {
		Log(LevelError, fmt.Sprintf("px_init: no behavior for role %q, actor_type %q", p.Role, p.ActorType))
		return int32(ErrNotFound)
	}
	inst, err := f(p.ID, p.Role, p.ActorType, p.Args)
	if err != nil {
		Log(LevelError, "px_init: "+err.Error())
		if s, ok := err.(Status); ok && s != OK {
			return int32(s)
		}
		return 1
	}
	current = inst
	return 0
}

// handle is px_handle.
func handle(kind int32, from, msgType string, payload []byte) int32 {
	m := &Msg{Kind: Kind(kind), From: from, Type: msgType, Payload: Raw(payload)}
	if current == nil {
		if m.Kind == KindCall {
			return finish(m, ErrorName("not_started"))
		}
		return 1
	}
	return current.handle(m)
}
