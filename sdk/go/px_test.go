package px

import (
	"errors"
	"reflect"
	"testing"
)

type testState struct {
	Count int64  `msgpack:"count"`
	Tag   string `msgpack:"tag"`
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func replyValue(t *testing.T) any {
	t.Helper()
	v, err := Raw(testReply).Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValuesRoundTrip(t *testing.T) {
	in := Map{"i": int64(-5), "big": int64(1) << 40, "f": 1.5, "s": "x",
		"a": []any{int64(1), "two", nil, true}, "m": Map{"k": int64(3)}}
	var out any
	if err := Unmarshal(mustMarshal(t, in), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, any(in)) {
		t.Fatalf("got %#v", out)
	}
	// An atom (ext 1) and a map with integer keys.
	b := []byte{0x82, 0xa1, 'r', 0xd4, 0x01, 'x', 0x01, 0x02}
	var v any
	if err := Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	want := map[any]any{"r": Atom("x"), int64(1): int64(2)}
	if !reflect.DeepEqual(v, any(want)) {
		t.Fatalf("got %#v", v)
	}
	if got := mustMarshal(t, Atom("normal")); string(got) != "\xc7\x06\x01normal" {
		t.Fatalf("atom: % x", got)
	}
	var down struct {
		Reason Atom `msgpack:"reason"`
	}
	if err := Unmarshal(mustMarshal(t, Map{"reason": Atom("shutdown")}), &down); err != nil || down.Reason != "shutdown" {
		t.Fatalf("atom field: %v %q", err, down.Reason)
	}
	// Raw passes through unchanged.
	if got := mustMarshal(t, Map{"r": Raw{0x93, 1, 2, 3}}); string(got) != "\x81\xa1r\x93\x01\x02\x03" {
		t.Fatalf("raw: % x", got)
	}
}

func TestStatus(t *testing.T) {
	if ErrNotFound.Name() != "not_found" || Status(-99).Name() != "unknown" {
		t.Fatal("names")
	}
	var err error = &RemoteError{Value: Raw{0xc0}}
	if !errors.Is(err, ErrRemote) || StatusName(err) != "remote" {
		t.Fatal("remote")
	}
	if check(-7) != ErrNoProc || check(3) != nil {
		t.Fatal("check")
	}
}

func TestDispatch(t *testing.T) {
	registry = map[[2]string]factory{}
	Register("r", "", Behavior[testState]{
		Init: func(a *Actor[testState]) error {
			var args struct {
				Start int64 `msgpack:"start"`
			}
			a.State.Tag = "any"
			return a.Args.Decode(&args)
		},
		Call: map[string]Handler[testState]{
			"add": func(a *Actor[testState], m *Msg) Reply {
				var p struct {
					N int64 `msgpack:"n"`
				}
				if m.Decode(&p) != nil {
					return ErrorName("invalid")
				}
				a.State.Count += p.N
				return Ok(Map{"count": a.State.Count})
			},
			"bye": func(a *Actor[testState], m *Msg) Reply { return StopWith("bye") },
		},
		Cast: map[string]Handler[testState]{
			"add": func(a *Actor[testState], m *Msg) Reply { a.State.Count++; return NoReply() },
		},
	})
	Register("r", "special", Behavior[testState]{
		Init: func(a *Actor[testState]) error { a.State.Tag = "special"; return nil },
	})
	if rc := start(mustMarshal(t, Map{"role": "nope", "actor_type": "x", "id": "<0.1.1>"})); rc != int32(ErrNotFound) {
		t.Fatalf("unknown role: %d", rc)
	}
	if rc := start(mustMarshal(t, Map{"role": "r", "actor_type": "special", "id": "<0.1.1>", "args": Map{}})); rc != 0 {
		t.Fatal(rc)
	}
	if s, _ := current.getState(); string(s) != string(mustMarshal(t, testState{Tag: "special"})) {
		t.Fatalf("special state % x", s)
	}
	if rc := start(mustMarshal(t, Map{"role": "r", "actor_type": "plain", "id": "<0.1.1>"})); rc != 0 {
		t.Fatal(rc)
	}
	if rc := handle(1, "", "add", mustMarshal(t, Map{"n": 4})); rc != 0 {
		t.Fatal(rc)
	}
	if v := replyValue(t); !reflect.DeepEqual(v, any(Map{"count": int64(4)})) {
		t.Fatalf("reply %#v", v)
	}
	handle(2, "", "add", nil)
	handle(3, "", "tick", nil) // no handler: dropped
	if rc := handle(1, "", "what", nil); rc != 1 {
		t.Fatal(rc)
	}
	if v := replyValue(t); !reflect.DeepEqual(v, any(Map{"error": "unknown_call"})) {
		t.Fatalf("reply %#v", v)
	}
	s, err := current.getState()
	if err != nil {
		t.Fatal(err)
	}
	var st Map
	if err := Unmarshal(s, &st); err != nil || st["count"] != int64(5) {
		t.Fatalf("state %v %v", st, err)
	}
	if err := current.setState(mustMarshal(t, Map{"count": 42})); err != nil {
		t.Fatal(err)
	}
	handle(1, "", "add", mustMarshal(t, Map{"n": 0}))
	if v := replyValue(t); !reflect.DeepEqual(v, any(Map{"count": int64(42)})) {
		t.Fatalf("after set_state %#v", v)
	}
	if rc := handle(1, "", "bye", nil); rc != 2 || replyValue(t) != "bye" {
		t.Fatal("stop")
	}
}
